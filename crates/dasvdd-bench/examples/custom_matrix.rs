//! A custom benchmark matrix run from Rust through the `dasvdd-bench` library: two methods on
//! two classes of the built-in synthetic dataset, two seeds, then the report's rows.
//!
//! `cargo run --release -p dasvdd-bench --example custom_matrix -- [results-dir]`

use dasvdd_bench::report::{build, default_paper_path, PaperTable};
use dasvdd_bench::store::ResultsDir;
use dasvdd_bench::BenchArgs;

fn main() -> anyhow::Result<()> {
    let results = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "results-custom".into());
    let args = BenchArgs {
        datasets: vec!["synthetic".into()],
        classes: vec![0, 1],
        methods: vec!["dasvdd".into(), "iforest".into()],
        seeds: Some(2),
        epochs: Some(20),
        results: results.clone().into(),
        ..BenchArgs::default()
    };
    // Resumable: a second call skips the cells already in `results`.
    dasvdd_bench::runner::run(&args)?;
    let report = build(
        &ResultsDir::new(&results),
        &PaperTable::load(&default_paper_path())?,
    )?;
    for row in &report.rows {
        println!("{}", row.cells().join(" | "));
    }
    Ok(())
}
