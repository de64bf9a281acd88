//! `dasvdd._native`, the Rust half of the `dasvdd` Python package: fits any method of the
//! registry on a numpy matrix, scores, saves and loads the project's safetensors model files.
//! The estimators users see (PyOD's `BaseDetector` contract, `get_params`, thresholds) are the
//! small pure-Python layer in `python/dasvdd/`.
//!
//! Invariants: hyperparameters resolve through the same code as the command line (the config
//! file's `resolve` for DASVDD, the registry's `default_params` for the baselines), model files
//! are written and read by the same `save`/`load_detector` plus the `preprocessing` metadata
//! entry the CLI adds, so a model scores identically here and in `dasvdd score`. Training and
//! scoring run with the GIL released; neural training takes the GIL back once per epoch to
//! check for Ctrl-C and report progress. No input from Python can panic: every problem is a
//! `ValueError`, `TypeError`, `OSError` or `RuntimeError`.

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::str::FromStr;

use dasvdd_baselines::registry::read_method;
use dasvdd_baselines::{default_params, load_detector, Method, MethodParams};
use dasvdd_core::{checkpoint, parse_device, ConfigFile, CoreError, Detector, SampleView};
use dasvdd_data::{FittedPreprocessing, GcnNorm, Matrix, Preprocessing};
use numpy::{PyArray1, PyReadonlyArray2, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::exceptions::{
    PyFileNotFoundError, PyKeyboardInterrupt, PyOSError, PyRuntimeError, PyTypeError, PyValueError,
};
use pyo3::prelude::*;
use serde_json::{Map, Value};

/// Metadata key of the fitted preprocessing, as the CLI writes it.
const PREPROCESSING_KEY: &str = "preprocessing";

/// The network keys of the Python constructors, resolved like the `[model]` section of a config.
const NETWORK_KEYS: [&str; 4] = ["preset", "hidden", "latent", "output_activation"];

/// A Python exception for a core error.
fn core_err(e: CoreError) -> PyErr {
    let msg = e.to_string();
    match e {
        CoreError::InvalidParameter { .. }
        | CoreError::InvalidInput(_)
        | CoreError::Checkpoint { .. }
        | CoreError::Device(_) => PyValueError::new_err(msg),
        CoreError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            PyFileNotFoundError::new_err(msg)
        }
        CoreError::Io { .. } => PyOSError::new_err(msg),
        CoreError::Interrupted { .. } => PyKeyboardInterrupt::new_err(msg),
        _ => PyRuntimeError::new_err(msg),
    }
}

fn value_err(msg: impl Into<String>) -> PyErr {
    PyValueError::new_err(msg.into())
}

/// Samples from Python: a C-contiguous float32 matrix is borrowed, anything else is converted
/// (float64 to float32 with `as`, as the CLI reads float64 `.npy` files).
enum Samples<'py> {
    Borrowed(PyReadonlyArray2<'py, f32>),
    Owned(Matrix),
}

impl Samples<'_> {
    /// Reads `x`, which must be a 2-D float32 or float64 numpy array with at least one row and
    /// one column.
    fn read<'py>(x: &Bound<'py, PyAny>, name: &str) -> PyResult<Samples<'py>> {
        let Ok(arr) = x.cast::<PyUntypedArray>() else {
            return Err(PyTypeError::new_err(format!(
                "{name} must be a numpy array, got {}",
                x.get_type().name()?
            )));
        };
        if arr.ndim() != 2 {
            return Err(value_err(format!(
                "{name} must be 2-D (samples x features), got shape {:?}",
                arr.shape()
            )));
        }
        let (rows, cols) = (arr.shape()[0], arr.shape()[1]);
        if rows == 0 || cols == 0 {
            return Err(value_err(format!(
                "{name} is empty: shape ({rows}, {cols}); at least one sample and one feature are needed"
            )));
        }
        if let Ok(a) = x.extract::<PyReadonlyArray2<'py, f32>>() {
            if a.as_array().as_slice().is_some() {
                return Ok(Samples::Borrowed(a));
            }
            let data = a.as_array().iter().copied().collect();
            return Ok(Samples::Owned(Matrix { data, rows, cols }));
        }
        if let Ok(a) = x.extract::<PyReadonlyArray2<'py, f64>>() {
            let data = a.as_array().iter().map(|&v| v as f32).collect();
            return Ok(Samples::Owned(Matrix { data, rows, cols }));
        }
        Err(PyTypeError::new_err(format!(
            "{name} has dtype {}; pass float32 or float64 (e.g. {name}.astype(numpy.float32))",
            arr.dtype().str()?
        )))
    }

    fn dims(&self) -> (usize, usize) {
        match self {
            Samples::Borrowed(a) => {
                let s = a.shape();
                (s[0], s[1])
            }
            Samples::Owned(m) => (m.rows, m.cols),
        }
    }

    /// The values, row after row.
    fn data(&self) -> &[f32] {
        match self {
            Samples::Borrowed(a) => a.as_slice().unwrap_or(&[]),
            Samples::Owned(m) => &m.data,
        }
    }

    /// The samples after `pre`; copied only when `pre` changes them.
    fn preprocessed(self, pre: &FittedPreprocessing) -> PyResult<Samples<'static>> {
        let mut m = match self {
            Samples::Borrowed(a) => {
                let s = a.shape();
                Matrix {
                    data: a.as_slice().unwrap_or(&[]).to_vec(),
                    rows: s[0],
                    cols: s[1],
                }
            }
            Samples::Owned(m) => m,
        };
        pre.transform(&mut m)
            .map_err(|e| value_err(format!("cannot scale X: {e}")))?;
        Ok(Samples::Owned(m))
    }
}

/// `none`, `zscore`, `minmax`, `gcn-l2` or `gcn-l1-minmax`, as `dasvdd train --scale`.
fn parse_scale(s: &str) -> PyResult<Preprocessing> {
    Ok(match s.to_ascii_lowercase().as_str() {
        "none" => Preprocessing::None,
        "zscore" | "z-score" | "standard" => Preprocessing::ZScore,
        "minmax" | "min-max" => Preprocessing::MinMax,
        "gcn-l2" => Preprocessing::Gcn(GcnNorm::L2),
        "gcn-l1-minmax" => Preprocessing::GcnGlobalMinMax(GcnNorm::L1),
        other => {
            return Err(value_err(format!(
                "scale: `{other}` is not none, zscore, minmax, gcn-l2 or gcn-l1-minmax"
            )))
        }
    })
}

/// Drops null entries: `None` in Python means "the config's default".
fn non_null(map: &Map<String, Value>) -> Map<String, Value> {
    map.iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// A config file from the network and training keys, as `dasvdd train --config` reads it.
fn config_file(model: Map<String, Value>, train: Map<String, Value>) -> PyResult<ConfigFile> {
    let mut doc = Map::new();
    doc.insert("model".into(), Value::Object(model));
    doc.insert("train".into(), Value::Object(train));
    serde_json::from_value(Value::Object(doc)).map_err(|e| value_err(e.to_string()))
}

/// The hyperparameters `fit` uses for `method` on `cols` features, from the constructor's
/// keyword arguments `given` (JSON object; `seed` for `random_state`, null for defaults).
fn resolve_params(method: Method, given: &str, cols: usize) -> PyResult<MethodParams> {
    let given: Value = serde_json::from_str(given)
        .map_err(|e| value_err(format!("hyperparameters are not valid JSON: {e}")))?;
    let Value::Object(given) = given else {
        return Err(value_err("hyperparameters must be a JSON object"));
    };
    let mut given = non_null(&given);
    let seed = match given.remove("seed") {
        None => 0,
        Some(v) => v.as_u64().ok_or_else(|| {
            value_err(format!(
                "random_state must be a non-negative integer, got {v}"
            ))
        })?,
    };
    let mut network = Map::new();
    for k in NETWORK_KEYS {
        if let Some(v) = given.remove(k) {
            network.insert(k.into(), v);
        }
    }
    if method == Method::Dasvdd {
        given.insert("seed".into(), seed.into());
        if network.is_empty() {
            // As `dasvdd train` without a config: the network sized from the data and, when that
            // is one of the paper's presets, the preset's training setting.
            let sized = dasvdd_core::AutoencoderConfig::for_input(cols);
            if let Some(p) = ["mnist", "cifar10", "speech", "pima"]
                .into_iter()
                .find(|p| {
                    dasvdd_core::Preset::parse(p).ok().map(|p| p.autoencoder())
                        == Some(sized.clone())
                })
            {
                network.insert("preset".into(), p.into());
            }
        }
        let cfg = config_file(network, given)?
            .resolve(Some(cols))
            .map_err(core_err)?;
        if cfg.model.input_dim != cols {
            return Err(value_err(format!(
                "X has {cols} features but the network (preset) expects {}",
                cfg.model.input_dim
            )));
        }
        return Ok(MethodParams::Dasvdd(cfg));
    }
    let net = if network.is_empty() {
        None
    } else {
        let cfg = config_file(network, Map::new())?
            .resolve(Some(cols))
            .map_err(core_err)?;
        Some(cfg.model)
    };
    let defaults = default_params(method, cols, net.as_ref(), None, seed).map_err(core_err)?;
    let mut json = serde_json::to_value(&defaults).map_err(|e| value_err(e.to_string()))?;
    let Some(params) = json.get_mut("params").and_then(Value::as_object_mut) else {
        return Err(PyRuntimeError::new_err(
            "registry parameters are not an object",
        ));
    };
    match method {
        Method::Ocsvm => {
            if let Some(g) = given.remove("gamma") {
                let g = if g.is_number() {
                    serde_json::json!({ "value": g })
                } else {
                    g
                };
                params.insert("gamma".into(), g);
            }
        }
        Method::Kde => {
            let bandwidth = given.remove("bandwidth");
            let grid = given.remove("bandwidth_grid");
            let folds = given.remove("folds");
            let b = match bandwidth {
                Some(h) if h.is_number() => {
                    if grid.is_some() {
                        return Err(value_err(
                            "bandwidth_grid is only used with bandwidth=\"cv\"",
                        ));
                    }
                    serde_json::json!({ "fixed": h })
                }
                None => serde_json::json!("cv"),
                Some(Value::String(s)) if s == "cv" => Value::String(s),
                Some(other) => {
                    return Err(value_err(format!(
                        "bandwidth must be \"cv\" or a positive number, got {other}"
                    )))
                }
            };
            if b == Value::String("cv".into()) {
                let cv = params
                    .get_mut("bandwidth")
                    .and_then(|b| b.get_mut("cross_validated"))
                    .and_then(Value::as_object_mut)
                    .ok_or_else(|| {
                        PyRuntimeError::new_err("registry KDE is not cross-validated")
                    })?;
                if let Some(g) = grid {
                    cv.insert("grid".into(), g);
                }
                if let Some(f) = folds {
                    cv.insert("folds".into(), f);
                }
            } else {
                params.insert("bandwidth".into(), b);
            }
        }
        _ => {}
    }
    for (k, v) in given {
        if !params.contains_key(&k) || k == "model" {
            return Err(value_err(format!(
                "{} has no hyperparameter `{k}`",
                method.name()
            )));
        }
        params.insert(k, v);
    }
    serde_json::from_value(json).map_err(|e| value_err(format!("{}: {e}", method.name())))
}

/// What training produced: the detector and the loss of every epoch (neural methods).
struct Fitted {
    detector: Box<dyn Detector>,
    losses: Vec<f64>,
}

/// Fits `params` on `x`, calling `tick(phase, epoch, epochs, loss)` after every epoch of the
/// neural methods; training stops when `tick` breaks. The losses of the `train` phase are kept.
fn fit_params(
    params: &MethodParams,
    x: SampleView<'_>,
    device: &candle_core::Device,
    tick: &dyn Fn(&'static str, usize, usize, f64) -> ControlFlow<()>,
) -> Result<Fitted, CoreError> {
    let mut losses = Vec::new();
    let detector = params
        .clone()
        .into_boxed()
        .fit_observed(x, device, &mut |p| {
            if p.phase == "train" {
                losses.push(p.loss);
            }
            tick(p.phase, p.epoch, p.epochs, p.loss)
        })?;
    Ok(Fitted { detector, losses })
}

/// Fits a classical method (one long call with no epochs) on a worker thread while this thread
/// waits without the GIL and checks for Ctrl-C ten times a second. On Ctrl-C it raises
/// `KeyboardInterrupt` at once; the abandoned fit runs to its end on its thread and its result is
/// dropped. The samples are copied for the worker (a fit of these methods costs far more than
/// the copy).
fn fit_interruptibly(
    py: Python<'_>,
    params: &MethodParams,
    data: &[f32],
    rows: usize,
    cols: usize,
    device: &candle_core::Device,
) -> PyResult<Result<Fitted, CoreError>> {
    use std::sync::mpsc::{channel, RecvTimeoutError};
    let (params, owned, device) = (params.clone(), data.to_vec(), device.clone());
    let (tx, rx) = channel();
    // `detach` needs a `Sync` closure, which a bare `Receiver` is not.
    let rx = std::sync::Mutex::new(rx);
    std::thread::Builder::new()
        .name("dasvdd-fit".into())
        .spawn(move || {
            let fitted = SampleView::new(&owned, rows, cols).and_then(|view| {
                fit_params(&params, view, &device, &|_, _, _, _| {
                    ControlFlow::Continue(())
                })
            });
            // The receiver is gone when the caller was interrupted: nothing to deliver.
            let _ = tx.send(fitted);
        })
        .map_err(|e| PyRuntimeError::new_err(format!("cannot start the fit thread: {e}")))?;
    loop {
        let waited = py.detach(|| match rx.lock() {
            Ok(rx) => rx.recv_timeout(std::time::Duration::from_millis(100)),
            Err(_) => Err(RecvTimeoutError::Disconnected),
        });
        match waited {
            Ok(fitted) => return Ok(fitted),
            Err(RecvTimeoutError::Timeout) => py.check_signals()?,
            Err(RecvTimeoutError::Disconnected) => {
                return Err(PyRuntimeError::new_err(
                    "the fit thread stopped without a result (it panicked); please report this",
                ))
            }
        }
    }
}

/// A fitted detector with the preprocessing applied before it.
#[pyclass(frozen, module = "dasvdd._native")]
struct NativeModel {
    detector: Box<dyn Detector>,
    method: Method,
    preprocessing: FittedPreprocessing,
    /// The resolved hyperparameters as JSON (`{"method": ..., "params": ...}`).
    params: String,
    /// Loss of every epoch (neural methods), from training or the model file's history.
    losses: Vec<f64>,
    /// The model file's metadata, when loaded from one.
    metadata: HashMap<String, String>,
}

#[pymethods]
impl NativeModel {
    /// One anomaly score per row of `x` (higher = more anomalous), float64.
    fn score<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let mut samples = Samples::read(x, "X")?;
        let (rows, cols) = samples.dims();
        if cols != self.detector.n_features() {
            return Err(value_err(format!(
                "X has {cols} features but the {} model was fitted on {}",
                self.method,
                self.detector.n_features()
            )));
        }
        if self.preprocessing != FittedPreprocessing::None {
            samples = samples.preprocessed(&self.preprocessing)?;
        }
        let data = samples.data();
        let detector = &self.detector;
        let scores = py
            .detach(|| detector.score(SampleView::new(data, rows, cols)?))
            .map_err(core_err)?;
        Ok(PyArray1::from_vec(py, scores))
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
        let detector = &self.detector;
        py.detach(|| {
            detector.save(&path)?;
            checkpoint::set_metadata(&path, &entries)
        })
        .map_err(core_err)
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

    /// The metadata of the model file this model was loaded from (empty after `fit`).
    #[getter]
    fn metadata(&self) -> HashMap<String, String> {
        self.metadata.clone()
    }
}

/// Fits `method` with the constructor's hyperparameters `params` (JSON) on `x`. `progress`, when
/// given, is called as `progress(phase, epoch, epochs, loss)` after every epoch of the neural
/// methods, with the GIL held; Ctrl-C is checked at the same moments.
#[pyfunction]
#[pyo3(signature = (method, params, x, device="cpu", scale="none", progress=None))]
fn fit(
    py: Python<'_>,
    method: &str,
    params: &str,
    x: &Bound<'_, PyAny>,
    device: &str,
    scale: &str,
    progress: Option<Py<PyAny>>,
) -> PyResult<NativeModel> {
    let method = Method::from_str(method).map_err(core_err)?;
    let mut samples = Samples::read(x, "X")?;
    let (rows, cols) = samples.dims();
    let resolved = resolve_params(method, params, cols)?;
    let device = parse_device(device).map_err(core_err)?;
    let scale = parse_scale(scale)?;
    let preprocessing = if scale == Preprocessing::None {
        FittedPreprocessing::None
    } else {
        let mut m = match samples {
            Samples::Borrowed(a) => Matrix {
                data: a.as_slice().unwrap_or(&[]).to_vec(),
                rows,
                cols,
            },
            Samples::Owned(m) => m,
        };
        // NaN would poison the scaler's statistics; report it as the CLI does, before scaling.
        SampleView::new(&m.data, rows, cols).map_err(core_err)?;
        let fitted = scale
            .fit_transform(&mut m)
            .map_err(|e| value_err(format!("cannot scale X: {e}")))?;
        samples = Samples::Owned(m);
        fitted
    };
    let data = samples.data();
    let pending: std::sync::Mutex<Option<PyErr>> = std::sync::Mutex::new(None);
    let tick = |phase: &'static str, epoch: usize, epochs: usize, loss: f64| {
        Python::attach(|py| {
            let step = py.check_signals().and_then(|()| match &progress {
                Some(cb) => cb.call1(py, (phase, epoch, epochs, loss)).map(|_| ()),
                None => Ok(()),
            });
            match step {
                Ok(()) => ControlFlow::Continue(()),
                Err(e) => {
                    if let Ok(mut p) = pending.lock() {
                        *p = Some(e);
                    }
                    ControlFlow::Break(())
                }
            }
        })
    };
    // The neural methods report every epoch, where Ctrl-C is checked; the others run on a
    // worker thread so that Ctrl-C returns at once.
    let result = if resolved.method().is_neural() {
        py.detach(|| {
            let view = SampleView::new(data, rows, cols)?;
            fit_params(&resolved, view, &device, &tick)
        })
    } else {
        fit_interruptibly(py, &resolved, data, rows, cols, &device)?
    };
    let fitted = match result {
        Ok(f) => f,
        Err(e) => {
            let raised = pending.lock().ok().and_then(|mut p| p.take());
            return Err(raised.unwrap_or_else(|| core_err(e)));
        }
    };
    Ok(NativeModel {
        detector: fitted.detector,
        method,
        preprocessing,
        params: serde_json::to_string(&resolved).map_err(|e| value_err(e.to_string()))?,
        losses: fitted.losses,
        metadata: HashMap::new(),
    })
}

/// Loads any model file written by `dasvdd train` or by `save`, onto `device`.
#[pyfunction]
#[pyo3(signature = (path, device="cpu"))]
fn load(py: Python<'_>, path: PathBuf, device: &str) -> PyResult<NativeModel> {
    let device = parse_device(device).map_err(core_err)?;
    let (method, detector, metadata) = py
        .detach(|| -> Result<_, CoreError> {
            let method = read_method(&path)?;
            let detector = load_detector(&path, &device)?;
            let metadata = checkpoint::Checkpoint::open(&path)?.metadata().clone();
            Ok((method, detector, metadata))
        })
        .map_err(core_err)?;
    let preprocessing = match metadata.get(PREPROCESSING_KEY) {
        None => FittedPreprocessing::None,
        Some(p) => serde_json::from_str(p).map_err(|e| {
            value_err(format!(
                "{}: invalid preprocessing metadata: {e}",
                path.display()
            ))
        })?,
    };
    // The stored hyperparameters (`config` for DASVDD, `params` for the baselines) and the
    // epoch losses (`total` for DASVDD, `loss` for AE and Deep SVDD), when the file has them.
    let stored = metadata
        .get("config")
        .or_else(|| metadata.get("params"))
        .and_then(|s| serde_json::from_str::<Value>(s).ok())
        .map(|p| serde_json::json!({ "method": method.name(), "params": p }).to_string())
        .unwrap_or_default();
    let losses = metadata
        .get("history")
        .and_then(|s| serde_json::from_str::<Vec<Value>>(s).ok())
        .map(|h| {
            h.iter()
                .filter_map(|r| r.get("total").or_else(|| r.get("loss"))?.as_f64())
                .collect()
        })
        .unwrap_or_default();
    Ok(NativeModel {
        detector,
        method,
        preprocessing,
        params: stored,
        losses,
        metadata,
    })
}

/// The hyperparameters (JSON) that `fit` would use for `method` on `n_features` features with
/// the constructor's keyword arguments `params` (JSON).
#[pyfunction]
fn resolve(method: &str, params: &str, n_features: usize) -> PyResult<String> {
    let method = Method::from_str(method).map_err(core_err)?;
    let p = resolve_params(method, params, n_features)?;
    serde_json::to_string(&p).map_err(|e| value_err(e.to_string()))
}

/// The registry's setting of `method` for `n_features` features and `seed` (JSON): what
/// `dasvdd train --method M --seed S` uses without a config.
#[pyfunction]
#[pyo3(signature = (method, n_features, seed=0))]
fn registry_defaults(method: &str, n_features: usize, seed: u64) -> PyResult<String> {
    let method = Method::from_str(method).map_err(core_err)?;
    let p = default_params(method, n_features, None, None, seed).map_err(core_err)?;
    serde_json::to_string(&p).map_err(|e| value_err(e.to_string()))
}

/// The number of CPU threads candle would use (`RAYON_NUM_THREADS` or the cores it finds).
#[pyfunction]
fn default_num_threads() -> usize {
    candle_core::utils::get_num_threads()
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<NativeModel>()?;
    m.add_function(wrap_pyfunction!(fit, m)?)?;
    m.add_function(wrap_pyfunction!(load, m)?)?;
    m.add_function(wrap_pyfunction!(resolve, m)?)?;
    m.add_function(wrap_pyfunction!(registry_defaults, m)?)?;
    m.add_function(wrap_pyfunction!(default_num_threads, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
