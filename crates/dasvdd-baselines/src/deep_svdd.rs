//! One-class Deep SVDD (Ruff et al., "Deep One-Class Classification", ICML 2018), as its
//! reference code (lukasruff/Deep-SVDD-PyTorch) trains it, on the fully connected encoder of
//! the DASVDD presets.
//!
//! The network phi is DASVDD's encoder (e.g. 784-1024-256-256 for MNIST) without biases, with a
//! leaky ReLU (slope 0.01) after every hidden layer and a linear output, as the last layer of
//! Ruff's `mnist_LeNet` (`nn.Linear(..., bias=False)`, no activation). Ruff's convolutions and
//! batch normalisation are not used: the paper compares the methods on one network family.
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
//! The anomaly score is `||phi(x) - c||^2`. Ruff's learning-rate milestone (x0.1 after
//! epoch 50) is not applied: the core's Adam has a fixed learning rate.

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::path::Path;

use candle_core::{Device, Tensor};
use dasvdd_core::autoencoder::SCORE_BATCH;
use dasvdd_core::checkpoint::{self, Checkpoint};
use dasvdd_core::dasvdd::seeded_rng;
use dasvdd_core::kernels::svdd_grad;
use dasvdd_core::mlp::Mlp;
use dasvdd_core::{
    Activation, Adam, AdamConfig, Autoencoder, AutoencoderConfig, CoreError, Detector,
    DetectorParams, Result, SampleView,
};
use serde::{Deserialize, Serialize};

use crate::ae::{
    check_non_negative, check_positive, effective_batch, mlp_tensors, resolve_network, run_epochs,
    stream, to_json, EpochLoss,
};

/// Method name used on the command line and in model files.
pub const METHOD: &str = "deep_svdd";

/// Hyperparameters of Deep SVDD.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DeepSvddParams {
    /// The network: phi is its encoder without biases and with a linear output; the decoder
    /// is only used for pre-training. `None` sizes it from the data with
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

/// Outputs of `net` on `x`, batched, row-major `(rows, output width)`.
fn forward_batched(net: &Mlp, x: SampleView<'_>, device: &Device) -> Result<Vec<f32>> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < x.rows() {
        let end = (start + SCORE_BATCH).min(x.rows());
        let xt = Tensor::from_slice(
            x.slice_rows(start, end).data(),
            (end - start, x.cols()),
            device,
        )?;
        out.extend(net.forward(&xt)?.flatten_all()?.to_vec1::<f32>()?);
        start = end;
    }
    Ok(out)
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

    /// Trains Deep SVDD on the normal samples `x`.
    pub fn fit(&self, x: SampleView<'_>, device: &Device) -> Result<DeepSvddModel> {
        self.fit_with_progress(x, device, &mut |_| {}, &mut |_| {})
    }

    /// Trains Deep SVDD on the normal samples `x`, calling `on_pretrain_epoch` after every
    /// pre-training epoch and `on_epoch` after every epoch of the one-class objective.
    pub fn fit_with_progress(
        &self,
        x: SampleView<'_>,
        device: &Device,
        on_pretrain_epoch: &mut dyn FnMut(&EpochLoss),
        on_epoch: &mut dyn FnMut(&EpochLoss),
    ) -> Result<DeepSvddModel> {
        self.fit_until(
            x,
            device,
            &mut |e| {
                on_pretrain_epoch(e);
                ControlFlow::Continue(())
            },
            &mut |e| {
                on_epoch(e);
                ControlFlow::Continue(())
            },
        )
    }

    /// [`DeepSvddParams::fit_with_progress`], stopped with [`CoreError::Interrupted`] as soon
    /// as a callback returns [`ControlFlow::Break`].
    pub fn fit_until(
        &self,
        x: SampleView<'_>,
        device: &Device,
        on_pretrain_epoch: &mut dyn FnMut(&EpochLoss) -> ControlFlow<()>,
        on_epoch: &mut dyn FnMut(&EpochLoss) -> ControlFlow<()>,
    ) -> Result<DeepSvddModel> {
        self.validate()?;
        let config = resolve_network(&self.model, x.cols())?;
        let batch = effective_batch(self.batch_size, x.rows(), METHOD)?;

        // phi is built with a leaky ReLU on its output so that, during pre-training, the
        // decoder reads leaky_relu(code) as in Ruff's autoencoders; the output becomes linear
        // before the one-class phase. The activation does not change the initial weights.
        let mut rng = seeded_rng(self.seed, stream::WEIGHTS);
        let mut net = Mlp::init(
            &mut rng,
            &config.encoder_widths(),
            false,
            Activation::LeakyRelu,
            Activation::LeakyRelu,
            device,
        )?;
        let mut pretrain_history = Vec::new();
        if self.pretrain_epochs > 0 {
            let decoder = Mlp::init(
                &mut rng,
                &config.decoder_widths(),
                false,
                Activation::LeakyRelu,
                config.output_activation,
                device,
            )?;
            let ae = Autoencoder {
                config: config.clone(),
                encoder: net,
                decoder,
            };
            let mut adam = Adam::new(
                ae.vars(),
                AdamConfig {
                    lr: self.pretrain_lr,
                    weight_decay: self.pretrain_weight_decay,
                    ..AdamConfig::default()
                },
            )?;
            pretrain_history = run_epochs(
                x,
                self.pretrain_epochs,
                batch,
                &mut seeded_rng(self.seed, stream::PRETRAIN_SHUFFLE),
                device,
                "deep_svdd pretrain",
                "pre-training reconstruction loss",
                &mut |_, xb| Ok(ae.train_step(xb, None, &mut adam)?.reconstruction),
                on_pretrain_epoch,
            )?;
            net = ae.encoder;
        }
        if let Some(last) = net.layers.last_mut() {
            last.activation = Activation::Identity;
        }

        let mut center = net.mean_output(x, device)?;
        push_from_zero(&mut center, self.center_eps as f32);
        tracing::info!(
            norm = center
                .iter()
                .map(|v| f64::from(*v).powi(2))
                .sum::<f64>()
                .sqrt(),
            "deep_svdd centre fixed to the mean initial output"
        );
        let c = Tensor::from_slice(&center, center.len(), device)?;

        let mut adam = Adam::new(
            net.vars(),
            AdamConfig {
                lr: self.lr,
                weight_decay: self.weight_decay,
                ..AdamConfig::default()
            },
        )?;
        let history = run_epochs(
            x,
            self.epochs,
            batch,
            &mut seeded_rng(self.seed, stream::SHUFFLE),
            device,
            METHOD,
            "one-class loss",
            &mut |epoch, xb| {
                // Ruff's MultiStepLR: the learning rate drops tenfold after each milestone.
                let passed = self.lr_milestones.iter().filter(|&&m| epoch > m).count();
                adam.set_lr(self.lr * 0.1f64.powi(passed as i32));
                let acts = net.forward_train(xb)?;
                let z = acts
                    .last()
                    .expect("forward_train returns the input and every layer's output");
                // With a zero gradient and weight 1, svdd_grad yields the gradient of
                // mean_i ||z_i - c||^2; the output is linear, so it is also the gradient of
                // the last pre-activation.
                let (g, loss) = svdd_grad(z.zeros_like()?, z, &c, 1.0, false)?;
                let (grads, _) = net.backward(&acts, g, false)?;
                adam.step(&Mlp::flatten_grads(grads))?;
                Ok(loss)
            },
            on_epoch,
        )?;
        if !net.all_finite()? {
            return Err(CoreError::Diverged {
                epoch: self.epochs,
                what: "a network weight",
                value: f64::NAN,
            });
        }
        Ok(DeepSvddModel {
            params: DeepSvddParams {
                model: Some(config),
                ..self.clone()
            },
            network: net,
            center,
            history,
            pretrain_history,
            preprocessing: None,
            device: device.clone(),
        })
    }
}

impl DetectorParams for DeepSvddParams {
    fn fit_detector(&self, x: SampleView<'_>, device: &Device) -> Result<Box<dyn Detector>> {
        Ok(Box::new(self.fit(x, device)?))
    }
}

/// A trained Deep SVDD model.
#[derive(Debug, Clone)]
pub struct DeepSvddModel {
    /// The hyperparameters, with `model` set to the network actually used.
    pub params: DeepSvddParams,
    /// phi: bias-free, leaky ReLU hidden layers, linear output.
    pub network: Mlp,
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

impl DeepSvddModel {
    /// The network's input width.
    fn input_dim(&self) -> usize {
        self.network.layers.first().map(|l| l.dims().1).unwrap_or(0)
    }

    /// phi(x) for every sample, row-major `(rows, center.len())`.
    pub fn embed(&self, x: SampleView<'_>) -> Result<Vec<f32>> {
        x.expect_cols(self.input_dim())?;
        forward_batched(&self.network, x, &self.device)
    }

    /// The device the model lives on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Loads a model written by [`Detector::save`] onto `device`.
    pub fn load(path: &Path, device: &Device) -> Result<Self> {
        let ck = Checkpoint::open(path)?;
        ck.expect_method(METHOD)?;
        let params: DeepSvddParams = ck.meta_json("params")?;
        params
            .validate()
            .map_err(|e| ck.error(format!("metadata `params`: {e}")))?;
        let config = params
            .model
            .clone()
            .ok_or_else(|| ck.error("metadata `params` does not name the network"))?;
        // The network is built from the file's tensors once its size is checked against the
        // file: a hostile `params.model` cannot make this allocate more than the file holds.
        let widths = config.encoder_widths();
        ck.check_tensor("center", &[config.latent])?;
        ck.expect_parameters("params", Mlp::parameter_count(&widths, false))?;
        let network = Mlp::load(
            &ck,
            "net",
            &widths,
            false,
            Activation::LeakyRelu,
            Activation::Identity,
            device,
        )?;
        // Checkpoint::tensor refuses non-finite values.
        let center = ck
            .tensor("center", &[config.latent], &Device::Cpu)?
            .to_vec1::<f32>()?;
        Ok(DeepSvddModel {
            history: ck.meta_json("history").unwrap_or_default(),
            pretrain_history: ck.meta_json("pretrain_history").unwrap_or_default(),
            preprocessing: ck.metadata().get("preprocessing").cloned(),
            params,
            network,
            center,
            device: device.clone(),
        })
    }
}

impl Detector for DeepSvddModel {
    fn method(&self) -> &'static str {
        METHOD
    }

    fn n_features(&self) -> usize {
        self.input_dim()
    }

    /// `||phi(x) - c||^2`, summed in f64.
    fn score(&self, x: SampleView<'_>) -> Result<Vec<f64>> {
        let z = self.embed(x)?;
        let k = self.center.len().max(1);
        Ok(z.chunks_exact(k)
            .map(|row| {
                row.iter()
                    .zip(&self.center)
                    .map(|(a, b)| f64::from(a - b).powi(2))
                    .sum()
            })
            .collect())
    }

    fn save(&self, path: &Path) -> Result<()> {
        let mut tensors = mlp_tensors("net", &self.network)?;
        tensors.push((
            "center".into(),
            Tensor::from_slice(&self.center, self.center.len(), &Device::Cpu)?,
        ));
        let mut meta = HashMap::new();
        meta.insert("method".to_string(), METHOD.to_string());
        meta.insert("params".to_string(), to_json(&self.params));
        meta.insert("seed".to_string(), self.params.seed.to_string());
        meta.insert("history".to_string(), to_json(&self.history));
        meta.insert(
            "pretrain_history".to_string(),
            to_json(&self.pretrain_history),
        );
        if let Some(p) = &self.preprocessing {
            meta.insert("preprocessing".to_string(), p.clone());
        }
        checkpoint::save(path, &tensors, meta)
    }
}
