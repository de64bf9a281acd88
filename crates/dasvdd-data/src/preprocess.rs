//! Preprocessing: pixel scaling, per-sample global contrast normalisation (GCN), and
//! per-feature min-max and z-score scalers whose statistics come from training data only.
//!
//! Fitted scalers are plain serialisable structs so a checkpoint can store them and apply the
//! same transformation to new data.

use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};
use crate::matrix::Matrix;

/// Scales 8-bit pixel values (0..=255) to [0, 1].
pub fn scale_pixels(m: &mut Matrix) {
    for v in &mut m.data {
        *v /= 255.0;
    }
}

/// The norm a global contrast normalisation divides by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum GcnNorm {
    /// Deep SVDD's variant: `(x - mean) / mean|x - mean|`.
    L1,
    /// The DASVDD code's variant: `(x - mean) / (sqrt(sum (x - mean)^2) / n_features)`. Note the
    /// division by `n_features`, not its square root: this is what the reference code does.
    L2,
}

/// Global contrast normalisation of every row (sample) of `m` on its own.
///
/// A row with zero variance (a constant image) would divide by zero; it becomes all zeros
/// (its centred values) instead of NaN.
pub fn global_contrast_normalize(m: &mut Matrix, norm: GcnNorm) {
    let n = m.cols;
    if n == 0 {
        return;
    }
    for row in m.data.chunks_exact_mut(n) {
        let mean = row.iter().map(|&v| f64::from(v)).sum::<f64>() / n as f64;
        let scale = match norm {
            GcnNorm::L1 => {
                row.iter()
                    .map(|&v| (f64::from(v) - mean).abs())
                    .sum::<f64>()
                    / n as f64
            }
            GcnNorm::L2 => {
                row.iter()
                    .map(|&v| (f64::from(v) - mean).powi(2))
                    .sum::<f64>()
                    .sqrt()
                    / n as f64
            }
        };
        // Rows whose spread is at the level of rounding noise are treated as constant.
        let constant = scale.is_nan() || scale <= f64::EPSILON * mean.abs().max(1.0);
        for v in row.iter_mut() {
            let centred = f64::from(*v) - mean;
            *v = if constant {
                0.0
            } else {
                (centred / scale) as f32
            };
        }
    }
}

fn check_fit_input(what: &str, m: &Matrix) -> Result<()> {
    if m.rows == 0 {
        return Err(DataError::invalid(what, "cannot fit on zero rows"));
    }
    if let Some(i) = m.data.iter().position(|v| !v.is_finite()) {
        return Err(DataError::invalid(
            what,
            format!(
                "non-finite value at row {}, column {}",
                i / m.cols + 1,
                i % m.cols + 1
            ),
        ));
    }
    Ok(())
}

fn check_width(what: &str, expected: usize, m: &Matrix) -> Result<()> {
    if m.cols != expected {
        return Err(DataError::invalid(
            what,
            format!("fitted on {expected} features but given {}", m.cols),
        ));
    }
    Ok(())
}

/// Per-feature min-max scaling to [0, 1] (scikit-learn's `MinMaxScaler`), fitted on training
/// data. A feature that is constant in the training data is only shifted by its minimum (its
/// range is taken as 1, as scikit-learn does). Test values outside the training range fall
/// outside [0, 1]; they are not clipped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MinMaxScaler {
    /// Per-feature minimum of the training data.
    pub min: Vec<f32>,
    /// Per-feature maximum of the training data.
    pub max: Vec<f32>,
}

impl MinMaxScaler {
    /// Per-feature minimum and maximum of `train`.
    pub fn fit(train: &Matrix) -> Result<Self> {
        check_fit_input("min-max scaler", train)?;
        let mut min = vec![f32::INFINITY; train.cols];
        let mut max = vec![f32::NEG_INFINITY; train.cols];
        for row in train.row_iter() {
            for (j, &v) in row.iter().enumerate() {
                min[j] = min[j].min(v);
                max[j] = max[j].max(v);
            }
        }
        Ok(MinMaxScaler { min, max })
    }

    /// Scales `m` in place with the fitted statistics.
    pub fn transform(&self, m: &mut Matrix) -> Result<()> {
        check_width("min-max scaler", self.min.len(), m)?;
        let cols = m.cols.max(1);
        for row in m.data.chunks_exact_mut(cols) {
            for (j, v) in row.iter_mut().enumerate() {
                let range = self.max[j] - self.min[j];
                *v = if range > 0.0 {
                    (*v - self.min[j]) / range
                } else {
                    *v - self.min[j]
                };
            }
        }
        Ok(())
    }
}

/// Per-feature standardisation `(x - mean) / std` (scikit-learn's `StandardScaler`: population
/// standard deviation), fitted on training data. A feature that is constant in the training
/// data has its std set to 1 (as scikit-learn does), so it is only centred.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StandardScaler {
    /// Per-feature mean of the training data.
    pub mean: Vec<f32>,
    /// Per-feature population standard deviation of the training data (1 where it is 0).
    pub std: Vec<f32>,
}

impl StandardScaler {
    /// Per-feature mean and population standard deviation of `train` (accumulated in `f64`).
    pub fn fit(train: &Matrix) -> Result<Self> {
        check_fit_input("z-score scaler", train)?;
        let n = train.rows as f64;
        let mut mean = vec![0f64; train.cols];
        for row in train.row_iter() {
            for (j, &v) in row.iter().enumerate() {
                mean[j] += f64::from(v);
            }
        }
        mean.iter_mut().for_each(|m| *m /= n);
        let mut var = vec![0f64; train.cols];
        for row in train.row_iter() {
            for (j, &v) in row.iter().enumerate() {
                var[j] += (f64::from(v) - mean[j]).powi(2);
            }
        }
        let std = var
            .iter()
            .zip(&mean)
            .map(|(&s, &m)| {
                let sd = (s / n).sqrt();
                // scikit-learn's rule: a scale that is zero up to rounding becomes 1.
                if sd <= 10.0 * f64::EPSILON * m.abs().max(1.0) {
                    1.0
                } else {
                    sd as f32
                }
            })
            .collect();
        Ok(StandardScaler {
            mean: mean.into_iter().map(|m| m as f32).collect(),
            std,
        })
    }

    /// Standardises `m` in place with the fitted statistics.
    pub fn transform(&self, m: &mut Matrix) -> Result<()> {
        check_width("z-score scaler", self.mean.len(), m)?;
        let cols = m.cols.max(1);
        for row in m.data.chunks_exact_mut(cols) {
            for (j, v) in row.iter_mut().enumerate() {
                *v = (*v - self.mean[j]) / self.std[j];
            }
        }
        Ok(())
    }
}

/// Min-max scaling with one minimum and one maximum over all features (Deep SVDD's CIFAR-10 and
/// MNIST preprocessing after GCN, whose per-class constants are these statistics of the normal
/// class's training images), fitted on training data. A constant training matrix has its range
/// taken as 1.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GlobalMinMaxScaler {
    /// Smallest value of the training data.
    pub min: f32,
    /// Largest value of the training data.
    pub max: f32,
}

impl GlobalMinMaxScaler {
    /// The smallest and largest value of `train`.
    pub fn fit(train: &Matrix) -> Result<Self> {
        check_fit_input("global min-max scaler", train)?;
        let (min, max) = train
            .data
            .iter()
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
                (lo.min(v), hi.max(v))
            });
        Ok(GlobalMinMaxScaler { min, max })
    }

    /// Scales `m` in place: `(x - min) / (max - min)`.
    pub fn transform(&self, m: &mut Matrix) {
        let range = self.max - self.min;
        let range = if range > 0.0 { range } else { 1.0 };
        for v in &mut m.data {
            *v = (*v - self.min) / range;
        }
    }
}

/// A preprocessing step as configured (before fitting).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Preprocessing {
    /// Leave the values as they are.
    None,
    /// Per-sample global contrast normalisation (no statistics to fit).
    Gcn(GcnNorm),
    /// GCN, then per-feature min-max fitted on the training data.
    GcnMinMax(GcnNorm),
    /// GCN, then one min-max over all features fitted on the training data (Deep SVDD's
    /// preprocessing with `GcnNorm::L1`).
    GcnGlobalMinMax(GcnNorm),
    /// Per-feature min-max fitted on the training data.
    MinMax,
    /// Per-feature z-score fitted on the training data.
    ZScore,
}

/// A preprocessing step after fitting, ready to apply to new data; serialisable for
/// checkpoints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum FittedPreprocessing {
    /// [`Preprocessing::None`]: identity.
    None,
    /// [`Preprocessing::Gcn`]: per-sample GCN, nothing fitted.
    Gcn(GcnNorm),
    /// [`Preprocessing::GcnMinMax`]: GCN, then the fitted per-feature min-max.
    GcnMinMax(GcnNorm, MinMaxScaler),
    /// [`Preprocessing::GcnGlobalMinMax`]: GCN, then the fitted global min-max.
    GcnGlobalMinMax(GcnNorm, GlobalMinMaxScaler),
    /// [`Preprocessing::MinMax`]: the fitted per-feature min-max.
    MinMax(MinMaxScaler),
    /// [`Preprocessing::ZScore`]: the fitted per-feature z-score.
    ZScore(StandardScaler),
}

impl Preprocessing {
    /// Fits the step's statistics on `train` (which it also transforms in place) and returns
    /// the fitted step for transforming test data.
    pub fn fit_transform(self, train: &mut Matrix) -> Result<FittedPreprocessing> {
        let fitted = match self {
            Preprocessing::None => FittedPreprocessing::None,
            Preprocessing::Gcn(n) => FittedPreprocessing::Gcn(n),
            Preprocessing::GcnMinMax(n) => {
                global_contrast_normalize(train, n);
                FittedPreprocessing::GcnMinMax(n, MinMaxScaler::fit(train)?)
            }
            Preprocessing::GcnGlobalMinMax(n) => {
                global_contrast_normalize(train, n);
                FittedPreprocessing::GcnGlobalMinMax(n, GlobalMinMaxScaler::fit(train)?)
            }
            Preprocessing::MinMax => FittedPreprocessing::MinMax(MinMaxScaler::fit(train)?),
            Preprocessing::ZScore => FittedPreprocessing::ZScore(StandardScaler::fit(train)?),
        };
        // The GCN steps have already normalised `train`; only their min-max part remains.
        match &fitted {
            FittedPreprocessing::GcnMinMax(_, s) => s.transform(train)?,
            FittedPreprocessing::GcnGlobalMinMax(_, s) => s.transform(train),
            other => other.transform(train)?,
        }
        Ok(fitted)
    }
}

impl std::str::FromStr for Preprocessing {
    type Err = DataError;

    /// The `--scale` names (case-insensitive): `none`, `zscore` (or `z-score`, `standard`),
    /// `minmax` (or `min-max`), and CIFAR-10's two global contrast normalisations, `gcn-l2` (the
    /// 2021 DASVDD code's) and `gcn-l1-minmax` (Deep SVDD's, which the paper cites).
    ///
    /// ```
    /// use dasvdd_data::{GcnNorm, Preprocessing};
    /// assert_eq!("Z-Score".parse::<Preprocessing>().unwrap(), Preprocessing::ZScore);
    /// assert_eq!("gcn-l2".parse::<Preprocessing>().unwrap(), Preprocessing::Gcn(GcnNorm::L2));
    /// assert!("robust".parse::<Preprocessing>().is_err());
    /// ```
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "none" => Preprocessing::None,
            "zscore" | "z-score" | "standard" => Preprocessing::ZScore,
            "minmax" | "min-max" => Preprocessing::MinMax,
            "gcn-l2" => Preprocessing::Gcn(GcnNorm::L2),
            "gcn-l1-minmax" => Preprocessing::GcnGlobalMinMax(GcnNorm::L1),
            other => {
                return Err(DataError::invalid(
                    "scale",
                    format!("`{other}` is not none, zscore, minmax, gcn-l2 or gcn-l1-minmax"),
                ))
            }
        })
    }
}

impl FittedPreprocessing {
    /// Applies the fitted step to `m` in place.
    pub fn transform(&self, m: &mut Matrix) -> Result<()> {
        match self {
            FittedPreprocessing::None => Ok(()),
            FittedPreprocessing::Gcn(n) => {
                global_contrast_normalize(m, *n);
                Ok(())
            }
            FittedPreprocessing::GcnMinMax(n, s) => {
                global_contrast_normalize(m, *n);
                s.transform(m)
            }
            FittedPreprocessing::GcnGlobalMinMax(n, s) => {
                global_contrast_normalize(m, *n);
                s.transform(m);
                Ok(())
            }
            FittedPreprocessing::MinMax(s) => s.transform(m),
            FittedPreprocessing::ZScore(s) => s.transform(m),
        }
    }
}
