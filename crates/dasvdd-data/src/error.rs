//! The error type of the data crate: every error names the file (or dataset) and the problem.

use std::path::PathBuf;

/// Errors from reading, parsing, preprocessing or splitting data.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The file could not be opened or read.
    #[error("{path}: {source}")]
    Io {
        /// The file that could not be read.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file was read but its contents are not what the format requires
    /// (truncated, corrupt, wrong magic number, wrong shape, non-finite values, ...).
    #[error("{path}: {problem}")]
    Format {
        /// The file whose contents are wrong.
        path: PathBuf,
        /// What is wrong with them.
        problem: String,
    },
    /// The data is well-formed but cannot be used as asked (an empty normal class, an unknown
    /// label, a split that leaves no test data, ...).
    #[error("{context}: {problem}")]
    Invalid {
        /// What was being done (a dataset, an option, a split, ...).
        context: String,
        /// Why it cannot be done.
        problem: String,
    },
    /// A dataset is not present locally and could not be downloaded.
    #[error("dataset {dataset} is not available: {problem}")]
    Unavailable {
        /// The dataset's registry name.
        dataset: String,
        /// Why it is missing and could not be fetched.
        problem: String,
    },
}

impl DataError {
    /// A format error for `path`.
    pub fn format(path: impl Into<PathBuf>, problem: impl Into<String>) -> Self {
        DataError::Format {
            path: path.into(),
            problem: problem.into(),
        }
    }

    /// An I/O error for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        DataError::Io {
            path: path.into(),
            source,
        }
    }

    /// A usage error in `context`.
    pub fn invalid(context: impl Into<String>, problem: impl Into<String>) -> Self {
        DataError::Invalid {
            context: context.into(),
            problem: problem.into(),
        }
    }
}

/// Result with [`DataError`].
pub type Result<T, E = DataError> = std::result::Result<T, E>;
