//! Evaluation of anomaly scores: ROC curves, AUROC, average precision and F1, plus the
//! mean / standard deviation helpers used to summarise runs and the per-group averaging used
//! to score MIMII clips.
//!
//! Conventions: scores are `f64`, **higher = more anomalous**; labels are `u8` or `bool`
//! where **1 / `true` = anomaly** (the positive class); a thresholded detector predicts an
//! anomaly when `score >= threshold`. Results match scikit-learn (`roc_auc_score`,
//! `average_precision_score`, `roc_curve`, `f1_score`) including tied scores. No function
//! returns NaN: inputs that would make a metric undefined yield an [`EvalError`].
//!
//! ```
//! use dasvdd_eval::{evaluate, mean_std, stats::SAMPLE};
//!
//! let scores = [0.1, 0.4, 0.35, 0.8];
//! let labels = [0u8, 0, 1, 1];
//! let m = evaluate(&scores, &labels)?;
//! assert_eq!(m.auroc, 0.75);
//! let over_seeds = mean_std(&[0.91, 0.89, 0.93], SAMPLE)?;
//! assert!((over_seeds.mean - 0.91).abs() < 1e-12);
//! # Ok::<(), dasvdd_eval::EvalError>(())
//! ```
//!
//! Architecture invariant: this crate works on plain `f64` slices and depends on no other
//! project crate and on no tensor library.

#![warn(missing_docs)]

pub mod error;
pub mod f1;
pub mod group;
pub mod label;
pub mod metrics;
pub mod ranking;
pub mod stats;

pub use error::{EvalError, Result};
pub use f1::{
    confusion_at_threshold, contamination_threshold, f1_at_contamination, f1_at_threshold,
    Confusion,
};
pub use group::mean_by_group;
pub use label::Label;
pub use metrics::{evaluate, Metrics};
pub use ranking::{auroc, average_precision, roc_curve, RankedScores, RocCurve, RocPoints};
pub use stats::{mean, mean_std, std_dev, MeanStd};
