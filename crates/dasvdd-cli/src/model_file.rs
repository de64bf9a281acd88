//! A model file argument that may be `-`: standard input is read into a temporary file of a
//! random name (removed when done), since the model readers take a path.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// A model file: the path given, or a temporary copy of standard input.
pub enum ModelFile {
    Path(PathBuf),
    Stdin(tempfile::NamedTempFile),
}

impl ModelFile {
    /// `path`, or for `-` standard input staged in a temporary file.
    pub fn open(path: &Path) -> Result<Self> {
        if path.as_os_str() != "-" {
            return Ok(ModelFile::Path(path.to_path_buf()));
        }
        let mut bytes = Vec::new();
        std::io::stdin()
            .read_to_end(&mut bytes)
            .context("cannot read the model from standard input")?;
        // A new file of a random name (never one another user placed there).
        let mut staged = tempfile::Builder::new()
            .prefix(".dasvdd-model-")
            .suffix(".safetensors")
            .tempfile()
            .context("cannot create a temporary file for the model read from standard input")?;
        std::io::Write::write_all(&mut staged, &bytes)
            .and_then(|()| staged.as_file().sync_all())
            .with_context(|| format!("cannot write {}", staged.path().display()))?;
        Ok(ModelFile::Stdin(staged))
    }

    /// Where the model can be read now.
    pub fn path(&self) -> &Path {
        match self {
            ModelFile::Path(p) => p,
            ModelFile::Stdin(t) => t.path(),
        }
    }

    /// `e` as the user should read it: the temporary copy of standard input named `shown`
    /// (`<stdin>`), a file given by path left as it is.
    pub fn named(&self, shown: &str, e: impl std::fmt::Display) -> anyhow::Error {
        anyhow::anyhow!(e
            .to_string()
            .replace(&self.path().display().to_string(), shown))
    }
}
