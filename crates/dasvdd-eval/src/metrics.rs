//! The one-call summary of a detector's scores: AUROC, average precision and F1.

use crate::error::Result;
use crate::label::Label;
use crate::ranking::RankedScores;

/// The headline metrics of one set of anomaly scores.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Metrics {
    /// Area under the ROC curve (scikit-learn's `roc_auc_score`), in `[0, 1]`.
    pub auroc: f64,
    /// Average precision (scikit-learn's `average_precision_score`), in `[0, 1]`.
    pub ap: f64,
    /// F1 of the anomaly class at the contamination percentile, the contamination being the
    /// labels' anomaly fraction (see [`crate::f1_at_contamination`] with `None`).
    pub f1: f64,
}

/// Computes [`Metrics`] of `scores` (higher = more anomalous) against `labels`
/// (1 / `true` = anomaly) with a single validation and a single sort.
///
/// # Errors
/// As [`RankedScores::new`]: both classes must be present.
pub fn evaluate<L: Label>(scores: &[f64], labels: &[L]) -> Result<Metrics> {
    let ranked = RankedScores::new(scores, labels)?;
    Ok(Metrics {
        auroc: ranked.auroc(),
        ap: ranked.average_precision(),
        f1: ranked.f1_at_contamination(None)?,
    })
}
