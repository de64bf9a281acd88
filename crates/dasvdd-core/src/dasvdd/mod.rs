//! DASVDD: the trained model, the gamma heuristic of eq. (6), the anomaly score of eq. (2), and
//! checkpoints; training by Algorithm 1, of one model or many at once, is [`fit`] and [`fit_stacked`].

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::path::Path;

use candle_core::{Device, Tensor};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::autoencoder::Autoencoder;
use crate::checkpoint::{self, Checkpoint};
use crate::config::{DasvddConfig, GammaNorm};
use crate::detector::{Detector, DetectorParams, EpochProgress, SampleView, ScoreTerm};
use crate::error::{CoreError, Result};

/// Random streams drawn from the one seed, so that changing e.g. the number of gamma trials
/// does not change the initial weights of the trained network. The baselines' autoencoder and
/// Deep SVDD draw their weights and batch order from the same streams.
pub mod stream {
    /// The initial weights of the network.
    pub const WEIGHTS: u64 = 0;
    /// The initial centre.
    pub const CENTER: u64 = 1;
    /// The batch order of every epoch.
    pub const SHUFFLE: u64 = 2;
    /// The short trial runs of the gamma heuristic: trial `t` uses `GAMMA_TRIALS + t`.
    pub const GAMMA_TRIALS: u64 = 1000;
}

mod train;

pub use train::{fit, fit_stacked, fit_until, fit_until_polled};

/// A generator for `stream` of `seed`.
pub fn seeded_rng(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

/// The order of the `rows` training samples in each of `epochs` epochs of DASVDD trained
/// with `seed` (drawn from [`stream::SHUFFLE`] as the training loop draws it): batch `b` of
/// epoch `e` is `orders[e][b * batch_size..(b + 1) * batch_size]`, its first
/// [`TrainConfig::network_split`](crate::TrainConfig::network_split) rows training the network
/// and the rest the centre. For replaying a run step by step elsewhere
/// (`crates/dasvdd-py/tests/test_torch_parity.py` replays it in PyTorch).
pub fn epoch_orders(seed: u64, rows: usize, epochs: usize) -> Vec<Vec<usize>> {
    crate::epochs::epoch_orders(rows, epochs, &mut seeded_rng(seed, stream::SHUFFLE))
}

/// What happened in one epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Mean over the epoch's network steps of reconstruction + gamma * svdd.
    pub total: f64,
    /// Mean over the epoch's network steps of the mean squared reconstruction error.
    pub reconstruction: f64,
    /// Mean over the epoch's network steps of the batch mean of ||z - c||^2.
    pub svdd: f64,
    /// ||c|| after the epoch.
    pub center_norm: f64,
    /// c_1 (first coordinate) after the epoch.
    pub center_first: f64,
    /// Mean over the epoch's centre steps of ||c - z̄||^2, z̄ the mean code of the step's centre
    /// split, taken before the step: how far c is from where eq. (4) puts it. `None` when no
    /// centre step ran (a fixed centre, kappa = 1, or files written before 2026-12-03).
    #[serde(default)]
    pub center_offset: Option<f64>,
    /// Mean over the same centre steps of the split's mean ||z - z̄||^2: the codes' own spread,
    /// the part of the SVDD term that moving c cannot remove.
    #[serde(default)]
    pub code_spread: Option<f64>,
    /// Wall-clock seconds of the epoch.
    pub seconds: f64,
}

/// The outcome of the gamma heuristic of eq. (6).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GammaEstimate {
    /// The mean over trials.
    pub gamma: f64,
    /// One ratio (mean reconstruction error) / (mean ||z||^2) per trial.
    pub trials: Vec<f64>,
}

/// Estimates gamma by eq. (6): for each of `trials` freshly initialised networks (no training,
/// c = 0), the ratio of the mean reconstruction error to the mean squared code norm over the
/// training set; gamma is the mean of the ratios. With [`GammaNorm::FirstOfBatch`] the code
/// norms are those of the first sample of each batch, as the 2021 reference code computed them.
pub fn estimate_gamma(
    config: &DasvddConfig,
    x: SampleView<'_>,
    trials: usize,
    device: &Device,
) -> Result<GammaEstimate> {
    estimate_gamma_until(
        config,
        x,
        trials,
        device,
        &mut |_| ControlFlow::Continue(()),
    )
}

/// [`estimate_gamma`], asking `keep_going(t)` before trial `t` (0-based: before the first trial
/// too) and stopping with [`CoreError::Interrupted`] (epoch 0: none trained yet) as soon as it
/// returns [`ControlFlow::Break`]. The heuristic runs before the first epoch, where no epoch
/// callback can stop training, and up to [`crate::config::MAX_GAMMA_TRIALS`] trials, each a
/// pass over the training set, can take long; the check costs one call per trial.
pub fn estimate_gamma_until(
    config: &DasvddConfig,
    x: SampleView<'_>,
    trials: usize,
    device: &Device,
    keep_going: &mut dyn FnMut(usize) -> ControlFlow<()>,
) -> Result<GammaEstimate> {
    if trials == 0 {
        return Err(CoreError::param("gamma_trials", "must be at least 1"));
    }
    // `trials` comes from the user: reserving for 2^62 of them panicked ("capacity overflow").
    let mut ratios = Vec::with_capacity(trials.min(crate::config::MAX_GAMMA_TRIALS));
    for t in 0..trials {
        if keep_going(t).is_break() {
            return Err(CoreError::Interrupted { epoch: 0 });
        }
        let mut rng = seeded_rng(config.train.seed, stream::GAMMA_TRIALS + t as u64);
        let ae = Autoencoder::init(&config.model, &mut rng, device)?;
        let e = ae.sample_errors(x, None, device)?;
        let rec = mean(&e.reconstruction);
        let dist = match config.train.gamma_norm {
            GammaNorm::AllSamples => mean(&e.distance),
            GammaNorm::FirstOfBatch => {
                let firsts: Vec<f64> = e
                    .distance
                    .iter()
                    .step_by(config.train.batch_size.max(1))
                    .copied()
                    .collect();
                mean(&firsts)
            }
        };
        if !(dist > 0.0 && dist.is_finite() && rec.is_finite()) {
            return Err(CoreError::InvalidInput(format!(
                "gamma heuristic: trial {t} gave mean reconstruction error {rec} and mean squared code norm {dist}"
            )));
        }
        ratios.push(rec / dist);
    }
    Ok(GammaEstimate {
        gamma: mean(&ratios),
        trials: ratios,
    })
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

/// A trained DASVDD model.
#[derive(Debug, Clone)]
pub struct DasvddModel {
    /// The configuration the model was trained with.
    pub config: DasvddConfig,
    /// The trained encoder and decoder.
    pub autoencoder: Autoencoder,
    /// The hypersphere centre c.
    pub center: Vec<f32>,
    /// Weight of the SVDD term in the loss (eq. 3) and the score (eq. 2): the fixed value of
    /// the config, or the heuristic's estimate.
    pub gamma: f64,
    /// The gamma heuristic's trials, when gamma was estimated.
    pub gamma_estimate: Option<GammaEstimate>,
    /// One record per training epoch, in order (empty when loaded from a checkpoint that
    /// stores none).
    pub history: Vec<EpochRecord>,
    /// Preprocessing statistics of the training data, as JSON chosen by the caller; stored in
    /// the checkpoint so that scoring can apply the same transformation.
    pub preprocessing: Option<String>,
    device: Device,
}

impl DasvddConfig {
    /// Trains DASVDD with this configuration on the normal samples `x`, as every method's
    /// params do (`AeParams::fit`, `DeepSvddParams::fit`, ...); [`fit`] also takes an epoch
    /// observer.
    pub fn fit(&self, x: SampleView<'_>, device: &Device) -> Result<DasvddModel> {
        fit(self, x, device, &mut |_| {})
    }
}

impl DetectorParams for DasvddConfig {
    fn fit_detector(&self, x: SampleView<'_>, device: &Device) -> Result<Box<dyn Detector>> {
        Ok(Box::new(DasvddConfig::fit(self, x, device)?))
    }

    fn fit_observed(
        &self,
        x: SampleView<'_>,
        device: &Device,
        observer: &mut dyn FnMut(&EpochProgress) -> ControlFlow<()>,
    ) -> Result<Box<dyn Detector>> {
        self.fit_observed_polled(x, device, observer, &mut || ControlFlow::Continue(()))
    }

    /// Asks `keep_going` before each trial of the gamma heuristic ([`fit_until_polled`]).
    fn fit_observed_polled(
        &self,
        x: SampleView<'_>,
        device: &Device,
        observer: &mut dyn FnMut(&EpochProgress) -> ControlFlow<()>,
        keep_going: &mut dyn FnMut() -> ControlFlow<()>,
    ) -> Result<Box<dyn Detector>> {
        let epochs = self.train.epochs;
        let model = fit_until_polled(
            self,
            x,
            device,
            &mut |r| {
                observer(&EpochProgress {
                    phase: "train",
                    epoch: r.epoch,
                    epochs,
                    loss: r.total,
                })
            },
            &mut |_| keep_going(),
        )?;
        Ok(Box::new(model))
    }
}

/// The names of DASVDD's score terms, in the order the score adds them.
const SCORE_TERMS: [&str; 2] = ["reconstruction", "svdd"];

impl DasvddModel {
    /// The two terms of the score: `reconstruction` (weight 1) and `svdd`, ||z - c||^2
    /// (weight gamma).
    fn terms(&self, x: SampleView<'_>) -> Result<Vec<ScoreTerm>> {
        let e = self.components(x)?;
        let [reconstruction, svdd] = SCORE_TERMS;
        Ok(vec![
            ScoreTerm {
                name: reconstruction,
                weight: 1.0,
                values: e.reconstruction,
            },
            ScoreTerm {
                name: svdd,
                weight: self.gamma,
                values: e.distance,
            },
        ])
    }

    /// Reconstruction errors and squared distances to c, per sample.
    pub fn components(&self, x: SampleView<'_>) -> Result<crate::autoencoder::SampleErrors> {
        self.autoencoder
            .sample_errors(x, Some(&self.center), &self.device)
    }

    /// The codes z of the samples, row-major `(rows, latent)`.
    pub fn codes(&self, x: SampleView<'_>) -> Result<Vec<f32>> {
        x.expect_cols(self.config.model.input_dim)?;
        let t = Tensor::from_slice(x.data(), (x.rows(), x.cols()), &self.device)?;
        Ok(self
            .autoencoder
            .encode(&t)?
            .flatten_all()?
            .to_vec1::<f32>()?)
    }

    /// The device the model lives on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    fn tensors(&self) -> Result<Vec<(String, Tensor)>> {
        let mut t = Vec::new();
        for (part, mlp) in [
            ("encoder", &self.autoencoder.encoder),
            ("decoder", &self.autoencoder.decoder),
        ] {
            for (i, l) in mlp.layers.iter().enumerate() {
                t.push((format!("{part}.{i}.weight"), l.torch_weight()?));
                if let Some(b) = &l.bias {
                    t.push((format!("{part}.{i}.bias"), b.as_tensor().clone()));
                }
            }
        }
        t.push((
            "center".into(),
            Tensor::from_slice(&self.center, self.center.len(), &Device::Cpu)?,
        ));
        Ok(t)
    }

    /// Loads a checkpoint written by [`Detector::save`] onto `device`. Nothing in the file is
    /// trusted: the config is validated and the network's size checked against the file
    /// before any weight is read, and the weights are built from the file's tensors (checked
    /// for shape, dtype and finiteness), never initialised first.
    pub fn load(path: &Path, device: &Device) -> Result<Self> {
        Self::from_checkpoint(&Checkpoint::open(path)?, device)
    }

    /// [`DasvddModel::load`] from a file already read (its format checked).
    pub fn from_checkpoint(ck: &Checkpoint, device: &Device) -> Result<Self> {
        ck.expect_method("dasvdd")?;
        let config: DasvddConfig = ck.meta_json("config")?;
        config
            .validate()
            .map_err(|e| ck.error(format!("metadata `config`: {e}")))?;
        let gamma: f64 = ck
            .meta("gamma")?
            .parse()
            .map_err(|_| ck.error("metadata `gamma` is not a number"))?;
        if !(gamma.is_finite() && gamma >= 0.0) {
            return Err(ck.error(format!(
                "metadata `gamma` is {gamma}, not a finite non-negative number"
            )));
        }
        ck.check_tensor("center", &[config.model.latent])?;
        // Checks the network's size against the file before reading any weight.
        let ae = Autoencoder::load(ck, "config", &config.model, device)?;
        let center = ck
            .tensor("center", &[config.model.latent], &Device::Cpu)?
            .to_vec1::<f32>()?;
        Ok(DasvddModel {
            gamma_estimate: ck.meta_json("gamma_estimate").ok(),
            history: ck.meta_json("history").unwrap_or_default(),
            preprocessing: ck.metadata().get("preprocessing").cloned(),
            config,
            autoencoder: ae,
            center,
            gamma,
            device: device.clone(),
        })
    }
}

impl Detector for DasvddModel {
    fn method(&self) -> &'static str {
        "dasvdd"
    }

    fn n_features(&self) -> usize {
        self.config.model.input_dim
    }

    /// S(x) = mean_j (x_hat_j - x_j)^2 + gamma * ||z - c||^2 (eq. 2 with the reconstruction
    /// term averaged over features, as in training): the sum of [`Detector::score_terms`].
    fn score(&self, x: SampleView<'_>) -> Result<Vec<f64>> {
        Ok(ScoreTerm::sum(&self.terms(x)?))
    }

    fn score_term_names(&self) -> &'static [&'static str] {
        &SCORE_TERMS
    }

    fn score_terms(&self, x: SampleView<'_>) -> Result<Option<Vec<ScoreTerm>>> {
        self.terms(x).map(Some)
    }

    fn save(&self, path: &Path) -> Result<()> {
        let json = |v: &dyn erased::Json| v.to_json();
        let mut meta = HashMap::new();
        meta.insert("method".to_string(), "dasvdd".to_string());
        meta.insert("config".to_string(), json(&self.config));
        meta.insert("gamma".to_string(), format!("{:e}", self.gamma));
        meta.insert("seed".to_string(), self.config.train.seed.to_string());
        meta.insert("history".to_string(), json(&self.history));
        if let Some(g) = &self.gamma_estimate {
            meta.insert("gamma_estimate".to_string(), json(g));
        }
        if let Some(p) = &self.preprocessing {
            meta.insert("preprocessing".to_string(), p.clone());
        }
        checkpoint::save(path, &self.tensors()?, meta)
    }
}

/// JSON encoding of metadata values; serialising these plain structs cannot fail.
mod erased {
    pub trait Json {
        fn to_json(&self) -> String;
    }
    impl<T: serde::Serialize> Json for T {
        fn to_json(&self) -> String {
            serde_json::to_string(self).unwrap_or_default()
        }
    }
}
