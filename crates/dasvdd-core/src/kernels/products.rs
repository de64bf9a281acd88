//! Matrix products through the `gemm` crate: the linear layer with its bias and activation, and
//! the transposed products of the backward pass.

use candle_core::{CpuStorage, CustomOp2, Layout, Shape, Tensor};
use rayon::prelude::*;

use super::activations::{activate_slice, bias_activation};
use super::optim::TransposedCopy;
use super::{contiguous, fused_on, ELEM_CHUNK};
use crate::config::Activation;
use crate::step_profile::{timer, Phase};

/// `a @ w^T` for `w (rows, cols)`, reading the row-major transposed copy kept by Adam instead
/// of a column-major view of `w`.
struct MatmulTransposedCopy<'a>(&'a TransposedCopy);

impl CustomOp2 for MatmulTransposedCopy<'_> {
    fn name(&self) -> &'static str {
        "matmul-transposed-copy"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        _s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (m, k) = l1.shape().dims2()?;
        let (n, k2) = l2.shape().dims2()?;
        let t = self.0;
        if k != k2 || t.rows != n || t.cols != k {
            candle_core::bail!(
                "matmul-transposed-copy: shapes {:?} and {:?} disagree",
                l1.shape(),
                l2.shape()
            );
        }
        let a = contiguous(s1, l1, "lhs")?;
        let data = t.data.lock().expect("transposed copy lock poisoned");
        let dst = gemm_new((m, n, k), a, (k, 1), &data, (n, 1))?;
        Ok((CpuStorage::F32(dst), Shape::from((m, n))))
    }
}

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

impl candle_core::CustomOp3 for Linear {
    fn name(&self) -> &'static str {
        "linear"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (m, k) = l1.shape().dims2()?;
        let (k2, n) = l2.shape().dims2()?;
        if k != k2 || l3.shape().dims1()? != n {
            candle_core::bail!(
                "linear: shapes {:?} @ {:?} + {:?} disagree",
                l1.shape(),
                l2.shape(),
                l3.shape()
            );
        }
        // The bias write and the activation; the product inside counts as products.
        let _timer = timer(Phase::Activations);
        let x = contiguous(s1, l1, "linear input")?;
        let w = contiguous(s2, l2, "linear weight")?;
        let b = contiguous(s3, l3, "linear bias")?;
        let mut y = Vec::with_capacity(m * n);
        for _ in 0..m {
            y.extend_from_slice(b);
        }
        gemm_accumulate(&mut y, (m, n, k), x, (k, 1), w, (n, 1))?;
        let act = self.0;
        if act != Activation::Identity {
            y.par_chunks_mut(ELEM_CHUNK)
                .for_each(|c| activate_slice(act, c));
        }
        Ok((CpuStorage::F32(y), Shape::from((m, n))))
    }
}

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

impl CustomOp2 for MatmulT {
    fn name(&self) -> &'static str {
        "matmul-transposed"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (r1, c1) = l1.shape().dims2()?;
        let (r2, c2) = l2.shape().dims2()?;
        let a = contiguous(s1, l1, "lhs")?;
        let b = contiguous(s2, l2, "rhs")?;
        let (m, n, k, a_strides, b_strides) = match self.0 {
            // a (k, m) read as m x k; b (k, n).
            Transposed::Lhs => (c1, c2, r1, (1, c1), (c2, 1)),
            // a (m, k); b (n, k) read as k x n.
            Transposed::Rhs => (r1, r2, c1, (c1, 1), (1, c2)),
        };
        let ok = match self.0 {
            Transposed::Lhs => r1 == r2,
            Transposed::Rhs => c1 == c2,
        };
        if !ok {
            candle_core::bail!(
                "matmul-transposed: shapes {:?} and {:?} disagree",
                l1.shape(),
                l2.shape()
            );
        }
        let dst = gemm_new((m, n, k), a, a_strides, b, b_strides)?;
        Ok((CpuStorage::F32(dst), Shape::from((m, n))))
    }
}

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
