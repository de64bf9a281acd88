//! DASVDD: training by Algorithm 1 of the paper, the gamma heuristic of eq. (6), the anomaly
//! score of eq. (2), and checkpoints.

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::path::Path;

use candle_core::{Device, Tensor, Var};
use candle_nn::Optimizer;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

use crate::adagrad::{AdaGrad, ParamsAdaGrad};
use crate::adam::AdamConfig;
use crate::autoencoder::Autoencoder;
use crate::checkpoint::{self, Checkpoint};
use crate::config::{CenterGrad, CenterMode, DasvddConfig, GammaChoice, GammaNorm, SvddTerm};
use crate::detector::{Detector, DetectorParams, EpochProgress, SampleView};
use crate::epochs;
use crate::error::{CoreError, Result};
use crate::step_profile::{self, Phase};

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

/// A generator for `stream` of `seed`.
pub fn seeded_rng(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
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
    if trials == 0 {
        return Err(CoreError::param("gamma_trials", "must be at least 1"));
    }
    let mut ratios = Vec::with_capacity(trials);
    for t in 0..trials {
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
        let epochs = self.train.epochs;
        let model = fit_until(self, x, device, &mut |r| {
            observer(&EpochProgress {
                phase: "train",
                epoch: r.epoch,
                epochs,
                loss: r.total,
            })
        })?;
        Ok(Box::new(model))
    }
}

/// Trains DASVDD on normal samples `x` by Algorithm 1, calling `on_epoch` after every epoch.
pub fn fit(
    config: &DasvddConfig,
    x: SampleView<'_>,
    device: &Device,
    on_epoch: &mut dyn FnMut(&EpochRecord),
) -> Result<DasvddModel> {
    fit_until(config, x, device, &mut epochs::continuing(on_epoch))
}

/// [`fit`], stopped with [`CoreError::Interrupted`] as soon as `on_epoch` returns
/// [`ControlFlow::Break`] (the Python package stops this way on Ctrl-C).
pub fn fit_until(
    config: &DasvddConfig,
    x: SampleView<'_>,
    device: &Device,
    on_epoch: &mut dyn FnMut(&EpochRecord) -> ControlFlow<()>,
) -> Result<DasvddModel> {
    config.validate()?;
    x.expect_cols(config.model.input_dim)?;
    let tc = &config.train;
    let n = x.rows();
    if n < 2 {
        return Err(CoreError::InvalidInput(format!(
            "{n} training samples; at least 2 are needed"
        )));
    }
    let batch = epochs::effective_batch(tc.batch_size, n, "dasvdd")?;
    let n_net = match tc.center {
        CenterMode::Trained => tc.network_split(batch),
        CenterMode::FixedMeanCode => batch,
    };

    let (gamma, gamma_estimate) = match tc.gamma {
        GammaChoice::Fixed(g) => (g, None),
        GammaChoice::Heuristic { trials } => {
            let est = estimate_gamma(config, x, trials, device)?;
            tracing::info!(
                gamma = est.gamma,
                trials,
                "gamma from the heuristic of eq. (6)"
            );
            (est.gamma, Some(est))
        }
    };

    let ae = Autoencoder::init(
        &config.model,
        &mut seeded_rng(tc.seed, stream::WEIGHTS),
        device,
    )?;
    let center_init: Vec<f32> = match tc.center {
        CenterMode::Trained => {
            let mut rng = seeded_rng(tc.seed, stream::CENTER);
            (0..config.model.latent)
                .map(|_| StandardNormal.sample(&mut rng))
                .collect()
        }
        CenterMode::FixedMeanCode => ae.mean_code(x, device)?,
    };
    let center = Var::from_tensor(&Tensor::from_vec(center_init, config.model.latent, device)?)?;
    let mut adam = ae.optimizer(AdamConfig {
        lr: tc.lr,
        weight_decay: tc.weight_decay,
        ..AdamConfig::default()
    })?;
    let mut adagrad = AdaGrad::new(
        vec![center.clone()],
        ParamsAdaGrad {
            lr: tc.center_lr,
            lr_decay: tc.center_lr_decay,
            ..ParamsAdaGrad::default()
        },
    )?;

    let mut accumulated = match tc.center_grad {
        CenterGrad::Reset => None,
        CenterGrad::Accumulate => Some(center.as_tensor().zeros_like()?),
    };
    let history = epochs::run_epochs(
        n,
        tc.epochs,
        batch,
        &mut seeded_rng(tc.seed, stream::SHUFFLE),
        ["reconstruction loss", "svdd loss"],
        &mut |_, idx| {
            let (net_idx, center_idx) = idx.split_at(n_net);
            let xb = {
                let _timer = step_profile::timer(Phase::Gather);
                x.gather(net_idx, device)?
            };
            let (loss, codes) = ae.train_step_with_codes(
                &xb,
                Some((center.as_tensor(), gamma, tc.svdd_term)),
                &mut adam,
            )?;
            if let Some(sum) = &mut accumulated {
                // The 2021 code did not detach c in the network loss either, so each network
                // step added d/dc of gamma * ||z - c||^2 (the first sample's, or the batch
                // mean's) to c's never-cleared gradient: gamma * 2 (c - z).
                let used = match tc.svdd_term {
                    SvddTerm::FirstSample => 1,
                    SvddTerm::BatchMean => codes.dim(0)?,
                };
                let z_mean = codes.narrow(0, 0, used)?.mean(0)?;
                let pull = ((center.as_tensor() - z_mean)? * (2.0 * gamma))?;
                *sum = (&*sum + pull)?.detach();
            }
            let losses = [loss.reconstruction, loss.svdd];
            if tc.center == CenterMode::Trained
                && !center_idx.is_empty()
                && losses.iter().all(|l| l.is_finite())
            {
                // Centre step with the network fixed: AdaGrad on MSE(c, mean code of the split).
                let _timer = step_profile::timer(Phase::CenterStep);
                let z = ae.encode(&x.gather(center_idx, device)?)?;
                let z_mean = z.mean(0)?.detach();
                let mut loss = center.as_tensor().sub(&z_mean)?.sqr()?.mean_all()?;
                if let Some(sum) = &accumulated {
                    // The 2021 code never cleared c's gradient: adding <c, sum of the earlier
                    // gradients (centre and network steps)> to the loss makes this step's
                    // gradient the running sum.
                    loss = (loss + center.as_tensor().mul(sum)?.sum_all()?)?;
                }
                let grads = loss.backward()?;
                if let (Some(sum), Some(g)) = (&mut accumulated, grads.get(center.as_tensor())) {
                    *sum = g.detach();
                }
                adagrad.step(&grads)?;
            }
            Ok(losses)
        },
        &mut |m| {
            let epoch = m.epoch;
            let c = center.as_tensor().to_vec1::<f32>()?;
            let center_norm = c.iter().map(|v| (*v as f64).powi(2)).sum::<f64>().sqrt();
            if !center_norm.is_finite() {
                return Err(CoreError::Diverged {
                    epoch,
                    what: "norm of the centre",
                    value: center_norm,
                });
            }
            let [reconstruction, svdd] = m.means;
            let record = EpochRecord {
                epoch,
                total: reconstruction + gamma * svdd,
                reconstruction,
                svdd,
                center_norm,
                center_first: c.first().copied().unwrap_or(0.0) as f64,
                seconds: m.seconds,
            };
            tracing::info!(
                epoch,
                total = record.total,
                reconstruction = record.reconstruction,
                svdd = record.svdd,
                center_norm,
                center_first = record.center_first,
                "dasvdd epoch"
            );
            Ok(record)
        },
        on_epoch,
    )?;
    let center = center.as_tensor().to_vec1::<f32>()?;
    epochs::check_weights(
        ae.encoder.all_finite()? && ae.decoder.all_finite()?,
        tc.epochs,
    )?;
    Ok(DasvddModel {
        config: config.clone(),
        autoencoder: ae,
        center,
        gamma,
        gamma_estimate,
        history,
        preprocessing: None,
        device: device.clone(),
    })
}

impl DasvddModel {
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
        let ck = Checkpoint::open(path)?;
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
        let ae = Autoencoder::load(&ck, "config", &config.model, device)?;
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
    /// term averaged over features, as in training).
    fn score(&self, x: SampleView<'_>) -> Result<Vec<f64>> {
        let e = self.components(x)?;
        Ok(e.reconstruction
            .iter()
            .zip(&e.distance)
            .map(|(r, d)| r + self.gamma * d)
            .collect())
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
