//! `dasvdd._native`, the Rust half of the `dasvdd` Python package: fits any method of the
//! registry on a numpy matrix, scores, saves and loads the project's safetensors model files.
//! The estimators users see (PyOD's `BaseDetector` contract, `get_params`, thresholds) are the
//! small pure-Python layer in `python/dasvdd/`.
//!
//! Invariants: hyperparameters resolve through the same code as the command line (the config
//! file's `resolve` for DASVDD, the registry's `default_params` for the baselines), model files
//! are written and read by the same `save`/`load_detector_from` plus the `preprocessing` metadata
//! entry the CLI adds, so a model scores identically here and in `dasvdd score`. Training and
//! scoring run with the GIL released, on the extension's own thread pool (`threads`: made
//! again in a child process after a fork, where rayon's global pool would hang); while the
//! neural methods train, the calling thread checks for Ctrl-C, and the progress callback takes
//! the GIL once per epoch. No input from Python can panic: every problem is a
//! `ValueError`, `TypeError`, `OSError` or `RuntimeError`.
//!
//! Split by concern: `samples` reads numpy arrays, `params` resolves the hyperparameters,
//! `fitting` trains, `threads` is the pool they compute on, and `model` is the fitted
//! `NativeModel`; this file holds the Python functions and the error mapping.

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::str::FromStr;

use dasvdd_baselines::{default_params, load_detector_from, method_of, Method};
use dasvdd_core::{checkpoint, parse_device, CoreError, SampleView};
use dasvdd_data::{FittedPreprocessing, Matrix, Preprocessing};
use pyo3::exceptions::{
    PyFileNotFoundError, PyKeyboardInterrupt, PyOSError, PyRuntimeError, PyValueError,
};
use pyo3::prelude::*;
use serde_json::Value;

mod fitting;
mod model;
mod params;
mod samples;
mod threads;

use fitting::{fit_interruptibly, fit_params};
use model::NativeModel;
use params::{parse_scale, resolve_params};
use samples::Samples;

/// Metadata key of the fitted preprocessing, as the CLI writes it.
const PREPROCESSING_KEY: &str = "preprocessing";

/// A Python exception for a core error.
fn core_err(e: CoreError) -> PyErr {
    core_err_with(e, |msg| msg)
}

/// A Python exception for a core error, with its message passed through `edit`.
fn core_err_with(e: CoreError, edit: impl FnOnce(String) -> String) -> PyErr {
    let msg = edit(e.to_string());
    match e {
        CoreError::InvalidParameter { .. }
        | CoreError::Config { .. }
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

/// Fits `method` with the constructor's hyperparameters `params` (JSON) on `x`. `progress`, when
/// given, is called as `progress(phase, epoch, epochs, loss)` after every epoch of the neural
/// methods, with the GIL held; Ctrl-C is checked at the same moments and between the trials of
/// DASVDD's gamma heuristic.
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
    let stop_with = |e: PyErr| {
        if let Ok(mut p) = pending.lock() {
            *p = Some(e);
        }
        ControlFlow::Break(())
    };
    // Ctrl-C, seen by this (the main) thread while training runs on the pool: the neural
    // methods stop at their next epoch or gamma trial.
    let interrupted = std::sync::atomic::AtomicBool::new(false);
    let stopped = || interrupted.load(std::sync::atomic::Ordering::Acquire);
    let tick = |phase: &'static str, epoch: usize, epochs: usize, loss: f64| {
        if stopped() {
            return ControlFlow::Break(());
        }
        match &progress {
            Some(cb) => Python::attach(|py| {
                cb.call1(py, (phase, epoch, epochs, loss))
                    .map_or_else(stop_with, |_| ControlFlow::Continue(()))
            }),
            None => ControlFlow::Continue(()),
        }
    };
    // Between the trials of DASVDD's gamma heuristic, before the first epoch: Ctrl-C only.
    let keep_going = || {
        if stopped() {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    };
    // The neural methods train on the pool (`threads`) while this thread checks for Ctrl-C
    // (Python answers signals on the main thread only) and waits for them to stop at the
    // next epoch, since they read `x` in place; the others run on a worker thread of their
    // own, so that Ctrl-C returns at once.
    let result = if resolved.method().is_neural() {
        std::thread::scope(|scope| {
            let training = scope.spawn(|| {
                threads::on_pool(|| {
                    let view = SampleView::new(data, rows, cols)?;
                    fit_params(&resolved, view, &device, &tick, &keep_going)
                })
            });
            while !training.is_finished() {
                py.detach(|| std::thread::sleep(std::time::Duration::from_millis(20)));
                if let Err(e) = py.check_signals() {
                    let _ = stop_with(e);
                    interrupted.store(true, std::sync::atomic::Ordering::Release);
                }
            }
            training.join().unwrap_or_else(|_| {
                Err(CoreError::InvalidInput(
                    "training stopped without a result (it panicked); please report this".into(),
                ))
            })
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
        training_scores: fitted.scores,
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
            // The file read (and its checksum computed) once.
            let ck = checkpoint::Checkpoint::read_any(&path)?;
            let method = method_of(&ck)?;
            let metadata = ck.metadata().clone();
            let detector = load_detector_from(ck, &device)?;
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
        training_scores: Vec::new(),
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

/// The method registry (JSON): one object per method with its `name`, `aliases`,
/// `paper_column`, `neural`, `seeded` and `settings_keys`, in the paper's column order.
#[pyfunction]
fn methods() -> String {
    let rows: Vec<serde_json::Value> = dasvdd_baselines::METHODS
        .iter()
        .map(|i| {
            serde_json::json!({
                "name": i.name,
                "aliases": i.aliases,
                "paper_column": i.paper_column,
                "neural": i.neural,
                "seeded": i.seeded,
                "settings_keys": i.settings_keys,
            })
        })
        .collect();
    serde_json::Value::Array(rows).to_string()
}

/// The order of the `n_samples` training rows in each of `epochs` epochs of DASVDD fitted with
/// `random_state=seed` (a list per epoch; batch `b` of an epoch is its rows
/// `b * batch_size .. (b + 1) * batch_size`). Not part of the estimators' API: it lets a test
/// replay a fit step by step in another framework (`tests/test_torch_parity.py`).
#[pyfunction]
fn epoch_orders(n_samples: usize, epochs: usize, seed: u64) -> PyResult<Vec<Vec<usize>>> {
    // Each epoch is a list of n_samples: refuse what could not be held rather than abort.
    if n_samples.checked_mul(epochs).is_none_or(|t| t > 1 << 28) {
        return Err(value_err(format!(
            "{epochs} epochs of {n_samples} samples are too many orders to return"
        )));
    }
    Ok(dasvdd_core::dasvdd::epoch_orders(seed, n_samples, epochs))
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
    m.add_function(wrap_pyfunction!(methods, m)?)?;
    m.add_function(wrap_pyfunction!(epoch_orders, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
