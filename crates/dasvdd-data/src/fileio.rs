//! Small file helpers shared by the readers and writers: whole-file reads with transparent
//! gzip decompression, and atomic writes (temporary file in the same directory, then rename).

use std::io::{Read, Write};
use std::path::Path;

use crate::error::{DataError, Result};

/// The two magic bytes that open every gzip member.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Whether the entry's name starts with a dot: a hidden file, such as the `._name` AppleDouble
/// files that macOS writes beside every file it copies to a foreign disk. Folder readers skip
/// them, as Python's `glob("*.wav")` does.
pub fn is_hidden(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|n| n.as_encoded_bytes().first() == Some(&b'.'))
}

/// Reads the whole file at `path`.
pub fn read_bytes(path: &Path) -> Result<Vec<u8>> {
    not_a_device(path).map_err(|e| DataError::io(path, e))?;
    std::fs::read(path).map_err(|e| DataError::io(path, e))
}

/// Fails for a device or a socket (`/dev/zero`, `/dev/urandom`, a terminal), which a whole-file
/// read would read until memory runs out; files, pipes (`<(...)`) and whatever cannot be
/// examined pass, to fail or succeed in the read itself.
pub fn not_a_device(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if let Ok(m) = std::fs::metadata(path) {
            let t = m.file_type();
            if t.is_char_device() || t.is_block_device() || t.is_socket() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "a device, not a file",
                ));
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Reads the whole file at `path`, decompressing it when it is gzip (detected by its magic
/// bytes, not by its name). A truncated or corrupt gzip stream is a format error.
pub fn read_maybe_gz(path: &Path) -> Result<Vec<u8>> {
    let raw = read_bytes(path)?;
    if raw.len() >= 2 && raw[..2] == GZIP_MAGIC {
        gunzip(&raw).map_err(|problem| DataError::format(path, problem))
    } else {
        Ok(raw)
    }
}

/// Decompresses a whole gzip stream held in memory (one or more members).
///
/// `GzDecoder` checks the CRC-32 and length trailer of the member, so truncation and most
/// byte flips are reported rather than silently yielding short data.
///
/// The output is bounded by [`MAX_GUNZIP_BYTES`], so a small crafted file (deflate expands up to
/// 1032 times) cannot exhaust memory: a stream that would decompress beyond it is an error.
pub fn gunzip(raw: &[u8]) -> std::result::Result<Vec<u8>, String> {
    gunzip_limited(raw, MAX_GUNZIP_BYTES)
}

/// The most bytes [`gunzip`] produces: 4 GiB, far above any dataset file the readers take
/// (the largest, EMNIST's by-class training images, are about 550 MB decompressed).
pub const MAX_GUNZIP_BYTES: u64 = 4 << 30;

/// [`gunzip`] with an explicit bound on the decompressed size, in bytes.
pub fn gunzip_limited(raw: &[u8], limit: u64) -> std::result::Result<Vec<u8>, String> {
    let start = (raw.len().saturating_mul(4) as u64).min(limit) as usize;
    let mut out = Vec::with_capacity(start);
    let decoder = flate2::read::MultiGzDecoder::new(raw);
    // One byte past the limit tells a stream that exactly fills it from one that exceeds it.
    decoder
        .take(limit.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| format!("corrupt or truncated gzip data: {e}"))?;
    if out.len() as u64 > limit {
        return Err(format!(
            "gzip data decompresses to more than {limit} bytes (the limit for one file); \
             it is not a dataset file this reader takes, or it is a decompression bomb"
        ));
    }
    Ok(out)
}

/// Is `raw` a gzip stream (by its magic bytes)?
pub fn is_gzip(raw: &[u8]) -> bool {
    raw.len() >= 2 && raw[..2] == GZIP_MAGIC
}

/// Writes `bytes` to `path` atomically: the data goes to a temporary file in the same
/// directory, is flushed to disk, and is then renamed over `path`, so readers never see a
/// half-written file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, |tmp| {
        let mut f = std::fs::File::create(tmp)?;
        f.write_all(bytes)
    })
}

/// Writes `path` atomically through `write`, which fills the temporary file whose path it is
/// given (it may also create it anew, as image encoders do). The temporary file, in the same
/// folder under a unique hidden name (`tempfile`'s random one, so writers on several hosts
/// sharing the folder never collide, after the owner `<pid>@<host>` that lets a later fetch
/// tell a killed writer's leftover from a live one's: [`crate::leftovers`]), is synced to disk and renamed over `path`; on an error it
/// is removed.
pub fn write_atomic_with(
    path: &Path,
    write: impl FnOnce(&Path) -> std::io::Result<()>,
) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if path.file_name().is_none() {
        return Err(DataError::invalid(
            path.display().to_string(),
            "not a file path",
        ));
    }
    let io = |e| DataError::io(path, e);
    // tempfile's own error for a missing folder names its random temporary file.
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(io(std::io::Error::new(
                std::io::ErrorKind::NotADirectory,
                format!("{} is not a folder", dir.display()),
            )))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(io(std::io::Error::new(
                e.kind(),
                format!("the folder {} does not exist", dir.display()),
            )))
        }
        Err(e) => return Err(io(e)),
    }
    let mut builder = tempfile::Builder::new();
    let prefix = crate::leftovers::temp_prefix(".dasvdd-");
    builder.prefix(&prefix).suffix(".tmp");
    // As a file created the usual way: 0666 less the umask (tempfile's own default, 0600,
    // would make every result and model unreadable to the user's group).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let tmp = builder.tempfile_in(dir).map_err(io)?;
    write(tmp.path())
        .and_then(|()| {
            std::fs::OpenOptions::new()
                .write(true)
                .open(tmp.path())?
                .sync_all()
        })
        .map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}

/// This machine's host name, reduced to letters, digits and `-` (for temporary file names).
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "host".into())
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}
