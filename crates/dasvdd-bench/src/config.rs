//! The benchmark's hyperparameters, read from `configs/bench.toml`: run sizes, the DASVDD
//! network and training per dataset, and the baselines' settings.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use dasvdd_baselines::{Bandwidth, IsolationForestParams, KdeParams, OneClassSvmParams};
use dasvdd_core::config::{ModelSection, TrainSection, Variant};
use dasvdd_core::{Activation, ConfigFile, DasvddConfig, Preset};
use serde::{Deserialize, Serialize};

/// Where the config is looked for when `--config` is not given.
pub fn default_config_path() -> PathBuf {
    let local = PathBuf::from("configs/bench.toml");
    if local.is_file() {
        return local;
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/bench.toml")
}

/// The whole `bench.toml`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BenchConfig {
    #[serde(default)]
    pub run: RunSettings,
    #[serde(default)]
    pub datasets: BTreeMap<String, DatasetSettings>,
    #[serde(default)]
    pub methods: MethodSettings,
}

/// Sizes of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunSettings {
    pub seeds: u64,
    pub quick_seeds: u64,
    pub quick_epochs: usize,
    pub quick_max_train: usize,
    pub quick_max_test: usize,
    /// Most and least anomalous test samples kept per cell (Fig. 2).
    pub extremes: usize,
}

impl Default for RunSettings {
    /// The paper's ten runs; a quick run of two seeds, ten epochs and subsets of 500 / 1,000.
    fn default() -> Self {
        RunSettings {
            seeds: 10,
            quick_seeds: 2,
            quick_epochs: 10,
            quick_max_train: 500,
            quick_max_test: 1000,
            extremes: 10,
        }
    }
}

/// DASVDD settings of one dataset; every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetSettings {
    /// `paper` or `published-code`: whose settings fill the fields not set here, for `dasvdd`
    /// and the baselines' data [default: the default variant].
    pub variant: Option<String>,
    /// A network preset of the paper (`mnist`, `cifar10`, `speech`, `pima`).
    pub preset: Option<String>,
    pub hidden: Option<Vec<usize>>,
    pub latent: Option<usize>,
    /// `sigmoid`, `leaky_relu` or `none`.
    pub output_activation: Option<String>,
    pub epochs: Option<usize>,
    /// Epochs under `--quick` [default: run.quick_epochs].
    pub quick_epochs: Option<usize>,
    pub batch_size: Option<usize>,
    pub kappa: Option<f64>,
    pub lr: Option<f64>,
    pub weight_decay: Option<f64>,
    pub center_lr: Option<f64>,
    pub center_lr_decay: Option<f64>,
    /// T of the gamma heuristic (eq. 6).
    pub gamma_trials: Option<usize>,
    /// AWID3: rows sampled from the full data.
    pub sample_rows: Option<usize>,
    /// MIMII: keep every n-th training vector of each clip.
    pub mimii_train_stride: Option<usize>,
    /// A seeded random subset of at most this many training rows for every method (OCSVM and
    /// KDE are quadratic in the training size; AWID3 and MIMII have 10^5-10^6 rows).
    pub max_train: Option<usize>,
}

impl DatasetSettings {
    /// The dataset's variant (`variant`, else the default one).
    pub fn variant(&self) -> Result<Variant> {
        Ok(self
            .variant
            .as_deref()
            .map(Variant::parse)
            .transpose()?
            .unwrap_or_default())
    }

    /// The DASVDD config for `input_dim` features with `variant`'s settings (`None`: the
    /// dataset's variant): preset (or a network sized from the width), then every field that
    /// is set.
    pub fn dasvdd_config_variant(
        &self,
        input_dim: usize,
        variant: Option<Variant>,
    ) -> Result<DasvddConfig> {
        let variant = match variant {
            Some(v) => v,
            None => self.variant()?,
        };
        // The same resolution as a `configs/<dataset>.toml` file given to `dasvdd train`.
        let file = ConfigFile {
            model: ModelSection {
                preset: self.preset.clone(),
                input_dim: Some(input_dim),
                hidden: self.hidden.clone(),
                latent: self.latent,
                output_activation: self.output_activation.clone(),
            },
            train: TrainSection {
                variant: Some(variant.name().to_string()),
                epochs: self.epochs,
                batch_size: self.batch_size,
                kappa: self.kappa,
                lr: self.lr,
                weight_decay: self.weight_decay,
                center_lr: self.center_lr,
                center_lr_decay: self.center_lr_decay,
                gamma_trials: self.gamma_trials,
                ..TrainSection::default()
            },
            baselines: None,
        };
        Ok(file.resolve(Some(input_dim))?)
    }
}

/// The baselines' settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MethodSettings {
    #[serde(default)]
    pub ocsvm: OneClassSvmParams,
    #[serde(default)]
    pub kde: KdeSettings,
    #[serde(default)]
    pub iforest: IforestSettings,
}

/// KDE: the cross-validation grid of the bandwidth.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KdeSettings {
    pub folds: usize,
    pub grid_log10_min: f64,
    pub grid_log10_max: f64,
    pub grid_points: usize,
}

impl Default for KdeSettings {
    /// `np.logspace(-1, 1, 20)`, 5 folds (Section 4.2).
    fn default() -> Self {
        KdeSettings {
            folds: 5,
            grid_log10_min: -1.0,
            grid_log10_max: 1.0,
            grid_points: 20,
        }
    }
}

impl KdeSettings {
    pub fn params(&self) -> KdeParams {
        KdeParams {
            bandwidth: Bandwidth::CrossValidated {
                grid: dasvdd_baselines::kde::logspace(
                    self.grid_log10_min,
                    self.grid_log10_max,
                    self.grid_points,
                ),
                folds: self.folds,
            },
        }
    }
}

/// Isolation Forest: trees and subsample size (the seed is the cell's).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IforestSettings {
    pub n_trees: usize,
    pub subsample: usize,
}

impl Default for IforestSettings {
    /// 100 trees, subsamples of 256 (Section 4.2).
    fn default() -> Self {
        IforestSettings {
            n_trees: 100,
            subsample: 256,
        }
    }
}

impl IforestSettings {
    pub fn params(&self, seed: u64) -> IsolationForestParams {
        IsolationForestParams {
            n_trees: self.n_trees,
            subsample: self.subsample,
            seed,
        }
    }
}

impl BenchConfig {
    /// Reads and checks a config file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config {}", path.display()))?;
        let cfg: BenchConfig = toml::from_str(&text)
            .with_context(|| format!("config {} is invalid", path.display()))?;
        for (name, d) in &cfg.datasets {
            if let Some(p) = &d.preset {
                Preset::parse(p).with_context(|| format!("{}: datasets.{name}", path.display()))?;
            }
            if let Some(v) = &d.variant {
                Variant::parse(v)
                    .with_context(|| format!("{}: datasets.{name}", path.display()))?;
            }
            if let Some(a) = &d.output_activation {
                Activation::parse(a)
                    .with_context(|| format!("{}: datasets.{name}", path.display()))?;
            }
        }
        if cfg.run.seeds == 0 || cfg.run.quick_seeds == 0 {
            bail!(
                "{}: run.seeds and run.quick_seeds must be at least 1",
                path.display()
            );
        }
        Ok(cfg)
    }

    /// The settings of dataset `name` (`fmnist`, `odds:cardio`, `synthetic`...), falling back to
    /// `[datasets.default]`.
    pub fn dataset(&self, name: &str) -> DatasetSettings {
        self.datasets
            .get(name)
            .or_else(|| self.datasets.get("default"))
            .cloned()
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_config_reads_and_gives_the_paper_values() {
        let cfg = BenchConfig::load(&default_config_path()).unwrap();
        assert_eq!(cfg.run.seeds, 10);
        let fm = cfg
            .dataset("fmnist")
            .dasvdd_config_variant(784, None)
            .unwrap();
        assert_eq!(fm.model.encoder_widths(), vec![784, 1024, 256, 256]);
        assert_eq!(fm.train.epochs, 300);
        let cifar = cfg
            .dataset("cifar10")
            .dasvdd_config_variant(3072, None)
            .unwrap();
        assert_eq!(cifar.train.variant, Variant::default());
        let code = cfg
            .dataset("cifar10")
            .dasvdd_config_variant(3072, Some(Variant::PublishedCode))
            .unwrap();
        assert_eq!(
            (code.train.center_lr, code.train.center_lr_decay),
            (0.01, 0.01)
        );
        let paper = cfg
            .dataset("cifar10")
            .dasvdd_config_variant(3072, Some(Variant::Paper))
            .unwrap();
        assert_eq!(
            (paper.train.center_lr, paper.train.center_lr_decay),
            (1.0, 0.1)
        );
        assert_eq!(cfg.methods.ocsvm, OneClassSvmParams::default());
        assert_eq!(cfg.methods.kde.params(), KdeParams::default());
        assert_eq!(cfg.methods.iforest.params(3).subsample, 256);
        let other = cfg
            .dataset("odds:cardio")
            .dasvdd_config_variant(21, None)
            .unwrap();
        assert_eq!(other.model.input_dim, 21);
    }

    #[test]
    fn unknown_fields_are_errors() {
        let err = toml::from_str::<BenchConfig>("[datasets.fmnist]\nlatnet = 3\n").unwrap_err();
        assert!(err.to_string().contains("latnet"), "{err}");
    }
}
