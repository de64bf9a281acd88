//! Fetches sharing a folder: the lock that keeps two fetches out of one destination at once,
//! and the removal of what a killed fetch left there.
//!
//! The temporary names this crate makes (atomic writes' `.dasvdd-*.tmp` files, the
//! `.dasvdd-unpack-*` staging folders of archives, and the `.dasvdd-hf-cache-*` folders that
//! `hf-hub` used before hub files were downloaded as any other) carry their owner, `<pid>@<host>` ([`owner_tag`]). A leftover is *stale*, and is
//! removed by the next fetch into its folder, when its owner ran on this host and is no longer
//! alive there, or, whoever made it (older names, other hosts, other writers' temporary
//! files), when nothing in it changed for [`STALE_AFTER`]. The owner rule is applied only while
//! the destination's lock is held. The `.hf-cache` folder that earlier versions left in the
//! destination is never removed: the name is a common one for a user's own Hugging Face cache
//! (`HF_HOME=~/.hf-cache`, then `fetch --dest ~`), which this must never delete.
//!
//! The lock is an advisory lock (`flock` on Unix, through `fs2`) on `.dasvdd-fetch.lock` in the
//! destination, which says who holds it; a second fetch waits for the first with a one-line
//! notice. The holder removes the file before it lets go, so that nothing is left behind; a
//! waiter that then holds the lock of a removed file (the path names another file, or none)
//! starts again, so two fetches never hold locks on two different files.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use fs2::FileExt;

use crate::error::{DataError, Result};

/// A leftover whose owner cannot be shown dead is removed only when nothing in it changed for
/// this long: no download or unpacking takes a day without writing.
pub const STALE_AFTER: Duration = Duration::from_secs(24 * 3600);

/// The lock file in a destination folder.
pub const LOCK_FILE: &str = ".dasvdd-fetch.lock";

/// Name prefixes of the temporary folders of fetches (the atomic writes' files start with
/// `.dasvdd-` and end with `.tmp`).
const DIR_PREFIXES: [&str; 2] = [".dasvdd-unpack-", ".dasvdd-hf-cache-"];

/// This host's name, with any character other than ASCII letters, digits, `.` and `-` replaced
/// by `_`, at most 64 characters; `None` when it cannot be known.
fn host() -> Option<&'static str> {
    static HOST: OnceLock<Option<String>> = OnceLock::new();
    HOST.get_or_init(|| {
        let raw = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .or_else(|| std::env::var("COMPUTERNAME").ok())?;
        let name: String = raw
            .trim()
            .chars()
            .take(64)
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        (!name.is_empty()).then_some(name)
    })
    .as_deref()
}

/// The owner this process writes into its temporary names, `<pid>@<host>`; `None` when the
/// host's name cannot be known (the names then carry no owner, and only their age can show
/// them stale).
pub fn owner_tag() -> Option<String> {
    host().map(|h| format!("{}@{h}", std::process::id()))
}

/// `base` followed by this process's owner tag and a `-`: the prefix of a temporary name
/// (`tempfile` adds random characters, which have no `-`).
pub(crate) fn temp_prefix(base: &str) -> String {
    match owner_tag() {
        Some(tag) => format!("{base}{tag}-"),
        None => base.to_string(),
    }
}

/// The owner `(pid, host)` in the part of a temporary name after its prefix, if any.
fn owner_in(rest: &str) -> Option<(u32, &str)> {
    let rest = rest.strip_suffix(".tmp").unwrap_or(rest);
    let (owner, _random) = rest.rsplit_once('-')?;
    let (pid, host) = owner.split_once('@')?;
    Some((pid.parse().ok()?, host))
}

/// Whether `name` is a leftover of a fetch (the lock file is not), and its owner if the name
/// records one.
fn leftover(name: &str, is_dir: bool) -> Option<Option<(u32, &str)>> {
    if is_dir {
        let rest = DIR_PREFIXES.iter().find_map(|p| name.strip_prefix(p))?;
        Some(owner_in(rest))
    } else {
        let rest = name.strip_prefix(".dasvdd-")?;
        rest.ends_with(".tmp").then(|| owner_in(rest))
    }
}

/// Whether process `pid` of this host is known to have ended (only where `/proc` lists the
/// processes).
fn process_ended(pid: u32) -> bool {
    Path::new("/proc/self").exists() && !Path::new("/proc").join(pid.to_string()).exists()
}

/// The latest modification time of `path` and, for a folder, of anything below it (symbolic
/// links are not followed).
fn newest_change(path: &Path) -> Option<SystemTime> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    let mut newest = meta.modified().ok()?;
    if meta.is_dir() {
        for entry in std::fs::read_dir(path).ok()?.flatten() {
            newest = newest.max(newest_change(&entry.path())?);
        }
    }
    Some(newest)
}

/// Whether `dest` holds anything named like a fetch's leftover, stale or not.
pub fn has_leftovers(dest: &Path) -> bool {
    std::fs::read_dir(dest).is_ok_and(|entries| {
        entries.flatten().any(|e| {
            let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
            e.file_name()
                .to_str()
                .is_some_and(|n| leftover(n, is_dir).is_some())
        })
    })
}

/// Removes the stale leftovers of fetches directly in `dest` (see the module's comment) and
/// returns their paths; `owner_rule`: whether a leftover whose owner ran on this host and has
/// ended is stale whatever its age (only while holding the destination's lock). A leftover
/// that cannot be removed is logged and left.
pub fn remove_stale(dest: &Path, owner_rule: bool) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dest) else {
        return Vec::new();
    };
    let now = SystemTime::now();
    let mut removed = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        let Some(owner) = leftover(name, kind.is_dir()) else {
            continue;
        };
        let path = entry.path();
        let dead_owner = owner_rule
            && owner.is_some_and(|(pid, h)| {
                Some(h) == host() && pid != std::process::id() && process_ended(pid)
            });
        let old = newest_change(&path)
            .and_then(|t| now.duration_since(t).ok())
            .is_some_and(|age| age >= STALE_AFTER);
        if !(dead_owner || old) {
            continue;
        }
        let result = if kind.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        match result {
            Ok(()) => {
                tracing::info!(path = %path.display(), "removed the leftover of an interrupted fetch");
                removed.push(path);
            }
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot remove the leftover of an interrupted fetch")
            }
        }
    }
    removed
}

/// The lock of a destination folder, released (and its file removed) when dropped.
#[derive(Debug)]
pub struct DestLock {
    file: Option<(File, PathBuf)>,
    waited: bool,
}

impl Drop for DestLock {
    fn drop(&mut self) {
        if let Some((file, path)) = self.file.take() {
            // Removed while still locked: a waiter then sees that its file is gone.
            if let Err(e) = std::fs::remove_file(&path) {
                tracing::debug!(file = %path.display(), error = %e, "lock file not removed");
            }
            drop(file);
        }
    }
}

impl DestLock {
    /// Locks `dest` (an existing folder) for this fetch, waiting, with a one-line notice naming
    /// the folder and the holder, while another fetch holds it. Where the lock file cannot be
    /// created (a folder this user cannot write to: nothing will be written there either) or
    /// the file system has no locks, the fetch goes on unlocked; an error while waiting names
    /// the lock file.
    pub fn acquire(dest: &Path) -> Result<DestLock> {
        let path = dest.join(LOCK_FILE);
        let mut waited = false;
        loop {
            let Some(file) = open(&path) else {
                return Ok(DestLock::none());
            };
            if let Err(e) = file.try_lock_exclusive() {
                if e.kind() != fs2::lock_contended_error().kind() {
                    tracing::warn!(file = %path.display(), error = %e, "cannot lock the destination folder; going on without the lock");
                    return Ok(DestLock::none());
                }
                tracing::warn!(
                    "{}: another fetch ({}) is writing into this folder; waiting for it to finish",
                    dest.display(),
                    holder(&file)
                );
                file.lock_exclusive().map_err(|e| {
                    let problem = format!("waiting for the other fetch's lock: {e}");
                    DataError::io(&path, std::io::Error::new(e.kind(), problem))
                })?;
                waited = true;
            }
            if is_current(&file, &path) {
                write_holder(&file);
                return Ok(DestLock {
                    file: Some((file, path)),
                    waited,
                });
            }
        }
    }

    /// Locks `dest` if no other fetch holds it, without waiting; `None` otherwise.
    pub fn try_acquire(dest: &Path) -> Option<DestLock> {
        let path = dest.join(LOCK_FILE);
        let file = open(&path)?;
        file.try_lock_exclusive().ok()?;
        if !is_current(&file, &path) {
            return None;
        }
        write_holder(&file);
        Some(DestLock {
            file: Some((file, path)),
            waited: false,
        })
    }

    /// Whether the lock is held (it is not where the folder or its file system allows none).
    pub fn held(&self) -> bool {
        self.file.is_some()
    }

    /// Whether another fetch held the lock first: what it placed may make this one needless.
    pub fn waited(&self) -> bool {
        self.waited
    }

    fn none() -> DestLock {
        DestLock {
            file: None,
            waited: false,
        }
    }
}

/// Opens (creating it) the lock file; `None` where it cannot be.
fn open(path: &Path) -> Option<File> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| tracing::debug!(file = %path.display(), error = %e, "no lock file"))
        .ok()
}

/// Whether `path` still names the file `file` is open on (a holder removes it before letting
/// go); where that cannot be told, whether it exists.
fn is_current(file: &File, path: &Path) -> bool {
    let Ok(on_path) = std::fs::metadata(path) else {
        return false;
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        file.metadata()
            .is_ok_and(|m| m.dev() == on_path.dev() && m.ino() == on_path.ino())
    }
    #[cfg(not(unix))]
    {
        let _ = (file, on_path);
        true
    }
}

/// Who holds the lock, as its holder wrote it.
fn holder(mut file: &File) -> String {
    let mut text = String::new();
    let _ = file.rewind();
    let _ = file.take(256).read_to_string(&mut text);
    let text = text.trim();
    if text.is_empty() {
        "holder unknown".to_string()
    } else {
        text.to_string()
    }
}

/// Writes who holds the lock into the lock file, in place: the lock is on this file, so it
/// cannot be replaced by an atomic rename; the text is only informative.
fn write_holder(mut file: &File) {
    let who = match owner_tag() {
        Some(tag) => format!("pid {tag}"),
        None => format!("pid {}", std::process::id()),
    };
    let _ = file
        .set_len(0)
        .and_then(|()| file.rewind())
        .and_then(|()| writeln!(file, "{who}"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_are_read_back_from_the_names() {
        assert_eq!(
            leftover(".dasvdd-12@node-1.lan-AbC123.tmp", false),
            Some(Some((12, "node-1.lan")))
        );
        assert_eq!(
            leftover(".dasvdd-unpack-7@h-x9Yz01", true),
            Some(Some((7, "h")))
        );
        // Other writers' names, and earlier versions', have no owner: only age makes them stale.
        assert_eq!(leftover(".dasvdd-AbC123.tmp", false), Some(None));
        assert_eq!(leftover(".dasvdd-123-4.tmp", false), Some(None));
        // Not leftovers: the lock, a file named like a folder leftover, a dataset file, and
        // `.hf-cache` (earlier versions' hub cache, but also a name users give their own).
        assert_eq!(leftover(LOCK_FILE, false), None);
        assert_eq!(leftover(".dasvdd-unpack-1@h-x", false), None);
        assert_eq!(leftover("train-images-idx3-ubyte.gz", false), None);
        assert_eq!(leftover(".hf-cache", false), None);
        assert_eq!(leftover(".hf-cache", true), None);
    }
}
