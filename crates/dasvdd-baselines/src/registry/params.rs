//! The registry's parameter dispatch: [`MethodParams`] (any method's hyperparameters, fitted
//! through the shared [`DetectorParams`] interface), [`default_params`] (the paper's setting of
//! each method for an input width and network) and [`load_detector`] (a model file's `method`
//! metadata to that method's loader).

use std::path::Path;

use candle_core::Device;
use dasvdd_core::{
    AutoencoderConfig, CoreError, DasvddConfig, DasvddModel, Detector, DetectorParams, Preset,
    Result, SampleView,
};
use serde::{Deserialize, Serialize};

use super::Method;
use crate::ae::{AeModel, AeParams};
use crate::deep_svdd::{DeepSvddModel, DeepSvddParams};
use crate::iforest::{IsolationForest, IsolationForestParams};
use crate::kde::{Bandwidth, Kde, KdeParams};
use crate::ocsvm::{OneClassSvm, OneClassSvmParams};

/// Hyperparameters of any method, so that callers can keep, print or serialise them and still
/// fit through the shared [`DetectorParams`] interface.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", content = "params", rename_all = "snake_case")]
pub enum MethodParams {
    /// DASVDD's network and training configuration.
    Dasvdd(DasvddConfig),
    /// One-class SVM.
    Ocsvm(OneClassSvmParams),
    /// Gaussian kernel density estimation.
    Kde(KdeParams),
    /// Isolation Forest.
    #[serde(rename = "iforest")]
    IsolationForest(IsolationForestParams),
    /// Autoencoder.
    Ae(AeParams),
    /// Deep SVDD.
    DeepSvdd(DeepSvddParams),
}

impl MethodParams {
    /// The method these parameters belong to.
    pub fn method(&self) -> Method {
        match self {
            MethodParams::Dasvdd(_) => Method::Dasvdd,
            MethodParams::Ocsvm(_) => Method::Ocsvm,
            MethodParams::Kde(_) => Method::Kde,
            MethodParams::IsolationForest(_) => Method::IsolationForest,
            MethodParams::Ae(_) => Method::Ae,
            MethodParams::DeepSvdd(_) => Method::DeepSvdd,
        }
    }

    /// The epochs of a network's training (`None` for the classical methods).
    pub fn epochs(&self) -> Option<usize> {
        match self {
            MethodParams::Dasvdd(p) => Some(p.train.epochs),
            MethodParams::Ae(p) => Some(p.epochs),
            MethodParams::DeepSvdd(p) => Some(p.epochs),
            MethodParams::Ocsvm(_) | MethodParams::Kde(_) | MethodParams::IsolationForest(_) => {
                None
            }
        }
    }

    /// The fewest training samples these parameters can be fitted on: 2 for every method (one
    /// sample has no spread to learn, and DASVDD needs one to train the network and one the
    /// centre), and for KDE with a cross-validated bandwidth one per fold.
    pub fn min_training_rows(&self) -> usize {
        match self {
            MethodParams::Kde(KdeParams {
                bandwidth: Bandwidth::CrossValidated { folds, .. },
            }) => (*folds).max(2),
            _ => 2,
        }
    }

    /// The parameters as a boxed [`DetectorParams`].
    pub fn into_boxed(self) -> Box<dyn DetectorParams> {
        match self {
            MethodParams::Dasvdd(p) => Box::new(p),
            MethodParams::Ocsvm(p) => Box::new(p),
            MethodParams::Kde(p) => Box::new(p),
            MethodParams::IsolationForest(p) => Box::new(p),
            MethodParams::Ae(p) => Box::new(p),
            MethodParams::DeepSvdd(p) => Box::new(p),
        }
    }
}

impl DetectorParams for MethodParams {
    fn fit_detector(&self, x: SampleView<'_>, device: &Device) -> Result<Box<dyn Detector>> {
        match self {
            MethodParams::Dasvdd(p) => p.fit_detector(x, device),
            MethodParams::Ocsvm(p) => p.fit_detector(x, device),
            MethodParams::Kde(p) => p.fit_detector(x, device),
            MethodParams::IsolationForest(p) => p.fit_detector(x, device),
            MethodParams::Ae(p) => p.fit_detector(x, device),
            MethodParams::DeepSvdd(p) => p.fit_detector(x, device),
        }
    }

    fn fit_observed(
        &self,
        x: SampleView<'_>,
        device: &Device,
        observer: &mut dyn FnMut(&dasvdd_core::EpochProgress) -> std::ops::ControlFlow<()>,
    ) -> Result<Box<dyn Detector>> {
        match self {
            MethodParams::Dasvdd(p) => p.fit_observed(x, device, observer),
            MethodParams::Ocsvm(p) => p.fit_observed(x, device, observer),
            MethodParams::Kde(p) => p.fit_observed(x, device, observer),
            MethodParams::IsolationForest(p) => p.fit_observed(x, device, observer),
            MethodParams::Ae(p) => p.fit_observed(x, device, observer),
            MethodParams::DeepSvdd(p) => p.fit_observed(x, device, observer),
        }
    }
}

/// The paper's preset whose network is exactly `network`, if any.
fn preset_of(network: &AutoencoderConfig) -> Option<Preset> {
    [Preset::Mnist, Preset::Cifar10, Preset::Speech, Preset::Pima]
        .into_iter()
        .find(|p| p.autoencoder() == *network)
}

/// The paper's setting of `method` for samples of `input_dim` features.
///
/// `network` is the autoencoder of the neural methods (DASVDD, AE, and the encoder of Deep
/// SVDD); `None` sizes it from the data with [`AutoencoderConfig::for_input`]. When the
/// network is one of the paper's presets, DASVDD gets that preset's training setting
/// ([`DasvddConfig::from_preset`], the default variant's) and the AE the same
/// network learning rate. `epochs` replaces the default number of epochs of the neural methods
/// (for Deep SVDD both pre-training and the one-class phase; pre-training stays off when it is
/// off by default) and `seed` their seed and Isolation Forest's; the classical methods ignore
/// `epochs`, and OCSVM and KDE, being deterministic, ignore `seed`.
pub fn default_params(
    method: Method,
    input_dim: usize,
    network: Option<&AutoencoderConfig>,
    epochs: Option<usize>,
    seed: u64,
) -> Result<MethodParams> {
    if input_dim == 0 {
        return Err(CoreError::param("input_dim", "must be positive"));
    }
    let network = match network {
        Some(n) => {
            n.validate()?;
            if n.input_dim != input_dim {
                return Err(CoreError::param(
                    "network",
                    format!(
                        "expects {} input features but the data has {input_dim}",
                        n.input_dim
                    ),
                ));
            }
            n.clone()
        }
        None => AutoencoderConfig::for_input(input_dim),
    };
    let preset = preset_of(&network);
    let dasvdd_train = preset
        .map(|p| DasvddConfig::from_preset(p).train)
        .unwrap_or_default();
    if epochs == Some(0) {
        return Err(CoreError::param("epochs", "must be at least 1"));
    }
    Ok(match method {
        Method::Dasvdd => {
            let mut train = dasvdd_train;
            train.seed = seed;
            if let Some(e) = epochs {
                train.epochs = e;
            }
            MethodParams::Dasvdd(DasvddConfig {
                model: network,
                train,
            })
        }
        Method::Ae => {
            let mut p = AeParams {
                model: Some(network),
                lr: dasvdd_train.lr,
                weight_decay: dasvdd_train.weight_decay,
                seed,
                ..AeParams::default()
            };
            if let Some(e) = epochs {
                p.epochs = e;
            }
            MethodParams::Ae(p)
        }
        Method::DeepSvdd => {
            let mut p = DeepSvddParams {
                model: Some(network),
                seed,
                ..DeepSvddParams::default()
            };
            if let Some(e) = epochs {
                p.epochs = e;
                if p.pretrain_epochs > 0 {
                    p.pretrain_epochs = e;
                }
            }
            MethodParams::DeepSvdd(p)
        }
        Method::Ocsvm => MethodParams::Ocsvm(OneClassSvmParams::default()),
        Method::Kde => MethodParams::Kde(KdeParams::default()),
        Method::IsolationForest => MethodParams::IsolationForest(IsolationForestParams {
            seed,
            ..IsolationForestParams::default()
        }),
    })
}

/// [`default_params`] as a boxed [`DetectorParams`].
pub fn default_detector_params(
    method: Method,
    input_dim: usize,
    network: Option<&AutoencoderConfig>,
    epochs: Option<usize>,
    seed: u64,
) -> Result<Box<dyn DetectorParams>> {
    Ok(default_params(method, input_dim, network, epochs, seed)?.into_boxed())
}

/// The method that wrote the model file at `path`, from its `method` metadata.
pub fn read_method(path: &Path) -> Result<Method> {
    let problem = |problem: String| CoreError::Checkpoint {
        path: path.to_path_buf(),
        problem,
    };
    let name = dasvdd_core::checkpoint::get_metadata(path, "method")?
        .ok_or_else(|| problem("metadata `method` is missing (not a model file)".into()))?;
    name.parse().map_err(|_| {
        problem(format!(
            "metadata `method` names an unknown method `{name}`"
        ))
    })
}

/// Loads any model file written by a detector's `save`, onto `device` for the neural methods.
pub fn load_detector(path: &Path, device: &Device) -> Result<Box<dyn Detector>> {
    Ok(match read_method(path)? {
        Method::Dasvdd => Box::new(DasvddModel::load(path, device)?),
        Method::Ocsvm => Box::new(OneClassSvm::load(path)?),
        Method::Kde => Box::new(Kde::load(path)?),
        Method::IsolationForest => Box::new(IsolationForest::load(path)?),
        Method::Ae => Box::new(AeModel::load(path, device)?),
        Method::DeepSvdd => Box::new(DeepSvddModel::load(path, device)?),
    })
}
