//! MAT v7.3 reader: the file is HDF5 behind a 512-byte userblock, read with the pure-Rust
//! `hdf5-pure` crate.
//!
//! MATLAB writes an m x n matrix as an HDF5 dataset of shape [n, m] in C order, which is the
//! column-major layout of the m x n matrix, so the dimensions are reversed here and the values
//! kept as they are. A variable's MATLAB class is its `MATLAB_class` attribute; sparse
//! matrices, cells and structs are HDF5 groups, complex data is a compound type.

use std::panic::{catch_unwind, AssertUnwindSafe};

use hdf5_pure::{AttrValue, DType, File};

use super::{element_count, DenseVar};

/// Largest value count accepted per stored byte: a dataset that claims more values than its
/// file could hold at deflate's maximum ratio is corrupt, and reading it would only exhaust
/// memory.
const MAX_VALUES_PER_FILE_BYTE: usize = 1100 / 8 + 1;

/// Reads the variables `X` and `y` of a MAT v7.3 file.
pub(super) fn read_x_y(bytes: &[u8]) -> Result<(DenseVar, DenseVar), String> {
    // hdf5-pure is a large parser of untrusted input; should it ever panic on a corrupt file,
    // the panic becomes this file's format error instead of taking the caller down.
    let owned = bytes.to_vec();
    let limit = bytes
        .len()
        .saturating_mul(MAX_VALUES_PER_FILE_BYTE)
        .saturating_add(1 << 16);
    catch_unwind(AssertUnwindSafe(move || {
        let file = File::from_bytes(owned).map_err(|e| format!("invalid HDF5 (MAT v7.3): {e}"))?;
        let x = read_var(&file, "X", limit)?;
        let y = read_var(&file, "y", limit)?;
        Ok((x, y))
    }))
    .unwrap_or_else(|_| {
        Err("invalid HDF5 (MAT v7.3): the HDF5 reader failed on corrupt data".into())
    })
}

fn read_var(file: &File, name: &str, limit: usize) -> Result<DenseVar, String> {
    if file.group(name).is_ok() {
        return Err(format!(
            "variable {name} is a sparse matrix, cell or struct; only dense real numeric matrices are supported"
        ));
    }
    let ds = file
        .dataset(name)
        .map_err(|e| format!("no variable {name} in file ({e})"))?;
    if let Ok(attrs) = ds.attrs() {
        if let Some(class) = attrs.get("MATLAB_class").and_then(attr_text) {
            let numeric = matches!(
                class.as_str(),
                "double"
                    | "single"
                    | "logical"
                    | "int8"
                    | "uint8"
                    | "int16"
                    | "uint16"
                    | "int32"
                    | "uint32"
                    | "int64"
                    | "uint64"
            );
            if !numeric {
                return Err(format!(
                    "variable {name} has MATLAB class {class}; only dense real numeric matrices are supported"
                ));
            }
        }
    }
    match ds
        .dtype()
        .map_err(|e| format!("variable {name}: unreadable datatype ({e})"))?
    {
        DType::F32
        | DType::F64
        | DType::I8
        | DType::I16
        | DType::I32
        | DType::I64
        | DType::U8
        | DType::U16
        | DType::U32
        | DType::U64 => {}
        DType::Compound(_) => {
            return Err(format!(
                "variable {name} is complex; only real matrices are supported"
            ))
        }
        other => {
            return Err(format!(
                "variable {name} has non-numeric datatype {other:?}"
            ))
        }
    }
    let shape = ds
        .shape()
        .map_err(|e| format!("variable {name}: unreadable shape ({e})"))?;
    let mut dims = shape
        .iter()
        .map(|&d| {
            usize::try_from(d).map_err(|_| format!("variable {name}: dimension {d} too large"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    dims.reverse();
    let count = element_count(&dims)
        .filter(|&n| n <= limit)
        .ok_or_else(|| {
            format!("variable {name} claims dimensions {dims:?}, more than the file can hold")
        })?;
    let values = ds
        .read_f64()
        .map_err(|e| format!("variable {name}: unreadable data ({e})"))?;
    if values.len() != count {
        return Err(format!(
            "variable {name} has dimensions {dims:?} ({count} values) but {} were read",
            values.len()
        ));
    }
    Ok(DenseVar { dims, values })
}

/// The text of a string attribute such as `MATLAB_class`.
fn attr_text(value: &AttrValue) -> Option<String> {
    match value {
        AttrValue::String(s) | AttrValue::AsciiString(s) => Some(s.clone()),
        _ => None,
    }
}
