//! The error type of the evaluation crate: every way an input can make a metric undefined.

use thiserror::Error;

/// Why a metric could not be computed.
///
/// Every metric in this crate returns one of these instead of NaN: inputs that would make a
/// metric undefined (an empty slice, one class only, a NaN score...) are rejected up front.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum EvalError {
    /// There was nothing to evaluate.
    #[error("empty input: nothing to evaluate")]
    Empty,
    /// A slice that must be as long as the scores is not.
    #[error("length mismatch: {scores} scores but {other} {what}")]
    LengthMismatch {
        /// What the other slice holds (`"labels"`, `"groups"`).
        what: &'static str,
        /// Number of scores.
        scores: usize,
        /// Length of the other slice.
        other: usize,
    },
    /// A score is NaN or infinite.
    #[error("non-finite score {value} at index {index}")]
    NonFiniteScore {
        /// Position of the first offending score.
        index: usize,
        /// The offending score.
        value: f64,
    },
    /// A `u8` label is neither 0 (normal) nor 1 (anomaly).
    #[error("invalid label {value} at index {index}: labels must be 0 (normal) or 1 (anomaly)")]
    InvalidLabel {
        /// Position of the first offending label.
        index: usize,
        /// The offending label.
        value: u8,
    },
    /// The labels hold one class only, so the metric is undefined.
    #[error("only one class present: {positives} anomalies and {negatives} normals")]
    SingleClass {
        /// Number of anomalies (label 1).
        positives: usize,
        /// Number of normal samples (label 0).
        negatives: usize,
    },
    /// A contamination fraction outside `(0, 1]`.
    #[error("invalid contamination {value}: it must lie in (0, 1]")]
    InvalidContamination {
        /// The rejected fraction.
        value: f64,
    },
    /// A decision threshold that is NaN.
    #[error("invalid threshold {value}: it must not be nan")]
    InvalidThreshold {
        /// The rejected threshold.
        value: f64,
    },
    /// A value passed to a summary statistic is NaN or infinite.
    #[error("non-finite value {value} at index {index}")]
    NonFiniteValue {
        /// Position of the first offending value.
        index: usize,
        /// The offending value.
        value: f64,
    },
    /// A standard deviation was asked with `ddof >= len`, which divides by zero or less.
    #[error("too few values for ddof {ddof}: got {len}, need more than {ddof}")]
    TooFewValues {
        /// Number of values given.
        len: usize,
        /// The requested delta degrees of freedom.
        ddof: usize,
    },
    /// A standard deviation of finite values exceeds the `f64` range (values spread over
    /// more than about 1.8e308).
    #[error("the standard deviation exceeds the f64 range")]
    StdOverflow,
    /// Two rows of the same group carry different labels.
    #[error("group mixes labels: row {row} disagrees with row {first_row} of the same group")]
    MixedGroupLabels {
        /// First row of the group.
        first_row: usize,
        /// The first row whose label differs from `first_row`'s.
        row: usize,
    },
}

/// Result type of this crate.
pub type Result<T> = std::result::Result<T, EvalError>;
