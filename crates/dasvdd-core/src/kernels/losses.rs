//! Gradients of the reconstruction and SVDD losses, fused with their values.

use std::sync::Mutex;

use candle_core::{CpuStorage, Tensor, D};

use super::activations::{activation_backward, activation_grad};
use super::pool::map_chunks_mut;
use super::{fused_on, parallel, stack_dims, ELEM_CHUNK};
use crate::config::Activation;
use crate::step_profile::{timer, Phase};

/// Running sums per chunk of [`ReconstructionGrad`] (and per row of [`SvddGrad`]): eight
/// additions in flight instead of one chain.
const LANES: usize = 8;

/// Gradient and value of the mean squared reconstruction error, fused with the output
/// activation's derivative: returns `2 (y - x) / (rows * cols) * act'(y)` and stores
/// `sum (y - x)^2` in `sum_sq`, per model for a stack.
struct ReconstructionGrad {
    act: Activation,
    sum_sq: Mutex<Vec<f64>>,
}

cpu_op!(
    ReconstructionGrad,
    "reconstruction-grad",
    |op, recon, input| {
        let (models, _, _) = stack_dims(recon.shape())?;
        let y = recon.values("reconstruction")?;
        let x = input.values("input")?;
        if x.len() != y.len() || recon.shape() != input.shape() {
            candle_core::bail!("reconstruction-grad: input and reconstruction sizes differ");
        }
        let len = (y.len() / models.max(1)).max(1);
        let scale = 2.0 / len as f32;
        let act = op.act;
        let mut g = vec![0f32; y.len()];
        // One model's gradient and sum of squares, summed in chunk order so that the loss does
        // not depend on thread scheduling (nor on the other models of a stack).
        let chunk = |(g, (y, x)): (&mut [f32], (&[f32], &[f32]))| -> f64 {
            reconstruction_chunk(g, y, x, scale, act)
        };
        let model = |(g, (y, x)): (&mut [f32], (&[f32], &[f32]))| -> f64 {
            let partial: Vec<f64> = if parallel(g.len(), ELEM_CHUNK) {
                map_chunks_mut(g, ELEM_CHUNK, &|i, g| {
                    let at = i * ELEM_CHUNK..i * ELEM_CHUNK + g.len();
                    chunk((g, (&y[at.clone()], &x[at])))
                })
            } else {
                g.chunks_mut(ELEM_CHUNK)
                    .zip(y.chunks(ELEM_CHUNK).zip(x.chunks(ELEM_CHUNK)))
                    .map(chunk)
                    .collect()
            };
            partial.iter().sum()
        };
        let sums: Vec<f64> = if models > 1 && parallel(y.len(), ELEM_CHUNK) {
            map_chunks_mut(&mut g, len, &|i, g| {
                let at = i * len..i * len + g.len();
                model((g, (&y[at.clone()], &x[at])))
            })
        } else {
            g.chunks_mut(len)
                .zip(y.chunks(len).zip(x.chunks(len)))
                .map(model)
                .collect()
        };
        let mut sums = sums;
        sums.resize(models, 0.0);
        *op.sum_sq.lock().expect("loss lock poisoned") = sums;
        Ok((CpuStorage::F32(g), recon.shape().clone()))
    }
);

widest_simd! {
    /// One chunk of [`ReconstructionGrad`]: writes `g = scale (y - x) act'(y)` and returns
    /// `sum (y - x)^2` ([`reconstruction_chunk_body`] for the widest vector unit the CPU has;
    /// bit-identical whichever runs). Value i goes to running sum i mod [`LANES`] and the sums
    /// are added in lane order at the end (one f64 sum would be a chain of dependent
    /// additions).
    fn reconstruction_chunk(g: &mut [f32], y: &[f32], x: &[f32], scale: f32, act: Activation) -> f64 = reconstruction_chunk_body;
}

/// The loop of [`reconstruction_chunk`], one copy per activation so that each vectorises.
#[inline(always)]
fn reconstruction_chunk_body(
    g: &mut [f32],
    y: &[f32],
    x: &[f32],
    scale: f32,
    act: Activation,
) -> f64 {
    match act {
        Activation::LeakyRelu => reconstruction_lanes(g, y, x, scale, |v| {
            activation_grad(Activation::LeakyRelu, v)
        }),
        Activation::Sigmoid => {
            reconstruction_lanes(g, y, x, scale, |v| activation_grad(Activation::Sigmoid, v))
        }
        Activation::Identity => {
            reconstruction_lanes(g, y, x, scale, |v| activation_grad(Activation::Identity, v))
        }
    }
}

/// [`reconstruction_chunk_body`] for one activation derivative `grad`.
#[inline(always)]
fn reconstruction_lanes(
    g: &mut [f32],
    y: &[f32],
    x: &[f32],
    scale: f32,
    grad: impl Fn(f32) -> f32,
) -> f64 {
    let mut lanes = [0f64; LANES];
    let mut g_blocks = g.chunks_exact_mut(LANES);
    let mut y_blocks = y.chunks_exact(LANES);
    let mut x_blocks = x.chunks_exact(LANES);
    for ((gb, yb), xb) in (&mut g_blocks).zip(&mut y_blocks).zip(&mut x_blocks) {
        for j in 0..LANES {
            let d = yb[j] - xb[j];
            lanes[j] += (d * d) as f64;
            gb[j] = scale * d * grad(yb[j]);
        }
    }
    let tail = g_blocks
        .into_remainder()
        .iter_mut()
        .zip(y_blocks.remainder())
        .zip(x_blocks.remainder());
    for (j, ((gi, yi), xi)) in tail.enumerate() {
        let d = yi - xi;
        lanes[j] += (d * d) as f64;
        *gi = scale * d * grad(*yi);
    }
    lanes.iter().sum()
}

/// Returns `(d loss / d pre-activation of the output layer, mean squared error)` for
/// reconstruction `y` of input `x` with output activation `act`; for stacks `(models, rows,
/// cols)` the loss is each model's own (mean over its rows and columns), one value per model.
pub fn reconstruction_grad(
    y: &Tensor,
    x: &Tensor,
    act: Activation,
) -> candle_core::Result<(Tensor, Vec<f64>)> {
    let _timer = timer(Phase::LossGradients);
    let (models, _, _) = stack_dims(y.shape())?;
    let per_model = (y.elem_count() / models.max(1)).max(1) as f64;
    if fused_on(y.device()) && y.is_contiguous() && x.is_contiguous() {
        let op = ReconstructionGrad {
            act,
            sum_sq: Mutex::new(Vec::new()),
        };
        let g = y.apply_op2_no_bwd(x, &op)?;
        let sums = std::mem::take(&mut *op.sum_sq.lock().expect("loss lock poisoned"));
        return Ok((g, sums.into_iter().map(|s| s / per_model).collect()));
    }
    let diff = (y - x)?;
    let sq = diff.sqr()?.to_dtype(candle_core::DType::F64)?;
    let mse = if y.rank() == 3 {
        sq.flatten_from(1)?.mean(1)?.to_vec1::<f64>()?
    } else {
        vec![sq.mean_all()?.to_scalar::<f64>()?]
    };
    let g = (diff * (2.0 / per_model))?;
    Ok((activation_backward(g, y, act)?, mse))
}

/// `g <- g + 2 gamma (z - c) / rows`: adds the SVDD term's gradient to the gradient of the codes
/// `z`, and stores the batch mean of `||z - c||^2` in `mean_sq`; per model for a stack, with
/// the model's own gamma and centre.
struct SvddGrad {
    gammas: Vec<f32>,
    /// Only the first row enters the term (the 2021 reference code's variant).
    first_only: bool,
    mean_sq: Mutex<Vec<f64>>,
}

cpu_op!(SvddGrad, "svdd-grad", |op, mut g, z, c| {
    let (models, rows, k) = stack_dims(z.shape())?;
    let z = z.values("codes")?;
    let c = c.values("centre")?;
    let g = g.values_mut("code gradient")?;
    if k == 0 || c.len() != models * k || g.len() != z.len() || op.gammas.len() != models {
        candle_core::bail!("svdd-grad: codes, centre, gamma and gradient shapes disagree");
    }
    let used = if op.first_only { rows.min(1) } else { rows };
    let mut means = Vec::with_capacity(models);
    for (((g, z), c), gamma) in g
        .chunks_exact_mut((rows * k).max(1))
        .zip(z.chunks_exact((rows * k).max(1)))
        .zip(c.chunks_exact(k))
        .zip(&op.gammas)
    {
        let scale = 2.0 * gamma / used.max(1) as f32;
        let mut total = 0f64;
        for (gr, zr) in g.chunks_exact_mut(k).zip(z.chunks_exact(k)).take(used) {
            // Running sums per lane, as in the reconstruction gradient: no chain of dependent
            // additions through the row.
            let mut lanes = [0f32; LANES];
            let mut g_blocks = gr.chunks_exact_mut(LANES);
            let mut z_blocks = zr.chunks_exact(LANES);
            let mut c_blocks = c.chunks_exact(LANES);
            for ((gb, zb), cb) in (&mut g_blocks).zip(&mut z_blocks).zip(&mut c_blocks) {
                for j in 0..LANES {
                    let d = zb[j] - cb[j];
                    lanes[j] += d * d;
                    gb[j] += scale * d;
                }
            }
            let tail = g_blocks
                .into_remainder()
                .iter_mut()
                .zip(z_blocks.remainder())
                .zip(c_blocks.remainder());
            for (j, ((gi, zi), ci)) in tail.enumerate() {
                let d = zi - ci;
                lanes[j] += d * d;
                *gi += scale * d;
            }
            total += lanes.iter().sum::<f32>() as f64;
        }
        means.push(total / used.max(1) as f64);
    }
    means.resize(models, 0.0);
    *op.mean_sq.lock().expect("loss lock poisoned") = means;
    Ok(())
});

/// Adds the gradient of `gamma * mean_i ||z_i - c||^2` to `g` (the gradient of the codes) and
/// returns the new gradient with the batch mean of `||z - c||^2`; with `first_only`, the term is
/// `gamma * ||z_0 - c||^2` of the first row alone (the 2021 reference code). For a stack of
/// codes `(models, rows, latent)` the centre is `(models, latent)` and `gammas` has one value
/// per model; for a matrix of codes, `c (latent)` and one gamma. One mean per model.
pub fn svdd_grad(
    g: Tensor,
    z: &Tensor,
    c: &Tensor,
    gammas: &[f64],
    first_only: bool,
) -> candle_core::Result<(Tensor, Vec<f64>)> {
    let _timer = timer(Phase::LossGradients);
    let (models, rows, _) = stack_dims(z.shape())?;
    if gammas.len() != models || c.rank() + 1 != z.rank() {
        candle_core::bail!(
            "svdd-grad: {} gammas and centre {:?} for codes {:?}",
            gammas.len(),
            c.shape(),
            z.shape()
        );
    }
    if fused_on(g.device()) && g.is_contiguous() && z.is_contiguous() && c.is_contiguous() {
        let op = SvddGrad {
            gammas: gammas.iter().map(|&v| v as f32).collect(),
            first_only,
            mean_sq: Mutex::new(Vec::new()),
        };
        g.inplace_op3(z, c, &op)?;
        let m = std::mem::take(&mut *op.mean_sq.lock().expect("loss lock poisoned"));
        return Ok((g, m));
    }
    // One code per row of a (models, rows, latent) stack.
    let stacked = z.rank() == 3;
    let (z3, c3) = if stacked {
        (z.clone(), c.unsqueeze(1)?)
    } else {
        (z.unsqueeze(0)?, c.unsqueeze(0)?.unsqueeze(0)?)
    };
    let used = if first_only { rows.min(1) } else { rows };
    let diff = z3.narrow(1, 0, used)?.broadcast_sub(&c3)?;
    let m = diff
        .sqr()?
        .sum(D::Minus1)?
        .to_dtype(candle_core::DType::F64)?
        .mean(1)?
        .to_vec1::<f64>()?;
    let scales: Vec<f32> = gammas
        .iter()
        .map(|g| (2.0 * g / used.max(1) as f64) as f32)
        .collect();
    let scales = Tensor::from_vec(scales, (models, 1, 1), z.device())?;
    let mut step = diff.broadcast_mul(&scales)?;
    if used < rows {
        step = Tensor::cat(&[step, z3.narrow(1, used, rows - used)?.zeros_like()?], 1)?;
    }
    let step = if stacked { step } else { step.squeeze(0)? };
    Ok(((g + step)?, m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_widest_reconstruction_chunk_is_bit_identical_to_the_baseline_loop() {
        let n = 1037; // not a multiple of any vector width
        let val = |i: usize, k: usize| (((i * 7919 + k * 104_729) % 2001) as f32) / 2001.0;
        let y: Vec<f32> = (0..n).map(|i| val(i, 1) - 0.3).collect();
        let x: Vec<f32> = (0..n).map(|i| val(i, 2)).collect();
        for act in [
            Activation::Sigmoid,
            Activation::LeakyRelu,
            Activation::Identity,
        ] {
            let (mut g1, mut g2) = (vec![0f32; n], vec![0f32; n]);
            let s1 = reconstruction_chunk(&mut g1, &y, &x, 2.0 / n as f32, act);
            let s2 = reconstruction_chunk_body(&mut g2, &y, &x, 2.0 / n as f32, act);
            let bits = |v: &[f32]| v.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&g1), bits(&g2), "{act:?}");
            assert_eq!(s1.to_bits(), s2.to_bits(), "{act:?}");
            // The sum of squares is the loss's, up to the order of the additions.
            let plain: f64 = y
                .iter()
                .zip(&x)
                .map(|(a, b)| ((a - b) * (a - b)) as f64)
                .sum();
            assert!(
                (s1 - plain).abs() <= 1e-9 * plain,
                "{act:?}: {s1} against {plain}"
            );
            assert!(g1.iter().any(|v| *v != 0.0), "{act:?}");
        }
    }
}
