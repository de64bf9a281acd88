//! `cargo xtask perf --lenet`: speed of Deep SVDD on Ruff's LeNet networks on the CPU, both
//! training phases (the autoencoder's pre-training and the one-class objective), on the MNIST
//! (1 x 28 x 28) and CIFAR-10 (3 x 32 x 32) shapes, against the same networks and loops in
//! PyTorch (Ruff's `*_LeNet` and `*_LeNet_Autoencoder`, Adam, batch 200) when a Python with
//! torch is found. These are the benchmark's slowest cells: a full-scale LeNet cell costs
//! several DASVDD cells. The data are uniform random pixels: speed does not depend on the
//! values.

use std::path::Path;

use anyhow::{Context, Result};
use candle_core::Device;
use dasvdd_baselines::{DeepSvddNetwork, DeepSvddParams};
use dasvdd_core::SampleView;
use rand::{Rng, SeedableRng};

/// Ruff's two networks in PyTorch, timed as the project's trainer runs them: `argv` is the
/// network (`mnist` or `cifar10`), the samples and the timed epochs (after one warm-up epoch
/// per phase). Prints the pre-training and one-class seconds per epoch, torch's version and
/// thread count. Each batch does what Ruff's trainers do and no more: zero the gradients, the
/// loss, its backward pass, Adam's step, and the loss's `.item()` that his trainers sum for
/// the log.
const TORCH_SCRIPT: &str = r#"
import sys, time, torch
import torch.nn as nn
import torch.nn.functional as F
kind, n, epochs, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
torch.set_num_threads(threads)
torch.manual_seed(0)
bn = lambda c: nn.BatchNorm2d(c, eps=1e-4, affine=False)
if kind == "mnist":
    shape, chans, rep, deconvs = (1, 28, 28), [8, 4], 32, [(2, 4, 2), (4, 8, 3), (8, 1, 2)]
else:
    shape, chans, rep, deconvs = (3, 32, 32), [32, 64, 128], 128, [(8, 128, 2), (128, 64, 2), (64, 32, 2), (32, 3, 2)]
class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        c_in, convs, bns = shape[0], [], []
        for c in chans:
            convs.append(nn.Conv2d(c_in, c, 5, bias=False, padding=2)); bns.append(bn(c)); c_in = c
        self.convs, self.bns = nn.ModuleList(convs), nn.ModuleList(bns)
        side = shape[1] >> len(chans)
        self.fc = nn.Linear(chans[-1] * side * side, rep, bias=False)
    def forward(self, x):
        for conv, b in zip(self.convs, self.bns):
            x = F.max_pool2d(F.leaky_relu(b(conv(x))), 2)
        return self.fc(x.flatten(1))
class Autoencoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = Encoder()
        self.code_bn = nn.BatchNorm1d(rep, eps=1e-4, affine=False) if kind != "mnist" else None
        self.deconvs = nn.ModuleList([nn.ConvTranspose2d(i, o, 5, bias=False, padding=p) for i, o, p in deconvs])
        self.bns = nn.ModuleList([bn(o) for _, o, _ in deconvs[:-1]])
    def forward(self, x):
        z = self.encoder(x)
        if self.code_bn is not None:
            z = self.code_bn(z)
        x = F.leaky_relu(z.view(-1, rep // 16, 4, 4))
        if kind == "mnist":
            x = F.interpolate(x, scale_factor=2)
        for i, d in enumerate(self.deconvs):
            x = d(x)
            if i < len(self.bns):
                x = F.interpolate(F.leaky_relu(self.bns[i](x)), scale_factor=2)
        return torch.sigmoid(x)
x = torch.rand(n, *shape)
def timed(model, loss_of, weight_decay):
    opt = torch.optim.Adam(model.parameters(), lr=1e-4, weight_decay=weight_decay)
    model.train()
    def epoch():
        perm = torch.randperm(n)
        for i in range(0, n - 199, 200):
            xb = x[perm[i:i + 200]]
            opt.zero_grad()
            loss = loss_of(model, xb)
            loss.backward()
            opt.step()
            loss.item()
    epoch()
    t = time.perf_counter()
    for _ in range(epochs):
        epoch()
    return (time.perf_counter() - t) / epochs
ae = Autoencoder()
pre = timed(ae, lambda m, xb: torch.mean(torch.sum((m(xb) - xb) ** 2, dim=(1, 2, 3))), 0.5e-6)
net = Encoder()
net.load_state_dict(ae.encoder.state_dict())
c = torch.full((rep,), 0.1)
one = timed(net, lambda m, xb: torch.mean(torch.sum((m(xb) - c) ** 2, dim=1)), 0.5e-6)
print(f"{pre:.5f} {one:.5f} {torch.__version__} {torch.get_num_threads()}")
"#;

/// Seconds per epoch of PyTorch's pre-training and one-class loops, and its version.
fn torch(python: &Path, kind: &str, samples: usize, epochs: usize) -> Option<(f64, f64, String)> {
    let threads = candle_core::utils::get_num_threads();
    let args = [
        kind.to_string(),
        samples.to_string(),
        epochs.to_string(),
        threads.to_string(),
    ];
    crate::torch_script::run(python, TORCH_SCRIPT, &args)
}

/// Mean seconds per epoch after the first (the warm-up).
fn after_warm_up(seconds: &[f64]) -> f64 {
    let timed = &seconds[1.min(seconds.len())..];
    timed.iter().sum::<f64>() / timed.len().max(1) as f64
}

/// Times both phases of the project's Deep SVDD on `kind`'s network (`cols` features per image)
/// and, unless `python` is `None`, PyTorch's; prints a table.
fn run_one(
    kind: &str,
    cols: usize,
    samples: usize,
    epochs: usize,
    python: Option<&Path>,
) -> Result<()> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let data: Vec<f32> = (0..samples * cols).map(|_| rng.random::<f32>()).collect();
    let x = SampleView::new(&data, samples, cols)?;
    let params = DeepSvddParams {
        network: DeepSvddNetwork::Lenet,
        pretrain_epochs: epochs + 1,
        epochs: epochs + 1,
        batch_size: 200,
        ..DeepSvddParams::default()
    };
    let (mut pre, mut one) = (Vec::new(), Vec::new());
    params
        .fit_with_progress(x, &Device::Cpu, &mut |e| pre.push(e.seconds), &mut |e| {
            one.push(e.seconds)
        })
        .with_context(|| format!("training Deep SVDD's {kind} LeNet failed"))?;
    let (pre, one) = (after_warm_up(&pre), after_warm_up(&one));
    // Both sides drop nothing: the samples are a whole number of batches of 200.
    let used = samples as f64;
    println!(
        "{kind} LeNet, {samples} samples, batch 200, {epochs} timed epochs per phase (after one \
         warm-up)"
    );
    println!(
        "  {:<28} {:>16} {:>12} {:>16} {:>12}",
        "", "pre-training/s", "s/epoch", "one-class/s", "s/epoch"
    );
    let row = |name: &str, pre: f64, one: f64| {
        println!(
            "  {:<28} {:>16.0} {:>12.3} {:>16.0} {:>12.3}",
            name,
            used / pre,
            pre,
            used / one,
            one
        )
    };
    row("dasvdd-rs", pre, one);
    let Some(python) = python else {
        return Ok(());
    };
    match torch(python, kind, samples, epochs) {
        Some((tpre, tone, version)) => {
            row("PyTorch, Ruff's networks", tpre, tone);
            println!(
                "  dasvdd-rs / PyTorch: {:.2}x the samples per second in pre-training, {:.2}x in \
                 the one-class phase ({version}, {})",
                tpre / pre,
                tone / one,
                python.display()
            );
        }
        None => println!(
            "  PyTorch's loop failed under {}: no side-by-side comparison",
            python.display()
        ),
    }
    Ok(())
}

/// `cargo xtask perf --lenet`: both networks, `samples` images each (rounded down to whole
/// batches of 200, at least one).
pub fn run(samples: usize, epochs: usize, python: Option<&Path>) -> Result<()> {
    let samples = (samples / 200).max(1) * 200;
    println!(
        "Deep SVDD on Ruff's LeNet networks, {} threads",
        candle_core::utils::get_num_threads()
    );
    let python = python.filter(|p| crate::torch_script::found(p));
    for (kind, cols) in [("mnist", 784), ("cifar10", 3072)] {
        run_one(kind, cols, samples, epochs.max(1), python)?;
    }
    Ok(())
}
