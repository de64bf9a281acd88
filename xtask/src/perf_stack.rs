//! `cargo xtask perf --stacked K`: training K DASVDD models at once (`fit_stacked`, one pass
//! over a leading model axis) against training them one after the other, on the PIMA network
//! (8-10-4-4, where the per-step overhead dominates) and the Fashion-MNIST network
//! (784-1024-256-256, where the products dominate), in the same run. Each side is timed in
//! alternating rounds and the median taken, so that a noisy machine shows in both alike.
//! The data are uniform random values (speed does not depend on them); gamma is fixed so that
//! only training is timed.

use std::time::Instant;

use anyhow::{Context, Result};
use candle_core::Device;
use dasvdd_core::{fit, fit_stacked, DasvddConfig, GammaChoice, Preset, SampleView};
use rand::{Rng, SeedableRng};

/// One network's comparison: `(samples/s one at a time, samples/s stacked)`.
fn compare(preset: Preset, rows: usize, epochs: usize, models: usize) -> Result<(f64, f64)> {
    let mut config = DasvddConfig::from_preset(preset);
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
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    Ok((samples / median(&mut alone), samples / median(&mut stacked)))
}

/// Prints the comparison for both networks.
pub fn run(models: usize) -> Result<()> {
    println!(
        "{models} DASVDD models one at a time vs at once (fit_stacked), median of 3 alternating \
         rounds, {} threads",
        candle_core::utils::get_num_threads()
    );
    println!(
        "{:<44} {:>14} {:>14} {:>8}",
        "network (training rows x epochs per model)", "one at a time", "at once", "ratio"
    );
    for (preset, name, rows, epochs) in [
        (Preset::Pima, "PIMA 8-10-4-4", 500, 60),
        (Preset::Mnist, "Fashion-MNIST 784-1024-256-256", 1000, 2),
    ] {
        let (alone, stacked) = compare(preset, rows, epochs, models)?;
        println!(
            "{:<44} {:>10.0} s/s {:>10.0} s/s {:>7.2}x",
            format!("{name} ({rows} x {epochs})"),
            alone,
            stacked,
            stacked / alone
        );
    }
    println!("(s/s: training samples per second over all models)");
    Ok(())
}
