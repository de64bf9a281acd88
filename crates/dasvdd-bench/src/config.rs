//! The benchmark's matrix settings, read from `configs/bench.toml`: run sizes, and per dataset
//! the config file that holds its network, training and baseline settings
//! (`configs/<dataset>.toml`, read by [`dasvdd_baselines::Config`], as `dasvdd train --config`
//! reads it), its quick epochs and the sampling of the large datasets.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use dasvdd_baselines::Config;
use dasvdd_core::config::Variant;
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
    /// `[run]`: seeds, quick-run sizes and extremes.
    #[serde(default)]
    pub run: RunSettings,
    /// `[datasets.<name>]`: the matrix's settings of each dataset, by dataset name.
    #[serde(default)]
    pub datasets: BTreeMap<String, DatasetSettings>,
    /// The dataset config files, read by [`BenchConfig::load`], by dataset name.
    #[serde(skip)]
    pub configs: BTreeMap<String, Config>,
}

/// Sizes of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunSettings {
    /// Runs (seeds 0..N) per cell, at least 1; the paper's ten runs (Section 4.3.1).
    pub seeds: u64,
    /// Seeds per cell under `--quick`, at least 1.
    pub quick_seeds: u64,
    /// Epochs under `--quick` of datasets that set no `quick_epochs` of their own.
    pub quick_epochs: usize,
    /// Under `--quick`, at most this many training samples per split (a seeded subset).
    pub quick_max_train: usize,
    /// Under `--quick`, at most this many test samples per split (a seeded subset, both
    /// classes kept; grouped test sets such as MIMII's are kept whole).
    pub quick_max_test: usize,
    /// Most and least anomalous test samples kept per cell (Fig. 2).
    pub extremes: usize,
}

impl Default for RunSettings {
    /// The paper's ten runs; a quick run of two seeds, ten epochs, subsets of 1,000 training
    /// samples and test splits of at most 10,000 samples (the image datasets' whole).
    fn default() -> Self {
        RunSettings {
            seeds: 10,
            quick_seeds: 2,
            quick_epochs: 10,
            quick_max_train: 1000,
            quick_max_test: 10000,
            extremes: 10,
        }
    }
}

/// The matrix's settings of one dataset; every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetSettings {
    /// The dataset's config file (`fmnist.toml`), relative to `bench.toml`'s folder: the
    /// network, the training (and its `variant`) and the baselines' settings, read as
    /// `dasvdd train --config` reads it. Unset: a network sized from the data, the default
    /// training and the paper's baseline settings.
    pub config: Option<String>,
    /// Epochs under `--quick` [default: run.quick_epochs].
    pub quick_epochs: Option<usize>,
    /// Epochs under `--quick` of single methods, by registry name (`deep_svdd = 20`), over
    /// `quick_epochs`: a network that costs far more per epoch than the others (Ruff's LeNet)
    /// keeps the quick run short.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub quick_method_epochs: std::collections::BTreeMap<String, usize>,
    /// Former home of the dataset config file's `[preprocessing]` table; read only to say where
    /// it went (an error when set).
    #[serde(default, skip_serializing)]
    pub method_preprocessing: Option<toml::Value>,
    /// AWID3: rows sampled from the full data.
    pub sample_rows: Option<usize>,
    /// MIMII: keep every n-th training vector of each clip.
    pub mimii_train_stride: Option<usize>,
    /// A seeded random subset of at most this many training rows for every method (OCSVM and
    /// KDE are quadratic in the training size; AWID3 and MIMII have 10^5-10^6 rows).
    pub max_train: Option<usize>,
}

impl BenchConfig {
    /// Reads and checks `bench.toml` and the dataset config files it refers to.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config {}", path.display()))?;
        let mut cfg: BenchConfig = toml::from_str(&text)
            .with_context(|| format!("config {} is invalid", path.display()))?;
        let folder = path.parent().unwrap_or(Path::new("."));
        for (name, d) in &cfg.datasets {
            if d.method_preprocessing.is_some() {
                bail!(
                    "{}: datasets.{name}.method_preprocessing: moved to the dataset's config \
                     file, as a [preprocessing] table (e.g. `[preprocessing]` then \
                     `deep_svdd = \"gcn-l1-minmax\"` in configs/{name}.toml), which \
                     `dasvdd train --config` reads too",
                    path.display()
                );
            }
            for method in d.quick_method_epochs.keys() {
                if !canonical_method(method) {
                    bail!(
                        "{}: datasets.{name}.quick_method_epochs: `{method}` is not a method's \
                         name (deep_svdd, ae, ...)",
                        path.display()
                    );
                }
            }
            let Some(file) = &d.config else { continue };
            let config = Config::read(&folder.join(file))
                .with_context(|| format!("{}: datasets.{name}.config", path.display()))?;
            if let Some(v) = &config.file.train.variant {
                Variant::parse(v).with_context(|| format!("{}: [train]", config.origin))?;
            }
            for (method, scale) in &config.file.preprocessing {
                if scale.parse::<dasvdd_data::Preprocessing>().is_err() {
                    bail!(
                        "{}: [preprocessing]: `{method} = \"{scale}\"`: expected none, \
                         zscore, minmax, gcn-l2 or gcn-l1-minmax",
                        config.origin
                    );
                }
            }
            cfg.configs.insert(name.clone(), config);
        }
        if cfg.run.seeds == 0 || cfg.run.quick_seeds == 0 {
            bail!(
                "{}: run.seeds and run.quick_seeds must be at least 1",
                path.display()
            );
        }
        Ok(cfg)
    }

    /// The name whose settings dataset `name` takes: its own, else `default`.
    fn key<'a>(&self, name: &'a str) -> &'a str {
        if self.datasets.contains_key(name) {
            name
        } else {
            "default"
        }
    }

    /// The settings of dataset `name` (`fmnist`, `odds:cardio`, `synthetic`...), falling back to
    /// `[datasets.default]`.
    pub fn dataset(&self, name: &str) -> DatasetSettings {
        self.datasets
            .get(self.key(name))
            .cloned()
            .unwrap_or_default()
    }

    /// The config file of dataset `name` (that of `[datasets.default]` when it has no table;
    /// an empty one when neither refers to a file): every method's parameters come from it
    /// through [`Config::method_params`].
    pub fn method_config(&self, name: &str) -> Config {
        self.configs
            .get(self.key(name))
            .cloned()
            .unwrap_or_default()
    }

    /// The DASVDD variant of dataset `name`: its config's `[train] variant`, else the default.
    pub fn variant(&self, name: &str) -> Result<Variant> {
        Ok(self
            .method_config(name)
            .file
            .train
            .variant
            .as_deref()
            .map(Variant::parse)
            .transpose()?
            .unwrap_or_default())
    }
}

/// Whether `name` is a method's registry name as written in result files (`deep_svdd`, not an
/// alias such as `dsvdd`): per-method settings are looked up by it.
fn canonical_method(name: &str) -> bool {
    matches!(name.parse::<dasvdd_baselines::Method>(), Ok(m) if m.name() == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use dasvdd_baselines::{Method, MethodParams};
    use dasvdd_core::{DasvddConfig, Preset};

    #[test]
    fn shipped_config_reads_and_gives_the_paper_values() {
        let cfg = BenchConfig::load(&default_config_path()).unwrap();
        assert_eq!(cfg.run.seeds, 10);
        let dasvdd = |d: &str, cols, v| cfg.method_config(d).dasvdd_config(cols, v).unwrap();
        // The shipped datasets train exactly as their presets do, in both variants.
        for (d, preset) in [
            ("mnist", Preset::Mnist),
            ("fmnist", Preset::Mnist),
            ("cifar10", Preset::Cifar10),
            ("speech", Preset::Speech),
            ("pima", Preset::Pima),
        ] {
            for v in Variant::ALL {
                let cols = preset.autoencoder().input_dim;
                assert_eq!(
                    dasvdd(d, cols, Some(v)),
                    DasvddConfig::from_preset_variant(preset, v),
                    "{d} {v}"
                );
            }
        }
        let fm = dasvdd("fmnist", 784, None);
        assert_eq!(fm.model.encoder_widths(), vec![784, 1024, 256, 256]);
        assert_eq!(fm.train.epochs, 300);
        assert_eq!(cfg.variant("cifar10").unwrap(), Variant::default());
        let code = dasvdd("cifar10", 3072, Some(Variant::PublishedCode));
        assert_eq!(
            (code.train.center_lr, code.train.center_lr_decay),
            (0.01, 0.01)
        );
        let paper = dasvdd("cifar10", 3072, Some(Variant::Paper));
        assert_eq!(
            (paper.train.center_lr, paper.train.center_lr_decay),
            (1.0, 0.1)
        );
        let awid3 = dasvdd("awid3", 90, None);
        assert_eq!(awid3.model.encoder_widths(), vec![90, 1024, 512, 256, 256]);
        let synthetic = dasvdd("synthetic", 64, None);
        assert_eq!(synthetic.model.encoder_widths(), vec![64, 64, 16]);
        assert_eq!(synthetic.train.batch_size, 100);
        // The baselines have the paper's settings (Section 4.2), the registry's defaults.
        for m in [Method::Ocsvm, Method::Kde, Method::IsolationForest] {
            assert_eq!(
                cfg.method_config("fmnist")
                    .method_params(m, 784, None, Some(3))
                    .unwrap(),
                dasvdd_baselines::default_params(m, 784, None, None, 3).unwrap(),
                "{m}"
            );
        }
        let MethodParams::IsolationForest(f) = cfg
            .method_config("pima")
            .method_params(Method::IsolationForest, 8, None, Some(3))
            .unwrap()
        else {
            panic!()
        };
        assert_eq!((f.n_trees, f.subsample), (100, 256));
        // Any other dataset: a network sized from the width.
        assert_eq!(dasvdd("odds:cardio", 21, None).model.input_dim, 21);
    }

    #[test]
    fn every_shipped_matrix_config_loads() {
        let dir = default_config_path().parent().unwrap().join("fidelity");
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let cfg = BenchConfig::load(&path).unwrap_or_else(|e| panic!("{e:#}"));
            assert!(cfg.configs.contains_key("fmnist"), "{}", path.display());
            n += 1;
        }
        assert!(n >= 7, "{n} files in {}", dir.display());
    }

    #[test]
    fn unknown_keys_name_the_file_and_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let bench = dir.path().join("bench.toml");
        std::fs::write(&bench, "[datasets.fmnist]\nlatnet = 3\n").unwrap();
        let e = format!("{:#}", BenchConfig::load(&bench).unwrap_err());
        assert!(e.contains("bench.toml") && e.contains("latnet"), "{e}");
        // The network moved to the dataset's config: a bench.toml that still sets it is told so.
        std::fs::write(&bench, "[datasets.fmnist]\nhidden = [3]\n").unwrap();
        let e = format!("{:#}", BenchConfig::load(&bench).unwrap_err());
        assert!(e.contains("hidden"), "{e}");
        std::fs::write(&bench, "[datasets.fmnist]\nconfig = \"f.toml\"\n").unwrap();
        std::fs::write(dir.path().join("f.toml"), "[train]\nkapa = 0.5\n").unwrap();
        let e = format!("{:#}", BenchConfig::load(&bench).unwrap_err());
        assert!(e.contains("f.toml") && e.contains("kapa"), "{e}");
        std::fs::write(dir.path().join("f.toml"), "[baselines.kde]\nfolds = 3\n").unwrap();
        let cfg = BenchConfig::load(&bench).unwrap();
        assert!(cfg.method_config("fmnist").baseline(Method::Kde).is_some());
        std::fs::remove_file(dir.path().join("f.toml")).unwrap();
        let e = format!("{:#}", BenchConfig::load(&bench).unwrap_err());
        assert!(e.contains("f.toml"), "{e}");
    }

    #[test]
    fn per_method_settings_need_a_method_name_and_a_known_preprocessing() {
        let dir = tempfile::tempdir().unwrap();
        let bench = dir.path().join("bench.toml");
        let file = dir.path().join("d.toml");
        for (text, bad, named) in [
            (
                "[preprocessing]\ndeep_svdd = \"gcn-l3\"",
                "gcn-l3",
                "d.toml",
            ),
            ("[preprocessing]\nsvdd = \"none\"", "svdd", "d.toml"),
            // An alias is refused: the settings are looked up by the registry name.
            ("[preprocessing]\ndsvdd = \"none\"", "dsvdd", "d.toml"),
        ] {
            std::fs::write(&bench, "[datasets.fmnist]\nconfig = \"d.toml\"\n").unwrap();
            std::fs::write(&file, text).unwrap();
            let e = format!("{:#}", BenchConfig::load(&bench).unwrap_err());
            assert!(e.contains(named) && e.contains(bad), "{e}");
        }
        std::fs::write(
            &bench,
            "[datasets.fmnist]\nquick_method_epochs = { deepsvdd = 3 }\n",
        )
        .unwrap();
        let e = format!("{:#}", BenchConfig::load(&bench).unwrap_err());
        assert!(e.contains("bench.toml") && e.contains("deepsvdd"), "{e}");
        // The former place in bench.toml says where the setting went.
        std::fs::write(
            &bench,
            "[datasets.fmnist]\nmethod_preprocessing = { deep_svdd = \"none\" }\n",
        )
        .unwrap();
        let e = format!("{:#}", BenchConfig::load(&bench).unwrap_err());
        assert!(e.contains("[preprocessing]") && e.contains("moved"), "{e}");
        // The shipped config: Ruff's preprocessing for Deep SVDD on the image datasets only.
        let cfg = BenchConfig::load(&default_config_path()).unwrap();
        for d in ["mnist", "fmnist", "cifar10"] {
            let c = cfg.method_config(d);
            assert_eq!(
                c.preprocessing(Method::DeepSvdd),
                Some("gcn-l1-minmax"),
                "{d}"
            );
            assert_eq!(c.preprocessing(Method::Dasvdd), None, "{d}");
            assert!(
                cfg.dataset(d).quick_method_epochs.contains_key("deep_svdd"),
                "{d}"
            );
        }
        assert!(cfg.method_config("pima").file.preprocessing.is_empty());
    }
}
