//! Many DASVDD models trained at once (`fit_stacked`: the seeds and normal classes of a
//! benchmark in one pass over a leading model axis) against each trained alone: the same
//! scores within 1e-5 (relative) and the same AUROC to 4 decimals, for both training variants;
//! a model stopped early ends alone; configs or training sets that cannot share a stack are
//! refused.

use std::ops::ControlFlow;

use candle_core::Device;
use dasvdd_core::config::Variant;
use dasvdd_core::dasvdd::seeded_rng;
use dasvdd_core::{
    fit, fit_stacked, Activation, AutoencoderConfig, CoreError, DasvddConfig, Detector,
    GammaChoice, SampleView,
};
use rand::Rng;

/// `rows` samples of 12 features around `centre` (a class), drawn with `salt`.
fn class(rows: usize, centre: f32, salt: u64) -> Vec<f32> {
    let mut rng = seeded_rng(salt, 9);
    (0..rows * 12)
        .map(|i| {
            let base = if i % 12 < 6 { centre } else { 1.0 - centre };
            (base + rng.random_range(-0.3f32..0.3)).clamp(0.0, 1.0)
        })
        .collect()
}

fn config(variant: Variant, seed: u64) -> DasvddConfig {
    let mut c = DasvddConfig {
        model: AutoencoderConfig {
            input_dim: 12,
            hidden: vec![10],
            latent: 4,
            output_activation: Activation::Sigmoid,
        },
        train: variant.train_config(None),
    };
    c.train.epochs = 15;
    c.train.batch_size = 20;
    c.train.gamma = GammaChoice::Heuristic { trials: 2 };
    c.train.seed = seed;
    c
}

/// AUROC by the Mann-Whitney count (ties count one half); labels 1 = anomalous.
fn auroc(scores: &[f64], labels: &[u8]) -> f64 {
    let (mut pairs, mut wins) = (0.0, 0.0);
    for (s, l) in scores.iter().zip(labels) {
        for (t, m) in scores.iter().zip(labels) {
            if *l == 1 && *m == 0 {
                pairs += 1.0;
                wins += if s > t {
                    1.0
                } else if s == t {
                    0.5
                } else {
                    0.0
                };
            }
        }
    }
    wins / pairs
}

#[test]
fn each_model_of_a_stack_trains_as_it_would_alone() {
    let dev = Device::Cpu;
    // Two normal classes of 70 rows each (3 full batches per epoch and a dropped rest).
    let (a, b) = (class(70, 0.8, 1), class(70, 0.2, 2));
    let views = [
        SampleView::new(&a, 70, 12).unwrap(),
        SampleView::new(&b, 70, 12).unwrap(),
    ];
    // A test set: 30 of each class.
    let test: Vec<f32> = [class(30, 0.8, 3), class(30, 0.2, 4)].concat();
    let test = SampleView::new(&test, 60, 12).unwrap();
    for variant in Variant::ALL {
        // Four models: seeds 0 and 1 on class a, seeds 2 and 3 on class b.
        let configs: Vec<DasvddConfig> = (0..4).map(|s| config(variant, s)).collect();
        let xs: Vec<SampleView<'_>> = (0..4).map(|m| views[m / 2]).collect();
        let mut epochs_seen = vec![0usize; 4];
        let stacked = fit_stacked(&configs, &xs, &dev, &mut |m, _| {
            epochs_seen[m] += 1;
            ControlFlow::Continue(())
        })
        .unwrap();
        assert_eq!(epochs_seen, vec![15; 4], "{variant}");
        for (m, model) in stacked.into_iter().enumerate() {
            let model = model.unwrap();
            let alone = fit(&configs[m], xs[m], &dev, &mut |_| {}).unwrap();
            assert_eq!(model.gamma, alone.gamma, "{variant} model {m}");
            let (s, t) = (model.score(test).unwrap(), alone.score(test).unwrap());
            for (i, (x, y)) in s.iter().zip(&t).enumerate() {
                assert!(
                    (x - y).abs() <= 1e-5 * x.abs().max(y.abs()).max(1e-12),
                    "{variant} model {m} score {i}: {x} stacked, {y} alone"
                );
            }
            // Class a's models see class b as anomalous, and the other way round.
            let labels: Vec<u8> = (0..60).map(|i| u8::from((i < 30) == (m >= 2))).collect();
            let (u, v) = (auroc(&s, &labels), auroc(&t, &labels));
            assert_eq!((u * 1e4).round(), (v * 1e4).round(), "{variant} model {m}");
            assert!(u > 0.6, "{variant} model {m}: AUROC {u}");
            // The loss falls and the scores are not constant.
            let h = &model.history;
            assert!(h.last().unwrap().total < h[0].total, "{variant} {h:?}");
            assert!(s.iter().any(|v| *v != s[0]));
            assert_eq!(h.len(), alone.history.len());
        }
    }
}

#[test]
fn a_model_stopped_early_ends_alone_and_bad_stacks_are_refused() {
    let dev = Device::Cpu;
    let a = class(50, 0.7, 5);
    let x = SampleView::new(&a, 50, 12).unwrap();
    let configs: Vec<DasvddConfig> = (0..3).map(|s| config(Variant::Paper, s)).collect();
    let out = fit_stacked(&configs, &[x, x, x], &dev, &mut |m, r| {
        if m == 1 && r.epoch == 2 {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })
    .unwrap();
    assert!(matches!(out[1], Err(CoreError::Interrupted { epoch: 2 })));
    for m in [0, 2] {
        let stacked = out[m].as_ref().unwrap();
        let alone = fit(&configs[m], x, &dev, &mut |_| {}).unwrap();
        assert_eq!(stacked.history.len(), 15);
        let (s, t) = (stacked.score(x).unwrap(), alone.score(x).unwrap());
        assert!(s
            .iter()
            .zip(&t)
            .all(|(a, b)| (a - b).abs() <= 1e-5 * a.abs()));
    }

    // Configs that differ in more than the seed, or training sets of different sizes.
    let mut other = config(Variant::Paper, 1);
    other.train.lr *= 2.0;
    let e = fit_stacked(&[configs[0].clone(), other], &[x, x], &dev, &mut |_, _| {
        ControlFlow::Continue(())
    })
    .unwrap_err();
    assert!(e.to_string().contains("only in their seed"), "{e}");
    let short = SampleView::new(&a[..40 * 12], 40, 12).unwrap();
    let e = fit_stacked(&configs[..2], &[x, short], &dev, &mut |_, _| {
        ControlFlow::Continue(())
    })
    .unwrap_err();
    assert!(e.to_string().contains("50 and 40 rows"), "{e}");
    assert!(fit_stacked(&[], &[], &dev, &mut |_, _| ControlFlow::Continue(())).is_err());
}

/// The plain candle operations that a GPU runs (the fused CPU kernels switched off) train a
/// stack as they train each model alone, and as the fused kernels train the stack.
#[test]
fn a_stack_on_the_plain_operations_matches_alone_and_the_fused_kernels() {
    let dev = Device::Cpu;
    let (a, b) = (class(45, 0.8, 6), class(45, 0.3, 7));
    let xs = [
        SampleView::new(&a, 45, 12).unwrap(),
        SampleView::new(&b, 45, 12).unwrap(),
    ];
    for variant in Variant::ALL {
        let configs: Vec<DasvddConfig> = (0..2).map(|s| config(variant, 10 + s)).collect();
        let train = |fused: bool| {
            dasvdd_core::kernels::set_fused_kernels(fused);
            let out = fit_stacked(&configs, &xs, &dev, &mut |_, _| ControlFlow::Continue(()));
            let alone: Vec<_> = (0..2)
                .map(|m| fit(&configs[m], xs[m], &dev, &mut |_| {}).unwrap())
                .collect();
            dasvdd_core::kernels::set_fused_kernels(true);
            (out.unwrap(), alone)
        };
        let (plain, plain_alone) = train(false);
        let (fused, _) = train(true);
        for m in 0..2 {
            let p = plain[m].as_ref().unwrap().score(xs[1 - m]).unwrap();
            let q = plain_alone[m].score(xs[1 - m]).unwrap();
            let f = fused[m].as_ref().unwrap().score(xs[1 - m]).unwrap();
            for i in 0..p.len() {
                let tol = 1e-4 * p[i].abs().max(1e-9);
                assert!(
                    (p[i] - q[i]).abs() <= tol,
                    "{variant} {m}: {} vs {}",
                    p[i],
                    q[i]
                );
                assert!(
                    (p[i] - f[i]).abs() <= 1e-2 * p[i].abs(),
                    "{variant} {m}: {} vs {}",
                    p[i],
                    f[i]
                );
            }
        }
    }
}

/// Networks too large for lockstep on the CPU (over the 16 MiB state budget per pass) train
/// one per pass, passes side by side on the cores (each with one thread): still each model as
/// it trains alone, with the fused kernels and with the plain operations (the setting of the
/// calling thread reaches the passes' threads).
#[test]
fn large_networks_train_side_by_side_as_alone() {
    let dev = Device::Cpu;
    let cols = 300;
    let mut c = config(Variant::Paper, 0);
    c.model = AutoencoderConfig {
        input_dim: cols,
        hidden: vec![900],
        latent: 32,
        output_activation: Activation::Sigmoid,
    };
    c.train.epochs = 2;
    let params = dasvdd_core::Autoencoder::parameter_count(&c.model).unwrap();
    assert_eq!(
        dasvdd_core::stack::sub_stacks(3, params, &dev).len(),
        3,
        "one model per pass"
    );
    let mut rng = seeded_rng(3, 3);
    let data: Vec<f32> = (0..60 * cols)
        .map(|_| rng.random_range(0f32..1.0))
        .collect();
    let x = SampleView::new(&data, 60, cols).unwrap();
    let configs: Vec<DasvddConfig> = (0..3)
        .map(|s| {
            let mut c = c.clone();
            c.train.seed = s;
            c
        })
        .collect();
    for fused in [true, false] {
        dasvdd_core::kernels::set_fused_kernels(fused);
        let mut seen = vec![0usize; 3];
        let stacked = fit_stacked(&configs, &[x, x, x], &dev, &mut |m, _| {
            seen[m] += 1;
            ControlFlow::Continue(())
        })
        .unwrap();
        assert_eq!(seen, vec![2; 3]);
        for (m, model) in stacked.into_iter().enumerate() {
            let s = model.unwrap().score(x).unwrap();
            let t = fit(&configs[m], x, &dev, &mut |_| {})
                .unwrap()
                .score(x)
                .unwrap();
            for (a, b) in s.iter().zip(&t) {
                assert!(
                    (a - b).abs() <= 1e-6 * a.abs().max(1e-12),
                    "fused {fused} {m}: {a} vs {b}"
                );
            }
        }
        dasvdd_core::kernels::set_fused_kernels(true);
    }
}
