//! A reader of Python pickles that hold data: the stack machine of pickle protocols 0 to 5 over
//! plain values (None, bools, integers, floats, str, bytes, lists, tuples, dicts, sets as
//! lists), plus the few calls NumPy pickles its arrays and dtypes with. It runs no Python and
//! calls no other global, so a crafted file can only fail, with an error naming the byte.
//!
//! Written here because the pickle readers among the crates stop short of NumPy arrays
//! (`serde-pickle` has no way to rebuild an object from its global; candle's reader, made for
//! PyTorch checkpoints, has neither Python 2 strings nor NumPy). What it is for: the CIFAR-10
//! "python version" batches (Python 2 `cPickle` dicts holding a NumPy array of bytes), the form
//! torchvision downloads.
//!
//! Semantics follow CPython's `pickle.Unpickler` with `encoding="bytes"`: a Python 2 `str` is
//! read as bytes, so dict keys may be bytes or str ([`Value::get`] matches either).

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

/// Most containers (lists, tuples, dicts, sets, arrays, dtypes, objects) one pickle may build.
/// A data file needs a handful (a CIFAR-10 batch about ten); the bound keeps the deepest nesting
/// a crafted file can build shallow enough to drop without exhausting the stack.
const MAX_CONTAINERS: usize = 1_000;

/// A value of the pickle's object graph. Clones share (as Python references do).
#[derive(Debug, Clone)]
pub(crate) enum Value {
    None,
    Bool(bool),
    Int(i64),
    /// A float: read so that a file holding one loads; no reader needs its value yet.
    Float(#[allow(dead_code)] f64),
    /// Python 3 `bytes`, `bytearray`, or a Python 2 `str`.
    Bytes(Rc<[u8]>),
    /// Python 3 `str`, or a Python 2 `unicode`.
    Str(Rc<str>),
    /// A list, or a set / frozenset (in pickle order).
    List(Rc<RefCell<Vec<Value>>>),
    Tuple(Rc<[Value]>),
    Dict(Rc<RefCell<Vec<(Value, Value)>>>),
    /// A module-level name, `module.name`.
    Global(Rc<(String, String)>),
    /// A NumPy array, or one whose state has not been set yet.
    Array(Rc<RefCell<Option<NdArray>>>),
    Dtype(Rc<RefCell<Dtype>>),
}

/// A NumPy dtype of fixed-size numbers: kind (`b`ool, `i`nt, `u`int, `f`loat), size in bytes
/// and byte order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Dtype {
    pub kind: char,
    pub size: usize,
    pub big_endian: bool,
}

/// A NumPy array: its shape, element type, memory order and raw bytes.
#[derive(Debug, Clone)]
pub(crate) struct NdArray {
    pub shape: Vec<usize>,
    pub dtype: Dtype,
    pub fortran_order: bool,
    pub data: Rc<[u8]>,
}

impl Value {
    /// The value under `key` of a dict whose key is that str or those bytes.
    pub(crate) fn get(&self, key: &str) -> Option<Value> {
        let Value::Dict(d) = self else { return None };
        d.borrow()
            .iter()
            .find(|(k, _)| match k {
                Value::Str(s) => &**s == key,
                Value::Bytes(b) => &**b == key.as_bytes(),
                _ => false,
            })
            .map(|(_, v)| v.clone())
    }

    /// What kind of value this is, for error messages.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Value::None => "None",
            Value::Bool(_) => "a bool",
            Value::Int(_) => "an int",
            Value::Float(_) => "a float",
            Value::Bytes(_) => "bytes",
            Value::Str(_) => "a str",
            Value::List(_) => "a list",
            Value::Tuple(_) => "a tuple",
            Value::Dict(_) => "a dict",
            Value::Global(_) => "a global",
            Value::Array(_) => "a NumPy array",
            Value::Dtype(_) => "a NumPy dtype",
        }
    }

    /// The integer this value is (a bool counts, as in Python).
    pub(crate) fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Bool(b) => Some(i64::from(*b)),
            _ => None,
        }
    }

    /// The text of a str, or of bytes that are ASCII.
    fn as_text(&self) -> Option<String> {
        match self {
            Value::Str(s) => Some(s.to_string()),
            Value::Bytes(b) if b.is_ascii() => Some(String::from_utf8_lossy(b).into_owned()),
            _ => None,
        }
    }
}

impl Dtype {
    /// Parses a NumPy type string such as `u1`, `<f4`, `>i8` or `|b1`.
    fn parse(descr: &str) -> Result<Dtype, String> {
        let (big_endian, rest) = match descr.as_bytes().first() {
            Some(b'>') => (true, &descr[1..]),
            Some(b'<' | b'|' | b'=') => (false, &descr[1..]),
            _ => (false, descr),
        };
        let bad = || format!("NumPy dtype '{descr}' is not a fixed-size number type");
        let mut chars = rest.chars();
        let kind = chars.next().ok_or_else(bad)?;
        let size: usize = chars.as_str().parse().map_err(|_| bad())?;
        let ok = match kind {
            'b' => size == 1,
            'i' | 'u' => matches!(size, 1 | 2 | 4 | 8),
            'f' => matches!(size, 4 | 8),
            _ => false,
        };
        if !ok {
            return Err(bad());
        }
        Ok(Dtype {
            kind,
            size,
            big_endian,
        })
    }
}

impl NdArray {
    /// Number of elements, `shape`'s product.
    pub(crate) fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// The elements as integers in C (row-major) order; `None` for a float array.
    pub(crate) fn ints_c_order(&self) -> Option<Vec<i64>> {
        if self.dtype.kind == 'f' {
            return None;
        }
        let size = self.dtype.size;
        let values: Vec<i64> = self
            .data
            .chunks_exact(size)
            .map(|c| {
                let mut le = [0u8; 8];
                le[..size].copy_from_slice(c);
                if self.dtype.big_endian {
                    le[..size].reverse();
                }
                let raw = u64::from_le_bytes(le);
                if self.dtype.kind == 'i' && size < 8 {
                    // Sign-extend.
                    let shift = 64 - 8 * size as u32;
                    ((raw << shift) as i64) >> shift
                } else {
                    raw as i64
                }
            })
            .collect();
        Some(self.to_c_order(values))
    }

    /// The raw bytes of a one-byte array in C order; `None` for wider elements.
    pub(crate) fn bytes_c_order(&self) -> Option<Vec<u8>> {
        (self.dtype.size == 1).then(|| self.to_c_order(self.data.to_vec()))
    }

    /// Reorders elements stored in this array's memory order into C order.
    fn to_c_order<T: Copy>(&self, values: Vec<T>) -> Vec<T> {
        if !self.fortran_order || self.shape.len() < 2 {
            return values;
        }
        // Fortran order: the first index varies fastest. Walk the C-order index and find each
        // element's Fortran offset.
        let n = values.len();
        let dims = &self.shape;
        let mut strides = vec![1usize; dims.len()];
        for k in 1..dims.len() {
            strides[k] = strides[k - 1] * dims[k - 1];
        }
        let mut index = vec![0usize; dims.len()];
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let off: usize = index.iter().zip(&strides).map(|(i, s)| i * s).sum();
            out.push(values[off]);
            for k in (0..dims.len()).rev() {
                index[k] += 1;
                if index[k] < dims[k] {
                    break;
                }
                index[k] = 0;
            }
        }
        out
    }
}

/// Reads the object a pickle holds. The error says what is wrong and at which byte.
pub(crate) fn load(bytes: &[u8]) -> Result<Value, String> {
    let mut m = Machine {
        bytes,
        pos: 0,
        stack: Vec::new(),
        marks: Vec::new(),
        memo: HashMap::new(),
        containers: 0,
    };
    m.run()
}

struct Machine<'a> {
    bytes: &'a [u8],
    pos: usize,
    stack: Vec<Value>,
    /// Stack lengths at each MARK, innermost last.
    marks: Vec<usize>,
    memo: HashMap<u64, Value>,
    containers: usize,
}

/// Python's names of the opcodes this reader refuses, for the error.
fn unsupported_name(op: u8) -> Option<&'static str> {
    Some(match op {
        b'P' => "PERSID",
        b'Q' => "BINPERSID",
        b'i' => "INST",
        b'o' => "OBJ",
        0x81 => "NEWOBJ",
        0x82 => "EXT1",
        0x83 => "EXT2",
        0x84 => "EXT4",
        0x92 => "NEWOBJ_EX",
        0x97 => "NEXT_BUFFER",
        _ => return None,
    })
}

impl<'a> Machine<'a> {
    fn run(&mut self) -> Result<Value, String> {
        loop {
            let at = self.pos;
            let Some(&op) = self.bytes.get(at) else {
                return Err(format!(
                    "the pickle ends at byte {at} without its STOP opcode (truncated?)"
                ));
            };
            self.pos += 1;
            let step = self.step(op);
            match step {
                Ok(true) => return self.pop().map_err(|e| format!("at byte {at}: {e}")),
                Ok(false) => {}
                Err(e) => return Err(format!("opcode 0x{op:02x} at byte {at}: {e}")),
            }
        }
    }

    /// Runs one opcode; `Ok(true)` at STOP.
    fn step(&mut self, op: u8) -> Result<bool, String> {
        match op {
            0x80 => {
                let v = self.u8()?;
                if v > 5 {
                    return Err(format!("pickle protocol {v} is newer than 5"));
                }
            }
            0x95 => {
                self.take(8)?; // FRAME: its length only groups the opcodes that follow
            }
            b'.' => return Ok(true),
            b'(' => self.marks.push(self.stack.len()),
            b'0' => {
                if self.stack.len() > self.marks.last().copied().unwrap_or(0) {
                    self.pop()?;
                } else {
                    self.pop_mark()?;
                }
            }
            b'1' => {
                self.pop_mark()?;
            }
            b'2' => {
                let top = self.top()?.clone();
                self.stack.push(top);
            }
            b'N' => self.stack.push(Value::None),
            0x88 => self.stack.push(Value::Bool(true)),
            0x89 => self.stack.push(Value::Bool(false)),
            b'I' => {
                let line = self.text_line()?;
                let v = match line.as_str() {
                    "00" => Value::Bool(false),
                    "01" => Value::Bool(true),
                    s => Value::Int(parse_int(s)?),
                };
                self.stack.push(v);
            }
            b'J' => {
                let v = i32::from_le_bytes(self.array()?);
                self.stack.push(Value::Int(i64::from(v)));
            }
            b'K' => {
                let v = self.u8()?;
                self.stack.push(Value::Int(i64::from(v)));
            }
            b'M' => {
                let v = u16::from_le_bytes(self.array()?);
                self.stack.push(Value::Int(i64::from(v)));
            }
            b'L' => {
                let line = self.text_line()?;
                let v = parse_int(line.strip_suffix('L').unwrap_or(&line))?;
                self.stack.push(Value::Int(v));
            }
            0x8a => {
                let n = usize::from(self.u8()?);
                let v = long_le(self.take(n)?)?;
                self.stack.push(Value::Int(v));
            }
            0x8b => {
                let n = i32::from_le_bytes(self.array()?);
                let n = usize::try_from(n).map_err(|_| format!("negative length {n}"))?;
                let v = long_le(self.take(n)?)?;
                self.stack.push(Value::Int(v));
            }
            b'F' => {
                let line = self.text_line()?;
                let v: f64 = line
                    .parse()
                    .map_err(|_| format!("'{line}' is not a float"))?;
                self.stack.push(Value::Float(v));
            }
            b'G' => {
                let v = f64::from_be_bytes(self.array()?);
                self.stack.push(Value::Float(v));
            }
            b'S' => {
                let line = self.line()?;
                let v = python2_string_literal(line)?;
                self.stack.push(Value::Bytes(v.into()));
            }
            b'T' => {
                let n = i32::from_le_bytes(self.array()?);
                let n = usize::try_from(n).map_err(|_| format!("negative length {n}"))?;
                self.push_bytes(n)?;
            }
            b'U' | b'C' => {
                let n = usize::from(self.u8()?);
                self.push_bytes(n)?;
            }
            b'B' => {
                let n = u32::from_le_bytes(self.array()?) as usize;
                self.push_bytes(n)?;
            }
            0x8e | 0x96 => {
                let n = self.len8()?;
                self.push_bytes(n)?;
            }
            b'V' => {
                let line = self.line()?;
                let v = raw_unicode_escape(line)?;
                self.stack.push(Value::Str(v.into()));
            }
            b'X' => {
                let n = u32::from_le_bytes(self.array()?) as usize;
                self.push_str(n)?;
            }
            0x8c => {
                let n = usize::from(self.u8()?);
                self.push_str(n)?;
            }
            0x8d => {
                let n = self.len8()?;
                self.push_str(n)?;
            }
            b')' => {
                self.count_container()?;
                self.stack.push(Value::Tuple(Rc::from(Vec::new())));
            }
            b't' => {
                let items = self.pop_mark()?;
                self.push_tuple(items)?;
            }
            0x85..=0x87 => {
                let n = usize::from(op - 0x84);
                if self.stack.len() < n + self.marks.last().copied().unwrap_or(0) {
                    return Err(format!("TUPLE{n} needs {n} values on the stack"));
                }
                let items = self.stack.split_off(self.stack.len() - n);
                self.push_tuple(items)?;
            }
            b']' | 0x8f => {
                self.count_container()?;
                self.stack
                    .push(Value::List(Rc::new(RefCell::new(Vec::new()))));
            }
            b'l' | 0x91 => {
                let items = self.pop_mark()?;
                self.count_container()?;
                self.stack.push(Value::List(Rc::new(RefCell::new(items))));
            }
            b'a' => {
                let v = self.pop()?;
                self.list_top()?.borrow_mut().push(v);
            }
            b'e' | 0x90 => {
                let items = self.pop_mark()?;
                self.list_top()?.borrow_mut().extend(items);
            }
            b'}' => {
                self.count_container()?;
                self.stack
                    .push(Value::Dict(Rc::new(RefCell::new(Vec::new()))));
            }
            b'd' => {
                let items = self.pop_mark()?;
                let pairs = pairs(items)?;
                self.count_container()?;
                self.stack.push(Value::Dict(Rc::new(RefCell::new(pairs))));
            }
            b's' => {
                let v = self.pop()?;
                let k = self.pop()?;
                set_items(self.top()?, vec![(k, v)])?;
            }
            b'u' => {
                let items = self.pop_mark()?;
                let pairs = pairs(items)?;
                set_items(self.top()?, pairs)?;
            }
            b'c' => {
                let module = self.text_line()?;
                let name = self.text_line()?;
                self.stack.push(Value::Global(Rc::new((module, name))));
            }
            0x93 => {
                let name = self.pop()?;
                let module = self.pop()?;
                match (module, name) {
                    (Value::Str(m), Value::Str(n)) => self
                        .stack
                        .push(Value::Global(Rc::new((m.to_string(), n.to_string())))),
                    (m, n) => {
                        return Err(format!(
                            "STACK_GLOBAL needs two str, found {} and {}",
                            m.kind(),
                            n.kind()
                        ))
                    }
                }
            }
            b'R' => {
                let args = self.pop()?;
                let callable = self.pop()?;
                let v = self.call(&callable, &args)?;
                self.stack.push(v);
            }
            b'b' => {
                let state = self.pop()?;
                build(self.top()?, state)?;
            }
            b'p' => {
                let line = self.text_line()?;
                let i = parse_memo_index(&line)?;
                self.put(i)?;
            }
            b'q' => {
                let i = u64::from(self.u8()?);
                self.put(i)?;
            }
            b'r' => {
                let i = u64::from(u32::from_le_bytes(self.array()?));
                self.put(i)?;
            }
            0x94 => {
                let i = self.memo.len() as u64;
                self.put(i)?;
            }
            b'g' => {
                let line = self.text_line()?;
                let i = parse_memo_index(&line)?;
                self.get(i)?;
            }
            b'h' => {
                let i = u64::from(self.u8()?);
                self.get(i)?;
            }
            b'j' => {
                let i = u64::from(u32::from_le_bytes(self.array()?));
                self.get(i)?;
            }
            0x98 => {} // READONLY_BUFFER: marks the buffer on the stack read-only
            op => {
                return Err(match unsupported_name(op) {
                    Some(name) => format!(
                        "{name} is not supported: a data pickle holds plain values and NumPy \
                         arrays, not arbitrary objects{}",
                        if op == 0x97 {
                            " (out-of-band buffers are not in the file)"
                        } else {
                            ""
                        }
                    ),
                    None => "not a pickle opcode (corrupt or not a pickle file)".to_string(),
                })
            }
        }
        Ok(false)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let left = self.bytes.len() - self.pos;
        if n > left {
            return Err(format!(
                "needs {n} more bytes, the file has {left} left (truncated?)"
            ));
        }
        let s = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let s = self.take(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.array::<1>()?[0])
    }

    fn len8(&mut self) -> Result<usize, String> {
        let n = u64::from_le_bytes(self.array()?);
        usize::try_from(n).map_err(|_| format!("length {n} does not fit in memory"))
    }

    /// The bytes up to the next newline (which is consumed, not returned).
    fn line(&mut self) -> Result<&'a [u8], String> {
        let rest = &self.bytes[self.pos..];
        let end = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or("its text argument has no end of line (truncated?)")?;
        self.pos += end + 1;
        Ok(&rest[..end])
    }

    fn text_line(&mut self) -> Result<String, String> {
        let line = self.line()?;
        std::str::from_utf8(line)
            .map(str::to_string)
            .map_err(|_| "its text argument is not UTF-8".to_string())
    }

    fn push_bytes(&mut self, n: usize) -> Result<(), String> {
        let b = self.take(n)?;
        self.stack.push(Value::Bytes(Rc::from(b)));
        Ok(())
    }

    fn push_str(&mut self, n: usize) -> Result<(), String> {
        let b = self.take(n)?;
        let s = std::str::from_utf8(b).map_err(|_| "a str that is not UTF-8".to_string())?;
        self.stack.push(Value::Str(Rc::from(s)));
        Ok(())
    }

    fn push_tuple(&mut self, items: Vec<Value>) -> Result<(), String> {
        self.count_container()?;
        self.stack.push(Value::Tuple(Rc::from(items)));
        Ok(())
    }

    fn count_container(&mut self) -> Result<(), String> {
        self.containers += 1;
        if self.containers > MAX_CONTAINERS {
            return Err(format!(
                "more than {MAX_CONTAINERS} lists, tuples, dicts and objects: not a data file \
                 this reader takes"
            ));
        }
        Ok(())
    }

    fn pop(&mut self) -> Result<Value, String> {
        if self.stack.len() <= self.marks.last().copied().unwrap_or(0) {
            return Err("the stack (above the last MARK) is empty".into());
        }
        Ok(self.stack.pop().expect("checked above"))
    }

    fn top(&self) -> Result<&Value, String> {
        if self.stack.len() <= self.marks.last().copied().unwrap_or(0) {
            return Err("the stack (above the last MARK) is empty".into());
        }
        Ok(self.stack.last().expect("checked above"))
    }

    fn pop_mark(&mut self) -> Result<Vec<Value>, String> {
        let at = self.marks.pop().ok_or("no MARK to pop to")?;
        Ok(self.stack.split_off(at))
    }

    fn list_top(&self) -> Result<&Rc<RefCell<Vec<Value>>>, String> {
        match self.top()? {
            Value::List(l) => Ok(l),
            v => Err(format!("appends to {}, not a list", v.kind())),
        }
    }

    fn put(&mut self, i: u64) -> Result<(), String> {
        let v = self.top()?.clone();
        self.memo.insert(i, v);
        Ok(())
    }

    fn get(&mut self, i: u64) -> Result<(), String> {
        let v = self
            .memo
            .get(&i)
            .ok_or_else(|| format!("memo entry {i} was never stored"))?
            .clone();
        self.stack.push(v);
        Ok(())
    }

    /// REDUCE: the calls a data pickle makes, and only those.
    fn call(&mut self, callable: &Value, args: &Value) -> Result<Value, String> {
        let Value::Global(g) = callable else {
            return Err(format!("calls {}, not a global", callable.kind()));
        };
        let Value::Tuple(args) = args else {
            return Err(format!("the arguments are {}, not a tuple", args.kind()));
        };
        let (module, name) = (g.0.as_str(), g.1.as_str());
        let numpy = |m: &str, sub: &str| {
            m.strip_prefix("numpy.")
                .is_some_and(|rest| rest == format!("core.{sub}") || rest == format!("_core.{sub}"))
        };
        match (module, name) {
            // Python 3 bytes in protocols 0-2: _codecs.encode(str, 'latin1').
            ("_codecs", "encode") => match &args[..] {
                [Value::Str(s), enc] | [Value::Str(s), enc, _] => {
                    let enc = enc.as_text().unwrap_or_default().to_ascii_lowercase();
                    if !matches!(enc.as_str(), "latin1" | "latin-1" | "iso-8859-1" | "l1") {
                        return Err(format!("_codecs.encode to '{enc}' is not supported"));
                    }
                    let bytes: Result<Vec<u8>, _> =
                        s.chars().map(|c| u8::try_from(u32::from(c))).collect();
                    let bytes = bytes.map_err(|_| "a latin-1 str with a character above 255")?;
                    Ok(Value::Bytes(bytes.into()))
                }
                _ => Err("_codecs.encode needs (str, encoding)".into()),
            },
            ("__builtin__" | "builtins", "bytes" | "bytearray") => match &args[..] {
                [] => Ok(Value::Bytes(Rc::from(Vec::new()))),
                [Value::Bytes(b)] => Ok(Value::Bytes(b.clone())),
                _ => Err(format!("{name}() with these arguments is not supported")),
            },
            ("__builtin__" | "builtins", "set" | "frozenset") => {
                self.count_container()?;
                let items = match &args[..] {
                    [] => Vec::new(),
                    [Value::List(l)] => l.borrow().clone(),
                    _ => return Err(format!("{name}() with these arguments is not supported")),
                };
                Ok(Value::List(Rc::new(RefCell::new(items))))
            }
            (m, "_reconstruct") if numpy(m, "multiarray") => {
                self.count_container()?;
                Ok(Value::Array(Rc::new(RefCell::new(None))))
            }
            ("numpy" | "numpy.core.multiarray" | "numpy._core.multiarray", "dtype") => {
                let descr = args
                    .first()
                    .and_then(Value::as_text)
                    .ok_or("numpy.dtype needs a type string")?;
                self.count_container()?;
                Ok(Value::Dtype(Rc::new(RefCell::new(Dtype::parse(&descr)?))))
            }
            // NumPy's protocol-5 form: _frombuffer(buffer, dtype, shape, order).
            (m, "_frombuffer") if numpy(m, "numeric") => {
                let [Value::Bytes(buf), Value::Dtype(dt), shape, order] = &args[..] else {
                    return Err("_frombuffer needs (buffer, dtype, shape, order)".into());
                };
                let fortran = order.as_text().as_deref() == Some("F");
                let array = checked_array(shape, &dt.borrow(), fortran, buf.clone())?;
                self.count_container()?;
                Ok(Value::Array(Rc::new(RefCell::new(Some(array)))))
            }
            (m, n) => Err(format!(
                "calls {m}.{n}, which this reader does not run (it rebuilds plain values and \
                 NumPy arrays only)"
            )),
        }
    }
}

/// BUILD: set the state of an object made by REDUCE.
fn build(obj: &Value, state: Value) -> Result<(), String> {
    match obj {
        Value::Array(a) => {
            let Value::Tuple(s) = &state else {
                return Err(format!(
                    "a NumPy array's state is {}, not a tuple",
                    state.kind()
                ));
            };
            // (version, shape, dtype, is_fortran, data), or the same without the version.
            let s = match s.len() {
                5 => &s[1..],
                4 => &s[..],
                n => return Err(format!("a NumPy array's state has {n} items, not 4 or 5")),
            };
            let Value::Dtype(dt) = &s[1] else {
                return Err(format!("a NumPy array's dtype is {}", s[1].kind()));
            };
            let fortran = s[2]
                .as_int()
                .ok_or("a NumPy array's order flag is not a bool")?
                != 0;
            let data = match &s[3] {
                Value::Bytes(b) => b.clone(),
                Value::List(_) => {
                    return Err("a NumPy array of Python objects is not supported".into())
                }
                v => return Err(format!("a NumPy array's data is {}", v.kind())),
            };
            let array = checked_array(&s[0], &dt.borrow(), fortran, data)?;
            *a.borrow_mut() = Some(array);
            Ok(())
        }
        Value::Dtype(dt) => {
            // (version, byte order, subdtype, names, fields, elsize, alignment, flags[, meta])
            let Value::Tuple(s) = &state else {
                return Err(format!(
                    "a NumPy dtype's state is {}, not a tuple",
                    state.kind()
                ));
            };
            let order = s.get(1).and_then(Value::as_text).unwrap_or_default();
            let mut dt = dt.borrow_mut();
            match order.as_str() {
                ">" => dt.big_endian = true,
                "<" | "|" | "=" => dt.big_endian = false,
                o => return Err(format!("a NumPy dtype with byte order '{o}'")),
            }
            if s.get(2..4)
                .is_some_and(|v| v.iter().any(|x| !matches!(x, Value::None)))
            {
                return Err("a NumPy dtype with fields or a sub-array is not supported".into());
            }
            Ok(())
        }
        Value::Dict(d) => match state {
            Value::Dict(s) => {
                let items = s.borrow().clone();
                d.borrow_mut().extend(items);
                Ok(())
            }
            s => Err(format!("a dict's state is {}", s.kind())),
        },
        v => Err(format!("sets the state of {}", v.kind())),
    }
}

/// An array after checking that `shape` is a tuple of sizes whose product times the element
/// size is the data's length.
fn checked_array(
    shape: &Value,
    dtype: &Dtype,
    fortran_order: bool,
    data: Rc<[u8]>,
) -> Result<NdArray, String> {
    let Value::Tuple(dims) = shape else {
        return Err(format!("a NumPy array's shape is {}", shape.kind()));
    };
    let shape = dims
        .iter()
        .map(|d| {
            d.as_int()
                .and_then(|v| usize::try_from(v).ok())
                .ok_or_else(|| format!("a NumPy array's shape holds {}", d.kind()))
        })
        .collect::<Result<Vec<usize>, String>>()?;
    let bytes = shape
        .iter()
        .try_fold(dtype.size, |acc, &d| acc.checked_mul(d))
        .ok_or("a NumPy array's shape overflows")?;
    if bytes != data.len() {
        return Err(format!(
            "a NumPy array of shape {shape:?} and {}-byte elements needs {bytes} bytes, its data \
             has {}",
            dtype.size,
            data.len()
        ));
    }
    Ok(NdArray {
        shape,
        dtype: dtype.clone(),
        fortran_order,
        data,
    })
}

fn set_items(target: &Value, items: Vec<(Value, Value)>) -> Result<(), String> {
    match target {
        Value::Dict(d) => {
            let mut d = d.borrow_mut();
            for (k, v) in items {
                // A later value for an equal key replaces the earlier one, as in Python.
                match d.iter_mut().find(|(old, _)| same_key(old, &k)) {
                    Some(slot) => slot.1 = v,
                    None => d.push((k, v)),
                }
            }
            Ok(())
        }
        v => Err(format!("sets items of {}, not a dict", v.kind())),
    }
}

fn same_key(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Str(x), Value::Str(y)) => x == y,
        (Value::Bytes(x), Value::Bytes(y)) => x == y,
        (Value::Int(x), Value::Int(y)) => x == y,
        _ => false,
    }
}

fn pairs(items: Vec<Value>) -> Result<Vec<(Value, Value)>, String> {
    if items.len() % 2 != 0 {
        return Err(format!("{} values for key-value pairs", items.len()));
    }
    let mut it = items.into_iter();
    let mut out = Vec::new();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        out.push((k, v));
    }
    Ok(out)
}

fn parse_int(s: &str) -> Result<i64, String> {
    s.trim()
        .parse()
        .map_err(|_| format!("'{s}' is not an integer this reader holds (64 bits)"))
}

fn parse_memo_index(s: &str) -> Result<u64, String> {
    s.trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a memo index"))
}

/// A little-endian two's-complement integer of `b.len()` bytes (LONG1 / LONG4).
fn long_le(b: &[u8]) -> Result<i64, String> {
    if b.is_empty() {
        return Ok(0);
    }
    if b.len() > 8 {
        // Allow sign-extension bytes beyond 8 only if they carry no value.
        let (low, high) = b.split_at(8);
        let fill = if low[7] & 0x80 != 0 { 0xff } else { 0 };
        if high.iter().any(|&x| x != fill) {
            return Err(format!(
                "an integer of {} bytes does not fit in 64 bits",
                b.len()
            ));
        }
        return long_le(low);
    }
    let mut le = [0u8; 8];
    le[..b.len()].copy_from_slice(b);
    if b[b.len() - 1] & 0x80 != 0 {
        le[b.len()..].fill(0xff);
    }
    Ok(i64::from_le_bytes(le))
}

/// The bytes of a Python 2 string literal as protocol 0 writes it (`repr`): quoted with `'` or
/// `"`, with backslash escapes.
fn python2_string_literal(line: &[u8]) -> Result<Vec<u8>, String> {
    let bad = || "a STRING argument that is not a quoted literal".to_string();
    let (&q, rest) = line.split_first().ok_or_else(bad)?;
    if !(q == b'\'' || q == b'"') || rest.last() != Some(&q) {
        return Err(bad());
    }
    let body = &rest[..rest.len() - 1];
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        let c = body[i];
        i += 1;
        if c != b'\\' {
            out.push(c);
            continue;
        }
        let e = *body.get(i).ok_or_else(bad)?;
        i += 1;
        match e {
            b'\\' | b'\'' | b'"' => out.push(e),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'a' => out.push(0x07),
            b'b' => out.push(0x08),
            b'f' => out.push(0x0c),
            b'v' => out.push(0x0b),
            b'x' => {
                let hex = body.get(i..i + 2).ok_or_else(bad)?;
                let s = std::str::from_utf8(hex).map_err(|_| bad())?;
                out.push(u8::from_str_radix(s, 16).map_err(|_| bad())?);
                i += 2;
            }
            b'0'..=b'7' => {
                let mut v = u32::from(e - b'0');
                let mut k = 0;
                while k < 2 && i < body.len() && (b'0'..=b'7').contains(&body[i]) {
                    v = v * 8 + u32::from(body[i] - b'0');
                    i += 1;
                    k += 1;
                }
                out.push((v & 0xff) as u8);
            }
            other => {
                // Python keeps an unknown escape as written.
                out.push(b'\\');
                out.push(other);
            }
        }
    }
    Ok(out)
}

/// The text of a protocol-0 UNICODE argument (`raw-unicode-escape`: bytes are Latin-1
/// characters, except `\uXXXX` and `\UXXXXXXXX`).
fn raw_unicode_escape(line: &[u8]) -> Result<String, String> {
    let mut out = String::with_capacity(line.len());
    let mut i = 0;
    while i < line.len() {
        let c = line[i];
        if c == b'\\' && matches!(line.get(i + 1), Some(b'u' | b'U')) {
            let n = if line[i + 1] == b'u' { 4 } else { 8 };
            let hex = line
                .get(i + 2..i + 2 + n)
                .ok_or("a truncated \\u escape in a UNICODE argument")?;
            let s = std::str::from_utf8(hex).map_err(|_| "a bad \\u escape")?;
            let v = u32::from_str_radix(s, 16).map_err(|_| "a bad \\u escape")?;
            out.push(char::from_u32(v).ok_or("a \\u escape that is not a character")?);
            i += 2 + n;
        } else {
            out.push(char::from(c));
            i += 1;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_values_protocol_0() {
        // pickle.dumps({'a': [1, 2.5, None, True], 'b': 'x\n'}, protocol=0) as Python 2 writes it.
        let p = b"(dp0\nS'a'\np1\n(lp2\nI1\naF2.5\naNaI01\nasS'b'\np3\nS'x\\n'\np4\ns.";
        let v = load(p).unwrap();
        let Value::List(l) = v.get("a").unwrap() else {
            panic!("not a list")
        };
        let l = l.borrow();
        assert_eq!(l[0].as_int(), Some(1));
        assert!(matches!(l[1], Value::Float(f) if f == 2.5));
        assert!(matches!(l[2], Value::None));
        assert!(matches!(l[3], Value::Bool(true)));
        assert!(matches!(v.get("b").unwrap(), Value::Bytes(b) if &*b == b"x\n"));
    }

    #[test]
    fn memo_shares_the_same_list() {
        // x = []; d = {'p': x, 'q': x}; then 7 appended to x through the memo shows in d.
        let p = b"\x80\x02}q\x00(X\x01\x00\x00\x00p]q\x01X\x01\x00\x00\x00qh\x01uh\x01K\x07a0.";
        let d = load(p).unwrap();
        for key in ["p", "q"] {
            let Some(Value::List(l)) = d.get(key) else {
                panic!("{key} is not a list")
            };
            assert_eq!(l.borrow().len(), 1);
        }
    }

    #[test]
    fn longs_and_escapes() {
        assert_eq!(long_le(&[0xff]).unwrap(), -1);
        assert_eq!(long_le(&[0x00, 0x80]).unwrap(), -32768);
        assert_eq!(long_le(&[0x10, 0x27]).unwrap(), 10_000);
        assert!(long_le(&[0; 9].iter().chain(&[1]).copied().collect::<Vec<_>>()).is_err());
        assert_eq!(
            python2_string_literal(b"'\\x00\\\\\\'a\\101'").unwrap(),
            b"\x00\\'aA"
        );
        assert_eq!(
            raw_unicode_escape(b"a\\u00e9\xe9").unwrap(),
            "a\u{e9}\u{e9}"
        );
    }

    #[test]
    fn bad_pickles_are_errors_not_panics() {
        for p in [
            &b""[..],
            b"\x80\x02",
            b"\x80\x06N.",
            b"a.",
            b"(t(.",
            b"h\x05.",
            b"\x80\x02cos\nsystem\nX\x02\x00\x00\x00lsR.",
            b"X\xff\xff\xff\xff",
            b"\x8d\xff\xff\xff\xff\xff\xff\xff\xff",
            b"\x8b\xff\xff\xff\xff",
            b"Z.",
        ] {
            assert!(load(p).is_err(), "{p:?}");
        }
        let msg = load(b"\x80\x02cos\nsystem\nX\x02\x00\x00\x00ls\x85R.").unwrap_err();
        assert!(msg.contains("os.system"), "{msg}");
    }

    #[test]
    fn deep_nesting_is_bounded() {
        // 10,000 lists, each appended into the previous: refused at the container bound.
        let mut p = b"\x80\x02".to_vec();
        for _ in 0..10_000 {
            p.extend_from_slice(b"]");
        }
        for _ in 0..9_999 {
            p.extend_from_slice(b"a");
        }
        p.push(b'.');
        let msg = load(&p).unwrap_err();
        assert!(msg.contains("more than"), "{msg}");
        // At the bound itself it loads, and drops, on a test thread's stack.
        let mut p = b"\x80\x02".to_vec();
        p.extend(std::iter::repeat_n(b']', MAX_CONTAINERS));
        p.extend(std::iter::repeat_n(b'a', MAX_CONTAINERS - 1));
        p.push(b'.');
        assert!(matches!(load(&p).unwrap(), Value::List(_)));
    }

    #[test]
    fn fortran_order_is_reordered() {
        let a = NdArray {
            shape: vec![2, 3],
            dtype: Dtype::parse("u1").unwrap(),
            fortran_order: true,
            // Column-major [[1, 2, 3], [4, 5, 6]].
            data: Rc::from(vec![1u8, 4, 2, 5, 3, 6]),
        };
        assert_eq!(a.bytes_c_order().unwrap(), vec![1, 2, 3, 4, 5, 6]);
        let b = NdArray {
            shape: vec![3],
            dtype: Dtype::parse(">i2").unwrap(),
            fortran_order: false,
            data: Rc::from(vec![0u8, 1, 0xff, 0xfe, 0x00, 0x09]),
        };
        assert_eq!(b.ints_c_order().unwrap(), vec![1, -2, 9]);
    }
}
