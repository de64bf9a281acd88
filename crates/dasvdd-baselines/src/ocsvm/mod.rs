//! One-class SVM (Schölkopf et al., 2001) with an RBF kernel, trained as libsvm (and therefore
//! scikit-learn's `OneClassSVM`) trains it: the dual in libsvm's scaling (`0 <= a_i <= 1`,
//! `sum a_i = nu l`) solved by SMO with second-order working-set selection, a column cache and
//! shrinking. The decision function is `f(x) = sum_i a_i K(x_i, x) - rho` (scikit-learn's
//! `decision_function`, positive inside the support) and the anomaly score is `-f(x)`.
//!
//! All arithmetic is in `f64`; the kernel matrix and test-time kernel rows come from blocked
//! matrix products and precomputed squared norms.

mod kernel;
mod solver;

use std::path::Path;

use dasvdd_core::checkpoint::Checkpoint;

use candle_core::Device;
use dasvdd_core::{CoreError, Detector, DetectorParams, Result, SampleView};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::common::{
    check_fit_input, dot_products, save_model, squared_norms, to_f64, Array, ModelFile,
};
use kernel::KernelMatrix;

/// Method name used on the command line and in model files.
pub const METHOD: &str = "ocsvm";

/// Test rows whose kernel rows are computed per matrix product at scoring time.
const SCORE_BLOCK: usize = 256;

/// Width `gamma` of the RBF kernel `exp(-gamma |x - y|^2)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Gamma {
    /// `1 / (d Var(X))`, the variance taken over all entries of the training matrix
    /// (scikit-learn's `gamma='scale'`); 1 when that variance is 0.
    Scale,
    /// `1 / d` (scikit-learn's `gamma='auto'`).
    Auto,
    /// This value, which must be positive.
    Value(f64),
}

/// Hyperparameters of [`OneClassSvm`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OneClassSvmParams {
    /// Upper bound on the fraction of training outliers and lower bound on the fraction of
    /// support vectors, in `(0, 1]`.
    pub nu: f64,
    /// Kernel width.
    pub gamma: Gamma,
    /// Stopping tolerance on the maximal KKT violation.
    pub tol: f64,
    /// Whether the solver shrinks the active set.
    pub shrinking: bool,
    /// Memory for cached kernel columns, in MiB; when the whole kernel matrix fits it is
    /// computed up front.
    pub cache_mb: usize,
}

impl Default for OneClassSvmParams {
    /// The paper's setting (Section 4.2) with scikit-learn's solver defaults: `nu = 0.5`,
    /// `gamma = scale`, tolerance 1e-3, shrinking on; a 512 MiB kernel cache (scikit-learn uses
    /// 200 MiB of `f32`; this cache holds `f64`, and 512 MiB keeps the whole matrix of up to
    /// about 8,000 samples).
    fn default() -> Self {
        OneClassSvmParams {
            nu: 0.5,
            gamma: Gamma::Scale,
            tol: 1e-3,
            shrinking: true,
            cache_mb: 512,
        }
    }
}

impl OneClassSvmParams {
    fn validate(&self) -> Result<()> {
        if !(self.nu > 0.0 && self.nu <= 1.0) {
            return Err(CoreError::param(
                "nu",
                format!("must be in (0, 1], got {}", self.nu),
            ));
        }
        if let Gamma::Value(g) = self.gamma {
            if !(g.is_finite() && g > 0.0) {
                return Err(CoreError::param(
                    "gamma",
                    format!("must be positive and finite, got {g}"),
                ));
            }
        }
        if !(self.tol.is_finite() && self.tol > 0.0) {
            return Err(CoreError::param(
                "tol",
                format!("must be positive and finite, got {}", self.tol),
            ));
        }
        if self.cache_mb == 0 {
            return Err(CoreError::param("cache_mb", "must be at least 1"));
        }
        Ok(())
    }

    /// The numeric kernel width for the training samples `x` (row-major, `cols` columns).
    fn gamma_value(&self, x: &[f64], cols: usize) -> f64 {
        match self.gamma {
            Gamma::Value(g) => g,
            Gamma::Auto => 1.0 / cols as f64,
            Gamma::Scale => {
                let n = x.len() as f64;
                let mean = x.iter().sum::<f64>() / n;
                let var = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
                if var > 0.0 {
                    1.0 / (cols as f64 * var)
                } else {
                    1.0
                }
            }
        }
    }

    /// Solves the dual on the normal samples `x` and keeps the support vectors.
    pub fn fit(&self, x: SampleView<'_>) -> Result<OneClassSvm> {
        self.validate()?;
        check_fit_input(&x, METHOD)?;
        let cols = x.cols();
        let train = to_f64(&x);
        let norms = squared_norms(&train, cols);
        let gamma = self.gamma_value(&train, cols);
        let budget = self.cache_mb.saturating_mul(1 << 20) / std::mem::size_of::<f64>();
        let mut q = KernelMatrix::new(&train, cols, &norms, gamma, budget);
        let fully_cached = q.is_fully_cached();
        let solution = solver::solve_one_class(&mut q, self.nu, self.tol, self.shrinking);
        if solution.hit_iteration_limit {
            tracing::warn!(
                iterations = solution.iterations,
                "one-class svm solver reached its iteration limit"
            );
        }
        let support: Vec<usize> = (0..x.rows()).filter(|&i| solution.alpha[i] > 0.0).collect();
        tracing::debug!(
            samples = x.rows(),
            gamma,
            iterations = solution.iterations,
            objective = solution.objective,
            rho = solution.rho,
            support_vectors = support.len(),
            fully_cached,
            "one-class svm fitted"
        );
        let mut vectors = Vec::with_capacity(support.len() * cols);
        for &i in &support {
            vectors.extend_from_slice(x.row(i));
        }
        let coefs = support.iter().map(|&i| solution.alpha[i]).collect();
        Ok(OneClassSvm::from_parts(
            self.clone(),
            cols,
            gamma,
            solution.rho,
            vectors,
            coefs,
            solution.iterations,
        ))
    }
}

impl DetectorParams for OneClassSvmParams {
    fn fit_detector(&self, x: SampleView<'_>, _device: &Device) -> Result<Box<dyn Detector>> {
        Ok(Box::new(self.fit(x)?))
    }
}

/// A fitted one-class SVM: support vectors, their coefficients, `rho` and `gamma`.
#[derive(Debug, Clone, PartialEq)]
pub struct OneClassSvm {
    params: OneClassSvmParams,
    cols: usize,
    gamma: f64,
    rho: f64,
    /// Support vectors as given (saved to file), row-major.
    vectors: Vec<f32>,
    /// The same in `f64` and their squared norms.
    vectors_f64: Vec<f64>,
    norms: Vec<f64>,
    /// Dual coefficients `a_i > 0` in libsvm's scaling (they sum to `nu l`).
    coefs: Vec<f64>,
    iterations: usize,
}

impl OneClassSvm {
    fn from_parts(
        params: OneClassSvmParams,
        cols: usize,
        gamma: f64,
        rho: f64,
        vectors: Vec<f32>,
        coefs: Vec<f64>,
        iterations: usize,
    ) -> Self {
        let vectors_f64: Vec<f64> = vectors.iter().map(|&v| f64::from(v)).collect();
        let norms = squared_norms(&vectors_f64, cols);
        OneClassSvm {
            params,
            cols,
            gamma,
            rho,
            vectors,
            vectors_f64,
            norms,
            coefs,
            iterations,
        }
    }

    /// The hyperparameters it was fitted with.
    pub fn params(&self) -> &OneClassSvmParams {
        &self.params
    }

    /// The kernel width in use.
    pub fn gamma(&self) -> f64 {
        self.gamma
    }

    /// The offset `rho` of the decision function.
    pub fn rho(&self) -> f64 {
        self.rho
    }

    /// Number of support vectors (training samples with a positive coefficient).
    pub fn n_support(&self) -> usize {
        self.coefs.len()
    }

    /// Dual coefficients of the support vectors (scikit-learn's `dual_coef_`).
    pub fn dual_coefs(&self) -> &[f64] {
        &self.coefs
    }

    /// SMO iterations the solver took.
    pub fn iterations(&self) -> usize {
        self.iterations
    }

    /// `sum_i a_i K(x_i, x) - rho` for every sample, as scikit-learn's `decision_function`.
    pub fn decision_function(&self, x: SampleView<'_>) -> Result<Vec<f64>> {
        x.expect_cols(self.cols)?;
        let n_sv = self.coefs.len();
        let q = to_f64(&x);
        let q_norms = squared_norms(&q, self.cols);
        let mut out = vec![-self.rho; x.rows()];
        if n_sv == 0 {
            return Ok(out);
        }
        let mut dots = vec![0.0; SCORE_BLOCK.min(x.rows()) * n_sv];
        for b0 in (0..x.rows()).step_by(SCORE_BLOCK) {
            let b1 = (b0 + SCORE_BLOCK).min(x.rows());
            let dots = &mut dots[..(b1 - b0) * n_sv];
            dot_products(
                &q[b0 * self.cols..b1 * self.cols],
                &self.vectors_f64,
                self.cols,
                dots,
            );
            out[b0..b1]
                .par_iter_mut()
                .zip(dots.par_chunks(n_sv))
                .zip(&q_norms[b0..b1])
                .for_each(|((o, row), &nq)| {
                    let sum: f64 = row
                        .iter()
                        .zip(&self.norms)
                        .zip(&self.coefs)
                        .map(|((d, ns), a)| a * (-self.gamma * (nq + ns - 2.0 * d).max(0.0)).exp())
                        .sum();
                    *o += sum;
                });
        }
        Ok(out)
    }

    /// Loads a model written by [`Detector::save`].
    pub fn load(path: &Path) -> Result<Self> {
        Self::from_checkpoint(Checkpoint::open(path)?)
    }

    /// [`OneClassSvm::load`] from a file already read (its format checked).
    pub fn from_checkpoint(ck: Checkpoint) -> Result<Self> {
        let file = ModelFile::new(ck, METHOD)?;
        let params: OneClassSvmParams = file.hyperparameters()?;
        params
            .validate()
            .map_err(|e| file.invalid(format!("stored hyperparameters: {e}")))?;
        let (vectors, shape) = file.f32s("support_vectors", &[None, None])?;
        let (n_sv, cols) = (shape[0], shape[1]);
        SampleView::new(&vectors, n_sv, cols)
            .map_err(|e| file.invalid(format!("tensor `support_vectors`: {e}")))?;
        if n_sv == 0 {
            return Err(file.invalid("tensor `support_vectors` has no rows"));
        }
        let (coefs, _) = file.f64s("dual_coef", &[Some(n_sv)])?;
        if coefs.iter().any(|a| !(a.is_finite() && *a > 0.0)) {
            return Err(file.invalid("tensor `dual_coef` holds a value that is not positive"));
        }
        let gamma = file.f64_scalar("gamma")?;
        let rho = file.f64_scalar("rho")?;
        if !(gamma.is_finite() && gamma > 0.0 && rho.is_finite()) {
            return Err(file.invalid(format!("gamma {gamma} or rho {rho} is invalid")));
        }
        let iterations = file.i64s("iterations", &[])?.0[0].max(0) as usize;
        Ok(OneClassSvm::from_parts(
            params, cols, gamma, rho, vectors, coefs, iterations,
        ))
    }
}

impl Detector for OneClassSvm {
    fn method(&self) -> &'static str {
        METHOD
    }

    fn n_features(&self) -> usize {
        self.cols
    }

    /// Negative decision function: positive outside the learned support.
    fn score(&self, x: SampleView<'_>) -> Result<Vec<f64>> {
        Ok(self.decision_function(x)?.into_iter().map(|v| -v).collect())
    }

    fn save(&self, path: &Path) -> Result<()> {
        let n_sv = self.coefs.len();
        save_model(
            path,
            METHOD,
            &self.params,
            vec![
                (
                    "support_vectors",
                    vec![n_sv, self.cols],
                    Array::F32(self.vectors.clone()),
                ),
                ("dual_coef", vec![n_sv], Array::F64(self.coefs.clone())),
                ("gamma", vec![], Array::F64(vec![self.gamma])),
                ("rho", vec![], Array::F64(vec![self.rho])),
                (
                    "iterations",
                    vec![],
                    Array::I64(vec![self.iterations as i64]),
                ),
            ],
        )
    }
}
