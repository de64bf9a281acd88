//! Deep SVDD on small synthetic data: the one-class loss falls, anomalies score higher, the
//! centre is the mean initial output with no coordinate near zero, the network has no biases,
//! pre-training trains, runs are deterministic for a seed, model files round-trip bit for bit,
//! and bad parameters and divergence are clear errors.

use candle_core::{Device, Tensor};
use dasvdd_baselines::deep_svdd::push_from_zero;
use dasvdd_baselines::{AeParams, DeepSvddModel, DeepSvddParams};
use dasvdd_core::dasvdd::seeded_rng;
use dasvdd_core::mlp::Mlp;
use dasvdd_core::{Activation, CoreError, Detector, SampleView};

mod synthetic_support;
use synthetic_support::{network, synthetic, D};

fn params(epochs: usize, pretrain_epochs: usize) -> DeepSvddParams {
    DeepSvddParams {
        model: Some(network()),
        epochs,
        pretrain_epochs,
        batch_size: 50,
        lr: 1e-3,
        pretrain_lr: 1e-3,
        seed: 7,
        ..DeepSvddParams::default()
    }
}

fn auroc(normal: &[f64], anomal: &[f64]) -> f64 {
    let labels: Vec<bool> = normal
        .iter()
        .map(|_| false)
        .chain(anomal.iter().map(|_| true))
        .collect();
    let scores: Vec<f64> = normal.iter().chain(anomal).copied().collect();
    dasvdd_eval::auroc(&scores, &labels).unwrap()
}

#[test]
fn centre_is_pushed_away_from_zero_keeping_the_sign() {
    let mut c = [0.0, 0.05, -0.05, 0.0999, -0.1, 0.2, -0.3, -0.0];
    push_from_zero(&mut c, 0.1);
    assert_eq!(c, [0.1, 0.1, -0.1, 0.1, -0.1, 0.2, -0.3, 0.1]);
}

#[test]
fn loss_falls_anomalies_score_higher_and_centre_is_fixed() {
    let (train, _) = synthetic(1000, 0, 1);
    let (test_n, test_a) = synthetic(200, 200, 2);
    let x = SampleView::new(&train, 1000, D).unwrap();
    let model = params(30, 0).fit(x, &Device::Cpu).unwrap();
    let h = &model.history;
    assert_eq!(h.len(), 30);
    assert!(model.pretrain_history.is_empty());
    assert!(
        h[29].loss < 0.5 * h[0].loss,
        "loss did not fall: {} -> {}",
        h[0].loss,
        h[29].loss
    );

    let sn = model
        .score(SampleView::new(&test_n, 200, D).unwrap())
        .unwrap();
    let sa = model
        .score(SampleView::new(&test_a, 200, D).unwrap())
        .unwrap();
    let min = sn.iter().cloned().fold(f64::INFINITY, f64::min);
    let max = sn.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    assert!(max > min, "scores are constant");
    assert!(min >= 0.0);
    let auc = auroc(&sn, &sa);
    assert!(auc > 0.9, "AUROC {auc}");

    // c has no coordinate closer to zero than eps, and it is the (pushed) mean output of the
    // initial network, which is the seeded one: weight stream 0 of the seed, drawn as
    // PyTorch's nn.Linear(bias=False) would be.
    assert_eq!(model.center.len(), 8);
    assert!(
        model.center.iter().all(|c| c.abs() >= 0.1),
        "{:?}",
        model.center
    );
    let init = Mlp::init(
        &mut seeded_rng(7, 0),
        &[D, 32, 8],
        false,
        Activation::LeakyRelu,
        Activation::Identity,
        &Device::Cpu,
    )
    .unwrap();
    let z = init
        .forward(&Tensor::from_slice(&train, (1000, D), &Device::Cpu).unwrap())
        .unwrap()
        .to_vec2::<f32>()
        .unwrap();
    let mut mean: Vec<f32> = (0..8)
        .map(|j| (z.iter().map(|r| f64::from(r[j])).sum::<f64>() / 1000.0) as f32)
        .collect();
    push_from_zero(&mut mean, 0.1);
    for (c, m) in model.center.iter().zip(&mean) {
        assert!(
            (c - m).abs() < 1e-6,
            "centre {:?} vs mean {mean:?}",
            model.center
        );
    }

    // phi is bias-free with leaky ReLU hidden layers and a linear output.
    let layers = &model.network.mlp().unwrap().layers;
    assert_eq!(layers.len(), 2);
    assert!(layers.iter().all(|l| l.bias.is_none()));
    assert_eq!(layers[0].activation, Activation::LeakyRelu);
    assert_eq!(layers[1].activation, Activation::Identity);

    // The score is ||phi(x) - c||^2.
    let emb = model
        .embed(SampleView::new(&test_n[..D], 1, D).unwrap())
        .unwrap();
    let d2: f64 = emb
        .iter()
        .zip(&model.center)
        .map(|(a, b)| f64::from(a - b).powi(2))
        .sum();
    assert!(
        (d2 - sn[0]).abs() <= 1e-9 * d2.max(1.0),
        "{d2} vs {}",
        sn[0]
    );
}

#[test]
fn pretraining_trains_an_autoencoder_and_changes_the_start() {
    let (train, _) = synthetic(500, 0, 3);
    let x = SampleView::new(&train, 500, D).unwrap();
    let with = params(2, 20).fit(x, &Device::Cpu).unwrap();
    let without = params(2, 0).fit(x, &Device::Cpu).unwrap();
    let p = &with.pretrain_history;
    assert_eq!(p.len(), 20);
    assert!(
        p[19].loss < 0.5 * p[0].loss,
        "pre-training loss did not fall: {} -> {}",
        p[0].loss,
        p[19].loss
    );
    assert_ne!(with.center, without.center, "pre-training changed nothing");
    assert!(with.center.iter().all(|c| c.abs() >= 0.1));
    assert!(with
        .network
        .mlp()
        .unwrap()
        .layers
        .iter()
        .all(|l| l.bias.is_none()));
    assert_eq!(
        with.network
            .mlp()
            .unwrap()
            .layers
            .last()
            .unwrap()
            .activation,
        Activation::Identity
    );
}

#[test]
fn same_seed_same_scores_and_model_file_round_trip() {
    let (train, _) = synthetic(300, 0, 4);
    let (test, _) = synthetic(100, 0, 5);
    let x = SampleView::new(&train, 300, D).unwrap();
    let t = SampleView::new(&test, 100, D).unwrap();
    let a = params(3, 2).fit(x, &Device::Cpu).unwrap();
    let b = params(3, 2).fit(x, &Device::Cpu).unwrap();
    let sa = a.score(t).unwrap();
    assert_eq!(
        sa,
        b.score(t).unwrap(),
        "two runs with the same seed differ"
    );
    let other = DeepSvddParams {
        seed: 8,
        ..params(3, 2)
    }
    .fit(x, &Device::Cpu)
    .unwrap();
    assert_ne!(sa, other.score(t).unwrap(), "the seed has no effect");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dsvdd.safetensors");
    a.save(&path).unwrap();
    let loaded = DeepSvddModel::load(&path, &Device::Cpu).unwrap();
    assert_eq!(
        loaded.score(t).unwrap(),
        sa,
        "loaded model scores differently"
    );
    assert_eq!(loaded.center, a.center);
    assert_eq!(loaded.params, a.params);
    assert_eq!(loaded.history, a.history);
    assert_eq!(loaded.pretrain_history, a.pretrain_history);
    assert_eq!(loaded.n_features(), D);
    assert_eq!(loaded.method(), "deep_svdd");

    // Weights in PyTorch's (out, in) layout, no biases, and the centre.
    let bytes = std::fs::read(&path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    assert_eq!(st.tensor("net.0.weight").unwrap().shape(), &[32, D]);
    assert_eq!(st.tensor("net.1.weight").unwrap().shape(), &[8, 32]);
    assert!(st.tensor("net.0.bias").is_err());
    assert_eq!(st.tensor("center").unwrap().shape(), &[8]);

    // An autoencoder file is not a Deep SVDD model.
    let ae = AeParams {
        model: Some(network()),
        epochs: 1,
        batch_size: 50,
        ..AeParams::default()
    }
    .fit(x, &Device::Cpu)
    .unwrap();
    let ae_path = dir.path().join("ae.safetensors");
    ae.save(&ae_path).unwrap();
    let err = DeepSvddModel::load(&ae_path, &Device::Cpu).unwrap_err();
    assert!(matches!(err, CoreError::Checkpoint { .. }), "{err}");
    assert!(err.to_string().contains("`ae` model"), "{err}");
}

#[test]
fn bad_parameters_are_clear_errors() {
    let (train, _) = synthetic(100, 0, 6);
    let x = SampleView::new(&train, 100, D).unwrap();
    let name_of = |p: DeepSvddParams| match p.fit(x, &Device::Cpu) {
        Err(CoreError::InvalidParameter { name, .. }) => name,
        other => panic!("expected an invalid-parameter error, got {:?}", other.err()),
    };
    assert_eq!(
        name_of(DeepSvddParams {
            epochs: 0,
            ..params(1, 0)
        }),
        "epochs"
    );
    assert_eq!(
        name_of(DeepSvddParams {
            batch_size: 0,
            ..params(1, 0)
        }),
        "batch_size"
    );
    assert_eq!(
        name_of(DeepSvddParams {
            lr: -1.0,
            ..params(1, 0)
        }),
        "lr"
    );
    assert_eq!(
        name_of(DeepSvddParams {
            weight_decay: f64::INFINITY,
            ..params(1, 0)
        }),
        "weight_decay"
    );
    assert_eq!(
        name_of(DeepSvddParams {
            center_eps: 0.0,
            ..params(1, 0)
        }),
        "center_eps"
    );
    assert_eq!(
        name_of(DeepSvddParams {
            pretrain_lr: 0.0,
            ..params(1, 1)
        }),
        "pretrain_lr"
    );
    assert_eq!(
        name_of(DeepSvddParams {
            pretrain_weight_decay: -0.5,
            ..params(1, 1)
        }),
        "pretrain_weight_decay"
    );
    let mut wide = network();
    wide.input_dim = 30;
    assert!(matches!(
        DeepSvddParams {
            model: Some(wide),
            ..params(1, 0)
        }
        .fit(x, &Device::Cpu),
        Err(CoreError::InvalidInput(_))
    ));
}

#[test]
fn divergence_names_the_epoch() {
    let (train, _) = synthetic(100, 0, 7);
    let x = SampleView::new(&train, 100, D).unwrap();
    let err = DeepSvddParams {
        lr: 1e20,
        ..params(5, 0)
    }
    .fit(x, &Device::Cpu)
    .unwrap_err();
    assert!(matches!(err, CoreError::Diverged { epoch: 1, .. }), "{err}");
    assert!(err.to_string().contains("epoch 1"), "{err}");

    let mut net = network();
    net.output_activation = Activation::Identity;
    let err = DeepSvddParams {
        model: Some(net),
        pretrain_lr: 1e20,
        ..params(1, 5)
    }
    .fit(x, &Device::Cpu)
    .unwrap_err();
    assert!(matches!(err, CoreError::Diverged { epoch: 1, .. }), "{err}");
    assert!(err.to_string().contains("pre-training"), "{err}");
}

/// Ruff's learning-rate milestones: a drop after epoch 1 changes the later epochs only.
#[test]
fn lr_milestones_drop_the_learning_rate() {
    let (train, _) = synthetic(300, 0, 21);
    let x = SampleView::new(&train, 300, D).unwrap();
    let base = DeepSvddParams {
        model: Some(network()),
        epochs: 3,
        batch_size: 50,
        lr: 1e-2,
        pretrain_epochs: 0,
        ..Default::default()
    };
    let constant = base.fit(x, &Device::Cpu).unwrap();
    let dropped = DeepSvddParams {
        lr_milestones: vec![1],
        ..base.clone()
    }
    .fit(x, &Device::Cpu)
    .unwrap();
    assert_eq!(
        constant.history[0].loss, dropped.history[0].loss,
        "epoch 1 runs at the full rate either way"
    );
    assert_ne!(
        constant.history[2].loss, dropped.history[2].loss,
        "the milestone had no effect"
    );
    assert!(dropped.history.iter().all(|e| e.loss.is_finite()));
}

/// Ruff's pre-training milestone (`ae_lr_milestone`): the same for the autoencoder phase.
#[test]
fn pretrain_lr_milestones_drop_the_pretraining_rate() {
    let (train, _) = synthetic(300, 0, 22);
    let x = SampleView::new(&train, 300, D).unwrap();
    let base = DeepSvddParams {
        model: Some(network()),
        epochs: 1,
        batch_size: 50,
        pretrain_epochs: 3,
        pretrain_lr: 1e-2,
        ..Default::default()
    };
    let constant = base.fit(x, &Device::Cpu).unwrap();
    let dropped = DeepSvddParams {
        pretrain_lr_milestones: vec![1],
        ..base.clone()
    }
    .fit(x, &Device::Cpu)
    .unwrap();
    let (a, b) = (&constant.pretrain_history, &dropped.pretrain_history);
    assert_eq!(
        a[0].loss, b[0].loss,
        "epoch 1 runs at the full rate either way"
    );
    assert_ne!(a[2].loss, b[2].loss, "the milestone had no effect");
    assert!(b.iter().all(|e| e.loss.is_finite()));
}
