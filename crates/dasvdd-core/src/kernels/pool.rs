//! Waiting on rayon's thread pool without going to sleep, for the training step's many short
//! parallel regions.
//!
//! A rayon worker that finds no work yields a few dozen times and then sleeps on a futex; the
//! thread that later hands it work, or whose join it finishes, wakes it with a system call,
//! and the woken thread runs again only after the scheduler gets to it. On the 2-core
//! machines this project is measured on that costs 30-60 us each time (a join of two 50 us
//! tasks took 82-112 us after a pause of 30 us or more on the calling thread, 51-53 us
//! without), and the Fashion-MNIST step, 7-9 ms, switched threads about 20 times. So on the
//! CPU the step runs inside [`busy_workers`], which keeps the pool's other workers running its
//! jobs and spinning between them, and its waits (`run_tasks`, `join`, `wait_until`, and the
//! element-wise kernels' chunks through `map_chunks_mut` instead of rayon's `par_chunks_mut`)
//! run other pending jobs and spin instead of sleeping. Only the waits change: every task
//! computes what it computed before, on whichever thread, so values are the same.
//!
//! The cost is that the other cores spin while a step runs, as OpenMP runtimes do by default.
//! `DASVDD_SPIN_WAITS=0` in the environment (or [`set_spin_waits`]) switches this off, back to
//! rayon's own waits, e.g. on a machine shared with other work; `xtask perf --spin-ab` times
//! both ways side by side.

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::Mutex;

use super::{fused_here, on_this_thread, stays_on_this_thread, with_fused};

/// 0: not yet read from the environment; 1: on; 2: off.
static SPIN_WAITS: AtomicU8 = AtomicU8::new(0);

/// Switches the spinning waits of this module on or off (rayon's own waits, which sleep), for
/// the whole process, whatever `DASVDD_SPIN_WAITS` says.
pub fn set_spin_waits(on: bool) {
    SPIN_WAITS.store(if on { 1 } else { 2 }, Ordering::Relaxed);
}

/// Whether the spinning waits are on: by default yes, unless `DASVDD_SPIN_WAITS` is `0`,
/// `off` or `false`, or [`set_spin_waits`] said otherwise.
pub fn spin_waits() -> bool {
    match SPIN_WAITS.load(Ordering::Relaxed) {
        1 => true,
        2 => false,
        _ => {
            let off = std::env::var("DASVDD_SPIN_WAITS")
                .is_ok_and(|v| matches!(v.trim(), "0" | "off" | "false"));
            SPIN_WAITS.store(if off { 2 } else { 1 }, Ordering::Relaxed);
            !off
        }
    }
}

thread_local! {
    /// Set on a thread while it runs the work of [`busy_workers`] or keeps busy for one.
    static BUSY: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether the calling thread is a worker of a pool of at least two threads, where spinning
/// waits apply.
fn spinning_here() -> bool {
    spin_waits()
        && rayon::current_thread_index().is_some()
        && rayon::current_num_threads() > 1
        && !stays_on_this_thread()
}

/// Waits until `done()` on a worker thread: runs the pool's pending jobs meanwhile and spins
/// between them, never sleeping. `done` must become true without the caller's help (its
/// work runs on other threads, or among the jobs this wait runs).
pub(crate) fn wait_until(done: impl Fn() -> bool) {
    while !done() {
        match rayon::yield_now() {
            Some(rayon::Yield::Executed) => {}
            Some(rayon::Yield::Idle) => {
                for _ in 0..16 {
                    if done() {
                        return;
                    }
                    std::hint::spin_loop();
                }
            }
            // Not a rayon worker: nothing to run, so only spin.
            None => std::hint::spin_loop(),
        }
    }
}

/// Counts one finished task when dropped, also when the task panicked (its panic then reaches
/// the caller through the scope, instead of leaving the caller waiting).
pub(crate) struct Finished<'a>(pub(crate) &'a AtomicUsize);

impl Drop for Finished<'_> {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::Release);
    }
}

/// Runs `task(i)` for every `i` in `0..n`, each once, spread over the pool's threads, and
/// returns when all are done. The calling thread takes tasks too; the tasks are handed out
/// one at a time from a counter, so a task is never left waiting for a thread that has not
/// started. On one thread, or inside [`on_this_thread`], they run in turn on the caller.
pub(crate) fn run_tasks(n: usize, task: &(dyn Fn(usize) + Sync)) {
    let threads = rayon::current_num_threads();
    if n <= 1 || threads < 2 || stays_on_this_thread() {
        (0..n).for_each(task);
        return;
    }
    // Each task runs with the caller's fused-kernel setting, on whichever thread.
    let fused = fused_here();
    let task = &|i| with_fused(fused, || task(i));
    if !spinning_here() {
        rayon::scope(|scope| {
            for i in 0..n {
                scope.spawn(move |_| task(i));
            }
        });
        return;
    }
    let next = AtomicUsize::new(0);
    let finished = AtomicUsize::new(0);
    let work = || loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        if i >= n {
            break;
        }
        let _finished = Finished(&finished);
        task(i);
    };
    rayon::in_place_scope(|scope| {
        for _ in 1..threads.min(n) {
            scope.spawn(|_| work());
        }
        work();
        // Helpers that start after the last task is taken return at once; the scope's end
        // runs those still queued here.
        wait_until(|| finished.load(Ordering::Acquire) == n);
    });
}

/// A pointer to the values of a slice split into chunks, one per task.
struct ChunkBase<T>(*mut T);
// SAFETY: each task reads and writes only its own chunk, disjoint from the others', while the
// caller holds the slice mutably borrowed.
unsafe impl<T: Send> Send for ChunkBase<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for ChunkBase<T> {}

impl<T> ChunkBase<T> {
    /// The pointer (a method, so that closures capture the whole `Sync` wrapper).
    fn get(&self) -> *mut T {
        self.0
    }
}

/// `f(i, chunk i)` for the chunks of `chunk` values of `data` (the last one shorter), spread
/// over the pool's threads as [`run_tasks`] spreads its tasks, and waiting as it does: rayon's
/// `par_chunks_mut(chunk).enumerate().map(f).collect()`, without going to sleep in the
/// step. Returns the results in chunk order.
pub(crate) fn map_chunks_mut<T: Send, R: Send>(
    data: &mut [T],
    chunk: usize,
    f: &(dyn Fn(usize, &mut [T]) -> R + Sync),
) -> Vec<R> {
    let len = data.len();
    let chunk = chunk.max(1);
    let n = len.div_ceil(chunk);
    let base = ChunkBase(data.as_mut_ptr());
    let out: Vec<Mutex<Option<R>>> = (0..n).map(|_| Mutex::new(None)).collect();
    run_tasks(n, &|i| {
        let start = i * chunk;
        // SAFETY: chunk i is start..start + its length, inside `data`, and no other task
        // touches it.
        let values = unsafe {
            std::slice::from_raw_parts_mut(base.get().add(start), chunk.min(len - start))
        };
        let r = f(i, values);
        *out[i].lock().expect("chunk result lock") = Some(r);
    });
    out.into_iter()
        .map(|r| {
            r.into_inner()
                .expect("chunk result lock")
                .expect("run_tasks ran every chunk")
        })
        .collect()
}

/// `f(i, chunk i)` for the chunks of `chunk` values of `data`, as [`map_chunks_mut`].
pub(crate) fn each_chunk_mut<T: Send>(
    data: &mut [T],
    chunk: usize,
    f: &(dyn Fn(usize, &mut [T]) + Sync),
) {
    map_chunks_mut(data, chunk, f);
}

/// `(a(), b())`, side by side on two threads where the pool has them, each run whole on its
/// thread ([`on_this_thread`]): rayon's `join`, but waiting as [`run_tasks`] does.
pub(crate) fn join<A: Send, B: Send>(
    a: impl FnOnce() -> A + Send,
    b: impl FnOnce() -> B + Send,
) -> (A, B) {
    if !spinning_here() {
        let fused = fused_here();
        return rayon::join(
            || on_this_thread(a),
            || with_fused(fused, || on_this_thread(b)),
        );
    }
    let a = Mutex::new(Some(a));
    let b = Mutex::new(Some(b));
    let ra = Mutex::new(None);
    let rb = Mutex::new(None);
    run_tasks(2, &|i| {
        if i == 0 {
            let f = a.lock().expect("join task lock").take();
            if let Some(f) = f {
                let r = on_this_thread(f);
                *ra.lock().expect("join result lock") = Some(r);
            }
        } else {
            let f = b.lock().expect("join task lock").take();
            if let Some(f) = f {
                let r = on_this_thread(f);
                *rb.lock().expect("join result lock") = Some(r);
            }
        }
    });
    let ra = ra.into_inner().expect("join result lock");
    let rb = rb.into_inner().expect("join result lock");
    (
        ra.expect("run_tasks ran task 0"),
        rb.expect("run_tasks ran task 1"),
    )
}

/// Runs `f` on a worker of the pool while the pool's other workers run its jobs and spin
/// between them instead of sleeping, so that each parallel region inside `f` starts on all
/// threads at once. The calling thread, when outside the pool, waits for `f` as in
/// `rayon::scope`. For work made of many short parallel regions and short serial stretches
/// (a training step); the other cores spin for as long as `f` runs. Without spinning waits,
/// on one thread or inside a task kept on one thread, it is `f()`.
pub fn busy_workers<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    if !spin_waits()
        || rayon::current_num_threads() < 2
        || stays_on_this_thread()
        || BUSY.with(|b| b.get())
    {
        return f();
    }
    let stop = AtomicBool::new(false);
    // `f` runs on a worker, with the caller's fused-kernel setting and tracing span.
    let fused = fused_here();
    let span = tracing::Span::current();
    rayon::scope(|scope| {
        let owner = rayon::current_thread_index();
        let stop = &stop;
        scope.spawn_broadcast(move |_, ctx| {
            // A thread that is already inside busy work (its own, or keeping busy for
            // another call from another thread) does not keep busy for this one: it would
            // hold up what it is inside of until this call ends, and two such calls could
            // each wait for the other's end.
            if Some(ctx.index()) != owner && !BUSY.with(|b| b.get()) {
                crate::step_profile::with_thread_flag(&BUSY, || {
                    wait_until(|| stop.load(Ordering::Relaxed))
                });
            }
        });
        /// Stops the other workers' spinning when `f` returns or panics.
        struct Stop<'a>(&'a AtomicBool);
        impl Drop for Stop<'_> {
            fn drop(&mut self) {
                self.0.store(true, Ordering::Relaxed);
            }
        }
        let _stop = Stop(stop);
        crate::step_profile::with_thread_flag(&BUSY, || span.in_scope(|| with_fused(fused, f)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(n: usize) -> rayon::ThreadPool {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .expect("thread pool")
    }

    #[test]
    fn run_tasks_runs_every_task_once_on_any_pool() {
        for threads in [1, 2, 3] {
            let counts: Vec<AtomicUsize> = (0..37).map(|_| AtomicUsize::new(0)).collect();
            pool(threads).install(|| {
                busy_workers(|| {
                    run_tasks(counts.len(), &|i| {
                        counts[i].fetch_add(1, Ordering::Relaxed);
                    })
                })
            });
            assert!(
                counts.iter().all(|c| c.load(Ordering::Relaxed) == 1),
                "{threads} threads"
            );
        }
    }

    #[test]
    fn work_handed_to_other_threads_keeps_the_callers_fused_kernel_setting() {
        for on in [false, true] {
            let seen: Vec<Mutex<Option<bool>>> = (0..16).map(|_| Mutex::new(None)).collect();
            let (a, b) = pool(3).install(|| {
                crate::kernels::set_fused_kernels(on);
                let out = busy_workers(|| {
                    let owner = rayon::current_thread_index();
                    let elsewhere = AtomicBool::new(false);
                    run_tasks(seen.len(), &|i| {
                        if rayon::current_thread_index() != owner {
                            elsewhere.store(true, Ordering::Relaxed);
                        }
                        *seen[i].lock().unwrap() = Some(fused_here());
                        // Hold each task until some task has run on another thread, so that
                        // the check covers work handed over (bounded, should that not happen).
                        let t = std::time::Instant::now();
                        while !elsewhere.load(Ordering::Relaxed)
                            && t.elapsed() < std::time::Duration::from_secs(2)
                        {
                            std::hint::spin_loop();
                        }
                    });
                    assert!(
                        elsewhere.load(Ordering::Relaxed),
                        "no task ran on another thread"
                    );
                    join(fused_here, fused_here)
                });
                crate::kernels::set_fused_kernels(true);
                out
            });
            assert_eq!((a, b), (on, on));
            assert!(seen.iter().all(|s| *s.lock().unwrap() == Some(on)), "{on}");
        }
    }

    #[test]
    fn chunks_are_each_visited_once_and_their_results_kept_in_order() {
        for threads in [1, 2, 3] {
            let mut data: Vec<u32> = (0..103).collect();
            let sums = pool(threads).install(|| {
                busy_workers(|| {
                    map_chunks_mut(&mut data, 10, &|i, c| {
                        assert!(c.len() == 10 || (i == 10 && c.len() == 3));
                        c.iter_mut().for_each(|v| *v += 1000);
                        c.iter().sum::<u32>()
                    })
                })
            });
            assert!(data.iter().enumerate().all(|(i, v)| *v == i as u32 + 1000));
            let expected: Vec<u32> = data.chunks(10).map(|c| c.iter().sum()).collect();
            assert_eq!(sums, expected, "{threads} threads");
        }
    }

    #[test]
    fn join_returns_both_results_in_order() {
        let (a, b) = pool(2).install(|| busy_workers(|| join(|| 1 + 1, || "b".repeat(3))));
        assert_eq!((a, b.as_str()), (2, "bbb"));
    }

    #[test]
    fn busy_calls_from_several_threads_at_once_all_finish() {
        // Two callers outside the pool, each with nested parallel work, many times: a
        // worker keeping busy for one call must never hold up the other's work. A deadlock
        // would hang, so a watchdog ends the test process instead.
        let done = std::sync::Arc::new(AtomicBool::new(false));
        let watch = done.clone();
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_secs(120));
            if !watch.load(Ordering::Relaxed) {
                eprintln!("busy_workers from two threads did not finish in 120 s");
                std::process::abort();
            }
        });
        // Tasks long enough that callers wait for each other's threads.
        let work = |v: usize| {
            let t = std::time::Instant::now();
            while t.elapsed() < std::time::Duration::from_micros(30) {
                std::hint::spin_loop();
            }
            v
        };
        let pool = pool(2);
        let total = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..3 {
                s.spawn(|| {
                    for _ in 0..200 {
                        pool.install(|| {
                            busy_workers(|| {
                                run_tasks(4, &|_| {
                                    let (a, b) = join(|| work(1), || work(2));
                                    total.fetch_add(a + b, Ordering::Relaxed);
                                })
                            })
                        });
                    }
                });
            }
        });
        done.store(true, Ordering::Relaxed);
        assert_eq!(total.load(Ordering::Relaxed), 3 * 200 * 4 * 3);
    }

    #[test]
    fn a_panicking_task_reaches_the_caller_instead_of_hanging() {
        let caught = std::panic::catch_unwind(|| {
            pool(2).install(|| {
                busy_workers(|| {
                    run_tasks(8, &|i| {
                        if i == 5 {
                            panic!("task 5 fails");
                        }
                    })
                })
            })
        });
        assert!(caught.is_err());
    }
}
