//! A tiny MAT v5 writer for test fixtures: dense numeric, sparse and complex variables,
//! compressed (miCOMPRESSED) or not, in either byte order.

#![allow(dead_code)]

use std::io::Write;

pub const MI_INT8: u32 = 1;
pub const MI_UINT8: u32 = 2;
pub const MI_INT16: u32 = 3;
pub const MI_INT32: u32 = 5;
pub const MI_UINT32: u32 = 6;
pub const MI_SINGLE: u32 = 7;
pub const MI_DOUBLE: u32 = 9;
pub const MI_INT64: u32 = 12;
pub const MI_MATRIX: u32 = 14;
pub const MI_COMPRESSED: u32 = 15;

pub const CLASS_CHAR: u32 = 4;
pub const CLASS_SPARSE: u32 = 5;
pub const CLASS_DOUBLE: u32 = 6;
pub const CLASS_SINGLE: u32 = 7;
pub const CLASS_INT32: u32 = 12;
pub const CLASS_UINT8: u32 = 9;
pub const CLASS_UINT32: u32 = 13;

/// Values of a numeric data element, in the stored type.
#[derive(Clone, Debug)]
pub enum Values {
    F64(Vec<f64>),
    F32(Vec<f32>),
    U8(Vec<u8>),
    I16(Vec<i16>),
    I64(Vec<i64>),
    I8(Vec<i8>),
    U16(Vec<u16>),
    I32(Vec<i32>),
    U32(Vec<u32>),
    U64(Vec<u64>),
}

impl Values {
    fn encode(&self, big: bool) -> (u32, Vec<u8>) {
        macro_rules! enc {
            ($v:expr, $ty:expr) => {
                (
                    $ty,
                    $v.iter()
                        .flat_map(|x| {
                            if big {
                                x.to_be_bytes().to_vec()
                            } else {
                                x.to_le_bytes().to_vec()
                            }
                        })
                        .collect(),
                )
            };
        }
        match self {
            Values::F64(v) => enc!(v, MI_DOUBLE),
            Values::F32(v) => enc!(v, MI_SINGLE),
            Values::U8(v) => (MI_UINT8, v.clone()),
            Values::I16(v) => enc!(v, MI_INT16),
            Values::I64(v) => enc!(v, MI_INT64),
            Values::I8(v) => enc!(v, MI_INT8),
            Values::U16(v) => enc!(v, 4),
            Values::I32(v) => enc!(v, MI_INT32),
            Values::U32(v) => enc!(v, MI_UINT32),
            Values::U64(v) => enc!(v, 13),
        }
    }
}

/// A variable to write.
#[derive(Clone, Debug)]
pub struct Var {
    pub name: String,
    pub class: u32,
    pub dims: Vec<i32>,
    /// Column-major real part.
    pub real: Values,
    /// Imaginary part; sets the complex flag.
    pub imag: Option<Values>,
}

impl Var {
    pub fn new(name: &str, class: u32, dims: &[i32], real: Values) -> Self {
        Var {
            name: name.into(),
            class,
            dims: dims.to_vec(),
            real,
            imag: None,
        }
    }
}

fn u32b(v: u32, big: bool) -> [u8; 4] {
    if big {
        v.to_be_bytes()
    } else {
        v.to_le_bytes()
    }
}

/// One data element: the small form when the payload fits in 4 bytes, else tag + padded payload.
pub fn element(ty: u32, payload: &[u8], big: bool) -> Vec<u8> {
    let mut out = Vec::new();
    if payload.len() <= 4 && ty != MI_MATRIX {
        out.extend(u32b(((payload.len() as u32) << 16) | ty, big));
        let mut p = payload.to_vec();
        p.resize(4, 0);
        out.extend(p);
        return out;
    }
    out.extend(u32b(ty, big));
    out.extend(u32b(payload.len() as u32, big));
    out.extend(payload);
    out.resize(out.len() + (8 - payload.len() % 8) % 8, 0);
    out
}

fn header(big: bool, version: u16) -> Vec<u8> {
    let mut h = b"MATLAB 5.0 MAT-file, written by the dasvdd-data test writer".to_vec();
    h.resize(116, b' ');
    h.extend([0u8; 8]);
    h.extend(if big {
        version.to_be_bytes()
    } else {
        version.to_le_bytes()
    });
    h.extend(if big { *b"MI" } else { *b"IM" });
    h
}

fn flags_and_dims(class: u32, flags: u32, dims: &[i32], name: &str, big: bool) -> Vec<u8> {
    let mut p = Vec::new();
    let mut f = u32b(class | flags, big).to_vec();
    f.extend(u32b(0, big));
    p.extend(element(MI_UINT32, &f, big));
    let d: Vec<u8> = dims.iter().flat_map(|&x| u32b(x as u32, big)).collect();
    p.extend(element(MI_INT32, &d, big));
    p.extend(element(MI_INT8, name.as_bytes(), big));
    p
}

/// The miMATRIX element of a dense variable.
pub fn matrix(var: &Var, big: bool) -> Vec<u8> {
    let flags = if var.imag.is_some() { 0x0800 } else { 0 };
    let mut p = flags_and_dims(var.class, flags, &var.dims, &var.name, big);
    let (ty, bytes) = var.real.encode(big);
    p.extend(element(ty, &bytes, big));
    if let Some(im) = &var.imag {
        let (ty, bytes) = im.encode(big);
        p.extend(element(ty, &bytes, big));
    }
    element(MI_MATRIX, &p, big)
}

/// The miMATRIX element of a sparse double matrix with the given (row, col, value) entries.
pub fn sparse_matrix(
    name: &str,
    rows: i32,
    cols: i32,
    entries: &[(i32, i32, f64)],
    big: bool,
) -> Vec<u8> {
    let mut p = flags_and_dims(CLASS_SPARSE, 0, &[rows, cols], name, big);
    let ir: Vec<u8> = entries.iter().flat_map(|e| u32b(e.0 as u32, big)).collect();
    let mut jc = vec![0u32; cols as usize + 1];
    for e in entries {
        for c in (e.1 as usize + 1)..=cols as usize {
            jc[c] += 1;
        }
    }
    let jc: Vec<u8> = jc.iter().flat_map(|&x| u32b(x, big)).collect();
    let pr = Values::F64(entries.iter().map(|e| e.2).collect())
        .encode(big)
        .1;
    p.extend(element(MI_INT32, &ir, big));
    p.extend(element(MI_INT32, &jc, big));
    p.extend(element(MI_DOUBLE, &pr, big));
    element(MI_MATRIX, &p, big)
}

/// Wraps an element in an miCOMPRESSED element (zlib, no padding after it).
pub fn compress(el: &[u8], big: bool) -> Vec<u8> {
    let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(el).unwrap();
    let z = enc.finish().unwrap();
    let mut out = u32b(MI_COMPRESSED, big).to_vec();
    out.extend(u32b(z.len() as u32, big));
    out.extend(z);
    out
}

/// A whole MAT v5 file from already-encoded top-level elements.
pub fn file_from_elements(elements: &[Vec<u8>], big: bool) -> Vec<u8> {
    let mut out = header(big, 0x0100);
    for e in elements {
        out.extend(e);
    }
    out
}

/// A whole MAT v5 file with `vars`, each compressed or not.
pub fn mat_file(vars: &[Var], compressed: bool, big: bool) -> Vec<u8> {
    let els: Vec<Vec<u8>> = vars
        .iter()
        .map(|v| {
            let m = matrix(v, big);
            if compressed {
                compress(&m, big)
            } else {
                m
            }
        })
        .collect();
    file_from_elements(&els, big)
}

/// X (3 x 2, double) = [[1, 2], [3, 4], [5, 6.5]] and y = [0, 1, 0] (3 x 1, double).
pub fn small_x_y() -> Vec<Var> {
    vec![
        Var::new(
            "X",
            CLASS_DOUBLE,
            &[3, 2],
            Values::F64(vec![1.0, 3.0, 5.0, 2.0, 4.0, 6.5]),
        ),
        Var::new("y", CLASS_DOUBLE, &[3, 1], Values::F64(vec![0.0, 1.0, 0.0])),
    ]
}
