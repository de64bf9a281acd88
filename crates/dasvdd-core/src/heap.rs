//! How the process's allocator treats freed blocks of memory: [`keep_freed_memory`], for
//! binaries to call first thing in `main`, so that the large activation and gradient buffers
//! each training step frees are reused by the next step instead of going back to the kernel.
//!
//! Under glibc's defaults a freed buffer of many megabytes goes back to the kernel in one of three
//! ways, and every page of the next one comes back as a fresh zero page, with a page fault each: a
//! block above the mmap threshold (128 KiB at start, raised to the largest such block freed so far)
//! is unmapped when freed; the main heap is trimmed whenever more than twice that threshold is free
//! at its top; and a thread other than the main one allocates from an arena of 64 MiB heaps, each
//! unmapped as soon as nothing in it is in use. A CIFAR-10 LeNet step allocates and frees buffers
//! of up to 26 MB (a batch of 200 at 32 x 32 x 32), on the pool's threads, so its buffers went back
//! to the kernel every step: about 52,000 page faults per step of the CIFAR-10 autoencoder and
//! 20,000 per step of its encoder on the main thread (measured with `perf stat -e page-faults`),
//! and 18 heaps of 64 MiB made and unmapped again in 15 steps of `cargo xtask perf --lenet`
//! (counted with `strace -f`).
//!
//! So [`keep_freed_memory`] raises the mmap threshold to its largest value, sets a trim
//! threshold of 256 MiB, and keeps every thread in the main arena (small blocks still come
//! from each thread's own cache; sharing the arena's lock did not slow the DASVDD step in the
//! README's measurement, section "Freed memory kept for reuse").

/// The mmap threshold set: glibc's largest allowed value on 64-bit targets (32 MiB). Blocks
/// up to this size come from the heap and are reused once freed.
pub const MMAP_THRESHOLD: usize = 32 << 20;

/// The trim threshold set: free memory at the top of a heap is returned to the kernel only
/// beyond this much (256 MiB), so a step's buffers stay with the process between steps, while
/// a process whose working set shrinks for good still gives most of it back.
pub const TRIM_THRESHOLD: usize = 256 << 20;

/// The environment variable that leaves the allocator's defaults alone when set to `0`, to
/// compare both ways (`cargo xtask perf --lenet` runs under either).
pub const SWITCH_VAR: &str = "DASVDD_KEEP_FREED_MEMORY";

/// What [`keep_freed_memory`] did, once called.
static SETTING: std::sync::OnceLock<HeapSetting> = std::sync::OnceLock::new();

/// What [`keep_freed_memory`] did in this process, if it was called.
pub fn setting() -> Option<HeapSetting> {
    SETTING.get().copied()
}

/// What [`keep_freed_memory`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeapSetting {
    /// The thresholds above and one arena were set.
    Kept,
    /// Switched off by `DASVDD_KEEP_FREED_MEMORY=0`.
    SwitchedOff,
    /// Left to the user's own `MALLOC_MMAP_THRESHOLD_`, `MALLOC_TRIM_THRESHOLD_`,
    /// `MALLOC_TOP_PAD_`, `MALLOC_ARENA_MAX` or `glibc.malloc.*` in `GLIBC_TUNABLES`.
    UserSettings,
    /// Not glibc (another C library or operating system): nothing to set.
    Unsupported,
    /// `mallopt` refused a value.
    Refused,
}

impl HeapSetting {
    /// One line for start-up logs and `cargo xtask perf`.
    pub fn describe(self) -> &'static str {
        match self {
            HeapSetting::Kept => {
                "freed memory kept for reuse (glibc: mmap threshold 32 MiB, trim threshold \
                 256 MiB, one arena)"
            }
            HeapSetting::SwitchedOff => "glibc's defaults (DASVDD_KEEP_FREED_MEMORY=0)",
            HeapSetting::UserSettings => {
                "glibc's settings from the environment (MALLOC_* or glibc.malloc tunables)"
            }
            HeapSetting::Unsupported => "the system allocator's defaults (not glibc)",
            HeapSetting::Refused => "glibc's settings, partly unchanged (mallopt refused a value)",
        }
    }
}

/// Sets glibc's mmap threshold to [`MMAP_THRESHOLD`], its trim threshold to [`TRIM_THRESHOLD`]
/// and its number of arenas to one, unless switched off with `DASVDD_KEEP_FREED_MEMORY=0` or
/// the user has set glibc's own variables. Returns what it did; only the first call does
/// anything. Values computed are the same either way; only the time spent in page faults
/// changes.
///
/// For binaries, first thing in `main`: it changes the whole process's allocator. A library
/// (the Python module, say) should leave that to the program that embeds it.
pub fn keep_freed_memory() -> HeapSetting {
    *SETTING.get_or_init(decide)
}

fn decide() -> HeapSetting {
    if std::env::var_os(SWITCH_VAR).is_some_and(|v| v == "0") {
        return HeapSetting::SwitchedOff;
    }
    let user = [
        "MALLOC_MMAP_THRESHOLD_",
        "MALLOC_TRIM_THRESHOLD_",
        "MALLOC_TOP_PAD_",
        "MALLOC_ARENA_MAX",
    ];
    // GLIBC_TUNABLES counts only where it tunes malloc (it also carries e.g. glibc.cpu ones).
    let tunables = std::env::var_os("GLIBC_TUNABLES")
        .is_some_and(|t| t.to_string_lossy().contains("glibc.malloc."));
    if tunables || user.iter().any(|v| std::env::var_os(v).is_some()) {
        return HeapSetting::UserSettings;
    }
    set_thresholds()
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn set_thresholds() -> HeapSetting {
    let as_int = |v: usize| libc::c_int::try_from(v).unwrap_or(libc::c_int::MAX);
    // SAFETY: `mallopt` only records each value (under the allocator's lock); it is sound to
    // call at any time from any thread.
    let ok = unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, as_int(MMAP_THRESHOLD)) == 1
            && libc::mallopt(libc::M_TRIM_THRESHOLD, as_int(TRIM_THRESHOLD)) == 1
            && libc::mallopt(libc::M_ARENA_MAX, 1) == 1
    };
    if ok {
        HeapSetting::Kept
    } else {
        HeapSetting::Refused
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn set_thresholds() -> HeapSetting {
    HeapSetting::Unsupported
}
