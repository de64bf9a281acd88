//! The CUDA path against the CPU: every fused training op (linear + bias + activation, the
//! backward products, Adam, the SVDD term of the batch or of its first sample) runs on a GPU as
//! plain candle operations, and the same steps from the same initial weights must give the same
//! losses and weights as the fused CPU kernels, up to f32 rounding; a whole DASVDD training (both
//! variants, the centre's AdaGrad and accumulated gradient included) must give the same scores.
//!
//! With `--features cuda` and a GPU, the second device is the GPU. Elsewhere it is the CPU with
//! the fused kernels switched off, which runs exactly the plain candle operations the GPU runs,
//! so the comparison and its tolerances are exercised on every machine (and the test says that
//! the GPU itself was not there).

use candle_core::{Device, Tensor};
use dasvdd_core::config::{SvddTerm, Variant};
use dasvdd_core::dasvdd::seeded_rng;
use dasvdd_core::{
    fit, parse_device, Activation, AutoencoderConfig, DasvddConfig, Detector, GammaChoice,
    SampleView,
};

/// The GPU, or the CPU on the plain operations (with the reason printed) where there is none.
fn gpu() -> Device {
    match parse_device("cuda") {
        Ok(d) => d,
        Err(e) => {
            eprintln!("no GPU ({e}): comparing with the CPU's plain operations instead");
            Device::Cpu
        }
    }
}

/// Runs `f` on `dev`'s path: on the CPU with the fused kernels off, as a GPU would.
fn plain<T>(dev: &Device, f: impl FnOnce() -> T) -> T {
    dasvdd_core::kernels::set_fused_kernels(!dev.is_cpu());
    let out = f();
    dasvdd_core::kernels::set_fused_kernels(true);
    out
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * (1.0 + a.abs().max(b.abs()))
}

/// Five training steps of a small autoencoder with `act` output and `term` SVDD term on `dev`:
/// the losses and the final weights.
fn steps(dev: &Device, act: Activation, term: SvddTerm) -> (Vec<(f64, f64)>, Vec<Vec<f32>>) {
    let cfg = AutoencoderConfig {
        input_dim: 30,
        hidden: vec![24, 12],
        latent: 6,
        output_activation: act,
    };
    let ae = dasvdd_core::Autoencoder::init(&cfg, &mut seeded_rng(5, 0), dev).unwrap();
    let mut adam = ae
        .optimizer(dasvdd_core::AdamConfig {
            weight_decay: 1e-3,
            ..Default::default()
        })
        .unwrap();
    let mut rng = seeded_rng(6, 0);
    let x: Vec<f32> = (0..40 * 30)
        .map(|_| rand::Rng::random_range(&mut rng, 0.0f32..1.0))
        .collect();
    let x = Tensor::from_vec(x, (40, 30), dev).unwrap();
    let c: Vec<f32> = (0..6).map(|i| i as f32 * 0.1 - 0.2).collect();
    let c = Tensor::from_vec(c, 6, dev).unwrap();
    let losses = (0..5)
        .map(|_| {
            let l = ae.train_step(&x, Some((&c, 0.7, term)), &mut adam).unwrap();
            (l.reconstruction, l.svdd)
        })
        .collect();
    let weights = ae
        .vars()
        .iter()
        .map(|v| v.as_tensor().flatten_all().unwrap().to_vec1().unwrap())
        .collect();
    (losses, weights)
}

#[test]
fn training_steps_on_the_gpu_match_the_fused_cpu_kernels() {
    let gpu = gpu();
    for act in [
        Activation::Sigmoid,
        Activation::LeakyRelu,
        Activation::Identity,
    ] {
        for term in [SvddTerm::BatchMean, SvddTerm::FirstSample] {
            let (lc, wc) = steps(&Device::Cpu, act, term);
            let (lg, wg) = plain(&gpu, || steps(&gpu, act, term));
            for ((rc, sc), (rg, sg)) in lc.iter().zip(&lg) {
                assert!(
                    close(*rc, *rg, 1e-5) && close(*sc, *sg, 1e-5),
                    "{act:?} {term:?}: cpu {lc:?} vs gpu {lg:?}"
                );
            }
            for (a, b) in wc.iter().flatten().zip(wg.iter().flatten()) {
                assert!(
                    close(*a as f64, *b as f64, 1e-4),
                    "{act:?} {term:?}: weight {a} vs {b}"
                );
            }
        }
    }
}

#[test]
fn a_whole_training_on_the_gpu_scores_as_on_the_cpu() {
    let gpu = gpu();
    // Two clusters in 12 dimensions: the first is normal.
    let mut rng = seeded_rng(9, 0);
    let row = |shift: f32, rng: &mut rand_chacha::ChaCha8Rng| -> Vec<f32> {
        (0..12)
            .map(|j| shift * (j % 3) as f32 + rand::Rng::random_range(rng, 0.0f32..0.3))
            .collect()
    };
    let train: Vec<f32> = (0..300).flat_map(|_| row(0.2, &mut rng)).collect();
    let test: Vec<f32> = (0..60)
        .flat_map(|i| row(if i < 40 { 0.2 } else { 0.9 }, &mut rng))
        .collect();
    for variant in Variant::ALL {
        let mut cfg = DasvddConfig {
            model: AutoencoderConfig {
                input_dim: 12,
                hidden: vec![16],
                latent: 4,
                output_activation: Activation::Sigmoid,
            },
            train: variant.train_config(None),
        };
        cfg.train.epochs = 20;
        cfg.train.batch_size = 50;
        cfg.train.gamma = GammaChoice::Fixed(0.5);
        let x = SampleView::new(&train, 300, 12).unwrap();
        let t = SampleView::new(&test, 60, 12).unwrap();
        let cpu = fit(&cfg, x, &Device::Cpu, &mut |_| {}).unwrap();
        let on_gpu = plain(&gpu, || fit(&cfg, x, &gpu, &mut |_| {}).unwrap());
        let (sc, sg) = (cpu.score(t).unwrap(), on_gpu.score(t).unwrap());
        let scale = sc.iter().fold(0f64, |m, v| m.max(v.abs()));
        for (a, b) in sc.iter().zip(&sg) {
            assert!(
                (a - b).abs() <= 1e-3 * scale,
                "{variant}: score {a} (cpu) vs {b} (gpu)"
            );
        }
        let (hc, hg) = (cpu.history.last().unwrap(), on_gpu.history.last().unwrap());
        assert!(
            close(hc.total, hg.total, 1e-3),
            "{variant}: {hc:?} vs {hg:?}"
        );
    }
}

/// Three models trained at once (`fit_stacked`, batched products over the model axis) on the
/// GPU against the same models trained one by one on the CPU's fused kernels.
#[test]
fn a_stack_trains_on_the_gpu_as_each_model_alone_on_the_cpu() {
    let gpu = gpu();
    let mut rng = seeded_rng(11, 0);
    let data: Vec<Vec<f32>> = (0..2)
        .map(|c| {
            (0..120 * 10)
                .map(|j| 0.3 * (c + j % 2) as f32 + rand::Rng::random_range(&mut rng, 0.0f32..0.3))
                .collect()
        })
        .collect();
    let xs: Vec<SampleView<'_>> = (0..3)
        .map(|m| SampleView::new(&data[m % 2], 120, 10).unwrap())
        .collect();
    for variant in Variant::ALL {
        let configs: Vec<DasvddConfig> = (0..3u64)
            .map(|seed| {
                let mut c = DasvddConfig {
                    model: AutoencoderConfig {
                        input_dim: 10,
                        hidden: vec![8],
                        latent: 3,
                        output_activation: Activation::Sigmoid,
                    },
                    train: variant.train_config(None),
                };
                c.train.epochs = 10;
                c.train.batch_size = 30;
                c.train.seed = seed;
                c
            })
            .collect();
        let stacked = plain(&gpu, || {
            dasvdd_core::fit_stacked(&configs, &xs, &gpu, &mut |_, _| {
                std::ops::ControlFlow::Continue(())
            })
            .unwrap()
        });
        for (m, model) in stacked.into_iter().enumerate() {
            let on_gpu = model.unwrap();
            let cpu = fit(&configs[m], xs[m], &Device::Cpu, &mut |_| {}).unwrap();
            assert!(close(on_gpu.gamma, cpu.gamma, 1e-4), "{variant} {m}");
            let (sg, sc) = (
                on_gpu.score(xs[1 - m % 2]).unwrap(),
                cpu.score(xs[1 - m % 2]).unwrap(),
            );
            let scale = sc.iter().fold(0f64, |a, v| a.max(v.abs()));
            for (a, b) in sc.iter().zip(&sg) {
                assert!(
                    (a - b).abs() <= 1e-3 * scale,
                    "{variant} model {m}: score {a} (cpu, alone) vs {b} (gpu, stacked)"
                );
            }
        }
    }
}

/// Copies of one model (same seed, same data) trained at once in one stack must stay identical
/// step for step, since each copy's products and updates see the same values: a difference
/// between copies means part of a stacked tensor was overwritten. The H200's first matrix run
/// had such steps (docs/gpu.md, section 5), which the short trainings above did not show. On a
/// GPU: twenty copies of the Fashion-MNIST network on 6,000 random images for 60 epochs (1,800
/// steps); without one, four copies of a small network on the CPU's plain operations.
#[test]
fn copies_of_one_model_in_a_stack_stay_identical() {
    let gpu = gpu();
    let on_gpu = !gpu.is_cpu();
    let mut cfg = if on_gpu {
        DasvddConfig::from_preset(dasvdd_core::Preset::Mnist)
    } else {
        DasvddConfig {
            model: AutoencoderConfig {
                input_dim: 20,
                hidden: vec![16],
                latent: 4,
                output_activation: Activation::Sigmoid,
            },
            train: Variant::default().train_config(None),
        }
    };
    let (rows, copies) = if on_gpu { (6000, 20) } else { (200, 4) };
    cfg.train.epochs = if on_gpu { 60 } else { 5 };
    cfg.train.gamma = GammaChoice::Fixed(0.5);
    let cols = cfg.model.input_dim;
    let mut rng = seeded_rng(13, 0);
    let data: Vec<f32> = (0..rows * cols)
        .map(|_| rand::Rng::random_range(&mut rng, 0.0f32..1.0))
        .collect();
    let x = SampleView::new(&data, rows, cols).unwrap();
    let xs = vec![x; copies];
    let configs = vec![cfg; copies];
    let models = plain(&gpu, || {
        dasvdd_core::fit_stacked(&configs, &xs, &gpu, &mut |_, _| {
            std::ops::ControlFlow::Continue(())
        })
        .unwrap()
    });
    let models: Vec<_> = models.into_iter().map(|m| m.unwrap()).collect();
    let first = &models[0];
    let probe = x.slice_rows(0, 50);
    let first_scores = first.score(probe).unwrap();
    for (k, m) in models.iter().enumerate().skip(1) {
        for (a, b) in first.history.iter().zip(&m.history) {
            assert!(
                close(a.total, b.total, 1e-6) && close(a.reconstruction, b.reconstruction, 1e-6),
                "copy {k} left copy 0 at epoch {}: total {} vs {}, reconstruction {} vs {}",
                a.epoch,
                b.total,
                a.total,
                b.reconstruction,
                a.reconstruction
            );
        }
        for (a, b) in first_scores.iter().zip(m.score(probe).unwrap()) {
            assert!(close(*a, b, 1e-6), "copy {k}: score {b} vs copy 0's {a}");
        }
    }
}
