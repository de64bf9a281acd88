//! Where the command writes its results, checked before any work starts.
//!
//! `-` is standard output. A special file (`/dev/stdout`, a FIFO, a terminal, anything under
//! `/dev` or `/proc`) is written in place and never replaced. A regular file, new or existing,
//! is written atomically: a temporary file in the same folder, then a rename, so an interrupted
//! run never leaves half a file; a symbolic link to a regular file keeps being a link (its
//! target is replaced).

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// A checked output destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    Stdout,
    /// Written in place, opened for appending.
    Special(PathBuf),
    /// Written atomically.
    File(PathBuf),
}

/// What may already be at a regular output path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// Anything but a model file is replaced; a model file needs `--force`.
    ReplaceUnlessModel,
    /// An existing file needs `--force`.
    NeedsForce,
}

impl Output {
    /// Checks `path`, given to `flag`: its folder exists and is writable, it is not a folder,
    /// it is none of `inputs` (files the same command reads), and what is there may be
    /// replaced (`force` allows replacing a file that `existing` protects).
    pub fn prepare(
        flag: &str,
        path: &Path,
        existing: Existing,
        force: bool,
        inputs: &[&Path],
    ) -> Result<Output> {
        if path.as_os_str() == "-" {
            return Ok(Output::Stdout);
        }
        let shown = path.display();
        for input in inputs {
            if input.as_os_str() != "-" && same_file(path, input) {
                bail!("{flag} {shown} is also an input of this command; write to another file");
            }
        }
        let link = std::fs::symlink_metadata(path).ok();
        let target = std::fs::metadata(path).ok();
        if link.as_ref().is_some_and(|m| m.file_type().is_symlink()) && target.is_none() {
            bail!("{flag} {shown} is a symbolic link to nothing");
        }
        let system = |p: &Path| p.starts_with("/dev") || p.starts_with("/proc");
        let real = std::fs::canonicalize(path).ok();
        if let Some(meta) = &target {
            if meta.is_dir() {
                bail!("{flag} {shown} is a folder; give a file name");
            }
            if !meta.is_file() || system(path) || real.as_deref().is_some_and(system) {
                return Ok(Output::Special(path.to_path_buf()));
            }
        }
        // A regular file (existing or not): the file to replace is the link's target.
        let file = match (&link, &real) {
            (Some(l), Some(r)) if l.file_type().is_symlink() => r.clone(),
            _ => path.to_path_buf(),
        };
        if target.is_some() {
            let protected = match existing {
                Existing::NeedsForce => true,
                Existing::ReplaceUnlessModel => is_model_file(&file),
            };
            if protected && !force {
                bail!("{flag} {shown} exists; pass --force to overwrite it");
            }
        }
        let dir = match file.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if !dir.is_dir() {
            bail!(
                "{flag} {shown}: the folder {} does not exist",
                dir.display()
            );
        }
        // Creating (and removing) a file is the only sure test that the folder is writable.
        let probe = dir.join(format!(".dasvdd-write-test.{}", std::process::id()));
        std::fs::File::create(&probe)
            .with_context(|| format!("{flag} {shown}: cannot write in {}", dir.display()))?;
        let _ = std::fs::remove_file(&probe);
        Ok(Output::File(file))
    }

    /// Where the output goes, for messages.
    pub fn describe(&self) -> String {
        match self {
            Output::Stdout => "standard output".into(),
            Output::Special(p) | Output::File(p) => p.display().to_string(),
        }
    }

    /// Writes `bytes` as a whole. A reader that closes the pipe early (`| head`) ends the
    /// write without an error.
    pub fn write(&self, bytes: &[u8]) -> Result<()> {
        let quiet_pipe = |r: std::io::Result<()>| match r {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
            other => other,
        };
        match self {
            Output::Stdout => {
                let mut out = std::io::stdout().lock();
                quiet_pipe(out.write_all(bytes).and_then(|()| out.flush()))
                    .context("cannot write to standard output")
            }
            Output::Special(p) => {
                let mut f = OpenOptions::new()
                    .append(true)
                    .open(p)
                    .with_context(|| format!("cannot open {}", p.display()))?;
                quiet_pipe(f.write_all(bytes).and_then(|()| f.flush()))
                    .with_context(|| format!("cannot write {}", p.display()))
            }
            Output::File(p) => Ok(dasvdd_core::checkpoint::write_atomic(p, bytes)?),
        }
    }

    /// A path for a file that is written first and then published with [`Output::publish`]:
    /// beside the destination for a regular file (so that the rename is atomic), in the
    /// temporary folder otherwise.
    pub fn staging_path(&self) -> PathBuf {
        let name = format!(".dasvdd-{}.tmp", std::process::id());
        match self {
            Output::File(p) => match p.parent() {
                Some(d) if !d.as_os_str().is_empty() => d.join(name),
                _ => PathBuf::from(name),
            },
            _ => std::env::temp_dir().join(name),
        }
    }

    /// Moves the staged file to the destination (renamed onto a regular file, copied to
    /// anything else) and removes it.
    pub fn publish(&self, staged: &Path) -> Result<()> {
        let result = match self {
            Output::File(p) => {
                std::fs::rename(staged, p).with_context(|| format!("cannot write {}", p.display()))
            }
            _ => {
                let bytes = std::fs::read(staged)
                    .with_context(|| format!("cannot read {}", staged.display()))?;
                self.write(&bytes)
            }
        };
        let _ = std::fs::remove_file(staged);
        result
    }
}

/// Prints a command's report on standard output: a reader that closes the pipe early (`|
/// head`, `| true`) ends it quietly, as [`Output::write`] does for scores and models, where
/// `println!` would panic.
pub fn print_stdout(text: &str) -> Result<()> {
    Output::Stdout.write(text.as_bytes())
}

/// Whether `a` and `b` name the same existing file.
fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Whether `path` holds a model file of this project (a safetensors header that says so).
pub fn is_model_file(path: &Path) -> bool {
    dasvdd_core::checkpoint::get_metadata(path, "format")
        .ok()
        .flatten()
        .is_some_and(|f| f == dasvdd_core::checkpoint::FORMAT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dash_is_stdout_and_devices_are_special() {
        let none: &[&Path] = &[];
        let o = Output::prepare("--out", Path::new("-"), Existing::NeedsForce, false, none);
        assert_eq!(o.unwrap(), Output::Stdout);
        let o = Output::prepare(
            "--out",
            Path::new("/dev/null"),
            Existing::NeedsForce,
            false,
            none,
        );
        assert_eq!(o.unwrap(), Output::Special("/dev/null".into()));
    }

    #[test]
    fn bad_destinations_are_refused_before_any_work() {
        let dir = tempfile::tempdir().unwrap();
        let none: &[&Path] = &[];
        let missing = dir.path().join("no-such-folder").join("m.safetensors");
        let e = Output::prepare("--out", &missing, Existing::NeedsForce, false, none)
            .unwrap_err()
            .to_string();
        assert!(e.contains("does not exist"), "{e}");
        let e = Output::prepare("--out", dir.path(), Existing::NeedsForce, false, none)
            .unwrap_err()
            .to_string();
        assert!(e.contains("is a folder"), "{e}");
        let file = dir.path().join("x.csv");
        std::fs::write(&file, "1\n").unwrap();
        let e = Output::prepare("--out", &file, Existing::NeedsForce, false, none)
            .unwrap_err()
            .to_string();
        assert!(e.contains("--force"), "{e}");
        assert!(Output::prepare("--out", &file, Existing::NeedsForce, true, none).is_ok());
        assert!(Output::prepare("--out", &file, Existing::ReplaceUnlessModel, false, none).is_ok());
        let e = Output::prepare("--out", &file, Existing::ReplaceUnlessModel, true, &[&file])
            .unwrap_err()
            .to_string();
        assert!(e.contains("also an input"), "{e}");
    }

    #[cfg(unix)]
    #[test]
    fn a_link_to_a_file_stays_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("real.csv");
        std::fs::write(&target, "old\n").unwrap();
        let link = dir.path().join("latest.csv");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let none: &[&Path] = &[];
        let o = Output::prepare("--out", &link, Existing::ReplaceUnlessModel, false, none).unwrap();
        o.write(b"new\n").unwrap();
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "new\n");
    }
}
