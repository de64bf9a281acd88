//! Checkpoint files: one safetensors file per fitted detector, holding its tensors and a
//! metadata block (method, config, crate version, ...). Writes are atomic (temporary file in
//! the same folder, then rename); reads check every tensor's presence, dtype and shape.
//!
//! Model files are meant to be shared, so a read trusts nothing in them: the safetensors
//! header and every tensor's offsets are checked against the file length when the file is
//! opened, a network's declared size is checked against the bytes the file holds
//! ([`Checkpoint::expect_parameters`]) before anything is built from it, and every tensor's
//! dtype, shape and finiteness is checked before its values are copied.
//!
//! Every file written here also stores a SHA-256 of its tensors ([`CHECKSUM_KEY`]), checked on
//! every read, so that damaged weights that stay finite (a flipped bit) are an error rather than
//! wrong scores.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use safetensors::SafeTensors;
use sha2::{Digest, Sha256};

use crate::error::{CoreError, Result};

/// Value of the `format` metadata key of every checkpoint this project writes.
pub const FORMAT: &str = "dasvdd-rs";

/// Metadata key of the checksum of a file's tensors: [`tensors_sha256`] as 64 lowercase hex
/// digits. [`save`] and [`save_arrays`] store it; every read ([`Checkpoint::open`],
/// [`read_metadata`], [`get_metadata`], [`set_metadata`]) recomputes it when it is present and
/// refuses a file whose tensors do not match. Files without it (written before it existed, or by
/// other tools) read as before.
///
/// It covers the tensors only (names, dtypes, shapes and data bytes), not the metadata: entries
/// added or changed later ([`set_metadata`]: the threshold and scaling of `dasvdd train`, the
/// Python package's metadata) leave it valid, and metadata is checked by its own readers.
pub const CHECKSUM_KEY: &str = "dasvdd_sha256";

/// The problem reported for a file whose tensors do not match its [`CHECKSUM_KEY`].
pub const DAMAGED: &str =
    "damaged: its weights do not match the checksum stored when it was written";

/// What a read found of a file's checksum ([`CHECKSUM_KEY`]); a mismatch is an error, except
/// for [`Checkpoint::open_to_inspect`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Integrity {
    /// The file stores a checksum and its tensors match it.
    Verified,
    /// The file stores no checksum (an older version or another tool wrote it): unchecked.
    Unchecked,
    /// The file stores a checksum its tensors do not match ([`DAMAGED`]); only
    /// [`Checkpoint::open_to_inspect`] opens such a file.
    Damaged,
}

/// SHA-256 of tensors (name, dtype, shape, little-endian data bytes), as lowercase hex: the
/// tensors sorted by name, each hashed as its name, its dtype's safetensors name (`F32`, ...)
/// and its data, each preceded by its length in bytes as a little-endian u64, and its shape as
/// its number of dimensions then each dimension, little-endian u64s; the whole preceded by
/// `dasvdd-rs tensors v1` and a newline.
pub fn tensors_sha256<'a>(
    tensors: impl IntoIterator<Item = (&'a str, safetensors::Dtype, &'a [usize], &'a [u8])>,
) -> String {
    let mut sorted: Vec<_> = tensors.into_iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let mut h = Sha256::new();
    h.update(b"dasvdd-rs tensors v1\n");
    let len = |n: usize| (n as u64).to_le_bytes();
    for (name, dtype, shape, data) in sorted {
        let dtype = format!("{dtype:?}");
        h.update(len(name.len()));
        h.update(name.as_bytes());
        h.update(len(dtype.len()));
        h.update(dtype.as_bytes());
        h.update(len(shape.len()));
        for d in shape {
            h.update(len(*d));
        }
        h.update(len(data.len()));
        h.update(data);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// [`tensors_sha256`] of the tensors of a parsed file.
fn file_sha256(st: &SafeTensors<'_>) -> String {
    let views = st.tensors();
    tensors_sha256(
        views
            .iter()
            .map(|(n, v)| (n.as_str(), v.dtype(), v.shape(), v.data())),
    )
}

/// Writes `bytes` to `path` atomically: a temporary file in the same folder (a unique hidden
/// name, removed on any error), synced, then renamed over `path`, so an interrupted write never
/// leaves a truncated file behind. `tempfile` does the naming and cleaning up, as it does for
/// `dasvdd_data::fileio::write_atomic` in the crates above data (core and data may not depend
/// on each other).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |source: std::io::Error| CoreError::Io {
        path: path.to_path_buf(),
        source,
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    // tempfile's own error for a missing folder names its random temporary file.
    folder_check(dir).map_err(io)?;
    let mut builder = tempfile::Builder::new();
    builder.prefix(".dasvdd-").suffix(".tmp");
    // As a file created the usual way: 0666 less the umask (tempfile's own default, 0600,
    // would make every result and model unreadable to the user's group).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let mut tmp = builder.tempfile_in(dir).map_err(io)?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}

/// Whether `dir` is a folder a file can be written into: the error says which folder is missing
/// or is not a folder.
fn folder_check(dir: &Path) -> std::io::Result<()> {
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(std::io::Error::new(
            std::io::ErrorKind::NotADirectory,
            format!("{} is not a folder", dir.display()),
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(std::io::Error::new(
            e.kind(),
            format!("the folder {} does not exist", dir.display()),
        )),
        Err(e) => Err(e),
    }
}

/// Saves named tensors and metadata as one safetensors file, atomically. The metadata always
/// gains `format`, `crate_version` and the tensors' checksum ([`CHECKSUM_KEY`]).
pub fn save(
    path: &Path,
    tensors: &[(String, Tensor)],
    metadata: HashMap<String, String>,
) -> Result<()> {
    let mut encoded = Vec::with_capacity(tensors.len());
    for (n, t) in tensors {
        let t = t.to_device(&Device::Cpu)?.contiguous()?;
        let dtype = safetensors::View::dtype(&t);
        let bytes = safetensors::View::data(&t).into_owned();
        encoded.push((n.as_str(), t.dims().to_vec(), dtype, bytes));
    }
    write_encoded(path, &encoded, metadata)
}

/// Writes tensors (name, shape, dtype, little-endian bytes) and metadata as one safetensors
/// file, atomically, the metadata gaining `format`, `crate_version` and [`CHECKSUM_KEY`].
fn write_encoded(
    path: &Path,
    encoded: &[(&str, Vec<usize>, safetensors::Dtype, Vec<u8>)],
    mut metadata: HashMap<String, String>,
) -> Result<()> {
    let problem = |problem: String| CoreError::Checkpoint {
        path: path.to_path_buf(),
        problem,
    };
    metadata.insert("format".into(), FORMAT.into());
    metadata
        .entry("crate_version".into())
        .or_insert_with(|| env!("CARGO_PKG_VERSION").into());
    metadata.insert(
        CHECKSUM_KEY.into(),
        tensors_sha256(
            encoded
                .iter()
                .map(|(n, shape, dtype, bytes)| (*n, *dtype, shape.as_slice(), bytes.as_slice())),
        ),
    );
    let mut views = Vec::with_capacity(encoded.len());
    for (name, shape, dtype, bytes) in encoded {
        let view = safetensors::tensor::TensorView::new(*dtype, shape.clone(), bytes)
            .map_err(|e| problem(format!("cannot encode tensor `{name}`: {e}")))?;
        views.push((name.to_string(), view));
    }
    let bytes = safetensors::serialize(views, Some(metadata))
        .map_err(|e| problem(format!("cannot serialise: {e}")))?;
    write_atomic(path, &in_fixed_order(bytes))
}

/// A serialised safetensors file with its header's entries, and the metadata's, in sorted
/// order. `safetensors::serialize` takes the metadata as a `HashMap`, whose order changes from
/// one process (and one map) to the next, so two saves of the same model differed in their
/// bytes; with the order fixed, the same tensors and metadata give the same file (a classical
/// baseline trained twice with the same seed: byte for byte; a network's file also records
/// each epoch's seconds, and two such files differ there alone). Only the header's JSON moves
/// (same entries, same length, padded with spaces to 8 bytes as the format asks); the tensors'
/// bytes and offsets are untouched. Bytes whose header cannot be read are returned as they
/// are.
fn in_fixed_order(bytes: Vec<u8>) -> Vec<u8> {
    fn sorted_json(value: &serde_json::Value) -> String {
        match value {
            serde_json::Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                let entries: Vec<String> = keys
                    .into_iter()
                    .map(|k| {
                        format!(
                            "{}:{}",
                            serde_json::Value::from(k.as_str()),
                            sorted_json(&map[k])
                        )
                    })
                    .collect();
                format!("{{{}}}", entries.join(","))
            }
            other => other.to_string(),
        }
    }
    let Some(len) = bytes
        .get(..8)
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .and_then(|b| usize::try_from(u64::from_le_bytes(b)).ok())
    else {
        return bytes;
    };
    let Some(header) = bytes.get(8..8usize.saturating_add(len)) else {
        return bytes;
    };
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(header) else {
        return bytes;
    };
    let mut text = sorted_json(&value).into_bytes();
    if text.len() > len {
        return bytes;
    }
    // The same entries give the same length; pad as safetensors does (to the old length).
    text.resize(len, b' ');
    let mut out = Vec::with_capacity(bytes.len());
    out.extend_from_slice(&bytes[..8]);
    out.extend_from_slice(&text);
    out.extend_from_slice(&bytes[8 + len..]);
    out
}

/// Values of one array of a model file: the classical baselines store f64 and i64 arrays besides
/// the networks' f32 tensors.
pub enum Array {
    /// 32-bit floats.
    F32(Vec<f32>),
    /// 64-bit floats.
    F64(Vec<f64>),
    /// 64-bit signed integers.
    I64(Vec<i64>),
}

impl Array {
    fn dtype(&self) -> safetensors::Dtype {
        match self {
            Array::F32(_) => safetensors::Dtype::F32,
            Array::F64(_) => safetensors::Dtype::F64,
            Array::I64(_) => safetensors::Dtype::I64,
        }
    }

    fn len(&self) -> usize {
        match self {
            Array::F32(v) => v.len(),
            Array::F64(v) => v.len(),
            Array::I64(v) => v.len(),
        }
    }

    fn to_le_bytes(&self) -> Vec<u8> {
        match self {
            Array::F32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            Array::F64(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            Array::I64(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        }
    }
}

/// Saves named arrays (name, shape, values) and metadata as one safetensors file, atomically:
/// the same format as [`save`], for models whose state is not candle tensors. The metadata
/// always gains `format`, `crate_version` and the arrays' checksum ([`CHECKSUM_KEY`]).
pub fn save_arrays(
    path: &Path,
    arrays: Vec<(&str, Vec<usize>, Array)>,
    metadata: HashMap<String, String>,
) -> Result<()> {
    let mut encoded = Vec::with_capacity(arrays.len());
    for (name, shape, array) in arrays {
        if shape.iter().product::<usize>() != array.len() {
            return Err(CoreError::Checkpoint {
                path: path.to_path_buf(),
                problem: format!(
                    "array `{name}` has {} values, not the {} of shape {shape:?}",
                    array.len(),
                    shape.iter().product::<usize>()
                ),
            });
        }
        encoded.push((name, shape, array.dtype(), array.to_le_bytes()));
    }
    write_encoded(path, &encoded, metadata)
}

/// A checkpoint read into memory, with checked access to its tensors and metadata.
pub struct Checkpoint {
    path: PathBuf,
    bytes: Vec<u8>,
    metadata: HashMap<String, String>,
    integrity: Integrity,
}

impl Checkpoint {
    /// Reads and parses the file; fails on anything that is not a safetensors file of this
    /// project, and on tensors that do not match the file's checksum ([`CHECKSUM_KEY`]).
    pub fn open(path: &Path) -> Result<Self> {
        Self::open_checked(path, true)
    }

    /// As [`Checkpoint::open`], but a file whose tensors do not match its checksum opens too,
    /// with [`Integrity::Damaged`]: to show what its metadata says (`dasvdd inspect`), never
    /// to load its weights.
    pub fn open_to_inspect(path: &Path) -> Result<Self> {
        Self::open_checked(path, false)
    }

    /// Reads and parses any safetensors file, its checksum verified as by [`Checkpoint::open`],
    /// without requiring this project's `format` entry: for a reader that looks at the
    /// metadata first (which method wrote the file) and checks the format with
    /// [`Checkpoint::check_format`] before reading tensors. The file is read once.
    pub fn read_any(path: &Path) -> Result<Self> {
        Self::read(path, true)
    }

    /// Fails unless the file is a checkpoint of this project (its `format` metadata).
    pub fn check_format(&self) -> Result<()> {
        if self.metadata.get("format").map(String::as_str) != Some(FORMAT) {
            return Err(
                self.error("not a checkpoint written by dasvdd-rs (metadata `format` is missing)")
            );
        }
        Ok(())
    }

    fn open_checked(path: &Path, refuse_damaged: bool) -> Result<Self> {
        let ck = Self::read(path, refuse_damaged)?;
        ck.check_format()?;
        Ok(ck)
    }

    /// Any safetensors file, read and parsed by [`read_safetensors`].
    fn read(path: &Path, refuse_damaged: bool) -> Result<Self> {
        let (bytes, metadata, integrity) = read_safetensors(path, refuse_damaged)?;
        Ok(Checkpoint {
            path: path.to_path_buf(),
            bytes,
            metadata,
            integrity,
        })
    }

    /// Whether the file's tensors were verified against its checksum ([`CHECKSUM_KEY`]) or it
    /// stores none (a mismatch fails [`Checkpoint::open`]; [`Checkpoint::open_to_inspect`]
    /// reports it as [`Integrity::Damaged`]).
    pub fn integrity(&self) -> Integrity {
        self.integrity
    }

    /// The file this checkpoint was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A checkpoint error naming this file.
    pub fn error(&self, problem: impl Into<String>) -> CoreError {
        CoreError::Checkpoint {
            path: self.path.clone(),
            problem: problem.into(),
        }
    }

    /// The method that wrote the file (`dasvdd`, `ocsvm`, ...).
    pub fn method(&self) -> Result<&str> {
        self.meta("method")
    }

    /// Errors unless the file was written by `method`.
    pub fn expect_method(&self, method: &str) -> Result<()> {
        let found = self.method()?;
        if found != method {
            return Err(self.error(format!("holds a `{found}` model, not a `{method}` model")));
        }
        Ok(())
    }

    /// A metadata value.
    pub fn meta(&self, key: &str) -> Result<&str> {
        self.metadata
            .get(key)
            .map(String::as_str)
            .ok_or_else(|| self.error(format!("metadata `{key}` is missing")))
    }

    /// A metadata value parsed as JSON.
    pub fn meta_json<T: serde::de::DeserializeOwned>(&self, key: &str) -> Result<T> {
        serde_json::from_str(self.meta(key)?)
            .map_err(|e| self.error(format!("metadata `{key}` is invalid: {e}")))
    }

    /// All metadata.
    pub fn metadata(&self) -> &HashMap<String, String> {
        &self.metadata
    }

    /// Bytes of tensor data the file holds (the file less its header).
    pub fn tensor_bytes(&self) -> usize {
        let header = self
            .bytes
            .get(..8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes)
            .unwrap_or(0);
        self.bytes
            .len()
            .saturating_sub(8)
            .saturating_sub(usize::try_from(header).unwrap_or(usize::MAX))
    }

    /// Errors unless the file can hold `params` f32 parameters, the size of the network that
    /// metadata `field` describes (`None`: a count too large for this machine's integers), so
    /// that a file naming a huge network is refused before anything is built from it.
    pub fn expect_parameters(&self, field: &str, params: Option<usize>) -> Result<()> {
        let available = self.tensor_bytes();
        match params.and_then(|p| p.checked_mul(4)) {
            Some(bytes) if bytes <= available => Ok(()),
            _ => Err(self.error(format!(
                "metadata `{field}` describes a network of {} f32 parameters, but the file \
                 holds only {available} bytes of tensor data",
                params.map_or_else(|| "more than 2^64".to_string(), |p| p.to_string())
            ))),
        }
    }

    /// The file's tensors.
    fn tensors(&self) -> Result<SafeTensors<'_>> {
        SafeTensors::deserialize(&self.bytes).map_err(|e| self.error(e.to_string()))
    }

    /// The view of tensor `name` of `st`, which must hold `dtype` values; nothing is copied.
    fn typed_view<'a>(
        &self,
        st: &SafeTensors<'a>,
        name: &str,
        dtype: safetensors::Dtype,
    ) -> Result<safetensors::tensor::TensorView<'a>> {
        let view = st
            .tensor(name)
            .map_err(|_| self.error(format!("tensor `{name}` is missing")))?;
        if view.dtype() != dtype {
            return Err(self.error(format!(
                "tensor `{name}` has dtype {:?}, expected {dtype:?}",
                view.dtype()
            )));
        }
        Ok(view)
    }

    /// The f32 view of tensor `name`, which must have exactly `shape`; nothing is copied.
    fn view_f32<'a>(
        &self,
        st: &SafeTensors<'a>,
        name: &str,
        shape: &[usize],
    ) -> Result<safetensors::tensor::TensorView<'a>> {
        let view = self.typed_view(st, name, safetensors::Dtype::F32)?;
        if view.shape() != shape {
            return Err(self.error(format!(
                "tensor `{name}` has shape {:?}, expected {shape:?}",
                view.shape()
            )));
        }
        Ok(view)
    }

    /// The raw little-endian bytes and the shape of array `name`, checked against `dtype` and
    /// `shape` (`None` entries match any size).
    fn raw(
        &self,
        name: &str,
        dtype: safetensors::Dtype,
        shape: &[Option<usize>],
    ) -> Result<(Vec<u8>, Vec<usize>)> {
        let st = self.tensors()?;
        let view = self.typed_view(&st, name, dtype)?;
        let found = view.shape();
        let fits = found.len() == shape.len()
            && found
                .iter()
                .zip(shape)
                .all(|(f, s)| s.is_none_or(|s| s == *f));
        if !fits {
            let expected: Vec<String> = shape
                .iter()
                .map(|s| s.map_or("_".into(), |s| s.to_string()))
                .collect();
            return Err(self.error(format!(
                "tensor `{name}` has shape {found:?}, expected [{}]",
                expected.join(", ")
            )));
        }
        Ok((view.data().to_vec(), found.to_vec()))
    }

    /// Array `name` of `dtype` decoded from its little-endian `N`-byte values by `from_le`, with
    /// its shape (`None` entries of `shape` match any size).
    fn decoded<T, const N: usize>(
        &self,
        name: &str,
        dtype: safetensors::Dtype,
        shape: &[Option<usize>],
        from_le: fn([u8; N]) -> T,
    ) -> Result<(Vec<T>, Vec<usize>)> {
        let (bytes, shape) = self.raw(name, dtype, shape)?;
        let values = bytes
            .chunks_exact(N)
            .map(|c| from_le(c.try_into().unwrap_or([0; N])))
            .collect();
        Ok((values, shape))
    }

    /// Array `name` as f64 values with its shape (`None` entries of `shape` match any size).
    pub fn f64s(&self, name: &str, shape: &[Option<usize>]) -> Result<(Vec<f64>, Vec<usize>)> {
        self.decoded(name, safetensors::Dtype::F64, shape, f64::from_le_bytes)
    }

    /// Array `name` as f32 values with its shape (`None` entries of `shape` match any size).
    pub fn f32s(&self, name: &str, shape: &[Option<usize>]) -> Result<(Vec<f32>, Vec<usize>)> {
        self.decoded(name, safetensors::Dtype::F32, shape, f32::from_le_bytes)
    }

    /// Array `name` as i64 values with its shape (`None` entries of `shape` match any size).
    pub fn i64s(&self, name: &str, shape: &[Option<usize>]) -> Result<(Vec<i64>, Vec<usize>)> {
        self.decoded(name, safetensors::Dtype::I64, shape, i64::from_le_bytes)
    }

    /// The scalar f64 array `name` (shape `[]`).
    pub fn f64_scalar(&self, name: &str) -> Result<f64> {
        let (v, _) = self.f64s(name, &[])?;
        v.first()
            .copied()
            .ok_or_else(|| self.error(format!("tensor `{name}` is empty")))
    }

    /// Length of the file in bytes.
    pub fn file_len(&self) -> usize {
        self.bytes.len()
    }

    /// Checks that tensor `name` is present, f32 and of exactly `shape`, without copying it.
    pub fn check_tensor(&self, name: &str, shape: &[usize]) -> Result<()> {
        let st = self.tensors()?;
        self.view_f32(&st, name, shape).map(|_| ())
    }

    /// The f32 tensor `name`, which must have exactly `shape` and hold only finite values, on
    /// `device`.
    pub fn tensor(&self, name: &str, shape: &[usize], device: &Device) -> Result<Tensor> {
        let st = self.tensors()?;
        let view = self.view_f32(&st, name, shape)?;
        let data = view.data();
        if let Some(i) = data
            .chunks_exact(4)
            .position(|c| !f32::from_le_bytes([c[0], c[1], c[2], c[3]]).is_finite())
        {
            return Err(self.error(format!(
                "tensor `{name}` holds a value that is not finite at index {i}"
            )));
        }
        let t = Tensor::from_raw_buffer(data, DType::F32, shape, &Device::Cpu)?;
        Ok(t.to_device(device)?)
    }

    /// The f32 tensor `name` with any shape, on the CPU, as (values, shape).
    pub fn tensor_any_shape(&self, name: &str) -> Result<(Vec<f32>, Vec<usize>)> {
        let st = self.tensors()?;
        let view = self.typed_view(&st, name, safetensors::Dtype::F32)?;
        let shape = view.shape().to_vec();
        let t = Tensor::from_raw_buffer(view.data(), DType::F32, &shape, &Device::Cpu)?;
        Ok((t.flatten_all()?.to_vec1::<f32>()?, shape))
    }
}

/// Reads a safetensors file whole, checks its header, every tensor's offsets and, when the file
/// stores one, its checksum ([`CHECKSUM_KEY`]), and returns the bytes with the metadata and what
/// the checksum said.
fn read_safetensors(
    path: &Path,
    refuse_damaged: bool,
) -> Result<(Vec<u8>, HashMap<String, String>, Integrity)> {
    let io = |source| CoreError::Io {
        path: path.to_path_buf(),
        source,
    };
    // A device (`/dev/zero`) would be read until memory runs out.
    #[cfg(unix)]
    if let Ok(m) = std::fs::metadata(path) {
        use std::os::unix::fs::FileTypeExt;
        let t = m.file_type();
        if t.is_char_device() || t.is_block_device() || t.is_socket() {
            return Err(io(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "a device, not a file",
            )));
        }
    }
    let bytes = std::fs::read(path).map_err(io)?;
    let invalid = |e: safetensors::SafeTensorError| CoreError::Checkpoint {
        path: path.to_path_buf(),
        problem: format!("not a valid safetensors file: {e}"),
    };
    let (_, meta) = SafeTensors::read_metadata(&bytes).map_err(invalid)?;
    let st = SafeTensors::deserialize(&bytes).map_err(invalid)?;
    let metadata = meta.metadata().clone().unwrap_or_default();
    let integrity = match metadata.get(CHECKSUM_KEY) {
        Some(stored) => {
            if stored.eq_ignore_ascii_case(&file_sha256(&st)) {
                Integrity::Verified
            } else if refuse_damaged {
                return Err(CoreError::Checkpoint {
                    path: path.to_path_buf(),
                    problem: DAMAGED.into(),
                });
            } else {
                Integrity::Damaged
            }
        }
        None => {
            tracing::debug!(
                file = %path.display(),
                "no `{CHECKSUM_KEY}` in the metadata: tensors not checked"
            );
            Integrity::Unchecked
        }
    };
    Ok((bytes, metadata, integrity))
}

/// Adds (or replaces) metadata entries of an existing safetensors file, keeping its tensors;
/// the rewrite is atomic. Used to store e.g. the preprocessing statistics of any detector. The
/// tensors' checksum ([`CHECKSUM_KEY`]) covers no metadata, so it stays as it was: verified
/// before the rewrite, still valid after it (and still absent from a file that had none).
pub fn set_metadata(path: &Path, entries: &[(&str, String)]) -> Result<()> {
    let (bytes, mut metadata, _) = read_safetensors(path, true)?;
    for (k, v) in entries {
        metadata.insert((*k).to_string(), v.clone());
    }
    let invalid = |e: safetensors::SafeTensorError| CoreError::Checkpoint {
        path: path.to_path_buf(),
        problem: format!("cannot rewrite: {e}"),
    };
    let st = SafeTensors::deserialize(&bytes).map_err(invalid)?;
    let out = safetensors::serialize(st.tensors(), Some(metadata)).map_err(invalid)?;
    write_atomic(path, &in_fixed_order(out))
}

/// Reads one metadata entry of any safetensors file (`None` when absent).
pub fn get_metadata(path: &Path, key: &str) -> Result<Option<String>> {
    Ok(read_metadata(path)?.remove(key))
}

/// Reads all metadata entries of any safetensors file at once (each [`get_metadata`] call reads
/// and checks the whole file, its checksum included).
pub fn read_metadata(path: &Path) -> Result<HashMap<String, String>> {
    Ok(read_safetensors(path, true)?.1)
}
