//! `cargo xtask perf --stacked K`: training K DASVDD models at once (`fit_stacked`, one pass
//! over a leading model axis) against training them one after the other, from the PIMA network
//! (8-10-4-4, where the per-step overhead dominates) through three mid-sized ones to the
//! Fashion-MNIST network (784-1024-256-256, where the products dominate), in the same run. On
//! the CPU `fit_stacked` trains in lockstep only as many models as its state budget allows
//! (`sub_stacks`; the column "per pass"), so the large networks train one per pass there. Each side is timed in
//! alternating rounds and the median taken, so that a noisy machine shows in both alike.
//! The data are uniform random values (speed does not depend on them); gamma is fixed so that
//! only training is timed. With `DASVDD_STACK_PHASES` set, it also prints seconds per model by
//! phase of the step, one at a time and at once, for the Fashion-MNIST network.

use std::time::Instant;

use anyhow::{Context, Result};
use candle_core::Device;
use dasvdd_core::{
    fit, fit_stacked, Activation, AutoencoderConfig, DasvddConfig, GammaChoice, Preset, SampleView,
};
use rand::{Rng, SeedableRng};

/// One network's comparison: `(samples/s one at a time, samples/s stacked)`.
fn compare(
    model: AutoencoderConfig,
    rows: usize,
    epochs: usize,
    models: usize,
) -> Result<(f64, f64)> {
    let mut config = DasvddConfig::from_preset(Preset::Mnist);
    config.model = model;
    config.train.gamma = GammaChoice::Fixed(1.0);
    config.train.epochs = epochs;
    let cols = config.model.input_dim;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    // Two training sets of equal size (two "classes"), shared out over the models.
    let data: Vec<Vec<f32>> = (0..2)
        .map(|_| (0..rows * cols).map(|_| rng.random::<f32>()).collect())
        .collect();
    let configs: Vec<DasvddConfig> = (0..models as u64)
        .map(|seed| {
            let mut c = config.clone();
            c.train.seed = seed;
            c
        })
        .collect();
    let xs: Vec<SampleView<'_>> = (0..models)
        .map(|m| SampleView::new(&data[m % 2], rows, cols))
        .collect::<dasvdd_core::Result<_>>()?;
    let dev = Device::Cpu;
    let samples =
        (models * (rows / config.train.batch_size) * config.train.batch_size * epochs) as f64;
    let (mut alone, mut stacked) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        let t = Instant::now();
        for (c, x) in configs.iter().zip(&xs) {
            fit(c, *x, &dev, &mut |_| {}).context("training one model failed")?;
        }
        alone.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        for r in fit_stacked(&configs, &xs, &dev, &mut |_, _| {
            std::ops::ControlFlow::Continue(())
        })? {
            r.context("training in a stack failed")?;
        }
        stacked.push(t.elapsed().as_secs_f64());
    }
    Ok((samples / median(&mut alone), samples / median(&mut stacked)))
}

/// The median of `v` (the mean of the two middle values for an even count); sorts `v`. Also
/// `xtask perf --spin-ab`'s.
pub(crate) fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    (v[(n - 1) / 2] + v[n / 2]) / 2.0
}

/// Seconds per model by phase of the step ([`dasvdd_core::step_profile`]), one at a time and
/// at once, for the network of `preset`.
fn phases(preset: Preset, rows: usize, epochs: usize, models: usize) -> Result<()> {
    use dasvdd_core::step_profile;
    let mut config = DasvddConfig::from_preset(preset);
    config.train.gamma = GammaChoice::Fixed(1.0);
    config.train.epochs = epochs;
    let cols = config.model.input_dim;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let data: Vec<f32> = (0..rows * cols).map(|_| rng.random::<f32>()).collect();
    let x = SampleView::new(&data, rows, cols)?;
    let configs: Vec<DasvddConfig> = (0..models as u64)
        .map(|seed| {
            let mut c = config.clone();
            c.train.seed = seed;
            c
        })
        .collect();
    let xs = vec![x; models];
    let dev = Device::Cpu;
    let measure = |stacked: bool| -> Result<(f64, Vec<(step_profile::Phase, f64)>)> {
        step_profile::reset();
        step_profile::enable(true);
        let t = Instant::now();
        if stacked {
            for r in fit_stacked(&configs, &xs, &dev, &mut |_, _| {
                std::ops::ControlFlow::Continue(())
            })? {
                r?;
            }
        } else {
            for c in &configs {
                fit(c, x, &dev, &mut |_| {})?;
            }
        }
        step_profile::enable(false);
        Ok((t.elapsed().as_secs_f64(), step_profile::totals()))
    };
    let (alone, pa) = measure(false)?;
    let (together, pt) = measure(true)?;
    println!("seconds per model by phase ({models} models, {rows} x {epochs}):");
    println!("  {:<36} {:>10} {:>10}", "", "alone", "at once");
    let k = models as f64;
    for ((phase, a), (_, t)) in pa.iter().zip(&pt) {
        println!("  {:<36} {:>10.4} {:>10.4}", phase.name(), a / k, t / k);
    }
    let rest = |total: f64, p: &[(step_profile::Phase, f64)]| {
        total - p.iter().map(|(_, s)| s).sum::<f64>()
    };
    println!(
        "  {:<36} {:>10.4} {:>10.4}",
        "the rest",
        rest(alone, &pa) / k,
        rest(together, &pt) / k
    );
    Ok(())
}

/// Prints the comparison for both networks.
pub fn run(models: usize) -> Result<()> {
    println!(
        "{models} DASVDD models one at a time vs at once (fit_stacked), median of 3 alternating \
         rounds, {} threads",
        candle_core::utils::get_num_threads()
    );
    println!(
        "{:<44} {:>14} {:>14} {:>8} {:>9}",
        "network (training rows x epochs per model)",
        "one at a time",
        "at once",
        "ratio",
        "per pass"
    );
    let mlp = |input_dim, hidden: &[usize], latent| AutoencoderConfig {
        input_dim,
        hidden: hidden.to_vec(),
        latent,
        output_activation: Activation::Identity,
    };
    for (model, name, rows, epochs) in [
        (Preset::Pima.autoencoder(), "PIMA 8-10-4-4", 500, 300),
        (mlp(64, &[32], 16), "64-32-16", 500, 100),
        (mlp(256, &[128], 64), "256-128-64", 1000, 30),
        (mlp(512, &[512], 128), "512-512-128", 1000, 8),
        (
            Preset::Mnist.autoencoder(),
            "Fashion-MNIST 784-1024-256-256",
            2000,
            4,
        ),
    ] {
        let parameters = dasvdd_core::Autoencoder::parameter_count(&model).unwrap_or(usize::MAX);
        let per_pass = dasvdd_core::stack::sub_stacks(models, parameters, &Device::Cpu)
            .first()
            .map_or(0, |r| r.len());
        let (alone, stacked) = compare(model, rows, epochs, models)?;
        println!(
            "{:<44} {:>10.0} s/s {:>10.0} s/s {:>7.2}x {:>9}",
            format!("{name} ({rows} x {epochs})"),
            alone,
            stacked,
            stacked / alone,
            per_pass
        );
    }
    println!(
        "(s/s: training samples per second over all models; per pass: models trained in \
         lockstep on the CPU, dasvdd_core::stack::sub_stacks)"
    );
    if std::env::var_os("DASVDD_STACK_PHASES").is_some() {
        phases(Preset::Mnist, 2000, 3, models)?;
    }
    Ok(())
}
