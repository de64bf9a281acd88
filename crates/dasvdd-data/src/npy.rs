//! Reader of NumPy `.npy` files (format versions 1.0, 2.0 and 3.0): little- or big-endian
//! `f2 f4 f8 i1 i2 i4 i8 u1 u2 u4 u8` and `b1`, C or Fortran order, one or two dimensions.
//!
//! The header is a Python dict literal (`{'descr': '<f4', 'fortran_order': False,
//! 'shape': (3, 4), }`) which is parsed here by a small tokenizer; every malformed header,
//! size mismatch or non-finite value is an error naming the file.

use std::path::Path;

use crate::error::{DataError, Result};
use crate::fileio::read_bytes;
use crate::matrix::{LabeledData, Matrix};

const NPY_MAGIC: &[u8; 6] = b"\x93NUMPY";

/// The element types the reader accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Float,
    Int,
    Uint,
    Bool,
}

/// A parsed `descr` such as `<f4`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Dtype {
    kind: Kind,
    size: usize,
    big_endian: bool,
}

/// An array read from a `.npy` file, values converted to `f64`, in C (row-major) order.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyArray {
    /// The array's shape from the header: one or two dimensions.
    pub shape: Vec<usize>,
    /// The values, `shape.iter().product()` of them.
    pub values: Vec<f64>,
}

fn parse_descr(descr: &str) -> std::result::Result<Dtype, String> {
    let b = descr.as_bytes();
    if b.len() < 3 || !descr.is_ascii() {
        return Err(format!("unsupported dtype `{descr}`"));
    }
    let big_endian = match b[0] {
        b'<' | b'|' => false,
        b'>' => true,
        _ => return Err(format!("unsupported byte order in dtype `{descr}`")),
    };
    let size: usize = descr[2..]
        .parse()
        .map_err(|_| format!("unsupported dtype `{descr}`"))?;
    let kind = match (b[1], size) {
        (b'f', 2 | 4 | 8) => Kind::Float,
        (b'i', 1 | 2 | 4 | 8) => Kind::Int,
        (b'u', 1 | 2 | 4 | 8) => Kind::Uint,
        (b'b', 1) => Kind::Bool,
        _ => {
            return Err(format!(
                "unsupported dtype `{descr}` (expected f2, f4, f8, i1..i8, u1..u8 or b1)"
            ))
        }
    };
    Ok(Dtype {
        kind,
        size,
        big_endian,
    })
}

/// Tokens of the header dict literal.
#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Str(String),
    Int(usize),
    Bool(bool),
    Punct(char),
}

fn tokenize(h: &str) -> std::result::Result<Vec<Tok>, String> {
    let mut toks = Vec::new();
    let chars: Vec<char> = h.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '{' | '}' | '(' | ')' | ':' | ',' | '[' | ']' => {
                toks.push(Tok::Punct(c));
                i += 1;
            }
            '\'' | '"' => {
                let end = chars[i + 1..]
                    .iter()
                    .position(|&d| d == c)
                    .ok_or("unterminated string in header")?;
                toks.push(Tok::Str(chars[i + 1..i + 1 + end].iter().collect()));
                i += end + 2;
            }
            '0'..='9' => {
                let start = i;
                while i < chars.len() && chars[i].is_ascii_digit() {
                    i += 1;
                }
                // Python 2 wrote long integers as `3L`.
                if i < chars.len() && chars[i] == 'L' {
                    i += 1;
                }
                let digits: String = chars[start..i]
                    .iter()
                    .filter(|c| c.is_ascii_digit())
                    .collect();
                toks.push(Tok::Int(
                    digits
                        .parse()
                        .map_err(|_| format!("dimension {digits} too large"))?,
                ));
            }
            _ => {
                let start = i;
                while i < chars.len() && chars[i].is_ascii_alphabetic() {
                    i += 1;
                }
                match chars[start..i].iter().collect::<String>().as_str() {
                    "True" => toks.push(Tok::Bool(true)),
                    "False" => toks.push(Tok::Bool(false)),
                    _ => return Err(format!("unexpected character `{c}` in header")),
                }
            }
        }
    }
    Ok(toks)
}

/// Parses the header dict into (descr, fortran_order, shape).
fn parse_header(h: &str) -> std::result::Result<(String, bool, Vec<usize>), String> {
    let toks = tokenize(h)?;
    let mut it = toks.into_iter().peekable();
    if it.next() != Some(Tok::Punct('{')) {
        return Err("header is not a dict".into());
    }
    let (mut descr, mut fortran, mut shape) = (None, None, None);
    loop {
        match it.next() {
            Some(Tok::Punct('}')) => break,
            Some(Tok::Str(key)) => {
                if it.next() != Some(Tok::Punct(':')) {
                    return Err(format!("expected `:` after `{key}` in header"));
                }
                match key.as_str() {
                    "descr" => match it.next() {
                        Some(Tok::Str(s)) => descr = Some(s),
                        Some(Tok::Punct('[')) => {
                            return Err("structured dtypes are not supported".into())
                        }
                        _ => return Err("descr is not a string".into()),
                    },
                    "fortran_order" => match it.next() {
                        Some(Tok::Bool(b)) => fortran = Some(b),
                        _ => return Err("fortran_order is not True or False".into()),
                    },
                    "shape" => {
                        if it.next() != Some(Tok::Punct('(')) {
                            return Err("shape is not a tuple".into());
                        }
                        let mut dims = Vec::new();
                        loop {
                            match it.next() {
                                Some(Tok::Punct(')')) => break,
                                Some(Tok::Int(d)) => {
                                    dims.push(d);
                                    match it.next() {
                                        Some(Tok::Punct(',')) => {}
                                        Some(Tok::Punct(')')) => break,
                                        _ => return Err("malformed shape tuple".into()),
                                    }
                                }
                                _ => return Err("malformed shape tuple".into()),
                            }
                        }
                        shape = Some(dims);
                    }
                    other => return Err(format!("unexpected key `{other}` in header")),
                }
                match it.next() {
                    Some(Tok::Punct(',')) => {}
                    Some(Tok::Punct('}')) => break,
                    _ => return Err("malformed header dict".into()),
                }
            }
            _ => return Err("malformed header dict".into()),
        }
    }
    if it.next().is_some() {
        return Err("trailing characters after the header dict".into());
    }
    Ok((
        descr.ok_or("header has no descr")?,
        fortran.ok_or("header has no fortran_order")?,
        shape.ok_or("header has no shape")?,
    ))
}

fn decode(dtype: Dtype, b: &[u8]) -> f64 {
    let mut buf = [0u8; 8];
    buf[..b.len()].copy_from_slice(b);
    if dtype.big_endian {
        buf[..b.len()].reverse();
    }
    let le = u64::from_le_bytes(buf);
    match (dtype.kind, dtype.size) {
        (Kind::Float, 2) => half::f16::from_bits(le as u16).to_f64(),
        (Kind::Float, 4) => f64::from(f32::from_bits(le as u32)),
        (Kind::Float, _) => f64::from_bits(le),
        (Kind::Bool, _) => f64::from(u8::from(le != 0)),
        (Kind::Uint, _) => le as f64,
        (Kind::Int, s) => {
            // Sign-extend from `s` bytes.
            let shift = 64 - 8 * s as u32;
            (((le << shift) as i64) >> shift) as f64
        }
    }
}

/// Parses a whole `.npy` file held in memory; `path` only names it in errors.
pub fn parse_npy(path: &Path, bytes: &[u8]) -> Result<NpyArray> {
    let fail = |p: String| DataError::format(path, p);
    if bytes.len() < 10 || &bytes[..6] != NPY_MAGIC {
        return Err(fail("not an npy file (missing \\x93NUMPY magic)".into()));
    }
    let (major, minor) = (bytes[6], bytes[7]);
    let (len_bytes, hlen) = match major {
        1 => (2, usize::from(u16::from_le_bytes([bytes[8], bytes[9]]))),
        2 | 3 if bytes.len() >= 12 => (
            4,
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
        ),
        2 | 3 => return Err(fail("truncated npy header".into())),
        _ => {
            return Err(fail(format!(
                "unsupported npy format version {major}.{minor}"
            )))
        }
    };
    let start: usize = 8 + len_bytes;
    let end = start
        .checked_add(hlen)
        .filter(|&e| e <= bytes.len())
        .ok_or_else(|| {
            fail(format!(
                "truncated npy header: {hlen} bytes announced, file is {} bytes",
                bytes.len()
            ))
        })?;
    let header = std::str::from_utf8(&bytes[start..end])
        .map_err(|_| fail("npy header is not text".into()))?;
    if major < 3 && !header.is_ascii() {
        return Err(fail("npy header of version 1 or 2 must be ascii".into()));
    }
    let (descr, fortran, shape) =
        parse_header(header).map_err(|p| fail(format!("bad npy header: {p}")))?;
    let dtype = parse_descr(&descr).map_err(fail)?;
    if shape.is_empty() || shape.len() > 2 {
        return Err(fail(format!(
            "shape {shape:?}: only 1-d and 2-d arrays are supported"
        )));
    }
    let count = shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| fail(format!("shape {shape:?} overflows")))?;
    let need = count
        .checked_mul(dtype.size)
        .ok_or_else(|| fail(format!("shape {shape:?} overflows")))?;
    let data = &bytes[end..];
    if data.len() != need {
        return Err(fail(format!(
            "shape {shape:?} of {descr} needs {need} data bytes but the file holds {}{}",
            data.len(),
            if data.len() < need {
                " (truncated)"
            } else {
                " (trailing data)"
            }
        )));
    }
    let raw: Vec<f64> = data
        .chunks_exact(dtype.size)
        .map(|c| decode(dtype, c))
        .collect();
    let values = if fortran && shape.len() == 2 {
        let (r, c) = (shape[0], shape[1]);
        let mut v = vec![0f64; count];
        for j in 0..c {
            for i in 0..r {
                v[i * c + j] = raw[j * r + i];
            }
        }
        v
    } else {
        raw
    };
    Ok(NpyArray { shape, values })
}

/// Reads a `.npy` file.
pub fn read_npy(path: &Path) -> Result<NpyArray> {
    parse_npy(path, &read_bytes(path)?)
}

/// Reads a `.npy` feature matrix: 2-D as samples x features, 1-D as one feature per sample.
/// Errors on an empty array or a NaN or infinite value (naming its row and column, 1-based).
pub fn read_npy_matrix(path: &Path) -> Result<Matrix> {
    npy_matrix(path, read_npy(path)?)
}

/// An array parsed from `path` (or what it names, e.g. standard input) as a samples x features
/// matrix, checked as [`read_npy_matrix`] checks it.
pub fn npy_matrix(path: &Path, a: NpyArray) -> Result<Matrix> {
    let (rows, cols) = match a.shape[..] {
        [n] => (n, 1),
        [r, c] => (r, c),
        _ => {
            return Err(DataError::format(
                path,
                format!("an array of shape {:?} is not a matrix", a.shape),
            ))
        }
    };
    if rows == 0 || cols == 0 {
        return Err(DataError::format(
            path,
            format!("empty array of shape {:?}", a.shape),
        ));
    }
    // The matrix is f32, so a finite f64 beyond its range is rejected as well.
    if let Some(k) = a.values.iter().position(|&v| !(v as f32).is_finite()) {
        let what = if a.values[k].is_finite() {
            "value outside the f32 range"
        } else {
            "non-finite value"
        };
        return Err(DataError::format(
            path,
            format!(
                "{what} {:e} at row {}, column {}",
                a.values[k],
                k / cols + 1,
                k % cols + 1
            ),
        ));
    }
    let data = a.values.into_iter().map(|v| v as f32).collect();
    Ok(Matrix { data, rows, cols })
}

/// Reads a `.npy` label vector (shape `(n,)`, `(n, 1)` or `(1, n)`) of 0/1 values.
pub fn read_npy_labels(path: &Path) -> Result<Vec<u8>> {
    let a = read_npy(path)?;
    let is_vector = a.shape.len() == 1 || a.shape.iter().filter(|&&d| d != 1).count() <= 1;
    if !is_vector {
        return Err(DataError::format(
            path,
            format!("labels must be a vector, shape is {:?}", a.shape),
        ));
    }
    a.values
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            if v == 0.0 || v == 1.0 {
                Ok(v as u8)
            } else {
                Err(DataError::format(
                    path,
                    format!("label {v} of item {} is not 0 or 1", i + 1),
                ))
            }
        })
        .collect()
}

/// Reads features from `x_path` and, when given, 0/1 labels from `y_path` (else all 0).
pub fn load_npy(x_path: &Path, y_path: Option<&Path>) -> Result<LabeledData> {
    let x = read_npy_matrix(x_path)?;
    let y = match y_path {
        Some(p) => {
            let y = read_npy_labels(p)?;
            if y.len() != x.rows {
                return Err(DataError::format(
                    p,
                    format!(
                        "{} labels but {} has {} rows",
                        y.len(),
                        x_path.display(),
                        x.rows
                    ),
                ));
            }
            y
        }
        None => vec![0; x.rows],
    };
    Ok(LabeledData { x, y, groups: None })
}
