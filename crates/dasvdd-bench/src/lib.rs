//! The benchmark of the paper's Table 2 and its figures: `cargo xtask bench-all` runs the matrix
//! datasets x normal classes x methods x seeds into a resumable, shardable results store;
//! `cargo xtask report` merges the stores into `REPORT.md`; `cargo xtask sweep` runs the
//! sensitivity studies and the fixed-centre ablation.
//!
//! Map: [`config`] (`configs/bench.toml`), [`matrix`] (cells, config hashes, shards),
//! [`synthetic`] (the built-in dataset), [`methods`] (fit and score one method), [`store`]
//! (atomic JSON-lines results and side files), [`runner`] (`bench-all`), [`report`],
//! [`figures`], [`sweep`].

// The doc comments of the argument structs are clap's `--help` texts, shown verbatim, so they
// write placeholders as `<name>` and sections as `[train]`, which rustdoc would read as HTML
// tags and links.
#![allow(rustdoc::invalid_html_tags, rustdoc::broken_intra_doc_links)]
#![warn(missing_docs)]

pub mod config;
pub mod figures;
pub mod matrix;
pub mod methods;
pub mod provenance;
pub mod report;
pub mod runner;
pub mod store;
pub mod summary;
pub mod sweep;
pub mod synthetic;

pub use report::ReportArgs;
pub use runner::BenchArgs;
pub use sweep::SweepArgs;
