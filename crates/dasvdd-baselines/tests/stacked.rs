//! The autoencoder and Deep SVDD baselines trained as stacks of models at once
//! (`dasvdd_baselines::fit_stacked`: seeds and normal classes in one pass over a leading model
//! axis) against each model trained alone: the same scores within 1e-5 (relative); methods
//! that cannot stack fit one model after the other (Isolation Forest) or side by side, one per
//! thread (Deep SVDD on LeNet), again each the model it is alone.

use candle_core::Device;
use dasvdd_baselines::{default_params, fit_stacked, DeepSvddNetwork, Method, MethodParams};
use dasvdd_core::{Activation, AutoencoderConfig, SampleView};

/// `rows x cols` values in [0, 1], different for each `salt`.
fn data(rows: usize, cols: usize, salt: usize) -> Vec<f32> {
    (0..rows * cols)
        .map(|i| (((i * 7919 + salt * 104_729) % 1000) as f32 / 999.0).powi(1 + (salt % 3) as i32))
        .collect()
}

fn params(method: Method, cols: usize, seed: u64) -> MethodParams {
    let net = AutoencoderConfig {
        input_dim: cols,
        hidden: vec![7],
        latent: 3,
        output_activation: Activation::Sigmoid,
    };
    let mut p = default_params(method, cols, Some(&net), Some(5), seed).unwrap();
    if let MethodParams::DeepSvdd(d) = &mut p {
        d.pretrain_epochs = 3;
        d.batch_size = 16;
    }
    if let MethodParams::Ae(a) = &mut p {
        a.batch_size = 16;
    }
    p
}

#[test]
fn stacked_baselines_train_each_model_as_alone() {
    let dev = Device::Cpu;
    let cols = 10;
    let (a, b) = (data(50, cols, 1), data(50, cols, 2));
    let test = data(20, cols, 5);
    let test = SampleView::new(&test, 20, cols).unwrap();
    let xs = [
        SampleView::new(&a, 50, cols).unwrap(),
        SampleView::new(&b, 50, cols).unwrap(),
    ];
    for method in [Method::Ae, Method::DeepSvdd, Method::IsolationForest] {
        let ps: Vec<MethodParams> = (0..4).map(|s| params(method, cols, s)).collect();
        let views: Vec<SampleView<'_>> = (0..4).map(|m| xs[m % 2]).collect();
        assert_eq!(ps[0].stackable(), method != Method::IsolationForest);
        let stacked = fit_stacked(&ps, &views, &dev).unwrap();
        assert_eq!(stacked.len(), 4);
        for (m, model) in stacked.into_iter().enumerate() {
            let s = model.unwrap().score(test).unwrap();
            let alone = ps[m]
                .clone()
                .into_boxed()
                .fit_detector(views[m], &dev)
                .unwrap()
                .score(test)
                .unwrap();
            assert!(s.iter().any(|v| *v != s[0]), "{method:?} {m}: constant");
            for (i, (x, y)) in s.iter().zip(&alone).enumerate() {
                assert!(
                    (x - y).abs() <= 1e-5 * x.abs().max(y.abs()).max(1e-12),
                    "{method:?} model {m} score {i}: {x} stacked, {y} alone"
                );
            }
        }
    }
    // Deep SVDD on LeNet does not stack: its models are fitted side by side, one per thread,
    // each the model it is alone (to the bit: the same kernels on one thread or two).
    let lenet = |seed| {
        let mut p = params(Method::DeepSvdd, 784, seed);
        if let MethodParams::DeepSvdd(d) = &mut p {
            d.network = DeepSvddNetwork::Lenet;
            d.pretrain_epochs = 1;
            d.epochs = 2;
            d.batch_size = 8;
        }
        p
    };
    assert!(!lenet(0).stackable());
    let (a, b) = (data(16, 784, 3), data(24, 784, 4));
    let images = [
        SampleView::new(&a, 16, 784).unwrap(),
        SampleView::new(&b, 24, 784).unwrap(),
    ];
    let probe = data(6, 784, 6);
    let probe = SampleView::new(&probe, 6, 784).unwrap();
    let ps = [lenet(0), lenet(1), lenet(2)];
    let views = [images[0], images[1], images[0]];
    let out = fit_stacked(&ps, &views, &dev).unwrap();
    assert_eq!(out.len(), 3);
    for (m, model) in out.into_iter().enumerate() {
        let s = model.unwrap().score(probe).unwrap();
        let alone = ps[m]
            .clone()
            .into_boxed()
            .fit_detector(views[m], &dev)
            .unwrap()
            .score(probe)
            .unwrap();
        assert!(s.iter().any(|v| *v != s[0]), "LeNet {m}: constant");
        assert_eq!(s, alone, "LeNet model {m}: side by side, then alone");
    }
    // Params of different methods cannot share a call.
    assert!(fit_stacked(
        &[params(Method::Ae, cols, 0), params(Method::Kde, cols, 0)],
        &xs,
        &dev
    )
    .is_err());
}
