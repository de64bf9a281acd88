//! Summary statistics over runs (seeds): mean and standard deviation with explicit `ddof`.

use crate::error::{EvalError, Result};

/// Delta degrees of freedom of the population standard deviation (`numpy.std` default).
pub const POPULATION: usize = 0;
/// Delta degrees of freedom of the sample standard deviation (Bessel's correction), as used
/// for the mean +- std over seeds in the report (`numpy.std(x, ddof=1)`, pandas' default).
pub const SAMPLE: usize = 1;

/// A mean and a standard deviation, e.g. of one metric over several seeds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MeanStd {
    /// Arithmetic mean.
    pub mean: f64,
    /// Standard deviation with the `ddof` it was computed with.
    pub std: f64,
}

/// Checks for an empty slice and the first non-finite value.
fn check_values(values: &[f64]) -> Result<()> {
    if values.is_empty() {
        return Err(EvalError::Empty);
    }
    match values.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(EvalError::NonFiniteValue {
            index,
            value: values[index],
        }),
        None => Ok(()),
    }
}

/// Compensated (Neumaier) sum, so that means of many values keep full precision.
fn compensated_sum(values: impl Iterator<Item = f64>) -> f64 {
    let (mut sum, mut compensation) = (0.0f64, 0.0f64);
    for v in values {
        let t = sum + v;
        if sum.abs() >= v.abs() {
            compensation += (sum - t) + v;
        } else {
            compensation += (v - t) + sum;
        }
        sum = t;
    }
    sum + compensation
}

/// Arithmetic mean of `values`.
///
/// # Errors
/// [`EvalError::Empty`], [`EvalError::NonFiniteValue`].
pub fn mean(values: &[f64]) -> Result<f64> {
    check_values(values)?;
    let n = values.len() as f64;
    let m = compensated_sum(values.iter().copied()) / n;
    if m.is_finite() {
        return Ok(m);
    }
    // The sum overflowed (values near f64::MAX); the mean of finite values is finite, and
    // summing the values over n first keeps it so.
    Ok(compensated_sum(values.iter().map(|v| v / n)))
}

/// Standard deviation `sqrt(sum (x - mean)^2 / (n - ddof))`, as `numpy.std(values, ddof=ddof)`.
///
/// Pass [`SAMPLE`] (1) for the sample standard deviation over seeds, [`POPULATION`] (0) for
/// the population one. Computed in two passes (mean first) for accuracy.
///
/// # Errors
/// [`EvalError::Empty`], [`EvalError::NonFiniteValue`], and [`EvalError::TooFewValues`] when
/// `ddof >= values.len()` (numpy would return NaN or infinity).
pub fn std_dev(values: &[f64], ddof: usize) -> Result<f64> {
    Ok(mean_std(values, ddof)?.std)
}

/// Mean and standard deviation (with `ddof`, see [`std_dev`]) in one call.
///
/// # Errors
/// As [`std_dev`], and [`EvalError::StdOverflow`] when the std itself exceeds `f64::MAX`.
pub fn mean_std(values: &[f64], ddof: usize) -> Result<MeanStd> {
    let mean = mean(values)?;
    if ddof >= values.len() {
        return Err(EvalError::TooFewValues {
            len: values.len(),
            ddof,
        });
    }
    let dof = (values.len() - ddof) as f64;
    let squares = compensated_sum(values.iter().map(|v| (v - mean) * (v - mean)));
    let std = (squares / dof).sqrt();
    if std.is_finite() {
        return Ok(MeanStd { mean, std });
    }
    // The squares overflowed: the same in units of the largest deviation (computed by halves,
    // as the deviation itself may exceed f64::MAX). A std beyond f64::MAX is an error rather
    // than an infinity.
    let half = |v: &f64| v / 2.0 - mean / 2.0;
    let scale = values.iter().map(|v| half(v).abs()).fold(0.0, f64::max);
    let squares = compensated_sum(values.iter().map(|v| (half(v) / scale).powi(2)));
    let std = (squares / dof).sqrt() * scale * 2.0;
    if !std.is_finite() {
        return Err(EvalError::StdOverflow);
    }
    Ok(MeanStd { mean, std })
}
