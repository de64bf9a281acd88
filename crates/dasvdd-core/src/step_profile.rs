//! Optional wall-clock accounting of the training step by phase, for `cargo xtask perf
//! --phases`: where the time that is not matrix products goes.
//!
//! Off by default; when off, a timer is one relaxed atomic load. Timers nest and are exclusive:
//! the time of a phase started inside another (the products of the centre step's encoder pass)
//! is charged to the inner phase only. Phases are timed on the thread that drives the step; the
//! parallel work inside a kernel counts as that kernel's wall time. The fused Adam pass updates
//! the weights and writes their transposed copies in one parallel loop; its wall time is split
//! between the two in proportion to the thread time each part took.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

/// A part of the training step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Matrix products (forward, weight and input gradients); the forward products include
    /// their bias writes and activations, which run inside the products' output blocks; where
    /// a layer's two gradient products run side by side, its bias gradient and the previous
    /// layer's activation derivative, which run on their threads after them; and, where a
    /// layer's Adam update runs beside the backward pass, the share of it that the products
    /// wait for.
    Products,
    /// Activations' derivatives and activations outside the products (those beside them
    /// count as products).
    Activations,
    /// Gradients of the reconstruction and SVDD losses.
    LossGradients,
    /// Column sums of the bias gradients outside the products (the first layer's; those of
    /// layers whose gradient products run side by side count as products).
    BiasGradients,
    /// Adam's fused update of weights and moments.
    AdamUpdate,
    /// The row-major transposed weight copies Adam writes for the input-gradient products.
    TransposedCopies,
    /// The centre step's own operations (its encoder pass counts as products).
    CenterStep,
    /// Copying the batch's rows out of the training set.
    Gather,
}

impl Phase {
    /// Every phase, in report order.
    pub const ALL: [Phase; 8] = [
        Phase::Products,
        Phase::Activations,
        Phase::LossGradients,
        Phase::BiasGradients,
        Phase::AdamUpdate,
        Phase::TransposedCopies,
        Phase::CenterStep,
        Phase::Gather,
    ];

    /// A short name for reports.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Products => "matrix products (with the bias and activation passes beside them)",
            Phase::Activations => "activation derivatives",
            Phase::LossGradients => "loss gradients",
            Phase::BiasGradients => "bias gradients",
            Phase::AdamUpdate => "Adam update",
            Phase::TransposedCopies => "transposed weight copies",
            Phase::CenterStep => "centre step (small ops)",
            Phase::Gather => "batch gather",
        }
    }
}

static ENABLED: AtomicBool = AtomicBool::new(false);
static WALL_NANOS: [AtomicU64; 8] = [const { AtomicU64::new(0) }; 8];
/// Thread time of the two parts of the fused Adam pass: update, transposed copies.
static ADAM_THREAD_NANOS: [AtomicU64; 2] = [const { AtomicU64::new(0) }; 2];

thread_local! {
    static CURRENT: Cell<Option<(Phase, Instant)>> = const { Cell::new(None) };
    /// Set while this thread's timers are off (see [`muted`]).
    static MUTED: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with this thread's timers off: for work run on several threads at once, which
/// the thread that waits for it times as a whole (each thread's own timers would count the
/// same wall time twice).
pub(crate) fn muted<R>(f: impl FnOnce() -> R) -> R {
    with_thread_flag(&MUTED, f)
}

/// Runs `f` with the thread-local `flag` set, restoring its former value afterwards (also when
/// `f` panics).
pub(crate) fn with_thread_flag<R>(
    flag: &'static std::thread::LocalKey<Cell<bool>>,
    f: impl FnOnce() -> R,
) -> R {
    with_thread_flag_as(flag, true, f)
}

/// [`with_thread_flag`] with the flag set to `on` rather than to true.
pub(crate) fn with_thread_flag_as<R>(
    flag: &'static std::thread::LocalKey<Cell<bool>>,
    on: bool,
    f: impl FnOnce() -> R,
) -> R {
    struct Restore(&'static std::thread::LocalKey<Cell<bool>>, bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            self.0.with(|c| c.set(self.1));
        }
    }
    let _restore = Restore(flag, flag.with(|c| c.replace(on)));
    f()
}

/// Turns the accounting on or off (process-wide).
pub fn enable(on: bool) {
    ENABLED.store(on, Ordering::Relaxed);
}

/// Whether the accounting is on.
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Clears the totals.
pub fn reset() {
    for a in WALL_NANOS.iter().chain(&ADAM_THREAD_NANOS) {
        a.store(0, Ordering::Relaxed);
    }
}

fn charge(phase: Phase, since: Instant) {
    let i = Phase::ALL.iter().position(|p| *p == phase).unwrap_or(0);
    WALL_NANOS[i].fetch_add(since.elapsed().as_nanos() as u64, Ordering::Relaxed);
}

/// Seconds of wall time per phase since the last [`reset`], with the fused Adam pass split
/// between [`Phase::AdamUpdate`] and [`Phase::TransposedCopies`].
pub fn totals() -> Vec<(Phase, f64)> {
    let mut secs: Vec<f64> = WALL_NANOS
        .iter()
        .map(|a| a.load(Ordering::Relaxed) as f64 * 1e-9)
        .collect();
    let update = ADAM_THREAD_NANOS[0].load(Ordering::Relaxed) as f64;
    let copies = ADAM_THREAD_NANOS[1].load(Ordering::Relaxed) as f64;
    if update + copies > 0.0 {
        let adam = secs[4];
        secs[4] = adam * update / (update + copies);
        secs[5] = adam * copies / (update + copies);
    }
    Phase::ALL.iter().copied().zip(secs).collect()
}

/// Charges the wall time since `since` to `phase` (when the accounting is on and this thread's
/// timers are not muted): for a wait that no scope on this thread encloses alone.
pub(crate) fn charge_since(phase: Phase, since: Instant) {
    if enabled() && !MUTED.with(|m| m.get()) {
        charge(phase, since);
    }
}

/// Thread seconds of the fused Adam pass since the last [`reset`] (the update and the
/// transposed copies together, summed over the threads that ran them): where the updates run
/// beside the backward pass, the phases above show only the part of them that the step waits
/// for, and this is their whole cost.
pub fn adam_thread_seconds() -> f64 {
    let (update, copies) = adam_thread_seconds_split();
    update + copies
}

/// [`adam_thread_seconds`] split into the update itself and the writing of the transposed
/// copies: `(update, copies)`.
pub fn adam_thread_seconds_split() -> (f64, f64) {
    let secs = |i: usize| ADAM_THREAD_NANOS[i].load(Ordering::Relaxed) as f64 * 1e-9;
    (secs(0), secs(1))
}

/// Times the enclosing scope as `phase` when the accounting is on; see [`timer`].
pub struct PhaseTimer {
    parent: Option<Option<(Phase, Instant)>>,
}

/// Starts timing `phase` until the returned guard is dropped. The phase that was running on this
/// thread is paused meanwhile and resumes afterwards.
pub fn timer(phase: Phase) -> PhaseTimer {
    if !enabled() || MUTED.with(|m| m.get()) {
        return PhaseTimer { parent: None };
    }
    let now = Instant::now();
    let parent = CURRENT.with(|c| c.replace(Some((phase, now))));
    if let Some((p, since)) = parent {
        charge(p, since);
    }
    PhaseTimer {
        parent: Some(parent),
    }
}

impl Drop for PhaseTimer {
    fn drop(&mut self) {
        let Some(parent) = self.parent.take() else {
            return;
        };
        let now = Instant::now();
        let parent = parent.map(|(p, _)| (p, now));
        if let Some((phase, since)) = CURRENT.with(|c| c.replace(parent)) {
            charge(phase, since);
        }
    }
}

/// Adds thread time of the fused Adam pass: `copies` selects the transposed-copy part.
pub(crate) fn add_adam_thread_time(copies: bool, since: Instant) {
    ADAM_THREAD_NANOS[usize::from(copies)]
        .fetch_add(since.elapsed().as_nanos() as u64, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_phases_are_charged_exclusively() {
        enable(true);
        reset();
        {
            let _outer = timer(Phase::CenterStep);
            std::thread::sleep(std::time::Duration::from_millis(20));
            {
                let _inner = timer(Phase::Products);
                std::thread::sleep(std::time::Duration::from_millis(30));
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        enable(false);
        let t = totals();
        let get = |p: Phase| t.iter().find(|(q, _)| *q == p).map(|(_, s)| *s).unwrap();
        assert!((0.03..0.06).contains(&get(Phase::Products)), "{t:?}");
        assert!((0.04..0.08).contains(&get(Phase::CenterStep)), "{t:?}");
        // Off: nothing is charged.
        reset();
        drop(timer(Phase::Gather));
        assert!(totals().iter().all(|(_, s)| *s == 0.0));
    }
}
