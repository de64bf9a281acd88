//! The one epoch loop of every trainer (DASVDD, and the autoencoder and Deep SVDD baselines):
//! a seeded shuffle per epoch, drop-last mini-batches, a divergence check of every loss term of
//! every batch, the epoch's mean losses, and an observer that can stop training. A trainer
//! supplies only its step (what one batch does) and its epoch record. The loop runs one model
//! or many in lockstep ([`run_epochs_stacked`]), each with its own batch order.

use std::ops::ControlFlow;
use std::time::Instant;

use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::error::{CoreError, Result};

/// What one epoch's batches gave: the mean of each loss term over the batches.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpochMeans<const K: usize> {
    /// 1-based.
    pub epoch: usize,
    /// Mean over the epoch's batches of each of the step's `K` loss terms, in the step's order.
    pub means: [f64; K],
    /// Wall time of the epoch's batches.
    pub seconds: f64,
}

/// A trainer's step: `(epoch, rows of the batch)` to the batch's `K` loss terms.
pub type Step<'a, const K: usize> = dyn FnMut(usize, &[usize]) -> Result<[f64; K]> + 'a;

/// The batch size used on `n` samples: all of them in one batch, with a warning, when there are
/// fewer than `batch_size`; an error for no samples or a zero batch size.
pub fn effective_batch(batch_size: usize, n: usize, method: &str) -> Result<usize> {
    if n == 0 {
        return Err(CoreError::InvalidInput(format!(
            "{method} cannot be fitted on zero samples"
        )));
    }
    if batch_size == 0 {
        return Err(CoreError::param("batch_size", "must be at least 1"));
    }
    if batch_size > n {
        tracing::warn!(
            method,
            batch_size,
            samples = n,
            "batch size larger than the training set; using one batch of all samples"
        );
        return Ok(n);
    }
    Ok(batch_size)
}

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
/// against one at a time: PIMA's 8-10-4-4 network 1.6-1.9x, 64-32-16 1.1x, 256-128-64 1.0-1.1x,
/// 512-512-128 0.7x and Fashion-MNIST's 784-1024-256-256 0.7x as one stack; the last two are
/// over the limit and so train one model per pass (the same models either way).
pub fn sub_stacks(
    models: usize,
    parameters: usize,
    device: &candle_core::Device,
) -> Vec<std::ops::Range<usize>> {
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
    passes: Vec<std::ops::Range<usize>>,
    device: &candle_core::Device,
    run: &(dyn Fn(std::ops::Range<usize>) -> Result<T> + Sync),
) -> Result<Vec<T>> {
    let threads = candle_core::utils::get_num_threads().min(passes.len());
    if !device.is_cpu() || threads < 2 {
        return passes.into_iter().map(run).collect();
    }
    // The calling thread's kernel setting, for the pools' threads.
    let fused = crate::kernels::fused_on(device);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<std::sync::Mutex<Option<Result<T>>>> =
        passes.iter().map(|_| std::sync::Mutex::new(None)).collect();
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

/// An observer for [`run_epochs`] from one that never stops training.
pub fn continuing<R>(mut f: impl FnMut(&R)) -> impl FnMut(&R) -> ControlFlow<()> {
    move |r| {
        f(r);
        ControlFlow::Continue(())
    }
}

/// The end-of-training check of every trainer: a weight that is not finite after `epochs`
/// epochs is divergence, even where every loss stayed finite.
pub fn check_weights(all_finite: bool, epochs: usize) -> Result<()> {
    if all_finite {
        Ok(())
    } else {
        Err(CoreError::Diverged {
            epoch: epochs,
            what: "a network weight",
            value: f64::NAN,
        })
    }
}

/// Runs `epochs` epochs over `rows` samples in batches of `batch` rows (the last incomplete
/// batch of each epoch is dropped, as PyTorch's `drop_last`), in an order drawn from
/// `shuffle_rng` at the start of every epoch.
///
/// `step(epoch, rows_of_batch)` trains on one batch and returns its `K` loss terms; a term
/// that is not finite stops training with [`CoreError::Diverged`] naming the epoch and
/// `terms[k]`. After each epoch `record` turns the means into the trainer's epoch record
/// (it may also check more, e.g. the centre), and `on_epoch` sees it: returning
/// [`ControlFlow::Break`] stops with [`CoreError::Interrupted`]. Returns the records.
///
/// This is [`run_epochs_stacked`] with one model.
pub fn run_epochs<const K: usize, R>(
    rows: usize,
    epochs: usize,
    batch: usize,
    shuffle_rng: &mut ChaCha8Rng,
    terms: [&'static str; K],
    step: &mut Step<'_, K>,
    record: &mut dyn FnMut(EpochMeans<K>) -> Result<R>,
    on_epoch: &mut dyn FnMut(&R) -> ControlFlow<()>,
) -> Result<Vec<R>> {
    let mut out = run_epochs_stacked(
        rows,
        epochs,
        batch,
        std::slice::from_mut(shuffle_rng),
        terms,
        &mut |epoch, idx| Ok(vec![step(epoch, idx[0])?]),
        &mut |_, m| record(m),
        &mut |_, r| on_epoch(r),
    )?;
    out.pop().expect("one result per model")
}

/// The step of many models trained at once: `(epoch, each model's rows of its batch)` to
/// each model's `K` loss terms.
pub type StackedStep<'a, const K: usize> =
    dyn FnMut(usize, &[&[usize]]) -> Result<Vec<[f64; K]>> + 'a;

/// [`run_epochs`] for models trained at once, in lockstep, on training sets of the same number
/// of `rows`: model `m` draws its batch order from `shuffle_rngs[m]` exactly as it would alone,
/// and `step` trains every model on its own batch. Each model has its own divergence check,
/// records (`record(m, ..)`) and observer (`on_epoch(m, ..)`); a model that diverges or is
/// stopped ends with its own error while the others go on (its values are still computed, but
/// nothing of it is recorded). Returns one result per model; the outer error is one that
/// stops them all (a failed step, a bad batch size).
#[allow(clippy::type_complexity)]
pub fn run_epochs_stacked<const K: usize, R>(
    rows: usize,
    epochs: usize,
    batch: usize,
    shuffle_rngs: &mut [ChaCha8Rng],
    terms: [&'static str; K],
    step: &mut StackedStep<'_, K>,
    record: &mut dyn FnMut(usize, EpochMeans<K>) -> Result<R>,
    on_epoch: &mut dyn FnMut(usize, &R) -> ControlFlow<()>,
) -> Result<Vec<Result<Vec<R>>>> {
    if batch == 0 || batch > rows {
        return Err(CoreError::param(
            "batch_size",
            format!("{batch} is not between 1 and the {rows} training samples"),
        ));
    }
    let models = shuffle_rngs.len();
    let batches = rows / batch;
    let mut orders: Vec<Vec<usize>> = vec![(0..rows).collect(); models];
    let mut out: Vec<Result<Vec<R>>> = (0..models)
        .map(|_| Ok(Vec::with_capacity(epochs)))
        .collect();
    for epoch in 1..=epochs {
        if out.iter().all(|r| r.is_err()) {
            break;
        }
        let started = Instant::now();
        for (order, rng) in orders.iter_mut().zip(shuffle_rngs.iter_mut()) {
            order.shuffle(rng);
        }
        let mut sums = vec![[0.0; K]; models];
        for b in 0..batches {
            let idx: Vec<&[usize]> = orders
                .iter()
                .map(|o| &o[b * batch..(b + 1) * batch])
                .collect();
            let losses = step(epoch, &idx)?;
            if losses.len() != models {
                return Err(CoreError::InvalidInput(format!(
                    "a step returned losses of {} models for {models}",
                    losses.len()
                )));
            }
            for (m, model_losses) in losses.iter().enumerate() {
                if out[m].is_err() {
                    continue;
                }
                for (k, &loss) in model_losses.iter().enumerate() {
                    if !loss.is_finite() {
                        out[m] = Err(CoreError::Diverged {
                            epoch,
                            what: terms[k],
                            value: loss,
                        });
                        break;
                    }
                    sums[m][k] += loss;
                }
            }
        }
        let seconds = started.elapsed().as_secs_f64();
        for (m, result) in out.iter_mut().enumerate() {
            let Ok(history) = result else { continue };
            let means = sums[m].map(|s| s / batches as f64);
            let r = match record(
                m,
                EpochMeans {
                    epoch,
                    means,
                    seconds,
                },
            ) {
                Ok(r) => r,
                Err(e) => {
                    *result = Err(e);
                    continue;
                }
            };
            if on_epoch(m, &r).is_break() {
                *result = Err(CoreError::Interrupted { epoch });
                continue;
            }
            history.push(r);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn rng() -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(7)
    }

    #[test]
    fn every_epoch_sees_each_full_batch_once_in_a_seeded_order() {
        let mut seen: Vec<Vec<usize>> = Vec::new();
        let history = run_epochs(
            10,
            2,
            3,
            &mut rng(),
            ["loss"],
            &mut |epoch, idx| {
                if seen.len() < epoch {
                    seen.push(Vec::new());
                }
                seen[epoch - 1].extend_from_slice(idx);
                Ok([idx.len() as f64 * epoch as f64])
            },
            &mut |m| Ok(m),
            &mut |_| ControlFlow::Continue(()),
        )
        .unwrap();
        assert_eq!(history.len(), 2);
        assert_eq!(history[0].means, [3.0]);
        assert_eq!(history[1].means, [6.0]);
        for rows in &seen {
            // 3 batches of 3: the 10th sample is dropped, no sample twice.
            let mut sorted = rows.clone();
            sorted.sort();
            sorted.dedup();
            assert_eq!((rows.len(), sorted.len()), (9, 9));
        }
        assert_ne!(seen[0], seen[1], "reshuffled every epoch");
        // The same seed gives the same order.
        let mut again = Vec::new();
        run_epochs(
            10,
            1,
            3,
            &mut rng(),
            ["loss"],
            &mut |_, idx| {
                again.extend_from_slice(idx);
                Ok([0.0])
            },
            &mut |m| Ok(m),
            &mut |_| ControlFlow::Continue(()),
        )
        .unwrap();
        assert_eq!(again, seen[0]);
    }

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

    #[test]
    fn a_non_finite_term_or_a_break_stops_with_the_epoch() {
        let e = run_epochs(
            4,
            5,
            2,
            &mut rng(),
            ["reconstruction loss", "svdd loss"],
            &mut |epoch, _| Ok([1.0, if epoch == 3 { f64::NAN } else { 0.0 }]),
            &mut |m| Ok(m),
            &mut |_| ControlFlow::Continue(()),
        )
        .unwrap_err();
        assert!(
            matches!(
                e,
                CoreError::Diverged {
                    epoch: 3,
                    what: "svdd loss",
                    ..
                }
            ),
            "{e}"
        );
        let e = run_epochs(
            4,
            5,
            2,
            &mut rng(),
            ["loss"],
            &mut |_, _| Ok([1.0]),
            &mut |m| Ok(m),
            &mut |m| {
                if m.epoch == 2 {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            },
        )
        .unwrap_err();
        assert!(matches!(e, CoreError::Interrupted { epoch: 2 }), "{e}");
        assert!(effective_batch(5, 0, "x").is_err());
        assert_eq!(effective_batch(5, 3, "x").unwrap(), 3);
        assert!(run_epochs(
            3,
            1,
            0,
            &mut rng(),
            ["loss"],
            &mut |_, _| Ok([0.0]),
            &mut |m| Ok(m),
            &mut |_| ControlFlow::Continue(())
        )
        .is_err());
    }
}
