//! The TOML config files (`configs/`): [`ConfigFile`] and its sections, and their resolution
//! into a [`DasvddConfig`].

use serde::{Deserialize, Serialize};

use super::{
    Activation, AutoencoderConfig, CenterMode, DasvddConfig, GammaChoice, Preset, Variant,
};
use crate::error::{CoreError, Result};

/// The TOML form of a [`DasvddConfig`] (the files in `configs/`).
///
/// ```toml
/// [model]
/// preset = "mnist"            # or input_dim / hidden / latent / output_activation
/// [train]
/// epochs = 300
/// gamma = "auto"              # or a number
/// gamma_trials = 10
/// center = "trained"          # or "fixed_mean_code" (Table 3's ablation)
/// ```
/// Every key is optional: a missing `[model]` key comes from the preset (or, without a preset,
/// from the input width), a missing `[train]` key from the preset's paper defaults.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// The network (`[model]`).
    #[serde(default)]
    pub model: ModelSection,
    /// The training hyperparameters (`[train]`).
    #[serde(default)]
    pub train: TrainSection,
    /// Hyperparameters of the baselines (`[baselines.ocsvm]`, ...), read by the benchmark;
    /// DASVDD ignores them.
    #[serde(default)]
    pub baselines: Option<toml::Table>,
    /// `[preprocessing]`: the data preparation of single methods, by method name, in
    /// `dasvdd train --scale` names (`deep_svdd = "gcn-l1-minmax"`: Ruff's global contrast
    /// normalisation and min-max for his networks), instead of the dataset's. Read by the
    /// benchmark and by `dasvdd train` (where `--scale` overrides it); the names are checked
    /// by those readers, which know the methods and the scalings.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub preprocessing: std::collections::BTreeMap<String, String>,
}

/// `[model]` of a [`ConfigFile`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSection {
    /// A [`Preset`] name, as [`Preset::parse`] accepts: the network the other keys override
    /// (and, with the variant, the training defaults).
    pub preset: Option<String>,
    /// Features per sample; without it or a preset, the width of the data.
    pub input_dim: Option<usize>,
    /// Widths of the encoder's hidden layers, from the input side (the decoder mirrors them).
    pub hidden: Option<Vec<usize>>,
    /// Width of the code z.
    pub latent: Option<usize>,
    /// Activation of the decoder's last layer, as [`Activation::parse`] accepts.
    pub output_activation: Option<String>,
}

/// `[train]` of a [`ConfigFile`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainSection {
    /// `"paper"` or `"published-code"`: whose settings fill the keys not given
    /// ([`Variant`]).
    pub variant: Option<String>,
    /// Number of epochs.
    pub epochs: Option<usize>,
    /// Samples per batch.
    pub batch_size: Option<usize>,
    /// Fraction of each batch that trains the network; the rest trains c.
    pub kappa: Option<f64>,
    /// Adam learning rate of the network.
    pub lr: Option<f64>,
    /// Adam's L2 weight decay lambda.
    pub weight_decay: Option<f64>,
    /// AdaGrad learning rate of the centre.
    pub center_lr: Option<f64>,
    /// AdaGrad learning-rate decay of the centre.
    pub center_lr_decay: Option<f64>,
    /// `"auto"` for the heuristic, or a number.
    pub gamma: Option<toml::Value>,
    /// Random initialisations T averaged by the gamma heuristic (eq. 6); unused with a fixed
    /// gamma.
    pub gamma_trials: Option<usize>,
    /// `"trained"` or `"fixed_mean_code"`.
    pub center: Option<String>,
    /// Seed of every random stream: weights, centre, shuffling and the gamma trials.
    pub seed: Option<u64>,
    /// `"batch_mean"` (the paper) or `"first_sample"` (the 2021 reference code).
    pub svdd_term: Option<String>,
    /// `"reset"` or `"accumulate"` (the 2021 reference code).
    pub center_grad: Option<String>,
    /// `"all_samples"` (the paper) or `"first_of_batch"` (the 2021 reference code).
    pub gamma_norm: Option<String>,
}

impl ConfigFile {
    /// Parses TOML text; `origin` names the file in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self> {
        toml::from_str(text).map_err(|e| CoreError::param("config", format!("{origin}: {e}")))
    }

    /// Reads and parses a TOML file.
    pub fn read(path: &std::path::Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| CoreError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// The preset named in the file, if any.
    pub fn preset(&self) -> Result<Option<Preset>> {
        self.model.preset.as_deref().map(Preset::parse).transpose()
    }

    /// Resolves the file into a full config for data with `input_dim` features (used when
    /// neither the file nor its preset fixes the width).
    pub fn resolve(&self, input_dim: Option<usize>) -> Result<DasvddConfig> {
        let preset = self.preset()?;
        let variant = self
            .train
            .variant
            .as_deref()
            .map(Variant::parse)
            .transpose()?
            .unwrap_or_default();
        let mut cfg = match preset {
            Some(p) => DasvddConfig::from_preset_variant(p, variant),
            None => {
                let d = self.model.input_dim.or(input_dim).ok_or_else(|| {
                    CoreError::param(
                        "input_dim",
                        "no preset, no input_dim and no data to size the network from",
                    )
                })?;
                DasvddConfig {
                    model: AutoencoderConfig::for_input(d),
                    train: variant.train_config(None),
                }
            }
        };
        let m = &self.model;
        if let Some(d) = m.input_dim {
            cfg.model.input_dim = d;
        }
        if let Some(h) = &m.hidden {
            cfg.model.hidden = h.clone();
        }
        if let Some(l) = m.latent {
            cfg.model.latent = l;
        }
        if let Some(a) = &m.output_activation {
            cfg.model.output_activation = Activation::parse(a)?;
        }
        let t = &self.train;
        let tc = &mut cfg.train;
        macro_rules! set {
            ($($f:ident),*) => { $( if let Some(v) = t.$f { tc.$f = v; } )* };
        }
        set!(
            epochs,
            batch_size,
            kappa,
            lr,
            weight_decay,
            center_lr,
            center_lr_decay,
            seed
        );
        let trials = t.gamma_trials.unwrap_or(match tc.gamma {
            GammaChoice::Heuristic { trials } => trials,
            GammaChoice::Fixed(_) => 10,
        });
        tc.gamma = match &t.gamma {
            None => GammaChoice::Heuristic { trials },
            Some(toml::Value::String(s)) if s == "auto" => GammaChoice::Heuristic { trials },
            Some(toml::Value::Float(g)) => GammaChoice::Fixed(*g),
            Some(toml::Value::Integer(g)) => GammaChoice::Fixed(*g as f64),
            Some(other) => {
                return Err(CoreError::param(
                    "gamma",
                    format!("{other} is neither \"auto\" nor a number"),
                ))
            }
        };
        if let Some(c) = &t.center {
            tc.center = match c.as_str() {
                "trained" => CenterMode::Trained,
                "fixed_mean_code" | "fixed" => CenterMode::FixedMeanCode,
                other => {
                    return Err(CoreError::param(
                        "center",
                        format!("`{other}` is not \"trained\" or \"fixed_mean_code\""),
                    ))
                }
            };
        }
        fn choice<T: serde::de::DeserializeOwned>(
            name: &'static str,
            value: &Option<String>,
            known: &str,
        ) -> Result<Option<T>> {
            value
                .as_ref()
                .map(|v| {
                    serde_json::from_value(serde_json::Value::String(v.clone()))
                        .map_err(|_| CoreError::param(name, format!("`{v}` is not one of {known}")))
                })
                .transpose()
        }
        if let Some(v) = choice("svdd_term", &t.svdd_term, "batch_mean, first_sample")? {
            tc.svdd_term = v;
        }
        if let Some(v) = choice("center_grad", &t.center_grad, "reset, accumulate")? {
            tc.center_grad = v;
        }
        if let Some(v) = choice("gamma_norm", &t.gamma_norm, "all_samples, first_of_batch")? {
            tc.gamma_norm = v;
        }
        cfg.validate()?;
        Ok(cfg)
    }
}
