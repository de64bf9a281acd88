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
pub type Step<'a, const K: usize> = dyn FnMut(usize, &[usize]) -> Result<[f64; K]> + Send + 'a;

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
/// With `busy_pool`, each epoch's batches run on rayon's thread pool with its other workers
/// kept busy ([`crate::kernels::pool::busy_workers`], with the calling thread's fused-kernel
/// setting): for training on the fused CPU kernels, whose steps are many short parallel
/// regions; the values are the same either way.
///
/// This is [`run_epochs_stacked`] with one model.
#[allow(clippy::too_many_arguments)]
pub fn run_epochs<const K: usize, R: Send>(
    rows: usize,
    epochs: usize,
    batch: usize,
    shuffle_rng: &mut ChaCha8Rng,
    terms: [&'static str; K],
    busy_pool: bool,
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
        busy_pool,
        &mut |epoch, idx| Ok(vec![step(epoch, idx[0])?]),
        &mut |_, m| record(m),
        &mut |_, r| on_epoch(r),
    )?;
    out.pop().expect("one result per model")
}

/// Draws the next epoch's order of the rows from the previous one: the one shuffle of the
/// epoch loop, shared with [`epoch_orders`] so that the two cannot drift apart.
fn reshuffle(order: &mut [usize], rng: &mut ChaCha8Rng) {
    order.shuffle(rng);
}

/// The order of the `rows` samples in each of `epochs` epochs, as [`run_epochs`] and
/// [`run_epochs_stacked`] draw it from `shuffle_rng`: batch `b` of epoch `e` (0-based) is
/// `orders[e][b * batch..(b + 1) * batch]`, the rows after the last full batch unused. For
/// reproducing a training run elsewhere (the step-level comparison with PyTorch).
pub fn epoch_orders(rows: usize, epochs: usize, shuffle_rng: &mut ChaCha8Rng) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..rows).collect();
    (0..epochs)
        .map(|_| {
            reshuffle(&mut order, shuffle_rng);
            order.clone()
        })
        .collect()
}

/// The step of many models trained at once: `(epoch, each model's rows of its batch)` to
/// each model's `K` loss terms.
pub type StackedStep<'a, const K: usize> =
    dyn FnMut(usize, &[&[usize]]) -> Result<Vec<[f64; K]>> + Send + 'a;

/// [`run_epochs`] for models trained at once, in lockstep, on training sets of the same number
/// of `rows`: model `m` draws its batch order from `shuffle_rngs[m]` exactly as it would alone,
/// and `step` trains every model on its own batch. Each model has its own divergence check,
/// records (`record(m, ..)`) and observer (`on_epoch(m, ..)`); a model that diverges or is
/// stopped ends with its own error while the others go on (its values are still computed, but
/// nothing of it is recorded). Returns one result per model; the outer error is one that
/// stops them all (a failed step, a bad batch size). `busy_pool` as in [`run_epochs`].
#[allow(clippy::type_complexity, clippy::too_many_arguments)]
pub fn run_epochs_stacked<const K: usize, R: Send>(
    rows: usize,
    epochs: usize,
    batch: usize,
    shuffle_rngs: &mut [ChaCha8Rng],
    terms: [&'static str; K],
    busy_pool: bool,
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
    // Room for the records of a usual run only: `epochs` comes from the user, and reserving
    // for 2^62 of them panicked ("capacity overflow") before the first epoch.
    let mut out: Vec<Result<Vec<R>>> = (0..models)
        .map(|_| Ok(Vec::with_capacity(epochs.min(1 << 16))))
        .collect();
    for epoch in 1..=epochs {
        if out.iter().all(|r| r.is_err()) {
            break;
        }
        let started = Instant::now();
        for (order, rng) in orders.iter_mut().zip(shuffle_rngs.iter_mut()) {
            reshuffle(order, rng);
        }
        let mut sums = vec![[0.0; K]; models];
        let mut batches_of_epoch = || -> Result<()> {
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
            Ok(())
        };
        if busy_pool {
            crate::kernels::pool::busy_workers(batches_of_epoch)?;
        } else {
            batches_of_epoch()?;
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

    /// The rows of every batch `run_epochs` trains on, each epoch's batches one after the
    /// other, with the epoch means of a step whose loss is the batch's size times the epoch.
    fn batches_by_epoch(
        rows: usize,
        epochs: usize,
        batch: usize,
        busy_pool: bool,
    ) -> (Vec<EpochMeans<1>>, Vec<Vec<usize>>) {
        let mut seen: Vec<Vec<usize>> = Vec::new();
        let history = run_epochs(
            rows,
            epochs,
            batch,
            &mut rng(),
            ["loss"],
            busy_pool,
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
        (history, seen)
    }

    #[test]
    fn every_epoch_sees_each_full_batch_once_in_a_seeded_order() {
        let (history, seen) = batches_by_epoch(10, 2, 3, true);
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
        let (_, again) = batches_by_epoch(10, 1, 3, false);
        assert_eq!(again[0], seen[0]);
    }

    /// `epoch_orders` gives the batches the epoch loop trains on, epoch by epoch.
    #[test]
    fn epoch_orders_are_the_loops_batches() {
        let (_, seen) = batches_by_epoch(11, 3, 4, false);
        let orders = epoch_orders(11, 3, &mut rng());
        assert_eq!(orders.len(), 3);
        for (order, rows) in orders.iter().zip(&seen) {
            assert_eq!(
                &order[..8],
                &rows[..],
                "two batches of 4, the last 3 rows dropped"
            );
            let mut all = order.clone();
            all.sort();
            assert_eq!(all, (0..11).collect::<Vec<_>>());
        }
    }

    #[test]
    fn a_non_finite_term_or_a_break_stops_with_the_epoch() {
        let e = run_epochs(
            4,
            5,
            2,
            &mut rng(),
            ["reconstruction loss", "svdd loss"],
            false,
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
            false,
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
            false,
            &mut |_, _| Ok([0.0]),
            &mut |m| Ok(m),
            &mut |_| ControlFlow::Continue(())
        )
        .is_err());
    }
}
