//! Pieces shared by the classical baselines: input checks, dense f64 linear algebra (pairwise
//! dot products through the `gemm` crate, squared norms), and their use of the project's one
//! model-file format (`dasvdd_core::checkpoint`): arrays plus metadata naming the method and its
//! hyperparameters.

use std::collections::HashMap;
use std::path::Path;

pub(crate) use dasvdd_core::checkpoint::Array;
use dasvdd_core::checkpoint::{self, Checkpoint};
use dasvdd_core::{CoreError, Result, SampleView};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Metadata key holding the method name.
const METHOD_KEY: &str = "method";
/// Metadata key holding the hyperparameters as JSON.
const HYPERPARAMETERS_KEY: &str = "hyperparameters";

/// Errors unless there is at least one sample to fit on (finiteness and width are already
/// checked by [`SampleView::new`]).
pub(crate) fn check_fit_input(x: &SampleView<'_>, method: &str) -> Result<()> {
    if x.rows() == 0 {
        return Err(CoreError::InvalidInput(format!(
            "{method} cannot be fitted on zero samples"
        )));
    }
    Ok(())
}

/// The samples converted to `f64`, row-major.
pub(crate) fn to_f64(x: &SampleView<'_>) -> Vec<f64> {
    x.data().iter().map(|&v| f64::from(v)).collect()
}

/// Squared Euclidean norm of every row of the row-major matrix `x` with `cols` columns.
pub(crate) fn squared_norms(x: &[f64], cols: usize) -> Vec<f64> {
    x.chunks_exact(cols)
        .map(|r| r.iter().map(|v| v * v).sum())
        .collect()
}

/// Fills `out` (row-major `m x n`) with the dot products `a_i . b_j` of the rows of `a`
/// (`m x k`) and the rows of `b` (`n x k`), i.e. `out = a b^T`, with a cache-blocked,
/// SIMD-dispatched and (for large products) multi-threaded matrix product.
pub(crate) fn dot_products(a: &[f64], b: &[f64], k: usize, out: &mut [f64]) {
    assert!(
        k > 0 && a.len() % k == 0 && b.len() % k == 0,
        "operands are not k-column matrices"
    );
    let m = a.len() / k;
    let n = b.len() / k;
    assert_eq!(out.len(), m * n, "output does not hold m x n values");
    if m == 0 || n == 0 {
        return;
    }
    let threads = rayon::current_num_threads();
    let parallelism = if threads > 1 && m * n * k >= 1 << 20 {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    };
    let (k_i, n_i) = (k as isize, n as isize);
    // SAFETY: the assertions above guarantee that `a` holds m x k values (row stride k, column
    // stride 1), that `b` read as its transpose holds k x n values (row stride 1, column
    // stride k), and that `out` holds m x n values (row stride n, column stride 1); `out` does
    // not alias the inputs because it is borrowed mutably. With `read_dst = false` the old
    // contents of `out` are never read.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            out.as_mut_ptr(),
            1,
            n_i,
            false,
            a.as_ptr(),
            1,
            k_i,
            b.as_ptr(),
            k_i,
            1,
            0.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

/// Squared Euclidean distances from `a_i` to `b_j` given the dot products `dots` (row-major
/// `a.rows x b.rows`, overwritten in place) and the squared norms of both sides. Rounding can
/// make the expansion slightly negative for (near-)duplicate points, so it is clamped at zero.
pub(crate) fn dots_to_squared_distances(dots: &mut [f64], a_sq: &[f64], b_sq: &[f64]) {
    let n = b_sq.len();
    for (row, &ai) in dots.chunks_exact_mut(n).zip(a_sq) {
        for (v, &bj) in row.iter_mut().zip(b_sq) {
            *v = (ai + bj - 2.0 * *v).max(0.0);
        }
    }
}

/// Average path length of an unsuccessful search in a binary search tree of `n` points, the
/// normaliser of Isolation Forest path lengths: `c(n) = 2 (ln(n - 1) + Euler's gamma) -
/// 2 (n - 1) / n`, with `c(1) = 0` and `c(2) = 1` as in scikit-learn.
pub(crate) fn average_path_length(n: usize) -> f64 {
    /// Euler-Mascheroni constant as `np.euler_gamma`.
    const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;
    match n {
        0 | 1 => 0.0,
        2 => 1.0,
        _ => {
            let n = n as f64;
            2.0 * ((n - 1.0).ln() + EULER_GAMMA) - 2.0 * (n - 1.0) / n
        }
    }
}

/// Writes `arrays` (name, shape, values) with the method and its hyperparameters in the
/// metadata, through the project's one model-file format ([`checkpoint::save_arrays`]).
pub(crate) fn save_model<H: Serialize>(
    path: &Path,
    method: &str,
    hyperparameters: &H,
    arrays: Vec<(&str, Vec<usize>, Array)>,
) -> Result<()> {
    let hyper_json = serde_json::to_string(hyperparameters).map_err(|e| CoreError::Checkpoint {
        path: path.to_path_buf(),
        problem: format!("cannot encode hyperparameters: {e}"),
    })?;
    let metadata = HashMap::from([
        (METHOD_KEY.to_string(), method.to_string()),
        (HYPERPARAMETERS_KEY.to_string(), hyper_json),
    ]);
    checkpoint::save_arrays(path, arrays, metadata)
}

/// A classical baseline's model file: a [`Checkpoint`] checked to belong to the expected method
/// and to carry its hyperparameters.
pub(crate) struct ModelFile(Checkpoint);

impl ModelFile {
    /// A file already read: checks that its metadata names `method` and holds
    /// hyperparameters.
    pub(crate) fn new(ck: Checkpoint, method: &str) -> Result<Self> {
        ck.expect_method(method)?;
        ck.meta(HYPERPARAMETERS_KEY)?;
        Ok(ModelFile(ck))
    }

    /// The hyperparameters stored in the metadata.
    pub(crate) fn hyperparameters<H: DeserializeOwned>(&self) -> Result<H> {
        self.0.meta_json(HYPERPARAMETERS_KEY)
    }

    /// An error about the contents of this file.
    pub(crate) fn invalid(&self, problem: impl Into<String>) -> CoreError {
        self.0.error(problem)
    }

    /// Length of the file in bytes.
    pub(crate) fn len(&self) -> usize {
        self.0.file_len()
    }
}

impl std::ops::Deref for ModelFile {
    type Target = Checkpoint;

    fn deref(&self) -> &Checkpoint {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_products_match_naive_sums() {
        let (m, n, k) = (7, 5, 3);
        let a: Vec<f64> = (0..m * k).map(|i| (i as f64 * 0.37).sin()).collect();
        let b: Vec<f64> = (0..n * k).map(|i| (i as f64 * 0.11).cos()).collect();
        let mut out = vec![f64::NAN; m * n];
        dot_products(&a, &b, k, &mut out);
        for i in 0..m {
            for j in 0..n {
                let naive: f64 = (0..k).map(|p| a[i * k + p] * b[j * k + p]).sum();
                assert!((out[i * n + j] - naive).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn average_path_length_follows_sklearn() {
        assert_eq!(average_path_length(1), 0.0);
        assert_eq!(average_path_length(2), 1.0);
        // sklearn.ensemble._iforest._average_path_length([256]) = 10.244770920119917
        assert!((average_path_length(256) - 10.244_770_920_119_917).abs() < 1e-12);
    }
}
