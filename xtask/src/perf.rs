//! `cargo xtask perf`: speed of the DASVDD training step on the CPU.
//!
//! Trains the Fashion-MNIST network (784-1024-256-256, batch 200, kappa 0.9) on 6,000 samples
//! and prints samples per second and the achieved GFLOP/s of the training step, next to the
//! GFLOP/s of a large f32 matrix product by candle measured in the same run. Both of the
//! project's training loops are timed: the paper's reading (the default) and the 2021 code's
//! variants (first-sample SVDD term, accumulated centre gradient, centre lr decay 0.01). When a
//! Python with PyTorch is found (`--python`), two PyTorch loops are timed in the same run: the
//! paper's Algorithm 1 written tightly, and the authors' 2021 training loop as their code runs it
//! (a `DataLoader` over in-memory tensors, the first sample's SVDD term, the centre split's
//! forward pass through the whole autoencoder with autograd, `.item()` calls per batch).
//! The header names the CPU and how the binary and its dependencies were compiled, since a
//! dependency build with debug assertions is 2-3x slower.
//! The data are uniform random pixels: speed does not depend on the values.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use candle_core::{Device, Tensor};
use clap::Args;
use dasvdd_core::config::{CenterGrad, SvddTerm};
use dasvdd_core::kernels::products::{gemm_new, gemm_new_gemm_split};
use dasvdd_core::mlp::Mlp;
use dasvdd_core::{build_probe, fit, Autoencoder, DasvddConfig, GammaChoice, Preset, SampleView};
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
    /// Python interpreter with PyTorch for the side-by-side loops
    #[arg(long, default_value = "python3")]
    python: PathBuf,
    /// Side of the square matrix product used as the reference rate
    #[arg(long, default_value_t = 2048)]
    matmul_size: usize,
    /// Also split the step's time by phase (products, activations, Adam, transposed copies,
    /// centre step, gather, the rest), in a separate profiled run
    #[arg(long)]
    phases: bool,
    /// Also time each product of the step alone (forward, weight gradient, input gradient of
    /// every layer, with the kernels' strides and thread count), to show the rate `gemm` gives
    /// these shapes and so the ceiling of the step's share of the matmul rate
    #[arg(long)]
    products: bool,
    /// Also train this many models at once (`fit_stacked`) against one at a time, on the PIMA
    /// and Fashion-MNIST networks
    #[arg(long, value_name = "K")]
    stacked: Option<usize>,
    /// Also time the paper-reading step this many rounds each with the pool's spinning waits
    /// off (rayon's own, which sleep) and on (the default), alternating, and print both
    #[arg(long, value_name = "ROUNDS")]
    spin_ab: Option<usize>,
    /// Also measure the step's share of the matmul rate this many rounds, each a matmul, a
    /// paper-reading training run and a matmul again, and print each round's share and their
    /// median: on a host whose speed drifts, the one run's share above can be off by 10 points
    #[arg(long, value_name = "ROUNDS")]
    share_rounds: Option<usize>,
    /// Time Deep SVDD on Ruff's LeNet networks instead of the DASVDD step: both training
    /// phases on the MNIST and CIFAR-10 shapes (`--samples` images each, `--epochs` timed
    /// epochs per phase), against the same networks and loops in PyTorch when found
    #[arg(long)]
    lenet: bool,
}

/// A product into a new buffer: the kernels' `gemm_new` or `gemm_new_gemm_split`.
type ProductFn = fn(
    (usize, usize, usize),
    &[f32],
    (usize, usize),
    &[f32],
    (usize, usize),
) -> candle_core::Result<Vec<f32>>;

/// GFLOP/s of one product shape through `product` (the kernels' own `gemm_new`, or the same
/// with `gemm`'s own split over threads), timed over about 20 GFLOP after a warm-up.
fn product_rate(
    product: ProductFn,
    dims: (usize, usize, usize),
    l: (usize, usize),
    r: (usize, usize),
) -> Result<f64> {
    let (m, n, k) = dims;
    let lhs = vec![0.5f32; m * k];
    let rhs = vec![0.25f32; k * n];
    for _ in 0..10 {
        product(dims, &lhs, l, &rhs, r)?;
    }
    let flop = 2.0 * (m * n * k) as f64;
    let reps = ((2e10 / flop) as usize).max(10);
    let started = Instant::now();
    for _ in 0..reps {
        product(dims, &lhs, l, &rhs, r)?;
    }
    Ok(flop * reps as f64 / started.elapsed().as_secs_f64() / 1e9)
}

/// The step's products one by one (encoder and decoder of the MNIST preset, batch 200): rates
/// and the seconds per epoch they would take alone.
fn print_products(samples: usize, reference: f64) -> Result<()> {
    let b = 200;
    let widths = [784, 1024, 256, 256, 1024, 784];
    println!("products of the step alone (gemm, batch {b}, the kernels' strides):");
    println!(
        "  {:<14} {:>16} {:>16} {:>16}",
        "layer", "forward", "weight grad", "input grad"
    );
    let mut seconds = 0.0;
    let mut seconds_gemm_split = 0.0;
    let mut flops = 0.0;
    for (li, w) in widths.windows(2).enumerate() {
        let (i, o) = (w[0], w[1]);
        // forward X (b, i) @ W (i, o); weight gradient X^T @ dY, X read transposed; input
        // gradient dY (b, o) @ the row-major (o, i) transposed copy. The first layer has no
        // input gradient.
        let mut shapes = vec![((b, o, i), (i, 1), (o, 1)), ((i, o, b), (1, i), (o, 1))];
        if li > 0 {
            shapes.push(((b, i, o), (o, 1), (i, 1)));
        }
        let mut cells = Vec::new();
        for (dims, l, r) in shapes {
            let g = product_rate(gemm_new, dims, l, r)?;
            let f = 2.0 * (dims.0 * dims.1 * dims.2) as f64;
            seconds += f / (g * 1e9);
            seconds_gemm_split += f / (product_rate(gemm_new_gemm_split, dims, l, r)? * 1e9);
            flops += f;
            cells.push(format!("{g:.1} GFLOP/s"));
        }
        cells.resize(3, "-".into());
        println!(
            "  {:<14} {:>16} {:>16} {:>16}",
            format!("{i}->{o}"),
            cells[0],
            cells[1],
            cells[2]
        );
    }
    let steps = (samples / b) as f64;
    println!(
        "  all of them: {:.1} GFLOP/s, {:.3} s per epoch of {samples} samples, {:.0}% of the \
         matmul reference: the ceiling of the step's share with nothing but products",
        flops / seconds / 1e9,
        seconds * steps,
        100.0 * flops / seconds / 1e9 / reference
    );
    println!(
        "  the same with gemm's own split over threads instead of the kernels' split by output \
         columns: {:.1} GFLOP/s ({:.2}x the time)",
        flops / seconds_gemm_split / 1e9,
        seconds_gemm_split / seconds
    );
    Ok(())
}

/// Both PyTorch loops, each timed per epoch after one warm-up epoch. `paper`: Algorithm 1 with
/// the batch mean of the SVDD term and the centre split's codes under `no_grad`. `authors`: the
/// loop of the 2021 code (`Source/Trainer.py` of Armanfard-Lab/DASVDD) with its data in memory.
const TORCH_SCRIPT: &str = r#"
import sys, time, math, torch
n, epochs, which = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
torch.manual_seed(0)
x = torch.rand(n, 784)
B, K, gamma = 200, 0.9, 0.28
L = torch.nn.Linear
class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.e1, self.e2, self.e3 = L(784, 1024), L(1024, 256), L(256, 256)
        self.d1, self.d2, self.d3 = L(256, 256), L(256, 1024), L(1024, 784)
    def encode(self, v):
        f = torch.nn.functional.leaky_relu
        return f(self.e3(f(self.e2(f(self.e1(v))))))
    def forward(self, v):
        f = torch.nn.functional.leaky_relu
        code = self.encode(v)
        return torch.sigmoid(self.d3(f(self.d2(f(self.d1(code)))))), code
model = Net()
opt = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-7)
c = torch.randn(256, requires_grad=True)
crit = torch.nn.MSELoss()
if which == "paper":
    copt = torch.optim.Adagrad([c], lr=1.0, lr_decay=0.1)
    k = math.ceil(K * B)
    def epoch():
        perm = torch.randperm(n)
        for b in range(n // B):
            xb = x[perm[b * B:(b + 1) * B]]
            xn, xc = xb[:k], xb[k:]
            opt.zero_grad()
            out, z = model(xn)
            loss = crit(out, xn) + gamma * torch.mean(torch.sum((z - c.detach()) ** 2, dim=1))
            loss.backward()
            opt.step()
            copt.zero_grad()
            with torch.no_grad():
                zc = model.encode(xc).mean(0)
            closs = crit(c, zc)
            closs.backward()
            copt.step()
else:
    copt = torch.optim.Adagrad([c], lr=1.0, lr_decay=0.01)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x), batch_size=B, shuffle=True)
    def epoch():
        total = ae = sv = 0.0
        cv = 0.0
        for batch in loader:
            if isinstance(batch, list):
                batch = batch[0]
            batch = batch.view(-1, 784)
            nb = int(math.ceil(K * batch.size()[0]))
            opt.zero_grad()
            out, code = model(batch[:nb, :])
            R = torch.sum((code - c) ** 2, dim=1)[0]
            loss = crit(out, batch[:nb, :]) + gamma * R
            loss.backward()
            opt.step()
            total += loss.item()
            ae += crit(out, batch[:nb, :]).item()
            sv += R.item()
            _, c_code = model(batch[nb:, :])
            center = torch.mean(c_code, axis=0)
            closs = crit(c, center)
            closs.backward()
            copt.step()
            cv += float(c[0])
epoch()
t = time.perf_counter()
for _ in range(epochs):
    epoch()
dt = (time.perf_counter() - t) / epochs
print(f"{n / dt:.1f} {dt:.4f} {torch.__version__} {torch.get_num_threads()}")
"#;

/// The CPU's model name and widest vector extension, from `/proc/cpuinfo` where there is one
/// (virtual machines often report a generic model name, so the extension tells more).
pub fn cpu_model() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let field = |name: &str| {
        info.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_owned())
    };
    let model = field("model name").unwrap_or_else(|| std::env::consts::ARCH.to_owned());
    let flags = field("flags").unwrap_or_default();
    let has = |f: &str| flags.split_whitespace().any(|x| x == f);
    let simd = if has("avx512f") {
        "AVX-512"
    } else if has("avx2") {
        "AVX2"
    } else {
        "no AVX2"
    };
    let vendor = field("vendor_id").unwrap_or_default();
    format!("{model} ({vendor}, {simd}{})", cache_sizes())
}

/// The first CPU's L2 and L3 sizes as Linux reports them (`/sys/devices/system/cpu/cpu0/cache`),
/// e.g. `, L2 1024K, L3 32768K`; empty where they cannot be read. The step's training state
/// (about 36 MB for the Fashion-MNIST network) fits in some L3 caches and not in others.
fn cache_sizes() -> String {
    let dir = std::path::Path::new("/sys/devices/system/cpu/cpu0/cache");
    let mut out = String::new();
    for index in 0..8 {
        let read = |f: &str| std::fs::read_to_string(dir.join(format!("index{index}/{f}")));
        let (Ok(level), Ok(kind), Ok(size)) = (read("level"), read("type"), read("size")) else {
            continue;
        };
        let level = level.trim();
        if kind.trim() == "Unified" && (level == "2" || level == "3") {
            out.push_str(&format!(", L{level} {}", size.trim()));
        }
    }
    out
}

/// How this binary and its dependencies were compiled, in one line.
pub fn build_description() -> String {
    let on_off = |on: bool| {
        if on {
            "debug assertions ON"
        } else {
            "no debug assertions"
        }
    };
    format!(
        "xtask: {}; dasvdd-core kernels: {}; {}",
        on_off(cfg!(debug_assertions)),
        on_off(dasvdd_core::kernels::DEBUG_ASSERTIONS),
        build_probe::describe()
    )
}

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

/// One PyTorch loop (`"paper"` or `"authors"`): samples/s, seconds per epoch, version.
fn torch(
    python: &std::path::Path,
    which: &str,
    samples: usize,
    epochs: usize,
) -> Option<(f64, f64, String)> {
    let args = [samples.to_string(), epochs.to_string(), which.to_string()];
    crate::torch_script::run(python, TORCH_SCRIPT, &args)
}

/// Seconds per epoch of the project's trainer, averaged over the epochs after the first.
fn time_ours(config: &DasvddConfig, x: SampleView<'_>) -> Result<f64> {
    let mut times = Vec::new();
    fit(config, x, &Device::Cpu, &mut |r| times.push(r.seconds)).context("training failed")?;
    let timed = &times[1..];
    Ok(timed.iter().sum::<f64>() / timed.len() as f64)
}

/// The step's share of the matmul rate `rounds` times, each round's reference the higher of a
/// matmul just before and one just after its training run, and their median
/// (`--share-rounds`).
fn print_share_rounds(
    config: &DasvddConfig,
    x: SampleView<'_>,
    rounds: usize,
    flops: f64,
    matmul_size: usize,
) -> Result<()> {
    println!(
        "step / matmul rate in {} rounds (paper reading; each round: matmul, training run, \
         matmul; the higher matmul is the round's reference):",
        rounds.max(1)
    );
    let mut shares = Vec::new();
    for round in 1..=rounds.max(1) {
        let before = matmul_gflops(matmul_size)?;
        let dt = time_ours(config, x)?;
        let after = matmul_gflops(matmul_size)?;
        let step = flops / dt / 1e9;
        let share = 100.0 * step / before.max(after);
        println!(
            "  round {round}: step {step:.1} GFLOP/s, matmul {before:.1} / {after:.1} GFLOP/s, \
             {share:.1}%"
        );
        shares.push(share);
    }
    let lowest = shares.iter().copied().fold(f64::INFINITY, f64::min);
    let highest = shares.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let median = crate::perf_stack::median(&mut shares);
    println!("  median {median:.1}% (lowest {lowest:.1}%, highest {highest:.1}%)");
    Ok(())
}

/// Times the step `rounds` times with the pool's spinning waits off and on, alternating, and
/// prints each round and the medians (`--spin-ab`).
fn print_spin_ab(
    config: &DasvddConfig,
    x: SampleView<'_>,
    rounds: usize,
    flops: f64,
    reference: f64,
) -> Result<()> {
    use dasvdd_core::kernels::pool::set_spin_waits;
    println!("spinning waits off / on, alternating (paper reading, s/epoch):");
    let (mut off, mut on) = (Vec::new(), Vec::new());
    for round in 1..=rounds.max(1) {
        set_spin_waits(false);
        let a = time_ours(config, x);
        set_spin_waits(true);
        let (a, b) = (a?, time_ours(config, x)?);
        println!(
            "  round {round}: off {a:.4}  on {b:.4}  on/off {:.3}",
            b / a
        );
        off.push(a);
        on.push(b);
    }
    let median = crate::perf_stack::median;
    let (a, b) = (median(&mut off), median(&mut on));
    let share = |dt: f64| 100.0 * flops / dt / 1e9 / reference;
    println!(
        "  medians: off {a:.4} s/epoch ({:.0}% of the matmul rate), on {b:.4} s/epoch ({:.0}%): \
         on/off {:.3}",
        share(a),
        share(b),
        b / a
    );
    Ok(())
}

/// Trains once more with the phase accounting on and prints seconds per epoch by phase.
fn print_phases(config: &DasvddConfig, x: SampleView<'_>) -> Result<()> {
    use dasvdd_core::step_profile;
    step_profile::enable(true);
    let mut epoch_secs = Vec::new();
    let result = fit(config, x, &Device::Cpu, &mut |r| {
        if r.epoch == 1 {
            // The first epoch warms up; only the later ones are counted.
            step_profile::reset();
        } else {
            epoch_secs.push(r.seconds);
        }
    });
    step_profile::enable(false);
    result.context("training failed")?;
    let epochs = epoch_secs.len().max(1) as f64;
    let per_epoch = epoch_secs.iter().sum::<f64>() / epochs;
    println!("time per epoch by phase (paper reading, profiled run: {per_epoch:.3} s/epoch)");
    let mut accounted = 0.0;
    for (phase, secs) in step_profile::totals() {
        let s = secs / epochs;
        accounted += s;
        println!(
            "  {:<36} {:>8.4} s {:>6.1}%",
            phase.name(),
            s,
            100.0 * s / per_epoch
        );
    }
    let rest = per_epoch - accounted;
    println!(
        "  {:<36} {:>8.4} s {:>6.1}%",
        "the rest (loop, candle tensors, centre encode)",
        rest,
        100.0 * rest / per_epoch
    );
    let adam = step_profile::adam_thread_seconds() / epochs;
    let (update, copies) = step_profile::adam_thread_seconds_split();
    let threads = candle_core::utils::get_num_threads().max(1);
    println!(
        "  Adam's update and copies in all: {adam:.4} thread-s per epoch (update {:.4}, copies \
         {:.4}), at least {:.4} s ({:.1}%) of the step on {threads} threads, partly inside the \
         products' time above",
        update / epochs,
        copies / epochs,
        adam / threads as f64,
        100.0 * adam / threads as f64 / per_epoch
    );
    print_memory(config, x.rows(), adam, threads)
}

/// Bytes Adam moves per epoch over the network's parameters: it reads each weight, gradient and
/// both moments and writes the weight and both moments back (28 bytes per parameter), and
/// writes the transposed copy of every weight but the first encoder layer's (4 more).
fn adam_epoch_bytes(config: &DasvddConfig, n: usize) -> Result<(usize, f64)> {
    let (enc, dec) = (config.model.encoder_widths(), config.model.decoder_widths());
    let count = || -> Option<(usize, usize)> {
        let params = Autoencoder::parameter_count(&config.model)?;
        let weights = Mlp::parameter_count(&enc, false)? + Mlp::parameter_count(&dec, false)?;
        Some((params, weights - Mlp::parameter_count(&enc[..2], false)?))
    };
    let (params, transposed) = count().context("the network's parameter count overflows")?;
    let steps = n / config.train.batch_size;
    Ok((params, (steps * (28 * params + 4 * transposed)) as f64))
}

/// Seconds for one Adam-shaped pass (read weight, gradient and both moments; write weight and
/// moments) over `params` values split over `threads` threads: the memory's rate for the
/// step's update pattern, as a reference for Adam's own rate in the step.
fn adam_shaped_pass(params: usize, threads: usize, reps: usize) -> f64 {
    let mut w = vec![0.5f32; params];
    let g = vec![1e-3f32; params];
    let mut m = vec![0f32; params];
    let mut v = vec![0f32; params];
    let chunk = params.div_ceil(threads);
    let pass = |w: &mut [f32], m: &mut [f32], v: &mut [f32], g: &[f32]| {
        for (((w, m), v), g) in w.iter_mut().zip(m).zip(v).zip(g) {
            *m = 0.9 * *m + 0.1 * g;
            *v = 0.999 * *v + 0.001 * g * g;
            *w -= 1e-3 * *m / (v.sqrt() + 1e-8);
        }
    };
    let mut best = f64::INFINITY;
    for _ in 0..reps {
        let t = Instant::now();
        std::thread::scope(|s| {
            let parts = w
                .chunks_mut(chunk)
                .zip(m.chunks_mut(chunk))
                .zip(v.chunks_mut(chunk))
                .zip(g.chunks(chunk));
            for (((w, m), v), g) in parts {
                s.spawn(move || pass(w, m, v, g));
            }
        });
        best = best.min(t.elapsed().as_secs_f64());
    }
    std::hint::black_box(&w);
    best
}

/// Prints the memory's rate for Adam's access pattern on one thread and on all of them, beside
/// the rate Adam reached in the profiled step: where the update streams at the memory's rate,
/// a CPU with less bandwidth per core loses a larger share of the step to it.
fn print_memory(config: &DasvddConfig, n: usize, adam_thread_s: f64, threads: usize) -> Result<()> {
    let (params, bytes) = adam_epoch_bytes(config, n)?;
    let pass_bytes = 28.0 * params as f64;
    let one = pass_bytes / adam_shaped_pass(params, 1, 20) / 1e9;
    let all = pass_bytes / adam_shaped_pass(params, threads, 20) / 1e9;
    println!(
        "memory, for Adam's pattern over the network's {:.2} M parameters (28 bytes each): \
         {one:.1} GB/s on 1 thread, {all:.1} GB/s on {threads}; Adam in the step moved {:.2} GB \
         per epoch at {:.1} GB/s per thread busy with it",
        params as f64 / 1e6,
        bytes / 1e9,
        bytes / 1e9 / adam_thread_s.max(1e-9)
    );
    Ok(())
}

/// What the allocator does with freed memory in this run (`dasvdd_core::heap`).
fn heap_description() -> &'static str {
    dasvdd_core::heap::setting().map_or("glibc's defaults (not set)", |s| s.describe())
}

/// Runs the measurement and prints the table.
pub fn run(args: &PerfArgs) -> Result<()> {
    if args.lenet {
        println!("CPU: {}", cpu_model());
        println!("build: {}", build_description());
        println!("heap: {}", heap_description());
        let python = (!args.no_torch).then_some(args.python.as_path());
        return crate::perf_lenet::run(args.samples, args.epochs, python);
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let data: Vec<f32> = (0..args.samples * 784)
        .map(|_| rng.random::<f32>())
        .collect();
    let x = SampleView::new(&data, args.samples, 784)?;
    let mut config = DasvddConfig::from_preset(Preset::Mnist);
    config.train.gamma = GammaChoice::Fixed(0.28);
    config.train.epochs = args.epochs + 1;
    let mut code_config = config.clone();
    code_config.train.svdd_term = SvddTerm::FirstSample;
    code_config.train.center_grad = CenterGrad::Accumulate;
    code_config.train.center_lr_decay = 0.01;

    println!("CPU: {}", cpu_model());
    println!("build: {}", build_description());
    println!("heap: {}", heap_description());
    println!(
        "DASVDD training step, Fashion-MNIST network 784-1024-256-256, batch 200, kappa 0.9, {} \
         samples, {} threads",
        args.samples,
        candle_core::utils::get_num_threads()
    );
    let flops = epoch_flops(&config, args.samples);
    let row = |name: &str, dt: f64| {
        println!(
            "{:<40} {:>12.0} {:>10.3} {:>10.1}",
            name,
            args.samples as f64 / dt,
            dt,
            flops / dt / 1e9
        )
    };
    println!(
        "{:<40} {:>12} {:>10} {:>10}",
        "", "samples/s", "s/epoch", "GFLOP/s"
    );
    let mm = matmul_gflops(args.matmul_size)?;
    let ours = time_ours(&config, x)?;
    row("dasvdd-rs, paper reading", ours);
    let ours_code = time_ours(&code_config, x)?;
    row("dasvdd-rs, 2021 code's variants", ours_code);
    let mm_after = matmul_gflops(args.matmul_size)?;
    println!(
        "{:<40} {:>12} {:>10} {:>10.1}",
        format!("candle matmul {0}x{0}x{0} f32", args.matmul_size),
        "",
        "",
        mm.max(mm_after)
    );
    println!(
        "training step / matmul rate: {:.0}% (matmul before and after the training runs: {:.1}, \
         {:.1} GFLOP/s; the higher is the reference)",
        100.0 * flops / ours / 1e9 / mm.max(mm_after),
        mm,
        mm_after
    );
    if let Some(rounds) = args.share_rounds {
        print_share_rounds(&config, x, rounds, flops, args.matmul_size)?;
    }
    if let Some(rounds) = args.spin_ab {
        print_spin_ab(&config, x, rounds, flops, mm.max(mm_after))?;
    }
    if args.phases {
        print_phases(&config, x)?;
    }
    if args.products {
        print_products(args.samples, mm.max(mm_after))?;
    }
    if let Some(k) = args.stacked {
        crate::perf_stack::run(k)?;
    }
    if args.no_torch {
        return Ok(());
    }
    if !crate::torch_script::found(&args.python) {
        return Ok(());
    }
    let mut any = false;
    for (which, name, our_dt) in [
        ("paper", "PyTorch, paper's Algorithm 1", ours),
        ("authors", "PyTorch, authors' 2021 loop", ours_code),
    ] {
        if let Some((_, tdt, version)) = torch(&args.python, which, args.samples, args.epochs) {
            row(name, tdt);
            if !any {
                println!("  ({version}, {})", args.python.display());
            }
            any = true;
            println!(
                "  dasvdd-rs / {name}: {:.2}x the samples per second",
                tdt / our_dt
            );
        }
    }
    if !any {
        println!(
            "PyTorch's loops failed under {}: no side-by-side comparison",
            args.python.display()
        );
    }
    Ok(())
}
