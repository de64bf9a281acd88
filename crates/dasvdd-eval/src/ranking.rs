//! Threshold-free ranking metrics: ROC curve, AUROC and average precision, all computed from
//! one sort of the scores ([`RankedScores`]).

use crate::error::{EvalError, Result};
use crate::f1::{flag_count, Confusion};
use crate::label::{for_each_checked, Label};

/// Scores sorted once and reduced to cumulative counts at every distinct threshold.
///
/// Entry `i` describes the decision rule "score >= `thresholds[i]`": `true_positives[i]`
/// anomalies and `false_positives[i]` normal samples are flagged. Thresholds are the distinct
/// scores in decreasing order, so tied scores always move together; this is what makes tied
/// scores count one half in [`RankedScores::auroc`], as in scikit-learn.
///
/// Building one costs `O(n log n)`; every metric on it is then `O(d)` for `d` distinct scores
/// (`O(log d)` for [`RankedScores::confusion_at_threshold`]).
#[derive(Debug, Clone, PartialEq)]
pub struct RankedScores {
    thresholds: Vec<f64>,
    true_positives: Vec<usize>,
    false_positives: Vec<usize>,
    positives: usize,
    negatives: usize,
}

/// Which points [`RankedScores::roc_curve`] keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RocPoints {
    /// One point per distinct score: scikit-learn's `roc_curve(..., drop_intermediate=False)`.
    AllThresholds,
    /// Drop points that lie on a straight segment between their neighbours, exactly as
    /// scikit-learn's default `roc_curve(..., drop_intermediate=True)` does (a point is kept when
    /// the second difference of the false- or true-positive counts is non-zero there).
    DropIntermediate,
}

/// Points of a ROC curve, in the layout of scikit-learn's `roc_curve`.
///
/// The three vectors have equal length. The first point is always `(0, 0)` with threshold
/// `+inf` (scikit-learn >= 1.3 uses `np.inf` there too); point `i > 0` is the rate pair of the
/// rule "score >= `thresholds[i]`", thresholds decreasing, and the last point is `(1, 1)`.
#[derive(Debug, Clone, PartialEq)]
pub struct RocCurve {
    /// False-positive rates, non-decreasing, from 0 to 1.
    pub fpr: Vec<f64>,
    /// True-positive rates (recall), non-decreasing, from 0 to 1.
    pub tpr: Vec<f64>,
    /// Decision thresholds, decreasing, starting at `+inf`.
    pub thresholds: Vec<f64>,
}

impl RankedScores {
    /// Validates and sorts `scores` (higher = more anomalous) against `labels`
    /// (1 / `true` = anomaly).
    ///
    /// # Errors
    /// [`EvalError::LengthMismatch`], [`EvalError::Empty`], [`EvalError::NonFiniteScore`],
    /// [`EvalError::InvalidLabel`], and [`EvalError::SingleClass`] unless both classes occur,
    /// since every ranking metric needs both.
    pub fn new<L: Label>(scores: &[f64], labels: &[L]) -> Result<Self> {
        let ranked = Self::build(scores, labels)?;
        if ranked.positives == 0 || ranked.negatives == 0 {
            return Err(EvalError::SingleClass {
                positives: ranked.positives,
                negatives: ranked.negatives,
            });
        }
        Ok(ranked)
    }

    /// Like [`RankedScores::new`] but accepts a single class; only for metrics that stay
    /// defined then (the F1 family checks what it needs itself).
    pub(crate) fn build<L: Label>(scores: &[f64], labels: &[L]) -> Result<Self> {
        let mut pairs = Vec::with_capacity(scores.len());
        for_each_checked(scores, labels, |score, anomaly| {
            pairs.push((score, anomaly))
        })?;
        // All scores are finite here, so `total_cmp` agrees with `<` except that it orders -0.0
        // before 0.0; the two still end up adjacent and are merged by the `==` test below.
        pairs.sort_unstable_by(|a, b| b.0.total_cmp(&a.0));

        let mut thresholds = Vec::new();
        let mut true_positives = Vec::new();
        let mut false_positives = Vec::new();
        let (mut tp, mut fp) = (0usize, 0usize);
        for (i, &(score, anomaly)) in pairs.iter().enumerate() {
            if anomaly {
                tp += 1;
            } else {
                fp += 1;
            }
            let last_of_tie = pairs.get(i + 1).is_none_or(|next| next.0 != score);
            if last_of_tie {
                thresholds.push(score);
                true_positives.push(tp);
                false_positives.push(fp);
            }
        }
        Ok(Self {
            thresholds,
            true_positives,
            false_positives,
            positives: tp,
            negatives: fp,
        })
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.positives + self.negatives
    }

    /// Always `false`: construction rejects empty input. Present for API symmetry with `len`.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of anomalies (positive labels).
    pub fn positives(&self) -> usize {
        self.positives
    }

    /// Number of normal samples (negative labels).
    pub fn negatives(&self) -> usize {
        self.negatives
    }

    /// The distinct scores, in decreasing order.
    pub fn distinct_scores(&self) -> &[f64] {
        &self.thresholds
    }

    /// Area under the ROC curve, equal to scikit-learn's `roc_auc_score`.
    ///
    /// It is the trapezoid rule over the points at distinct thresholds, so a tied
    /// anomaly/normal pair counts one half (the Mann-Whitney U statistic with mid-ranks divided
    /// by `positives * negatives`). The sum is accumulated exactly in integers and divided once,
    /// so the only rounding is that final division.
    pub fn auroc(&self) -> f64 {
        let mut twice_area: u128 = 0;
        let (mut tp_prev, mut fp_prev) = (0usize, 0usize);
        for (&tp, &fp) in self.true_positives.iter().zip(&self.false_positives) {
            twice_area += (fp - fp_prev) as u128 * (tp + tp_prev) as u128;
            tp_prev = tp;
            fp_prev = fp;
        }
        twice_area as f64 / (2 * self.positives as u128 * self.negatives as u128) as f64
    }

    /// Average precision, equal to scikit-learn's `average_precision_score`.
    ///
    /// The step-wise sum over distinct thresholds (decreasing) of `(R_n - R_{n-1}) * P_n`, with
    /// recall `R_n` and precision `P_n` of the rule "score >= threshold n" and `R_0 = 0`; no
    /// interpolation.
    pub fn average_precision(&self) -> f64 {
        let mut sum = 0.0;
        let mut tp_prev = 0usize;
        for (&tp, &fp) in self.true_positives.iter().zip(&self.false_positives) {
            if tp > tp_prev {
                sum += (tp - tp_prev) as f64 * (tp as f64 / (tp + fp) as f64);
            }
            tp_prev = tp;
        }
        sum / self.positives as f64
    }

    /// The ROC curve, keeping the points chosen by `points`.
    pub fn roc_curve(&self, points: RocPoints) -> RocCurve {
        let d = self.thresholds.len();
        let keep = |i: usize| -> bool {
            match points {
                RocPoints::AllThresholds => true,
                RocPoints::DropIntermediate => {
                    if d <= 2 || i == 0 || i == d - 1 {
                        return true;
                    }
                    let second_diff = |v: &[usize]| v[i + 1] + v[i - 1] != 2 * v[i];
                    second_diff(&self.false_positives) || second_diff(&self.true_positives)
                }
            }
        };
        let p = self.positives as f64;
        let n = self.negatives as f64;
        let mut curve = RocCurve {
            fpr: vec![0.0],
            tpr: vec![0.0],
            thresholds: vec![f64::INFINITY],
        };
        for i in (0..d).filter(|&i| keep(i)) {
            curve.fpr.push(self.false_positives[i] as f64 / n);
            curve.tpr.push(self.true_positives[i] as f64 / p);
            curve.thresholds.push(self.thresholds[i]);
        }
        curve
    }

    /// Confusion counts of the rule "score >= `threshold`" (predicted anomaly).
    ///
    /// # Errors
    /// [`EvalError::InvalidThreshold`] if `threshold` is NaN; infinite thresholds are fine.
    pub fn confusion_at_threshold(&self, threshold: f64) -> Result<Confusion> {
        if threshold.is_nan() {
            return Err(EvalError::InvalidThreshold { value: threshold });
        }
        // Number of distinct scores >= threshold; thresholds are decreasing.
        let above = self.thresholds.partition_point(|&s| s >= threshold);
        Ok(self.confusion_at_index(above))
    }

    /// Confusion counts when the first `above` distinct scores are flagged.
    fn confusion_at_index(&self, above: usize) -> Confusion {
        let (tp, fp) = match above.checked_sub(1) {
            Some(i) => (self.true_positives[i], self.false_positives[i]),
            None => (0, 0),
        };
        Confusion {
            true_positives: tp,
            false_positives: fp,
            true_negatives: self.negatives - fp,
            false_negatives: self.positives - tp,
        }
    }

    /// Confusion counts at the contamination percentile; see [`crate::contamination_threshold`]
    /// for the rule (top `k` scores flagged, ties with the `k`-th score flagged too).
    /// `None` uses the labels' own anomaly fraction, i.e. `k` = number of anomalies.
    ///
    /// # Errors
    /// [`EvalError::InvalidContamination`] unless `contamination` lies in `(0, 1]`.
    pub fn confusion_at_contamination(&self, contamination: Option<f64>) -> Result<Confusion> {
        let k = match contamination {
            Some(c) => flag_count(self.len(), c)?,
            None => self.positives.max(1),
        };
        // The smallest distinct threshold whose rule flags at least k samples.
        let i = self
            .true_positives
            .iter()
            .zip(&self.false_positives)
            .position(|(tp, fp)| tp + fp >= k)
            .unwrap_or(self.thresholds.len() - 1);
        Ok(self.confusion_at_index(i + 1))
    }

    /// F1 at the contamination percentile; see [`RankedScores::confusion_at_contamination`].
    ///
    /// # Errors
    /// As [`RankedScores::confusion_at_contamination`].
    pub fn f1_at_contamination(&self, contamination: Option<f64>) -> Result<f64> {
        Ok(self.confusion_at_contamination(contamination)?.f1())
    }
}

/// Area under the ROC curve of `scores` (higher = more anomalous) against `labels`
/// (1 / `true` = anomaly); equals scikit-learn's `roc_auc_score`, ties counting one half.
///
/// # Errors
/// As [`RankedScores::new`].
pub fn auroc<L: Label>(scores: &[f64], labels: &[L]) -> Result<f64> {
    Ok(RankedScores::new(scores, labels)?.auroc())
}

/// Average precision of `scores` against `labels`; equals scikit-learn's
/// `average_precision_score`. See [`RankedScores::average_precision`].
///
/// # Errors
/// As [`RankedScores::new`].
pub fn average_precision<L: Label>(scores: &[f64], labels: &[L]) -> Result<f64> {
    Ok(RankedScores::new(scores, labels)?.average_precision())
}

/// ROC curve of `scores` against `labels`, in scikit-learn's `roc_curve` layout; `points`
/// chooses between its `drop_intermediate=False` and `True`.
///
/// # Errors
/// As [`RankedScores::new`].
pub fn roc_curve<L: Label>(scores: &[f64], labels: &[L], points: RocPoints) -> Result<RocCurve> {
    Ok(RankedScores::new(scores, labels)?.roc_curve(points))
}
