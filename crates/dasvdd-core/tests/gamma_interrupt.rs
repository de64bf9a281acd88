//! Stopping DASVDD during its gamma heuristic (eq. 6), which runs before the first epoch and so
//! before any epoch callback: up to `MAX_GAMMA_TRIALS` trials are asked between trials whether to
//! go on, and an interruption flag set before or during the heuristic returns promptly with
//! `CoreError::Interrupted`, from the heuristic itself, from `fit_until_polled` and from
//! `DetectorParams::fit_observed_polled` (what the Python package calls).

use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use candle_core::Device;
use dasvdd_core::config::MAX_GAMMA_TRIALS;
use dasvdd_core::{
    estimate_gamma_until, fit_until_polled, Activation, AutoencoderConfig, CoreError, DasvddConfig,
    DetectorParams, GammaChoice, SampleView, TrainConfig,
};

const ROWS: usize = 4000;
const D: usize = 20;

fn data() -> Vec<f32> {
    (0..ROWS * D)
        .map(|i| ((i * 37) % 101) as f32 / 101.0)
        .collect()
}

fn config() -> DasvddConfig {
    DasvddConfig {
        model: AutoencoderConfig {
            input_dim: D,
            hidden: vec![32],
            latent: 8,
            output_activation: Activation::Sigmoid,
        },
        train: TrainConfig {
            epochs: 1,
            batch_size: 50,
            gamma: GammaChoice::Heuristic {
                trials: MAX_GAMMA_TRIALS,
            },
            ..TrainConfig::default()
        },
    }
}

/// Whether `flag` is set, counting the calls in `asked`.
fn check(flag: &AtomicBool, asked: &AtomicUsize) -> ControlFlow<()> {
    asked.fetch_add(1, Ordering::Relaxed);
    if flag.load(Ordering::Relaxed) {
        ControlFlow::Break(())
    } else {
        ControlFlow::Continue(())
    }
}

#[test]
fn a_flag_set_before_the_heuristic_stops_it_before_its_first_trial() {
    let x = data();
    let x = SampleView::new(&x, ROWS, D).unwrap();
    let (flag, asked) = (AtomicBool::new(true), AtomicUsize::new(0));
    let err = estimate_gamma_until(&config(), x, MAX_GAMMA_TRIALS, &Device::Cpu, &mut |_| {
        check(&flag, &asked)
    })
    .unwrap_err();
    assert!(matches!(err, CoreError::Interrupted { epoch: 0 }), "{err}");
    assert_eq!(
        err.to_string(),
        "training interrupted before its first epoch (while estimating gamma)"
    );
    assert_eq!(asked.load(Ordering::Relaxed), 1);

    // Through the trainer: the epoch callback never runs.
    let mut epochs = 0;
    let err = fit_until_polled(
        &config(),
        x,
        &Device::Cpu,
        &mut |_| {
            epochs += 1;
            ControlFlow::Continue(())
        },
        &mut |_| check(&flag, &asked),
    )
    .unwrap_err();
    assert!(matches!(err, CoreError::Interrupted { epoch: 0 }), "{err}");
    assert_eq!(epochs, 0);
}

#[test]
fn a_flag_set_during_the_heuristic_stops_it_at_the_next_trial() {
    let x = data();
    let x = SampleView::new(&x, ROWS, D).unwrap();
    // As Ctrl-C would: another thread sets the flag while the trials run.
    let (flag, asked) = (AtomicBool::new(false), AtomicUsize::new(0));
    let started = Instant::now();
    let err = std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(Duration::from_millis(200));
            flag.store(true, Ordering::Relaxed);
        });
        // What the Python package calls: the boxed params' observed fit.
        let params: Box<dyn DetectorParams> = Box::new(config());
        params
            .fit_observed_polled(
                x,
                &Device::Cpu,
                &mut |_| panic!("no epoch may start"),
                &mut || check(&flag, &asked),
            )
            .err()
            .expect("the fit was interrupted")
    });
    let seconds = started.elapsed().as_secs_f64();
    assert!(matches!(err, CoreError::Interrupted { epoch: 0 }), "{err}");
    let asked = asked.load(Ordering::Relaxed);
    // Some trials ran, far from all of them (all would take about a minute here: 2,196 trials
    // of 400 rows ran in 0.2 s on the 2-core test machine), and the stop came within a trial of
    // the flag.
    assert!(
        asked > 1 && asked < MAX_GAMMA_TRIALS,
        "{asked} trials asked"
    );
    assert!(seconds < 5.0, "{seconds:.2} s to stop");
}
