//! Configuration of DASVDD: the autoencoder architecture (presets of the paper or any list of
//! widths) and the training hyperparameters of Algorithm 1, with the paper's defaults.

use serde::{Deserialize, Serialize};

use crate::error::{CoreError, Result};

/// Activation applied to a layer's output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// Leaky ReLU with negative slope 0.01 (PyTorch's default slope).
    LeakyRelu,
    /// Logistic sigmoid.
    Sigmoid,
    /// No activation.
    Identity,
}

impl Activation {
    /// Parses `sigmoid`, `leaky_relu` (also `leaky-relu`, `leakyrelu`) or `none`/`identity`.
    pub fn parse(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().replace('-', "_").as_str() {
            "sigmoid" => Ok(Activation::Sigmoid),
            "leaky_relu" | "leakyrelu" => Ok(Activation::LeakyRelu),
            "none" | "identity" | "linear" => Ok(Activation::Identity),
            other => Err(CoreError::param(
                "output_activation",
                format!("`{other}` is not sigmoid, leaky_relu or none"),
            )),
        }
    }
}

/// Slope of the leaky ReLU for negative inputs.
pub const LEAKY_SLOPE: f32 = 0.01;

/// Widest layer a network may have: 2^24 units, far above any real input (CIFAR-10 has 3072
/// features), so that a mistyped or hostile width is an error rather than an allocation.
pub const MAX_WIDTH: usize = 1 << 24;
/// Most hidden layers a network may have.
pub const MAX_HIDDEN_LAYERS: usize = 64;

/// Architecture of the fully connected autoencoder.
///
/// The encoder maps `input_dim` through `hidden` to `latent`; the decoder mirrors it
/// (`latent`, reversed `hidden`, `input_dim`). Every hidden layer and the code layer are followed
/// by a leaky ReLU (slope 0.01); the output layer by `output_activation`. All layers have biases.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AutoencoderConfig {
    pub input_dim: usize,
    pub hidden: Vec<usize>,
    pub latent: usize,
    pub output_activation: Activation,
}

/// The network presets of the paper (REFERENCE.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    /// MNIST and Fashion-MNIST: 784-1024-256, sigmoid output.
    Mnist,
    /// CIFAR-10: 3072-1024-512-256, leaky ReLU output.
    Cifar10,
    /// ODDS Speech: 400-1024-512-256, linear output.
    Speech,
    /// ODDS PIMA: 8-10-4-4, linear output.
    Pima,
}

impl Preset {
    /// Parses a preset name (`fmnist` and `fashion-mnist` are accepted for `mnist`).
    pub fn parse(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "mnist" | "fmnist" | "fashion-mnist" | "fashion_mnist" => Ok(Preset::Mnist),
            "cifar10" | "cifar-10" => Ok(Preset::Cifar10),
            "speech" => Ok(Preset::Speech),
            "pima" => Ok(Preset::Pima),
            other => Err(CoreError::param(
                "preset",
                format!("unknown preset `{other}` (expected mnist, cifar10, speech or pima)"),
            )),
        }
    }

    /// The preset's architecture.
    pub fn autoencoder(self) -> AutoencoderConfig {
        let (input_dim, hidden, latent, output_activation) = match self {
            Preset::Mnist => (784, vec![1024, 256], 256, Activation::Sigmoid),
            Preset::Cifar10 => (3072, vec![1024, 512, 256], 256, Activation::LeakyRelu),
            Preset::Speech => (400, vec![1024, 512, 256], 256, Activation::Identity),
            Preset::Pima => (8, vec![10, 4], 4, Activation::Identity),
        };
        AutoencoderConfig {
            input_dim,
            hidden,
            latent,
            output_activation,
        }
    }
}

impl AutoencoderConfig {
    /// Sizes a network for `input_dim` features when no preset or config is given: the preset
    /// of the same width when there is one (784 -> `mnist`, ...), otherwise one hidden layer
    /// that halves the width twice, with a linear output.
    pub fn for_input(input_dim: usize) -> Self {
        for p in [Preset::Mnist, Preset::Cifar10, Preset::Speech, Preset::Pima] {
            if p.autoencoder().input_dim == input_dim {
                return p.autoencoder();
            }
        }
        let h1 = (input_dim / 2).max(4);
        let latent = (h1 / 2).max(2);
        AutoencoderConfig {
            input_dim,
            hidden: vec![h1, latent],
            latent,
            output_activation: Activation::Identity,
        }
    }

    /// Layer widths of the encoder, from input to code.
    pub fn encoder_widths(&self) -> Vec<usize> {
        let mut w = vec![self.input_dim];
        w.extend(&self.hidden);
        w.push(self.latent);
        w
    }

    /// Layer widths of the decoder, from code to output.
    pub fn decoder_widths(&self) -> Vec<usize> {
        let mut w = self.encoder_widths();
        w.reverse();
        w
    }

    /// Checks every width is positive and at most [`MAX_WIDTH`], and that there are at most
    /// [`MAX_HIDDEN_LAYERS`] hidden layers.
    pub fn validate(&self) -> Result<()> {
        for (name, w) in [("input_dim", self.input_dim), ("latent", self.latent)] {
            if w == 0 || w > MAX_WIDTH {
                return Err(CoreError::param(
                    name,
                    format!("{w} is not in 1..={MAX_WIDTH}"),
                ));
            }
        }
        if let Some(w) = self.hidden.iter().find(|w| **w == 0 || **w > MAX_WIDTH) {
            return Err(CoreError::param(
                "hidden",
                format!("width {w} is not in 1..={MAX_WIDTH}"),
            ));
        }
        if self.hidden.len() > MAX_HIDDEN_LAYERS {
            return Err(CoreError::param(
                "hidden",
                format!(
                    "{} hidden layers; at most {MAX_HIDDEN_LAYERS} are allowed",
                    self.hidden.len()
                ),
            ));
        }
        Ok(())
    }
}

/// How gamma, the weight of the SVDD term, is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GammaChoice {
    /// The heuristic of eq. (6): over `trials` fresh random initialisations (no training,
    /// c = 0), the mean of (mean reconstruction error) / (mean ||z||^2) on the training set.
    Heuristic { trials: usize },
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

/// Which source's consistent set of choices fills every training setting not given explicitly:
/// the paper's text, or the 2021 code that produced the paper's numbers (REFERENCE.md,
/// `docs/fidelity.md`). One source's whole set, never a mix; an explicit setting still
/// overrides.
///
/// | setting | `paper` | `published-code` |
/// |---|---|---|
/// | SVDD term of the network loss | batch mean (eq. 3) | first sample of the batch |
/// | centre gradient | cleared every step | never cleared, c not detached in the network loss |
/// | gamma heuristic's code norms | all samples (eq. 6) | first sample of each batch |
/// | Adam weight decay | 1e-7 | 0 |
/// | network lr | 1e-3 | 1e-3 (Speech 1e-4) |
/// | centre lr | 1 | MNIST/FMNIST 1, CIFAR-10 0.01, Speech, PIMA and the rest 0.1 |
/// | centre lr decay | 0.1 | 0.01 |
/// | CIFAR-10 preprocessing | GCN l1 + min-max (Deep SVDD's, which the paper cites) | GCN l2 |
/// | Speech training rows | normal rows only | every row after the test rows, anomalies kept |
///
/// The last two are data choices, applied by the benchmark (`dasvdd-data`'s
/// `DatasetName::paper_preprocessing` / `reference_code_preprocessing` and `SplitProtocol`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Variant {
    /// The choices of the paper's text: the default, as the measurements of
    /// `docs/fidelity.md` support (never far behind the 2021 code's on Fashion-MNIST subsets,
    /// and stable on small tabular data, where the code's accumulated centre gradient is not).
    #[default]
    Paper,
    /// The choices of the 2021 reference code.
    PublishedCode,
}

impl Variant {
    /// Both variants, the default first.
    pub const ALL: [Variant; 2] = [Variant::Paper, Variant::PublishedCode];

    /// Parses `paper` or `published-code` (also `published_code`, `code`).
    pub fn parse(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().replace('_', "-").as_str() {
            "paper" => Ok(Variant::Paper),
            "published-code" | "code" | "reference-code" => Ok(Variant::PublishedCode),
            other => Err(CoreError::param(
                "variant",
                format!("`{other}` is not \"paper\" or \"published-code\""),
            )),
        }
    }

    /// The name in config files.
    pub fn name(self) -> &'static str {
        match self {
            Variant::Paper => "paper",
            Variant::PublishedCode => "published-code",
        }
    }

    /// The training settings of this variant for a network of `preset` (`None`: a network
    /// without a preset, e.g. AWID3, MIMII or another tabular dataset).
    pub fn train_config(self, preset: Option<Preset>) -> TrainConfig {
        let base = TrainConfig {
            epochs: 300,
            batch_size: 200,
            kappa: 0.9,
            lr: 1e-3,
            weight_decay: 1e-7,
            center_lr: 1.0,
            center_lr_decay: 0.1,
            gamma: GammaChoice::Heuristic { trials: 10 },
            center: CenterMode::Trained,
            seed: 0,
            svdd_term: SvddTerm::BatchMean,
            center_grad: CenterGrad::Reset,
            gamma_norm: GammaNorm::AllSamples,
            variant: self,
        };
        match self {
            // Section 4.3: Adam lr 1e-3 and AdaGrad lr 1 with decay 0.1 for every dataset.
            Variant::Paper => base,
            Variant::PublishedCode => TrainConfig {
                weight_decay: 0.0,
                lr: if preset == Some(Preset::Speech) {
                    1e-4
                } else {
                    1e-3
                },
                center_lr: match preset {
                    Some(Preset::Mnist) => 1.0,
                    Some(Preset::Cifar10) => 0.01,
                    Some(Preset::Speech | Preset::Pima) | None => 0.1,
                },
                center_lr_decay: 0.01,
                svdd_term: SvddTerm::FirstSample,
                center_grad: CenterGrad::Accumulate,
                gamma_norm: GammaNorm::FirstOfBatch,
                ..base
            },
        }
    }
}

impl std::fmt::Display for Variant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
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

/// Everything needed to build and train a DASVDD model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DasvddConfig {
    pub model: AutoencoderConfig,
    pub train: TrainConfig,
}

impl DasvddConfig {
    /// A config with the preset's network and the default [`Variant`]'s training settings
    /// for that dataset.
    pub fn from_preset(preset: Preset) -> Self {
        Self::from_preset_variant(preset, Variant::default())
    }

    /// A config with the preset's network and `variant`'s training settings for that dataset.
    pub fn from_preset_variant(preset: Preset, variant: Variant) -> Self {
        DasvddConfig {
            model: preset.autoencoder(),
            train: variant.train_config(Some(preset)),
        }
    }

    /// Validates both parts.
    pub fn validate(&self) -> Result<()> {
        self.model.validate()?;
        self.train.validate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kappa_split_of_the_paper() {
        let t = TrainConfig::default();
        assert_eq!(t.network_split(200), 180);
        let t1 = TrainConfig {
            kappa: 1.0,
            ..TrainConfig::default()
        };
        assert_eq!(t1.network_split(200), 200);
    }

    #[test]
    fn presets_match_the_reference() {
        assert_eq!(
            Preset::Mnist.autoencoder().encoder_widths(),
            vec![784, 1024, 256, 256]
        );
        assert_eq!(
            Preset::Cifar10.autoencoder().decoder_widths(),
            vec![256, 256, 512, 1024, 3072]
        );
        assert_eq!(
            Preset::Pima.autoencoder().encoder_widths(),
            vec![8, 10, 4, 4]
        );
        assert_eq!(
            AutoencoderConfig::for_input(784),
            Preset::Mnist.autoencoder()
        );
    }

    #[test]
    fn bad_parameters_are_errors() {
        let bad = TrainConfig {
            kappa: 0.0,
            ..TrainConfig::default()
        };
        assert!(matches!(
            bad.validate(),
            Err(CoreError::InvalidParameter { name: "kappa", .. })
        ));
        let bad = TrainConfig {
            gamma: GammaChoice::Fixed(f64::NAN),
            ..TrainConfig::default()
        };
        assert!(matches!(
            bad.validate(),
            Err(CoreError::InvalidParameter { name: "gamma", .. })
        ));
        let bad = TrainConfig {
            gamma: GammaChoice::Heuristic { trials: 0 },
            ..TrainConfig::default()
        };
        assert!(matches!(
            bad.validate(),
            Err(CoreError::InvalidParameter {
                name: "gamma_trials",
                ..
            })
        ));
        assert!(matches!(
            Preset::parse("vgg"),
            Err(CoreError::InvalidParameter { name: "preset", .. })
        ));
    }
}

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
    #[serde(default)]
    pub model: ModelSection,
    #[serde(default)]
    pub train: TrainSection,
    /// Hyperparameters of the baselines (`[baselines.ocsvm]`, ...), read by the benchmark;
    /// DASVDD ignores them.
    #[serde(default)]
    pub baselines: Option<toml::Table>,
}

/// `[model]` of a [`ConfigFile`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSection {
    pub preset: Option<String>,
    pub input_dim: Option<usize>,
    pub hidden: Option<Vec<usize>>,
    pub latent: Option<usize>,
    pub output_activation: Option<String>,
}

/// `[train]` of a [`ConfigFile`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainSection {
    /// `"paper"` or `"published-code"`: whose settings fill the keys not given
    /// ([`Variant`]).
    pub variant: Option<String>,
    pub epochs: Option<usize>,
    pub batch_size: Option<usize>,
    pub kappa: Option<f64>,
    pub lr: Option<f64>,
    pub weight_decay: Option<f64>,
    pub center_lr: Option<f64>,
    pub center_lr_decay: Option<f64>,
    /// `"auto"` for the heuristic, or a number.
    pub gamma: Option<toml::Value>,
    pub gamma_trials: Option<usize>,
    /// `"trained"` or `"fixed_mean_code"`.
    pub center: Option<String>,
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

#[cfg(test)]
mod config_file_tests {
    use super::*;

    #[test]
    fn presets_and_overrides_resolve() {
        let f = ConfigFile::parse(
            "[model]\npreset = \"speech\"\n[train]\nvariant = \"published-code\"\ngamma = 2.5\nepochs = 7\n",
            "t",
        )
        .unwrap();
        let c = f.resolve(None).unwrap();
        assert_eq!(c.model, Preset::Speech.autoencoder());
        assert_eq!(c.train.lr, 1e-4);
        assert_eq!(c.train.epochs, 7);
        assert_eq!(c.train.gamma, GammaChoice::Fixed(2.5));
        let f = ConfigFile::parse("[train]\ncenter = \"fixed_mean_code\"\n", "t").unwrap();
        let c = f.resolve(Some(12)).unwrap();
        assert_eq!(c.model.input_dim, 12);
        assert_eq!(c.train.center, CenterMode::FixedMeanCode);
    }

    #[test]
    fn bad_files_are_errors() {
        assert!(matches!(
            ConfigFile::parse("[train]\nepoch = 3\n", "x.toml"),
            Err(CoreError::InvalidParameter { name: "config", .. })
        ));
        let f = ConfigFile::parse("[train]\ngamma = \"big\"\n", "t").unwrap();
        assert!(matches!(
            f.resolve(Some(3)),
            Err(CoreError::InvalidParameter { name: "gamma", .. })
        ));
        let f = ConfigFile::parse("[train]\nkappa = 1.5\n", "t").unwrap();
        assert!(matches!(
            f.resolve(Some(3)),
            Err(CoreError::InvalidParameter { name: "kappa", .. })
        ));
        let f = ConfigFile::parse("[train]\nsvdd_term = \"first\"\n", "t").unwrap();
        assert!(matches!(
            f.resolve(Some(3)),
            Err(CoreError::InvalidParameter {
                name: "svdd_term",
                ..
            })
        ));
        let f = ConfigFile::parse(
            "[train]\nsvdd_term = \"first_sample\"\ncenter_grad = \"accumulate\"\ngamma_norm = \"first_of_batch\"\n",
            "t",
        )
        .unwrap();
        let c = f.resolve(Some(3)).unwrap();
        assert_eq!(c.train.svdd_term, SvddTerm::FirstSample);
        assert_eq!(c.train.center_grad, CenterGrad::Accumulate);
        assert_eq!(c.train.gamma_norm, GammaNorm::FirstOfBatch);
        assert!(matches!(
            ConfigFile::default().resolve(None),
            Err(CoreError::InvalidParameter {
                name: "input_dim",
                ..
            })
        ));
    }
}

#[cfg(test)]
mod variant_tests {
    use super::*;

    fn resolve(text: &str) -> DasvddConfig {
        ConfigFile::parse(text, "t")
            .unwrap()
            .resolve(Some(20))
            .unwrap()
    }

    #[test]
    fn the_paper_variant_is_the_papers_text_for_every_dataset() {
        for preset in ["mnist", "cifar10", "speech", "pima"] {
            let c = resolve(&format!(
                "[model]\npreset = \"{preset}\"\n[train]\nvariant = \"paper\"\n"
            ));
            let t = &c.train;
            assert_eq!(t.variant, Variant::Paper);
            assert_eq!((t.lr, t.weight_decay), (1e-3, 1e-7), "{preset}");
            assert_eq!((t.center_lr, t.center_lr_decay), (1.0, 0.1), "{preset}");
            assert_eq!(t.svdd_term, SvddTerm::BatchMean);
            assert_eq!(t.center_grad, CenterGrad::Reset);
            assert_eq!(t.gamma_norm, GammaNorm::AllSamples);
        }
        // AWID3, MIMII and other data without a preset.
        let t = resolve("[train]\nvariant = \"paper\"\n").train;
        assert_eq!((t.center_lr, t.center_lr_decay), (1.0, 0.1));
    }

    #[test]
    fn the_published_code_variant_is_the_2021_codes_pair_for_every_dataset() {
        for (preset, lr, center_lr) in [
            ("mnist", 1e-3, 1.0),
            ("cifar10", 1e-3, 0.01),
            ("speech", 1e-4, 0.1),
            ("pima", 1e-3, 0.1),
        ] {
            let c = resolve(&format!(
                "[model]\npreset = \"{preset}\"\n[train]\nvariant = \"published-code\"\n"
            ));
            let t = &c.train;
            assert_eq!(t.variant, Variant::PublishedCode);
            assert_eq!((t.lr, t.weight_decay), (lr, 0.0), "{preset}");
            assert_eq!(
                (t.center_lr, t.center_lr_decay),
                (center_lr, 0.01),
                "{preset}"
            );
            assert_eq!(t.svdd_term, SvddTerm::FirstSample);
            assert_eq!(t.center_grad, CenterGrad::Accumulate);
            assert_eq!(t.gamma_norm, GammaNorm::FirstOfBatch);
        }
        let t = resolve("[train]\nvariant = \"code\"\n").train;
        assert_eq!((t.center_lr, t.center_lr_decay), (0.1, 0.01));
    }

    #[test]
    fn explicit_settings_override_the_variant_and_bad_names_are_errors() {
        let t = resolve(
            "[model]\npreset = \"cifar10\"\n[train]\nvariant = \"published-code\"\ncenter_lr_decay = 0.1\nsvdd_term = \"batch_mean\"\n",
        )
        .train;
        assert_eq!((t.center_lr, t.center_lr_decay), (0.01, 0.1));
        assert_eq!(t.svdd_term, SvddTerm::BatchMean);
        assert_eq!(t.center_grad, CenterGrad::Accumulate);
        let f = ConfigFile::parse("[train]\nvariant = \"2021\"\n", "t").unwrap();
        assert!(matches!(
            f.resolve(Some(3)),
            Err(CoreError::InvalidParameter {
                name: "variant",
                ..
            })
        ));
        assert_eq!(
            DasvddConfig::from_preset(Preset::Speech).train,
            Variant::default().train_config(Some(Preset::Speech))
        );
    }
}

#[cfg(test)]
mod shipped_configs {
    use super::*;

    /// The config of every paper dataset in `configs/` parses and resolves (AWID3 and MIMII
    /// need the data's width).
    #[test]
    fn configs_folder_resolves() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs");
        for name in [
            "mnist", "fmnist", "cifar10", "speech", "pima", "awid3", "mimii",
        ] {
            let path = dir.join(format!("{name}.toml"));
            let f = ConfigFile::read(&path).unwrap();
            let c = f
                .resolve(Some(100))
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert_eq!(c.train.kappa, 0.9);
            assert_eq!(c.train.epochs, 300);
            // The files leave every setting that differs between the sources to the variant.
            let preset = f.preset().unwrap();
            let mut expected = Variant::default().train_config(preset);
            expected.gamma = c.train.gamma;
            assert_eq!(c.train, expected, "{}", path.display());
        }
    }
}
