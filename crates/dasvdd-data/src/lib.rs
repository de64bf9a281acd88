//! Datasets for one-class anomaly detection: readers of the real file formats, preprocessing
//! and seeded one-class splits.
//!
//! Architecture invariant: this crate depends on no other project crate and on no tensor
//! library; it hands out row-major `f32` matrices ([`Matrix`]) that any crate can consume.
//!
//! Map of the crate:
//! - [`idx`]: MNIST and Fashion-MNIST IDX files (gzipped or not);
//! - [`images`]: [`ImageSet`] (labelled 8-bit images) and a user's `normal/`+`abnormal/` folder;
//! - [`split`]: [`OneClassSplit`], the image protocol, the paper's tabular splits and the
//!   seeded half-of-the-normals protocol.

pub mod error;
pub mod fileio;
pub mod idx;
pub mod images;
pub mod mat;
pub mod matrix;
pub mod split;

pub use error::{DataError, Result};
pub use images::{ColourMode, ImageFolderOptions, ImageSet};
pub use matrix::{LabeledData, Matrix};
pub use split::{OneClassSplit, SplitCounts, SplitProtocol};
