//! Datasets for one-class anomaly detection: readers of the real file formats, preprocessing
//! and seeded one-class splits.
//!
//! Architecture invariant: this crate depends on no other project crate and on no tensor
//! library; it hands out row-major `f32` matrices ([`Matrix`]) that any crate can consume.
//!
//! Map of the crate:
//! - [`idx`]: MNIST and Fashion-MNIST IDX files (gzipped or not);
//! - [`cifar`]: the CIFAR-10 batches, binary or Python (pickle) version;
//! - [`images`]: [`ImageSet`] (labelled 8-bit images) and a user's `normal/`+`abnormal/` folder;
//! - [`tabular`]: a user's CSV files, and the atomic writer of score files;
//! - [`npy`]: NumPy `.npy` files;
//! - `pickle` (private): Python pickles of plain values and NumPy arrays, no code run;
//! - [`mat`]: ODDS `.mat` files (MAT v5 and v7.3);
//! - [`mimii`], [`melspec`]: MIMII / DCASE machine sounds as stacked log-mel frames;
//! - [`preprocess`]: pixel scaling, global contrast normalisation, fitted min-max and z-score;
//! - [`split`]: [`OneClassSplit`], the image protocol, the paper's tabular splits and the
//!   seeded half-of-the-normals protocol;
//! - [`registry`]: datasets by name, where their files are found, [`load_split`];
//! - [`catalog`]: source, licence, size and files of each dataset ([`DatasetInfo`]);
//! - [`mod@fetch`]: downloads from a hub mirror or the original hosts, checksums, unpacking;
//! - [`leftovers`]: the lock of a fetch's destination and the removal of killed fetches' files;
//! - [`progress`]: a download's progress, and a one-line reporter for a terminal.

#![warn(missing_docs)]

pub mod awid3;
pub mod catalog;
pub mod cifar;
pub mod error;
pub mod fetch;
pub mod fileio;
pub mod idx;
pub mod images;
pub mod leftovers;
pub mod mat;
pub mod matrix;
pub mod melspec;
pub mod mimii;
pub mod npy;
mod pickle;
pub mod preprocess;
pub mod progress;
pub mod registry;
pub mod split;
pub mod tabular;

pub use catalog::DatasetInfo;
pub use error::{DataError, Result};
pub use fetch::{fetch, FetchOptions, FetchReport};
pub use images::{ColourMode, ImageFolderOptions, ImageSet};
pub use matrix::{LabeledData, Matrix};
pub use preprocess::{FittedPreprocessing, GcnNorm, Preprocessing};
pub use registry::{classes, load_prepared, load_split, DatasetName, LoadOptions, PreparedSplit};
pub use split::{OneClassSplit, SplitCounts, SplitProtocol};
