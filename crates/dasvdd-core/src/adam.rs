//! Adam with PyTorch's update rule and L2 weight decay (`torch.optim.Adam(weight_decay=...)`),
//! updating each parameter in one fused in-place pass on the CPU.

use std::sync::Mutex;

use candle_core::{Tensor, Var};

use crate::error::{CoreError, Result};
use crate::kernels::AdamKernel;
pub use crate::kernels::TransposedCopy;

/// Hyperparameters of [`Adam`], PyTorch's defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamConfig {
    /// Learning rate (PyTorch default 1e-3).
    pub lr: f64,
    /// Decay of the first moment (0.9).
    pub beta1: f64,
    /// Decay of the second moment (0.999).
    pub beta2: f64,
    /// Added to the denominator (1e-8).
    pub eps: f64,
    /// L2 penalty added to the gradient (0).
    pub weight_decay: f64,
}

impl Default for AdamConfig {
    fn default() -> Self {
        AdamConfig {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
        }
    }
}

enum Moments {
    /// Host buffers updated by the fused kernel, and optionally a transposed copy it maintains.
    Host {
        state: Mutex<(Vec<f32>, Vec<f32>)>,
        transposed: Option<TransposedCopy>,
    },
    /// Device tensors `(m, v)` updated with candle operations (non-CPU devices).
    Device(Mutex<(Tensor, Tensor)>),
}

/// Adam over a fixed list of parameters; gradients are passed in the same order.
pub struct Adam {
    params: Vec<Var>,
    moments: Vec<Moments>,
    step: i32,
    config: AdamConfig,
}

impl Adam {
    /// Creates the optimiser with zero moments.
    pub fn new(params: Vec<Var>, config: AdamConfig) -> Result<Self> {
        let moments = params
            .iter()
            .map(|p| {
                Ok(if crate::kernels::fused_on(p.device()) {
                    let n = p.elem_count();
                    Moments::Host {
                        state: Mutex::new((vec![0.0; n], vec![0.0; n])),
                        transposed: None,
                    }
                } else {
                    Moments::Device(Mutex::new((p.zeros_like()?, p.zeros_like()?)))
                })
            })
            .collect::<Result<_>>()?;
        Ok(Adam {
            params,
            moments,
            step: 0,
            config,
        })
    }

    /// Also keeps a transposed copy of each 2-D parameter at `indices` (of each model's matrix
    /// for a stack `(models, rows, cols)`), from now on updated with it (host parameters only;
    /// others are left alone).
    pub fn keep_transposed(mut self, indices: &[usize]) -> Result<Self> {
        for &i in indices {
            let (Some(p), Some(Moments::Host { transposed, .. })) =
                (self.params.get(i), self.moments.get_mut(i))
            else {
                continue;
            };
            let (models, rows, cols) = match *p.dims() {
                [rows, cols] => (1, rows, cols),
                [models, rows, cols] => (models, rows, cols),
                _ => continue,
            };
            let data = p
                .as_tensor()
                .t()?
                .contiguous()?
                .flatten_all()?
                .to_vec1::<f32>()?;
            *transposed = Some(TransposedCopy {
                data: Mutex::new(data),
                models,
                rows,
                cols,
            });
        }
        Ok(self)
    }

    /// The transposed copy of parameter `index`, when one is kept.
    pub fn transposed(&self, index: usize) -> Option<&TransposedCopy> {
        match self.moments.get(index) {
            Some(Moments::Host { transposed, .. }) => transposed.as_ref(),
            _ => None,
        }
    }

    /// The learning rate.
    pub fn lr(&self) -> f64 {
        self.config.lr
    }

    /// Changes the learning rate of the next steps (a schedule such as Deep SVDD's milestones).
    pub fn set_lr(&mut self, lr: f64) {
        self.config.lr = lr;
    }

    /// Applies one update; `grads[i]` is the gradient of `params[i]`.
    pub fn step(&mut self, grads: &[Tensor]) -> Result<()> {
        if grads.len() != self.params.len() {
            return Err(CoreError::InvalidInput(format!(
                "adam: {} gradients for {} parameters",
                grads.len(),
                self.params.len()
            )));
        }
        let step = self.begin_step();
        for (i, g) in grads.iter().enumerate() {
            step.update(i, g)?;
        }
        Ok(())
    }

    /// Starts one update, to be applied parameter by parameter with [`AdamStep::update`]
    /// (from any thread, in any order): for a training step that updates each layer as soon
    /// as its gradient is known, while it computes the others'. Every parameter must be
    /// updated once before the next step; [`Adam::step`] does it for a list of gradients.
    pub fn begin_step(&mut self) -> AdamStep<'_> {
        self.step += 1;
        let c = self.config;
        AdamStep {
            params: &self.params,
            moments: &self.moments,
            config: c,
            bias_correction1: 1.0 - c.beta1.powi(self.step),
            bias_correction2: 1.0 - c.beta2.powi(self.step),
        }
    }
}

/// One update of an [`Adam`], begun by [`Adam::begin_step`].
pub struct AdamStep<'a> {
    params: &'a [Var],
    moments: &'a [Moments],
    config: AdamConfig,
    bias_correction1: f64,
    bias_correction2: f64,
}

impl<'a> AdamStep<'a> {
    /// Parameters of the optimiser.
    pub fn len(&self) -> usize {
        self.params.len()
    }

    /// Whether the optimiser has no parameters.
    pub fn is_empty(&self) -> bool {
        self.params.is_empty()
    }

    /// The transposed copy of parameter `index`, when one is kept ([`Adam::transposed`]).
    pub fn transposed(&self, index: usize) -> Option<&'a TransposedCopy> {
        match self.moments.get(index) {
            Some(Moments::Host { transposed, .. }) => transposed.as_ref(),
            _ => None,
        }
    }

    /// Updates parameter `index` from its gradient `grad`.
    pub fn update(&self, index: usize, grad: &Tensor) -> Result<()> {
        let (Some(p), Some(mom)) = (self.params.get(index), self.moments.get(index)) else {
            return Err(CoreError::InvalidInput(format!(
                "adam: no parameter {index} among {}",
                self.params.len()
            )));
        };
        let c = self.config;
        let (bc1, bc2) = (self.bias_correction1, self.bias_correction2);
        match mom {
            Moments::Host { state, transposed } => {
                let kernel = AdamKernel {
                    lr: c.lr as f32,
                    beta1: c.beta1 as f32,
                    beta2: c.beta2 as f32,
                    eps: c.eps as f32,
                    weight_decay: c.weight_decay as f32,
                    bias_correction1: bc1 as f32,
                    bias_correction2: bc2 as f32,
                    moments: state,
                    transposed: transposed.as_ref(),
                };
                p.as_tensor().inplace_op2(grad, &kernel)?;
            }
            Moments::Device(state) => {
                let mut state = state.lock().expect("adam state lock poisoned");
                let (m, v) = &mut *state;
                let g = (grad + (p.as_tensor() * c.weight_decay)?)?;
                // Detached: the moments are state, not part of the next step's graph. Kept
                // with their operations, each step's moments held the last step's, its
                // gradients and the parameter's snapshots alive, a chain that grew by several
                // copies of the weights per step (a GPU ran out of memory in 90 steps of
                // twenty Fashion-MNIST models).
                *m = ((&*m * c.beta1)? + (&g * (1.0 - c.beta1))?)?.detach();
                *v = ((&*v * c.beta2)? + (g.sqr()? * (1.0 - c.beta2))?)?.detach();
                let denom = ((v.sqrt()? / bc2.sqrt())? + c.eps)?;
                let update = ((&*m / denom)? * (c.lr / bc1))?;
                p.set(&(p.as_tensor() - update)?)?;
            }
        }
        Ok(())
    }
}

/// Adam as a [`candle_nn::Optimizer`], for code written against candle's optimiser interface
/// (candle's own `AdamW` decouples the weight decay; this one adds it to the gradient, as
/// PyTorch's `Adam`). A parameter without a gradient in the store gets a zero gradient, so its
/// moments still decay, as in PyTorch when the gradient is zero.
impl candle_nn::Optimizer for Adam {
    type Config = AdamConfig;

    fn new(vars: Vec<Var>, config: AdamConfig) -> candle_core::Result<Self> {
        Adam::new(vars, config).map_err(candle_core::Error::wrap)
    }

    fn step(&mut self, grads: &candle_core::backprop::GradStore) -> candle_core::Result<()> {
        let g = self
            .params
            .iter()
            .map(|p| match grads.get(p.as_tensor()) {
                Some(g) => Ok(g.clone()),
                None => p.as_tensor().zeros_like(),
            })
            .collect::<candle_core::Result<Vec<_>>>()?;
        Adam::step(self, &g).map_err(candle_core::Error::wrap)
    }

    fn learning_rate(&self) -> f64 {
        self.lr()
    }

    fn set_learning_rate(&mut self, lr: f64) {
        self.set_lr(lr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    /// The moments of the plain (GPU) path hold no operations after a step, so no step keeps
    /// the earlier ones' tensors alive.
    #[test]
    fn device_moments_keep_no_graph_between_steps() {
        crate::kernels::set_fused_kernels(false);
        let p =
            Var::from_tensor(&Tensor::new(&[0.5f32, -1.0, 2.0], &Device::Cpu).unwrap()).unwrap();
        let mut adam = Adam::new(
            vec![p.clone()],
            AdamConfig {
                weight_decay: 1e-3,
                ..AdamConfig::default()
            },
        )
        .unwrap();
        for _ in 0..3 {
            // A gradient that carries operations, as backward's do.
            let loss = p.as_tensor().sqr().unwrap().sum_all().unwrap();
            let grads = loss.backward().unwrap();
            let g = grads.get(p.as_tensor()).unwrap().clone();
            adam.step(&[g]).unwrap();
        }
        crate::kernels::set_fused_kernels(true);
        let Moments::Device(state) = &adam.moments[0] else {
            panic!("the fused kernels were off: the moments should be device tensors");
        };
        let (m, v) = &*state.lock().unwrap();
        assert!(!m.track_op() && !v.track_op());
        // And the update still moved the parameter toward the minimum at 0.
        let after = p.as_tensor().to_vec1::<f32>().unwrap();
        assert!(
            after[0] < 0.5 && after[1] > -1.0 && after[2] < 2.0,
            "{after:?}"
        );
    }
}
