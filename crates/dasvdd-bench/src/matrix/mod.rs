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
    /// A dataset of `dasvdd-data`'s registry.
    Registry(DatasetName),
    /// The built-in synthetic dataset ([`crate::synthetic`]).
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
    /// The column's name in the paper's Table 2.
    fn paper_column(self) -> &'static str;
}

impl PaperColumn for Method {
    /// The registry's [`dasvdd_baselines::MethodInfo::paper_column`].
    fn paper_column(self) -> &'static str {
        self.info().paper_column
    }
}

mod spec;
pub use spec::{MethodSpec, Switch, Variant};

/// Settings that shape every cell of a run besides the config file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunShape {
    /// Epochs of the neural methods given on the command line, overriding the config.
    pub epochs: Option<usize>,
    /// `--quick`: the quick epochs of the config unless `epochs` is given.
    pub quick: bool,
    /// Seeded subsets of the splits (`--quick`).
    pub max_train: Option<usize>,
    /// At most this many test rows per split (`--quick`); `None` keeps them all.
    pub max_test: Option<usize>,
}

impl RunShape {
    /// Epochs of neural `method` on `dataset`: `--epochs`, else with `--quick` the dataset's
    /// `quick_method_epochs` of the method, its `quick_epochs` or `run.quick_epochs`, else the
    /// dataset's config (`None`).
    pub fn epochs_for(&self, cfg: &BenchConfig, dataset: &str, method: Method) -> Option<usize> {
        self.epochs.or_else(|| {
            self.quick.then(|| {
                let d = cfg.dataset(dataset);
                d.quick_method_epochs
                    .get(method.name())
                    .copied()
                    .or(d.quick_epochs)
                    .unwrap_or(cfg.run.quick_epochs)
            })
        })
    }
}

/// One cell of the matrix.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CellKey {
    /// The dataset's name ([`BenchDataset`]'s `Display`).
    pub dataset: String,
    /// Index of the normal class into the dataset's classes.
    pub class: u8,
    /// The method as written by [`MethodSpec`]'s `Display` (`dasvdd`, `dasvdd:gamma=0.5`, ...).
    pub method: String,
    /// The run's seed.
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

/// Lowercase hexadecimal of `bytes`, two digits per byte.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The hash of everything that determines the results of `method` on `dataset` (all seeds),
/// but for `method`'s variant: a cell's method (`dasvdd:gamma=10`, `dasvdd-code`) names its
/// variant beside the hash, and the variants of a sweep share the hash of the plain method they
/// vary, which is how the report finds each sweep's reference (the `auto` column, Table 3's
/// trainable centre) among the cells of the same settings.
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
    if let Some(p) = config.preprocessing(method.method) {
        method_settings["preprocessing"] = serde_json::json!(p);
    }
    if method.method.is_neural() {
        method_settings["model"] = serde_json::to_value(&config.file.model).unwrap_or_default();
        method_settings["train"] = serde_json::to_value(&config.file.train).unwrap_or_default();
    }
    let epochs = if method.method.is_neural() {
        shape.epochs_for(cfg, &name, method.method)
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
        "method": MethodSpec::plain(method.method).to_string(),
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
    /// This shard's index `i`, `0 <= i < count`.
    pub index: usize,
    /// The number of shards `n`, at least 1.
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
    /// True when the cell at `position` in the matrix belongs to this shard.
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
mod tests;
