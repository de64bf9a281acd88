//! The benchmark matrix: datasets x normal classes x methods x seeds, the identity of a cell
//! (with the hash of everything that determines its result), and shards of the matrix.

use std::fmt;
use std::str::FromStr;

use anyhow::{anyhow, bail, Result};
use dasvdd_data::DatasetName;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use dasvdd_core::config::Variant as TrainVariant;

use crate::config::BenchConfig;
use crate::synthetic;

/// Bumped when a change of the runner changes results, so that old cells are not reused.
const RUNNER_VERSION: u32 = 1;

/// The seven datasets of Table 2, in the paper's order.
pub const PAPER_DATASETS: [&str; 7] = [
    "mnist", "fmnist", "cifar10", "speech", "pima", "awid3", "mimii",
];

/// A dataset of the matrix: one the registry of `dasvdd-data` knows, or the built-in synthetic
/// one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum BenchDataset {
    Registry(DatasetName),
    Synthetic,
}

impl FromStr for BenchDataset {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        if s.trim().eq_ignore_ascii_case(synthetic::NAME) {
            return Ok(BenchDataset::Synthetic);
        }
        Ok(BenchDataset::Registry(
            s.parse().map_err(|e| anyhow!("{e} (or `synthetic`)"))?,
        ))
    }
}

impl fmt::Display for BenchDataset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BenchDataset::Registry(n) => write!(f, "{n}"),
            BenchDataset::Synthetic => f.write_str(synthetic::NAME),
        }
    }
}

impl BenchDataset {
    /// Names of the classes that can be the normal class.
    pub fn classes(&self) -> Vec<String> {
        match self {
            BenchDataset::Registry(n) => n.classes(),
            BenchDataset::Synthetic => (0..synthetic::CLASSES).map(|c| c.to_string()).collect(),
        }
    }

    /// True where the test samples are images that Fig. 2 can show: (side, channels).
    pub fn image_shape(&self) -> Option<(usize, usize)> {
        match self {
            BenchDataset::Registry(DatasetName::Mnist | DatasetName::Fmnist) => Some((28, 1)),
            BenchDataset::Registry(DatasetName::Cifar10) => Some((32, 3)),
            BenchDataset::Synthetic => Some((synthetic::SIDE, 1)),
            _ => None,
        }
    }

    /// Position in the report (the paper's order first).
    pub fn order(&self) -> (usize, String) {
        let name = self.to_string();
        let pos = PAPER_DATASETS
            .iter()
            .position(|d| *d == name)
            .unwrap_or(PAPER_DATASETS.len());
        (pos, name)
    }
}

/// A detector of the matrix: the registry's [`dasvdd_baselines::Method`], so that the benchmark
/// accepts and writes the same method names (and aliases) as the `dasvdd` command.
pub use dasvdd_baselines::Method;

/// The column of the paper's Table 2 (`configs/table2_auc.csv`) of a method.
pub trait PaperColumn {
    fn paper_column(self) -> &'static str;
}

impl PaperColumn for Method {
    /// The registry's [`dasvdd_baselines::MethodInfo::paper_column`].
    fn paper_column(self) -> &'static str {
        self.info().paper_column
    }
}

/// A variant of DASVDD for the sweeps and the fixed-c ablation: `dasvdd:gamma=0.001`,
/// `dasvdd:kappa=0.5`, `dasvdd:latent=64`, `dasvdd:trials=5`, `dasvdd:center=fixed`; the two
/// source profiles `dasvdd-paper` and `dasvdd-code` (also `dasvdd:variant=paper|published-code`);
/// and, for the fidelity study (`docs/fidelity.md`), the paper's settings with one of the 2021
/// code's choices: `dasvdd:svdd_term=first_sample`, `dasvdd:center_grad=accumulate`,
/// `dasvdd:gamma_norm=first_of_batch`, `dasvdd:center_lr_decay=0.01`,
/// `dasvdd:weight_decay=0`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Variant {
    Gamma(f64),
    Kappa(f64),
    Latent(usize),
    Trials(usize),
    FixedCenter,
    Profile(TrainVariant),
    PaperWith(Switch),
}

/// One of the 2021 code's choices, applied alone to the paper's settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Switch {
    FirstSample,
    Accumulate,
    FirstOfBatch,
    CenterLrDecay(f64),
    WeightDecay(f64),
}

impl Variant {
    /// The sweep parameter's name (`gamma`, `kappa`, `latent`, `t`, `center`).
    pub fn parameter(&self) -> &'static str {
        match self {
            Variant::Gamma(_) => "gamma",
            Variant::Kappa(_) => "kappa",
            Variant::Latent(_) => "latent",
            Variant::Trials(_) => "t",
            Variant::FixedCenter => "center",
            Variant::Profile(_) => "variant",
            Variant::PaperWith(Switch::FirstSample) => "svdd_term",
            Variant::PaperWith(Switch::Accumulate) => "center_grad",
            Variant::PaperWith(Switch::FirstOfBatch) => "gamma_norm",
            Variant::PaperWith(Switch::CenterLrDecay(_)) => "center_lr_decay",
            Variant::PaperWith(Switch::WeightDecay(_)) => "weight_decay",
        }
    }

    /// The parameter's value as a number for plots (0 for the categorical ones).
    pub fn value(&self) -> f64 {
        match *self {
            Variant::Gamma(v) | Variant::Kappa(v) => v,
            Variant::PaperWith(Switch::CenterLrDecay(v) | Switch::WeightDecay(v)) => v,
            Variant::Latent(v) | Variant::Trials(v) => v as f64,
            Variant::FixedCenter | Variant::Profile(_) | Variant::PaperWith(_) => 0.0,
        }
    }

    /// True where the variant has no numeric value to plot.
    pub fn is_categorical(&self) -> bool {
        matches!(
            self,
            Variant::FixedCenter
                | Variant::Profile(_)
                | Variant::PaperWith(
                    Switch::FirstSample | Switch::Accumulate | Switch::FirstOfBatch
                )
        )
    }
}

/// A method with an optional DASVDD variant, written `method` or `dasvdd:key=value`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MethodSpec {
    pub method: Method,
    pub variant: Option<Variant>,
}

impl MethodSpec {
    /// The method without a variant.
    pub fn plain(method: Method) -> Self {
        MethodSpec {
            method,
            variant: None,
        }
    }
}

impl FromStr for MethodSpec {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        let profile = |v: TrainVariant| MethodSpec {
            method: Method::Dasvdd,
            variant: Some(Variant::Profile(v)),
        };
        match s.trim().to_ascii_lowercase().as_str() {
            "dasvdd-paper" => return Ok(profile(TrainVariant::Paper)),
            "dasvdd-code" => return Ok(profile(TrainVariant::PublishedCode)),
            _ => {}
        }
        let (base, rest) = match s.split_once(':') {
            Some((b, r)) => (b, Some(r)),
            None => (s, None),
        };
        let method: Method = base.parse()?;
        let Some(rest) = rest else {
            return Ok(MethodSpec {
                method,
                variant: None,
            });
        };
        if method != Method::Dasvdd {
            bail!("`{s}`: only dasvdd has variants");
        }
        let (key, value) = rest
            .split_once('=')
            .ok_or_else(|| anyhow!("`{s}`: a variant is dasvdd:key=value"))?;
        let num = |v: &str| -> Result<f64> {
            v.parse::<f64>()
                .ok()
                .filter(|x| x.is_finite() && *x >= 0.0)
                .ok_or_else(|| anyhow!("`{s}`: `{v}` is not a non-negative number"))
        };
        let int = |v: &str| -> Result<usize> {
            v.parse::<usize>()
                .ok()
                .filter(|x| *x > 0)
                .ok_or_else(|| anyhow!("`{s}`: `{v}` is not a positive integer"))
        };
        let variant = match key {
            "gamma" => Variant::Gamma(num(value)?),
            "kappa" => Variant::Kappa(num(value)?),
            "latent" => Variant::Latent(int(value)?),
            "t" | "trials" => Variant::Trials(int(value)?),
            "center" if value == "fixed" => Variant::FixedCenter,
            "variant" => Variant::Profile(TrainVariant::parse(value)?),
            "svdd_term" if value == "first_sample" => Variant::PaperWith(Switch::FirstSample),
            "center_grad" if value == "accumulate" => Variant::PaperWith(Switch::Accumulate),
            "gamma_norm" if value == "first_of_batch" => Variant::PaperWith(Switch::FirstOfBatch),
            "center_lr_decay" => Variant::PaperWith(Switch::CenterLrDecay(num(value)?)),
            "weight_decay" => Variant::PaperWith(Switch::WeightDecay(num(value)?)),
            _ => bail!(
                "`{s}`: variants are gamma=, kappa=, latent=, t=, center=fixed, \
                 variant=paper|published-code, svdd_term=first_sample, center_grad=accumulate, \
                 gamma_norm=first_of_batch, center_lr_decay= and weight_decay="
            ),
        };
        Ok(MethodSpec {
            method,
            variant: Some(variant),
        })
    }
}

impl fmt::Display for MethodSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The two profiles are methods of their own in the main table (no `:`).
        match self.variant {
            Some(Variant::Profile(TrainVariant::Paper)) => return f.write_str("dasvdd-paper"),
            Some(Variant::Profile(TrainVariant::PublishedCode)) => {
                return f.write_str("dasvdd-code")
            }
            _ => {}
        }
        f.write_str(self.method.name())?;
        match self.variant {
            None | Some(Variant::Profile(_)) => Ok(()),
            Some(Variant::PaperWith(Switch::FirstSample)) => f.write_str(":svdd_term=first_sample"),
            Some(Variant::PaperWith(Switch::Accumulate)) => f.write_str(":center_grad=accumulate"),
            Some(Variant::PaperWith(Switch::FirstOfBatch)) => {
                f.write_str(":gamma_norm=first_of_batch")
            }
            Some(Variant::PaperWith(Switch::CenterLrDecay(v))) => write!(f, ":center_lr_decay={v}"),
            Some(Variant::PaperWith(Switch::WeightDecay(v))) => write!(f, ":weight_decay={v}"),
            Some(Variant::Gamma(v)) => write!(f, ":gamma={v}"),
            Some(Variant::Kappa(v)) => write!(f, ":kappa={v}"),
            Some(Variant::Latent(v)) => write!(f, ":latent={v}"),
            Some(Variant::Trials(v)) => write!(f, ":t={v}"),
            Some(Variant::FixedCenter) => write!(f, ":center=fixed"),
        }
    }
}

/// Settings that shape every cell of a run besides the config file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunShape {
    /// Epochs of the neural methods given on the command line, overriding the config.
    pub epochs: Option<usize>,
    /// `--quick`: the quick epochs of the config unless `epochs` is given.
    pub quick: bool,
    /// Seeded subsets of the splits (`--quick`).
    pub max_train: Option<usize>,
    pub max_test: Option<usize>,
}

impl RunShape {
    /// Epochs of the neural methods on `dataset`: `--epochs`, else with `--quick` the
    /// dataset's `quick_epochs` or `run.quick_epochs`, else the dataset's config (`None`).
    pub fn epochs_for(&self, cfg: &BenchConfig, dataset: &str) -> Option<usize> {
        self.epochs.or_else(|| {
            self.quick.then(|| {
                cfg.dataset(dataset)
                    .quick_epochs
                    .unwrap_or(cfg.run.quick_epochs)
            })
        })
    }
}

/// One cell of the matrix.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CellKey {
    pub dataset: String,
    pub class: u8,
    pub method: String,
    pub seed: u64,
    /// Hash of the config that determines the cell's result (16 hex digits).
    pub config_hash: String,
}

impl fmt::Display for CellKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} class {} {} seed {}",
            self.dataset, self.class, self.method, self.seed
        )
    }
}

impl CellKey {
    /// A file-name-safe identifier of the cell.
    pub fn file_stem(&self) -> String {
        let mut h = Sha256::new();
        h.update(
            format!(
                "{}\0{}\0{}\0{}\0{}",
                self.dataset, self.class, self.method, self.seed, self.config_hash
            )
            .as_bytes(),
        );
        let digest = hex(&h.finalize());
        let safe: String = format!(
            "{}-{}-c{}-s{}",
            self.dataset, self.method, self.class, self.seed
        )
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
        format!("{safe}-{}", &digest[..12])
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The hash of everything that determines the results of `method` on `dataset` (all seeds).
pub fn config_hash(
    cfg: &BenchConfig,
    dataset: &BenchDataset,
    method: &MethodSpec,
    shape: &RunShape,
) -> String {
    let name = dataset.to_string();
    // What the dataset's config file says about this method: the network and training for the
    // neural methods, and the method's own `[baselines.<method>]` table.
    let config = cfg.method_config(&name);
    let mut method_settings = serde_json::json!({
        "baseline": config.baseline(method.method).map(|b| serde_json::to_value(b).unwrap_or_default()),
    });
    if method.method.is_neural() {
        method_settings["model"] = serde_json::to_value(&config.file.model).unwrap_or_default();
        method_settings["train"] = serde_json::to_value(&config.file.train).unwrap_or_default();
    }
    let epochs = if method.method.is_neural() {
        shape.epochs_for(cfg, &name)
    } else {
        None
    };
    let sample_rows = cfg.dataset(&name).sample_rows;
    let mimii_train_stride = cfg.dataset(&name).mimii_train_stride;
    let mut doc = serde_json::json!({
        "runner": RUNNER_VERSION,
        "dataset": name,
        "sample_rows": sample_rows,
        "mimii_train_stride": mimii_train_stride,
        "method": method.to_string(),
        "settings": method_settings,
        "epochs": epochs,
        "max_train": shape.max_train,
        "max_test": shape.max_test,
    });
    if method.method.is_neural() {
        // The DASVDD settings a dataset leaves open (shared by the AE and Deep SVDD) come from
        // the default variant, and the variants' training changed with it (issue 15).
        doc["default_variant"] = serde_json::json!(TrainVariant::default().name());
        doc["trainer"] = serde_json::json!(2);
    }
    // Added only when set, so that the hashes of datasets without a cap stay as they were.
    if let Some(cap) = cfg.dataset(&name).max_train {
        doc["dataset_max_train"] = serde_json::json!(cap);
    }
    let mut h = Sha256::new();
    h.update(doc.to_string().as_bytes());
    hex(&h.finalize())[..16].to_string()
}

/// `--shard i/n`: this process runs the cells whose position in the matrix is `i` modulo `n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl FromStr for Shard {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        let (i, n) = s
            .split_once('/')
            .ok_or_else(|| anyhow!("shard `{s}` is not i/n"))?;
        let index: usize = i
            .trim()
            .parse()
            .map_err(|_| anyhow!("shard `{s}`: `{i}` is not a number"))?;
        let count: usize = n
            .trim()
            .parse()
            .map_err(|_| anyhow!("shard `{s}`: `{n}` is not a number"))?;
        if count == 0 || index >= count {
            bail!("shard `{s}`: need 0 <= i < n");
        }
        Ok(Shard { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    pub fn owns(&self, position: usize) -> bool {
        position % self.count == self.index
    }
}

/// Every cell of the matrix, in the canonical order: dataset, class, seed, method (so that one
/// loaded split serves every method of a seed).
pub fn enumerate_cells(
    cfg: &BenchConfig,
    datasets: &[(BenchDataset, Vec<u8>)],
    methods: &[MethodSpec],
    seeds: &[u64],
    shape: &RunShape,
) -> Vec<CellKey> {
    let mut cells = Vec::new();
    for (dataset, classes) in datasets {
        let hashes: Vec<String> = methods
            .iter()
            .map(|m| config_hash(cfg, dataset, m, shape))
            .collect();
        for &class in classes {
            for &seed in seeds {
                for (m, hash) in methods.iter().zip(&hashes) {
                    cells.push(CellKey {
                        dataset: dataset.to_string(),
                        class,
                        method: m.to_string(),
                        seed,
                        config_hash: hash.clone(),
                    });
                }
            }
        }
    }
    cells
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_partition_the_matrix() {
        let shards: Vec<Shard> = (0..3).map(|i| format!("{i}/3").parse().unwrap()).collect();
        for pos in 0..20 {
            assert_eq!(shards.iter().filter(|s| s.owns(pos)).count(), 1);
        }
        assert!("3/3".parse::<Shard>().is_err());
        assert!("1".parse::<Shard>().is_err());
        assert!("0/0".parse::<Shard>().is_err());
    }

    #[test]
    fn method_specs_round_trip() {
        for s in [
            "dasvdd",
            "ocsvm",
            "dasvdd:gamma=0.001",
            "dasvdd:kappa=0.5",
            "dasvdd:latent=64",
            "dasvdd:t=5",
            "dasvdd:center=fixed",
            "dasvdd-paper",
            "dasvdd-code",
            "dasvdd:svdd_term=first_sample",
            "dasvdd:center_grad=accumulate",
            "dasvdd:gamma_norm=first_of_batch",
            "dasvdd:center_lr_decay=0.01",
            "dasvdd:weight_decay=0",
        ] {
            let m: MethodSpec = s.parse().unwrap();
            assert_eq!(m.to_string(), s);
        }
        assert!("ocsvm:gamma=1".parse::<MethodSpec>().is_err());
        assert!("dasvdd:latent=0".parse::<MethodSpec>().is_err());
        assert!("dasvdd:depth=3".parse::<MethodSpec>().is_err());
        assert!("vae".parse::<MethodSpec>().is_err());
        assert_eq!(
            "dasvdd:variant=published-code"
                .parse::<MethodSpec>()
                .unwrap()
                .to_string(),
            "dasvdd-code"
        );
        assert!("dasvdd:variant=2021".parse::<MethodSpec>().is_err());
        assert!("dasvdd:svdd_term=all".parse::<MethodSpec>().is_err());
    }

    #[test]
    fn method_names_are_the_registry_spellings_with_their_aliases() {
        for (alias, canonical) in [
            ("deep_svdd", "deep_svdd"),
            ("deepsvdd", "deep_svdd"),
            ("deep-svdd", "deep_svdd"),
            ("iforest", "iforest"),
            ("isolation-forest", "iforest"),
            ("OCSVM", "ocsvm"),
        ] {
            let m: MethodSpec = alias.parse().unwrap();
            assert_eq!(m.to_string(), canonical, "{alias}");
        }
    }

    #[test]
    fn the_hash_follows_the_settings_that_matter() {
        let cfg = BenchConfig::default();
        let d: BenchDataset = "pima".parse().unwrap();
        let m: MethodSpec = "dasvdd".parse().unwrap();
        let shape = RunShape {
            epochs: None,
            quick: false,
            max_train: None,
            max_test: None,
        };
        let base = config_hash(&cfg, &d, &m, &shape);
        let more_epochs = RunShape {
            epochs: Some(5),
            ..shape.clone()
        };
        assert_ne!(base, config_hash(&cfg, &d, &m, &more_epochs));
        // Epochs do not concern the classical methods.
        let oc: MethodSpec = "ocsvm".parse().unwrap();
        assert_eq!(
            config_hash(&cfg, &d, &oc, &shape),
            config_hash(&cfg, &d, &oc, &more_epochs)
        );
        // A training-size cap of the dataset concerns every method.
        let mut capped = cfg.clone();
        capped.datasets.insert(
            "pima".into(),
            crate::config::DatasetSettings {
                max_train: Some(10),
                ..Default::default()
            },
        );
        assert_ne!(
            config_hash(&cfg, &d, &oc, &shape),
            config_hash(&capped, &d, &oc, &shape)
        );
        // A method's table in the dataset's config concerns that method only; the network
        // and training concern the neural methods only.
        let mut cfg2 = cfg.clone();
        cfg2.datasets.insert("pima".into(), Default::default());
        cfg2.configs.insert(
            "pima".into(),
            dasvdd_baselines::Config::parse("p.toml", "[baselines.ocsvm]\nnu = 0.1\n").unwrap(),
        );
        assert_ne!(
            config_hash(&cfg, &d, &oc, &shape),
            config_hash(&cfg2, &d, &oc, &shape)
        );
        let kde: MethodSpec = "kde".parse().unwrap();
        assert_eq!(
            config_hash(&cfg, &d, &kde, &shape),
            config_hash(&cfg2, &d, &kde, &shape)
        );
        let mut cfg3 = cfg.clone();
        cfg3.datasets.insert("pima".into(), Default::default());
        cfg3.configs.insert(
            "pima".into(),
            dasvdd_baselines::Config::parse("p.toml", "[train]\nkappa = 0.5\n").unwrap(),
        );
        assert_ne!(base, config_hash(&cfg3, &d, &m, &shape));
        assert_eq!(
            config_hash(&cfg, &d, &oc, &shape),
            config_hash(&cfg3, &d, &oc, &shape)
        );
    }
}
