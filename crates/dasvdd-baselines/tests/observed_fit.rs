//! `DetectorParams::fit_observed`: every neural method reports each epoch of each phase to the
//! observer and stops with `Interrupted` when it breaks; the classical methods never call it.

use std::ops::ControlFlow;

use candle_core::Device;
use dasvdd_baselines::{default_params, Method, MethodParams};
use dasvdd_core::{CoreError, DetectorParams, EpochProgress, SampleView};

fn data() -> Vec<f32> {
    (0..48 * 6)
        .map(|i| ((i * 37) % 101) as f32 / 101.0)
        .collect()
}

#[test]
fn every_epoch_is_observed_and_a_break_stops_training() {
    let x = data();
    let x = SampleView::new(&x, 48, 6).unwrap();
    for method in [
        Method::Dasvdd,
        Method::Ae,
        Method::DeepSvdd,
        Method::Ocsvm,
        Method::Kde,
        Method::IsolationForest,
    ] {
        let mut params = default_params(method, 6, None, Some(3), 1).unwrap();
        if let MethodParams::DeepSvdd(p) = &mut params {
            p.pretrain_epochs = 2;
            p.batch_size = 16;
        }
        // Through the registry's MethodParams (which must pass the observer on) and boxed.
        let boxed = params.clone().into_boxed();
        let mut seen: Vec<EpochProgress> = Vec::new();
        params
            .fit_observed(x, &Device::Cpu, &mut |p| {
                seen.push(*p);
                ControlFlow::Continue(())
            })
            .unwrap();
        let phases: Vec<(&str, usize, usize)> =
            seen.iter().map(|p| (p.phase, p.epoch, p.epochs)).collect();
        let want: Vec<(&str, usize, usize)> = match method {
            Method::Dasvdd | Method::Ae => vec![("train", 1, 3), ("train", 2, 3), ("train", 3, 3)],
            Method::DeepSvdd => vec![
                ("pretrain", 1, 2),
                ("pretrain", 2, 2),
                ("train", 1, 3),
                ("train", 2, 3),
                ("train", 3, 3),
            ],
            _ => vec![],
        };
        assert_eq!(phases, want, "{method}");
        assert!(seen.iter().all(|p| p.loss.is_finite()), "{method}");

        if method.is_neural() {
            let mut calls = 0;
            let err = boxed
                .fit_observed(x, &Device::Cpu, &mut |_| {
                    calls += 1;
                    ControlFlow::Break(())
                })
                .err()
                .unwrap_or_else(|| panic!("{method}: a break did not stop training"));
            assert!(
                matches!(err, CoreError::Interrupted { .. }),
                "{method}: {err}"
            );
            assert_eq!(calls, 1, "{method}");
        }
    }
}
