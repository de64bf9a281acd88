//! Gaussian kernel density estimation as scikit-learn's
//! `KernelDensity(kernel='gaussian', bandwidth=h).score_samples` computes it, exactly (no tree
//! approximation) and stably in log space:
//! `log p(x) = logsumexp_i(-|x - x_i|^2 / (2 h^2)) - ln n - (d / 2) ln(2 pi h^2)`;
//! the anomaly score is `-log p(x)`. The bandwidth is either fixed or chosen like
//! `GridSearchCV(KernelDensity(), {'bandwidth': grid}, cv=k)`: k folds in order (KFold without
//! shuffling), each fold scored by the total log-likelihood of its held-out rows under the
//! other rows, the grid value with the highest mean fold score wins (the first on ties).
//!
//! Distances come from one blocked matrix product per block of query rows, so memory stays
//! bounded, and every cross-validation distance is computed once and reused for all grid values.

use std::ops::Range;
use std::path::Path;

use dasvdd_core::checkpoint::Checkpoint;

use candle_core::Device;
use dasvdd_core::{CoreError, Detector, DetectorParams, Result, SampleView};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::common::{
    check_fit_input, dot_products, dots_to_squared_distances, save_model, squared_norms, to_f64,
    Array, ModelFile,
};

/// Method name used on the command line and in model files.
pub const METHOD: &str = "kde";

/// Kernel terms smaller than `exp(-SKIP_EXPONENT)` times the largest term of a sum are left
/// out: together they change a log-density by less than `n * 1e-22`, far below `f64` rounding
/// of the result, and skipping them saves most `exp` calls at small bandwidths.
const SKIP_EXPONENT: f64 = 50.0;

/// Upper bound on the number of distances held at once (about 32 MiB of `f64`).
const BLOCK_VALUES: usize = 1 << 22;

/// How the bandwidth `h` is set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Bandwidth {
    /// This bandwidth, `h > 0`.
    Fixed(f64),
    /// The value of `grid` with the highest `folds`-fold cross-validated log-likelihood.
    CrossValidated {
        /// The candidate bandwidths, each `> 0`.
        grid: Vec<f64>,
        /// Number of consecutive cross-validation folds, at least 2.
        folds: usize,
    },
}

impl Bandwidth {
    /// `np.logspace(-1, 1, 20)`: twenty values from 0.1 to 10, evenly spaced in log scale.
    pub fn default_grid() -> Vec<f64> {
        logspace(-1.0, 1.0, 20)
    }
}

/// `np.logspace(start, stop, num)`: `10^(start + k (stop - start) / (num - 1))`, the last value
/// being exactly `10^stop`, as numpy computes it.
pub fn logspace(start: f64, stop: f64, num: usize) -> Vec<f64> {
    let step = if num > 1 {
        (stop - start) / (num - 1) as f64
    } else {
        0.0
    };
    (0..num)
        .map(|k| {
            let exponent = if num > 1 && k == num - 1 {
                stop
            } else {
                k as f64 * step + start
            };
            10f64.powf(exponent)
        })
        .collect()
}

/// Hyperparameters of [`Kde`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KdeParams {
    /// Fixed bandwidth or cross-validated choice from a grid.
    pub bandwidth: Bandwidth,
}

impl Default for KdeParams {
    /// The paper's setting (Section 4.2): bandwidth chosen by 5-fold cross-validated
    /// log-likelihood, here over [`Bandwidth::default_grid`] (`np.logspace(-1, 1, 20)`).
    fn default() -> Self {
        KdeParams {
            bandwidth: Bandwidth::CrossValidated {
                grid: Bandwidth::default_grid(),
                folds: 5,
            },
        }
    }
}

impl KdeParams {
    fn validate(&self) -> Result<()> {
        match &self.bandwidth {
            Bandwidth::Fixed(h) => {
                if !(h.is_finite() && *h > 0.0) {
                    return Err(CoreError::param(
                        "bandwidth",
                        format!("must be positive and finite, got {h}"),
                    ));
                }
            }
            Bandwidth::CrossValidated { grid, folds } => {
                if grid.is_empty() {
                    return Err(CoreError::param("bandwidth_grid", "is empty"));
                }
                if let Some(h) = grid.iter().find(|h| !(h.is_finite() && **h > 0.0)) {
                    return Err(CoreError::param(
                        "bandwidth_grid",
                        format!("values must be positive and finite, got {h}"),
                    ));
                }
                if *folds < 2 {
                    return Err(CoreError::param(
                        "folds",
                        format!("must be at least 2, got {folds}"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Chooses the bandwidth (when cross-validated) and keeps the samples `x` as the density's
    /// centres.
    pub fn fit(&self, x: SampleView<'_>) -> Result<Kde> {
        self.validate()?;
        check_fit_input(&x, METHOD)?;
        let train = to_f64(&x);
        let norms = squared_norms(&train, x.cols());
        let (bandwidth, cv) = match &self.bandwidth {
            Bandwidth::Fixed(h) => (*h, None),
            Bandwidth::CrossValidated { grid, folds } => {
                let means = cross_validate(&train, &norms, x.cols(), grid, *folds)?;
                let mut best = 0;
                for (k, m) in means.iter().enumerate() {
                    if *m > means[best] || means[best].is_nan() {
                        best = k;
                    }
                }
                tracing::debug!(
                    bandwidth = grid[best],
                    mean_log_likelihood = means[best],
                    "kde bandwidth chosen"
                );
                // The best value at an end of a grid of several says the optimum may lie
                // beyond it (as GridSearchCV would pick it too, silently).
                let lowest = grid.iter().copied().fold(f64::INFINITY, f64::min);
                let highest = grid.iter().copied().fold(0.0, f64::max);
                if grid.len() > 1 && (grid[best] == lowest || grid[best] == highest) {
                    tracing::warn!(
                        "KDE: the cross-validated bandwidth {} is the grid's {} value (grid \
                         {lowest}..{highest}); the best bandwidth may lie beyond it: widen the \
                         grid ([baselines.kde] grid_log10_min, grid_log10_max) if so",
                        grid[best],
                        if grid[best] == lowest {
                            "lowest"
                        } else {
                            "highest"
                        }
                    );
                }
                (grid[best], Some(means))
            }
        };
        Ok(Kde {
            params: self.clone(),
            samples: x.data().to_vec(),
            train,
            norms,
            cols: x.cols(),
            bandwidth,
            cv_mean_log_likelihoods: cv,
        })
    }
}

impl DetectorParams for KdeParams {
    fn fit_detector(&self, x: SampleView<'_>, _device: &Device) -> Result<Box<dyn Detector>> {
        Ok(Box::new(self.fit(x)?))
    }
}

/// Mean over `folds` consecutive folds (sizes as scikit-learn's `KFold`) of the held-out total
/// log-likelihood, one value per grid bandwidth.
fn cross_validate(
    train: &[f64],
    norms: &[f64],
    cols: usize,
    grid: &[f64],
    folds: usize,
) -> Result<Vec<f64>> {
    let n = norms.len();
    if n < folds {
        return Err(CoreError::InvalidInput(format!(
            "{folds}-fold cross-validation of the kde bandwidth needs at least {folds} samples, got {n}"
        )));
    }
    let mut totals = vec![0.0; grid.len()];
    let mut start = 0;
    for k in 0..folds {
        let size = n / folds + usize::from(k < n % folds);
        let held_out = start..start + size;
        let n_ref = (n - size) as f64;
        let sums = log_kernel_sums(
            &train[held_out.start * cols..held_out.end * cols],
            &norms[held_out.clone()],
            train,
            norms,
            cols,
            grid,
            Exclude::Rows(held_out.clone()),
        );
        for (g, h) in grid.iter().enumerate() {
            let offset = log_normaliser(*h, cols, n_ref);
            let fold_total: f64 = sums
                .iter()
                .skip(g)
                .step_by(grid.len())
                .map(|s| s - offset)
                .sum();
            totals[g] += fold_total;
        }
        start += size;
    }
    Ok(totals.into_iter().map(|t| t / folds as f64).collect())
}

/// `ln n + (d / 2) ln(2 pi h^2)`, subtracted from a log kernel sum to get a log-density.
fn log_normaliser(h: f64, cols: usize, n_ref: f64) -> f64 {
    n_ref.ln() + 0.5 * cols as f64 * (2.0 * std::f64::consts::PI * h * h).ln()
}

/// Which reference rows a query leaves out of its kernel sum.
#[derive(Clone)]
enum Exclude {
    /// None: every reference row counts.
    Nothing,
    /// The same rows for every query (a cross-validation fold's held-out rows).
    Rows(Range<usize>),
    /// Query `i` leaves out reference row `i` (the queries are the references: leave one out).
    Itself,
}

/// For every query row and every bandwidth `h` (row-major `queries x bandwidths`):
/// `ln sum_j exp(-|q - r_j|^2 / (2 h^2))` over the reference rows `j` not excluded.
fn log_kernel_sums(
    queries: &[f64],
    query_norms: &[f64],
    refs: &[f64],
    ref_norms: &[f64],
    cols: usize,
    bandwidths: &[f64],
    exclude: Exclude,
) -> Vec<f64> {
    let n_q = query_norms.len();
    let n_r = ref_norms.len();
    let nb = bandwidths.len();
    let scales: Vec<f64> = bandwidths.iter().map(|h| 0.5 / (h * h)).collect();
    let block = (BLOCK_VALUES / n_r.max(1)).clamp(1, 256);
    let mut out = vec![0.0; n_q * nb];
    let mut dist = vec![0.0; block.min(n_q) * n_r];
    for b0 in (0..n_q).step_by(block) {
        let b1 = (b0 + block).min(n_q);
        let dist = &mut dist[..(b1 - b0) * n_r];
        dot_products(&queries[b0 * cols..b1 * cols], refs, cols, dist);
        dots_to_squared_distances(dist, &query_norms[b0..b1], ref_norms);
        out[b0 * nb..b1 * nb]
            .par_chunks_mut(nb)
            .zip(dist.par_chunks(n_r))
            .enumerate()
            .for_each(|(k, (row_out, row))| {
                let skip = match &exclude {
                    Exclude::Nothing => 0..0,
                    Exclude::Rows(r) => r.clone(),
                    Exclude::Itself => b0 + k..b0 + k + 1,
                };
                let kept = || row[..skip.start].iter().chain(&row[skip.end..]);
                let nearest = kept().fold(f64::INFINITY, |m, &v| m.min(v));
                for (o, &a) in row_out.iter_mut().zip(&scales) {
                    let limit = SKIP_EXPONENT / a;
                    let sum: f64 = kept()
                        .map(|&d2| d2 - nearest)
                        .filter(|&e| e <= limit)
                        .map(|e| (-a * e).exp())
                        .sum();
                    *o = -a * nearest + sum.ln();
                }
            });
    }
    out
}

/// A fitted Gaussian kernel density estimate.
#[derive(Debug, Clone, PartialEq)]
pub struct Kde {
    params: KdeParams,
    /// The training samples as given (saved to file).
    samples: Vec<f32>,
    /// The training samples in `f64` and their squared norms.
    train: Vec<f64>,
    norms: Vec<f64>,
    cols: usize,
    bandwidth: f64,
    cv_mean_log_likelihoods: Option<Vec<f64>>,
}

impl Kde {
    /// The hyperparameters it was fitted with.
    pub fn params(&self) -> &KdeParams {
        &self.params
    }

    /// The bandwidth in use (fixed or chosen by cross-validation).
    pub fn bandwidth(&self) -> f64 {
        self.bandwidth
    }

    /// Mean held-out log-likelihood of each grid value, when the bandwidth was cross-validated.
    pub fn cv_mean_log_likelihoods(&self) -> Option<&[f64]> {
        self.cv_mean_log_likelihoods.as_deref()
    }

    /// Log-density of every sample, as `KernelDensity.score_samples`.
    pub fn log_density(&self, x: SampleView<'_>) -> Result<Vec<f64>> {
        x.expect_cols(self.cols)?;
        let q = to_f64(&x);
        let q_norms = squared_norms(&q, self.cols);
        let sums = log_kernel_sums(
            &q,
            &q_norms,
            &self.train,
            &self.norms,
            self.cols,
            &[self.bandwidth],
            Exclude::Nothing,
        );
        let offset = log_normaliser(self.bandwidth, self.cols, self.norms.len() as f64);
        Ok(sums.into_iter().map(|s| s - offset).collect())
    }

    /// Leave-one-out log-density of every training sample: each under the estimate of the
    /// other n - 1. (Its density under the whole estimate counts its own kernel, `(2 pi
    /// h^2)^(-d/2) / n`, which at a small bandwidth outweighs the rest, so training samples
    /// look far denser than new samples of the same distribution.) Needs two samples.
    pub fn leave_one_out_log_density(&self) -> Result<Vec<f64>> {
        let n = self.norms.len();
        if n < 2 {
            return Err(CoreError::InvalidInput(
                "a leave-one-out density needs at least 2 training samples".into(),
            ));
        }
        let sums = log_kernel_sums(
            &self.train,
            &self.norms,
            &self.train,
            &self.norms,
            self.cols,
            &[self.bandwidth],
            Exclude::Itself,
        );
        let offset = log_normaliser(self.bandwidth, self.cols, (n - 1) as f64);
        Ok(sums.into_iter().map(|s| s - offset).collect())
    }

    /// Loads a model written by [`Detector::save`].
    pub fn load(path: &Path) -> Result<Self> {
        Self::from_checkpoint(Checkpoint::open(path)?)
    }

    /// [`Kde::load`] from a file already read (its format checked).
    pub fn from_checkpoint(ck: Checkpoint) -> Result<Self> {
        let file = ModelFile::new(ck, METHOD)?;
        let params: KdeParams = file.hyperparameters()?;
        params
            .validate()
            .map_err(|e| file.invalid(format!("stored hyperparameters: {e}")))?;
        let (samples, shape) = file.f32s("train", &[None, None])?;
        let (n, cols) = (shape[0], shape[1]);
        let view = SampleView::new(&samples, n, cols)
            .map_err(|e| file.invalid(format!("tensor `train`: {e}")))?;
        if n == 0 {
            return Err(file.invalid("tensor `train` has no rows"));
        }
        let bandwidth = file.f64_scalar("bandwidth")?;
        if !(bandwidth.is_finite() && bandwidth > 0.0) {
            return Err(file.invalid(format!("bandwidth {bandwidth} is not positive")));
        }
        let cv = match &params.bandwidth {
            Bandwidth::CrossValidated { grid, .. } => {
                Some(file.f64s("cv_mean_log_likelihood", &[Some(grid.len())])?.0)
            }
            Bandwidth::Fixed(_) => None,
        };
        let train = to_f64(&view);
        let norms = squared_norms(&train, cols);
        Ok(Kde {
            params,
            samples,
            train,
            norms,
            cols,
            bandwidth,
            cv_mean_log_likelihoods: cv,
        })
    }
}

impl Detector for Kde {
    fn method(&self) -> &'static str {
        METHOD
    }

    fn n_features(&self) -> usize {
        self.cols
    }

    /// Negative log-density.
    fn score(&self, x: SampleView<'_>) -> Result<Vec<f64>> {
        Ok(self.log_density(x)?.into_iter().map(|v| -v).collect())
    }

    /// The negative leave-one-out log-density when `x` is the training set (each sample
    /// without its own kernel), else [`Detector::score`].
    fn training_scores(&self, x: SampleView<'_>) -> Result<Vec<f64>> {
        if x.cols() == self.cols && x.data() == self.samples.as_slice() && x.rows() >= 2 {
            Ok(self
                .leave_one_out_log_density()?
                .into_iter()
                .map(|v| -v)
                .collect())
        } else {
            self.score(x)
        }
    }

    fn save(&self, path: &Path) -> Result<()> {
        let n = self.norms.len();
        let mut arrays = vec![
            (
                "train",
                vec![n, self.cols],
                Array::F32(self.samples.clone()),
            ),
            ("bandwidth", vec![], Array::F64(vec![self.bandwidth])),
        ];
        if let Some(cv) = &self.cv_mean_log_likelihoods {
            arrays.push((
                "cv_mean_log_likelihood",
                vec![cv.len()],
                Array::F64(cv.clone()),
            ));
        }
        save_model(path, METHOD, &self.params, arrays)
    }
}
