//! The fused CPU kernels against the plain candle operations that other devices use: the same
//! training steps from the same initial weights give the same losses and weights (up to f32
//! rounding), for every output activation.

use candle_core::{Device, Tensor};
use dasvdd_core::config::SvddTerm;
use dasvdd_core::dasvdd::seeded_rng;
use dasvdd_core::kernels::set_fused_kernels;
use dasvdd_core::{Activation, Adam, AdamConfig, Autoencoder, AutoencoderConfig};

fn run(fused: bool, copies: bool, act: Activation) -> (Vec<(f64, f64)>, Vec<Vec<f32>>) {
    set_fused_kernels(fused);
    let dev = Device::Cpu;
    let cfg = AutoencoderConfig {
        input_dim: 30,
        hidden: vec![24, 12],
        latent: 6,
        output_activation: act,
    };
    let ae = Autoencoder::init(&cfg, &mut seeded_rng(5, 0), &dev).unwrap();
    let config = AdamConfig {
        weight_decay: 1e-3,
        ..AdamConfig::default()
    };
    // The fused path also keeps and reads transposed weight copies (`optimizer`).
    let mut adam = if copies {
        ae.optimizer(config).unwrap()
    } else {
        Adam::new(ae.vars(), config).unwrap()
    };
    let mut rng = seeded_rng(6, 0);
    let x: Vec<f32> = (0..40 * 30)
        .map(|_| rand::Rng::random_range(&mut rng, 0.0f32..1.0))
        .collect();
    let x = Tensor::from_vec(x, (40, 30), &dev).unwrap();
    let c = Tensor::from_vec(
        (0..6).map(|i| i as f32 * 0.1 - 0.2).collect::<Vec<f32>>(),
        6,
        &dev,
    )
    .unwrap();
    let mut losses = Vec::new();
    for _ in 0..5 {
        let l = ae
            .train_step(&x, Some((&c, 0.7, SvddTerm::BatchMean)), &mut adam)
            .unwrap();
        losses.push((l.reconstruction, l.svdd));
    }
    let weights = ae
        .vars()
        .iter()
        .map(|v| {
            v.as_tensor()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap()
        })
        .collect();
    set_fused_kernels(true);
    (losses, weights)
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * (1.0 + a.abs().max(b.abs()))
}

#[test]
fn fused_kernels_match_plain_candle_operations() {
    for act in [
        Activation::Sigmoid,
        Activation::LeakyRelu,
        Activation::Identity,
    ] {
        let (lf, wf) = run(true, true, act);
        let (lr, wr) = run(false, false, act);
        // Fused kernels without the transposed copies agree with them (up to the summation
        // order of the two product layouts).
        let (lc, wc) = run(true, false, act);
        for ((a, b), (c, d)) in lc.iter().zip(&lf) {
            assert!(
                close(*a, *c, 1e-6) && close(*b, *d, 1e-6),
                "{act:?}: {lc:?} vs {lf:?}"
            );
        }
        let worst = wc
            .iter()
            .flatten()
            .zip(wf.iter().flatten())
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(
            worst < 1e-6,
            "{act:?}: transposed copies change a weight by {worst}"
        );
        for ((rf, sf), (rr, sr)) in lf.iter().zip(&lr) {
            assert!(
                close(*rf, *rr, 1e-5) && close(*sf, *sr, 1e-5),
                "{act:?}: fused {lf:?} vs plain {lr:?}"
            );
        }
        for (a, b) in wf.iter().flatten().zip(wr.iter().flatten()) {
            assert!(
                close(*a as f64, *b as f64, 1e-4),
                "{act:?}: weight {a} vs {b}"
            );
        }
        // The loss falls over the five steps either way.
        assert!(lf[4].0 + 0.7 * lf[4].1 < lf[0].0 + 0.7 * lf[0].1);
    }
}

#[test]
fn transposed_products_match_candle() {
    let dev = Device::Cpu;
    let mut rng = seeded_rng(9, 0);
    let mut rand = |r: usize, c: usize| {
        let v: Vec<f32> = (0..r * c)
            .map(|_| rand::Rng::random_range(&mut rng, -1.0f32..1.0))
            .collect();
        Tensor::from_vec(v, (r, c), &dev).unwrap()
    };
    // Sizes that are not multiples of the 32-wide transpose tiles.
    for (m, k, n) in [(7, 5, 3), (45, 70, 33), (180, 100, 65)] {
        let a = rand(m, k);
        let b = rand(n, k);
        let c = rand(m, n);
        let nt = dasvdd_core::kernels::matmul_nt(&a, &b).unwrap();
        let reference = a.matmul(&b.t().unwrap()).unwrap();
        let diff = (nt - reference)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(diff < 1e-4, "a @ b^T differs by {diff} for {m}x{k}x{n}");
        let tn = dasvdd_core::kernels::matmul_tn(&a, &c).unwrap();
        let reference = a.t().unwrap().matmul(&c).unwrap();
        let diff = (tn - reference)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(diff < 1e-4, "a^T @ c differs by {diff} for {m}x{k}x{n}");
    }
}

#[test]
fn first_sample_svdd_term_touches_only_the_first_row() {
    let dev = Device::Cpu;
    let z = Tensor::new(&[[1.0f32, 2.0], [3.0, -1.0], [0.5, 0.5]], &dev).unwrap();
    let c = Tensor::new(&[0.5f32, 1.0], &dev).unwrap();
    for fused in [true, false] {
        set_fused_kernels(fused);
        let (g, m) =
            dasvdd_core::kernels::svdd_grad(z.zeros_like().unwrap(), &z, &c, &[2.0], true).unwrap();
        let m = m[0];
        set_fused_kernels(true);
        // ||z_0 - c||^2 = 0.25 + 1 and its gradient 2 * gamma * (z_0 - c) = [2, 4].
        assert!((m - 1.25).abs() < 1e-9, "fused {fused}: {m}");
        assert_eq!(
            g.to_vec2::<f32>().unwrap(),
            vec![vec![2.0, 4.0], vec![0.0, 0.0], vec![0.0, 0.0]],
            "fused {fused}"
        );
        // The batch mean divides by the rows and covers them all.
        set_fused_kernels(fused);
        let (g, m) =
            dasvdd_core::kernels::svdd_grad(z.zeros_like().unwrap(), &z, &c, &[2.0], false)
                .unwrap();
        let m = m[0];
        set_fused_kernels(true);
        assert!(
            (m - (1.25 + 10.25 + 0.25) / 3.0).abs() < 1e-6,
            "fused {fused}: {m}"
        );
        let g = g.to_vec2::<f32>().unwrap();
        assert!(
            (g[1][0] - 4.0 * 2.5 / 3.0).abs() < 1e-6,
            "fused {fused}: {g:?}"
        );
    }
}

/// Five fused training steps of a network whose products are large enough (over 2^24 FLOP) to
/// be split over threads: output columns in blocks, a layer's two gradient products side by
/// side, each layer's Adam update beside the backward pass. The first layer's inner dimension
/// (1,100) is longer than one of `gemm`'s blocks of the sum. With `term`, the SVDD term of that
/// form around a centre at 0; without, the autoencoder alone. Returns the losses and weights
/// bit for bit.
fn large_steps(term: Option<SvddTerm>) -> (Vec<(f64, f64)>, Vec<Vec<f32>>) {
    let dev = Device::Cpu;
    let cfg = AutoencoderConfig {
        input_dim: 1100,
        hidden: vec![400],
        latent: 64,
        output_activation: Activation::Sigmoid,
    };
    let ae = Autoencoder::init(&cfg, &mut seeded_rng(8, 0), &dev).unwrap();
    let mut adam = ae.optimizer(AdamConfig::default()).unwrap();
    let mut rng = seeded_rng(9, 0);
    let x: Vec<f32> = (0..200 * 1100)
        .map(|_| rand::Rng::random_range(&mut rng, 0.0f32..1.0))
        .collect();
    let x = Tensor::from_vec(x, (200, 1100), &dev).unwrap();
    let c = Tensor::zeros(64, candle_core::DType::F32, &dev).unwrap();
    let mut losses = Vec::new();
    for _ in 0..5 {
        let l = ae
            .train_step(&x, term.map(|t| (&c, 0.3, t)), &mut adam)
            .unwrap();
        losses.push((l.reconstruction, l.svdd));
    }
    let weights = ae
        .vars()
        .iter()
        .map(|v| v.as_tensor().flatten_all().unwrap().to_vec1().unwrap())
        .collect();
    (losses, weights)
}

#[test]
fn the_step_gives_the_same_bits_on_one_thread_and_on_many() {
    let pool = |n| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .unwrap()
    };
    // On one thread the backward pass runs layer after layer; on several, in two lanes
    // (`Autoencoder::backward_pipelined`), with and without the SVDD term between them.
    for term in [Some(SvddTerm::BatchMean), Some(SvddTerm::FirstSample), None] {
        let one = pool(1).install(|| large_steps(term));
        let many = pool(4).install(|| large_steps(term));
        assert!(one.0[4].0 < one.0[0].0, "the loss falls: {:?}", one.0);
        assert_eq!(one, many, "{term:?}");
    }
}

#[test]
fn spinning_waits_give_the_same_bits_as_rayons_own() {
    use dasvdd_core::kernels::pool::{busy_workers, set_spin_waits};
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(3)
        .build()
        .unwrap();
    // The switch is process-wide: other tests running meanwhile only change how they wait.
    let term = Some(SvddTerm::BatchMean);
    let spinning = pool.install(|| busy_workers(|| large_steps(term)));
    set_spin_waits(false);
    let sleeping = pool.install(|| large_steps(term));
    set_spin_waits(true);
    assert_eq!(spinning, sleeping);
}
