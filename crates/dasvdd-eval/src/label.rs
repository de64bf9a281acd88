//! Binary labels: the [`Label`] trait accepted by every metric, and the shared input checks.

use crate::error::{EvalError, Result};

mod sealed {
    pub trait Sealed {}
    impl Sealed for u8 {}
    impl Sealed for bool {}
}

/// A binary ground-truth label where the positive class is the anomaly.
///
/// Implemented for `bool` (`true` = anomaly) and `u8` (`1` = anomaly, `0` = normal; any other
/// value is rejected with [`EvalError::InvalidLabel`]). The trait is sealed.
pub trait Label: Copy + sealed::Sealed {
    /// `Some(true)` for an anomaly, `Some(false)` for a normal sample, `None` if the value is
    /// not a valid label.
    fn is_anomaly(self) -> Option<bool>;

    /// The label as a number, for error messages.
    fn raw(self) -> u8;
}

impl Label for bool {
    fn is_anomaly(self) -> Option<bool> {
        Some(self)
    }

    fn raw(self) -> u8 {
        u8::from(self)
    }
}

impl Label for u8 {
    fn is_anomaly(self) -> Option<bool> {
        match self {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        }
    }

    fn raw(self) -> u8 {
        self
    }
}

/// Checks that `scores` is non-empty and finite and that `labels` matches it in length and
/// holds only valid labels, then calls `visit(score, is_anomaly)` for every pair in order.
///
/// Checking and visiting share one pass so that callers need not allocate; `visit` may have
/// been called on a prefix when an error is returned, so callers discard their state on error.
pub(crate) fn for_each_checked<L: Label>(
    scores: &[f64],
    labels: &[L],
    mut visit: impl FnMut(f64, bool),
) -> Result<()> {
    if scores.len() != labels.len() {
        return Err(EvalError::LengthMismatch {
            what: "labels",
            scores: scores.len(),
            other: labels.len(),
        });
    }
    if scores.is_empty() {
        return Err(EvalError::Empty);
    }
    for (index, (&score, &label)) in scores.iter().zip(labels).enumerate() {
        if !score.is_finite() {
            return Err(EvalError::NonFiniteScore {
                index,
                value: score,
            });
        }
        let Some(anomaly) = label.is_anomaly() else {
            return Err(EvalError::InvalidLabel {
                index,
                value: label.raw(),
            });
        };
        visit(score, anomaly);
    }
    Ok(())
}

/// Checks that `scores` is non-empty and finite.
pub(crate) fn check_scores(scores: &[f64]) -> Result<()> {
    if scores.is_empty() {
        return Err(EvalError::Empty);
    }
    match scores.iter().position(|s| !s.is_finite()) {
        Some(index) => Err(EvalError::NonFiniteScore {
            index,
            value: scores[index],
        }),
        None => Ok(()),
    }
}
