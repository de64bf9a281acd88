//! A fully connected network with a hand-written backward pass.
//!
//! The forward pass of a layer is one product with the bias written into the output first and
//! the activation applied in place ([`crate::kernels::linear`]); the backward pass is two
//! products per layer (weight and input gradients; the latter reads the row-major transposed
//! weight that [`crate::Adam`] keeps, when it keeps one) plus fused kernels for the activation
//! derivative and the bias gradient. Writing the backward pass by hand, instead of
//! recording a graph for candle's autograd, removes the graph bookkeeping and the many small
//! intermediate tensors that dominated the step time of a plain candle-nn version.

use candle_core::{DType, Device, Tensor, Var};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::checkpoint::Checkpoint;
use crate::config::Activation;
use crate::detector::SampleView;
use crate::error::Result;
use crate::kernels::products::side_by_side;
use crate::kernels::{
    activation_backward, column_sum, linear, matmul_nt_with, matmul_tn, TransposedCopy,
};

/// Rows per batch when scoring.
pub const SCORE_BATCH: usize = 1024;

/// One linear layer `y = act(x W + b)`.
///
/// The weight is held as `(in, out)`, the transpose of PyTorch's `(out, in)`: the forward
/// product, which runs most often (training, centre steps, scoring), then reads both operands
/// contiguously, and the first layer, whose input gradient is never needed, has no strided
/// product at all. Checkpoints store PyTorch's layout.
#[derive(Debug, Clone)]
pub struct Dense {
    /// `(in, out)`.
    pub weight: Var,
    /// `(out)`; `None` for a layer without a bias.
    pub bias: Option<Var>,
    /// Applied to the layer's output.
    pub activation: Activation,
}

impl Dense {
    /// The gradients of this layer's weight (`x^T @ g`) and bias (the column sums of `g`) from
    /// its input `x` and the gradient `g` at its output.
    pub(crate) fn grads(&self, x: &Tensor, g: &Tensor) -> Result<DenseGrads> {
        let weight = matmul_tn(x, g)?;
        let bias = match self.bias {
            Some(_) => Some(column_sum(g)?),
            None => None,
        };
        Ok(DenseGrads { weight, bias })
    }

    /// A layer initialised as PyTorch's `nn.Linear`: weight and bias ~ U(-1/sqrt(in), 1/sqrt(in)),
    /// drawn from `rng` (weights first, row-major, then biases).
    pub fn init(
        rng: &mut ChaCha8Rng,
        fan_in: usize,
        fan_out: usize,
        bias: bool,
        activation: Activation,
        device: &Device,
    ) -> Result<Self> {
        let bound = 1.0 / (fan_in as f64).sqrt();
        let mut uniform = |n: usize| -> Vec<f32> {
            (0..n)
                .map(|_| rng.random_range(-bound..bound) as f32)
                .collect()
        };
        // Drawn in PyTorch's (out, in) order, then transposed to the (in, out) layout.
        let w = uniform(fan_in * fan_out);
        let w = Tensor::from_vec(w, (fan_out, fan_in), device)?
            .t()?
            .contiguous()?;
        let weight = Var::from_tensor(&w)?;
        let bias = if bias {
            let b = uniform(fan_out);
            Some(Var::from_tensor(&Tensor::from_vec(b, fan_out, device)?)?)
        } else {
            None
        };
        Ok(Dense {
            weight,
            bias,
            activation,
        })
    }

    /// A layer from a weight in PyTorch's `(out, in)` layout and an optional bias `(out)`.
    pub fn from_torch(
        weight: &Tensor,
        bias: Option<&Tensor>,
        activation: Activation,
    ) -> Result<Self> {
        Ok(Dense {
            weight: Var::from_tensor(&weight.t()?.contiguous()?)?,
            bias: bias.map(Var::from_tensor).transpose()?,
            activation,
        })
    }

    /// `(out, in)` (of each model's layer, for a stack).
    pub fn dims(&self) -> (usize, usize) {
        let d = self.weight.dims();
        (d[d.len() - 1], d[d.len() - 2])
    }

    /// The weight in PyTorch's `(out, in)` layout.
    pub fn torch_weight(&self) -> Result<Tensor> {
        Ok(self.weight.as_tensor().t()?.contiguous()?)
    }

    /// Sets the weight from PyTorch's `(out, in)` layout.
    pub fn set_torch_weight(&mut self, w: &Tensor) -> Result<()> {
        self.weight = Var::from_tensor(&w.t()?.contiguous()?)?;
        Ok(())
    }

    /// Forward pass of a batch `(rows, in)`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        // Detached: the backward pass is written by hand, so nothing is recorded for autograd.
        Ok(linear(
            x,
            &self.weight.as_detached_tensor(),
            self.bias.as_ref().map(|b| b.as_tensor()),
            self.activation,
        )?)
    }
}

/// Gradients of one layer.
pub struct DenseGrads {
    /// Gradient of the weight, in its `(in, out)` layout.
    pub weight: Tensor,
    /// Gradient of the bias `(out)`; `None` when the layer has no bias.
    pub bias: Option<Tensor>,
}

/// A stack of [`Dense`] layers.
#[derive(Debug, Clone)]
pub struct Mlp {
    /// The layers, input side first.
    pub layers: Vec<Dense>,
}

impl Mlp {
    /// Layers of widths `widths[0] -> widths[1] -> ...`; every layer uses `hidden` except the last,
    /// which uses `last`.
    pub fn init(
        rng: &mut ChaCha8Rng,
        widths: &[usize],
        bias: bool,
        hidden: Activation,
        last: Activation,
        device: &Device,
    ) -> Result<Self> {
        Self::from_layers(widths, hidden, last, |i, act| {
            Dense::init(rng, widths[i], widths[i + 1], bias, act, device)
        })
    }

    /// The layers `widths[0] -> widths[1] -> ...` built in order by `layer(i, act)`, where `act`
    /// is `hidden` for every layer but the last, which gets `last`.
    fn from_layers(
        widths: &[usize],
        hidden: Activation,
        last: Activation,
        mut layer: impl FnMut(usize, Activation) -> Result<Dense>,
    ) -> Result<Self> {
        let n = widths.len().saturating_sub(1);
        let layers = (0..n)
            .map(|i| layer(i, if i + 1 == n { last } else { hidden }))
            .collect::<Result<_>>()?;
        Ok(Mlp { layers })
    }

    /// One network holding `models` networks of the same widths as a stack: each weight
    /// `(models, in, out)`, each bias `(models, out)`. Every operation of [`Mlp`] (the forward
    /// and backward passes, and [`crate::Adam`] over its variables) then works on all of them at
    /// once, each model's values computed as for the model alone; [`Mlp::unstack`] splits
    /// them again.
    pub fn stack(models: &[Mlp]) -> Result<Self> {
        let Some(first) = models.first() else {
            return Err(crate::error::CoreError::InvalidInput(
                "a stack needs at least one network".into(),
            ));
        };
        let layers = (0..first.layers.len())
            .map(|i| {
                let of = |f: &dyn Fn(&Dense) -> Option<Tensor>| -> Result<Option<Tensor>> {
                    let parts: Option<Vec<Tensor>> =
                        models.iter().map(|m| m.layers.get(i).and_then(f)).collect();
                    Ok(parts.map(|p| Tensor::stack(&p, 0)).transpose()?)
                };
                let weight = of(&|l| Some(l.weight.as_tensor().clone()))?;
                let bias = of(&|l| l.bias.as_ref().map(|b| b.as_tensor().clone()))?;
                let same = models.iter().all(|m| {
                    m.layers.len() == first.layers.len()
                        && m.layers[i].activation == first.layers[i].activation
                        && m.layers[i].bias.is_some() == first.layers[i].bias.is_some()
                });
                match (weight, same) {
                    (Some(weight), true) => Ok(Dense {
                        weight: Var::from_tensor(&weight)?,
                        bias: bias.map(|b| Var::from_tensor(&b)).transpose()?,
                        activation: first.layers[i].activation,
                    }),
                    _ => Err(crate::error::CoreError::InvalidInput(
                        "only networks of one architecture can be stacked".into(),
                    )),
                }
            })
            .collect::<Result<_>>()?;
        Ok(Mlp { layers })
    }

    /// Models in the stack (1 for a network that is not one).
    pub fn models(&self) -> usize {
        match self.layers.first().map(|l| l.weight.dims()) {
            Some([models, _, _]) => *models,
            _ => 1,
        }
    }

    /// The networks of a stack made by [`Mlp::stack`], each with its own copy of its weights.
    pub fn unstack(&self) -> Result<Vec<Mlp>> {
        if self.layers.first().is_none_or(|l| l.weight.rank() != 3) {
            return Ok(vec![self.clone()]);
        }
        (0..self.models())
            .map(|k| {
                let own = |v: &Var| -> Result<Var> {
                    Ok(Var::from_tensor(&v.as_tensor().get(k)?.copy()?)?)
                };
                let layers = self
                    .layers
                    .iter()
                    .map(|l| {
                        Ok(Dense {
                            weight: own(&l.weight)?,
                            bias: l.bias.as_ref().map(own).transpose()?,
                            activation: l.activation,
                        })
                    })
                    .collect::<Result<_>>()?;
                Ok(Mlp { layers })
            })
            .collect()
    }

    /// Parameters of a network of `widths` (weights, and biases when `bias`); `None` when the
    /// count does not fit in a `usize`.
    pub fn parameter_count(widths: &[usize], bias: bool) -> Option<usize> {
        widths.windows(2).try_fold(0usize, |acc, w| {
            let layer = w[0]
                .checked_mul(w[1])?
                .checked_add(if bias { w[1] } else { 0 })?;
            acc.checked_add(layer)
        })
    }

    /// The network of [`Mlp::init`]'s shape read from the tensors `{prefix}.{i}.weight` (PyTorch's
    /// `(out, in)` layout) and `{prefix}.{i}.bias` of `ck`. Every tensor's presence, dtype and
    /// shape is checked before any is copied; the caller checks first, with
    /// [`Checkpoint::expect_parameters`], that the file is large enough for `widths`.
    pub fn load(
        ck: &Checkpoint,
        prefix: &str,
        widths: &[usize],
        bias: bool,
        hidden: Activation,
        last: Activation,
        device: &Device,
    ) -> Result<Self> {
        let n = widths.len().saturating_sub(1);
        let names = |i: usize| (format!("{prefix}.{i}.weight"), format!("{prefix}.{i}.bias"));
        for i in 0..n {
            let (w, b) = names(i);
            ck.check_tensor(&w, &[widths[i + 1], widths[i]])?;
            if bias {
                ck.check_tensor(&b, &[widths[i + 1]])?;
            }
        }
        Self::from_layers(widths, hidden, last, |i, act| {
            let (w, b) = names(i);
            let weight = ck.tensor(&w, &[widths[i + 1], widths[i]], device)?;
            let bias = if bias {
                Some(ck.tensor(&b, &[widths[i + 1]], device)?)
            } else {
                None
            };
            Dense::from_torch(&weight, bias.as_ref(), act)
        })
    }

    /// Inference forward pass.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut h = x.clone();
        for l in &self.layers {
            h = l.forward(&h)?;
        }
        Ok(h)
    }

    /// Forward pass keeping every layer's input: returns `[x, h1, ..., out]`.
    pub fn forward_train(&self, x: &Tensor) -> Result<Vec<Tensor>> {
        let mut acts = Vec::with_capacity(self.layers.len() + 1);
        acts.push(x.clone());
        for l in &self.layers {
            let h = l.forward(acts.last().expect("acts starts non-empty"))?;
            acts.push(h);
        }
        Ok(acts)
    }

    /// Backward pass from `g`, the gradient of the loss with respect to the last layer's
    /// pre-activation, given the activations of [`Mlp::forward_train`]. Returns the layer
    /// gradients (first layer first) and, when `input_grad`, the gradient with respect to the input.
    pub fn backward(
        &self,
        acts: &[Tensor],
        g: Tensor,
        input_grad: bool,
    ) -> Result<(Vec<DenseGrads>, Option<Tensor>)> {
        self.backward_with(acts, g, input_grad, &[])
    }

    /// [`Mlp::backward`] reading, for each layer `i` with `transposed[i]`, that transposed copy of
    /// its weight (kept by [`crate::Adam::keep_transposed`]) in the input-gradient product.
    pub fn backward_with(
        &self,
        acts: &[Tensor],
        g: Tensor,
        input_grad: bool,
        transposed: &[Option<&TransposedCopy>],
    ) -> Result<(Vec<DenseGrads>, Option<Tensor>)> {
        let mut grads: Vec<DenseGrads> = Vec::with_capacity(self.layers.len());
        let dx = self.backward_each(acts, g, input_grad, transposed, |_, layer| {
            grads.push(layer);
            Ok(())
        })?;
        grads.reverse();
        Ok((grads, dx))
    }

    /// [`Mlp::backward_with`] handing each layer's gradients to `each(layer index, grads)` as
    /// soon as they are known, last layer first, instead of returning them: once `each` has
    /// them, the backward pass no longer reads that layer's weight (or its transposed copy), so
    /// `each` may start updating it while the earlier layers' gradients are computed. Returns
    /// the input gradient when `input_grad`.
    pub fn backward_each(
        &self,
        acts: &[Tensor],
        mut g: Tensor,
        input_grad: bool,
        transposed: &[Option<&TransposedCopy>],
        mut each: impl FnMut(usize, DenseGrads) -> Result<()>,
    ) -> Result<Option<Tensor>> {
        let n = self.layers.len();
        let mut dx = None;
        for i in (0..n).rev() {
            let layer = &self.layers[i];
            // The weight gradient and the input gradient are independent products of the same
            // size: side by side on two threads where `gemm` would split each over them.
            // Each side also runs the small pass that follows its product, on the thread that
            // computed it, while its output is in that core's cache: the bias gradient (a sum
            // over the rows of `g`) beside the weight gradient, the previous layer's
            // activation derivative after the input gradient. The values are those of the
            // passes run alone: both split their work in fixed chunks.
            let needs_input = i > 0 || input_grad;
            let flops = Self::pair_flops(&acts[i], &g);
            let weight_side = || layer.grads(&acts[i], &g);
            let input_side = || -> Result<Option<Tensor>> {
                let copy = transposed.get(i).copied().flatten();
                Ok(Some(self.input_grad(i, &acts[i], &g, copy)?))
            };
            let (grads, g_in) = if needs_input {
                side_by_side(flops, g.device(), weight_side, input_side)
            } else {
                (weight_side(), Ok(None))
            };
            let g_in = g_in?;
            each(i, grads?)?;
            match g_in {
                Some(g_in) if i > 0 => g = g_in,
                Some(g_in) => dx = Some(g_in),
                None => {}
            }
        }
        Ok(dx)
    }

    /// The FLOPs of each of layer's two gradient products, for its input `x` and the gradient
    /// `g` at its output.
    pub(crate) fn pair_flops(x: &Tensor, g: &Tensor) -> usize {
        2 * x.elem_count() * g.dims().last().copied().unwrap_or(0)
    }

    /// The gradient at the input of layer `i` from the gradient `g` at its output (`x` is the
    /// layer's input): `g @ w^T` through the weight's transposed copy when one is given, times
    /// the previous layer's activation derivative (none for the first layer).
    pub(crate) fn input_grad(
        &self,
        i: usize,
        x: &Tensor,
        g: &Tensor,
        transposed: Option<&TransposedCopy>,
    ) -> Result<Tensor> {
        let w = self.layers[i].weight.as_detached_tensor();
        let g_in = matmul_nt_with(g, &w, transposed)?;
        Ok(match i {
            0 => g_in,
            _ => activation_backward(g_in, x, self.layers[i - 1].activation)?,
        })
    }

    /// The trainable variables in a fixed order (weight, bias per layer).
    pub fn vars(&self) -> Vec<Var> {
        let mut v = Vec::new();
        for l in &self.layers {
            v.push(l.weight.clone());
            if let Some(b) = &l.bias {
                v.push(b.clone());
            }
        }
        v
    }

    /// Index in [`Mlp::vars`] of each layer's weight, shifted by `offset`.
    pub fn weight_indices(&self, offset: usize) -> Vec<usize> {
        let mut next = offset;
        self.layers
            .iter()
            .map(|l| {
                let i = next;
                next += 1 + usize::from(l.bias.is_some());
                i
            })
            .collect()
    }

    /// Flattens layer gradients in the order of [`Mlp::vars`].
    pub fn flatten_grads(grads: Vec<DenseGrads>) -> Vec<Tensor> {
        let mut v = Vec::new();
        for g in grads {
            v.push(g.weight);
            if let Some(b) = g.bias {
                v.push(b);
            }
        }
        v
    }

    /// Multiply-adds of one forward pass of one sample (for FLOP accounting).
    pub fn macs_per_sample(&self) -> usize {
        self.layers.iter().map(|l| l.dims().0 * l.dims().1).sum()
    }

    /// Mean output over the samples, computed in batches and summed in f64 (Deep SVDD's and
    /// the fixed-centre ablation's centre).
    pub fn mean_output(&self, x: SampleView<'_>, device: &Device) -> Result<Vec<f32>> {
        let k = self.layers.last().map(|l| l.dims().0).unwrap_or(0);
        mean_output_of(x, device, k, SCORE_BATCH, &|t| self.forward(t))
    }

    /// Checks every parameter is f32 and finite.
    pub fn all_finite(&self) -> Result<bool> {
        for v in self.vars() {
            let s = v
                .as_tensor()
                .to_dtype(DType::F32)?
                .abs()?
                .max_all()?
                .to_scalar::<f32>()?;
            if !s.is_finite() {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// Mean over the samples of `forward`'s `width` outputs, with `forward` applied in batches of
/// `batch` rows and the sums taken in f64, row after row: the centre of any network
/// ([`Mlp::mean_output`] with [`SCORE_BATCH`], Deep SVDD's LeNet with its own batch).
pub fn mean_output_of(
    x: SampleView<'_>,
    device: &Device,
    width: usize,
    batch: usize,
    forward: &dyn Fn(&Tensor) -> Result<Tensor>,
) -> Result<Vec<f32>> {
    let mut acc = vec![0f64; width];
    for chunk in x.chunks(batch.max(1)) {
        let out = forward(&chunk.to_tensor(device)?)?
            .flatten_all()?
            .to_vec1::<f32>()?;
        for row in out.chunks_exact(width.max(1)) {
            for (a, v) in acc.iter_mut().zip(row) {
                *a += f64::from(*v);
            }
        }
    }
    let n = x.rows().max(1) as f64;
    Ok(acc.into_iter().map(|a| (a / n) as f32).collect())
}
