//! `NativeModel`, the fitted detector Python holds: scoring, saving, and its attributes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use dasvdd_baselines::Method;
use dasvdd_core::{checkpoint, CoreError, Detector, SampleView};
use dasvdd_data::FittedPreprocessing;
use numpy::PyArray1;
use pyo3::prelude::*;

use crate::samples::Samples;
use crate::{core_err, core_err_with, value_err, PREPROCESSING_KEY};

/// Saves started by this process, numbering their temporary files.
static STAGED: AtomicU64 = AtomicU64::new(0);

/// A temporary path beside `path` (so that renaming it onto `path` is atomic), unique to this
/// process and save: `.dasvdd-<pid>-<n>.tmp`.
fn staging_path(path: &Path) -> PathBuf {
    let n = STAGED.fetch_add(1, Ordering::Relaxed);
    let name = format!(".dasvdd-{}-{n}.tmp", std::process::id());
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.join(name),
        _ => PathBuf::from(name),
    }
}

/// A fitted detector with the preprocessing applied before it.
#[pyclass(frozen, module = "dasvdd._native")]
pub(crate) struct NativeModel {
    pub(crate) detector: Box<dyn Detector>,
    pub(crate) method: Method,
    pub(crate) preprocessing: FittedPreprocessing,
    /// The resolved hyperparameters as JSON (`{"method": ..., "params": ...}`).
    pub(crate) params: String,
    /// Loss of every epoch (neural methods), from training or the model file's history.
    pub(crate) losses: Vec<f64>,
    /// The scores of the training samples, computed by `fit` (empty when loaded from a file).
    pub(crate) training_scores: Vec<f64>,
    /// The model file's metadata, when loaded from one.
    pub(crate) metadata: HashMap<String, String>,
}

#[pymethods]
impl NativeModel {
    /// One anomaly score per row of `x` (higher = more anomalous), float64.
    fn score<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let samples = self.samples(x)?;
        let (rows, cols) = samples.dims();
        let data = samples.data();
        let detector = &self.detector;
        let scores = py
            .detach(|| {
                crate::threads::on_pool(|| detector.score(SampleView::new(data, rows, cols)?))
            })
            .map_err(core_err)?;
        Ok(PyArray1::from_vec(py, scores))
    }

    /// The terms of the score of every row of `x`, for methods whose score is a weighted sum
    /// (DASVDD: `reconstruction` with weight 1, `svdd` = ||z - c||^2 with weight gamma): a
    /// list of (name, weight, float64 values) in the order the score adds them, or None for
    /// methods whose score is one term.
    #[allow(clippy::type_complexity)]
    fn score_terms<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
    ) -> PyResult<Option<Vec<(&'static str, f64, Bound<'py, PyArray1<f64>>)>>> {
        if self.detector.score_term_names().is_empty() {
            return Ok(None);
        }
        let samples = self.samples(x)?;
        let (rows, cols) = samples.dims();
        let data = samples.data();
        let detector = &self.detector;
        let terms = py
            .detach(|| {
                crate::threads::on_pool(|| detector.score_terms(SampleView::new(data, rows, cols)?))
            })
            .map_err(core_err)?;
        Ok(terms.map(|terms| {
            terms
                .into_iter()
                .map(|t| (t.name, t.weight, PyArray1::from_vec(py, t.values)))
                .collect()
        }))
    }

    /// Writes the model to one safetensors file (atomically), with the preprocessing entry the
    /// CLI adds and the extra metadata entries `extra`.
    #[pyo3(signature = (path, extra=None))]
    fn save(
        &self,
        py: Python<'_>,
        path: PathBuf,
        extra: Option<HashMap<String, String>>,
    ) -> PyResult<()> {
        let pre =
            serde_json::to_string(&self.preprocessing).map_err(|e| value_err(e.to_string()))?;
        let mut entries: Vec<(&str, String)> = vec![(PREPROCESSING_KEY, pre)];
        let extra = extra.unwrap_or_default();
        for (k, v) in &extra {
            if matches!(k.as_str(), "method" | "format" | PREPROCESSING_KEY) {
                return Err(value_err(format!("metadata key `{k}` is reserved")));
            }
            entries.push((k.as_str(), v.clone()));
        }
        // Written whole beside the destination, then renamed onto it, as `dasvdd train` does:
        // the destination is never a model without its preprocessing or metadata, and a failed
        // save leaves an existing file as it was.
        let staged = staging_path(&path);
        let detector = &self.detector;
        let written = py.detach(|| {
            detector
                .save(&staged)
                .and_then(|()| checkpoint::set_metadata(&staged, &entries))
                .and_then(|()| {
                    std::fs::rename(&staged, &path).map_err(|source| CoreError::Io {
                        path: path.clone(),
                        source,
                    })
                })
        });
        if let Err(e) = written {
            let _ = std::fs::remove_file(&staged);
            // Errors name the destination, not the temporary file.
            let (from, to) = (staged.display().to_string(), path.display().to_string());
            return Err(core_err_with(e, |msg| msg.replace(&from, &to)));
        }
        Ok(())
    }

    /// The method name (`dasvdd`, `ocsvm`, ...).
    #[getter]
    fn method(&self) -> &'static str {
        self.method.name()
    }

    /// Number of features the model was fitted on.
    #[getter]
    fn n_features(&self) -> usize {
        self.detector.n_features()
    }

    /// The resolved hyperparameters as JSON.
    #[getter]
    fn params(&self) -> &str {
        &self.params
    }

    /// The loss of every training epoch (neural methods; empty otherwise).
    #[getter]
    fn losses(&self) -> Vec<f64> {
        self.losses.clone()
    }

    /// The scores of the training samples as `score` gives them, float64, computed by `fit`
    /// within the step that Ctrl-C interrupts (empty for a model loaded from a file).
    #[getter]
    fn training_scores<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        PyArray1::from_slice(py, &self.training_scores)
    }

    /// The metadata of the model file this model was loaded from (empty after `fit`).
    #[getter]
    fn metadata(&self) -> HashMap<String, String> {
        self.metadata.clone()
    }
}

impl NativeModel {
    /// `x` read as samples of the model's width, with the model's preprocessing applied.
    fn samples<'py>(&self, x: &Bound<'py, PyAny>) -> PyResult<Samples<'py>> {
        let samples = Samples::read(x, "X")?;
        let (_, cols) = samples.dims();
        if cols != self.detector.n_features() {
            return Err(value_err(format!(
                "X has {cols} features but the {} model was fitted on {}",
                self.method,
                self.detector.n_features()
            )));
        }
        if self.preprocessing != FittedPreprocessing::None {
            return samples.preprocessed(&self.preprocessing);
        }
        Ok(samples)
    }
}
