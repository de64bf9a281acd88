//! Gradients of the reconstruction and SVDD losses, fused with their values.

use std::sync::Mutex;

use candle_core::{CpuStorage, Tensor, D};
use rayon::prelude::*;

use super::activations::{activation_backward, activation_grad};
use super::{fused_on, ELEM_CHUNK};
use crate::config::Activation;
use crate::step_profile::{timer, Phase};

/// Gradient and value of the mean squared reconstruction error, fused with the output
/// activation's derivative: returns `2 (y - x) / (rows * cols) * act'(y)` and stores
/// `sum (y - x)^2` in `sum_sq`.
struct ReconstructionGrad {
    act: Activation,
    sum_sq: Mutex<f64>,
}

cpu_op!(
    ReconstructionGrad,
    "reconstruction-grad",
    |op, recon, input| {
        let y = recon.values("reconstruction")?;
        let x = input.values("input")?;
        if x.len() != y.len() {
            candle_core::bail!("reconstruction-grad: input and reconstruction sizes differ");
        }
        let scale = 2.0 / y.len().max(1) as f32;
        let act = op.act;
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
        *op.sum_sq.lock().expect("loss lock poisoned") = partial.iter().sum();
        Ok((CpuStorage::F32(g), recon.shape().clone()))
    }
);

/// Returns `(d loss / d pre-activation of the output layer, mean squared error)` for
/// reconstruction `y` of input `x` with output activation `act`.
pub fn reconstruction_grad(
    y: &Tensor,
    x: &Tensor,
    act: Activation,
) -> candle_core::Result<(Tensor, f64)> {
    let _timer = timer(Phase::LossGradients);
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

cpu_op!(SvddGrad, "svdd-grad", |op, mut g, z, c| {
    let z = z.values("codes")?;
    let c = c.values("centre")?;
    let g = g.values_mut("code gradient")?;
    let k = c.len();
    if k == 0 || z.len() % k != 0 || g.len() != z.len() {
        candle_core::bail!("svdd-grad: codes, centre and gradient shapes disagree");
    }
    let rows = if op.first_only {
        1.min(z.len() / k)
    } else {
        z.len() / k
    };
    let scale = 2.0 * op.gamma / rows.max(1) as f32;
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
    *op.mean_sq.lock().expect("loss lock poisoned") = total / rows.max(1) as f64;
    Ok(())
});

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
    let _timer = timer(Phase::LossGradients);
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
