//! Reader of ODDS `.mat` files: MATLAB MAT v5 (with zlib-compressed elements, either byte
//! order) and MAT v7.3 (HDF5), each holding a dense numeric matrix `X` (samples x features) and
//! a 0/1 label vector `y` (1 = outlier).
//!
//! Both versions store matrices column-major; [`read_mat`] returns them row-major as
//! [`LabeledData`]. Every numeric class ODDS uses is accepted (double, single, int8..int64,
//! uint8..uint64, logical), including data stored in a narrower type than its class, which
//! MAT v5 allows. Sparse, complex, character, cell, struct and object variables are rejected
//! with an error naming the file and the variable, as are non-finite values, labels other than
//! 0 and 1, and shapes that do not agree.

mod v5;
mod v73;

use std::path::Path;

use crate::error::{DataError, Result};
use crate::matrix::{LabeledData, Matrix};

/// The 8-byte signature that starts an HDF5 superblock.
const HDF5_SIGNATURE: &[u8; 8] = b"\x89HDF\r\n\x1a\n";

/// A dense real numeric variable as stored in the file.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DenseVar {
    /// MATLAB dimensions, rows first.
    pub dims: Vec<usize>,
    /// Values in column-major order, converted to `f64`.
    pub values: Vec<f64>,
}

/// Reads the variables `X` (n x d) and `y` (n x 1 or 1 x n, values 0/1) of an ODDS `.mat` file.
///
/// The version is told by the header: a MAT v5 header whose version field is 0x0200, or an
/// HDF5 signature at offset 0 or 512 (the MAT v7.3 userblock), selects the HDF5 reader.
pub fn read_mat(path: &Path) -> Result<LabeledData> {
    let bytes = crate::fileio::read_bytes(path)?;
    read_mat_bytes(path, &bytes)
}

/// [`read_mat`] on the file's bytes; `path` only names the file in errors.
pub fn read_mat_bytes(path: &Path, bytes: &[u8]) -> Result<LabeledData> {
    let fail = |problem: String| DataError::format(path, problem);
    let (x, y) = if is_hdf5(bytes) {
        tracing::debug!(path = %path.display(), "reading MAT v7.3 (HDF5) file");
        v73::read_x_y(bytes).map_err(fail)?
    } else {
        tracing::debug!(path = %path.display(), "reading MAT v5 file");
        v5::read_x_y(bytes).map_err(fail)?
    };
    to_labeled(x, y).map_err(fail)
}

fn is_hdf5(bytes: &[u8]) -> bool {
    bytes.starts_with(HDF5_SIGNATURE)
        || bytes.get(512..520).is_some_and(|s| s == HDF5_SIGNATURE)
        || v5::header_version(bytes) == Some(0x0200)
}

/// Checks shapes and values and converts `X` to a row-major `f32` matrix.
fn to_labeled(x: DenseVar, y: DenseVar) -> std::result::Result<LabeledData, String> {
    let [rows, cols] = x.dims[..] else {
        return Err(format!(
            "variable X has {} dimensions, expected 2",
            x.dims.len()
        ));
    };
    if rows == 0 || cols == 0 {
        return Err(format!("variable X is empty ({rows} x {cols})"));
    }
    let n_labels = match y.dims[..] {
        // MATLAB always writes two dimensions; an HDF5 file written by h5py may hold a plain
        // vector.
        [n, 1] | [1, n] | [n] => n,
        _ => {
            return Err(format!(
                "variable y has shape {:?}, expected n x 1 or 1 x n",
                y.dims
            ))
        }
    };
    if n_labels != rows {
        return Err(format!(
            "variable y has {n_labels} labels but X has {rows} rows"
        ));
    }
    let mut data = vec![0f32; rows * cols];
    for (k, &v) in x.values.iter().enumerate() {
        let (r, c) = (k % rows, k / rows);
        let f = v as f32;
        if !f.is_finite() {
            // Rows and columns counted from 1, as MATLAB counts them and the other readers'
            // messages do.
            let (row, col) = (r + 1, c + 1);
            return Err(if v.is_finite() {
                format!(
                    "variable X has value {v} at row {row}, column {col}, outside the f32 range"
                )
            } else {
                format!("variable X has non-finite value {v} at row {row}, column {col}")
            });
        }
        data[r * cols + c] = f;
    }
    let labels = y
        .values
        .iter()
        .enumerate()
        .map(|(i, &v)| match v {
            0.0 => Ok(0u8),
            1.0 => Ok(1u8),
            _ => Err(format!(
                "variable y has value {v} at element {} (from 1), expected 0 or 1",
                i + 1
            )),
        })
        .collect::<std::result::Result<Vec<u8>, String>>()?;
    let x = Matrix::new(data, rows, cols).ok_or("internal shape mismatch")?;
    Ok(LabeledData {
        x,
        y: labels,
        groups: None,
    })
}

/// Number of elements of `dims`, `None` on overflow.
pub(crate) fn element_count(dims: &[usize]) -> Option<usize> {
    dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d))
}
