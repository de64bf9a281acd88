//! AdaGrad with PyTorch's update rule, as a `candle_nn::Optimizer`; DASVDD trains the
//! hypersphere centre with it.
//!
//! PyTorch (`torch.optim.Adagrad`, no weight decay, zero initial accumulator):
//! `clr = lr / (1 + (t - 1) * lr_decay)`, `sum += g^2`, `p -= clr * g / (sqrt(sum) + eps)`.

use candle_core::{backprop::GradStore, Result, Tensor, Var};
use candle_nn::Optimizer;

/// Hyperparameters of [`AdaGrad`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ParamsAdaGrad {
    /// Learning rate (PyTorch default 1e-2).
    pub lr: f64,
    /// Learning-rate decay per step (PyTorch default 0).
    pub lr_decay: f64,
    /// Added to the denominator (PyTorch default 1e-10).
    pub eps: f64,
}

impl Default for ParamsAdaGrad {
    fn default() -> Self {
        ParamsAdaGrad {
            lr: 1e-2,
            lr_decay: 0.0,
            eps: 1e-10,
        }
    }
}

/// AdaGrad over a list of variables.
#[derive(Debug)]
pub struct AdaGrad {
    vars: Vec<(Var, Tensor)>,
    step: usize,
    params: ParamsAdaGrad,
}

impl AdaGrad {
    /// Number of steps taken so far.
    pub fn steps(&self) -> usize {
        self.step
    }
}

impl Optimizer for AdaGrad {
    type Config = ParamsAdaGrad;

    fn new(vars: Vec<Var>, params: ParamsAdaGrad) -> Result<Self> {
        let vars = vars
            .into_iter()
            .filter(|v| v.dtype().is_float())
            .map(|v| {
                let sum = v.zeros_like()?;
                Ok((v, sum))
            })
            .collect::<Result<_>>()?;
        Ok(AdaGrad {
            vars,
            step: 0,
            params,
        })
    }

    fn step(&mut self, grads: &GradStore) -> Result<()> {
        self.step += 1;
        let clr = self.params.lr / (1.0 + (self.step as f64 - 1.0) * self.params.lr_decay);
        for (var, sum) in self.vars.iter_mut() {
            if let Some(g) = grads.get(var) {
                // Detached: the running sum is state; with its operations it would hold every
                // earlier step's gradient (and their graphs) alive.
                *sum = (&*sum + g.sqr()?)?.detach();
                let denom = (sum.sqrt()? + self.params.eps)?;
                let update = ((g / denom)? * clr)?;
                var.set(&var.sub(&update)?)?;
            }
        }
        Ok(())
    }

    fn learning_rate(&self) -> f64 {
        self.params.lr
    }

    fn set_learning_rate(&mut self, lr: f64) {
        self.params.lr = lr;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    /// The running sum of squared gradients holds no operations after a step, so no step
    /// keeps the earlier ones' gradients alive.
    #[test]
    fn the_running_sum_keeps_no_graph_between_steps() {
        let c = Var::from_tensor(&Tensor::new(&[1.0f32, -2.0], &Device::Cpu).unwrap()).unwrap();
        let mut opt = AdaGrad::new(vec![c.clone()], ParamsAdaGrad::default()).unwrap();
        for _ in 0..3 {
            let loss = c.as_tensor().sqr().unwrap().sum_all().unwrap();
            opt.step(&loss.backward().unwrap()).unwrap();
        }
        assert!(!opt.vars[0].1.track_op());
        let after = c.as_tensor().to_vec1::<f32>().unwrap();
        assert!(after[0] < 1.0 && after[1] > -2.0, "{after:?}");
    }
}
