//! `cargo xtask perf`: speed of the DASVDD training step on the CPU.
//!
//! Trains the Fashion-MNIST network (784-1024-256-256, batch 200, kappa 0.9) on 6,000 samples
//! and prints samples per second and the achieved GFLOP/s of the training step, next to the
//! GFLOP/s of a large f32 matrix product by candle measured in the same run and, when PyTorch is
//! importable by `python3`, the same training loop in PyTorch measured in the same run.
//! The data are uniform random pixels: speed does not depend on the values.

use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result};
use candle_core::{Device, Tensor};
use clap::Args;
use dasvdd_core::{fit, DasvddConfig, GammaChoice, Preset, SampleView};
use rand::{Rng, SeedableRng};

/// Options of `cargo xtask perf`.
#[derive(Debug, Clone, Args)]
pub struct PerfArgs {
    /// Number of training samples
    #[arg(long, default_value_t = 6000)]
    samples: usize,
    /// Timed epochs (after one warm-up epoch)
    #[arg(long, default_value_t = 3)]
    epochs: usize,
    /// Skip the PyTorch comparison even when PyTorch is installed
    #[arg(long)]
    no_torch: bool,
    /// Side of the square matrix product used as the reference rate
    #[arg(long, default_value_t = 2048)]
    matmul_size: usize,
}

/// The PyTorch original's training loop (Algorithm 1 as in the authors' code, with the batch
/// mean of the SVDD term as in the paper), timed per epoch after one warm-up epoch.
const TORCH_SCRIPT: &str = r#"
import sys, time, math, torch
n, epochs = int(sys.argv[1]), int(sys.argv[2])
torch.manual_seed(0)
x = torch.rand(n, 784)
enc = torch.nn.Sequential(torch.nn.Linear(784, 1024), torch.nn.LeakyReLU(), torch.nn.Linear(1024, 256), torch.nn.LeakyReLU(), torch.nn.Linear(256, 256), torch.nn.LeakyReLU())
dec = torch.nn.Sequential(torch.nn.Linear(256, 256), torch.nn.LeakyReLU(), torch.nn.Linear(256, 1024), torch.nn.LeakyReLU(), torch.nn.Linear(1024, 784), torch.nn.Sigmoid())
c = torch.randn(256, requires_grad=True)
opt = torch.optim.Adam(list(enc.parameters()) + list(dec.parameters()), lr=1e-3, weight_decay=1e-7)
copt = torch.optim.Adagrad([c], lr=1.0, lr_decay=0.1)
gamma, B = 0.28, 200
k = math.ceil(0.9 * B)
def epoch():
    perm = torch.randperm(n)
    for b in range(n // B):
        xb = x[perm[b * B:(b + 1) * B]]
        xn, xc = xb[:k], xb[k:]
        opt.zero_grad()
        z = enc(xn)
        loss = torch.mean((dec(z) - xn) ** 2) + gamma * torch.mean(torch.sum((z - c.detach()) ** 2, dim=1))
        loss.backward()
        opt.step()
        copt.zero_grad()
        with torch.no_grad():
            zc = enc(xc).mean(0)
        closs = torch.mean((c - zc) ** 2)
        closs.backward()
        copt.step()
epoch()
t = time.perf_counter()
for _ in range(epochs):
    epoch()
dt = (time.perf_counter() - t) / epochs
print(f"{n / dt:.1f} {dt:.4f} {torch.__version__} {torch.get_num_threads()}")
"#;

/// FLOPs of the matrix products of one epoch of DASVDD on `n` samples.
fn epoch_flops(config: &DasvddConfig, n: usize) -> f64 {
    let batch = config.train.batch_size;
    let n_net = config.train.network_split(batch) as f64;
    let n_center = (batch - config.train.network_split(batch)) as f64;
    let enc = config.model.encoder_widths();
    let macs = |w: &[usize]| w.windows(2).map(|p| (p[0] * p[1]) as f64).sum::<f64>();
    let (enc_macs, dec_macs) = (macs(&enc), macs(&config.model.decoder_widths()));
    let first_layer = (enc[0] * enc[1]) as f64;
    // Network step: forward, weight gradients, and input gradients of every layer but the first.
    let network = 2.0 * n_net * (3.0 * (enc_macs + dec_macs) - first_layer);
    // Centre step: forward through the encoder.
    let center = 2.0 * n_center * enc_macs;
    (n / batch) as f64 * (network + center)
}

fn matmul_gflops(size: usize) -> Result<f64> {
    let dev = Device::Cpu;
    let a = Tensor::rand(0f32, 1f32, (size, size), &dev)?;
    let b = Tensor::rand(0f32, 1f32, (size, size), &dev)?;
    let _ = a.matmul(&b)?; // warm-up
    let reps = 5;
    let t = Instant::now();
    for _ in 0..reps {
        let _ = a.matmul(&b)?;
    }
    let dt = t.elapsed().as_secs_f64() / reps as f64;
    Ok(2.0 * (size as f64).powi(3) / dt / 1e9)
}

fn torch(samples: usize, epochs: usize) -> Option<(f64, f64, String)> {
    let out = Command::new("python3")
        .arg("-c")
        .arg(TORCH_SCRIPT)
        .arg(samples.to_string())
        .arg(epochs.to_string())
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!(
            "PyTorch comparison skipped: {}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        );
        return None;
    }
    let s = String::from_utf8_lossy(&out.stdout);
    let mut it = s.split_whitespace();
    let sps = it.next()?.parse().ok()?;
    let dt = it.next()?.parse().ok()?;
    let version = format!("torch {} ({} threads)", it.next()?, it.next()?);
    Some((sps, dt, version))
}

/// Runs the measurement and prints the table.
pub fn run(args: &PerfArgs) -> Result<()> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let data: Vec<f32> = (0..args.samples * 784)
        .map(|_| rng.random::<f32>())
        .collect();
    let x = SampleView::new(&data, args.samples, 784)?;
    let mut config = DasvddConfig::from_preset(Preset::Mnist);
    config.train.gamma = GammaChoice::Fixed(0.28);
    config.train.epochs = args.epochs + 1;
    let mut times = Vec::new();
    fit(&config, x, &Device::Cpu, &mut |r| times.push(r.seconds)).context("training failed")?;
    let timed = &times[1..];
    let dt = timed.iter().sum::<f64>() / timed.len() as f64;
    let ours_sps = args.samples as f64 / dt;
    let ours_gflops = epoch_flops(&config, args.samples) / dt / 1e9;
    let mm = matmul_gflops(args.matmul_size)?;

    println!("DASVDD training step, Fashion-MNIST network 784-1024-256-256, batch 200, kappa 0.9, {} samples, CPU ({} threads)", args.samples, candle_core::utils::get_num_threads());
    println!(
        "{:<34} {:>12} {:>10} {:>10}",
        "", "samples/s", "s/epoch", "GFLOP/s"
    );
    println!(
        "{:<34} {:>12.0} {:>10.3} {:>10.1}",
        "dasvdd-rs (candle)", ours_sps, dt, ours_gflops
    );
    println!(
        "{:<34} {:>12} {:>10} {:>10.1}",
        format!("candle matmul {0}x{0}x{0} f32", args.matmul_size),
        "",
        "",
        mm
    );
    println!(
        "training step / matmul rate: {:.0}%",
        100.0 * ours_gflops / mm
    );
    if !args.no_torch {
        if let Some((sps, tdt, version)) = torch(args.samples, args.epochs) {
            println!(
                "{:<34} {:>12.0} {:>10.3} {:>10.1}",
                version,
                sps,
                tdt,
                epoch_flops(&config, args.samples) / tdt / 1e9
            );
            println!(
                "dasvdd-rs / PyTorch samples per second: {:.2}",
                ours_sps / sps
            );
        } else {
            println!("PyTorch not available: no side-by-side comparison");
        }
    }
    Ok(())
}
