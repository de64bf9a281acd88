//! The error type of the core crate, shared by every detector (DASVDD and the baselines).

use std::path::PathBuf;

/// Errors from configuring, training, scoring, saving or loading a detector.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// A hyperparameter is outside its valid range.
    #[error("invalid parameter `{name}`: {problem}")]
    InvalidParameter {
        /// The parameter's name (usually its config key).
        name: &'static str,
        /// What is wrong with its value.
        problem: String,
    },
    /// A config file (or text) is invalid: `origin` names it, `problem` the key and what is wrong.
    #[error("{origin}: {problem}")]
    Config {
        /// The file (or text) the config came from.
        origin: String,
        /// The key and what is wrong with it.
        problem: String,
    },
    /// The input samples cannot be used (wrong width, empty, non-finite values, ...).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// Training produced a non-finite loss.
    #[error("training diverged at epoch {epoch}: {what} is {value}")]
    Diverged {
        /// The 1-based epoch (the last one, for a non-finite weight found after training).
        epoch: usize,
        /// The quantity that is not finite: a loss term, the centre's norm or a network weight.
        what: &'static str,
        /// Its value (NaN when only its non-finiteness is known).
        value: f64,
    },
    /// The caller stopped training (from its epoch callback) after this epoch, or (epoch 0)
    /// before the first one, between the trials of DASVDD's gamma heuristic.
    #[error("training interrupted {}", interrupted_when(*epoch))]
    Interrupted {
        /// The 1-based epoch after which training stopped; 0 before the first epoch.
        epoch: usize,
    },
    /// A checkpoint file is missing tensors, has mis-shaped tensors or belongs to another model.
    #[error("{path}: {problem}")]
    Checkpoint {
        /// The checkpoint file.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file read or written.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The requested device is not available in this build or on this machine.
    #[error("device: {0}")]
    Device(String),
    /// An error from candle.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}

impl CoreError {
    /// An invalid-parameter error.
    pub fn param(name: &'static str, problem: impl Into<String>) -> Self {
        CoreError::InvalidParameter {
            name,
            problem: problem.into(),
        }
    }
}

/// When an interrupted training stopped, for [`CoreError::Interrupted`]'s message.
fn interrupted_when(epoch: usize) -> String {
    if epoch == 0 {
        "before its first epoch (while estimating gamma)".into()
    } else {
        format!("after epoch {epoch}")
    }
}

/// Result with [`CoreError`].
pub type Result<T, E = CoreError> = std::result::Result<T, E>;

/// An error and its causes (`source()`, outermost first) joined by `: `, leaving out a cause
/// that an outer message already quotes: the project's I/O errors print their OS error and also
/// return it as their source, so printing every cause printed it twice. What the `dasvdd` CLI
/// and `cargo xtask` print after `error: `.
pub fn chain_text(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = String::new();
    let mut cause = Some(e);
    while let Some(c) = cause {
        let part = c.to_string();
        if !part.is_empty() && !text.contains(&part) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&part);
        }
        cause = c.source();
    }
    text
}
