//! Fused kernels of the training step, as candle custom ops, one module per concern:
//! [`products`] (matrix products through `gemm`), [`activations`] (activations, their
//! derivatives, bias gradients), [`losses`] (loss gradients) and [`optim`] (the fused Adam pass).
//!
//! The matrix products call the `gemm` crate that candle's CPU backend uses, directly, so that
//! the bias is accumulated into the output, the thread count is read once and no output is
//! zero-filled first; the other kernels replace the chain of small tensor operations around the
//! products (bias broadcast, activation, its derivative, the loss gradients, the optimiser
//! update), each of which would otherwise allocate and sweep memory once. On the CPU each kernel
//! is one pass over contiguous memory, in place where it can be, split over threads in fixed
//! chunks so results do not depend on scheduling. On other devices the same functions fall back
//! to plain candle operations.

pub mod activations;
pub mod losses;
pub mod optim;
pub mod products;

/// Whether these kernels were compiled with debug assertions (and so overflow checks): the dev
/// profile turns them off for this crate, as for the dependencies, since they slow the step.
pub const DEBUG_ASSERTIONS: bool = cfg!(debug_assertions);

pub use activations::{activation_backward, bias_activation, column_sum};
pub use losses::{reconstruction_grad, svdd_grad};
pub use optim::{AdamKernel, TransposedCopy};
pub use products::{linear, matmul_nt, matmul_nt_with, matmul_tn};

use candle_core::{CpuStorage, Layout};

thread_local! {
    static FUSED: std::cell::Cell<bool> = const { std::cell::Cell::new(true) };
}

/// Switches the fused CPU kernels on or off for the calling thread. Off, CPU tensors take the
/// plain candle operations that every other device uses, which lets the tests check one
/// against the other.
pub fn set_fused_kernels(on: bool) {
    FUSED.with(|f| f.set(on));
}

/// Whether tensors on `device` use the fused kernels (CPU, unless switched off).
pub fn fused_on(device: &candle_core::Device) -> bool {
    device.is_cpu() && FUSED.with(|f| f.get())
}

/// Rows per parallel task: large enough that task overhead is negligible, fixed so that the
/// grouping of floating-point sums never depends on the thread count or timing.
pub(crate) const ROW_CHUNK: usize = 16;
/// Elements per parallel task in the optimiser kernels.
pub(crate) const ELEM_CHUNK: usize = 1 << 15;

pub(crate) fn contiguous<'a>(
    s: &'a CpuStorage,
    l: &Layout,
    what: &str,
) -> candle_core::Result<&'a [f32]> {
    let data = s.as_slice::<f32>()?;
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&data[a..b]),
        None => candle_core::bail!("{what}: expected a contiguous f32 tensor"),
    }
}

pub(crate) fn contiguous_mut<'a>(
    s: &'a mut CpuStorage,
    l: &Layout,
    what: &str,
) -> candle_core::Result<&'a mut [f32]> {
    let (a, b) = match l.contiguous_offsets() {
        Some(ab) => ab,
        None => candle_core::bail!("{what}: expected a contiguous f32 tensor"),
    };
    match s {
        CpuStorage::F32(v) => Ok(&mut v[a..b]),
        _ => candle_core::bail!("{what}: expected an f32 tensor"),
    }
}
