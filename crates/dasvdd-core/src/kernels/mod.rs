//! Fused kernels of the training step, as candle custom ops, one module per concern:
//! [`products`] (matrix products through `gemm`), [`activations`] (activations, their
//! derivatives, bias gradients), [`losses`] (loss gradients), [`optim`] (the fused Adam pass)
//! and [`conv`] (convolutions, batch normalisation and pooling of the LeNet networks), with
//! [`pool`] for how their threads wait for each other.
//!
//! The matrix products call the `gemm` crate that candle's CPU backend uses, directly, so that
//! the bias is accumulated into the output, the thread count is read once and no output is
//! zero-filled first; the other kernels replace the chain of small tensor operations around the
//! products (bias broadcast, activation, its derivative, the loss gradients, the optimiser
//! update), each of which would otherwise allocate and sweep memory once. On the CPU each kernel
//! is one pass over contiguous memory, in place where it can be, split over threads in fixed
//! chunks so results do not depend on scheduling. On other devices the same functions fall back
//! to plain candle operations.

/// Implements one of candle's custom-op traits for a kernel from its op name and its CPU body,
/// so that each kernel states only what it computes:
/// `cpu_op!(Kernel, "name", |op, mut out, a, b| { ... })` runs the block as `cpu_fwd` with `op`
/// bound to `self` and each of candle's (storage, layout) pairs, in candle's order, bound to an
/// [`Operand`]. A first operand marked `mut` is written in place (`InplaceOp1`..`InplaceOp3`);
/// otherwise the block returns a new storage and its shape (`CustomOp1`..`CustomOp3`). The
/// trait follows from the number of operands. The block is the method's body, not a closure.
macro_rules! cpu_op {
    (@impl $trait:ident, $ret:ty, $ty:ty, $name:literal, $op:ident,
     $([$s:ident: $s_ty:ty, $l:ident => $bind:ident])+ $body:block) => {
        impl candle_core::$trait for $ty {
            fn name(&self) -> &'static str {
                $name
            }

            fn cpu_fwd(
                &self,
                $($s: $s_ty, $l: &candle_core::Layout),+
            ) -> candle_core::Result<$ret> {
                let $op = self;
                $(let $bind = $crate::kernels::Operand { storage: $s, layout: $l };)+
                $body
            }
        }
    };
    ($ty:ty, $name:literal, |$op:ident, mut $a:ident| $body:block) => {
        cpu_op!(@impl InplaceOp1, (), $ty, $name, $op,
            [s1: &mut candle_core::CpuStorage, l1 => $a] $body);
    };
    ($ty:ty, $name:literal, |$op:ident, mut $a:ident, $b:ident| $body:block) => {
        cpu_op!(@impl InplaceOp2, (), $ty, $name, $op,
            [s1: &mut candle_core::CpuStorage, l1 => $a] [s2: &candle_core::CpuStorage, l2 => $b]
            $body);
    };
    ($ty:ty, $name:literal, |$op:ident, mut $a:ident, $b:ident, $c:ident| $body:block) => {
        cpu_op!(@impl InplaceOp3, (), $ty, $name, $op,
            [s1: &mut candle_core::CpuStorage, l1 => $a] [s2: &candle_core::CpuStorage, l2 => $b]
            [s3: &candle_core::CpuStorage, l3 => $c] $body);
    };
    ($ty:ty, $name:literal, |$op:ident, $a:ident| $body:block) => {
        cpu_op!(@impl CustomOp1, (candle_core::CpuStorage, candle_core::Shape), $ty, $name, $op,
            [s1: &candle_core::CpuStorage, l1 => $a] $body);
    };
    ($ty:ty, $name:literal, |$op:ident, $a:ident, $b:ident| $body:block) => {
        cpu_op!(@impl CustomOp2, (candle_core::CpuStorage, candle_core::Shape), $ty, $name, $op,
            [s1: &candle_core::CpuStorage, l1 => $a] [s2: &candle_core::CpuStorage, l2 => $b]
            $body);
    };
    ($ty:ty, $name:literal, |$op:ident, $a:ident, $b:ident, $c:ident| $body:block) => {
        cpu_op!(@impl CustomOp3, (candle_core::CpuStorage, candle_core::Shape), $ty, $name, $op,
            [s1: &candle_core::CpuStorage, l1 => $a] [s2: &candle_core::CpuStorage, l2 => $b]
            [s3: &candle_core::CpuStorage, l3 => $c] $body);
    };
}

/// `widest_simd!(pub(super) fn name(args) -> Ret = body;)` defines `name` (with the visibility
/// given, if any), which runs `body(args)` (an `#[inline(always)]` function) compiled for
/// AVX-512F, for AVX2 or for the baseline x86-64, the widest the CPU has, chosen at run time.
/// For element-wise loops that are compute-bound at the baseline's four lanes; `body` must form
/// no fused multiply-add (Rust never contracts on its own), so that every variant does the same
/// IEEE operations in the same order and the results are bit-identical whichever runs.
///
/// `= body::<A, B, C>;` instead runs `body::<A>` with AVX-512F, `body::<B>` with AVX2 and
/// `body::<C>` otherwise: for register-blocked loops whose block must fit each width's
/// registers (AVX-512F has 32 of 64 bytes, AVX2 16 of 32, the baseline 16 of 16), which must
/// then give the same values for every block size.
macro_rules! widest_simd {
    (@emit [$($doc:tt)*] [$vis:vis] $name:ident [$($arg:ident: $ty:ty),*] [$($ret:ty)?]
        [$($f512:tt)*] [$($f256:tt)*] [$($f128:tt)*]) => {
        $($doc)*
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            {
                /// `body` compiled with AVX-512F.
                ///
                /// # Safety
                /// The CPU must have AVX-512F.
                #[target_feature(enable = "avx512f")]
                unsafe fn avx512($($arg: $ty),*) $(-> $ret)? {
                    $($f512)*($($arg),*)
                }
                /// `body` compiled with AVX2.
                ///
                /// # Safety
                /// The CPU must have AVX2.
                #[target_feature(enable = "avx2")]
                unsafe fn avx2($($arg: $ty),*) $(-> $ret)? {
                    $($f256)*($($arg),*)
                }
                if std::arch::is_x86_feature_detected!("avx512f") {
                    // SAFETY: the CPU has AVX-512F.
                    return unsafe { avx512($($arg),*) };
                }
                if std::arch::is_x86_feature_detected!("avx2") {
                    // SAFETY: the CPU has AVX2.
                    return unsafe { avx2($($arg),*) };
                }
            }
            $($f128)*($($arg),*)
        }
    };
    ($(#[$doc:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)?
        = $body:ident;) => {
        widest_simd!(@emit [$(#[$doc])*] [$vis] $name [$($arg: $ty),*] [$($ret)?]
            [$body] [$body] [$body]);
    };
    ($(#[$doc:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)?
        = $body:ident::<$a:literal, $b:literal, $c:literal>;) => {
        widest_simd!(@emit [$(#[$doc])*] [$vis] $name [$($arg: $ty),*] [$($ret)?]
            [$body::<$a>] [$body::<$b>] [$body::<$c>]);
    };
}

pub mod activations;
pub mod conv;
pub mod losses;
pub mod optim;
pub mod pool;
pub mod products;

/// Whether these kernels were compiled with debug assertions (and so overflow checks): the dev
/// profile turns them off for this crate, as for the dependencies, since they slow the step.
pub const DEBUG_ASSERTIONS: bool = cfg!(debug_assertions);

pub use activations::{activation_backward, bias_activation, column_sum};
pub use losses::{reconstruction_grad, svdd_grad};
pub use optim::{AdamKernel, TransposedCopy};
pub use products::{linear, matmul_nt, matmul_nt_with, matmul_tn};

use std::mem::MaybeUninit;

use candle_core::{CpuStorage, Layout, Shape};

/// Set to `0`, the fused CPU kernels start switched off in every thread, so that a CPU run
/// takes the plain candle operations a GPU runs: for telling a difference between a GPU's
/// results and the CPU's apart from the GPU itself.
pub const PLAIN_OPS_VAR: &str = "DASVDD_FUSED_KERNELS";

/// The fused kernels' default: on, unless [`PLAIN_OPS_VAR`] is `0` (read once per process).
fn fused_by_default() -> bool {
    static DEFAULT: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *DEFAULT.get_or_init(|| fused_from_var(std::env::var_os(PLAIN_OPS_VAR).as_deref()))
}

/// Whether [`PLAIN_OPS_VAR`]'s value leaves the fused kernels on: anything but `0`, or unset.
fn fused_from_var(value: Option<&std::ffi::OsStr>) -> bool {
    value.is_none_or(|v| v != "0")
}

thread_local! {
    static FUSED: std::cell::Cell<bool> = std::cell::Cell::new(fused_by_default());
}

/// Switches the fused CPU kernels on or off for the calling thread. Off, CPU tensors take the
/// plain candle operations that every other device uses, which lets the tests check one
/// against the other.
pub fn set_fused_kernels(on: bool) {
    FUSED.with(|f| f.set(on));
}

/// Whether tensors on `device` use the fused kernels (CPU, unless switched off).
pub fn fused_on(device: &candle_core::Device) -> bool {
    device.is_cpu() && fused_here()
}

/// Runs `f` with the calling thread's fused-kernel switch set to `on`, restoring it after:
/// how work handed to other threads ([`pool`]) keeps the setting of the thread that handed it.
pub(crate) fn with_fused<R>(on: bool, f: impl FnOnce() -> R) -> R {
    crate::step_profile::with_thread_flag_as(&FUSED, on, f)
}

/// The calling thread's fused-kernel switch (see [`set_fused_kernels`]).
pub(crate) fn fused_here() -> bool {
    FUSED.with(|f| f.get())
}

/// Rows per parallel task: large enough that task overhead is negligible, fixed so that the
/// grouping of floating-point sums never depends on the thread count or timing.
pub(crate) const ROW_CHUNK: usize = 16;
/// Elements per parallel task in the optimiser kernels.
pub(crate) const ELEM_CHUNK: usize = 1 << 15;

/// `len` zeros, written on the pool's threads in [`ELEM_CHUNK`]s when there are enough of
/// them: `vec![0f32; len]` zero-fills (or, fresh from the system, page-faults) on the calling
/// thread alone, and for the convolutional networks' outputs of tens of megabytes the other
/// thread waited through it (about a third of its waits in a CIFAR-10 step).
pub(crate) fn zeros(len: usize) -> Vec<f32> {
    filled(len, |_, c| {
        for v in c {
            v.write(0.0);
        }
    })
}

/// A new vector of `len` values, `fill(start, chunk)` writing every value of each chunk of
/// [`ELEM_CHUNK`] (the chunk starting at `start`), on the pool's threads when there are enough
/// chunks.
fn filled(len: usize, fill: impl Fn(usize, &mut [MaybeUninit<f32>]) + Sync) -> Vec<f32> {
    let mut v: Vec<f32> = Vec::with_capacity(len);
    let spare = &mut v.spare_capacity_mut()[..len];
    if parallel(len, ELEM_CHUNK) {
        pool::each_chunk_mut(spare, ELEM_CHUNK, &|i, c| fill(i * ELEM_CHUNK, c));
    } else {
        fill(0, spare);
    }
    // SAFETY: `fill` wrote every one of the `len` values (each chunk whole).
    unsafe { v.set_len(len) };
    v
}

/// Whether `len` values in tasks of `chunk` go to rayon: only when there are more than four
/// tasks. Entering rayon's pool from the training thread wakes its workers and waits for
/// them, which costs more than a small kernel's whole work (the PIMA network's, or a stack of
/// small networks: a stack of ten 64-32-16 networks went from 0.75x to 1.11x the speed of one
/// at a time with this rule instead of "more than one task"); the tasks then run on the
/// calling thread, with the same arithmetic.
pub(crate) fn parallel(len: usize, chunk: usize) -> bool {
    len > 4 * chunk && !stays_on_this_thread()
}

thread_local! {
    /// Set while the calling thread runs work that [`on_this_thread`] keeps on it.
    static ONE_THREAD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` with every kernel it calls on the calling thread (products and element-wise
/// passes alike, none split over threads) and the step-phase timers of this thread off: for
/// work that runs as one task beside others (a layer's two gradient products side by side, a
/// layer's Adam update beside the backward pass), which the thread that waits for it times.
/// The arithmetic is the same as when split: the kernels split work in fixed chunks.
pub(crate) fn on_this_thread<R>(f: impl FnOnce() -> R) -> R {
    crate::step_profile::with_thread_flag(&ONE_THREAD, || crate::step_profile::muted(f))
}

/// Whether the calling thread runs inside [`on_this_thread`].
pub(crate) fn stays_on_this_thread() -> bool {
    ONE_THREAD.with(|c| c.get())
}

/// A raw pointer that parallel tasks use to write disjoint elements of one buffer (Adam's
/// transposed copies, the blocks of a product's output).
#[derive(Clone, Copy)]
pub(crate) struct SharedMut(pub(crate) *mut f32);
// SAFETY: only used for writes to pairwise distinct indices, while the owning buffer is
// locked or borrowed by the writer.
unsafe impl Send for SharedMut {}
// SAFETY: as above.
unsafe impl Sync for SharedMut {}

impl SharedMut {
    /// The pointer (a method, so that closures capture the whole `Sync` wrapper).
    pub(crate) fn get(self) -> *mut f32 {
        self.0
    }
}

/// `(models, rows, cols)` of a matrix `(rows, cols)` (one model) or of a stack of matrices
/// `(models, rows, cols)`, one per model, that the kernels treat model by model.
pub(crate) fn stack_dims(shape: &Shape) -> candle_core::Result<(usize, usize, usize)> {
    match *shape.dims() {
        [rows, cols] => Ok((1, rows, cols)),
        [models, rows, cols] => Ok((models, rows, cols)),
        _ => candle_core::bail!("expected a matrix or a stack of matrices, got shape {shape:?}"),
    }
}

/// The shape of `rows x cols` per model: a stack when `like` is one, else a matrix.
pub(crate) fn stacked_shape(like: &Shape, models: usize, rows: usize, cols: usize) -> Shape {
    if like.rank() == 3 {
        Shape::from((models, rows, cols))
    } else {
        Shape::from((rows, cols))
    }
}

/// One operand of a kernel as candle hands it to `cpu_fwd`: its storage (`S` is `&CpuStorage`,
/// or `&mut CpuStorage` for the operand written in place) and its layout.
pub(crate) struct Operand<'a, S> {
    /// Where the values are.
    pub storage: S,
    /// Which of them, in what shape.
    pub layout: &'a Layout,
}

impl<S> Operand<'_, S> {
    /// The operand's shape.
    pub fn shape(&self) -> &Shape {
        self.layout.shape()
    }
}

impl<'a> Operand<'a, &'a CpuStorage> {
    /// The operand's values, which must be a contiguous f32 tensor (`what` names it in the
    /// error).
    pub fn values(&self, what: &str) -> candle_core::Result<&'a [f32]> {
        let data = self.storage.as_slice::<f32>()?;
        match self.layout.contiguous_offsets() {
            Some((a, b)) => Ok(&data[a..b]),
            None => candle_core::bail!("{what}: expected a contiguous f32 tensor"),
        }
    }
}

impl<'a> Operand<'a, &'a mut CpuStorage> {
    /// The values of the operand written in place, which must be a contiguous f32 tensor
    /// (`what` names it in the error).
    pub fn values_mut(self, what: &str) -> candle_core::Result<&'a mut [f32]> {
        let (a, b) = match self.layout.contiguous_offsets() {
            Some(ab) => ab,
            None => candle_core::bail!("{what}: expected a contiguous f32 tensor"),
        };
        match self.storage {
            CpuStorage::F32(v) => Ok(&mut v[a..b]),
            _ => candle_core::bail!("{what}: expected an f32 tensor"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    #[test]
    fn only_zero_switches_the_fused_kernels_off_by_default() {
        assert!(fused_from_var(None));
        assert!(fused_from_var(Some(OsStr::new("1"))));
        assert!(fused_from_var(Some(OsStr::new(""))));
        assert!(!fused_from_var(Some(OsStr::new("0"))));
    }

    #[test]
    fn parallel_zeros_hold_every_value() {
        // Large enough for the pool's threads (and a last chunk shorter than the others), and
        // small enough for the calling thread.
        for len in [4 * ELEM_CHUNK + 12_345, 1_000, 0] {
            assert!(zeros(len).iter().all(|&v| v == 0.0 && v.is_sign_positive()));
            assert_eq!(zeros(len).len(), len);
        }
    }
}
