//! Pieces shared by the classical baselines: input checks, dense f64 linear algebra (pairwise
//! dot products through the `gemm` crate, squared norms), and the single-file safetensors model
//! format (arrays plus a `__metadata__` block naming the method, its hyperparameters and the
//! crate version) with atomic writes and checked loading.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use dasvdd_core::{CoreError, Result, SampleView};
use safetensors::tensor::{Dtype, TensorView};
use safetensors::SafeTensors;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Metadata key holding the method name.
const METHOD_KEY: &str = "method";
/// Metadata key holding the hyperparameters as JSON.
const HYPERPARAMETERS_KEY: &str = "hyperparameters";
/// Metadata key holding the version of this crate that wrote the file.
const VERSION_KEY: &str = "crate_version";

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

/// An array to be written to a model file.
pub(crate) enum Array {
    F32(Vec<f32>),
    F64(Vec<f64>),
    I64(Vec<i64>),
}

impl Array {
    fn dtype(&self) -> Dtype {
        match self {
            Array::F32(_) => Dtype::F32,
            Array::F64(_) => Dtype::F64,
            Array::I64(_) => Dtype::I64,
        }
    }

    fn len(&self) -> usize {
        match self {
            Array::F32(v) => v.len(),
            Array::F64(v) => v.len(),
            Array::I64(v) => v.len(),
        }
    }

    fn to_le_bytes(&self) -> Vec<u8> {
        match self {
            Array::F32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            Array::F64(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            Array::I64(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        }
    }
}

/// Writes `arrays` (name, shape, values) and the metadata block to `path` atomically: the bytes
/// go to a temporary file in the same directory, which is then renamed over `path`.
pub(crate) fn save_model<H: Serialize>(
    path: &Path,
    method: &str,
    hyperparameters: &H,
    arrays: Vec<(&str, Vec<usize>, Array)>,
) -> Result<()> {
    let checkpoint_err = |problem: String| CoreError::Checkpoint {
        path: path.to_path_buf(),
        problem,
    };
    let hyper_json = serde_json::to_string(hyperparameters)
        .map_err(|e| checkpoint_err(format!("cannot encode hyperparameters: {e}")))?;
    let mut metadata = HashMap::new();
    metadata.insert(METHOD_KEY.to_string(), method.to_string());
    metadata.insert(
        "format".to_string(),
        dasvdd_core::checkpoint::FORMAT.to_string(),
    );
    metadata.insert(HYPERPARAMETERS_KEY.to_string(), hyper_json);
    metadata.insert(
        VERSION_KEY.to_string(),
        env!("CARGO_PKG_VERSION").to_string(),
    );

    let encoded: Vec<(&str, Vec<usize>, Dtype, Vec<u8>)> = arrays
        .into_iter()
        .map(|(name, shape, array)| {
            debug_assert_eq!(shape.iter().product::<usize>(), array.len());
            (name, shape, array.dtype(), array.to_le_bytes())
        })
        .collect();
    let mut views = Vec::with_capacity(encoded.len());
    for (name, shape, dtype, bytes) in &encoded {
        let view = TensorView::new(*dtype, shape.clone(), bytes)
            .map_err(|e| checkpoint_err(format!("cannot encode tensor `{name}`: {e}")))?;
        views.push((name.to_string(), view));
    }
    let bytes = safetensors::serialize(views, Some(metadata))
        .map_err(|e| checkpoint_err(format!("cannot encode safetensors: {e}")))?;
    dasvdd_core::checkpoint::write_atomic(path, &bytes)
}

/// A model file read back into memory, checked to belong to the expected method.
pub(crate) struct ModelFile {
    path: PathBuf,
    bytes: Vec<u8>,
    hyperparameters: String,
}

impl ModelFile {
    /// Reads `path` and checks that its metadata names `method`.
    pub(crate) fn open(path: &Path, method: &str) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|source| CoreError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let problem = |problem: String| CoreError::Checkpoint {
            path: path.to_path_buf(),
            problem,
        };
        let (_, header) = SafeTensors::read_metadata(&bytes)
            .map_err(|e| problem(format!("not a safetensors file: {e}")))?;
        // Validate the tensor table once so that later accessors only fail on names and shapes.
        SafeTensors::deserialize(&bytes)
            .map_err(|e| problem(format!("not a safetensors file: {e}")))?;
        let meta = header.metadata().clone().unwrap_or_default();
        let found = meta.get(METHOD_KEY).ok_or_else(|| {
            problem("metadata has no `method` entry (not a model of this crate)".into())
        })?;
        if found != method {
            return Err(problem(format!(
                "holds a `{found}` model, not a `{method}` model"
            )));
        }
        let hyperparameters = meta
            .get(HYPERPARAMETERS_KEY)
            .ok_or_else(|| problem("metadata has no `hyperparameters` entry".into()))?
            .clone();
        Ok(ModelFile {
            path: path.to_path_buf(),
            bytes,
            hyperparameters,
        })
    }

    fn problem(&self, problem: String) -> CoreError {
        CoreError::Checkpoint {
            path: self.path.clone(),
            problem,
        }
    }

    /// The hyperparameters stored in the metadata.
    pub(crate) fn hyperparameters<H: DeserializeOwned>(&self) -> Result<H> {
        serde_json::from_str(&self.hyperparameters)
            .map_err(|e| self.problem(format!("cannot decode hyperparameters: {e}")))
    }

    /// The raw bytes and shape of tensor `name`, checked against `dtype` and `shape` (`None`
    /// entries match any size).
    fn raw(
        &self,
        name: &str,
        dtype: Dtype,
        shape: &[Option<usize>],
    ) -> Result<(Vec<u8>, Vec<usize>)> {
        let tensors = SafeTensors::deserialize(&self.bytes)
            .map_err(|e| self.problem(format!("not a safetensors file: {e}")))?;
        let view = tensors
            .tensor(name)
            .map_err(|_| self.problem(format!("tensor `{name}` is missing")))?;
        if view.dtype() != dtype {
            return Err(self.problem(format!(
                "tensor `{name}` has dtype {:?}, expected {dtype:?}",
                view.dtype()
            )));
        }
        let found = view.shape();
        let fits = found.len() == shape.len()
            && found
                .iter()
                .zip(shape)
                .all(|(f, s)| s.is_none_or(|s| s == *f));
        if !fits {
            let expected: Vec<String> = shape
                .iter()
                .map(|s| s.map_or("_".into(), |s| s.to_string()))
                .collect();
            return Err(self.problem(format!(
                "tensor `{name}` has shape {found:?}, expected [{}]",
                expected.join(", ")
            )));
        }
        Ok((view.data().to_vec(), found.to_vec()))
    }

    /// Tensor `name` as `f64` values with its shape.
    pub(crate) fn f64s(
        &self,
        name: &str,
        shape: &[Option<usize>],
    ) -> Result<(Vec<f64>, Vec<usize>)> {
        let (bytes, shape) = self.raw(name, Dtype::F64, shape)?;
        let values = bytes
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
            .collect();
        Ok((values, shape))
    }

    /// Tensor `name` as `f32` values with its shape.
    pub(crate) fn f32s(
        &self,
        name: &str,
        shape: &[Option<usize>],
    ) -> Result<(Vec<f32>, Vec<usize>)> {
        let (bytes, shape) = self.raw(name, Dtype::F32, shape)?;
        let values = bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap_or([0; 4])))
            .collect();
        Ok((values, shape))
    }

    /// Tensor `name` as `i64` values with its shape.
    pub(crate) fn i64s(
        &self,
        name: &str,
        shape: &[Option<usize>],
    ) -> Result<(Vec<i64>, Vec<usize>)> {
        let (bytes, shape) = self.raw(name, Dtype::I64, shape)?;
        let values = bytes
            .chunks_exact(8)
            .map(|c| i64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
            .collect();
        Ok((values, shape))
    }

    /// The scalar tensor `name` (shape `[]`).
    pub(crate) fn f64_scalar(&self, name: &str) -> Result<f64> {
        let (v, _) = self.f64s(name, &[])?;
        Ok(v[0])
    }

    /// Length of the file in bytes.
    pub(crate) fn len(&self) -> usize {
        self.bytes.len()
    }

    /// An error about the contents of this file.
    pub(crate) fn invalid(&self, problem: impl Into<String>) -> CoreError {
        self.problem(problem.into())
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
