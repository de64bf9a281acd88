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

/// Most dimensions of a NumPy array (NumPy 2's `NPY_MAXDIMS`).
const MAX_DIMS: usize = 64;

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

/// Dropping a value frees its nesting with a loop, not by recursion, so that no nesting depth
/// a file builds can exhaust the stack: each container this value owns alone gives its items
/// to a worklist before it goes.
impl Drop for Value {
    fn drop(&mut self) {
        let mut pending = Vec::new();
        take_items(self, &mut pending);
        while let Some(mut v) = pending.pop() {
            take_items(&mut v, &mut pending);
        }
    }
}

/// Moves the items of a container that `v` alone holds into `out`, leaving it empty.
fn take_items(v: &mut Value, out: &mut Vec<Value>) {
    match v {
        Value::List(l) => {
            if let Some(cell) = Rc::get_mut(l) {
                out.append(cell.get_mut());
            }
        }
        Value::Tuple(t) => {
            if let Some(items) = Rc::get_mut(t) {
                out.extend(items.iter_mut().map(|x| std::mem::replace(x, Value::None)));
            }
        }
        Value::Dict(d) => {
            if let Some(cell) = Rc::get_mut(d) {
                for (k, x) in cell.get_mut().drain(..) {
                    out.push(k);
                    out.push(x);
                }
            }
        }
        _ => {}
    }
}

impl Value {
    /// The value under `key` of a dict whose key is that str or those bytes (the last one set,
    /// as in Python).
    pub(crate) fn get(&self, key: &str) -> Option<Value> {
        let Value::Dict(d) = self else { return None };
        d.borrow()
            .iter()
            .rev()
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
        made: 0,
    };
    let result = m.run();
    // A list or dict that holds itself (through any path) would never be freed by reference
    // counting. No data file has one: find them once, break them, and refuse the file.
    let mut roots: Vec<Value> = std::mem::take(&mut m.stack);
    roots.extend(m.memo.drain().map(|(_, v)| v));
    if let Ok(v) = &result {
        roots.push(v.clone());
    }
    let (reached, cycle) = containers_and_cycle(&roots);
    if !cycle {
        return result;
    }
    for c in &reached {
        match c {
            Value::List(l) => l.borrow_mut().clear(),
            Value::Dict(d) => d.borrow_mut().clear(),
            _ => {}
        }
    }
    result.and(Err(
        "a list or dict that contains itself, which no data file holds".to_string(),
    ))
}

/// The identity of a container (its allocation), for the walk below.
fn address(v: &Value) -> Option<usize> {
    match v {
        Value::List(l) => Some(Rc::as_ptr(l) as *const u8 as usize),
        Value::Tuple(t) => Some(Rc::as_ptr(t) as *const u8 as usize),
        Value::Dict(d) => Some(Rc::as_ptr(d) as *const u8 as usize),
        _ => None,
    }
}

/// The values a container holds.
fn items(v: &Value) -> Vec<Value> {
    match v {
        Value::List(l) => l.borrow().clone(),
        Value::Tuple(t) => t.to_vec(),
        Value::Dict(d) => d
            .borrow()
            .iter()
            .flat_map(|(k, x)| [k.clone(), x.clone()])
            .collect(),
        _ => Vec::new(),
    }
}

/// Every container reachable from `roots`, once each, and whether any lies on a cycle: a
/// depth-first walk with an explicit stack (no recursion, whatever the nesting).
fn containers_and_cycle(roots: &[Value]) -> (Vec<Value>, bool) {
    const ON_PATH: bool = true;
    let mut seen: HashMap<usize, bool> = HashMap::new();
    let mut reached = Vec::new();
    let mut cycle = false;
    for root in roots {
        let Some(a) = address(root) else { continue };
        if seen.contains_key(&a) {
            continue;
        }
        seen.insert(a, ON_PATH);
        reached.push(root.clone());
        let mut path = vec![(a, items(root), 0usize)];
        while let Some(top) = path.len().checked_sub(1) {
            let (a, ref kids, i) = path[top];
            if i == kids.len() {
                seen.insert(a, !ON_PATH);
                path.pop();
                continue;
            }
            let kid = kids[i].clone();
            path[top].2 += 1;
            let Some(b) = address(&kid) else { continue };
            match seen.get(&b) {
                Some(&ON_PATH) => cycle = true,
                Some(_) => {}
                None => {
                    seen.insert(b, ON_PATH);
                    let grandkids = items(&kid);
                    reached.push(kid);
                    path.push((b, grandkids, 0));
                }
            }
        }
    }
    (reached, cycle)
}

struct Machine<'a> {
    bytes: &'a [u8],
    pos: usize,
    stack: Vec<Value>,
    /// Stack lengths at each MARK, innermost last.
    marks: Vec<usize>,
    memo: HashMap<u64, Value>,
    /// Bytes made by calls (`_codecs.encode`), bounded by the file's length.
    made: usize,
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
                if self.above_mark() > 0 {
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
                self.stack.push(Value::Tuple(Rc::from(Vec::new())));
            }
            b't' => {
                let items = self.pop_mark()?;
                self.push_tuple(items)?;
            }
            0x85..=0x87 => {
                let n = usize::from(op - 0x84);
                if self.above_mark() < n {
                    return Err(format!("TUPLE{n} needs {n} values on the stack"));
                }
                let items = self.stack.split_off(self.stack.len() - n);
                self.push_tuple(items)?;
            }
            b']' | 0x8f => {
                self.stack
                    .push(Value::List(Rc::new(RefCell::new(Vec::new()))));
            }
            b'l' | 0x91 => {
                let items = self.pop_mark()?;
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
                self.stack
                    .push(Value::Dict(Rc::new(RefCell::new(Vec::new()))));
            }
            b'd' => {
                let items = self.pop_mark()?;
                let pairs = pairs(items)?;
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
                match (&module, &name) {
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
            b'p' | b'q' | b'r' | 0x94 => {
                let i = self.memo_index(op)?;
                self.put(i)?;
            }
            b'g' | b'h' | b'j' => {
                let i = self.memo_index(op)?;
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
        self.stack.push(Value::Tuple(Rc::from(items)));
        Ok(())
    }

    /// How many values lie on the stack above the last MARK (all of them without one).
    fn above_mark(&self) -> usize {
        self.stack
            .len()
            .saturating_sub(self.marks.last().copied().unwrap_or(0))
    }

    fn pop(&mut self) -> Result<Value, String> {
        self.top()?;
        Ok(self.stack.pop().expect("top checked it"))
    }

    fn top(&self) -> Result<&Value, String> {
        if self.above_mark() == 0 {
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

    /// The memo key a PUT or GET opcode names: a line of text (PUT, GET), one byte (BINPUT,
    /// BINGET), four (LONG_BINPUT, LONG_BINGET), or the memo's size (MEMOIZE).
    fn memo_index(&mut self, op: u8) -> Result<u64, String> {
        Ok(match op {
            b'p' | b'g' => parse_memo_index(&self.text_line()?)?,
            b'q' | b'h' => u64::from(self.u8()?),
            b'r' | b'j' => u64::from(u32::from_le_bytes(self.array()?)),
            _ => self.memo.len() as u64,
        })
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
                    // Each str of a real file is encoded once, so what is made stays within the
                    // file's size; a str encoded again and again would not.
                    self.made = self.made.saturating_add(bytes.len());
                    if self.made > self.bytes.len() {
                        return Err(
                            "encodes more bytes than the file holds (a crafted file?)".into()
                        );
                    }
                    Ok(Value::Bytes(bytes.into()))
                }
                _ => Err("_codecs.encode needs (str, encoding)".into()),
            },
            ("__builtin__" | "builtins", "bytes" | "bytearray") => match &args[..] {
                [] => Ok(Value::Bytes(Rc::from(Vec::new()))),
                [Value::Bytes(b)] => Ok(Value::Bytes(b.clone())),
                _ => Err(format!("{name}() with these arguments is not supported")),
            },
            // set(list) shares the list rather than copying it: a copy per call would let a
            // few bytes of REDUCE repeat a long list's memory.
            ("__builtin__" | "builtins", "set" | "frozenset") => match &args[..] {
                [] => Ok(Value::List(Rc::new(RefCell::new(Vec::new())))),
                [Value::List(l)] => Ok(Value::List(l.clone())),
                _ => Err(format!("{name}() with these arguments is not supported")),
            },
            (m, "_reconstruct") if numpy(m, "multiarray") => {
                Ok(Value::Array(Rc::new(RefCell::new(None))))
            }
            ("numpy" | "numpy.core.multiarray" | "numpy._core.multiarray", "dtype") => {
                let descr = args
                    .first()
                    .and_then(Value::as_text)
                    .ok_or("numpy.dtype needs a type string")?;
                Ok(Value::Dtype(Rc::new(RefCell::new(Dtype::parse(&descr)?))))
            }
            // NumPy's protocol-5 form: _frombuffer(buffer, dtype, shape, order).
            (m, "_frombuffer") if numpy(m, "numeric") => {
                let [Value::Bytes(buf), Value::Dtype(dt), shape, order] = &args[..] else {
                    return Err("_frombuffer needs (buffer, dtype, shape, order)".into());
                };
                let fortran = order.as_text().as_deref() == Some("F");
                let array = checked_array(shape, &dt.borrow(), fortran, buf.clone())?;
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
        // Objects' states (BUILD on what INST, OBJ or NEWOBJ made) are not data: refused, as
        // those opcodes are.
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
    if dims.len() > MAX_DIMS {
        return Err(format!(
            "a NumPy array of {} dimensions (NumPy allows {MAX_DIMS})",
            dims.len()
        ));
    }
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

/// Adds the pairs to a dict. An equal key set again is kept twice and [`Value::get`] finds the
/// last, which is Python's result without a search per insertion (so that a crafted file of
/// many keys costs linear time).
fn set_items(target: &Value, items: Vec<(Value, Value)>) -> Result<(), String> {
    match target {
        Value::Dict(d) => {
            d.borrow_mut().extend(items);
            Ok(())
        }
        v => Err(format!("sets items of {}, not a dict", v.kind())),
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
        let a = v.get("a").unwrap();
        let Value::List(l) = &a else {
            panic!("not a list")
        };
        let l = l.borrow();
        assert_eq!(l[0].as_int(), Some(1));
        assert!(matches!(l[1], Value::Float(f) if f == 2.5));
        assert!(matches!(l[2], Value::None));
        assert!(matches!(l[3], Value::Bool(true)));
        assert!(matches!(&v.get("b").unwrap(), Value::Bytes(b) if &**b == b"x\n"));
    }

    #[test]
    fn memo_shares_the_same_list() {
        // x = []; d = {'p': x, 'q': x}; then 7 appended to x through the memo shows in d.
        let p = b"\x80\x02}q\x00(X\x01\x00\x00\x00p]q\x01X\x01\x00\x00\x00qh\x01uh\x01K\x07a0.";
        let d = load(p).unwrap();
        for key in ["p", "q"] {
            let Some(Value::List(l)) = &d.get(key) else {
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
    fn deep_nesting_drops_without_recursion() {
        // 200,000 lists, each appended into the one before, and 200,000 nested tuples: a
        // recursive drop would overflow a test thread's 2 MiB stack long before.
        for (open, close) in [(b"]".as_slice(), b"a".as_slice()), (b"N", b"\x85")] {
            let mut p = b"\x80\x02".to_vec();
            p.extend(open.iter().cycle().take(200_000));
            if open == b"]" {
                p.extend(close.iter().cycle().take(199_999));
            } else {
                p.extend(close.iter().cycle().take(200_000));
            }
            p.push(b'.');
            let v = load(&p).unwrap();
            assert!(matches!(v, Value::List(_) | Value::Tuple(_)));
            drop(v);
        }
    }

    #[test]
    fn self_holding_containers_are_refused_and_freed() {
        // A list appended to itself, and a dict holding a tuple that holds the dict.
        for p in [
            &b"\x80\x02]q\x00h\x00a."[..],
            b"\x80\x02}q\x00K\x01h\x00\x85s.",
        ] {
            let msg = load(p).unwrap_err();
            assert!(msg.contains("contains itself"), "{msg}");
        }
        // The same value twice (shared, not a cycle) is fine.
        let v = load(b"\x80\x02]q\x00h\x00\x86.").unwrap();
        assert!(matches!(v, Value::Tuple(_)));
        // Freed: a weak reference to the list taken during loading is dead afterwards.
        let mut m = Machine {
            bytes: b"\x80\x02]q\x00h\x00a.",
            pos: 0,
            stack: Vec::new(),
            marks: Vec::new(),
            memo: HashMap::new(),
            made: 0,
        };
        let v = m.run().unwrap();
        let Value::List(l) = &v else {
            panic!("the machine alone loads a list")
        };
        let weak = Rc::downgrade(l);
        drop(v);
        drop(m);
        assert!(weak.upgrade().is_some(), "a cycle left alone leaks");
        let cycle = weak.upgrade().unwrap();
        let (reached, found) = containers_and_cycle(&[Value::List(cycle)]);
        assert!(found);
        for c in &reached {
            if let Value::List(l) = c {
                l.borrow_mut().clear();
            }
        }
        drop(reached);
        assert!(weak.upgrade().is_none(), "broken, the cycle is freed");
    }

    #[test]
    fn no_few_bytes_multiply_memory() {
        // The fuzzer's find: a dict BUILT with itself, DUP, again and again, doubled each time.
        let mut p = b"\x80\x02}K\x01K\x02s".to_vec();
        p.extend(std::iter::repeat_n(*b"2b", 64).flatten());
        p.push(b'.');
        let msg = load(&p).unwrap_err();
        assert!(msg.contains("sets the state of a dict"), "{msg}");
        // One long str encoded again and again is refused once the bytes made pass the file's.
        let mut p = b"\x80\x02c_codecs\nencode\nq\x00X\x00\x04\x00\x00".to_vec();
        p.extend(std::iter::repeat_n(b'a', 1024));
        p.extend_from_slice(b"q\x01X\x06\x00\x00\x00latin1q\x02]q\x03(");
        p.extend(std::iter::repeat_n(*b"h\x00h\x01h\x02\x86R", 100).flatten());
        p.extend_from_slice(b"e.");
        let msg = load(&p).unwrap_err();
        assert!(msg.contains("more bytes than the file holds"), "{msg}");
        // Many keys cost linear time, and the last value set for a key is the one read.
        let mut p = b"\x80\x02}(".to_vec();
        for i in 0..20_000u32 {
            p.push(b'J');
            p.extend_from_slice(&i.to_le_bytes());
            p.extend_from_slice(b"K\x00");
        }
        p.extend_from_slice(b"uX\x01\x00\x00\x00kK\x01sX\x01\x00\x00\x00kK\x02s.");
        assert_eq!(load(&p).unwrap().get("k").unwrap().as_int(), Some(2));
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
