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
use dasvdd_core::mlp::{mean_output_of, Mlp};
use dasvdd_core::{
    Activation, Adam, AdamConfig, Autoencoder, AutoencoderConfig, CoreError, Detector,
    DetectorParams, EpochProgress, Result, SampleView,
};
use serde::{Deserialize, Serialize};

use crate::ae::{
    check_non_negative, check_positive, effective_batch, mlp_tensors, resolve_network, run_epochs,
    stream, to_json, EpochLoss,
};
use crate::lenet::{LenetAutoencoder, LenetEncoder, LenetKind};

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

/// `forward` applied to `x` in batches of [`SCORE_BATCH`] rows, concatenated row-major.
fn forward_batched(
    x: SampleView<'_>,
    device: &Device,
    forward: &dyn Fn(&Tensor) -> Result<Tensor>,
) -> Result<Vec<f32>> {
    let mut out = Vec::new();
    for chunk in x.chunks(SCORE_BATCH) {
        out.extend(
            forward(&chunk.to_tensor(device)?)?
                .flatten_all()?
                .to_vec1::<f32>()?,
        );
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
        let data = Batches {
            x,
            batch: effective_batch(self.batch_size, x.rows(), METHOD)?,
            device,
        };
        if self.network == DeepSvddNetwork::Lenet {
            return self.fit_lenet(&data, on_pretrain_epoch, on_epoch);
        }
        let config = resolve_network(&self.model, x.cols())?;

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
            pretrain_history = self.adam_epochs(
                &data,
                Phase::Pretrain,
                ae.vars(),
                &mut |xb, adam| Ok(ae.train_step(xb, None, adam)?.reconstruction),
                on_pretrain_epoch,
            )?;
            net = ae.encoder;
        }
        if let Some(last) = net.layers.last_mut() {
            last.activation = Activation::Identity;
        }

        let (center, c) = self.fixed_center(net.mean_output(x, device)?, device)?;
        let history = self.adam_epochs(
            &data,
            Phase::OneClass,
            net.vars(),
            &mut |xb, adam| {
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
        let params = DeepSvddParams {
            model: Some(config),
            ..self.clone()
        };
        self.finish(
            params,
            Phi::Mlp(net),
            center,
            (history, pretrain_history),
            device,
        )
    }

    /// The learning rate of the one-class phase at `epoch`: Ruff's `MultiStepLR` drops it
    /// tenfold after each milestone.
    fn lr_at(&self, epoch: usize) -> f64 {
        let passed = self.lr_milestones.iter().filter(|&&m| epoch > m).count();
        self.lr * 0.1f64.powi(passed as i32)
    }

    /// Runs `phase` (its epochs, shuffling stream, learning rate and weight decay): a fresh
    /// Adam over `vars`, and `step(batch, adam)`, which returns the batch loss, on every batch.
    fn adam_epochs(
        &self,
        data: &Batches<'_>,
        phase: Phase,
        vars: Vec<candle_core::Var>,
        step: &mut dyn FnMut(&Tensor, &mut Adam) -> Result<f64>,
        on_epoch: &mut dyn FnMut(&EpochLoss) -> ControlFlow<()>,
    ) -> Result<Vec<EpochLoss>> {
        let (epochs, shuffle, label, what, weight_decay) = match phase {
            Phase::Pretrain => (
                self.pretrain_epochs,
                stream::PRETRAIN_SHUFFLE,
                "deep_svdd pretrain",
                "pre-training reconstruction loss",
                self.pretrain_weight_decay,
            ),
            Phase::OneClass => (
                self.epochs,
                stream::SHUFFLE,
                METHOD,
                "one-class loss",
                self.weight_decay,
            ),
        };
        let lr_at = |epoch| match phase {
            Phase::Pretrain => self.pretrain_lr,
            Phase::OneClass => self.lr_at(epoch),
        };
        let mut adam = Adam::new(
            vars,
            AdamConfig {
                lr: lr_at(1),
                weight_decay,
                ..AdamConfig::default()
            },
        )?;
        run_epochs(
            data.x,
            epochs,
            data.batch,
            &mut seeded_rng(self.seed, shuffle),
            data.device,
            label,
            what,
            &mut |epoch, xb| {
                adam.set_lr(lr_at(epoch));
                step(xb, &mut adam)
            },
            on_epoch,
        )
    }

    /// The fixed centre from the mean output `mean` of the initial (or pre-trained) network:
    /// coordinates near zero pushed to `+-center_eps`; also as a tensor on `device`.
    fn fixed_center(&self, mut mean: Vec<f32>, device: &Device) -> Result<(Vec<f32>, Tensor)> {
        push_from_zero(&mut mean, self.center_eps as f32);
        tracing::info!(
            norm = mean
                .iter()
                .map(|v| f64::from(*v).powi(2))
                .sum::<f64>()
                .sqrt(),
            "deep_svdd centre fixed to the mean initial output"
        );
        let c = Tensor::from_slice(&mean, mean.len(), device)?;
        Ok((mean, c))
    }

    /// The trained model, once every weight of `network` is checked to be finite.
    fn finish(
        &self,
        params: DeepSvddParams,
        network: Phi,
        center: Vec<f32>,
        (history, pretrain_history): (Vec<EpochLoss>, Vec<EpochLoss>),
        device: &Device,
    ) -> Result<DeepSvddModel> {
        let finite = match &network {
            Phi::Mlp(m) => m.all_finite()?,
            Phi::Lenet(l) => l.all_finite()?,
        };
        if !finite {
            return Err(CoreError::Diverged {
                epoch: self.epochs,
                what: "a network weight",
                value: f64::NAN,
            });
        }
        Ok(DeepSvddModel {
            params,
            network,
            center,
            history,
            pretrain_history,
            preprocessing: None,
            device: device.clone(),
        })
    }

    /// Deep SVDD on Ruff's LeNet network, trained as his code trains it: autoencoder
    /// pre-training with the summed squared error per image (mean over the batch), the centre
    /// from the pre-trained network in evaluation mode, then the one-class loss with the
    /// network in training mode (batch statistics).
    fn fit_lenet(
        &self,
        data: &Batches<'_>,
        on_pretrain_epoch: &mut dyn FnMut(&EpochLoss) -> ControlFlow<()>,
        on_epoch: &mut dyn FnMut(&EpochLoss) -> ControlFlow<()>,
    ) -> Result<DeepSvddModel> {
        let (x, device) = (data.x, data.device);
        let kind = LenetKind::for_input(x.cols())?;
        let mut rng = seeded_rng(self.seed, stream::WEIGHTS);
        let mut net = LenetEncoder::init(kind, &mut rng, device)?;
        let mut pretrain_history = Vec::new();
        if self.pretrain_epochs > 0 {
            let mut ae = LenetAutoencoder::init(net, &mut rng, device)?;
            pretrain_history = self.adam_epochs(
                data,
                Phase::Pretrain,
                ae.vars(),
                &mut |xb, adam| {
                    let rec = ae.forward_train(xb)?;
                    autograd_step(&(rec - xb)?.sqr()?.sum(1)?.mean_all()?, adam)
                },
                on_pretrain_epoch,
            )?;
            net = ae.encoder;
        }

        let mean = mean_output_of(x, device, kind.rep_dim(), &|t| net.forward_eval(t))?;
        let (center, c) = self.fixed_center(mean, device)?;
        let history = self.adam_epochs(
            data,
            Phase::OneClass,
            net.vars(),
            &mut |xb, adam| {
                let z = net.forward_train(xb)?;
                autograd_step(&z.broadcast_sub(&c)?.sqr()?.sum(1)?.mean_all()?, adam)
            },
            on_epoch,
        )?;
        let params = self.clone();
        self.finish(
            params,
            Phi::Lenet(net),
            center,
            (history, pretrain_history),
            device,
        )
    }
}

/// The training samples with their batch size and device, as every phase reads them.
struct Batches<'a> {
    x: SampleView<'a>,
    batch: usize,
    device: &'a Device,
}

/// The two training phases of Deep SVDD.
#[derive(Clone, Copy)]
enum Phase {
    /// Autoencoder pre-training: `pretrain_*` settings, its own shuffling stream.
    Pretrain,
    /// The one-class objective: `epochs`, `lr` with its milestones, `weight_decay`.
    OneClass,
}

/// One Adam step on `loss`'s gradients (candle's autograd, through Adam's
/// [`candle_nn::Optimizer`] interface); returns the loss.
fn autograd_step(loss: &Tensor, adam: &mut Adam) -> Result<f64> {
    candle_nn::Optimizer::backward_step(adam, loss)?;
    Ok(f64::from(loss.to_scalar::<f32>()?))
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
            &mut |r| {
                (observer.borrow_mut())(&EpochProgress {
                    phase: "pretrain",
                    epoch: r.epoch,
                    epochs: pretrain,
                    loss: r.loss,
                })
            },
            &mut |r| {
                (observer.borrow_mut())(&EpochProgress {
                    phase: "train",
                    epoch: r.epoch,
                    epochs,
                    loss: r.loss,
                })
            },
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

impl DeepSvddModel {
    /// The network's input width.
    fn input_dim(&self) -> usize {
        match &self.network {
            Phi::Mlp(m) => m.layers.first().map(|l| l.dims().1).unwrap_or(0),
            Phi::Lenet(l) => {
                let (c, h, w) = l.kind.input_shape();
                c * h * w
            }
        }
    }

    /// phi(x) for every sample, row-major `(rows, center.len())`.
    pub fn embed(&self, x: SampleView<'_>) -> Result<Vec<f32>> {
        x.expect_cols(self.input_dim())?;
        match &self.network {
            Phi::Mlp(m) => forward_batched(x, &self.device, &|xt| m.forward(xt)),
            Phi::Lenet(l) => forward_batched(x, &self.device, &|xt| l.forward_eval(xt)),
        }
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
        if params.network == DeepSvddNetwork::Lenet {
            // The shapes are fixed by the kind, a closed set: nothing here is sized by the file.
            let kind: LenetKind = ck.meta_json("lenet")?;
            ck.check_tensor("center", &[kind.rep_dim()])?;
            let network = LenetEncoder::load(&ck, "net", kind, device)?;
            let center = ck
                .tensor("center", &[kind.rep_dim()], &Device::Cpu)?
                .to_vec1::<f32>()?;
            return Ok(DeepSvddModel {
                history: ck.meta_json("history").unwrap_or_default(),
                pretrain_history: ck.meta_json("pretrain_history").unwrap_or_default(),
                preprocessing: ck.metadata().get("preprocessing").cloned(),
                params,
                network: Phi::Lenet(network),
                center,
                device: device.clone(),
            });
        }
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
            network: Phi::Mlp(network),
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
        let mut meta = HashMap::new();
        let mut tensors = match &self.network {
            Phi::Mlp(m) => mlp_tensors("net", m)?,
            Phi::Lenet(l) => {
                meta.insert("lenet".to_string(), to_json(&l.kind));
                l.tensors("net")?
            }
        };
        tensors.push((
            "center".into(),
            Tensor::from_slice(&self.center, self.center.len(), &Device::Cpu)?,
        ));
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
