//! Training of any method: the epoch callback of the neural methods, and the classical
//! methods on a worker thread so that Ctrl-C returns at once.

use std::ops::ControlFlow;

use dasvdd_baselines::MethodParams;
use dasvdd_core::{CoreError, Detector, SampleView};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

/// What training produced: the detector, the loss of every epoch (neural methods), and the
/// training samples' scores (as [`Detector::score`] gives them, for PyOD's `decision_scores_`).
pub(crate) struct Fitted {
    pub(crate) detector: Box<dyn Detector>,
    pub(crate) losses: Vec<f64>,
    pub(crate) scores: Vec<f64>,
}

/// Fits `params` on `x`, calling `tick(phase, epoch, epochs, loss)` after every epoch of the
/// neural methods and `keep_going()` between the trials of DASVDD's gamma heuristic (which runs
/// before the first epoch); training stops when either breaks. The losses of the `train` phase
/// are kept.
/// Then scores `x`: part of the fit for Python, so that for the classical methods, whose
/// scoring of the training samples can take longer than their fit (Isolation Forest with many
/// trees, KDE with a fixed bandwidth), Ctrl-C returns at once there too.
pub(crate) fn fit_params(
    params: &MethodParams,
    x: SampleView<'_>,
    device: &candle_core::Device,
    tick: &dyn Fn(&'static str, usize, usize, f64) -> ControlFlow<()>,
    keep_going: &dyn Fn() -> ControlFlow<()>,
) -> Result<Fitted, CoreError> {
    let mut losses = Vec::new();
    let detector = params.clone().into_boxed().fit_observed_polled(
        x,
        device,
        &mut |p| {
            if p.phase == "train" {
                losses.push(p.loss);
            }
            tick(p.phase, p.epoch, p.epochs, p.loss)
        },
        &mut || keep_going(),
    )?;
    let scores = detector.score(x)?;
    Ok(Fitted {
        detector,
        losses,
        scores,
    })
}

/// Fits a classical method (one long call with no epochs) on a worker thread while this thread
/// waits without the GIL and checks for Ctrl-C ten times a second. On Ctrl-C it raises
/// `KeyboardInterrupt` at once; the abandoned fit runs to its end on its thread and its result is
/// dropped. The samples are copied for the worker (a fit of these methods costs far more than
/// the copy).
pub(crate) fn fit_interruptibly(
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
            let fitted = crate::threads::on_pool(|| {
                SampleView::new(&owned, rows, cols).and_then(|view| {
                    fit_params(
                        &params,
                        view,
                        &device,
                        &|_, _, _, _| ControlFlow::Continue(()),
                        &|| ControlFlow::Continue(()),
                    )
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
