//! Scores recorded before a refactor: every method (DASVDD and the five baselines, and Deep SVDD
//! on LeNet), fitted through the registry with a fixed seed on fixed data, must keep scoring
//! the fixed test rows as recorded in `tests/fixtures/recorded_scores.json`. A change of
//! structure (issue 9) must not change what a seed trains.
//!
//! The tolerance (relative 1e-3 of the score's scale) allows for the product kernels that
//! differ between CPUs (AVX2, AVX-512) and so round differently; a change of behaviour (another
//! initialisation, batch order, loss or update) moves the scores far more. To record anew after
//! a change that is meant to change the scores: `DASVDD_RECORD_SCORES=1 cargo test -p
//! dasvdd-baselines --test recorded_scores`, and say why in the commit.

use std::collections::BTreeMap;
use std::path::Path;

use candle_core::Device;
use dasvdd_baselines::{default_params, DeepSvddNetwork, Method, MethodParams};
use dasvdd_core::{Activation, AutoencoderConfig, SampleView};

const FIXTURE: &str = "tests/fixtures/recorded_scores.json";

/// `rows x cols` values in [0, 1] from a fixed integer recurrence (no RNG crate involved).
fn data(rows: usize, cols: usize, salt: usize) -> Vec<f32> {
    (0..rows * cols)
        .map(|i| (((i + salt) * 7919 + (i / cols) * 104_729) % 1000) as f32 / 1000.0)
        .collect()
}

/// Scores of the test rows by every method, fitted with seed 5.
fn scores_now() -> BTreeMap<String, Vec<f64>> {
    let dev = Device::Cpu;
    let (cols, rows, test_rows) = (8, 64, 16);
    let train = data(rows, cols, 0);
    let test = data(test_rows, cols, 3);
    let x = SampleView::new(&train, rows, cols).unwrap();
    let t = SampleView::new(&test, test_rows, cols).unwrap();
    let net = AutoencoderConfig {
        input_dim: cols,
        hidden: vec![6],
        latent: 3,
        output_activation: Activation::Sigmoid,
    };
    let mut out = BTreeMap::new();
    for method in [
        Method::Dasvdd,
        Method::Ocsvm,
        Method::Kde,
        Method::IsolationForest,
        Method::Ae,
        Method::DeepSvdd,
    ] {
        let mut params = default_params(method, cols, Some(&net), Some(4), 5).unwrap();
        if let MethodParams::DeepSvdd(p) = &mut params {
            p.pretrain_epochs = 2;
            p.batch_size = 16;
        }
        let model = params.into_boxed().fit_detector(x, &dev).unwrap();
        out.insert(method.name().to_string(), model.score(t).unwrap());
    }
    // Deep SVDD on LeNet: 24 images of 28 x 28.
    let images = data(24, 784, 11);
    let test_images = data(6, 784, 17);
    let mut params = default_params(Method::DeepSvdd, 784, None, Some(2), 5).unwrap();
    if let MethodParams::DeepSvdd(p) = &mut params {
        p.network = DeepSvddNetwork::Lenet;
        p.pretrain_epochs = 1;
        p.batch_size = 8;
    }
    let model = params
        .into_boxed()
        .fit_detector(SampleView::new(&images, 24, 784).unwrap(), &dev)
        .unwrap();
    let scores = model
        .score(SampleView::new(&test_images, 6, 784).unwrap())
        .unwrap();
    out.insert("deep_svdd_lenet".to_string(), scores);
    out
}

#[test]
fn every_method_scores_as_recorded() {
    let now = scores_now();
    for (name, s) in &now {
        assert!(s.iter().all(|v| v.is_finite()), "{name}: {s:?}");
        let spread = s.iter().cloned().fold(f64::NEG_INFINITY, f64::max)
            - s.iter().cloned().fold(f64::INFINITY, f64::min);
        assert!(spread > 0.0, "{name}: constant scores {s:?}");
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE);
    if std::env::var("DASVDD_RECORD_SCORES").is_ok_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, serde_json::to_string_pretty(&now).unwrap() + "\n").unwrap();
        return;
    }
    let recorded: BTreeMap<String, Vec<f64>> =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(
        recorded.keys().collect::<Vec<_>>(),
        now.keys().collect::<Vec<_>>()
    );
    for (name, want) in &recorded {
        let got = &now[name];
        assert_eq!(got.len(), want.len(), "{name}");
        let scale = want.iter().map(|v| v.abs()).fold(0.0, f64::max).max(1e-12);
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            assert!(
                (g - w).abs() <= 1e-3 * scale,
                "{name}: score {i} is {g}, recorded {w} (scale {scale})"
            );
        }
    }
}
