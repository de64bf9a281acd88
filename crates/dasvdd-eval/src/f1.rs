//! Thresholded metrics: confusion counts and F1 at a fixed threshold or at the contamination
//! percentile.
//!
//! Convention throughout: a sample is predicted anomalous when `score >= threshold`.

use crate::error::{EvalError, Result};
use crate::label::{check_scores, for_each_checked, Label};

/// Confusion counts of a thresholded anomaly detector (positive class = anomaly).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Confusion {
    /// Anomalies flagged as anomalies.
    pub true_positives: usize,
    /// Normal samples flagged as anomalies.
    pub false_positives: usize,
    /// Normal samples left unflagged.
    pub true_negatives: usize,
    /// Anomalies left unflagged.
    pub false_negatives: usize,
}

impl Confusion {
    /// `tp / (tp + fp)`, or 0 when nothing is flagged (scikit-learn's `zero_division=0`).
    pub fn precision(&self) -> f64 {
        ratio(
            self.true_positives,
            self.true_positives + self.false_positives,
        )
    }

    /// `tp / (tp + fn)`, or 0 when there are no anomalies (scikit-learn's `zero_division=0`).
    pub fn recall(&self) -> f64 {
        ratio(
            self.true_positives,
            self.true_positives + self.false_negatives,
        )
    }

    /// `2 tp / (2 tp + fp + fn)`, the harmonic mean of precision and recall, as scikit-learn's
    /// `f1_score` computes it; 0 in the degenerate case `tp = fp = fn = 0`.
    pub fn f1(&self) -> f64 {
        ratio(
            2 * self.true_positives,
            2 * self.true_positives + self.false_positives + self.false_negatives,
        )
    }
}

fn ratio(num: usize, den: usize) -> f64 {
    if den == 0 {
        0.0
    } else {
        num as f64 / den as f64
    }
}

/// Number of samples flagged at contamination `c` among `n`: `round(c * n)`, rounding halves
/// up, clamped to `[1, n]` so that at least one sample is always flagged.
pub(crate) fn flag_count(n: usize, contamination: f64) -> Result<usize> {
    if !(contamination > 0.0 && contamination <= 1.0) {
        return Err(EvalError::InvalidContamination {
            value: contamination,
        });
    }
    let k = (contamination * n as f64 + 0.5).floor() as usize;
    Ok(k.clamp(1, n.max(1)))
}

/// Confusion counts of the rule "score >= `threshold`" in one pass, without sorting.
///
/// Accepts labels of a single class, since counts are always defined.
///
/// # Errors
/// [`EvalError::InvalidThreshold`] for a NaN threshold (infinite ones are fine),
/// [`EvalError::LengthMismatch`], [`EvalError::Empty`], [`EvalError::NonFiniteScore`],
/// [`EvalError::InvalidLabel`].
pub fn confusion_at_threshold<L: Label>(
    scores: &[f64],
    labels: &[L],
    threshold: f64,
) -> Result<Confusion> {
    if threshold.is_nan() {
        return Err(EvalError::InvalidThreshold { value: threshold });
    }
    let mut c = Confusion::default();
    for_each_checked(scores, labels, |score, anomaly| {
        match (score >= threshold, anomaly) {
            (true, true) => c.true_positives += 1,
            (true, false) => c.false_positives += 1,
            (false, false) => c.true_negatives += 1,
            (false, true) => c.false_negatives += 1,
        }
    })?;
    Ok(c)
}

/// F1 of the rule "score >= `threshold`" => predicted anomaly; equals scikit-learn's
/// `f1_score(labels, scores >= threshold)`.
///
/// # Errors
/// As [`confusion_at_threshold`], plus [`EvalError::SingleClass`] when there is no anomaly
/// among the labels (F1 of the anomaly class is then undefined). All-anomaly labels are
/// accepted.
pub fn f1_at_threshold<L: Label>(scores: &[f64], labels: &[L], threshold: f64) -> Result<f64> {
    let c = confusion_at_threshold(scores, labels, threshold)?;
    require_anomaly(&c)?;
    Ok(c.f1())
}

fn require_anomaly(c: &Confusion) -> Result<()> {
    if c.true_positives + c.false_negatives == 0 {
        return Err(EvalError::SingleClass {
            positives: 0,
            negatives: c.false_positives + c.true_negatives,
        });
    }
    Ok(())
}

/// The threshold that flags the top fraction `contamination` of `scores`.
///
/// With `n` scores, `k = round(contamination * n)` (halves rounded up, clamped to `[1, n]`)
/// and the threshold is the `k`-th largest score, so the rule "score >= threshold" flags the
/// `k` highest scores **and every score tied with the `k`-th**: ties are never broken by
/// position, so more than `k` samples may be flagged when the `k`-th score is tied. This is
/// `np.sort(scores)[::-1][k - 1]`. `O(n)` by selection.
///
/// # Errors
/// [`EvalError::InvalidContamination`] unless `contamination` lies in `(0, 1]`,
/// [`EvalError::Empty`], [`EvalError::NonFiniteScore`].
pub fn contamination_threshold(scores: &[f64], contamination: f64) -> Result<f64> {
    check_scores(scores)?;
    let k = flag_count(scores.len(), contamination)?;
    Ok(kth_largest(scores, k))
}

/// The `k`-th largest of finite, non-empty `scores`, `1 <= k <= len`.
fn kth_largest(scores: &[f64], k: usize) -> f64 {
    let mut copy = scores.to_vec();
    let (_, kth, _) = copy.select_nth_unstable_by(k - 1, |a, b| b.total_cmp(a));
    *kth
}

/// F1 at the contamination percentile: the threshold of [`contamination_threshold`], then
/// [`f1_at_threshold`].
///
/// `None` takes the contamination from the labels, i.e. flags the `k` highest scores where `k`
/// is the number of anomalies (plus ties with the `k`-th score, as documented on
/// [`contamination_threshold`]). Without ties, precision = recall = F1 in that case.
///
/// # Errors
/// As [`f1_at_threshold`] and [`contamination_threshold`].
pub fn f1_at_contamination<L: Label>(
    scores: &[f64],
    labels: &[L],
    contamination: Option<f64>,
) -> Result<f64> {
    let mut anomalies = 0usize;
    for_each_checked(scores, labels, |_, anomaly| {
        anomalies += usize::from(anomaly)
    })?;
    if anomalies == 0 {
        return Err(EvalError::SingleClass {
            positives: 0,
            negatives: scores.len(),
        });
    }
    let k = match contamination {
        Some(c) => flag_count(scores.len(), c)?,
        None => anomalies,
    };
    f1_at_threshold(scores, labels, kth_largest(scores, k))
}
