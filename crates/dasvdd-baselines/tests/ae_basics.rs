//! The autoencoder baseline on small synthetic data: the loss falls and anomalies score
//! higher, runs are deterministic for a seed, model files round-trip bit for bit, and bad
//! parameters, bad inputs and divergence are clear errors.

use candle_core::Device;
use dasvdd_baselines::{AeModel, AeParams, DeepSvddParams, EpochLoss};
use dasvdd_core::{Activation, AutoencoderConfig, CoreError, Detector, SampleView};

mod synthetic_support;
use synthetic_support::{network, synthetic, D};

fn params(epochs: usize) -> AeParams {
    AeParams {
        model: Some(network()),
        epochs,
        batch_size: 50,
        seed: 7,
        ..AeParams::default()
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
fn loss_falls_and_anomalies_score_higher() {
    let (train, _) = synthetic(1000, 0, 1);
    let (test_n, test_a) = synthetic(200, 200, 2);
    let x = SampleView::new(&train, 1000, D).unwrap();
    let mut seen: Vec<EpochLoss> = Vec::new();
    let model = params(30)
        .fit_with_progress(x, &Device::Cpu, &mut |e| seen.push(e.clone()))
        .unwrap();
    let h = &model.history;
    assert_eq!(h.len(), 30);
    assert_eq!(&seen, h, "the callback saw other records than the history");
    assert_eq!(
        h.iter().map(|e| e.epoch).collect::<Vec<_>>(),
        (1..=30).collect::<Vec<_>>()
    );
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
    let auc = auroc(&sn, &sa);
    assert!(auc > 0.95, "AUROC {auc}");

    // The score is the per-sample mean squared reconstruction error.
    let one = &test_n[..D];
    let t = candle_core::Tensor::from_slice(one, (1, D), &Device::Cpu).unwrap();
    let (_, x_hat) = model.autoencoder.forward(&t).unwrap();
    let x_hat = x_hat.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let mse: f64 = one
        .iter()
        .zip(&x_hat)
        .map(|(a, b)| f64::from(a - b).powi(2))
        .sum::<f64>()
        / D as f64;
    assert!(
        (mse - sn[0]).abs() < 1e-9 * mse.max(1.0),
        "{mse} vs {}",
        sn[0]
    );
    assert_eq!(model.n_features(), D);
    assert_eq!(model.method(), "ae");
}

#[test]
fn same_seed_same_scores_and_model_file_round_trip() {
    let (train, _) = synthetic(300, 0, 3);
    let (test, _) = synthetic(100, 0, 4);
    let x = SampleView::new(&train, 300, D).unwrap();
    let t = SampleView::new(&test, 100, D).unwrap();
    let a = params(3).fit(x, &Device::Cpu).unwrap();
    let b = params(3).fit(x, &Device::Cpu).unwrap();
    let sa = a.score(t).unwrap();
    assert_eq!(
        sa,
        b.score(t).unwrap(),
        "two runs with the same seed differ"
    );
    let other = AeParams {
        seed: 8,
        ..params(3)
    }
    .fit(x, &Device::Cpu)
    .unwrap();
    assert_ne!(sa, other.score(t).unwrap(), "the seed has no effect");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ae.safetensors");
    let mut a = a;
    a.preprocessing = Some("{\"scale\":2}".into());
    a.save(&path).unwrap();
    let loaded = AeModel::load(&path, &Device::Cpu).unwrap();
    assert_eq!(
        loaded.score(t).unwrap(),
        sa,
        "loaded model scores differently"
    );
    assert_eq!(loaded.params, a.params);
    assert_eq!(loaded.history, a.history);
    assert_eq!(loaded.preprocessing, a.preprocessing);
    assert_eq!(loaded.config(), &network());

    // The weights are stored in PyTorch's (out, in) layout.
    let bytes = std::fs::read(&path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    assert_eq!(st.tensor("encoder.0.weight").unwrap().shape(), &[32, D]);
    assert_eq!(st.tensor("decoder.1.weight").unwrap().shape(), &[D, 32]);
    assert_eq!(st.tensor("decoder.1.bias").unwrap().shape(), &[D]);
}

#[test]
fn network_is_sized_from_the_data_when_not_given() {
    let (train, _) = synthetic(100, 0, 5);
    let x = SampleView::new(&train, 100, D).unwrap();
    let model = AeParams {
        model: None,
        epochs: 1,
        batch_size: 50,
        ..AeParams::default()
    }
    .fit(x, &Device::Cpu)
    .unwrap();
    assert_eq!(model.config(), &AutoencoderConfig::for_input(D));
    assert_eq!(model.params.model, Some(AutoencoderConfig::for_input(D)));
}

#[test]
fn bad_parameters_and_inputs_are_clear_errors() {
    let (train, _) = synthetic(100, 0, 6);
    let x = SampleView::new(&train, 100, D).unwrap();
    let fit = |p: AeParams| p.fit(x, &Device::Cpu).map(|_| ());
    let name_of = |r: dasvdd_core::Result<()>| match r {
        Err(CoreError::InvalidParameter { name, .. }) => name,
        other => panic!("expected an invalid-parameter error, got {other:?}"),
    };
    assert_eq!(
        name_of(fit(AeParams {
            epochs: 0,
            ..params(1)
        })),
        "epochs"
    );
    assert_eq!(
        name_of(fit(AeParams {
            batch_size: 0,
            ..params(1)
        })),
        "batch_size"
    );
    assert_eq!(
        name_of(fit(AeParams {
            lr: 0.0,
            ..params(1)
        })),
        "lr"
    );
    assert_eq!(
        name_of(fit(AeParams {
            lr: f64::NAN,
            ..params(1)
        })),
        "lr"
    );
    assert_eq!(
        name_of(fit(AeParams {
            weight_decay: -1.0,
            ..params(1)
        })),
        "weight_decay"
    );
    let mut bad_net = network();
    bad_net.hidden = vec![0];
    assert_eq!(
        name_of(fit(AeParams {
            model: Some(bad_net),
            ..params(1)
        })),
        "hidden"
    );

    // A network for another width, and no samples at all.
    let mut wide = network();
    wide.input_dim = 30;
    let err = fit(AeParams {
        model: Some(wide),
        ..params(1)
    })
    .unwrap_err();
    assert!(matches!(err, CoreError::InvalidInput(_)), "{err}");
    assert!(err.to_string().contains("20 features"), "{err}");
    let empty = SampleView::new(&[], 0, D).unwrap();
    assert!(matches!(
        params(1).fit(empty, &Device::Cpu),
        Err(CoreError::InvalidInput(_))
    ));

    // Scoring samples of the wrong width.
    let model = params(1).fit(x, &Device::Cpu).unwrap();
    let narrow = SampleView::new(&train[..190], 10, 19).unwrap();
    assert!(matches!(
        model.score(narrow),
        Err(CoreError::InvalidInput(_))
    ));
}

#[test]
fn divergence_names_the_epoch() {
    let (train, _) = synthetic(100, 0, 7);
    let x = SampleView::new(&train, 100, D).unwrap();
    // A linear output lets the reconstruction overflow once the weights explode.
    let mut net = network();
    net.output_activation = Activation::Identity;
    let err = AeParams {
        model: Some(net),
        lr: 1e20,
        ..params(5)
    }
    .fit(x, &Device::Cpu)
    .unwrap_err();
    assert!(matches!(err, CoreError::Diverged { epoch: 1, .. }), "{err}");
    assert!(err.to_string().contains("epoch 1"), "{err}");
}

#[test]
fn a_deep_svdd_file_is_not_an_autoencoder() {
    let (train, _) = synthetic(100, 0, 8);
    let x = SampleView::new(&train, 100, D).unwrap();
    let dsvdd = DeepSvddParams {
        model: Some(network()),
        epochs: 1,
        pretrain_epochs: 0,
        batch_size: 50,
        ..DeepSvddParams::default()
    }
    .fit(x, &Device::Cpu)
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dsvdd.safetensors");
    dsvdd.save(&path).unwrap();
    let err = AeModel::load(&path, &Device::Cpu).unwrap_err();
    assert!(matches!(err, CoreError::Checkpoint { .. }), "{err}");
    assert!(err.to_string().contains("`deep_svdd` model"), "{err}");
}

#[test]
fn a_callback_that_breaks_stops_ae_and_deep_svdd_training() {
    use std::ops::ControlFlow;
    let (train, _) = synthetic(200, 0, 1);
    let x = SampleView::new(&train, 200, D).unwrap();
    let stop_at_2 = |e: &EpochLoss| {
        if e.epoch == 2 {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    };
    let err = params(10)
        .fit_until(x, &Device::Cpu, &mut { stop_at_2 })
        .unwrap_err();
    assert!(matches!(err, CoreError::Interrupted { epoch: 2 }), "{err}");
    let dsvdd = DeepSvddParams {
        model: Some(network()),
        epochs: 5,
        pretrain_epochs: 5,
        batch_size: 50,
        ..DeepSvddParams::default()
    };
    // Pre-training runs to its end; the one-class phase stops after its second epoch.
    let mut pretrain_epochs = 0;
    let err = dsvdd
        .fit_until(
            x,
            &Device::Cpu,
            &mut |_| {
                pretrain_epochs += 1;
                ControlFlow::Continue(())
            },
            &mut { stop_at_2 },
        )
        .unwrap_err();
    assert!(matches!(err, CoreError::Interrupted { epoch: 2 }), "{err}");
    assert_eq!(pretrain_epochs, 5);
}
