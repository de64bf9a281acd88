//! The one place that turns a method name into hyperparameters and a model file into a
//! detector, for the command line and the benchmark: [`Method`] (names and aliases),
//! [`default_params`] (the paper's setting of each method for a given input width and network)
//! and [`load_detector`] (reads a model file's `method` metadata and calls that method's
//! loader).

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use candle_core::Device;
use dasvdd_core::{
    AutoencoderConfig, CoreError, DasvddConfig, DasvddModel, Detector, DetectorParams, Preset,
    Result, SampleView,
};
use serde::{Deserialize, Serialize};

use crate::ae::{AeModel, AeParams};
use crate::deep_svdd::{DeepSvddModel, DeepSvddParams};
use crate::iforest::{IsolationForest, IsolationForestParams};
use crate::kde::{Bandwidth, Kde, KdeParams};
use crate::ocsvm::{OneClassSvm, OneClassSvmParams};

/// An anomaly detection method of the paper's comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// DASVDD, the paper's method.
    Dasvdd,
    /// One-class SVM with an RBF kernel.
    Ocsvm,
    /// Gaussian kernel density estimation.
    Kde,
    /// Isolation Forest.
    #[serde(rename = "iforest")]
    IsolationForest,
    /// Autoencoder, scored by reconstruction error.
    Ae,
    /// One-class Deep SVDD.
    DeepSvdd,
}

/// Everything the tools know about a method besides its parameter and model types: the one
/// row of the registry that the command line, the benchmark, the config files and the Python
/// package read for names, aliases, report columns and which generic settings apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MethodInfo {
    pub method: Method,
    /// The name on the command line, in config tables, model files and result files.
    pub name: &'static str,
    /// Other spellings accepted on input (compared ignoring case, with `-` read as `_`).
    pub aliases: &'static [&'static str],
    /// The column of the paper's Table 2.
    pub paper_column: &'static str,
    /// Trains a network for a number of epochs (takes `epochs`, a network and a device).
    pub neural: bool,
    /// Takes a seed (weights, centre, shuffling or trees); the others are deterministic.
    pub seeded: bool,
    /// The keys of its `[baselines.<name>]` config table (`None`: DASVDD, whose settings are
    /// the config's `[model]` and `[train]`).
    pub settings_keys: Option<&'static [&'static str]>,
}

/// The registry: one row per method, in the column order of the paper's tables.
pub const METHODS: [MethodInfo; 6] = [
    MethodInfo {
        method: Method::Ocsvm,
        name: crate::ocsvm::METHOD,
        aliases: &["oc_svm"],
        paper_column: "OCSVM",
        neural: false,
        seeded: false,
        settings_keys: Some(&["nu", "gamma", "tol", "shrinking", "cache_mb"]),
    },
    MethodInfo {
        method: Method::Kde,
        name: crate::kde::METHOD,
        aliases: &[],
        paper_column: "KDE",
        neural: false,
        seeded: false,
        settings_keys: Some(&[
            "bandwidth",
            "cv_folds",
            "grid_log10_min",
            "grid_log10_max",
            "grid_points",
        ]),
    },
    MethodInfo {
        method: Method::IsolationForest,
        name: crate::iforest::METHOD,
        aliases: &["if", "isolation_forest"],
        paper_column: "IF",
        neural: false,
        seeded: true,
        settings_keys: Some(&["n_trees", "subsample"]),
    },
    MethodInfo {
        method: Method::Ae,
        name: crate::ae::METHOD,
        aliases: &["autoencoder"],
        paper_column: "AE",
        neural: true,
        seeded: true,
        settings_keys: Some(&["epochs", "batch_size", "lr", "weight_decay"]),
    },
    MethodInfo {
        method: Method::DeepSvdd,
        name: crate::deep_svdd::METHOD,
        aliases: &["dsvdd", "deepsvdd"],
        paper_column: "DSVDD",
        neural: true,
        seeded: true,
        settings_keys: Some(&[
            "network",
            "epochs",
            "batch_size",
            "lr",
            "weight_decay",
            "lr_milestones",
            "center_eps",
            "pretrain_epochs",
            "pretrain_lr",
            "pretrain_weight_decay",
        ]),
    },
    MethodInfo {
        method: Method::Dasvdd,
        name: "dasvdd",
        aliases: &[],
        paper_column: "DASVDD",
        neural: true,
        seeded: true,
        settings_keys: None,
    },
];

impl Method {
    /// Every method, in the column order of the paper's tables.
    pub const ALL: [Method; 6] = [
        Method::Ocsvm,
        Method::Kde,
        Method::IsolationForest,
        Method::Ae,
        Method::DeepSvdd,
        Method::Dasvdd,
    ];

    /// The method's row of the registry.
    pub fn info(self) -> &'static MethodInfo {
        METHODS
            .iter()
            .find(|i| i.method == self)
            .expect("every method has a row in METHODS (tested)")
    }

    /// The name used on the command line, in model files and in result files.
    pub fn name(self) -> &'static str {
        self.info().name
    }

    /// Whether the method trains a network for a number of epochs (and can use a GPU).
    pub fn is_neural(self) -> bool {
        self.info().neural
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Method {
    type Err = CoreError;

    /// Parses a method name or one of its aliases ([`MethodInfo::aliases`]), ignoring case and
    /// treating `-` as `_`: `dasvdd`, `ocsvm`, `kde`, `iforest` (or `if`, `isolation_forest`),
    /// `ae` (or `autoencoder`), `deep_svdd` (or `dsvdd`, `deepsvdd`).
    fn from_str(s: &str) -> Result<Self> {
        let wanted = s.trim().to_ascii_lowercase().replace('-', "_");
        METHODS
            .iter()
            .find(|i| i.name == wanted || i.aliases.contains(&wanted.as_str()))
            .map(|i| i.method)
            .ok_or_else(|| {
                CoreError::param(
                    "method",
                    format!(
                        "unknown method `{wanted}` (expected one of {})",
                        Method::ALL.map(Method::name).join(", ")
                    ),
                )
            })
    }
}

/// Hyperparameters of any method, so that callers can keep, print or serialise them and still
/// fit through the shared [`DetectorParams`] interface.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", content = "params", rename_all = "snake_case")]
pub enum MethodParams {
    Dasvdd(DasvddConfig),
    Ocsvm(OneClassSvmParams),
    Kde(KdeParams),
    #[serde(rename = "iforest")]
    IsolationForest(IsolationForestParams),
    Ae(AeParams),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_method_has_one_row_and_its_names_parse_back() {
        for m in Method::ALL {
            assert_eq!(METHODS.iter().filter(|i| i.method == m).count(), 1, "{m}");
            let info = m.info();
            assert_eq!(info.name.parse::<Method>().unwrap(), m);
            for a in info.aliases {
                assert_eq!(a.parse::<Method>().unwrap(), m, "{a}");
                assert_eq!(
                    a.to_uppercase()
                        .replace('_', "-")
                        .parse::<Method>()
                        .unwrap(),
                    m
                );
            }
        }
        assert_eq!(
            METHODS.map(|i| i.method),
            Method::ALL,
            "the rows are in the paper's column order"
        );
        assert!("svm".parse::<Method>().is_err());
    }
}
