//! Shared pieces of the fuzz targets: an allocation guard that turns a memory bomb into a
//! crash, and a scratch file per process for the readers that take a path.
//!
//! The guard is the global allocator of every target: it counts the live bytes of Rust
//! allocations and aborts the process (which libFuzzer records as a crash, with the input)
//! when a run holds more than [`bound`] of its input: `BASE + FACTOR x input length`. This
//! works without AddressSanitizer, whose `-malloc_limit_mb` only sees allocations when the
//! sanitizer's allocator is in use; `-rss_limit_mb` in `run.sh` is the second line.

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

/// Bytes a run may hold whatever its input: buffers of fixed size, thread pools, caches.
pub const BASE: usize = 64 << 20;
/// [`BASE`] of the image reader: a decoded image may be far larger than its compressed file,
/// up to the reader's decoder limit ([`dasvdd_data::images::MAX_DECODED_BYTES`]), plus the
/// resized copy.
pub const IMAGE_BASE: usize = dasvdd_data::images::MAX_DECODED_BYTES + (64 << 20);
/// Bytes a run may hold per input byte: the file read once, its values widened (u8 or
/// f32 to f64: 8x) and copied once more.
pub const FACTOR: usize = 16;

/// The most live bytes a run over `len` input bytes may hold, beyond what was live before.
pub fn bound(len: usize, base: usize) -> usize {
    base.saturating_add(FACTOR.saturating_mul(len))
}

static LIVE: AtomicUsize = AtomicUsize::new(0);
/// Live bytes above which the process aborts (`usize::MAX`: outside a guarded run).
static LIMIT: AtomicUsize = AtomicUsize::new(usize::MAX);

/// The system allocator with the live-byte limit.
pub struct Guard;

// SAFETY: every call is forwarded unchanged to the system allocator; the bookkeeping uses
// atomics and allocates nothing.
unsafe impl GlobalAlloc for Guard {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        if live > LIMIT.load(Ordering::Relaxed) {
            over_limit(layout.size(), live);
        }
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > layout.size() {
            let grow = new_size - layout.size();
            let live = LIVE.fetch_add(grow, Ordering::Relaxed) + grow;
            if live > LIMIT.load(Ordering::Relaxed) {
                over_limit(new_size, live);
            }
        } else {
            LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Says what happened on stderr without allocating, then aborts.
fn over_limit(size: usize, live: usize) -> ! {
    use std::io::Write;
    let mut buf = [0u8; 160];
    let mut cur = std::io::Cursor::new(&mut buf[..]);
    let _ = write!(
        cur,
        "==dasvdd-fuzz== allocation bound exceeded: request of {size} bytes, {live} live\n"
    );
    let n = cur.position() as usize;
    let _ = std::io::stderr().write_all(&buf[..n]);
    std::process::abort()
}

/// Runs `f` on `data` with the allocation bound `bound(data.len(), base)`.
pub fn guarded<R>(data: &[u8], base: usize, f: impl FnOnce() -> R) -> R {
    init();
    let before = LIVE.load(Ordering::Relaxed);
    LIMIT.store(before.saturating_add(bound(data.len(), base)), Ordering::Relaxed);
    let out = f();
    LIMIT.store(usize::MAX, Ordering::Relaxed);
    out
}

/// Once per process: the default panic hook again, so that a panic the project catches
/// itself (the MAT v7.3 reader guards its HDF5 parser) is not a crash, while a panic that
/// reaches libFuzzer still aborts; and single-threaded rayon, so runs are reproducible.
fn init() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let _ = std::panic::take_hook();
        std::env::set_var("RAYON_NUM_THREADS", "1");
    });
}

/// A scratch folder of this process (under `$TMPDIR`), created once.
pub fn scratch_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("dasvdd-fuzz-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("scratch folder");
        d
    })
}

/// Writes `data` to the scratch file `name` and returns its path.
pub fn scratch_file(name: &str, data: &[u8]) -> PathBuf {
    let p = scratch_dir().join(name);
    std::fs::write(&p, data).expect("scratch file");
    p
}

/// Scores a few rows with a loaded detector, when its width is small enough to be cheap,
/// so that what a load accepts is also used.
pub fn score_a_little(d: &dyn dasvdd_core::Detector) {
    let cols = d.n_features();
    if cols == 0 || cols > 4096 {
        return;
    }
    let x: Vec<f32> = (0..2 * cols).map(|i| (i % 7) as f32 / 7.0).collect();
    if let Ok(v) = dasvdd_core::SampleView::new(&x, 2, cols) {
        let _ = d.score(v);
    }
}
