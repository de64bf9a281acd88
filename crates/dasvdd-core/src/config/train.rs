//! The training hyperparameters of Algorithm 1 ([`TrainConfig`]) and the choices they are
//! made of (gamma, the centre, the SVDD term, the centre gradient, the gamma norm).

use serde::{Deserialize, Serialize};

use super::Variant;
use crate::error::{CoreError, Result};

/// Most initialisations the gamma heuristic of eq. (6) may average over (the paper uses 10).
pub const MAX_GAMMA_TRIALS: usize = 1 << 16;

/// How gamma, the weight of the SVDD term, is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GammaChoice {
    /// The heuristic of eq. (6): over `trials` fresh random initialisations (no training,
    /// c = 0), the mean of (mean reconstruction error) / (mean ||z||^2) on the training set.
    Heuristic {
        /// Number T of random initialisations averaged.
        trials: usize,
    },
    /// A value given by the user.
    Fixed(f64),
}

/// How the hypersphere centre c is obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CenterMode {
    /// Initialised from N(0, 1) and trained with AdaGrad on the centre split (Algorithm 1).
    Trained,
    /// The ablation of Table 3: set once to the mean code of the untrained network on the
    /// training data and never trained (as Deep SVDD does).
    FixedMeanCode,
}

/// Which samples of a batch the SVDD term of the network loss covers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SvddTerm {
    /// The batch mean of ||z - c||^2, as eq. (3) of the paper (and the 2026 reference code).
    #[default]
    BatchMean,
    /// ||z - c||^2 of the first sample of the batch only, as the 2021 reference code that
    /// produced the paper's numbers.
    FirstSample,
}

/// Whether the centre's gradient is cleared before each centre step.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CenterGrad {
    /// Cleared, as PyTorch's `zero_grad` (the 2026 reference code).
    #[default]
    Reset,
    /// Never cleared, so the gradients of all centre steps add up (the 2021 reference code).
    Accumulate,
}

/// Which samples enter the mean squared code norm of the gamma heuristic (eq. 6).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GammaNorm {
    /// Every training sample, as the paper.
    #[default]
    AllSamples,
    /// The first sample of each batch of `batch_size`, as the 2021 reference code.
    FirstOfBatch,
}

/// Training hyperparameters (Algorithm 1 and Section 4.3 of the paper).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TrainConfig {
    /// Number of epochs (paper: 300).
    pub epochs: usize,
    /// Batch size (paper: 200); the last incomplete batch of an epoch is dropped.
    pub batch_size: usize,
    /// Fraction of each batch that trains the network; the rest trains c (paper: 0.9).
    pub kappa: f64,
    /// Adam learning rate of the network (paper: 1e-3; Speech 1e-4).
    pub lr: f64,
    /// Adam's L2 weight decay lambda (paper: 1e-7), as PyTorch's `Adam(weight_decay=...)`.
    pub weight_decay: f64,
    /// AdaGrad learning rate of the centre (MNIST/FMNIST 1, CIFAR-10 0.01, Speech/PIMA 0.1).
    pub center_lr: f64,
    /// AdaGrad learning-rate decay of the centre (paper: 0.1; the published code: 0.01).
    pub center_lr_decay: f64,
    /// How gamma is chosen.
    pub gamma: GammaChoice,
    /// How c is obtained.
    pub center: CenterMode,
    /// Seed of the weight initialisation, the centre initialisation and the shuffling.
    pub seed: u64,
    /// The paper's batch mean, or the 2021 code's first sample.
    pub svdd_term: SvddTerm,
    /// The centre's gradient cleared each step, or accumulated as the 2021 code did.
    pub center_grad: CenterGrad,
    /// The gamma heuristic over all samples, or the 2021 code's first sample per batch.
    pub gamma_norm: GammaNorm,
    /// The variant whose choices filled the settings not given explicitly; the benchmark also
    /// takes the data choices (CIFAR-10's GCN, Speech's training rows) from it.
    pub variant: Variant,
}

impl Default for TrainConfig {
    /// The default [`Variant`]'s settings for a network without a preset.
    fn default() -> Self {
        Variant::default().train_config(None)
    }
}

impl TrainConfig {
    /// Checks every hyperparameter is in its valid range.
    pub fn validate(&self) -> Result<()> {
        if self.epochs == 0 {
            return Err(CoreError::param("epochs", "must be at least 1"));
        }
        if self.batch_size == 0 {
            return Err(CoreError::param("batch_size", "must be at least 1"));
        }
        if !(self.kappa > 0.0 && self.kappa <= 1.0) {
            return Err(CoreError::param(
                "kappa",
                format!("{} is not in (0, 1]", self.kappa),
            ));
        }
        for (name, v) in [("lr", self.lr), ("center_lr", self.center_lr)] {
            if !(v.is_finite() && v > 0.0) {
                return Err(CoreError::param(
                    name,
                    format!("{v} is not a positive number"),
                ));
            }
        }
        for (name, v) in [
            ("weight_decay", self.weight_decay),
            ("center_lr_decay", self.center_lr_decay),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(CoreError::param(
                    name,
                    format!("{v} is not a non-negative number"),
                ));
            }
        }
        match self.gamma {
            GammaChoice::Heuristic { trials: 0 } => {
                return Err(CoreError::param("gamma_trials", "must be at least 1"))
            }
            // Each trial initialises a network and scores the data, with no way to stop them:
            // a mistyped count would run for ever.
            GammaChoice::Heuristic { trials } if trials > MAX_GAMMA_TRIALS => {
                return Err(CoreError::param(
                    "gamma_trials",
                    format!("{trials} is more than {MAX_GAMMA_TRIALS}"),
                ))
            }
            GammaChoice::Fixed(g) if !(g.is_finite() && g >= 0.0) => {
                return Err(CoreError::param(
                    "gamma",
                    format!("{g} is not a non-negative number"),
                ))
            }
            _ => {}
        }
        Ok(())
    }

    /// Samples of a batch of `batch` that train the network: ceil(kappa * batch).
    pub fn network_split(&self, batch: usize) -> usize {
        // The small epsilon keeps 0.9 * 200 = 180.00000000000003 from rounding up to 181.
        ((self.kappa * batch as f64) - 1e-9)
            .ceil()
            .clamp(1.0, batch as f64) as usize
    }
}
