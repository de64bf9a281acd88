//! The thread pool the extension computes on: one per process, made again in a child process
//! after `fork`. rayon's global pool does not survive a fork (the child has none of its
//! threads, so its first parallel call waits for them forever), and Python forks where
//! `multiprocessing` uses its `fork` start method (Linux's default before Python 3.14) and in
//! joblib's `multiprocessing` backend: a child of a process that fitted or scored a model
//! would hang. Every fit and score runs inside [`on_pool`], whose pool belongs to the process
//! that made it.

use std::sync::{Arc, Mutex};

/// The pool and the id of the process that made it.
static POOL: Mutex<Option<(u32, Arc<rayon::ThreadPool>)>> = Mutex::new(None);

/// This process's pool: made at the first call, and again in a child process after a fork.
fn pool() -> Result<Arc<rayon::ThreadPool>, rayon::ThreadPoolBuildError> {
    let pid = std::process::id();
    let mut held = POOL.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some((owner, pool)) = held.as_ref() {
        if *owner == pid {
            return Ok(pool.clone());
        }
    }
    // A pool inherited through a fork has no threads here: it is forgotten, not dropped
    // (dropping it would signal threads that do not exist in this process).
    if let Some(inherited) = held.take() {
        std::mem::forget(inherited);
    }
    let pool = Arc::new(
        rayon::ThreadPoolBuilder::new()
            .num_threads(candle_core::utils::get_num_threads())
            .thread_name(|i| format!("dasvdd-{i}"))
            .build()?,
    );
    *held = Some((pid, pool.clone()));
    Ok(pool)
}

/// Runs `f` on this process's pool, so that its parallel work (rayon's `join`, `scope` and
/// parallel iterators, `gemm`'s threads) runs there; on the calling thread if no pool can be
/// made.
pub(crate) fn on_pool<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    match pool() {
        Ok(pool) => pool.install(f),
        Err(_) => f(),
    }
}
