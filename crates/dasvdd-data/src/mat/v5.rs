//! MAT v5 parser: the 128-byte header, tagged data elements (including the 4-byte "small
//! element" form), miCOMPRESSED elements (zlib, checked to their adler-32 trailer) and
//! miMATRIX arrays of numeric classes.
//!
//! Layout reference: MathWorks, "MAT-File Format" (matfile_format.pdf), chapter 1. Errors are
//! plain problem strings; the caller adds the file name.

use flate2::{Decompress, FlushDecompress, Status};

use super::{element_count, DenseVar};

const HEADER_LEN: usize = 128;

// Data types of data elements.
const MI_INT8: u32 = 1;
const MI_UINT8: u32 = 2;
const MI_INT16: u32 = 3;
const MI_UINT16: u32 = 4;
const MI_INT32: u32 = 5;
const MI_UINT32: u32 = 6;
const MI_SINGLE: u32 = 7;
const MI_DOUBLE: u32 = 9;
const MI_INT64: u32 = 12;
const MI_UINT64: u32 = 13;
const MI_MATRIX: u32 = 14;
const MI_COMPRESSED: u32 = 15;
const MI_UTF8: u32 = 16;

/// The class of MATLAB objects (`string`, `table`, `datetime`, `categorical`, ...): an
/// miMATRIX with flags, name, class name and object data, but no dimensions.
const CLASS_OPAQUE: u32 = 17;

// Flags of an array's "array flags" subelement.
const FLAG_COMPLEX: u32 = 0x0800;

/// A deflate stream expands at most 1032 times; a decompressed element larger than this bound
/// over its compressed size is corrupt, so inflation stops there instead of exhausting memory.
const MAX_INFLATE_RATIO: usize = 1100;

/// The version field of a MAT v5-style header (0x0100 for v5, 0x0200 for v7.3), read in the
/// byte order its endian indicator gives; `None` when there is no such header.
pub(super) fn header_version(bytes: &[u8]) -> Option<u16> {
    let big = big_endian(bytes).ok()?;
    let v = [bytes[124], bytes[125]];
    Some(if big {
        u16::from_be_bytes(v)
    } else {
        u16::from_le_bytes(v)
    })
}

fn big_endian(bytes: &[u8]) -> Result<bool, String> {
    if bytes.len() < HEADER_LEN {
        return Err(format!(
            "file has {} bytes, shorter than the 128-byte MAT header",
            bytes.len()
        ));
    }
    match &bytes[126..128] {
        b"IM" => Ok(false),
        b"MI" => Ok(true),
        other => Err(format!(
            "bad endian indicator {other:02x?} in MAT header (not a MAT v5 file)"
        )),
    }
}

/// Reads the variables `X` and `y` of a MAT v5 file.
pub(super) fn read_x_y(bytes: &[u8]) -> Result<(DenseVar, DenseVar), String> {
    if bytes.len() >= 4 && bytes[..4].contains(&0) {
        return Err("MAT v4 files are not supported (no 128-byte text header)".into());
    }
    let big = big_endian(bytes)?;
    let version = header_version(bytes).unwrap_or(0);
    if version != 0x0100 {
        return Err(format!("unsupported MAT header version {version:#06x}"));
    }
    let mut top = Cursor {
        buf: bytes,
        pos: HEADER_LEN,
        big,
    };
    let mut x = None;
    let mut y = None;
    while top.pos < bytes.len() {
        let offset = top.pos;
        let el = top.element()?;
        let parsed = match el.ty {
            MI_MATRIX => parse_matrix(el.data, big),
            MI_COMPRESSED => {
                let inner = inflate(el.data)
                    .map_err(|e| format!("compressed element at offset {offset}: {e}"))?;
                let mut c = Cursor { buf: &inner, pos: 0, big };
                let inner_el = c.element()?;
                if inner_el.ty != MI_MATRIX {
                    return Err(format!(
                        "compressed element at offset {offset} holds data type {}, expected a matrix",
                        inner_el.ty
                    ));
                }
                parse_matrix(inner_el.data, big)
            }
            other => {
                return Err(format!(
                    "unexpected top-level data element type {other} at offset {offset}"
                ))
            }
        }
        .map_err(|e| format!("variable at offset {offset}: {e}"))?;
        let Some((name, var)) = parsed else { continue };
        let slot = match name.as_str() {
            "X" => &mut x,
            "y" => &mut y,
            _ => continue,
        };
        if slot.is_some() {
            return Err(format!("variable {name} appears twice"));
        }
        *slot = Some(var?);
    }
    match (x, y) {
        (Some(x), Some(y)) => Ok((x, y)),
        (None, _) => Err("no variable X in file".into()),
        (_, None) => Err("no variable y in file".into()),
    }
}

/// A data element: its type and its payload.
struct Element<'a> {
    ty: u32,
    data: &'a [u8],
}

struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    big: bool,
}

impl<'a> Cursor<'a> {
    fn bytes(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or_else(|| {
                format!(
                    "truncated: {n} bytes needed at offset {}, {} left",
                    self.pos,
                    self.buf.len() - self.pos
                )
            })?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn u32(&mut self) -> Result<u32, String> {
        let b: [u8; 4] = self.bytes(4)?.try_into().map_err(|_| "short read")?;
        Ok(if self.big {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    }

    /// Reads one tagged data element, and the padding to the next 8-byte boundary that follows
    /// every element except a compressed one.
    fn element(&mut self) -> Result<Element<'a>, String> {
        let first = self.u32()?;
        if first >> 16 != 0 {
            // Small data element: size and type share the first word, data fills the second.
            let n = (first >> 16) as usize;
            if n > 4 {
                return Err(format!(
                    "small data element at offset {} claims {n} bytes (at most 4)",
                    self.pos - 4
                ));
            }
            let data = self.bytes(4)?;
            return Ok(Element {
                ty: first & 0xffff,
                data: &data[..n],
            });
        }
        let n = self.u32()? as usize;
        let data = self.bytes(n)?;
        if first != MI_COMPRESSED {
            self.bytes((8 - n % 8) % 8)?;
        }
        Ok(Element { ty: first, data })
    }
}

/// A variable's name and its values, or why they cannot be used.
type NamedVar = (String, Result<DenseVar, String>);

/// Parses an miMATRIX payload; `None` for an empty placeholder element. The inner result is
/// the variable's values, or why they cannot be used (an unsupported class, complex data),
/// which only matters when the variable is `X` or `y`.
fn parse_matrix(data: &[u8], big: bool) -> Result<Option<NamedVar>, String> {
    if data.is_empty() {
        return Ok(None);
    }
    let mut c = Cursor {
        buf: data,
        pos: 0,
        big,
    };
    let flags_el = c.element()?;
    if flags_el.ty != MI_UINT32 || flags_el.data.len() != 8 {
        return Err(format!(
            "array flags subelement has type {} and {} bytes, expected miUINT32 with 8",
            flags_el.ty,
            flags_el.data.len()
        ));
    }
    let flags = Cursor {
        buf: flags_el.data,
        pos: 0,
        big,
    }
    .u32()?;
    let class = flags & 0xff;
    if class == CLASS_OPAQUE {
        // No dimensions: the name comes next, then the object's class and its data, which
        // are skipped with the element (as scipy skips them).
        let name = array_name(&mut c)?;
        let why = format!(
            "variable {name} is a MATLAB object (a string, table, datetime, ...); only dense real numeric matrices are supported"
        );
        return Ok(Some((name, Err(why))));
    }
    let dims_el = c.element()?;
    // MATLAB writes miINT32; some other writers miUINT32, which scipy also reads.
    if !matches!(dims_el.ty, MI_INT32 | MI_UINT32)
        || dims_el.data.len() < 8
        || dims_el.data.len() % 4 != 0
    {
        return Err(format!(
            "dimensions subelement has type {} and {} bytes, expected miINT32 with at least 2 values",
            dims_el.ty,
            dims_el.data.len()
        ));
    }
    let mut dc = Cursor {
        buf: dims_el.data,
        pos: 0,
        big,
    };
    let mut dims = Vec::with_capacity(dims_el.data.len() / 4);
    while dc.pos < dims_el.data.len() {
        let d = dc.u32()? as i32;
        dims.push(usize::try_from(d).map_err(|_| format!("negative dimension {d}"))?);
    }
    let name = array_name(&mut c)?;
    if name != "X" && name != "y" {
        return Ok(Some((name, Err("not read".into()))));
    }
    let unsupported = match class {
        1 => Some("a cell array"),
        2 => Some("a struct"),
        3 => Some("an object"),
        4 => Some("a character array"),
        5 => Some("a sparse matrix"),
        6..=15 => None,
        16 => Some("a function handle"),
        17 => Some("an opaque object"),
        _ => return Err(format!("unknown array class {class}")),
    };
    if let Some(what) = unsupported {
        let msg =
            format!("variable {name} is {what}; only dense real numeric matrices are supported");
        return Ok(Some((name, Err(msg))));
    }
    if flags & FLAG_COMPLEX != 0 {
        let msg = format!("variable {name} is complex; only real matrices are supported");
        return Ok(Some((name, Err(msg))));
    }
    let real = c.element()?;
    let values =
        decode_numeric(real.ty, real.data, big).map_err(|e| format!("variable {name}: {e}"))?;
    let expected = element_count(&dims).ok_or_else(|| format!("dimensions {dims:?} overflow"))?;
    if values.len() != expected {
        return Err(format!(
            "variable {name} has dimensions {dims:?} ({expected} values) but stores {}",
            values.len()
        ));
    }
    Ok(Some((name, Ok(DenseVar { dims, values }))))
}

/// Reads an array's name subelement: miINT8 as MATLAB writes it, or miUINT8 / miUTF8 as some
/// other writers do (scipy reads all three).
fn array_name(c: &mut Cursor<'_>) -> Result<String, String> {
    let name_el = c.element()?;
    if !matches!(name_el.ty, MI_INT8 | MI_UINT8 | MI_UTF8) {
        return Err(format!(
            "array name subelement has type {}, expected miINT8",
            name_el.ty
        ));
    }
    Ok(String::from_utf8_lossy(name_el.data).into_owned())
}

/// Decodes a numeric data element of any MAT data type into `f64`.
fn decode_numeric(ty: u32, data: &[u8], big: bool) -> Result<Vec<f64>, String> {
    macro_rules! conv {
        ($t:ty) => {{
            const N: usize = std::mem::size_of::<$t>();
            if !data.chunks_exact(N).remainder().is_empty() {
                return Err(format!(
                    "{} bytes of data do not divide into {N}-byte values",
                    data.len()
                ));
            }
            data.chunks_exact(N)
                .map(|b| {
                    let a: [u8; N] = b.try_into().unwrap_or([0; N]);
                    (if big {
                        <$t>::from_be_bytes(a)
                    } else {
                        <$t>::from_le_bytes(a)
                    }) as f64
                })
                .collect()
        }};
    }
    Ok(match ty {
        MI_INT8 => conv!(i8),
        MI_UINT8 => conv!(u8),
        MI_INT16 => conv!(i16),
        MI_UINT16 => conv!(u16),
        MI_INT32 => conv!(i32),
        MI_UINT32 => conv!(u32),
        MI_SINGLE => conv!(f32),
        MI_DOUBLE => conv!(f64),
        MI_INT64 => conv!(i64),
        MI_UINT64 => conv!(u64),
        other => return Err(format!("data type {other} is not numeric")),
    })
}

/// Inflates a complete zlib stream, checking its adler-32 trailer.
fn inflate(input: &[u8]) -> Result<Vec<u8>, String> {
    let limit = input
        .len()
        .saturating_mul(MAX_INFLATE_RATIO)
        .saturating_add(1024);
    let mut d = Decompress::new(true);
    let mut out = Vec::with_capacity(input.len().saturating_mul(4).min(limit));
    loop {
        if out.len() == out.capacity() {
            if out.len() >= limit {
                return Err("zlib stream expands beyond the deflate ratio limit".into());
            }
            out.reserve(out.len().max(4096).min(limit - out.len()));
        }
        let (in_before, out_before) = (d.total_in(), d.total_out());
        let consumed = usize::try_from(in_before)
            .unwrap_or(usize::MAX)
            .min(input.len());
        let status = d
            .decompress_vec(&input[consumed..], &mut out, FlushDecompress::None)
            .map_err(|e| format!("corrupt zlib stream ({e})"))?;
        match status {
            Status::StreamEnd => return Ok(out),
            Status::Ok | Status::BufError => {
                let stalled = d.total_in() == in_before && d.total_out() == out_before;
                if stalled && out.len() < out.capacity() {
                    return Err("zlib stream is truncated".into());
                }
            }
        }
    }
}
