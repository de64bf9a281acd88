//! Deep SVDD on Ruff's LeNet network (`network = "lenet"`): training lowers both losses, the
//! scores separate a different kind of image, a seed gives the same scores twice, a saved
//! model scores identically after loading, and a file that does not match its network is
//! refused with the tensor named.

use candle_core::Device;
use dasvdd_baselines::{DeepSvddModel, DeepSvddNetwork, DeepSvddParams};
use dasvdd_core::{Detector, SampleView};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// `n` 28x28 images in [0, 1]: a bright vertical bar (normal) or a horizontal one (anomaly)
/// at a random offset, with noise.
fn bars(n: usize, horizontal: bool, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out = Vec::with_capacity(n * 784);
    for _ in 0..n {
        let at = rng.random_range(8..20);
        for r in 0..28 {
            for c in 0..28 {
                let on = if horizontal { r } else { c };
                let base = if (at..at + 4).contains(&on) { 0.9 } else { 0.1 };
                out.push((base + rng.random_range(-0.1f32..0.1)).clamp(0.0, 1.0));
            }
        }
    }
    out
}

fn params() -> DeepSvddParams {
    DeepSvddParams {
        network: DeepSvddNetwork::Lenet,
        epochs: 6,
        pretrain_epochs: 4,
        batch_size: 20,
        lr: 1e-3,
        pretrain_lr: 1e-3,
        seed: 3,
        ..DeepSvddParams::default()
    }
}

#[test]
fn lenet_deep_svdd_trains_scores_and_round_trips() {
    let dev = Device::Cpu;
    let train = bars(100, false, 1);
    let x = SampleView::new(&train, 100, 784).unwrap();
    let model = params().fit(x, &dev).unwrap();

    let first = model.pretrain_history.first().unwrap().loss;
    let last = model.pretrain_history.last().unwrap().loss;
    assert!(last < first, "pre-training loss {first} -> {last}");
    let first = model.history.first().unwrap().loss;
    let last = model.history.last().unwrap().loss;
    assert!(last < first, "one-class loss {first} -> {last}");
    assert_eq!(model.center.len(), 32);
    assert!(model.center.iter().all(|c| c.abs() >= 0.1 - 1e-6));

    let mut test = bars(30, false, 7);
    test.extend(bars(30, true, 8));
    let t = SampleView::new(&test, 60, 784).unwrap();
    let scores = model.score(t).unwrap();
    assert!(scores.iter().all(|s| s.is_finite()));
    let normal = scores[..30].iter().sum::<f64>() / 30.0;
    let anomal = scores[30..].iter().sum::<f64>() / 30.0;
    assert!(
        anomal > normal,
        "mean score normal {normal}, anomalous {anomal}"
    );

    // The same seed trains the same network.
    let again = params().fit(x, &dev).unwrap();
    assert_eq!(again.score(t).unwrap(), scores);

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lenet.safetensors");
    model.save(&path).unwrap();
    let loaded = DeepSvddModel::load(&path, &dev).unwrap();
    assert_eq!(loaded.params.network, DeepSvddNetwork::Lenet);
    assert_eq!(loaded.score(t).unwrap(), scores);
}

#[test]
fn lenet_refuses_other_widths_and_mismatched_files() {
    let dev = Device::Cpu;
    let wide = vec![0.5f32; 10 * 100];
    let err = params()
        .fit(SampleView::new(&wide, 10, 100).unwrap(), &dev)
        .unwrap_err()
        .to_string();
    assert!(err.contains("784") && err.contains("mlp"), "{err}");

    // A LeNet file whose metadata claims the CIFAR-10 network: its tensors do not fit.
    let train = bars(40, false, 2);
    let model = DeepSvddParams {
        epochs: 1,
        pretrain_epochs: 0,
        ..params()
    }
    .fit(SampleView::new(&train, 40, 784).unwrap(), &dev)
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.safetensors");
    model.save(&path).unwrap();
    dasvdd_core::checkpoint::set_metadata(&path, &[("lenet", "\"cifar10\"".to_string())]).unwrap();
    let err = DeepSvddModel::load(&path, &dev).unwrap_err().to_string();
    assert!(
        err.contains("m.safetensors") && err.contains("center"),
        "{err}"
    );
}
