//! Activations and their derivatives, fused with the bias write, and the bias gradient.

use candle_core::{CpuStorage, Shape, Tensor};

use super::pool::each_chunk_mut;
use super::{fused_on, parallel, stack_dims, ELEM_CHUNK, ROW_CHUNK};
use crate::config::{Activation, LEAKY_SLOPE};
use crate::step_profile::{timer, Phase};

#[inline(always)]
pub(crate) fn activate(act: Activation, v: f32) -> f32 {
    match act {
        Activation::LeakyRelu => {
            if v > 0.0 {
                v
            } else {
                v * LEAKY_SLOPE
            }
        }
        Activation::Sigmoid => 1.0 / (1.0 + exp_vectorisable(-v)),
        Activation::Identity => v,
    }
}

/// `e^x` for f32 in a form the compiler vectorises (no call to libm): Cephes' `expf`
/// polynomial after the reduction `x = n ln 2 + r`, `|r| <= ln 2 / 2`, then scaling by `2^n`
/// through the exponent bits. Within 2 ulp of `f32::exp` on [-87, 88]; inputs outside are
/// clamped to it (the sigmoid's value then differs from 0 or 1 by less than 1e-37).
#[inline(always)]
pub(crate) fn exp_vectorisable(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // Adding and subtracting 1.5 * 2^23 rounds to the nearest integer without a libm call.
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 88.0);
    let t = x * LOG2E + ROUND;
    let n = t - ROUND;
    // n as an integer, read from t's mantissa (t = 1.5 * 2^23 + n exactly, |n| <= 127): the
    // same value as `n as i32`, whose saturating conversion the compiler cannot vectorise (it
    // extracted each lane to a scalar register). A NaN gives a NaN either way.
    let n_int = (t.to_bits() as i32).wrapping_sub(ROUND.to_bits() as i32);
    let r = x - n * LN2_HI - n * LN2_LO;
    let mut p = 1.987_569_1e-4f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5;
    let y = p * r * r + r + 1.0;
    y * f32::from_bits((n_int.wrapping_add(127) as u32) << 23)
}

widest_simd! {
    /// `ys <- act(ys)` ([`activate_slice_body`] for the widest vector unit the CPU has: the
    /// sigmoid's exponential is compute-bound at the baseline's four lanes); bit-identical
    /// whichever runs.
    pub(crate) fn activate_slice(act: Activation, ys: &mut [f32]) = activate_slice_body;
}

/// `ys <- act(ys)`, with the activation chosen once outside the loop so that each arm
/// vectorises.
#[inline(always)]
fn activate_slice_body(act: Activation, ys: &mut [f32]) {
    match act {
        Activation::LeakyRelu => ys
            .iter_mut()
            .for_each(|v| *v = if *v > 0.0 { *v } else { *v * LEAKY_SLOPE }),
        Activation::Sigmoid => ys
            .iter_mut()
            .for_each(|v| *v = 1.0 / (1.0 + exp_vectorisable(-*v))),
        Activation::Identity => {}
    }
}

/// `ys <- act(ys)` for any number of values, in parallel tasks where there are several.
pub(crate) fn activate_all(act: Activation, ys: &mut [f32]) {
    if act == Activation::Identity {
        return;
    }
    if parallel(ys.len(), ELEM_CHUNK) {
        each_chunk_mut(ys, ELEM_CHUNK, &|_, c| activate_slice(act, c));
    } else {
        activate_slice(act, ys);
    }
}

widest_simd! {
    /// `gs <- gs * act'(ys)` ([`activation_grad_slice_body`] for the widest vector unit the CPU
    /// has); bit-identical whichever runs.
    pub(crate) fn activation_grad_slice(act: Activation, gs: &mut [f32], ys: &[f32]) = activation_grad_slice_body;
}

/// `gs <- gs * act'(ys)` through the outputs `ys`, one loop per activation (see
/// [`activate_slice`]).
#[inline(always)]
fn activation_grad_slice_body(act: Activation, gs: &mut [f32], ys: &[f32]) {
    match act {
        Activation::LeakyRelu => gs
            .iter_mut()
            .zip(ys)
            .for_each(|(g, y)| *g *= if *y > 0.0 { 1.0 } else { LEAKY_SLOPE }),
        Activation::Sigmoid => gs.iter_mut().zip(ys).for_each(|(g, y)| *g *= y * (1.0 - y)),
        Activation::Identity => {}
    }
}

/// Derivative of the activation, expressed through its output `y` (valid for all three
/// activations: leaky ReLU's output has the sign of its input, sigmoid' = y (1 - y)).
#[inline(always)]
pub(crate) fn activation_grad(act: Activation, y: f32) -> f32 {
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

cpu_op!(BiasActivation, "bias-activation", |op, mut y, b| {
    let b = b.values("bias")?;
    let y = y.values_mut("linear output")?;
    let cols = b.len();
    let act = op.0;
    let rows = |rows: &mut [f32]| bias_activation_rows(act, rows, b);
    if parallel(y.len(), cols * ROW_CHUNK) {
        each_chunk_mut(y, cols * ROW_CHUNK, &|_, c| rows(c));
    } else {
        rows(y);
    }
    Ok(())
});

widest_simd! {
    /// `act(y + b)` in place for each row of `rows` (rows of `b.len()` values;
    /// [`bias_activation_rows_body`] for the widest vector unit the CPU has); bit-identical
    /// whichever runs.
    fn bias_activation_rows(act: Activation, rows: &mut [f32], b: &[f32]) = bias_activation_rows_body;
}

/// `act(y + b)` in place for each row of `rows`.
#[inline(always)]
fn bias_activation_rows_body(act: Activation, rows: &mut [f32], b: &[f32]) {
    for row in rows.chunks_exact_mut(b.len().max(1)) {
        for (v, bj) in row.iter_mut().zip(b) {
            *v = activate(act, *v + bj);
        }
    }
}

/// `y <- act(y)` in place (layers without bias).
struct ActivationOnly(Activation);

cpu_op!(ActivationOnly, "activation", |op, mut y| {
    let y = y.values_mut("linear output")?;
    activate_all(op.0, y);
    Ok(())
});

/// `act(x)` through candle's operations (devices without the fused kernels).
pub(crate) fn candle_activation(x: &Tensor, act: Activation) -> candle_core::Result<Tensor> {
    match act {
        Activation::LeakyRelu => candle_nn::ops::leaky_relu(x, LEAKY_SLOPE as f64),
        Activation::Sigmoid => candle_nn::ops::sigmoid(x),
        Activation::Identity => Ok(x.clone()),
    }
}

/// Applies `act(y + b)` to the output `y` of a matrix product, in place on the CPU.
/// `y` must be a fresh tensor that nothing else references. For a stack `y (models, rows, out)`
/// the bias is `(models, out)`, one row per model.
pub fn bias_activation(
    y: Tensor,
    b: Option<&Tensor>,
    act: Activation,
) -> candle_core::Result<Tensor> {
    let _timer = timer(Phase::Activations);
    let stacked_bias = b.is_some_and(|b| b.rank() == 2);
    if fused_on(y.device()) && y.is_contiguous() && !stacked_bias {
        match b {
            Some(b) => y.inplace_op2(b, &BiasActivation(act))?,
            None if act != Activation::Identity => y.inplace_op1(&ActivationOnly(act))?,
            None => {}
        }
        return Ok(y);
    }
    let y = match b {
        Some(b) if stacked_bias => y.broadcast_add(&b.unsqueeze(1)?)?,
        Some(b) => y.broadcast_add(b)?,
        None => y,
    };
    candle_activation(&y, act)
}

/// `g <- g * act'(y)` in place: the gradient of a layer's pre-activation from the gradient of
/// its output `y`.
struct ActivationBackward(Activation);

cpu_op!(ActivationBackward, "activation-backward", |op, mut g, y| {
    let y = y.values("activation output")?;
    let g = g.values_mut("gradient")?;
    if g.len() != y.len() {
        candle_core::bail!("activation-backward: gradient and output sizes differ");
    }
    activation_grad_all(op.0, g, y);
    Ok(())
});

/// `gs <- gs * act'(ys)` for any number of values, in parallel tasks where there are several.
pub(crate) fn activation_grad_all(act: Activation, gs: &mut [f32], ys: &[f32]) {
    if parallel(gs.len(), ELEM_CHUNK) {
        each_chunk_mut(gs, ELEM_CHUNK, &|i, g| {
            let y = &ys[i * ELEM_CHUNK..];
            activation_grad_slice(act, g, &y[..g.len().min(y.len())])
        });
    } else {
        activation_grad_slice(act, gs, ys);
    }
}

/// Turns the gradient `g` of a layer's output `y` into the gradient of its pre-activation.
pub fn activation_backward(g: Tensor, y: &Tensor, act: Activation) -> candle_core::Result<Tensor> {
    let _timer = timer(Phase::Activations);
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

/// Column sums of a `rows x cols` matrix, summed row after row in f32 (the bias gradient);
/// per model for a stack `(models, rows, cols)`, giving `(models, cols)`.
struct ColumnSum;

cpu_op!(ColumnSum, "column-sum", |_op, g| {
    let (models, rows, cols) = stack_dims(g.shape())?;
    let stacked = g.shape().rank() == 3;
    let g = g.values("gradient")?;
    let mut acc = vec![0f32; models * cols];
    for (sums, block) in acc
        .chunks_exact_mut(cols.max(1))
        .zip(g.chunks_exact((rows * cols).max(1)))
    {
        add_rows(sums, block);
    }
    let shape = if stacked {
        Shape::from((models, cols))
    } else {
        Shape::from(cols)
    };
    Ok((CpuStorage::F32(acc), shape))
});

widest_simd! {
    /// Adds each row of `block` (rows of `sums.len()` values) to `sums`, row after row
    /// ([`add_rows_body`] for the widest vector unit the CPU has); bit-identical whichever runs.
    fn add_rows(sums: &mut [f32], block: &[f32]) = add_rows_body;
}

/// Adds each row of `block` to `sums`, row after row.
#[inline(always)]
fn add_rows_body(sums: &mut [f32], block: &[f32]) {
    for row in block.chunks_exact(sums.len().max(1)) {
        for (a, v) in sums.iter_mut().zip(row) {
            *a += v;
        }
    }
}

/// Sum over the rows of a matrix (of each model's matrix of a stack).
pub fn column_sum(g: &Tensor) -> candle_core::Result<Tensor> {
    let _timer = timer(Phase::BiasGradients);
    if fused_on(g.device()) && g.is_contiguous() {
        return g.apply_op1_no_bwd(&ColumnSum);
    }
    g.sum(g.rank().saturating_sub(2))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values over the sigmoid's whole range, both signs, zeros, tiny and huge magnitudes, in an
    /// odd count so that every vector width leaves a tail.
    fn awkward_values(n: usize) -> Vec<f32> {
        let mut x = 0x2545_f491_u32;
        (0..n)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                let u = x as f32 / u32::MAX as f32;
                match i % 7 {
                    0 => 0.0,
                    1 => -0.0,
                    2 => (u - 0.5) * 200.0,
                    3 => (u - 0.5) * 1e-30,
                    _ => (u - 0.5) * 12.0,
                }
            })
            .collect()
    }

    #[test]
    fn the_widest_element_loops_are_bit_identical_to_the_baseline_loops() {
        let (rows, cols) = (7, 37);
        let xs = awkward_values(rows * cols);
        let gs = awkward_values(rows * cols + 3)[3..].to_vec();
        for act in [Activation::LeakyRelu, Activation::Sigmoid] {
            let (mut a, mut b) = (xs.clone(), xs.clone());
            activate_slice(act, &mut a);
            activate_slice_body(act, &mut b);
            assert_eq!(bits(&a), bits(&b), "{act:?}");

            let (mut ga, mut gb) = (gs.clone(), gs.clone());
            activation_grad_slice(act, &mut ga, &a);
            activation_grad_slice_body(act, &mut gb, &b);
            assert_eq!(bits(&ga), bits(&gb), "{act:?} derivative");

            let bias = &gs[..cols];
            let (mut ya, mut yb) = (xs.clone(), xs.clone());
            bias_activation_rows(act, &mut ya, bias);
            bias_activation_rows_body(act, &mut yb, bias);
            assert_eq!(bits(&ya), bits(&yb), "{act:?} with bias");
            let expect: Vec<f32> = xs
                .iter()
                .enumerate()
                .map(|(i, x)| activate(act, x + bias[i % cols]))
                .collect();
            assert_eq!(
                bits(&ya),
                bits(&expect),
                "{act:?} with bias, element by element"
            );
        }
        let (mut sa, mut sb) = (vec![0f32; cols], vec![0f32; cols]);
        add_rows(&mut sa, &xs);
        add_rows_body(&mut sb, &xs);
        assert_eq!(bits(&sa), bits(&sb), "column sums");
        let first: f32 = (0..rows).map(|r| xs[r * cols]).fold(0.0, |a, v| a + v);
        assert_eq!(sa[0].to_bits(), first.to_bits());
    }

    fn bits(v: &[f32]) -> Vec<u32> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    /// The exponential as first written, with `n as i32`: the mantissa read must give the same
    /// bits everywhere.
    fn exp_with_cast(x: f32) -> f32 {
        let x = x.clamp(-87.0, 88.0);
        let n = (x * std::f32::consts::LOG2_E + 12_582_912.0) - 12_582_912.0;
        let r = x - n * 0.693_359_4 - n * -2.121_944_4e-4;
        let mut p = 1.987_569_1e-4f32;
        for c in [
            1.398_199_9e-3,
            8.333_452e-3,
            4.166_579_6e-2,
            1.666_666_5e-1,
            0.5,
        ] {
            p = p * r + c;
        }
        let y = p * r * r + r + 1.0;
        y * f32::from_bits(((n as i32 + 127) as u32) << 23)
    }

    #[test]
    fn the_exponent_read_from_the_mantissa_matches_the_integer_conversion() {
        let mut x = -100.0f32;
        while x <= 100.0 {
            assert_eq!(
                exp_vectorisable(x).to_bits(),
                exp_with_cast(x).to_bits(),
                "exp({x})"
            );
            x += 0.000_7;
        }
        for x in [0.0, -0.0, 1e-40, -1e-40, f32::MAX, f32::MIN, f32::INFINITY] {
            assert_eq!(
                exp_vectorisable(x).to_bits(),
                exp_with_cast(x).to_bits(),
                "exp({x})"
            );
        }
        assert!(exp_vectorisable(f32::NAN).is_nan());
    }

    #[test]
    fn vectorisable_exp_is_within_2_ulp_of_libm() {
        let mut x = -87.0f32;
        while x <= 88.0 {
            let (ours, libm) = (exp_vectorisable(x), x.exp());
            let ulp = (ours.to_bits() as i64 - libm.to_bits() as i64).abs();
            assert!(ulp <= 2, "exp({x}): {ours} vs {libm} ({ulp} ulp)");
            x += 0.001_3;
        }
        // Clamped outside the range: finite, and the sigmoid saturates.
        assert!(exp_vectorisable(200.0).is_finite());
        assert_eq!(
            1.0 / (1.0 + exp_vectorisable(200.0)),
            1.0 / (1.0 + 88f32.exp())
        );
        assert_eq!(1.0 / (1.0 + exp_vectorisable(-200.0)), 1.0);
    }
}
