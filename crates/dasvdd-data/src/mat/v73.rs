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

/// Largest number of a dataset's bytes accepted per byte of the file: deflate expands at most
/// about 1032-fold, so a dataset that claims more than its file could hold at that ratio is
/// corrupt, and reading it would only exhaust memory. (Counted in the dataset's own element
/// size: a `uint8` or `logical` matrix of zeros compresses 1000-fold, a `double` one 8 times
/// less per value.)
const MAX_BYTES_PER_FILE_BYTE: usize = 1100;

/// Reads the variables `X` and `y` of a MAT v7.3 file.
pub(super) fn read_x_y(bytes: &[u8]) -> Result<(DenseVar, DenseVar), String> {
    // hdf5-pure is a large parser of untrusted input; should it ever panic on a corrupt file,
    // the panic becomes this file's format error instead of taking the caller down.
    let owned = bytes.to_vec();
    let limit = bytes
        .len()
        .saturating_mul(MAX_BYTES_PER_FILE_BYTE)
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
    let element_size = match ds
        .dtype()
        .map_err(|e| format!("variable {name}: unreadable datatype ({e})"))?
    {
        DType::I8 | DType::U8 => 1,
        DType::I16 | DType::U16 => 2,
        DType::F32 | DType::I32 | DType::U32 => 4,
        DType::F64 | DType::I64 | DType::U64 => 8,
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
    };
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
        .filter(|&n| n.saturating_mul(element_size) <= limit)
        .ok_or_else(|| {
            format!("variable {name} claims dimensions {dims:?}, more than the file can hold")
        })?;
    check_chunk_index(&ds, name, &shape)?;
    let values = ds
        .read_f64()
        .map_err(|e| unreadable_data(name, &e.to_string()))?;
    if values.len() != count {
        return Err(format!(
            "variable {name} has dimensions {dims:?} ({count} values) but {} were read",
            values.len()
        ));
    }
    Ok(DenseVar { dims, values })
}

/// The error for a variable whose data the HDF5 reader could not read, with a hint where the
/// cause is a storage layout of HDF5's newest file format (h5py's `libver="latest"` with
/// HDF5 2.0: data layout version 5, or a chunk index kept in a version 2 B-tree), which
/// MATLAB's `save -v7.3` and h5py's default settings do not write.
fn unreadable_data(name: &str, problem: &str) -> String {
    let newest = problem.contains("data layout version") || problem.contains("version 2 B-tree");
    let hint = if newest {
        "; the file stores it in a layout of HDF5's newest format (as h5py writes with \
         libver=\"latest\"), which this reader does not read: write it with MATLAB's \
         `save -v7.3`, with h5py's default libver, or as a MAT v5 file (`scipy.io.savemat`)"
    } else {
        ""
    };
    format!("variable {name}: unreadable data ({problem}){hint}")
}

/// Checks that every chunk of a chunked dataset sits where HDF5 allows: at a multiple of the
/// chunk shape, inside the dataset, once. `hdf5-pure` would place a chunk at a corrupt offset
/// (or drop it and leave the fill value) without an error, where libhdf5 refuses the read
/// ("bad coordinate offset"). Chunk indexes it cannot enumerate (a version 2 B-tree) are left
/// to the read itself.
fn check_chunk_index(ds: &hdf5_pure::Dataset, name: &str, shape: &[u64]) -> Result<(), String> {
    if !ds.is_chunked() {
        return Ok(());
    }
    let Ok(Some(chunk_shape)) = ds.chunk_shape() else {
        return Ok(());
    };
    let Ok(chunks) = ds.chunks() else {
        return Ok(());
    };
    let mut seen = std::collections::HashSet::with_capacity(chunks.len());
    for chunk in &chunks {
        let placed = chunk.offset.len() == shape.len()
            && chunk
                .offset
                .iter()
                .zip(shape)
                .zip(&chunk_shape)
                .all(|((&o, &n), &c)| c > 0 && o % c == 0 && o < n);
        if !placed || !seen.insert(chunk.offset.clone()) {
            return Err(format!(
                "variable {name}: corrupt chunk index (a chunk at {:?} in a dataset of shape {shape:?} with chunks of {chunk_shape:?})",
                chunk.offset
            ));
        }
    }
    Ok(())
}

/// The text of a string attribute such as `MATLAB_class`.
fn attr_text(value: &AttrValue) -> Option<String> {
    match value {
        AttrValue::String(s) | AttrValue::AsciiString(s) => Some(s.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::unreadable_data;

    #[test]
    fn the_newest_hdf5_layouts_get_a_hint_other_errors_do_not() {
        // hdf5-pure 0.47's messages for files h5py 3.16 (HDF5 2.0) wrote with libver="latest":
        // a gzip-compressed chunked dataset, and one with two unlimited dimensions.
        for problem in [
            "HDF5 format error: invalid data layout version: 5",
            "HDF5 format error: chunked read error: a version 2 B-tree chunk index cannot be \
             enumerated",
        ] {
            let e = unreadable_data("X", problem);
            assert!(
                e.starts_with(&format!("variable X: unreadable data ({problem})")),
                "{e}"
            );
            assert!(
                e.contains("libver=\"latest\"") && e.contains("save -v7.3"),
                "{e}"
            );
        }
        let e = unreadable_data("y", "HDF5 format error: truncated chunk");
        assert_eq!(
            e,
            "variable y: unreadable data (HDF5 format error: truncated chunk)"
        );
    }
}
