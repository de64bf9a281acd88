//! Samples from Python: a 2-D float32 or float64 numpy array, borrowed when it can be and
//! copied otherwise, and scaled by a fitted preprocessing.

use dasvdd_data::{FittedPreprocessing, Matrix};
use numpy::{PyReadonlyArray2, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;

use crate::value_err;

/// Samples from Python: a C-contiguous float32 matrix is borrowed, anything else is converted
/// (float64 to float32 with `as`, as the CLI reads float64 `.npy` files; a finite float64
/// beyond float32's range is an error).
pub(crate) enum Samples<'py> {
    Borrowed(PyReadonlyArray2<'py, f32>),
    Owned(Matrix),
}

impl Samples<'_> {
    /// Reads `x`, which must be a 2-D float32 or float64 numpy array with at least one row and
    /// one column.
    pub(crate) fn read<'py>(x: &Bound<'py, PyAny>, name: &str) -> PyResult<Samples<'py>> {
        let Ok(arr) = x.cast::<PyUntypedArray>() else {
            return Err(PyTypeError::new_err(format!(
                "{name} must be a numpy array, got {}",
                x.get_type().name()?
            )));
        };
        if arr.ndim() != 2 {
            return Err(value_err(format!(
                "{name} must be 2-D (samples x features), got shape {:?}",
                arr.shape()
            )));
        }
        let (rows, cols) = (arr.shape()[0], arr.shape()[1]);
        if rows == 0 || cols == 0 {
            return Err(value_err(format!(
                "{name} is empty: shape ({rows}, {cols}); at least one sample and one feature are needed"
            )));
        }
        if let Ok(a) = x.extract::<PyReadonlyArray2<'py, f32>>() {
            if a.as_array().as_slice().is_some() {
                return Ok(Samples::Borrowed(a));
            }
            let data = a.as_array().iter().copied().collect();
            return Ok(Samples::Owned(Matrix { data, rows, cols }));
        }
        if let Ok(a) = x.extract::<PyReadonlyArray2<'py, f64>>() {
            let mut data = Vec::with_capacity(rows * cols);
            for (i, &v) in a.as_array().iter().enumerate() {
                let f = v as f32;
                // A finite value that float32 cannot hold would become infinite: say so,
                // rather than report an infinity the caller never passed.
                if f.is_infinite() && v.is_finite() {
                    return Err(value_err(format!(
                        "{name}: value at row {}, column {} is {v:e}, beyond the range of \
                         float32 (+-{:e}), in which the models compute; rescale the \
                         data first",
                        i / cols,
                        i % cols,
                        f32::MAX
                    )));
                }
                data.push(f);
            }
            return Ok(Samples::Owned(Matrix { data, rows, cols }));
        }
        Err(PyTypeError::new_err(format!(
            "{name} has dtype {}; pass float32 or float64 (e.g. {name}.astype(numpy.float32))",
            arr.dtype().str()?
        )))
    }

    pub(crate) fn dims(&self) -> (usize, usize) {
        match self {
            Samples::Borrowed(a) => {
                let s = a.shape();
                (s[0], s[1])
            }
            Samples::Owned(m) => (m.rows, m.cols),
        }
    }

    /// The values, row after row.
    pub(crate) fn data(&self) -> &[f32] {
        match self {
            Samples::Borrowed(a) => a.as_slice().unwrap_or(&[]),
            Samples::Owned(m) => &m.data,
        }
    }

    /// The samples after `pre`; copied only when `pre` changes them.
    pub(crate) fn preprocessed(self, pre: &FittedPreprocessing) -> PyResult<Samples<'static>> {
        let mut m = match self {
            Samples::Borrowed(a) => {
                let s = a.shape();
                Matrix {
                    data: a.as_slice().unwrap_or(&[]).to_vec(),
                    rows: s[0],
                    cols: s[1],
                }
            }
            Samples::Owned(m) => m,
        };
        pre.transform(&mut m)
            .map_err(|e| value_err(format!("cannot scale X: {e}")))?;
        Ok(Samples::Owned(m))
    }
}
