//! Matrix products through the `gemm` crate: the linear layer with its bias and activation, and
//! the transposed products of the backward pass.

use candle_core::{CpuStorage, Shape, Tensor};
use rayon::prelude::*;

use super::activations::{activate_slice, bias_activation};
use super::optim::TransposedCopy;
use super::{fused_on, ELEM_CHUNK};
use crate::config::Activation;
use crate::step_profile::{timer, Phase};

/// `a @ w^T` for `w (rows, cols)`, reading the row-major transposed copy kept by Adam instead
/// of a column-major view of `w`.
struct MatmulTransposedCopy<'a>(&'a TransposedCopy);

cpu_op!(
    MatmulTransposedCopy<'_>,
    "matmul-transposed-copy",
    |op, a, w| {
        let (m, k) = a.shape().dims2()?;
        let (n, k2) = w.shape().dims2()?;
        let t = op.0;
        let ok = k == k2 && t.rows == n && t.cols == k;
        check_shapes(ok, "matmul-transposed-copy", a.shape(), w.shape())?;
        let a = a.values("lhs")?;
        let data = t.data.lock().expect("transposed copy lock poisoned");
        let dst = gemm_new((m, n, k), a, (k, 1), &data, (n, 1))?;
        Ok((CpuStorage::F32(dst), Shape::from((m, n))))
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

/// Threads for the matrix products, counted once (candle counts them before every product).
fn gemm_parallelism(flops: usize) -> gemm::Parallelism {
    static THREADS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    let n = *THREADS.get_or_init(candle_core::utils::get_num_threads);
    // Below about a MFLOP the synchronisation costs more than a second thread saves.
    if n > 1 && flops > (1 << 20) {
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
/// # Safety
/// `dst` must be valid for writes of `m * n` values (and initialised when `accumulate`), must
/// not overlap the operands, and the operands must have passed [`check_operands`].
unsafe fn gemm_raw(
    dst: *mut f32,
    accumulate: bool,
    (m, n, k): (usize, usize, usize),
    lhs: &[f32],
    (lhs_rs, lhs_cs): (usize, usize),
    rhs: &[f32],
    (rhs_rs, rhs_cs): (usize, usize),
) {
    // SAFETY: guaranteed by the caller; with `read_dst == false` gemm never reads `dst`.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            1,
            n as isize,
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
            gemm_parallelism(2 * m * n * k),
        );
    }
}

/// `dst += lhs @ rhs` for a row-major `m x n` `dst`.
fn gemm_accumulate(
    dst: &mut [f32],
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
    // SAFETY: dst holds exactly m * n initialised values and is a distinct allocation.
    unsafe {
        gemm_raw(
            dst.as_mut_ptr(),
            true,
            dims,
            lhs,
            lhs_strides,
            rhs,
            rhs_strides,
        )
    };
    Ok(())
}

/// A new row-major `m x n` buffer holding `lhs @ rhs`, with the operands' (row, column)
/// strides, the kernels' thread count and their checks; it is never zero-filled first, since
/// the product writes every value. Every product of the training step goes through it (or
/// `gemm_accumulate`); `xtask perf --products` times it.
pub fn gemm_new(
    dims: (usize, usize, usize),
    lhs: &[f32],
    lhs_strides: (usize, usize),
    rhs: &[f32],
    rhs_strides: (usize, usize),
) -> candle_core::Result<Vec<f32>> {
    let _timer = timer(Phase::Products);
    check_operands(dims, lhs, lhs_strides, rhs, rhs_strides)?;
    let len = dims.0 * dims.1;
    let mut dst: Vec<f32> = Vec::with_capacity(len);
    // SAFETY: the capacity is `len`; gemm writes all `len` values without reading them
    // (`read_dst == false`, including when k == 0), so they are initialised before `set_len`.
    unsafe {
        gemm_raw(
            dst.as_mut_ptr(),
            false,
            dims,
            lhs,
            lhs_strides,
            rhs,
            rhs_strides,
        );
        dst.set_len(len);
    }
    Ok(dst)
}

/// `act(x @ w + b)` with `w` held `(in, out)`: the bias is written into the output first and the
/// product accumulated onto it, then the activation applied in place; one allocation, no
/// separate bias pass.
struct Linear(Activation);

cpu_op!(Linear, "linear", |op, x, w, b| {
    let (m, k) = x.shape().dims2()?;
    let (k2, n) = w.shape().dims2()?;
    if k != k2 || b.shape().dims1()? != n {
        candle_core::bail!(
            "linear: shapes {:?} @ {:?} + {:?} disagree",
            x.shape(),
            w.shape(),
            b.shape()
        );
    }
    // The bias write and the activation; the product inside counts as products.
    let _timer = timer(Phase::Activations);
    let x = x.values("linear input")?;
    let w = w.values("linear weight")?;
    let b = b.values("linear bias")?;
    let mut y = Vec::with_capacity(m * n);
    for _ in 0..m {
        y.extend_from_slice(b);
    }
    gemm_accumulate(&mut y, (m, n, k), x, (k, 1), w, (n, 1))?;
    let act = op.0;
    if act != Activation::Identity {
        y.par_chunks_mut(ELEM_CHUNK)
            .for_each(|c| activate_slice(act, c));
    }
    Ok((CpuStorage::F32(y), Shape::from((m, n))))
});

/// `act(x @ w + b)` for `x (rows, in)`, `w (in, out)`, `b (out)`.
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
    let (r1, c1) = lhs.shape().dims2()?;
    let (r2, c2) = rhs.shape().dims2()?;
    let a = lhs.values("lhs")?;
    let b = rhs.values("rhs")?;
    let (m, n, k, a_strides, b_strides) = match op.0 {
        // a (k, m) read as m x k; b (k, n).
        Transposed::Lhs => (c1, c2, r1, (1, c1), (c2, 1)),
        // a (m, k); b (n, k) read as k x n.
        Transposed::Rhs => (r1, r2, c1, (c1, 1), (1, c2)),
    };
    let ok = match op.0 {
        Transposed::Lhs => r1 == r2,
        Transposed::Rhs => c1 == c2,
    };
    check_shapes(ok, "matmul-transposed", lhs.shape(), rhs.shape())?;
    let dst = gemm_new((m, n, k), a, a_strides, b, b_strides)?;
    Ok((CpuStorage::F32(dst), Shape::from((m, n))))
});

/// `a^T @ b`.
pub fn matmul_tn(a: &Tensor, b: &Tensor) -> candle_core::Result<Tensor> {
    if fused_on(a.device()) && a.is_contiguous() && b.is_contiguous() {
        return a.apply_op2_no_bwd(b, &MatmulT(Transposed::Lhs));
    }
    a.t()?.matmul(b)
}

/// `a @ b^T`.
pub fn matmul_nt(a: &Tensor, b: &Tensor) -> candle_core::Result<Tensor> {
    if fused_on(a.device()) && a.is_contiguous() && b.is_contiguous() {
        return a.apply_op2_no_bwd(b, &MatmulT(Transposed::Rhs));
    }
    a.matmul(&b.t()?)
}
