//! Datasets for one-class anomaly detection: readers of the real file formats, preprocessing
//! and seeded one-class splits.
//!
//! Architecture invariant: this crate depends on no other project crate and on no tensor
//! library; it hands out row-major `f32` matrices ([`Matrix`]) that any crate can consume.

pub mod error;
pub mod matrix;

pub use error::{DataError, Result};
pub use matrix::{LabeledData, Matrix};
