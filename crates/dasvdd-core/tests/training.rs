//! Training behaviour of DASVDD on small synthetic data: the loss falls, scores separate
//! anomalies and are not constant, the hypersphere does not collapse, runs are deterministic,
//! checkpoints round-trip bit for bit, and bad checkpoints and divergence are clear errors.

use candle_core::Device;
use dasvdd_core::{
    fit, Activation, AutoencoderConfig, CenterMode, CoreError, DasvddConfig, DasvddModel, Detector,
    GammaChoice, SampleView, TrainConfig,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Normal samples near a 3-dimensional subspace of R^20 (values in [0, 1]); anomalies are
/// uniform noise.
fn synthetic(n_normal: usize, n_anomal: usize, seed: u64) -> (Vec<f32>, Vec<f32>) {
    let d = 20;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let basis: Vec<f32> = (0..3 * d).map(|_| rng.random_range(-1.0..1.0)).collect();
    let mut normal = Vec::new();
    for _ in 0..n_normal {
        let w: Vec<f32> = (0..3).map(|_| rng.random_range(-1.0..1.0)).collect();
        for j in 0..d {
            let v: f32 = (0..3).map(|k| w[k] * basis[k * d + j]).sum::<f32>();
            normal.push(0.5 + 0.15 * v + rng.random_range(-0.01..0.01));
        }
    }
    let anomal = (0..n_anomal * d)
        .map(|_| rng.random_range(0.0..1.0))
        .collect();
    (normal, anomal)
}

fn small_config(epochs: usize) -> DasvddConfig {
    DasvddConfig {
        model: AutoencoderConfig {
            input_dim: 20,
            hidden: vec![32],
            latent: 8,
            output_activation: Activation::Sigmoid,
        },
        train: TrainConfig {
            epochs,
            batch_size: 50,
            center_lr: 0.1,
            seed: 7,
            // The paper's settings, so that the 2021 code's choices below are changes.
            ..dasvdd_core::config::Variant::Paper.train_config(None)
        },
    }
}

fn auroc(normal: &[f64], anomal: &[f64]) -> f64 {
    let mut wins = 0.0;
    for a in anomal {
        for n in normal {
            wins += if a > n {
                1.0
            } else if a == n {
                0.5
            } else {
                0.0
            };
        }
    }
    wins / (normal.len() * anomal.len()) as f64
}

#[test]
fn loss_falls_scores_separate_and_no_collapse() {
    let (train, _) = synthetic(1000, 0, 1);
    let (test_n, test_a) = synthetic(200, 200, 2);
    let x = SampleView::new(&train, 1000, 20).unwrap();
    let model = fit(&small_config(30), x, &Device::Cpu, &mut |_| {}).unwrap();
    let h = &model.history;
    assert_eq!(h.len(), 30);
    assert!(
        h[29].total < 0.5 * h[0].total,
        "loss did not fall: {} -> {}",
        h[0].total,
        h[29].total
    );
    assert!(h[29].reconstruction < h[0].reconstruction);

    let sn = model
        .score(SampleView::new(&test_n, 200, 20).unwrap())
        .unwrap();
    let sa = model
        .score(SampleView::new(&test_a, 200, 20).unwrap())
        .unwrap();
    let min = sn.iter().cloned().fold(f64::INFINITY, f64::min);
    let max = sn.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    assert!(max > min, "scores are constant");
    let auc = auroc(&sn, &sa);
    assert!(auc > 0.95, "AUROC {auc}");

    // No hypersphere collapse: the codes and c are not all (near) zero.
    let codes = model.codes(x).unwrap();
    let code_norm: f64 = codes
        .iter()
        .map(|v| (*v as f64).powi(2))
        .sum::<f64>()
        .sqrt()
        / (1000f64).sqrt();
    let c_norm: f64 = model
        .center
        .iter()
        .map(|v| (*v as f64).powi(2))
        .sum::<f64>()
        .sqrt();
    assert!(code_norm > 1e-2, "codes collapsed: mean norm {code_norm}");
    assert!(c_norm > 1e-2, "centre collapsed: norm {c_norm}");
    assert!(model.gamma > 0.0 && model.gamma.is_finite());
}

#[test]
fn same_seed_same_scores_and_checkpoint_round_trip() {
    let (train, _) = synthetic(300, 0, 3);
    let (test, _) = synthetic(100, 0, 4);
    let x = SampleView::new(&train, 300, 20).unwrap();
    let t = SampleView::new(&test, 100, 20).unwrap();
    let cfg = small_config(3);
    let a = fit(&cfg, x, &Device::Cpu, &mut |_| {}).unwrap();
    let b = fit(&cfg, x, &Device::Cpu, &mut |_| {}).unwrap();
    let sa = a.score(t).unwrap();
    let sb = b.score(t).unwrap();
    assert_eq!(sa, sb, "two runs with the same seed differ");
    let other = fit(
        &DasvddConfig {
            train: TrainConfig {
                seed: 8,
                ..cfg.train.clone()
            },
            ..cfg.clone()
        },
        x,
        &Device::Cpu,
        &mut |_| {},
    )
    .unwrap();
    assert_ne!(sa, other.score(t).unwrap(), "the seed has no effect");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.safetensors");
    a.save(&path).unwrap();
    let loaded = DasvddModel::load(&path, &Device::Cpu).unwrap();
    assert_eq!(
        loaded.score(t).unwrap(),
        sa,
        "loaded model scores differently"
    );
    assert_eq!(loaded.gamma, a.gamma);
    assert_eq!(loaded.history, a.history);
    assert_eq!(loaded.config, a.config);
}

/// DASVDD's score is its two terms summed with their weights (1 and gamma), in order, to the
/// bit; both terms vary over the samples, and the anomalies are farther on each.
#[test]
fn the_score_is_its_two_terms_summed() {
    let (train, _) = synthetic(300, 0, 3);
    let (test, anomal) = synthetic(100, 100, 4);
    let x = SampleView::new(&train, 300, 20).unwrap();
    let model = fit(&small_config(20), x, &Device::Cpu, &mut |_| {}).unwrap();
    let mut all = test.clone();
    all.extend(&anomal);
    let t = SampleView::new(&all, 200, 20).unwrap();
    let terms = model
        .score_terms(t)
        .unwrap()
        .expect("DASVDD's score has terms");
    let names: Vec<_> = terms.iter().map(|t| (t.name, t.weight)).collect();
    assert_eq!(names, [("reconstruction", 1.0), ("svdd", model.gamma)]);
    let summed: Vec<f64> = (0..200)
        .map(|i| terms.iter().fold(0.0, |s, t| s + t.weight * t.values[i]))
        .collect();
    assert_eq!(summed, model.score(t).unwrap());
    // Eq. 7 written out from the model's components gives the same values to the bit.
    let e = model.components(t).unwrap();
    let eq7: Vec<f64> = e
        .reconstruction
        .iter()
        .zip(&e.distance)
        .map(|(r, d)| r + model.gamma * d)
        .collect();
    assert_eq!(eq7, model.score(t).unwrap());
    for term in &terms {
        let v = &term.values;
        assert!(v.iter().all(|v| *v >= 0.0), "{}: negative", term.name);
        assert!(v.iter().any(|x| *x != v[0]), "{}: constant", term.name);
        let a = auroc(&v[..100], &v[100..]);
        assert!(a > 0.6, "{}: AUROC {a}", term.name);
    }
}

#[test]
fn bad_checkpoints_are_clear_errors() {
    let (train, _) = synthetic(100, 0, 5);
    let x = SampleView::new(&train, 100, 20).unwrap();
    let model = fit(&small_config(1), x, &Device::Cpu, &mut |_| {}).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.safetensors");
    model.save(&path).unwrap();

    // Another architecture: same tensors, config says a narrower hidden layer.
    let bytes = std::fs::read(&path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let mut metadata = meta.metadata().clone().unwrap();
    let tensors: Vec<(String, safetensors::tensor::TensorView<'_>)> = st.tensors();
    let mut cfg = model.config.clone();
    cfg.model.hidden = vec![16];
    metadata.insert("config".into(), serde_json::to_string(&cfg).unwrap());
    let other = dir.path().join("other.safetensors");
    safetensors::serialize_to_file(tensors.clone(), Some(metadata.clone()), &other).unwrap();
    let err = DasvddModel::load(&other, &Device::Cpu).unwrap_err();
    assert!(matches!(err, CoreError::Checkpoint { .. }), "{err}");
    assert!(err.to_string().contains("shape"), "{err}");

    // A missing tensor: with the checksum of all tensors kept, the file is damaged; without it
    // (a file another tool wrote), the missing tensor is named.
    let missing = dir.path().join("missing.safetensors");
    let without: Vec<_> = tensors
        .iter()
        .filter(|(n, _)| n != "center")
        .cloned()
        .collect();
    let mut kept = meta.metadata().clone().unwrap();
    safetensors::serialize_to_file(without.clone(), Some(kept.clone()), &missing).unwrap();
    let err = DasvddModel::load(&missing, &Device::Cpu).unwrap_err();
    assert!(err.to_string().contains("damaged"), "{err}");
    kept.remove(dasvdd_core::checkpoint::CHECKSUM_KEY);
    safetensors::serialize_to_file(without, Some(kept), &missing).unwrap();
    let err = DasvddModel::load(&missing, &Device::Cpu).unwrap_err();
    assert!(err.to_string().contains("`center` is missing"), "{err}");

    // Not a safetensors file at all, and a truncated one.
    let junk = dir.path().join("junk.safetensors");
    std::fs::write(&junk, b"hello").unwrap();
    assert!(matches!(
        DasvddModel::load(&junk, &Device::Cpu),
        Err(CoreError::Checkpoint { .. })
    ));
    std::fs::write(&junk, &bytes[..bytes.len() / 2]).unwrap();
    assert!(matches!(
        DasvddModel::load(&junk, &Device::Cpu),
        Err(CoreError::Checkpoint { .. })
    ));

    // Wrong input width when scoring.
    let narrow = vec![0.5f32; 10 * 19];
    let err = model
        .score(SampleView::new(&narrow, 10, 19).unwrap())
        .unwrap_err();
    assert!(err.to_string().contains("19 features"), "{err}");
}

#[test]
fn divergence_names_the_epoch() {
    let (train, _) = synthetic(200, 0, 6);
    // Huge values with a linear output and an absurd learning rate overflow f32.
    let big: Vec<f32> = train.iter().map(|v| v * 1e18).collect();
    let x = SampleView::new(&big, 200, 20).unwrap();
    let mut cfg = small_config(5);
    cfg.model.output_activation = Activation::Identity;
    cfg.train.lr = 1e6;
    cfg.train.gamma = GammaChoice::Fixed(1.0);
    let err = fit(&cfg, x, &Device::Cpu, &mut |_| {}).unwrap_err();
    assert!(
        matches!(err, CoreError::Diverged { epoch: 1.., .. }),
        "{err}"
    );
    assert!(err.to_string().contains("epoch"), "{err}");
}

#[test]
fn ablations_are_reachable() {
    let (train, _) = synthetic(200, 0, 7);
    let x = SampleView::new(&train, 200, 20).unwrap();
    // Fixed c: the mean initial code, never trained.
    let mut cfg = small_config(2);
    cfg.train.center = CenterMode::FixedMeanCode;
    let m = fit(&cfg, x, &Device::Cpu, &mut |_| {}).unwrap();
    assert_eq!(m.history[0].center_norm, m.history[1].center_norm);
    // No centre step, so no centre diagnostics.
    assert!(m
        .history
        .iter()
        .all(|r| r.center_offset.is_none() && r.code_spread.is_none()));
    // kappa = 1: no centre split, c keeps its initial value.
    let mut cfg = small_config(2);
    cfg.train.kappa = 1.0;
    cfg.train.gamma = GammaChoice::Fixed(0.5);
    let m = fit(&cfg, x, &Device::Cpu, &mut |_| {}).unwrap();
    assert_eq!(m.history[0].center_first, m.history[1].center_first);
    assert!(m.history.iter().all(|r| r.center_offset.is_none()));
    assert_eq!(m.gamma, 0.5);
    // The trained centre moves.
    let m = fit(&small_config(2), x, &Device::Cpu, &mut |_| {}).unwrap();
    assert_ne!(m.history[0].center_first, m.history[1].center_first);
    let est = m.gamma_estimate.as_ref().unwrap();
    assert_eq!(est.trials.len(), 10);
}

#[test]
fn reference_code_variants_are_reachable_and_change_training() {
    use dasvdd_core::config::{CenterGrad, GammaNorm, SvddTerm};
    let (train, _) = synthetic(400, 0, 8);
    let x = SampleView::new(&train, 400, 20).unwrap();
    let base = small_config(3);
    let paper = fit(&base, x, &Device::Cpu, &mut |_| {}).unwrap();
    let mut variants = Vec::new();
    for (name, change) in [
        (
            "svdd_term",
            Box::new(|t: &mut TrainConfig| t.svdd_term = SvddTerm::FirstSample)
                as Box<dyn Fn(&mut TrainConfig)>,
        ),
        (
            "center_grad",
            Box::new(|t: &mut TrainConfig| t.center_grad = CenterGrad::Accumulate),
        ),
        (
            "gamma_norm",
            Box::new(|t: &mut TrainConfig| t.gamma_norm = GammaNorm::FirstOfBatch),
        ),
    ] {
        let mut cfg = base.clone();
        change(&mut cfg.train);
        let m = fit(&cfg, x, &Device::Cpu, &mut |_| {}).unwrap();
        assert!(m.history.iter().all(|r| r.total.is_finite()), "{name}");
        assert_ne!(m.history, paper.history, "{name} has no effect");
        variants.push((name, m));
    }
    // Only the heuristic's variant changes gamma; it stays positive.
    assert_eq!(variants[0].1.gamma, paper.gamma);
    assert_ne!(variants[2].1.gamma, paper.gamma);
    assert!(variants[2].1.gamma > 0.0);
    // The accumulated centre gradient moves c further than the reset one after the first step.
    let moved = |m: &DasvddModel| (m.history[2].center_first - m.history[0].center_first).abs();
    assert_ne!(moved(&variants[1].1), moved(&paper));
}

#[test]
fn the_accumulated_centre_gradient_includes_the_network_losss_pull_on_c() {
    use dasvdd_core::config::CenterGrad;
    // Fifty copies of one sample and a network that does not move (Adam lr 1e-30), so every
    // code is the same z and two epochs of one batch (45 samples for the network, then 5 for
    // c) can be followed by hand. The 2021 code never cleared c's gradient and did not detach c
    // in the network loss: the k-th centre step's gradient is the sum over steps j <= k of the
    // network loss's 2 gamma (c_j - z) and the centre loss's 2 (c_j - z) / latent. Cleared, it
    // is the k-th centre loss's gradient alone.
    let (one, _) = synthetic(1, 0, 3);
    let train: Vec<f32> = one.iter().copied().cycle().take(50 * 20).collect();
    let x = SampleView::new(&train, 50, 20).unwrap();
    let (gamma, center_lr, decay) = (0.5, 0.1, 0.1);
    let config = |epochs: usize| {
        let mut cfg = small_config(epochs);
        cfg.train.lr = 1e-30;
        cfg.train.weight_decay = 0.0;
        cfg.train.gamma = GammaChoice::Fixed(gamma);
        cfg.train.center_lr = center_lr;
        cfg.train.center_lr_decay = decay;
        cfg
    };
    // c's initialisation (kappa = 1 leaves no sample to train c) and the code z (the mean code
    // of the untrained network, as the fixed centre).
    let mut cfg = config(1);
    cfg.train.kappa = 1.0;
    let c0 = fit(&cfg, x, &Device::Cpu, &mut |_| {}).unwrap().center;
    let mut cfg = config(1);
    cfg.train.center = CenterMode::FixedMeanCode;
    let z = fit(&cfg, x, &Device::Cpu, &mut |_| {}).unwrap().center;
    let latent = z.len() as f64;
    for grad in [CenterGrad::Reset, CenterGrad::Accumulate] {
        let mut cfg = config(2);
        cfg.train.center_grad = grad;
        let model = fit(&cfg, x, &Device::Cpu, &mut |_| {}).unwrap();
        let got = &model.center;
        // ||c - z||^2 before each epoch's one centre step, for the history's diagnostics.
        let mut offsets = [0.0; 2];
        for k in 0..z.len() {
            let z = z[k] as f64;
            let (mut c, mut sum, mut state) = (c0[k] as f64, 0.0, 0.0);
            for step in 0..2 {
                offsets[step] += (c - z) * (c - z);
                let own = 2.0 * (c - z) / latent;
                let g = match grad {
                    CenterGrad::Reset => own,
                    CenterGrad::Accumulate => sum + 2.0 * gamma * (c - z) + own,
                };
                sum = g;
                state += g * g;
                let clr = center_lr / (1.0 + step as f64 * decay);
                c -= clr * g / (state.sqrt() + 1e-10);
            }
            assert!(
                (got[k] as f64 - c).abs() < 1e-4,
                "{grad:?} coordinate {k}: {} where the hand computation gives {c}",
                got[k]
            );
        }
        for (record, want) in model.history.iter().zip(offsets) {
            let offset = record.center_offset.expect("a centre step ran");
            assert!(
                (offset - want).abs() < 1e-4 * want.max(1.0),
                "{grad:?} epoch {}: ||c - z||^2 recorded {offset}, by hand {want}",
                record.epoch
            );
            // Every code is the same z: no spread.
            assert_eq!(record.code_spread, Some(0.0), "{grad:?}");
        }
    }
}

#[test]
fn the_trained_centre_approaches_the_codes() {
    let (train, _) = synthetic(400, 0, 9);
    let x = SampleView::new(&train, 400, 20).unwrap();
    let m = fit(&small_config(30), x, &Device::Cpu, &mut |_| {}).unwrap();
    let offset = |e: usize| m.history[e].center_offset.unwrap();
    let spread = |e: usize| m.history[e].code_spread.unwrap();
    // c starts from N(0, 1), away from the codes; AdaGrad's steps bring it closer.
    assert!(
        offset(29) < 0.5 * offset(0),
        "||c - mean code||^2 {} (epoch 1) -> {} (epoch 30)",
        offset(0),
        offset(29)
    );
    assert!(spread(0) > 0.0 && spread(29) > 0.0);
    assert!(m
        .history
        .iter()
        .all(|r| r.center_offset.unwrap().is_finite() && r.code_spread.unwrap().is_finite()));
}

#[test]
fn the_two_variants_train_differently_and_deterministically() {
    use dasvdd_core::config::Variant;
    let (train, _) = synthetic(200, 0, 5);
    let x = SampleView::new(&train, 200, 20).unwrap();
    let fit_variant = |v: Variant| {
        let mut cfg = small_config(3);
        cfg.train = TrainConfig {
            epochs: 3,
            batch_size: 50,
            seed: 7,
            ..v.train_config(None)
        };
        fit(&cfg, x, &Device::Cpu, &mut |_| {}).unwrap()
    };
    let paper = fit_variant(Variant::Paper);
    let code = fit_variant(Variant::PublishedCode);
    assert_ne!(paper.history, code.history);
    assert_ne!(paper.gamma, code.gamma);
    assert_eq!(code.center, fit_variant(Variant::PublishedCode).center);
    assert!(code.history.iter().all(|r| r.total.is_finite()));
}

#[test]
fn a_callback_that_breaks_stops_training_after_that_epoch() {
    let (train, _) = synthetic(200, 0, 1);
    let x = SampleView::new(&train, 200, 20).unwrap();
    let mut seen = 0;
    let err = dasvdd_core::fit_until(&small_config(10), x, &Device::Cpu, &mut |r| {
        seen += 1;
        if r.epoch == 3 {
            std::ops::ControlFlow::Break(())
        } else {
            std::ops::ControlFlow::Continue(())
        }
    })
    .unwrap_err();
    assert!(matches!(err, CoreError::Interrupted { epoch: 3 }), "{err}");
    assert_eq!(seen, 3);
}
