//! Readers of the IDX format used by MNIST and Fashion-MNIST (gzipped or not), and of the
//! four-file train/test layout those datasets ship in.
//!
//! An IDX file is a 4-byte magic number (`0x00 0x00 <type> <ndims>`), `ndims` big-endian `u32`
//! dimensions, then the values. MNIST-style files use type `0x08` (unsigned byte): images are
//! `n x rows x cols` (magic `0x00000803`), labels are `n` (magic `0x00000801`). A user's file
//! given to the command line may be of any of the format's types and of two or more
//! dimensions ([`parse_idx_matrix`]).

use std::path::{Path, PathBuf};

use crate::error::{DataError, Result};
use crate::fileio::read_maybe_gz;
use crate::images::ImageSet;

/// IDX type code of unsigned bytes, the only type MNIST-style files use.
const IDX_UBYTE: u8 = 0x08;

/// The header and values of an unsigned-byte IDX file.
#[derive(Debug, Clone, PartialEq)]
pub struct IdxArray {
    /// The dimensions from the header, outermost first.
    pub dims: Vec<usize>,
    /// The values, row-major (`dims.iter().product()` bytes).
    pub values: Vec<u8>,
}

/// The `ndims` dimensions of an IDX header and the header's length; an error naming `path`
/// when `bytes` end before them.
fn header_dims(path: &Path, bytes: &[u8], ndims: usize) -> Result<(Vec<usize>, usize)> {
    let header_len = 4 + 4 * ndims;
    if bytes.len() < header_len {
        return Err(DataError::format(
            path,
            format!(
                "truncated idx header: {} bytes, the {ndims} dimensions need {header_len}",
                bytes.len()
            ),
        ));
    }
    let dims = bytes[4..header_len]
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    Ok((dims, header_len))
}

/// Parses an unsigned-byte IDX array of `expected_ndims` dimensions from `bytes` (already
/// decompressed); `path` only names the file in errors.
pub fn parse_idx(path: &Path, bytes: &[u8], expected_ndims: usize) -> Result<IdxArray> {
    let fail = |problem: String| DataError::format(path, problem);
    if bytes.len() < 4 {
        return Err(fail(format!(
            "file is {} bytes, too short for an idx header",
            bytes.len()
        )));
    }
    if bytes[0] != 0 || bytes[1] != 0 {
        return Err(fail(format!(
            "wrong idx magic number 0x{:02x}{:02x}{:02x}{:02x} (must start with two zero bytes)",
            bytes[0], bytes[1], bytes[2], bytes[3]
        )));
    }
    if bytes[2] != IDX_UBYTE {
        return Err(fail(format!(
            "idx value type 0x{:02x} is not unsigned byte (0x08)",
            bytes[2]
        )));
    }
    let ndims = usize::from(bytes[3]);
    if ndims != expected_ndims {
        return Err(fail(format!(
            "wrong idx magic number 0x0000{:02x}{:02x}: {ndims} dimensions, expected {expected_ndims}",
            bytes[2], bytes[3]
        )));
    }
    let (dims, header_len) = header_dims(path, bytes, ndims)?;
    let expected = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| fail(format!("idx dimensions {dims:?} overflow")))?;
    let got = bytes.len() - header_len;
    if got != expected {
        return Err(fail(format!(
            "idx dimensions {dims:?} need {expected} value bytes but the file holds {got}{}",
            if got < expected {
                " (truncated)"
            } else {
                " (trailing data)"
            }
        )));
    }
    Ok(IdxArray {
        dims,
        values: bytes[header_len..].to_vec(),
    })
}

/// Reads an IDX image file (`n x rows x cols`, gzipped or not): returns the pixels and the
/// image count, height and width.
pub fn read_idx_images(path: &Path) -> Result<IdxArray> {
    let bytes = read_maybe_gz(path)?;
    parse_idx_images(path, &bytes)
}

/// Parses an IDX image file (`n x rows x cols`, already decompressed) from `bytes`, as
/// [`read_idx_images`] reads one; `path` only names the file in errors. A file without images,
/// or with images of no pixels, is an error.
pub fn parse_idx_images(path: &Path, bytes: &[u8]) -> Result<IdxArray> {
    let arr = parse_idx(path, bytes, 3)?;
    if arr.dims[1] == 0 || arr.dims[2] == 0 {
        return Err(DataError::format(
            path,
            format!("empty image size {:?}", arr.dims),
        ));
    }
    if arr.dims[0] == 0 {
        return Err(DataError::format(
            path,
            format!("no images: dimensions {:?}", arr.dims),
        ));
    }
    Ok(arr)
}

/// The size in bytes of an IDX value type, and its name, for every type of the format:
/// unsigned and signed byte, 16- and 32-bit integers, 32- and 64-bit floats (big-endian).
fn idx_value_type(code: u8) -> Option<(usize, &'static str)> {
    Some(match code {
        0x08 => (1, "unsigned byte"),
        0x09 => (1, "signed byte"),
        0x0b => (2, "16-bit integer"),
        0x0c => (4, "32-bit integer"),
        0x0d => (4, "32-bit float"),
        0x0e => (8, "64-bit float"),
        _ => return None,
    })
}

/// Parses an IDX file of any value type and two or more dimensions (already decompressed) as
/// samples x features: the first dimension counts the samples, the others make up each sample
/// (an `n x rows x cols` image file gives `rows * cols` features). Unsigned bytes are pixels
/// and are scaled to [0, 1] (v / 255), as the image loaders give them; the other types are
/// read as the numbers they are. `path` only names the file in errors: a header that is not
/// IDX, a file of one dimension (labels), no samples or empty samples, a length that does not
/// match the dimensions, a NaN, infinite or beyond-f32 value (row and column from 1).
pub fn parse_idx_matrix(path: &Path, bytes: &[u8]) -> Result<crate::matrix::Matrix> {
    let fail = |problem: String| DataError::format(path, problem);
    if bytes.len() < 4 || bytes[0] != 0 || bytes[1] != 0 {
        return Err(fail(
            "not an IDX file: it must start with two zero bytes, a value type and the number of \
             dimensions"
                .into(),
        ));
    }
    let Some((size, type_name)) = idx_value_type(bytes[2]) else {
        return Err(fail(format!(
            "idx value type 0x{:02x} is none of the format's (0x08, 0x09, 0x0b, 0x0c, 0x0d, 0x0e)",
            bytes[2]
        )));
    };
    let ndims = usize::from(bytes[3]);
    if ndims < 2 {
        return Err(fail(format!(
            "an IDX file of {ndims} dimension{} (labels?) holds no samples x features: give \
             one of n x ... values (images are n x rows x cols)",
            if ndims == 1 { "" } else { "s" }
        )));
    }
    let (dims, header_len) = header_dims(path, bytes, ndims)?;
    let (rows, cols) = (
        dims[0],
        dims[1..].iter().try_fold(1usize, |a, &d| a.checked_mul(d)),
    );
    let cols = cols.ok_or_else(|| fail(format!("idx dimensions {dims:?} overflow")))?;
    if cols == 0 {
        return Err(fail(format!("empty sample size: dimensions {dims:?}")));
    }
    if rows == 0 {
        return Err(fail(format!("no samples: dimensions {dims:?}")));
    }
    let expected = rows
        .checked_mul(cols)
        .and_then(|n| n.checked_mul(size))
        .ok_or_else(|| fail(format!("idx dimensions {dims:?} overflow")))?;
    let got = bytes.len() - header_len;
    if got != expected {
        return Err(fail(format!(
            "idx dimensions {dims:?} of {type_name}s need {expected} value bytes but the file \
             holds {got}{}",
            if got < expected {
                " (truncated)"
            } else {
                " (trailing data)"
            }
        )));
    }
    let body = &bytes[header_len..];
    // The number stored at `k`, as it is (unsigned bytes too).
    let value = |k: usize| -> f64 {
        let b = &body[k * size..(k + 1) * size];
        match bytes[2] {
            0x08 => f64::from(b[0]),
            0x09 => f64::from(b[0] as i8),
            0x0b => f64::from(i16::from_be_bytes([b[0], b[1]])),
            0x0c => f64::from(i32::from_be_bytes([b[0], b[1], b[2], b[3]])),
            0x0d => f64::from(f32::from_be_bytes([b[0], b[1], b[2], b[3]])),
            _ => f64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
        }
    };
    let mut data = Vec::with_capacity(rows * cols);
    for k in 0..rows * cols {
        let v = value(k);
        // Unsigned bytes are pixels, with the image loaders' rounding: the f32 byte / 255.
        let f = if bytes[2] == 0x08 {
            v as f32 / 255.0
        } else {
            v as f32
        };
        if !f.is_finite() {
            return Err(fail(format!(
                "value {v} at row {}, column {} is {}",
                k / cols + 1,
                k % cols + 1,
                if v.is_finite() {
                    "outside the f32 range the models compute in"
                } else {
                    "not finite"
                }
            )));
        }
        data.push(f);
    }
    crate::matrix::Matrix::new(data, rows, cols)
        .ok_or_else(|| fail(format!("inconsistent idx dimensions {dims:?}")))
}

/// Reads an IDX label file (`n`, gzipped or not); every label must lie in `0..n_classes`.
pub fn read_idx_labels(path: &Path, n_classes: u8) -> Result<Vec<u8>> {
    let bytes = read_maybe_gz(path)?;
    let arr = parse_idx(path, &bytes, 1)?;
    if let Some(pos) = arr.values.iter().position(|&l| l >= n_classes) {
        return Err(DataError::format(
            path,
            format!(
                "label {} of item {pos} is outside 0..{}",
                arr.values[pos],
                n_classes - 1
            ),
        ));
    }
    Ok(arr.values)
}

/// Reads a pair of IDX image and label files that must describe the same number of items;
/// labels must be 0..9.
pub fn load_idx_pair(images: &Path, labels: &Path) -> Result<ImageSet> {
    let img = read_idx_images(images)?;
    let lab = read_idx_labels(labels, 10)?;
    let n = img.dims[0];
    if lab.len() != n {
        return Err(DataError::format(
            labels,
            format!(
                "{} labels but the image file {} holds {n} images",
                lab.len(),
                images.display()
            ),
        ));
    }
    ImageSet::new(img.values, lab, img.dims[1], img.dims[2], 1)
        .map_err(|problem| DataError::format(images, problem))
}

/// The four files of an MNIST-style dataset in `dir`, by their official names, each with or
/// without a `.gz` suffix (the uncompressed name wins when both exist).
#[derive(Debug, Clone, PartialEq)]
pub struct MnistFiles {
    /// The training images (`train-images-idx3-ubyte`).
    pub train_images: PathBuf,
    /// The training labels (`train-labels-idx1-ubyte`).
    pub train_labels: PathBuf,
    /// The test images (`t10k-images-idx3-ubyte`).
    pub test_images: PathBuf,
    /// The test labels (`t10k-labels-idx1-ubyte`).
    pub test_labels: PathBuf,
}

/// The official file stems of MNIST and Fashion-MNIST.
pub const MNIST_FILE_STEMS: [&str; 4] = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
];

impl MnistFiles {
    /// Finds the four files in `dir`; `None` when any is missing.
    pub fn find(dir: &Path) -> Option<MnistFiles> {
        let pick = |stem: &str| -> Option<PathBuf> {
            // Some mirrors (torchvision) name the files `train-images.idx3-ubyte`: accept the dot
            // variant too.
            let dotted = stem.replacen("-idx", ".idx", 1);
            [stem.to_string(), dotted].iter().find_map(|s| {
                [s.clone(), format!("{s}.gz")]
                    .into_iter()
                    .map(|name| dir.join(name))
                    .find(|p| p.is_file())
            })
        };
        Some(MnistFiles {
            train_images: pick(MNIST_FILE_STEMS[0])?,
            train_labels: pick(MNIST_FILE_STEMS[1])?,
            test_images: pick(MNIST_FILE_STEMS[2])?,
            test_labels: pick(MNIST_FILE_STEMS[3])?,
        })
    }

    /// Loads the official training and test splits.
    pub fn load(&self) -> Result<(ImageSet, ImageSet)> {
        let train = load_idx_pair(&self.train_images, &self.train_labels)?;
        let test = load_idx_pair(&self.test_images, &self.test_labels)?;
        if train.height != test.height || train.width != test.width {
            return Err(DataError::format(
                &self.test_images,
                format!(
                    "test images are {}x{} but training images are {}x{}",
                    test.height, test.width, train.height, train.width
                ),
            ));
        }
        Ok((train, test))
    }
}

/// Loads an MNIST-style dataset (MNIST or Fashion-MNIST) from `dir`: (train, test).
pub fn load_mnist_dir(dir: &Path) -> Result<(ImageSet, ImageSet)> {
    let files = MnistFiles::find(dir).ok_or_else(|| {
        DataError::format(
            dir,
            format!(
                "missing idx files: expected {} (each optionally .gz)",
                MNIST_FILE_STEMS.join(", ")
            ),
        )
    })?;
    files.load()
}
