//! One-class Deep SVDD (Ruff et al., "Deep One-Class Classification", ICML 2018), as its
//! reference code (lukasruff/Deep-SVDD-PyTorch) trains it, on one of two networks
//! (`network`):
//! - `mlp` (the default, for tabular data): DASVDD's encoder (e.g. 784-1024-256-256 for MNIST)
//!   without biases, with a leaky ReLU (slope 0.01) after every hidden layer and a linear
//!   output, as the last layer of Ruff's `mnist_LeNet` (`nn.Linear(..., bias=False)`);
//! - `lenet` (for images): Ruff's own convolutional networks, `mnist_LeNet` for 28x28 grey
//!   images and `cifar10_LeNet` for 32x32 colour ones, with batch normalisation
//!   ([`crate::lenet`]); this is what the DASVDD paper ran for its Deep SVDD column.
//!
//! Training, with `c` fixed:
//! 1. optionally, pre-training of a bias-free autoencoder whose encoder is phi (Ruff's
//!    `*_Autoencoder`: a leaky ReLU on the code before the mirrored decoder, the preset's
//!    output activation), with the plain reconstruction loss; phi keeps the trained encoder;
//! 2. `c` = mean of phi's outputs on the training data, every coordinate with `|c_j| < eps`
//!    pushed to `eps` carrying its sign. Ruff's `init_center_c` leaves exact zeros at 0; here
//!    a zero coordinate becomes `+eps`, so `c` never has a zero coordinate (a zero coordinate
//!    is one a network can match trivially with zero weights);
//! 3. Adam with L2 weight decay on the one-class loss `mean_i ||phi(x_i) - c||^2`.
//!
//! The anomaly score is `||phi(x) - c||^2`. Ruff's learning-rate milestones (x0.1 after
//! epoch 50 in his experiments, in both phases) are `lr_milestones` and
//! `pretrain_lr_milestones`, empty by default.
//!
//! This module holds the hyperparameters and the model's types; `train` fits them and `model`
//! scores with and saves a trained model.

use std::ops::ControlFlow;

use candle_core::Device;
use dasvdd_core::mlp::Mlp;
use dasvdd_core::{
    AutoencoderConfig, CoreError, Detector, DetectorParams, EpochProgress, Result, SampleView,
};
use serde::{Deserialize, Serialize};

use crate::ae::{check_non_negative, check_positive, EpochLoss};
use crate::lenet::LenetEncoder;

mod model;
mod train;

/// The network phi of Deep SVDD.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeepSvddNetwork {
    /// A bias-free fully connected encoder sized by `model` (tabular data).
    #[default]
    Mlp,
    /// Ruff's LeNet-type convolutional network, chosen by the input width: 784 features are
    /// 28x28 grey images, 3,072 are 32x32 colour images (`model` is not used).
    Lenet,
}

/// A trained phi.
#[derive(Debug, Clone)]
pub enum Phi {
    /// The fully connected encoder.
    Mlp(Mlp),
    /// The LeNet encoder with its batch norms' running statistics.
    Lenet(LenetEncoder),
}

impl Phi {
    /// The fully connected network, when phi is one.
    pub fn mlp(&self) -> Option<&Mlp> {
        match self {
            Phi::Mlp(m) => Some(m),
            Phi::Lenet(_) => None,
        }
    }
}

/// Method name used on the command line and in model files.
pub const METHOD: &str = "deep_svdd";

/// Hyperparameters of Deep SVDD.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DeepSvddParams {
    /// Which network phi is: `mlp` (default) or `lenet` (Ruff's convolutional networks, for
    /// 28x28 grey and 32x32 colour images).
    pub network: DeepSvddNetwork,
    /// The `mlp` network: phi is its encoder without biases and with a linear output; the
    /// decoder is only used for pre-training. `None` sizes it from the data with
    /// [`AutoencoderConfig::for_input`] (the paper's preset when the width matches one).
    pub model: Option<AutoencoderConfig>,
    /// Epochs of the one-class objective.
    pub epochs: usize,
    /// Batch size of both phases; the last incomplete batch of an epoch is dropped.
    pub batch_size: usize,
    /// Adam learning rate of the one-class objective.
    pub lr: f64,
    /// Adam's L2 weight decay of the one-class objective.
    pub weight_decay: f64,
    /// Epochs after which the one-class learning rate drops tenfold, as PyTorch's
    /// `MultiStepLR(gamma=0.1)` in Ruff's code (his experiments used `[50]`); empty keeps it
    /// constant, the default, for which the AUROCs below were measured.
    pub lr_milestones: Vec<usize>,
    /// Coordinates of the initial mean output closer to 0 than this are pushed to `+-eps`.
    pub center_eps: f64,
    /// Epochs of autoencoder pre-training; 0 starts from the random initialisation.
    pub pretrain_epochs: usize,
    /// Adam learning rate of pre-training.
    pub pretrain_lr: f64,
    /// Adam's L2 weight decay of pre-training.
    pub pretrain_weight_decay: f64,
    /// Epochs after which the pre-training learning rate drops tenfold (Ruff's
    /// `ae_lr_milestone`: `[50]` for MNIST, `[250]` for CIFAR-10); empty keeps it constant.
    pub pretrain_lr_milestones: Vec<usize>,
    /// Seed of the weight initialisation and the shuffling.
    pub seed: u64,
}

impl Default for DeepSvddParams {
    /// Ruff's published experiments (README of Deep-SVDD-PyTorch and Section 4 of the paper):
    /// 150 epochs at learning rate 1e-4 with weight decay 0.5e-6, batch 200, after 150 epochs
    /// of autoencoder pre-training at learning rate 1e-4 with weight decay 0.5e-6 (Ruff's
    /// CIFAR-10 setting; his MNIST command pre-trains with 0.5e-3); `eps = 0.1` as in his
    /// `init_center_c`; seed 0; network sized from the data.
    ///
    /// Measured on Fashion-MNIST class 1 (MNIST preset, 6,000 training images, the first
    /// 2,000 test images, seed 0): AUROC 0.892 with these defaults, 0.864 with Ruff's MNIST
    /// pre-training weight decay 0.5e-3, 0.906 without pre-training (150 epochs) and 0.932
    /// without pre-training after only 10 epochs; the paper's Table 2 reports 0.940 for Ruff's
    /// convolutional network.
    fn default() -> Self {
        DeepSvddParams {
            network: DeepSvddNetwork::Mlp,
            model: None,
            epochs: 150,
            batch_size: 200,
            lr: 1e-4,
            weight_decay: 0.5e-6,
            lr_milestones: Vec::new(),
            center_eps: 0.1,
            pretrain_epochs: 150,
            pretrain_lr: 1e-4,
            pretrain_weight_decay: 0.5e-6,
            pretrain_lr_milestones: Vec::new(),
            seed: 0,
        }
    }
}

/// Pushes every coordinate with `|c_j| < eps` to `eps` with the sign of `c_j` (`+eps` for 0).
pub fn push_from_zero(center: &mut [f32], eps: f32) {
    for v in center.iter_mut() {
        if v.abs() < eps {
            *v = if *v < 0.0 { -eps } else { eps };
        }
    }
}

impl DeepSvddParams {
    /// Checks every hyperparameter is in its valid range.
    pub fn validate(&self) -> Result<()> {
        if self.epochs == 0 {
            return Err(CoreError::param("epochs", "must be at least 1"));
        }
        if self.batch_size == 0 {
            return Err(CoreError::param("batch_size", "must be at least 1"));
        }
        check_positive("lr", self.lr)?;
        check_non_negative("weight_decay", self.weight_decay)?;
        check_positive("center_eps", self.center_eps)?;
        check_positive("pretrain_lr", self.pretrain_lr)?;
        check_non_negative("pretrain_weight_decay", self.pretrain_weight_decay)?;
        if let Some(m) = &self.model {
            m.validate()?;
        }
        Ok(())
    }
}

impl DetectorParams for DeepSvddParams {
    fn fit_detector(&self, x: SampleView<'_>, device: &Device) -> Result<Box<dyn Detector>> {
        Ok(Box::new(self.fit(x, device)?))
    }

    fn fit_observed(
        &self,
        x: SampleView<'_>,
        device: &Device,
        observer: &mut dyn FnMut(&EpochProgress) -> ControlFlow<()>,
    ) -> Result<Box<dyn Detector>> {
        let (epochs, pretrain) = (self.epochs, self.pretrain_epochs);
        // Both callbacks report to the one observer, which a RefCell lends to each in turn.
        let observer = std::cell::RefCell::new(observer);
        let model = self.fit_until(
            x,
            device,
            &mut |r| (observer.borrow_mut())(&r.progress("pretrain", pretrain)),
            &mut |r| (observer.borrow_mut())(&r.progress("train", epochs)),
        )?;
        Ok(Box::new(model))
    }
}

/// A trained Deep SVDD model.
#[derive(Debug, Clone)]
pub struct DeepSvddModel {
    /// The hyperparameters, with `model` set to the network actually used.
    pub params: DeepSvddParams,
    /// phi: a bias-free fully connected network (leaky ReLU hidden layers, linear output) or
    /// Ruff's LeNet.
    pub network: Phi,
    /// The hypersphere centre c (no coordinate closer to 0 than `center_eps`).
    pub center: Vec<f32>,
    /// The mean one-class loss of every epoch.
    pub history: Vec<EpochLoss>,
    /// The mean reconstruction loss of every pre-training epoch (empty without pre-training).
    pub pretrain_history: Vec<EpochLoss>,
    /// Preprocessing statistics of the training data, as JSON chosen by the caller; stored in
    /// the model file so that scoring can apply the same transformation.
    pub preprocessing: Option<String>,
    device: Device,
}
