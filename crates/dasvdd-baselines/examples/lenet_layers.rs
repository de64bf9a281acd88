//! Times the layers of Ruff's CIFAR-10 LeNet encoder one by one on the fused CPU kernels: each
//! convolution's forward and backward pass, the batch norm, leaky ReLU and 2x2 max pooling
//! around it (both directions), and one whole one-class step, on a batch of 200 (best of 5
//! runs each). Run it as `cargo run --example lenet_layers -p dasvdd-baselines`; the README's
//! section on the LeNet's element-wise layers quotes it.

use std::cell::RefCell;
use std::time::Instant;

use candle_core::{Device, Tensor};
use dasvdd_baselines::lenet::{LenetEncoder, LenetKind};
use dasvdd_core::kernels::conv::{
    batch_norm_backward, batch_norm_forward, conv_backward, conv_forward, leaky_relu_backward,
    leaky_relu_forward, max_pool2_backward, max_pool2_forward,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

const BATCH: usize = 200;
const RUNS: usize = 5;

/// The shortest of [`RUNS`] runs of `f`, in seconds.
fn best(f: &dyn Fn() -> candle_core::Result<()>) -> Result<f64> {
    let mut best = f64::MAX;
    for _ in 0..RUNS {
        let start = Instant::now();
        f()?;
        best = best.min(start.elapsed().as_secs_f64());
    }
    Ok(best)
}

/// A tensor of `shape` with values uniform in [-1, 1), from `rng`.
fn uniform(rng: &mut ChaCha8Rng, shape: &[usize]) -> Result<Tensor> {
    let n = shape.iter().product();
    let v: Vec<f32> = (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect();
    Ok(Tensor::from_vec(v, shape, &Device::Cpu)?)
}

fn main() -> Result<()> {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    println!(
        "CIFAR-10 LeNet encoder, batch {BATCH}, {} threads, best of {RUNS} (seconds)",
        candle_core::utils::get_num_threads()
    );
    let encoder = RefCell::new(LenetEncoder::init(
        LenetKind::Cifar10,
        &mut rng,
        &Device::Cpu,
    )?);
    let x = uniform(&mut rng, &[BATCH, 3072])?;
    let c = uniform(&mut rng, &[128])?;
    // The encoder's running statistics move from step to step; the time does not depend on them.
    let step = best(&|| {
        let mut e = encoder.borrow_mut();
        e.svdd_step(&x, &c)
            .map(|_| ())
            .map_err(|e| candle_core::Error::Msg(e.to_string()))
    })?;
    println!("one-class step (forward and backward): {step:.4}");
    // (input channels, side, output channels), padding 2, 5 x 5 kernels.
    for (c_in, side, c_out) in [(3usize, 32usize, 32usize), (32, 16, 64), (64, 8, 128)] {
        let x = uniform(&mut rng, &[BATCH, c_in, side, side])?;
        let w = (uniform(&mut rng, &[c_out, c_in, 5, 5])? * 0.1)?;
        let y = conv_forward(&x, &w, 2, false)?;
        let dy = uniform(&mut rng, y.dims())?;
        let need_dx = c_in != 3;
        let conv_f = best(&|| conv_forward(&x, &w, 2, false).map(|_| ()))?;
        let conv_b = best(&|| conv_backward(&x, &w, 2, false, &dy, need_dx).map(|_| ()))?;
        let (n, stats) = batch_norm_forward(&y, 1e-4)?;
        let r = leaky_relu_forward(&n)?;
        let p = max_pool2_forward(&r)?;
        let dp = uniform(&mut rng, p.dims())?;
        let dr = max_pool2_backward(&r, &dp)?;
        let dn = leaky_relu_backward(&dr, &r)?;
        let times = [
            best(&|| batch_norm_forward(&y, 1e-4).map(|_| ()))?,
            best(&|| leaky_relu_forward(&n).map(|_| ()))?,
            best(&|| max_pool2_forward(&r).map(|_| ()))?,
            best(&|| max_pool2_backward(&r, &dp).map(|_| ()))?,
            best(&|| leaky_relu_backward(&dr, &r).map(|_| ()))?,
            best(&|| batch_norm_backward(&dn, &n, &stats, 1e-4).map(|_| ()))?,
        ];
        println!(
            "{c_out} x {side} x {side}: conv {conv_f:.4} / {conv_b:.4}; batch norm {:.4} / {:.4}, \
             leaky ReLU {:.4} / {:.4}, max pool {:.4} / {:.4} (forward / backward); \
             element-wise layers {:.4}",
            times[0],
            times[5],
            times[1],
            times[4],
            times[2],
            times[3],
            times.iter().sum::<f64>()
        );
    }
    Ok(())
}
