//! Matrix products through the `gemm` crate: the linear layer with its bias and activation, and
//! the transposed products of the backward pass. Each takes a matrix or a stack of matrices
//! with a leading model axis (many models trained at once), computed model by model exactly as
//! for a model alone.

use std::mem::MaybeUninit;

use candle_core::{CpuStorage, Shape, Tensor};

use super::activations::{activate_slice, bias_activation};
use super::optim::TransposedCopy;
use super::{fused_on, stack_dims, stacked_shape, stays_on_this_thread, SharedMut};
use crate::config::Activation;
use crate::step_profile::{timer, Phase};

/// `a @ w^T` for `w (rows, cols)`, reading the row-major transposed copy kept by Adam instead
/// of a column-major view of `w`; per model for stacks.
struct MatmulTransposedCopy<'a>(&'a TransposedCopy);

cpu_op!(
    MatmulTransposedCopy<'_>,
    "matmul-transposed-copy",
    |op, a, w| {
        let (models, m, k) = stack_dims(a.shape())?;
        let (models_w, n, k2) = stack_dims(w.shape())?;
        let t = op.0;
        let ok = models == models_w
            && a.shape().rank() == w.shape().rank()
            && k == k2
            && t.rows == n
            && t.cols == k
            && t.models == models;
        check_shapes(ok, "matmul-transposed-copy", a.shape(), w.shape())?;
        let a = a.values("lhs")?;
        let data = t.data.lock().expect("transposed copy lock poisoned");
        let dst = per_model(models, m * n, |i, dst| {
            gemm_into(
                dst,
                (m, n, k),
                &a[i * m * k..(i + 1) * m * k],
                (k, 1),
                &data[i * k * n..(i + 1) * k * n],
                (n, 1),
            )
        })?;
        Ok((CpuStorage::F32(dst), stacked_shape(w.shape(), models, m, n)))
    }
);

/// `a @ w^T`, through `w`'s transposed copy when one is given.
pub fn matmul_nt_with(
    a: &Tensor,
    w: &Tensor,
    transposed: Option<&TransposedCopy>,
) -> candle_core::Result<Tensor> {
    match transposed {
        Some(t) if fused_on(a.device()) && a.is_contiguous() => {
            a.apply_op2_no_bwd(w, &MatmulTransposedCopy(t))
        }
        _ => matmul_nt(a, w),
    }
}

/// Fails unless `ok`, naming the product `op` and the shapes of its operands.
fn check_shapes(ok: bool, op: &str, lhs: &Shape, rhs: &Shape) -> candle_core::Result<()> {
    if !ok {
        candle_core::bail!("{op}: shapes {lhs:?} and {rhs:?} disagree");
    }
    Ok(())
}

/// A new buffer of `models` blocks of `len` values, block `i` written whole by
/// `fill(i, block)` (never read first, so never zero-filled), model after model: each product
/// is split over threads inside `gemm` where it is large enough, as for a model alone, while
/// spreading small models over threads cost more in waking rayon's workers than it saved
/// (measured: a stack of ten 64-32-16 networks at 0.65x instead of 1.1x one at a time).
fn per_model(
    models: usize,
    len: usize,
    fill: impl Fn(usize, &mut [MaybeUninit<f32>]) -> candle_core::Result<()>,
) -> candle_core::Result<Vec<f32>> {
    let total = models * len;
    let mut dst: Vec<f32> = Vec::with_capacity(total);
    let spare = &mut dst.spare_capacity_mut()[..total];
    for (i, block) in spare.chunks_mut(len.max(1)).enumerate() {
        fill(i, block)?;
    }
    // SAFETY: every block of the `total` values was written by `fill`, which succeeded.
    unsafe { dst.set_len(total) };
    Ok(dst)
}

/// `(a(), b())` for two independent computations of similar size whose products (of `flops`
/// each) `gemm` would split over threads: instead, the two run side by side on two threads,
/// each with its products on its own thread. For the training step's small products (a batch
/// of 200 rows) two one-thread products at once beat two two-thread products in turn: no
/// synchronisation inside `gemm`, and one thread per product gets more of the cores' peak
/// (`xtask perf --products` shows the per-product rates). Where `gemm` would keep a product on
/// one thread anyway (small products, one-thread pools, one core), they run in turn. The
/// values are the same either way: `gemm` splits a product's rows and columns over threads,
/// never the sum over its inner dimension, and each computation runs whole on one thread.
///
/// For the step-phase accounting the pair counts as products, timed on the calling thread.
///
/// Only on the CPU: for tensors on `device` elsewhere the two run in turn, on the calling
/// thread (see `runs_side_by_side` for why).
pub fn side_by_side<A: Send, B: Send>(
    flops: usize,
    device: &candle_core::Device,
    a: impl FnOnce() -> A + Send,
    b: impl FnOnce() -> B + Send,
) -> (A, B) {
    if !runs_side_by_side(flops, device) {
        return (a(), b());
    }
    let _timer = timer(Phase::Products);
    super::pool::join(a, b)
}

/// Whether [`side_by_side`] runs two computations whose products are of `flops` each on two
/// threads (else in turn): on the CPU, where `gemm` would split such products over threads.
/// Never on another device. candle's CUDA device queues each host thread's operations on that
/// thread's own default stream, so operations issued from two threads run unordered against
/// each other: one lane read gradients the other had not computed yet, and memory one stream
/// had freed was reused by the other. On the H200 that overwrote blocks of stacked models at
/// single steps, and from the first epoch with four processes on the GPU (docs/gpu.md).
pub(crate) fn runs_side_by_side(flops: usize, device: &candle_core::Device) -> bool {
    device.is_cpu() && matches!(gemm_parallelism(flops), gemm::Parallelism::Rayon(_))
}

/// Threads for the matrix products, counted once (candle counts them before every product).
fn gemm_parallelism(flops: usize) -> gemm::Parallelism {
    static THREADS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    let n = *THREADS.get_or_init(candle_core::utils::get_num_threads);
    // Below 2^24 FLOP (16 MFLOP: a 180-row product of 256 x 128) the synchronisation costs more
    // than a second thread saves: with the limit at 2^20 a single 256-128-64 network trained
    // at 128,430 samples/s, at 2^24 at 233,942 (`xtask perf --stacked 10`, one at a time, 2-core
    // Xeon), and the Fashion-MNIST network, whose products are larger, within the noise (10,582
    // against 11,012 samples/s, means of three alternating runs). Inside a one-thread pool
    // (models trained side by side, `stack::run_passes`) there is no second thread.
    if n > 1 && flops > (1 << 24) && rayon::current_num_threads() > 1 && !stays_on_this_thread() {
        gemm::Parallelism::Rayon(n)
    } else {
        gemm::Parallelism::None
    }
}

/// Checks that `lhs` and `rhs` hold every element of an `m x k` by `k x n` product with the
/// given (row, column) strides.
fn check_operands(
    (m, n, k): (usize, usize, usize),
    lhs: &[f32],
    (lhs_rs, lhs_cs): (usize, usize),
    rhs: &[f32],
    (rhs_rs, rhs_cs): (usize, usize),
) -> candle_core::Result<()> {
    let last = |rows: usize, cols: usize, rs: usize, cs: usize| {
        if rows == 0 || cols == 0 {
            0
        } else {
            (rows - 1) * rs + (cols - 1) * cs + 1
        }
    };
    if lhs.len() < last(m, k, lhs_rs, lhs_cs) || rhs.len() < last(k, n, rhs_rs, rhs_cs) {
        candle_core::bail!("gemm: operand sizes do not match {m}x{k} @ {k}x{n}");
    }
    Ok(())
}

/// `dst = lhs @ rhs` (or `dst += lhs @ rhs` when `accumulate`) into the row-major `m x n`
/// buffer at `dst`, by the `gemm` crate that candle's CPU backend uses.
///
/// With `gemm::Parallelism::Rayon(t)` the output's columns are split into `t` blocks (widths a
/// multiple of 16 values, one 64-byte line, so threads share at most the lines at the blocks'
/// edges), each computed by a
/// one-thread `gemm` call on its own thread. For the step's products (200 rows) that is
/// 10-15% faster than `gemm`'s own split over threads on the 2-core Xeon the project was
/// measured on (forward products at 313-324 against 278-290 GFLOP/s, the batch of 200 and the
/// Fashion-MNIST layers). Every output value is the same either way: a column's values depend
/// only on the column, never on which others are computed beside it.
///
/// # Safety
/// `dst` must be valid for writes of `m * n` values (and initialised when `accumulate`), must
/// not overlap the operands, and the operands must have passed [`check_operands`].
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_raw(
    dst: *mut f32,
    accumulate: bool,
    (m, n, k): (usize, usize, usize),
    lhs: &[f32],
    lhs_strides: (usize, usize),
    rhs: &[f32],
    rhs_strides: (usize, usize),
    parallelism: gemm::Parallelism,
    around: Around<'_>,
) {
    let threads = match parallelism {
        gemm::Parallelism::Rayon(t) => t,
        _ => 1,
    };
    // Blocks of whole cache lines (16 f32), at least 4 lines wide.
    let width = n.div_ceil(threads.max(1)).next_multiple_of(16).max(64);
    if threads <= 1 || width >= n {
        // SAFETY: as guaranteed by the caller.
        unsafe {
            gemm_block(
                dst,
                n,
                accumulate,
                (m, n, k),
                lhs,
                lhs_strides,
                rhs,
                rhs_strides,
                around,
            )
        };
        return;
    }
    let dst = SharedMut(dst);
    let rhs_cs = rhs_strides.1;
    super::pool::run_tasks(n.div_ceil(width), &|block| {
        let c0 = block * width;
        let cols = width.min(n - c0);
        // SAFETY: the block's columns c0..c0 + cols of every row lie inside the caller's
        // `m x n` output, and blocks are disjoint; column c0 of `rhs` starts at c0 * rhs_cs,
        // inside the operand checked by the caller.
        unsafe {
            gemm_block(
                dst.get().add(c0),
                n,
                accumulate,
                (m, cols, k),
                lhs,
                lhs_strides,
                &rhs[c0 * rhs_cs..],
                rhs_strides,
                around.columns(c0, cols),
            )
        };
    });
}

/// What an output block of [`gemm_raw`] gets around its product.
#[derive(Clone, Copy)]
enum Around<'a> {
    /// The product alone.
    Nothing,
    /// The linear layer's: the bias (one value per output column) written into the block
    /// first, the product accumulated onto it, then the activation applied in place, all on
    /// the thread that computes the block, while it is in that core's cache.
    BiasActivation(&'a [f32], Activation),
}

impl<'a> Around<'a> {
    /// The same for the block of output columns `c0..c0 + cols`.
    fn columns(self, c0: usize, cols: usize) -> Around<'a> {
        match self {
            Around::Nothing => Around::Nothing,
            Around::BiasActivation(b, act) => Around::BiasActivation(&b[c0..c0 + cols], act),
        }
    }
}

/// One `gemm` call on the calling thread: the `m x n` block at `dst`, whose rows are `dst_rs`
/// apart, with what `around` adds.
///
/// # Safety
/// As [`gemm_raw`], for the block; with [`Around::BiasActivation`] the bias has `n` values
/// and `dst` need not be initialised (it is written before it is read).
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_block(
    dst: *mut f32,
    dst_rs: usize,
    accumulate: bool,
    (m, n, k): (usize, usize, usize),
    lhs: &[f32],
    lhs_strides: (usize, usize),
    rhs: &[f32],
    rhs_strides: (usize, usize),
    around: Around<'_>,
) {
    // The bias first, so that the product accumulates onto it.
    let accumulate = match around {
        Around::Nothing => accumulate,
        Around::BiasActivation(bias, _) => {
            for r in 0..m {
                // Through the raw pointer, since the row may not be initialised yet.
                // SAFETY: row r of the block is the `n` values at dst + r * dst_rs, inside the
                // caller's output and written by this block only; `bias` has `n` values.
                unsafe { std::ptr::copy_nonoverlapping(bias.as_ptr(), dst.add(r * dst_rs), n) };
            }
            true
        }
    };
    // SAFETY: as guaranteed by the caller; with a bias, every value of the block is now
    // initialised.
    unsafe {
        gemm_call(
            dst,
            dst_rs,
            accumulate,
            (m, n, k),
            lhs,
            lhs_strides,
            rhs,
            rhs_strides,
            gemm::Parallelism::None,
        )
    };
    if let Around::BiasActivation(_, act) = around {
        if act != Activation::Identity {
            for r in 0..m {
                // SAFETY: as above; the row is initialised by the product.
                let row = unsafe { std::slice::from_raw_parts_mut(dst.add(r * dst_rs), n) };
                activate_slice(act, row);
            }
        }
    }
}

/// The `gemm` call itself (on the calling thread with `gemm::Parallelism::None`).
///
/// # Safety
/// As [`gemm_block`] without `around`.
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_call(
    dst: *mut f32,
    dst_rs: usize,
    accumulate: bool,
    (m, n, k): (usize, usize, usize),
    lhs: &[f32],
    (lhs_rs, lhs_cs): (usize, usize),
    rhs: &[f32],
    (rhs_rs, rhs_cs): (usize, usize),
    parallelism: gemm::Parallelism,
) {
    // SAFETY: guaranteed by the caller; with `read_dst == false` gemm never reads `dst`.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            1,
            dst_rs as isize,
            accumulate,
            lhs.as_ptr(),
            lhs_cs as isize,
            lhs_rs as isize,
            rhs.as_ptr(),
            rhs_cs as isize,
            rhs_rs as isize,
            if accumulate { 1.0 } else { 0.0 },
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

/// `dst = lhs @ rhs` (or `dst += lhs @ rhs` when `accumulate`) for a row-major, initialised
/// `m x n` `dst` on the calling thread: for kernels that already run their own work in
/// parallel (the convolutions, image by image).
pub(super) fn gemm_one_thread(
    dst: &mut [f32],
    accumulate: bool,
    dims: (usize, usize, usize),
    lhs: &[f32],
    lhs_strides: (usize, usize),
    rhs: &[f32],
    rhs_strides: (usize, usize),
) -> candle_core::Result<()> {
    let none = gemm::Parallelism::None;
    gemm_checked(
        dst,
        accumulate,
        dims,
        lhs,
        lhs_strides,
        rhs,
        rhs_strides,
        none,
    )
}

/// [`gemm_raw`] into an initialised row-major `m x n` `dst`, after checking every operand's
/// size.
#[allow(clippy::too_many_arguments)]
fn gemm_checked(
    dst: &mut [f32],
    accumulate: bool,
    dims: (usize, usize, usize),
    lhs: &[f32],
    lhs_strides: (usize, usize),
    rhs: &[f32],
    rhs_strides: (usize, usize),
    parallelism: gemm::Parallelism,
) -> candle_core::Result<()> {
    check_operands(dims, lhs, lhs_strides, rhs, rhs_strides)?;
    if dst.len() != dims.0 * dims.1 {
        candle_core::bail!(
            "gemm: output has {} values, expected {}",
            dst.len(),
            dims.0 * dims.1
        );
    }
    // SAFETY: dst holds exactly m * n initialised values and is a distinct allocation.
    unsafe {
        gemm_raw(
            dst.as_mut_ptr(),
            accumulate,
            dims,
            lhs,
            lhs_strides,
            rhs,
            rhs_strides,
            parallelism,
            Around::Nothing,
        )
    };
    Ok(())
}

/// `dst = lhs @ rhs` for a row-major `m x n` `dst` that is written without being read.
fn gemm_into(
    dst: &mut [MaybeUninit<f32>],
    dims: (usize, usize, usize),
    lhs: &[f32],
    lhs_strides: (usize, usize),
    rhs: &[f32],
    rhs_strides: (usize, usize),
) -> candle_core::Result<()> {
    let _timer = timer(Phase::Products);
    check_operands(dims, lhs, lhs_strides, rhs, rhs_strides)?;
    if dst.len() != dims.0 * dims.1 {
        candle_core::bail!(
            "gemm: output has {} values, expected {}",
            dst.len(),
            dims.0 * dims.1
        );
    }
    // SAFETY: dst has room for exactly m * n values and is a distinct allocation; gemm writes
    // all of them without reading them (`read_dst == false`, including when k == 0).
    unsafe {
        gemm_raw(
            dst.as_mut_ptr().cast::<f32>(),
            false,
            dims,
            lhs,
            lhs_strides,
            rhs,
            rhs_strides,
            gemm_parallelism(2 * dims.0 * dims.1 * dims.2),
            Around::Nothing,
        )
    };
    Ok(())
}

/// A new row-major `m x n` buffer holding `lhs @ rhs`, with the operands' (row, column)
/// strides, the kernels' thread count and their checks; it is never zero-filled first, since
/// the product writes every value. Every product of the training step goes through the same
/// `gemm_raw` (the forward ones with their bias and activation); `xtask perf --products` times
/// the products alone through this function.
pub fn gemm_new(
    dims: (usize, usize, usize),
    lhs: &[f32],
    lhs_strides: (usize, usize),
    rhs: &[f32],
    rhs_strides: (usize, usize),
) -> candle_core::Result<Vec<f32>> {
    per_model(1, dims.0 * dims.1, |_, dst| {
        gemm_into(dst, dims, lhs, lhs_strides, rhs, rhs_strides)
    })
}

/// [`gemm_new`] with `gemm`'s own split of the product over threads instead of the kernels'
/// split by output columns: for `xtask perf --products`, which times both.
pub fn gemm_new_gemm_split(
    dims: (usize, usize, usize),
    lhs: &[f32],
    lhs_strides: (usize, usize),
    rhs: &[f32],
    rhs_strides: (usize, usize),
) -> candle_core::Result<Vec<f32>> {
    check_operands(dims, lhs, lhs_strides, rhs, rhs_strides)?;
    per_model(1, dims.0 * dims.1, |_, dst| {
        // SAFETY: dst has room for exactly m * n values and is a distinct allocation; gemm
        // writes all of them without reading them; the operands were checked.
        unsafe {
            gemm_call(
                dst.as_mut_ptr().cast::<f32>(),
                dims.1,
                false,
                dims,
                lhs,
                lhs_strides,
                rhs,
                rhs_strides,
                gemm_parallelism(2 * dims.0 * dims.1 * dims.2),
            )
        };
        Ok(())
    })
}

/// `act(x @ w + b)` with `w` held `(in, out)`: the bias is written into the output first and the
/// product accumulated onto it, then the activation applied in place; one allocation, no
/// separate bias pass. Per model for stacks (`x (models, rows, in)`, `w (models, in, out)`,
/// `b (models, out)`).
struct Linear(Activation);

cpu_op!(Linear, "linear", |op, x, w, b| {
    let (models, m, k) = stack_dims(x.shape())?;
    let (models_w, k2, n) = stack_dims(w.shape())?;
    let bias_ok = match *b.shape().dims() {
        [bn] => models == 1 && x.shape().rank() == 2 && bn == n,
        [bm, bn] => bm == models && x.shape().rank() == 3 && bn == n,
        _ => false,
    };
    if k != k2 || models != models_w || x.shape().rank() != w.shape().rank() || !bias_ok {
        candle_core::bail!(
            "linear: shapes {:?} @ {:?} + {:?} disagree",
            x.shape(),
            w.shape(),
            b.shape()
        );
    }
    // The bias writes and the activations run inside the product's blocks: timed as products.
    let _timer = timer(Phase::Products);
    let shape = stacked_shape(x.shape(), models, m, n);
    let x = x.values("linear input")?;
    let w = w.values("linear weight")?;
    let b = b.values("linear bias")?;
    let parallelism = gemm_parallelism(2 * m * n * k);
    let y = per_model(models, m * n, |i, y| {
        let (x, w) = (
            &x[i * m * k..(i + 1) * m * k],
            &w[i * k * n..(i + 1) * k * n],
        );
        check_operands((m, n, k), x, (k, 1), w, (n, 1))?;
        let bias = &b[i * n..(i + 1) * n];
        // SAFETY: y has room for exactly m * n values and is a distinct allocation; the bias
        // (n values) is written into every row before the product reads it, the operands were
        // checked.
        unsafe {
            gemm_raw(
                y.as_mut_ptr().cast::<f32>(),
                true,
                (m, n, k),
                x,
                (k, 1),
                w,
                (n, 1),
                parallelism,
                Around::BiasActivation(bias, op.0),
            )
        };
        Ok(())
    })?;
    Ok((CpuStorage::F32(y), shape))
});

/// `act(x @ w + b)` for `x (rows, in)`, `w (in, out)`, `b (out)`, or for stacks of them with a
/// leading model axis (`b (models, out)`), model by model.
pub fn linear(
    x: &Tensor,
    w: &Tensor,
    b: Option<&Tensor>,
    act: Activation,
) -> candle_core::Result<Tensor> {
    if let (Some(b), true) = (b, fused_on(x.device())) {
        if x.is_contiguous() && w.is_contiguous() && b.is_contiguous() {
            return x.apply_op3_no_bwd(w, b, &Linear(act));
        }
    }
    bias_activation(x.matmul(w)?, b, act)
}

/// Which operand of a product is read transposed.
#[derive(Clone, Copy)]
enum Transposed {
    /// `a^T @ b`.
    Lhs,
    /// `a @ b^T`.
    Rhs,
}

struct MatmulT(Transposed);

cpu_op!(MatmulT, "matmul-transposed", |op, lhs, rhs| {
    let (models, r1, c1) = stack_dims(lhs.shape())?;
    let (models2, r2, c2) = stack_dims(rhs.shape())?;
    let a = lhs.values("lhs")?;
    let b = rhs.values("rhs")?;
    let (m, n, k, a_strides, b_strides) = match op.0 {
        // a (k, m) read as m x k; b (k, n).
        Transposed::Lhs => (c1, c2, r1, (1, c1), (c2, 1)),
        // a (m, k); b (n, k) read as k x n.
        Transposed::Rhs => (r1, r2, c1, (c1, 1), (1, c2)),
    };
    let ok = models == models2
        && lhs.shape().rank() == rhs.shape().rank()
        && match op.0 {
            Transposed::Lhs => r1 == r2,
            Transposed::Rhs => c1 == c2,
        };
    check_shapes(ok, "matmul-transposed", lhs.shape(), rhs.shape())?;
    let (a_len, b_len) = (r1 * c1, r2 * c2);
    let dst = per_model(models, m * n, |i, dst| {
        gemm_into(
            dst,
            (m, n, k),
            &a[i * a_len..(i + 1) * a_len],
            a_strides,
            &b[i * b_len..(i + 1) * b_len],
            b_strides,
        )
    })?;
    Ok((
        CpuStorage::F32(dst),
        stacked_shape(lhs.shape(), models, m, n),
    ))
});

/// `a^T @ b` (the transpose of the last two axes, model by model for stacks).
pub fn matmul_tn(a: &Tensor, b: &Tensor) -> candle_core::Result<Tensor> {
    if fused_on(a.device()) && a.is_contiguous() && b.is_contiguous() {
        return a.apply_op2_no_bwd(b, &MatmulT(Transposed::Lhs));
    }
    a.t()?.matmul(b)
}

/// `a @ b^T` (the transpose of the last two axes, model by model for stacks).
pub fn matmul_nt(a: &Tensor, b: &Tensor) -> candle_core::Result<Tensor> {
    if fused_on(a.device()) && a.is_contiguous() && b.is_contiguous() {
        return a.apply_op2_no_bwd(b, &MatmulT(Transposed::Rhs));
    }
    a.matmul(&b.t()?)
}
