//! Many models of one architecture trained at once: how they are split into passes (all in
//! one on a GPU; on the CPU small networks in lockstep, large ones one per pass), the passes run
//! side by side on the CPU's cores, and the checks that models can share a stack. The trainers
//! (`dasvdd::fit_stacked`, and the baselines' autoencoder and Deep SVDD) build on these.

use std::ops::{ControlFlow, Range};
use std::sync::Mutex;

use candle_core::Device;

use crate::detector::SampleView;
use crate::error::{CoreError, Result};

/// Bytes of training state per parameter: the weight, Adam's two moments and the transposed
/// copy.
const STATE_BYTES_PER_PARAMETER: usize = 16;

/// The most training state one stack of models may hold on the CPU (see [`sub_stacks`]).
pub const CPU_STACK_BYTES: usize = 16 << 20;

/// How `models` models of `parameters` parameters each are trained at once on `device`: the
/// ranges of models that share one pass. On a GPU, all of them. On the CPU, as many as keep the
/// stack's training state (16 bytes per parameter) within [`CPU_STACK_BYTES`], at least one,
/// and at most a fair share per thread, so that [`run_passes`] gives every core a pass:
/// lockstep saves per-step overhead, which is what small networks spend their time on, but
/// makes each model's products read operands that the other models' products pushed out of
/// the cache. `cargo xtask perf --stacked 10` measured, on a 2-core Xeon, 10 models at once
/// against one at a time: as one stack of ten on one thread, PIMA's 8-10-4-4 network 1.6-1.9x,
/// 64-32-16 1.1x, 256-128-64 1.0-1.1x, 512-512-128 0.7x and Fashion-MNIST's 784-1024-256-256
/// 0.7x; with this rule (passes of five for the first three, of one for the last two, two
/// side by side) 2.7x, 2.0x, 1.8x, 1.8x and 1.3x. The same models either way.
pub fn sub_stacks(models: usize, parameters: usize, device: &Device) -> Vec<Range<usize>> {
    let per_pass = if device.is_cpu() {
        // At most a fair share of the models per thread, so that every core gets a pass.
        let threads = candle_core::utils::get_num_threads().max(1);
        (CPU_STACK_BYTES / (STATE_BYTES_PER_PARAMETER * parameters.max(1)))
            .min(models.div_ceil(threads))
            .max(1)
    } else {
        models.max(1)
    };
    (0..models)
        .step_by(per_pass)
        .map(|start| start..(start + per_pass).min(models))
        .collect()
}

/// Runs `run(pass)` for every pass of `passes` (ranges of models, from [`sub_stacks`]) and
/// returns the results in the order of the passes. On a GPU, or with one pass or one CPU
/// thread, one pass after the other. On the CPU, passes side by side, on as many threads as
/// candle uses, each with a one-thread rayon pool of its own, so that each pass's products and
/// kernels run on one core without waiting on the others: for networks too large to gain from
/// lockstep, two Fashion-MNIST models side by side on the 2-core machine trained 1.3x as many
/// samples per second as one after the other on both cores. The products give the same values
/// on any number of threads, so each model is the same either way (tested).
pub fn run_passes<T: Send>(
    passes: Vec<Range<usize>>,
    device: &Device,
    run: &(dyn Fn(Range<usize>) -> Result<T> + Sync),
) -> Result<Vec<T>> {
    let threads = candle_core::utils::get_num_threads().min(passes.len());
    if !device.is_cpu() || threads < 2 {
        return passes.into_iter().map(run).collect();
    }
    // The calling thread's kernel setting, for the pools' threads.
    let fused = crate::kernels::fused_on(device);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<Mutex<Option<Result<T>>>> = passes.iter().map(|_| Mutex::new(None)).collect();
    let work = || {
        crate::kernels::set_fused_kernels(fused);
        loop {
            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let Some(pass) = passes.get(i) else { break };
            let r = run(pass.clone());
            *results[i].lock().expect("a pass panicked") = Some(r);
        }
    };
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(
                || match rayon::ThreadPoolBuilder::new().num_threads(1).build() {
                    Ok(pool) => pool.install(work),
                    // Without a pool of its own the thread still trains, on the shared pool.
                    Err(_) => work(),
                },
            );
        }
    });
    results
        .into_iter()
        .map(|r| {
            r.into_inner()
                .expect("a pass panicked")
                .unwrap_or_else(|| Err(CoreError::InvalidInput("a pass did not run".into())))
        })
        .collect()
}

/// The first of `params`, once they are known to pair with the training sets `xs`: at least one
/// of each, as many of both.
pub fn stack_head<'p, P>(params: &'p [P], xs: &[SampleView<'_>]) -> Result<&'p P> {
    match params.first() {
        Some(first) if params.len() == xs.len() => Ok(first),
        _ => Err(CoreError::InvalidInput(format!(
            "{} settings for {} training sets; a stack needs at least one of each, paired",
            params.len(),
            xs.len()
        ))),
    }
}

/// Checks that the models of a stack can train together: every params equal to the first's
/// once `reseeded(p)` gives `p` the first's seed (models may differ only in their seed), and
/// every training set `cols` wide with as many rows as the first (the same batches per epoch).
pub fn check_members<P: PartialEq>(
    params: &[P],
    xs: &[SampleView<'_>],
    cols: usize,
    reseeded: impl Fn(&P) -> P,
) -> Result<()> {
    let first = stack_head(params, xs)?;
    for (p, x) in params.iter().zip(xs) {
        if reseeded(p) != *first {
            return Err(CoreError::InvalidInput(
                "models trained at once may differ only in their seed".into(),
            ));
        }
        x.expect_cols(cols)?;
        if x.rows() != xs[0].rows() {
            return Err(CoreError::InvalidInput(format!(
                "models trained at once need training sets of one size, got {} and {} rows",
                xs[0].rows(),
                x.rows()
            )));
        }
    }
    Ok(())
}

/// An epoch observer of a stack: `(model, record)` to whether training goes on.
pub type Observer<'a, R> = dyn FnMut(usize, &R) -> ControlFlow<()> + Send + 'a;

/// How a pass reports an epoch: `(observer, model of the pass, record)`.
pub type Observe<'a, R> = dyn Fn(usize, usize, &R) -> ControlFlow<()> + 'a;

/// The training of one pass: `(models of the pass, observe)` to their results.
pub type TrainPass<'a, T, R> = dyn Fn(Range<usize>, &Observe<'_, R>) -> Result<Vec<T>> + Sync + 'a;

/// Trains `models` models of `parameters` parameters each in the passes of [`sub_stacks`], run
/// by [`run_passes`]: `train(pass, observe)` trains the models of `pass` and returns their
/// results in order, calling `observe(i, record)` for its `i`-th model, which reaches
/// `observers[k]` as `(pass.start + i, record)` (the observers are shared between the passes'
/// threads). Returns every model's result, in order.
pub fn train_in_passes<T: Send, R, const K: usize>(
    models: usize,
    parameters: usize,
    device: &Device,
    observers: [&mut Observer<'_, R>; K],
    train: &TrainPass<'_, T, R>,
) -> Result<Vec<T>> {
    let observers = Mutex::new(observers);
    let passes = sub_stacks(models, parameters, device);
    let trained = run_passes(passes, device, &|pass| {
        let start = pass.start;
        let observe = |k: usize, i: usize, r: &R| {
            let mut all = observers.lock().expect("an epoch observer panicked");
            (all[k])(start + i, r)
        };
        train(pass, &observe)
    })?;
    Ok(trained.into_iter().flatten().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_stacks_hold_at_most_the_byte_budget_and_a_share_of_the_models_per_thread() {
        let cpu = candle_core::Device::Cpu;
        let threads = candle_core::utils::get_num_threads().max(1);
        for (models, parameters) in [
            (10, 300),      // PIMA's network
            (20, 82_000),   // 256-128-64: 1.3 MB of state each
            (3, 1_300_000), // the Fashion-MNIST network: one per pass
            (7, 1),
            (100, 5_000),
            (9, 200_000),
            (1, 10),
        ] {
            let passes = sub_stacks(models, parameters, &cpu);
            let covered: Vec<usize> = passes.iter().flat_map(|r| r.clone()).collect();
            assert_eq!(covered, (0..models).collect::<Vec<_>>());
            assert!(
                passes.len() >= models.min(threads),
                "{models} x {parameters}: {passes:?}"
            );
            for r in &passes {
                assert!(!r.is_empty());
                assert!(r.len() == 1 || r.len() * parameters * 16 <= CPU_STACK_BYTES);
                assert!(r.len() <= models.div_ceil(threads));
            }
        }
        assert_eq!(sub_stacks(3, 1_300_000, &cpu), vec![0..1, 1..2, 2..3]);
        assert!(sub_stacks(0, 10, &cpu).is_empty());
    }
}
