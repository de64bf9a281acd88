//! The arguments of `cargo xtask bench-all` and the matrix they resolve to: [`BenchArgs`],
//! [`check_args`], [`plan`] and [`Plan`].

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;
use dasvdd_core::config::Variant as TrainVariant;
use dasvdd_data::registry::locate;
use dasvdd_data::DatasetName;

use crate::config::{default_config_path, BenchConfig};
use crate::matrix::{enumerate_cells, BenchDataset, CellKey, Method, MethodSpec, RunShape, Shard};
use crate::synthetic;

/// Options of `cargo xtask bench-all`.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Datasets, comma-separated: mnist, fmnist, cifar10, speech, pima, awid3, mimii,
    /// odds:<name>, synthetic [default: the seven of Table 2; with --quick, fmnist when present,
    /// otherwise synthetic]
    #[arg(long, value_delimiter = ',')]
    pub datasets: Vec<String>,
    /// Normal classes by index, comma-separated [default: every class of each dataset]
    #[arg(long, value_delimiter = ',')]
    pub classes: Vec<u8>,
    /// Methods, comma-separated: ocsvm, kde, iforest, ae, deep_svdd (or deepsvdd), dasvdd (the
    /// default variant), dasvdd-paper, dasvdd-code, or a DASVDD variant such as
    /// dasvdd:gamma=0.001 [default: all six, and without --quick also DASVDD's other variant]
    #[arg(long, value_delimiter = ',')]
    pub methods: Vec<String>,
    /// Seeds per cell, 0..N [default: run.seeds of the config (10); with --quick run.quick_seeds]
    #[arg(long)]
    pub seeds: Option<u64>,
    /// Training epochs of the neural methods [default: the config's (300); with --quick the
    /// dataset's quick_epochs or run.quick_epochs (10)]
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Results directory (shared by every shard)
    #[arg(long, default_value = "results")]
    pub results: PathBuf,
    /// Run every n-th cell of the matrix, starting at cell i (0 <= i < n)
    #[arg(long, default_value = "0/1")]
    pub shard: Shard,
    /// A reduced matrix for a CPU: fewer seeds and epochs, seeded subsets of the splits
    #[arg(long)]
    pub quick: bool,
    /// Device of the neural methods: auto (CUDA when built with it and a GPU is there), cpu,
    /// cuda or cuda:N
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// Hyperparameters [default: configs/bench.toml]
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Stop after this many cells have been finished by this process (the rest stays to do)
    #[arg(long)]
    pub max_cells: Option<usize>,
    /// Train up to this many cells of one dataset and network method (DASVDD and its variants,
    /// the AE, Deep SVDD; their seeds and classes) in one pass, as one stack of models; each
    /// cell is still stored on its own. 1 trains every cell alone
    #[arg(long, default_value_t = 10, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub stack: usize,
}

impl Default for BenchArgs {
    /// What `cargo xtask bench-all` runs without arguments: every dataset of Table 2, every
    /// method, the config's seeds and epochs, results in `results/`, one shard, device `auto`.
    fn default() -> Self {
        BenchArgs {
            datasets: Vec::new(),
            classes: Vec::new(),
            methods: Vec::new(),
            seeds: None,
            epochs: None,
            results: PathBuf::from("results"),
            shard: Shard { index: 0, count: 1 },
            quick: false,
            device: "auto".into(),
            config: None,
            max_cells: None,
            stack: 10,
        }
    }
}

/// The resolved matrix of a `bench-all` call.
pub struct Plan {
    /// The matrix's config (`bench.toml` and the dataset files).
    pub cfg: BenchConfig,
    /// The requested datasets, each with its requested normal classes.
    pub datasets: Vec<(BenchDataset, Vec<u8>)>,
    /// Why each requested dataset that is not present is missing, by dataset name.
    pub unavailable: BTreeMap<String, String>,
    /// Epochs and `--quick` subsets of every cell.
    pub shape: RunShape,
    /// Every requested cell, available or not, in canonical order.
    pub cells: Vec<CellKey>,
}

/// One line saying why `name` is not present and how to get it; `None` when it is present.
fn availability(dataset: &BenchDataset) -> Option<String> {
    let BenchDataset::Registry(name) = dataset else {
        return None;
    };
    // The registry's own message: the files expected, every folder searched, how to get them.
    let problem = match locate(name) {
        Ok(_) => return None,
        Err(dasvdd_data::DataError::Unavailable { problem, .. }) => problem,
        Err(e) => e.to_string(),
    };
    Some(if name == &DatasetName::Fmnist {
        format!("not found; `apt-get install dataset-fashion-mnist`, or: {problem}")
    } else {
        format!("not found: {problem}")
    })
}

/// Removes the later of two entries whose canonical form (`canon`, or the entry itself where
/// it has none) is the same, keeping the order of the rest.
fn dedup_keeping_order(items: &mut Vec<String>, canon: impl Fn(&str) -> Option<String>) {
    let mut seen = std::collections::BTreeSet::new();
    items.retain(|i| seen.insert(canon(i).unwrap_or_else(|| i.clone())));
}

/// Checks `bench-all` arguments without running anything: they parse, every method and
/// dataset name is known and the seed count is positive. `cargo xtask slurm` calls it so that a
/// typo fails on the login node instead of in every array task.
pub fn check_args(argv: &[String]) -> Result<BenchArgs> {
    #[derive(Debug, clap::Parser)]
    #[command(name = "bench-all")]
    struct Wrapper {
        #[command(flatten)]
        args: BenchArgs,
    }
    let parsed = <Wrapper as clap::Parser>::try_parse_from(
        std::iter::once("bench-all".to_string()).chain(argv.iter().cloned()),
    )
    .map_err(|e| {
        let text = e.render().to_string();
        let first = text.lines().next().unwrap_or("").trim();
        anyhow::anyhow!(
            "bench-all arguments: {}",
            first.strip_prefix("error: ").unwrap_or(first)
        )
    })?;
    let args = parsed.args;
    for m in &args.methods {
        m.parse::<MethodSpec>()
            .with_context(|| format!("bench-all arguments: --methods {m}"))?;
    }
    for d in &args.datasets {
        d.parse::<BenchDataset>()
            .with_context(|| format!("bench-all arguments: --datasets {d}"))?;
    }
    if args.seeds == Some(0) {
        bail!("bench-all arguments: --seeds must be at least 1");
    }
    if args.epochs == Some(0) {
        bail!("bench-all arguments: --epochs must be at least 1");
    }
    Ok(args)
}

/// Resolves the arguments into the matrix.
pub fn plan(args: &BenchArgs) -> Result<Plan> {
    let config_path = args.config.clone().unwrap_or_else(default_config_path);
    if args.epochs == Some(0) {
        bail!("--epochs must be at least 1 (checked before any cell runs)");
    }
    let cfg = BenchConfig::load(&config_path)?;
    // A misspelt table would silently leave its dataset on the defaults.
    for name in cfg.datasets.keys() {
        if name != "default" && name.parse::<BenchDataset>().is_err() {
            bail!(
                "{}: [datasets.{name}]: `{name}` is not a dataset of the benchmark ({}, \
                 synthetic, odds:<name>, or default)",
                config_path.display(),
                crate::matrix::PAPER_DATASETS.join(", ")
            );
        }
    }
    let names: Vec<String> = if !args.datasets.is_empty() {
        args.datasets.clone()
    } else if args.quick {
        let fm = BenchDataset::Registry(DatasetName::Fmnist);
        if availability(&fm).is_none() {
            println!("quick run on Fashion-MNIST (found on this machine)");
            vec!["fmnist".into()]
        } else {
            println!(
                "quick run on the built-in synthetic dataset: Fashion-MNIST is not installed \
                 (`apt-get install dataset-fashion-mnist` to use it)"
            );
            vec![synthetic::NAME.into()]
        }
    } else {
        crate::matrix::PAPER_DATASETS
            .iter()
            .map(|s| s.to_string())
            .collect()
    };
    // A dataset or method named twice is one request (classes are deduplicated below).
    let mut names = names;
    dedup_keeping_order(&mut names, |n| {
        n.parse::<BenchDataset>().map(|d| d.to_string()).ok()
    });
    // A class that no dataset has is a mistake (a class of one dataset may be beyond another's
    // range, as PIMA's single class beside Fashion-MNIST's ten, and is then left out there).
    let mut most_classes = 0;
    for n in &names {
        let d: BenchDataset = n.parse()?;
        most_classes = most_classes.max(d.classes().len());
    }
    if let Some(c) = args
        .classes
        .iter()
        .find(|&&c| usize::from(c) >= most_classes)
    {
        bail!(
            "--classes {c}: no dataset of this run has it ({} has the most classes, 0..{})",
            names.join(", "),
            most_classes.saturating_sub(1)
        );
    }
    let mut datasets = Vec::new();
    let mut unavailable_sets = BTreeMap::new();
    for n in &names {
        let d: BenchDataset = n.parse()?;
        let n_classes = d.classes().len();
        let classes: Vec<u8> = if args.classes.is_empty() {
            (0..n_classes as u8).collect()
        } else {
            let mut c: Vec<u8> = args
                .classes
                .iter()
                .copied()
                .filter(|&c| usize::from(c) < n_classes)
                .collect();
            c.sort_unstable();
            c.dedup();
            c
        };
        if classes.is_empty() {
            bail!(
                "{d}: none of the classes {:?} exists (classes are 0..{})",
                args.classes,
                n_classes - 1
            );
        }
        if let Some(why) = availability(&d) {
            unavailable_sets.insert(d.to_string(), why);
        }
        datasets.push((d, classes));
    }
    let mut methods = Vec::new();
    let requested: Vec<String> = if args.methods.is_empty() {
        let mut all: Vec<String> = Method::ALL.iter().map(|m| m.name().to_string()).collect();
        if !args.quick {
            // The full matrix also runs DASVDD's other variant as a row of its own, beside
            // `dasvdd` (the default variant) and the paper (docs/fidelity.md).
            all.push(other_variant_method().into());
        }
        all
    } else {
        args.methods.clone()
    };
    for m in &requested {
        let spec = m.parse::<MethodSpec>()?;
        if !methods.contains(&spec) {
            methods.push(spec);
        }
    }
    if methods.is_empty() {
        bail!("no method to run");
    }
    let seeds = args.seeds.unwrap_or(if args.quick {
        cfg.run.quick_seeds
    } else {
        cfg.run.seeds
    });
    if seeds == 0 {
        bail!("--seeds must be at least 1");
    }
    let shape = RunShape {
        epochs: args.epochs,
        quick: args.quick,
        max_train: args.quick.then_some(cfg.run.quick_max_train),
        max_test: args.quick.then_some(cfg.run.quick_max_test),
    };
    let seeds: Vec<u64> = (0..seeds).collect();
    let cells = enumerate_cells(&cfg, &datasets, &methods, &seeds, &shape);
    Ok(Plan {
        cfg,
        datasets,
        unavailable: unavailable_sets,
        shape,
        cells,
    })
}

/// The method name of the DASVDD variant that is not the default one.
pub fn other_variant_method() -> &'static str {
    match TrainVariant::default() {
        TrainVariant::Paper => "dasvdd-code",
        TrainVariant::PublishedCode => "dasvdd-paper",
    }
}
