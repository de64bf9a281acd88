//! The autoencoder baseline of the paper (Section 4.2): the same network as DASVDD (the
//! preset's `AutoencoderConfig`, or one sized from the data), trained on normal samples with
//! the plain mean squared reconstruction error and Adam; the anomaly score of a sample is its
//! mean squared reconstruction error.
//!
//! The network, its fused training step and the optimiser are the core crate's
//! ([`dasvdd_core::Autoencoder::train_step`] without a centre trains exactly the MSE loss).
//! This file also holds the few pieces the two deep baselines share: the epoch record, batch
//! gathering, parameter checks and reading and writing `Mlp` weights in PyTorch's layout.

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::path::Path;

use candle_core::{Device, Tensor};
use dasvdd_core::checkpoint::{self, Checkpoint};
use dasvdd_core::dasvdd::seeded_rng;
use dasvdd_core::mlp::Mlp;
use dasvdd_core::stack;
use dasvdd_core::{
    AdamConfig, Autoencoder, AutoencoderConfig, CoreError, Detector, DetectorParams, EpochProgress,
    Result, SampleView,
};
use serde::{Deserialize, Serialize};

/// Method name used on the command line and in model files.
pub const METHOD: &str = "ae";

/// Random streams drawn from the one seed. The numbers are those DASVDD uses for its weights
/// and its shuffling, so an autoencoder and a DASVDD model with the same seed and network start
/// from the same weights and see the batches in the same order.
pub(crate) mod stream {
    pub use dasvdd_core::dasvdd::stream::{SHUFFLE, WEIGHTS};
    /// Shuffling of Deep SVDD's autoencoder pre-training.
    pub const PRETRAIN_SHUFFLE: u64 = 3;
}

/// The loss of one training epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochLoss {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Mean over the epoch's batches of the batch loss.
    pub loss: f64,
    /// Wall-clock seconds of the epoch.
    pub seconds: f64,
}

impl EpochLoss {
    /// The record as the detector interface's progress report, in training `phase` of
    /// `epochs` epochs.
    pub fn progress(&self, phase: &'static str, epochs: usize) -> EpochProgress {
        EpochProgress {
            phase,
            epoch: self.epoch,
            epochs,
            loss: self.loss,
        }
    }
}

/// Hyperparameters of the autoencoder baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AeParams {
    /// The network; `None` sizes it from the data with [`AutoencoderConfig::for_input`] (the
    /// paper's preset when the width matches one).
    pub model: Option<AutoencoderConfig>,
    /// Number of epochs.
    pub epochs: usize,
    /// Batch size; the last incomplete batch of an epoch is dropped.
    pub batch_size: usize,
    /// Adam learning rate.
    pub lr: f64,
    /// Adam's L2 weight decay, as PyTorch's `Adam(weight_decay=...)`.
    pub weight_decay: f64,
    /// Seed of the weight initialisation and the shuffling.
    pub seed: u64,
}

impl Default for AeParams {
    /// DASVDD's training setting (Section 4.3), since the paper trains the AE baseline like its
    /// own autoencoder: 300 epochs, batch 200, Adam with learning rate 1e-3 and weight decay
    /// 1e-7, seed 0, network sized from the data.
    fn default() -> Self {
        AeParams {
            model: None,
            epochs: 300,
            batch_size: 200,
            lr: 1e-3,
            weight_decay: 1e-7,
            seed: 0,
        }
    }
}

/// Errors unless `value` is finite and positive.
pub(crate) fn check_positive(name: &'static str, value: f64) -> Result<()> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(CoreError::param(
            name,
            format!("{value} is not a positive number"),
        ))
    }
}

/// Errors unless `value` is finite and not negative.
pub(crate) fn check_non_negative(name: &'static str, value: f64) -> Result<()> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(CoreError::param(
            name,
            format!("{value} is not a non-negative number"),
        ))
    }
}

/// The network for samples of `cols` features: `model` when given (its input width must
/// match), else one sized from the data.
pub(crate) fn resolve_network(
    model: &Option<AutoencoderConfig>,
    cols: usize,
) -> Result<AutoencoderConfig> {
    let config = match model {
        Some(c) => c.clone(),
        None => AutoencoderConfig::for_input(cols),
    };
    config.validate()?;
    if config.input_dim != cols {
        return Err(CoreError::InvalidInput(format!(
            "samples have {cols} features but the network expects {}",
            config.input_dim
        )));
    }
    Ok(config)
}

pub(crate) use dasvdd_core::epochs::{check_weights, continuing, effective_batch};

/// The core's one epoch loop ([`dasvdd_core::epochs::run_epochs_stacked`]) for a stack of
/// models with one loss term each, trained at once: `step` gets the stacked batch
/// `(models, rows, cols)` (model `m`'s rows of `xs[m]`, in its own order from
/// `shuffle_rngs[m]`) gathered onto `device` and returns each model's loss; each epoch's mean
/// loss is emitted as a `tracing` event named by `label` and passed to `on_epoch`; a
/// non-finite batch loss ends that model with an error naming the epoch and `what`. One
/// result per model.
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
pub(crate) fn run_epochs_stacked(
    xs: &[SampleView<'_>],
    epochs: usize,
    batch: usize,
    shuffle_rngs: &mut [rand_chacha::ChaCha8Rng],
    device: &Device,
    label: &'static str,
    what: &'static str,
    step: &mut (dyn FnMut(usize, &Tensor) -> Result<Vec<f64>> + Send),
    on_epoch: &mut dyn FnMut(usize, &EpochLoss) -> ControlFlow<()>,
) -> Result<Vec<Result<Vec<EpochLoss>>>> {
    let samples = dasvdd_core::detector::StackSamples::new(xs, device)?;
    dasvdd_core::epochs::run_epochs_stacked(
        xs.first().map_or(0, |x| x.rows()),
        epochs,
        batch,
        shuffle_rngs,
        [what],
        dasvdd_core::kernels::fused_on(device),
        &mut |epoch, rows| {
            let xb = samples.gather(rows)?;
            Ok(step(epoch, &xb)?.into_iter().map(|l| [l]).collect())
        },
        &mut |_, m| Ok(epoch_loss(label, m)),
        on_epoch,
    )
}

/// The epoch record of a one-term loop, also emitted as a `tracing` event.
fn epoch_loss(label: &'static str, m: dasvdd_core::epochs::EpochMeans<1>) -> EpochLoss {
    let record = EpochLoss {
        epoch: m.epoch,
        loss: m.means[0],
        seconds: m.seconds,
    };
    tracing::info!(
        method = label,
        epoch = record.epoch,
        loss = record.loss,
        seconds = record.seconds,
        "epoch"
    );
    record
}

/// The weights of `mlp` in PyTorch's `(out, in)` layout, named `{prefix}.{i}.weight` (and
/// `{prefix}.{i}.bias` for layers with a bias), as `nn.Sequential` state dicts name them.
pub(crate) fn mlp_tensors(prefix: &str, mlp: &Mlp) -> Result<Vec<(String, Tensor)>> {
    let mut t = Vec::new();
    for (i, l) in mlp.layers.iter().enumerate() {
        t.push((format!("{prefix}.{i}.weight"), l.torch_weight()?));
        if let Some(b) = &l.bias {
            t.push((format!("{prefix}.{i}.bias"), b.as_tensor().clone()));
        }
    }
    Ok(t)
}

/// JSON of a metadata value; serialising these plain structs cannot fail.
pub(crate) fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

impl AeParams {
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
        if let Some(m) = &self.model {
            m.validate()?;
        }
        Ok(())
    }

    /// Trains the autoencoder on the normal samples `x`.
    pub fn fit(&self, x: SampleView<'_>, device: &Device) -> Result<AeModel> {
        self.fit_with_progress(x, device, &mut |_| {})
    }

    /// Trains the autoencoder on the normal samples `x`, calling `on_epoch` after every epoch.
    pub fn fit_with_progress(
        &self,
        x: SampleView<'_>,
        device: &Device,
        on_epoch: &mut dyn FnMut(&EpochLoss),
    ) -> Result<AeModel> {
        self.fit_until(x, device, &mut continuing(on_epoch))
    }

    /// [`AeParams::fit_with_progress`], stopped with [`CoreError::Interrupted`] as soon as
    /// `on_epoch` returns [`ControlFlow::Break`].
    pub fn fit_until(
        &self,
        x: SampleView<'_>,
        device: &Device,
        on_epoch: &mut dyn FnMut(&EpochLoss) -> ControlFlow<()>,
    ) -> Result<AeModel> {
        let params = std::slice::from_ref(self);
        let (config, batch) = Self::check_stack(params, &[x])?;
        Self::train_stack(params, &[x], &config, batch, device, &mut |_, r| {
            on_epoch(r)
        })?
        .pop()
        .expect("one result per model")
    }

    /// Trains `params.len()` autoencoders at once, model `m` with `params[m]` on `xs[m]`, as
    /// one stack of networks (each trained as it would be alone: the same initial weights and
    /// batches from its seed): the same models as [`AeParams::fit`] gives one by one. The
    /// params may differ only in their seed and the training sets only in their values (one
    /// number of rows). `on_epoch(m, ..)` sees each model's epochs; a model that diverges or
    /// is stopped gets its own error.
    pub fn fit_stacked(
        params: &[AeParams],
        xs: &[SampleView<'_>],
        device: &Device,
        on_epoch: &mut stack::Observer<'_, EpochLoss>,
    ) -> Result<Vec<Result<AeModel>>> {
        let (config, batch) = Self::check_stack(params, xs)?;
        let parameters = Autoencoder::parameter_count(&config).unwrap_or(usize::MAX);
        stack::train_in_passes(
            params.len(),
            parameters,
            device,
            [on_epoch],
            &|pass, observe| {
                Self::train_stack(
                    &params[pass.clone()],
                    &xs[pass],
                    &config,
                    batch,
                    device,
                    &mut |m, r| observe(0, m, r),
                )
            },
        )
    }

    /// Checks that the models can share a stack (one set of params but for the seed, training
    /// sets of one width and size) and returns their network and batch size.
    fn check_stack(
        params: &[AeParams],
        xs: &[SampleView<'_>],
    ) -> Result<(AutoencoderConfig, usize)> {
        let first = stack::stack_head(params, xs)?;
        first.validate()?;
        let config = resolve_network(&first.model, xs[0].cols())?;
        stack::check_members(params, xs, config.input_dim, |p| AeParams {
            seed: first.seed,
            ..p.clone()
        })?;
        let batch = effective_batch(first.batch_size, xs[0].rows(), METHOD)?;
        Ok((config, batch))
    }

    /// One pass of [`AeParams::fit_stacked`]: the models of `params` as one stack.
    fn train_stack(
        params: &[AeParams],
        xs: &[SampleView<'_>],
        config: &AutoencoderConfig,
        batch: usize,
        device: &Device,
        on_epoch: &mut dyn FnMut(usize, &EpochLoss) -> ControlFlow<()>,
    ) -> Result<Vec<Result<AeModel>>> {
        let first = &params[0];
        let networks = params
            .iter()
            .map(|p| Autoencoder::init(config, &mut seeded_rng(p.seed, stream::WEIGHTS), device))
            .collect::<Result<Vec<_>>>()?;
        let ae = Autoencoder::stack(&networks)?;
        drop(networks);
        let mut adam = ae.optimizer(AdamConfig {
            lr: first.lr,
            weight_decay: first.weight_decay,
            ..AdamConfig::default()
        })?;
        let mut shuffles: Vec<_> = params
            .iter()
            .map(|p| seeded_rng(p.seed, stream::SHUFFLE))
            .collect();
        let histories = run_epochs_stacked(
            xs,
            first.epochs,
            batch,
            &mut shuffles,
            device,
            METHOD,
            "reconstruction loss",
            &mut |_, xb| {
                let (losses, _) = ae.train_step_stacked(xb, None, &mut adam)?;
                Ok(losses.iter().map(|l| l.reconstruction).collect())
            },
            on_epoch,
        )?;
        Ok(histories
            .into_iter()
            .zip(ae.unstack()?)
            .zip(params)
            .map(|((history, autoencoder), p)| {
                let history = history?;
                check_weights(
                    autoencoder.encoder.all_finite()? && autoencoder.decoder.all_finite()?,
                    p.epochs,
                )?;
                Ok(AeModel {
                    params: AeParams {
                        model: Some(config.clone()),
                        ..p.clone()
                    },
                    autoencoder,
                    history,
                    preprocessing: None,
                    device: device.clone(),
                })
            })
            .collect())
    }
}

impl DetectorParams for AeParams {
    fn fit_detector(&self, x: SampleView<'_>, device: &Device) -> Result<Box<dyn Detector>> {
        Ok(Box::new(self.fit(x, device)?))
    }

    fn fit_observed(
        &self,
        x: SampleView<'_>,
        device: &Device,
        observer: &mut dyn FnMut(&EpochProgress) -> ControlFlow<()>,
    ) -> Result<Box<dyn Detector>> {
        let epochs = self.epochs;
        let model = self.fit_until(x, device, &mut |r| observer(&r.progress("train", epochs)))?;
        Ok(Box::new(model))
    }
}

/// A trained autoencoder baseline.
#[derive(Debug, Clone)]
pub struct AeModel {
    /// The hyperparameters, with `model` set to the network actually used.
    pub params: AeParams,
    /// The trained network.
    pub autoencoder: Autoencoder,
    /// The mean reconstruction loss of every epoch.
    pub history: Vec<EpochLoss>,
    /// Preprocessing statistics of the training data, as JSON chosen by the caller; stored in
    /// the model file so that scoring can apply the same transformation.
    pub preprocessing: Option<String>,
    device: Device,
}

impl AeModel {
    /// The network's architecture.
    pub fn config(&self) -> &AutoencoderConfig {
        &self.autoencoder.config
    }

    /// The device the model lives on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Loads a model written by [`Detector::save`] onto `device`, trusting nothing in the file
    /// (see [`Autoencoder::load`]).
    pub fn load(path: &Path, device: &Device) -> Result<Self> {
        Self::from_checkpoint(&Checkpoint::open(path)?, device)
    }

    /// [`AeModel::load`] from a file already read (its format checked).
    pub fn from_checkpoint(ck: &Checkpoint, device: &Device) -> Result<Self> {
        ck.expect_method(METHOD)?;
        let params: AeParams = ck.meta_json("params")?;
        params
            .validate()
            .map_err(|e| ck.error(format!("metadata `params`: {e}")))?;
        let config = params
            .model
            .clone()
            .ok_or_else(|| ck.error("metadata `params` does not name the network"))?;
        // The network is built from the file's tensors once its size is checked against the
        // file: a hostile `params.model` cannot make this allocate more than the file holds.
        let ae = Autoencoder::load(ck, "params", &config, device)?;
        Ok(AeModel {
            history: ck.meta_json("history").unwrap_or_default(),
            preprocessing: ck.metadata().get("preprocessing").cloned(),
            params,
            autoencoder: ae,
            device: device.clone(),
        })
    }
}

impl Detector for AeModel {
    fn method(&self) -> &'static str {
        METHOD
    }

    fn n_features(&self) -> usize {
        self.autoencoder.config.input_dim
    }

    /// Mean over features of the squared reconstruction error, per sample.
    fn score(&self, x: SampleView<'_>) -> Result<Vec<f64>> {
        Ok(self
            .autoencoder
            .sample_errors(x, None, &self.device)?
            .reconstruction)
    }

    fn save(&self, path: &Path) -> Result<()> {
        let mut tensors = mlp_tensors("encoder", &self.autoencoder.encoder)?;
        tensors.extend(mlp_tensors("decoder", &self.autoencoder.decoder)?);
        let mut meta = HashMap::new();
        meta.insert("method".to_string(), METHOD.to_string());
        meta.insert("params".to_string(), to_json(&self.params));
        meta.insert("seed".to_string(), self.params.seed.to_string());
        meta.insert("history".to_string(), to_json(&self.history));
        if let Some(p) = &self.preprocessing {
            meta.insert("preprocessing".to_string(), p.clone());
        }
        checkpoint::save(path, &tensors, meta)
    }
}
