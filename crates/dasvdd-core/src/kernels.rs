//! Fused kernels of the training step, as candle custom ops.
//!
//! The matrix products call the `gemm` crate that candle's CPU backend uses, directly, so that
//! the bias is accumulated into the output, the thread count is read once and no output is
//! zero-filled first; the other kernels replace the chain of small tensor operations around the
//! products (bias broadcast, activation, its derivative, the loss gradients, the optimiser
//! update), each of which would otherwise allocate and sweep memory once. On the CPU each kernel is one pass over contiguous memory, in place
//! where it can be, split over threads in fixed chunks so results do not depend on scheduling.
//! On other devices the same functions fall back to plain candle operations.

use std::sync::Mutex;

use candle_core::{
    CpuStorage, CustomOp1, CustomOp2, InplaceOp2, InplaceOp3, Layout, Shape, Tensor, D,
};
use rayon::prelude::*;

use crate::config::{Activation, LEAKY_SLOPE};

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
const ROW_CHUNK: usize = 16;
/// Elements per parallel task in the optimiser kernels.
const ELEM_CHUNK: usize = 1 << 15;

fn contiguous<'a>(s: &'a CpuStorage, l: &Layout, what: &str) -> candle_core::Result<&'a [f32]> {
    let data = s.as_slice::<f32>()?;
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&data[a..b]),
        None => candle_core::bail!("{what}: expected a contiguous f32 tensor"),
    }
}

fn contiguous_mut<'a>(
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

#[inline(always)]
fn activate(act: Activation, v: f32) -> f32 {
    match act {
        Activation::LeakyRelu => {
            if v > 0.0 {
                v
            } else {
                v * LEAKY_SLOPE
            }
        }
        Activation::Sigmoid => 1.0 / (1.0 + (-v).exp()),
        Activation::Identity => v,
    }
}

/// Derivative of the activation, expressed through its output `y` (valid for all three
/// activations: leaky ReLU's output has the sign of its input, sigmoid' = y (1 - y)).
#[inline(always)]
fn activation_grad(act: Activation, y: f32) -> f32 {
    match act {
        Activation::LeakyRelu => {
            if y > 0.0 {
                1.0
            } else {
                LEAKY_SLOPE
            }
        }
        Activation::Sigmoid => y * (1.0 - y),
        Activation::Identity => 1.0,
    }
}

/// `y <- act(y + b)` row-wise, in place: the bias and activation half of a linear layer.
struct BiasActivation(Activation);

impl InplaceOp2 for BiasActivation {
    fn name(&self) -> &'static str {
        "bias-activation"
    }

    fn cpu_fwd(
        &self,
        s1: &mut CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<()> {
        let b = contiguous(s2, l2, "bias")?;
        let y = contiguous_mut(s1, l1, "linear output")?;
        let cols = b.len();
        let act = self.0;
        y.par_chunks_mut(cols * ROW_CHUNK).for_each(|rows| {
            for row in rows.chunks_exact_mut(cols) {
                for (v, bj) in row.iter_mut().zip(b) {
                    *v = activate(act, *v + bj);
                }
            }
        });
        Ok(())
    }
}

/// `y <- act(y)` in place (layers without bias).
struct ActivationOnly(Activation);

impl candle_core::InplaceOp1 for ActivationOnly {
    fn name(&self) -> &'static str {
        "activation"
    }

    fn cpu_fwd(&self, s: &mut CpuStorage, l: &Layout) -> candle_core::Result<()> {
        let y = contiguous_mut(s, l, "linear output")?;
        let act = self.0;
        y.par_chunks_mut(ELEM_CHUNK)
            .for_each(|c| c.iter_mut().for_each(|v| *v = activate(act, *v)));
        Ok(())
    }
}

fn candle_activation(x: &Tensor, act: Activation) -> candle_core::Result<Tensor> {
    match act {
        Activation::LeakyRelu => candle_nn::ops::leaky_relu(x, LEAKY_SLOPE as f64),
        Activation::Sigmoid => candle_nn::ops::sigmoid(x),
        Activation::Identity => Ok(x.clone()),
    }
}

/// Applies `act(y + b)` to the output `y` of a matrix product, in place on the CPU.
/// `y` must be a fresh tensor that nothing else references.
pub fn bias_activation(
    y: Tensor,
    b: Option<&Tensor>,
    act: Activation,
) -> candle_core::Result<Tensor> {
    if fused_on(y.device()) && y.is_contiguous() {
        match b {
            Some(b) => y.inplace_op2(b, &BiasActivation(act))?,
            None if act != Activation::Identity => y.inplace_op1(&ActivationOnly(act))?,
            None => {}
        }
        return Ok(y);
    }
    let y = match b {
        Some(b) => y.broadcast_add(b)?,
        None => y,
    };
    candle_activation(&y, act)
}

/// `g <- g * act'(y)` in place: the gradient of a layer's pre-activation from the gradient of
/// its output `y`.
struct ActivationBackward(Activation);

impl InplaceOp2 for ActivationBackward {
    fn name(&self) -> &'static str {
        "activation-backward"
    }

    fn cpu_fwd(
        &self,
        s1: &mut CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<()> {
        let y = contiguous(s2, l2, "activation output")?;
        let g = contiguous_mut(s1, l1, "gradient")?;
        if g.len() != y.len() {
            candle_core::bail!("activation-backward: gradient and output sizes differ");
        }
        let act = self.0;
        g.par_chunks_mut(ELEM_CHUNK)
            .zip(y.par_chunks(ELEM_CHUNK))
            .for_each(|(g, y)| {
                for (gi, yi) in g.iter_mut().zip(y) {
                    *gi *= activation_grad(act, *yi);
                }
            });
        Ok(())
    }
}

/// Turns the gradient `g` of a layer's output `y` into the gradient of its pre-activation.
pub fn activation_backward(g: Tensor, y: &Tensor, act: Activation) -> candle_core::Result<Tensor> {
    if act == Activation::Identity {
        return Ok(g);
    }
    if fused_on(g.device()) && g.is_contiguous() && y.is_contiguous() {
        g.inplace_op2(y, &ActivationBackward(act))?;
        return Ok(g);
    }
    let d = match act {
        Activation::LeakyRelu => {
            let pos = y.gt(0.0)?.to_dtype(y.dtype())?;
            ((pos.clone() * (1.0 - LEAKY_SLOPE as f64))? + LEAKY_SLOPE as f64)?
        }
        Activation::Sigmoid => (y * (y.ones_like()? - y)?)?,
        Activation::Identity => unreachable!("handled above"),
    };
    g * d
}

/// Column sums of a `rows x cols` matrix, summed row after row in f32 (the bias gradient).
struct ColumnSum;

impl CustomOp1 for ColumnSum {
    fn name(&self) -> &'static str {
        "column-sum"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let (_rows, cols) = l.shape().dims2()?;
        let g = contiguous(s, l, "gradient")?;
        let mut acc = vec![0f32; cols];
        for row in g.chunks_exact(cols.max(1)) {
            for (a, v) in acc.iter_mut().zip(row) {
                *a += v;
            }
        }
        Ok((CpuStorage::F32(acc), Shape::from(cols)))
    }
}

/// Sum over the rows of a matrix.
pub fn column_sum(g: &Tensor) -> candle_core::Result<Tensor> {
    if fused_on(g.device()) && g.is_contiguous() {
        return g.apply_op1_no_bwd(&ColumnSum);
    }
    g.sum(0)
}

/// Gradient and value of the mean squared reconstruction error, fused with the output
/// activation's derivative: returns `2 (y - x) / (rows * cols) * act'(y)` and stores
/// `sum (y - x)^2` in `sum_sq`.
struct ReconstructionGrad {
    act: Activation,
    sum_sq: Mutex<f64>,
}

impl CustomOp2 for ReconstructionGrad {
    fn name(&self) -> &'static str {
        "reconstruction-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let y = contiguous(s1, l1, "reconstruction")?;
        let x = contiguous(s2, l2, "input")?;
        if x.len() != y.len() {
            candle_core::bail!("reconstruction-grad: input and reconstruction sizes differ");
        }
        let scale = 2.0 / y.len().max(1) as f32;
        let act = self.act;
        let mut g = vec![0f32; y.len()];
        let partial: Vec<f64> = g
            .par_chunks_mut(ELEM_CHUNK)
            .zip(y.par_chunks(ELEM_CHUNK).zip(x.par_chunks(ELEM_CHUNK)))
            .map(|(g, (y, x))| {
                let mut s = 0f64;
                for ((gi, yi), xi) in g.iter_mut().zip(y).zip(x) {
                    let d = yi - xi;
                    s += (d * d) as f64;
                    *gi = scale * d * activation_grad(act, *yi);
                }
                s
            })
            .collect();
        // Summed in chunk order, so the loss does not depend on thread scheduling.
        *self.sum_sq.lock().expect("loss lock poisoned") = partial.iter().sum();
        Ok((CpuStorage::F32(g), l1.shape().clone()))
    }
}

/// Returns `(d loss / d pre-activation of the output layer, mean squared error)` for
/// reconstruction `y` of input `x` with output activation `act`.
pub fn reconstruction_grad(
    y: &Tensor,
    x: &Tensor,
    act: Activation,
) -> candle_core::Result<(Tensor, f64)> {
    if fused_on(y.device()) && y.is_contiguous() && x.is_contiguous() {
        let op = ReconstructionGrad {
            act,
            sum_sq: Mutex::new(0.0),
        };
        let g = y.apply_op2_no_bwd(x, &op)?;
        let sum_sq = *op.sum_sq.lock().expect("loss lock poisoned");
        return Ok((g, sum_sq / y.elem_count().max(1) as f64));
    }
    let diff = (y - x)?;
    let mse = diff
        .sqr()?
        .mean_all()?
        .to_dtype(candle_core::DType::F64)?
        .to_scalar::<f64>()?;
    let g = (diff * (2.0 / y.elem_count().max(1) as f64))?;
    Ok((activation_backward(g, y, act)?, mse))
}

/// `g <- g + 2 gamma (z - c) / rows`: adds the SVDD term's gradient to the gradient of the codes
/// `z`, and stores the batch mean of `||z - c||^2` in `mean_sq`.
struct SvddGrad {
    gamma: f32,
    /// Only the first row enters the term (the 2021 reference code's variant).
    first_only: bool,
    mean_sq: Mutex<f64>,
}

impl InplaceOp3 for SvddGrad {
    fn name(&self) -> &'static str {
        "svdd-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &mut CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> candle_core::Result<()> {
        let z = contiguous(s2, l2, "codes")?;
        let c = contiguous(s3, l3, "centre")?;
        let g = contiguous_mut(s1, l1, "code gradient")?;
        let k = c.len();
        if k == 0 || z.len() % k != 0 || g.len() != z.len() {
            candle_core::bail!("svdd-grad: codes, centre and gradient shapes disagree");
        }
        let rows = if self.first_only {
            1.min(z.len() / k)
        } else {
            z.len() / k
        };
        let scale = 2.0 * self.gamma / rows.max(1) as f32;
        let mut total = 0f64;
        for (gr, zr) in g.chunks_exact_mut(k).zip(z.chunks_exact(k)).take(rows) {
            let mut s = 0f32;
            for ((gi, zi), ci) in gr.iter_mut().zip(zr).zip(c) {
                let d = zi - ci;
                s += d * d;
                *gi += scale * d;
            }
            total += s as f64;
        }
        *self.mean_sq.lock().expect("loss lock poisoned") = total / rows.max(1) as f64;
        Ok(())
    }
}

/// Adds the gradient of `gamma * mean_i ||z_i - c||^2` to `g` (the gradient of the codes) and
/// returns the new gradient with the batch mean of `||z - c||^2`; with `first_only`, the term is
/// `gamma * ||z_0 - c||^2` of the first row alone (the 2021 reference code).
pub fn svdd_grad(
    g: Tensor,
    z: &Tensor,
    c: &Tensor,
    gamma: f64,
    first_only: bool,
) -> candle_core::Result<(Tensor, f64)> {
    if fused_on(g.device()) && g.is_contiguous() && z.is_contiguous() && c.is_contiguous() {
        let op = SvddGrad {
            gamma: gamma as f32,
            first_only,
            mean_sq: Mutex::new(0.0),
        };
        g.inplace_op3(z, c, &op)?;
        let m = *op.mean_sq.lock().expect("loss lock poisoned");
        return Ok((g, m));
    }
    let rows = z.dim(0)?;
    let used = if first_only { rows.min(1) } else { rows };
    let diff = z.narrow(0, 0, used)?.broadcast_sub(c)?;
    let m = diff
        .sqr()?
        .sum(D::Minus1)?
        .mean_all()?
        .to_dtype(candle_core::DType::F64)?
        .to_scalar::<f64>()?;
    let mut step = (diff * (2.0 * gamma / used.max(1) as f64))?;
    if used < rows {
        step = Tensor::cat(&[step, z.narrow(0, used, rows - used)?.zeros_like()?], 0)?;
    }
    Ok(((g + step)?, m))
}

/// One step of PyTorch's Adam (with L2 weight decay added to the gradient, as
/// `torch.optim.Adam(weight_decay=...)`), updating the parameter in place from its gradient and,
/// when one is kept, rewriting its transposed copy in the same pass.
pub struct AdamKernel<'a> {
    pub lr: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    pub weight_decay: f32,
    /// 1 - beta1^t and 1 - beta2^t for the current step t.
    pub bias_correction1: f32,
    pub bias_correction2: f32,
    /// First and second moment estimates of this parameter.
    pub moments: &'a Mutex<(Vec<f32>, Vec<f32>)>,
    pub transposed: Option<&'a crate::adam::TransposedCopy>,
}

/// A raw pointer that parallel chunks use to write disjoint elements of one buffer.
#[derive(Clone, Copy)]
struct SharedMut(*mut f32);
// SAFETY: only used for writes to pairwise distinct indices, while the owning buffer is locked.
unsafe impl Send for SharedMut {}
// SAFETY: as above.
unsafe impl Sync for SharedMut {}

impl SharedMut {
    /// The pointer (a method, so that closures capture the whole `Sync` wrapper).
    fn get(self) -> *mut f32 {
        self.0
    }
}

impl InplaceOp2 for AdamKernel<'_> {
    fn name(&self) -> &'static str {
        "adam-step"
    }

    fn cpu_fwd(
        &self,
        s1: &mut CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<()> {
        let g = contiguous(s2, l2, "gradient")?;
        let p = contiguous_mut(s1, l1, "parameter")?;
        let mut guard = self.moments.lock().expect("adam state lock poisoned");
        let (m, v) = &mut *guard;
        if g.len() != p.len() || m.len() != p.len() || v.len() != p.len() {
            candle_core::bail!("adam-step: parameter, gradient and state sizes differ");
        }
        let mut t_guard = match self.transposed {
            Some(t) => {
                let data = t.data.lock().expect("transposed copy lock poisoned");
                if t.rows * t.cols != p.len() || data.len() != p.len() || t.cols == 0 {
                    candle_core::bail!("adam-step: transposed copy does not match the parameter");
                }
                Some((data, t.rows, t.cols))
            }
            None => None,
        };
        // Chunks hold whole rows when a transposed copy is kept, so that each chunk writes a
        // block of whole columns of the copy.
        let chunk = match &t_guard {
            Some((_, _, cols)) => (ELEM_CHUNK / cols).max(1) * cols,
            None => ELEM_CHUNK,
        };
        let t_out = t_guard
            .as_mut()
            .map(|(d, rows, cols)| (SharedMut(d.as_mut_ptr()), *rows, *cols));
        let (b1, b2, wd, eps) = (self.beta1, self.beta2, self.weight_decay, self.eps);
        let step = self.lr / self.bias_correction1;
        let inv_sqrt_bc2 = 1.0 / self.bias_correction2.sqrt();
        p.par_chunks_mut(chunk)
            .zip(g.par_chunks(chunk))
            .zip(m.par_chunks_mut(chunk).zip(v.par_chunks_mut(chunk)))
            .enumerate()
            .for_each(|(ci, ((p, g), (m, v)))| {
                for i in 0..p.len() {
                    let gi = g[i] + wd * p[i];
                    let mi = b1 * m[i] + (1.0 - b1) * gi;
                    let vi = b2 * v[i] + (1.0 - b2) * gi * gi;
                    m[i] = mi;
                    v[i] = vi;
                    p[i] -= step * mi / (vi.sqrt() * inv_sqrt_bc2 + eps);
                }
                if let Some((out, rows, cols)) = t_out {
                    let r0 = ci * chunk / cols;
                    let nr = p.len() / cols;
                    let out = out.get();
                    for c in 0..cols {
                        for r in 0..nr {
                            // SAFETY: (r0 + r, c) is a distinct element of this chunk's rows, so
                            // index c * rows + r0 + r < rows * cols is written by this chunk only;
                            // the copy is locked for the whole update.
                            unsafe { *out.add(c * rows + r0 + r) = p[r * cols + c] };
                        }
                    }
                }
            });
        Ok(())
    }
}

/// `a @ w^T` for `w (rows, cols)`, reading the row-major transposed copy kept by Adam instead
/// of a column-major view of `w`.
struct MatmulTransposedCopy<'a>(&'a crate::adam::TransposedCopy);

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
    transposed: Option<&crate::adam::TransposedCopy>,
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

/// A new row-major `m x n` buffer holding `lhs @ rhs`; it is never zero-filled first, since
/// the product writes every value.
fn gemm_new(
    dims: (usize, usize, usize),
    lhs: &[f32],
    lhs_strides: (usize, usize),
    rhs: &[f32],
    rhs_strides: (usize, usize),
) -> candle_core::Result<Vec<f32>> {
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
                .for_each(|c| c.iter_mut().for_each(|v| *v = activate(act, *v)));
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
