//! `cargo xtask bench-all`: runs this shard's cells of the matrix that are not finished yet and
//! appends each to the results store as soon as it is done.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use candle_core::Device;
use clap::Args;
use dasvdd_core::config::Variant as TrainVariant;
use dasvdd_core::SampleView;
use dasvdd_data::registry::{locate, LoadOptions};
use dasvdd_data::{DatasetName, LabeledData, Matrix, OneClassSplit, SplitProtocol};
use dasvdd_eval::{RankedScores, RocPoints};
use indicatif::{ProgressBar, ProgressStyle};
use rand::seq::index::sample;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::config::{default_config_path, BenchConfig};
use crate::matrix::{enumerate_cells, BenchDataset, CellKey, Method, MethodSpec, RunShape, Shard};
use crate::methods::{data_variant, fit_and_score};
use crate::provenance::{command_line, commit, unix_now};
use crate::store::{CellDetail, CellRecord, CellWriter, MatrixRequest, RankedSample, ResultsDir};
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
        }
    }
}

/// The resolved matrix of a `bench-all` call.
pub struct Plan {
    pub cfg: BenchConfig,
    pub datasets: Vec<(BenchDataset, Vec<u8>)>,
    pub unavailable: BTreeMap<String, String>,
    pub shape: RunShape,
    /// Every requested cell, available or not, in canonical order.
    pub cells: Vec<CellKey>,
}

/// One line saying why `name` is not present and how to get it; `None` when it is present.
fn availability(dataset: &BenchDataset) -> Option<String> {
    let BenchDataset::Registry(name) = dataset else {
        return None;
    };
    if locate(name).is_ok() {
        return None;
    }
    let info = name.info();
    Some(if name == &DatasetName::Fmnist {
        format!(
            "not found; `apt-get install dataset-fashion-mnist`, or `cargo run -p dasvdd-cli -- data fetch {name}`, or put {} in $DASVDD_DATA/{}",
            info.expected_files.join(", "),
            name.dir_name()
        )
    } else if info.remote_files.is_empty() {
        format!("not found; obtain it by hand: {}", info.manual)
    } else {
        format!(
            "not found; run `cargo run -p dasvdd-cli -- data fetch {name}` or put {} in $DASVDD_DATA/{}",
            info.expected_files.join(", "),
            name.dir_name()
        )
    })
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
    Ok(args)
}

/// Resolves the arguments into the matrix.
pub fn plan(args: &BenchArgs) -> Result<Plan> {
    let config_path = args.config.clone().unwrap_or_else(default_config_path);
    let cfg = BenchConfig::load(&config_path)?;
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
    let mut datasets = Vec::new();
    let mut unavailable_sets = BTreeMap::new();
    for n in &names {
        let d: BenchDataset = n.parse()?;
        let n_classes = d.classes().len();
        let classes: Vec<u8> = if args.classes.is_empty() {
            (0..n_classes as u8).collect()
        } else {
            args.classes
                .iter()
                .copied()
                .filter(|&c| usize::from(c) < n_classes)
                .collect()
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
        methods.push(m.parse::<MethodSpec>()?);
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

/// Picks the device of the neural methods.
fn pick_device(spec: &str, quick: bool) -> Result<Device> {
    if spec != "auto" {
        return Ok(dasvdd_core::parse_device(spec)?);
    }
    if cfg!(feature = "cuda") && candle_core::utils::cuda_is_available() {
        if let Ok(d) = dasvdd_core::parse_device("cuda") {
            return Ok(d);
        }
    }
    if !quick {
        println!(
            "warning: no CUDA device (build with `--features cuda` on a GPU machine); the neural \
             methods run on the CPU, where the full matrix takes days; --quick is a reduced matrix"
        );
    }
    Ok(Device::Cpu)
}

/// Loads the split of a cell, `seed` choosing the random parts of half-normals splits and
/// `variant` the data choices of its source: the paper's (Speech trained on normal rows only,
/// CIFAR-10 with l1 GCN and min-max) or the 2021 code's (Speech's anomalies after the test rows
/// kept in training, CIFAR-10 with l2 GCN).
pub fn load_split(
    cfg: &BenchConfig,
    dataset: &BenchDataset,
    class: u8,
    seed: u64,
    variant: TrainVariant,
) -> Result<OneClassSplit> {
    match dataset {
        BenchDataset::Synthetic => synthetic::split(class),
        BenchDataset::Registry(name) => {
            let (protocol, preprocessing) = match variant {
                TrainVariant::Paper => (SplitProtocol::Paper, name.paper_preprocessing()),
                TrainVariant::PublishedCode => (
                    SplitProtocol::ReferenceCode,
                    name.reference_code_preprocessing(),
                ),
            };
            let opts = LoadOptions {
                normal_class: class,
                seed,
                protocol,
                preprocessing: Some(preprocessing),
                sample_rows: cfg.dataset(&name.to_string()).sample_rows,
                mimii_train_stride: cfg
                    .dataset(&name.to_string())
                    .mimii_train_stride
                    .unwrap_or(1),
                ..Default::default()
            };
            Ok(dasvdd_data::load_prepared(name, &opts)
                .with_context(|| format!("cannot load {name} class {class}"))?
                .split)
        }
    }
}

/// Whether the split of `dataset` depends on the seed.
fn split_uses_seed(dataset: &BenchDataset) -> bool {
    matches!(
        dataset,
        BenchDataset::Registry(DatasetName::Odds(_) | DatasetName::Awid3)
    )
}

/// The seeded subsets of `--quick`: at most `max_train` training rows and `max_test` test rows
/// (stratified, both classes kept; grouped test sets are kept whole so clips stay complete).
pub fn subsample(
    split: &OneClassSplit,
    max_train: Option<usize>,
    max_test: Option<usize>,
    seed: u64,
) -> Result<OneClassSplit> {
    let mut rng = ChaCha8Rng::seed_from_u64(0x5AB5_A3F1 ^ seed);
    let pick = |rng: &mut ChaCha8Rng, rows: &[usize], k: usize| -> Vec<usize> {
        if rows.len() <= k {
            return rows.to_vec();
        }
        let mut idx: Vec<usize> = sample(rng, rows.len(), k)
            .into_iter()
            .map(|i| rows[i])
            .collect();
        idx.sort_unstable();
        idx
    };
    let train = match max_train {
        Some(k) if split.train.rows > k => {
            let all: Vec<usize> = (0..split.train.rows).collect();
            split.train.select_rows(&pick(&mut rng, &all, k))
        }
        _ => split.train.clone(),
    };
    let test = match max_test {
        Some(k) if split.test.x.rows > k && split.test.groups.is_none() => {
            let normal: Vec<usize> = (0..split.test.y.len())
                .filter(|&i| split.test.y[i] == 0)
                .collect();
            let anomal: Vec<usize> = (0..split.test.y.len())
                .filter(|&i| split.test.y[i] != 0)
                .collect();
            let frac = anomal.len() as f64 / split.test.y.len() as f64;
            let ka = ((k as f64 * frac).round() as usize).clamp(1, k - 1);
            let mut rows = pick(&mut rng, &normal, k - ka);
            rows.extend(pick(&mut rng, &anomal, ka));
            rows.sort_unstable();
            LabeledData {
                x: split.test.x.select_rows(&rows),
                y: rows.iter().map(|&i| split.test.y[i]).collect(),
                groups: None,
            }
        }
        _ => split.test.clone(),
    };
    Ok(OneClassSplit::new("subsample", train, test)?)
}

fn view(m: &Matrix) -> Result<SampleView<'_>> {
    Ok(SampleView::new(&m.data, m.rows, m.cols)?)
}

/// ROC points thinned to at most `max` (keeping both ends).
fn thin(fpr: Vec<f64>, tpr: Vec<f64>, max: usize) -> (Vec<f64>, Vec<f64>) {
    if fpr.len() <= max {
        return (fpr, tpr);
    }
    let n = fpr.len();
    let idx: Vec<usize> = (0..max).map(|i| i * (n - 1) / (max - 1)).collect();
    (
        idx.iter().map(|&i| fpr[i]).collect(),
        idx.iter().map(|&i| tpr[i]).collect(),
    )
}

/// Pixels of a row scaled to 0..=255 by the row's own range.
fn pixels(row: &[f32]) -> Vec<u8> {
    let (lo, hi) = row
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    let span = (hi - lo).max(1e-12);
    row.iter()
        .map(|&v| ((v - lo) / span * 255.0).round() as u8)
        .collect()
}

/// Runs one cell and returns its record and side file.
#[allow(clippy::too_many_arguments)]
fn run_cell(
    plan: &Plan,
    key: &CellKey,
    dataset: &BenchDataset,
    spec: &MethodSpec,
    split: &OneClassSplit,
    device: &Device,
    pb: &ProgressBar,
) -> Result<(CellRecord, CellDetail)> {
    let train = view(&split.train)?;
    let test = view(&split.test.x)?;
    let label = key.to_string();
    let mut on_epoch = |r: &dasvdd_core::EpochRecord| {
        pb.set_message(format!("{label} epoch {}", r.epoch));
    };
    let out = fit_and_score(
        &plan.cfg,
        &key.dataset,
        spec,
        key.seed,
        plan.shape.epochs_for(&plan.cfg, &key.dataset),
        train,
        test,
        device,
        &mut on_epoch,
    )?;
    let (scores, labels, unit) = match &split.test.groups {
        Some(groups) => {
            let (s, l) = dasvdd_eval::mean_by_group(&out.scores, groups, &split.test.y)?;
            (s, l, "clip")
        }
        None => (out.scores.clone(), split.test.y.clone(), "sample"),
    };
    let ranked = RankedScores::new(&scores, &labels)?;
    let roc = ranked.roc_curve(RocPoints::DropIntermediate);
    let (roc_fpr, roc_tpr) = thin(roc.fpr, roc.tpr, 512);
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]).then(a.cmp(&b)));
    let k = plan.cfg.run.extremes.min(order.len());
    let image_shape = if unit == "sample" {
        dataset.image_shape()
    } else {
        None
    };
    let ranked_sample = |i: usize| RankedSample {
        index: i,
        score: scores[i],
        label: labels[i],
        pixels: (image_shape.is_some() && key.seed == 0).then(|| pixels(split.test.x.row(i))),
    };
    let detail = CellDetail {
        key: key.clone(),
        roc_fpr,
        roc_tpr,
        history: out.history.clone(),
        least_anomalous: order[..k].iter().map(|&i| ranked_sample(i)).collect(),
        most_anomalous: order[order.len() - k..]
            .iter()
            .rev()
            .map(|&i| ranked_sample(i))
            .collect(),
        image_shape,
    };
    let record = CellRecord {
        key: key.clone(),
        class_name: dataset
            .classes()
            .get(usize::from(key.class))
            .cloned()
            .unwrap_or_default(),
        auroc: ranked.auroc(),
        ap: ranked.average_precision(),
        f1: ranked.f1_at_contamination(None)?,
        gamma: out.gamma,
        fit_seconds: out.fit_seconds,
        score_seconds: out.score_seconds,
        epochs: out.epochs,
        device: if spec.method.is_neural() {
            dasvdd_core::device_name(device)
        } else {
            "cpu".into()
        },
        crate_version: env!("CARGO_PKG_VERSION").into(),
        train: split.counts.train,
        test_normal: labels.iter().filter(|&&l| l == 0).count(),
        test_anomalous: labels.iter().filter(|&&l| l != 0).count(),
        unit: unit.into(),
        finished_unix: unix_now(),
    };
    Ok((record, detail))
}

/// A line above the progress bar, or on stdout where the bar is hidden (not a terminal).
fn say(pb: &ProgressBar, line: String) {
    if pb.is_hidden() {
        println!("{line}");
    } else {
        pb.println(line);
    }
}

/// `cargo xtask bench-all`.
pub fn run(args: &BenchArgs) -> Result<()> {
    let plan = plan(args)?;
    let results = ResultsDir::new(&args.results);
    std::fs::create_dir_all(&args.results)
        .with_context(|| format!("cannot create {}", args.results.display()))?;
    for (name, why) in &plan.unavailable {
        println!("skipping {name}: {why}");
    }
    let request = MatrixRequest {
        command: command_line(),
        commit: Some(commit()),
        shape: Some(plan.shape.clone()),
        cells: plan.cells.clone(),
        unavailable: plan.unavailable.clone(),
    };
    results.write_request(&request)?;

    let log_path = results.logs_dir().join(format!(
        "bench-shard{}-{}.log",
        args.shard.to_string().replace('/', "of"),
        std::process::id()
    ));
    std::fs::create_dir_all(results.logs_dir())?;
    let log = std::fs::File::create(&log_path)
        .with_context(|| format!("cannot create {}", log_path.display()))?;
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("DASVDD_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_ansi(false)
        .with_writer(std::sync::Mutex::new(log))
        .finish();
    tracing::subscriber::with_default(subscriber, || run_plan(args, &plan, &results, &log_path))
}

fn run_plan(
    args: &BenchArgs,
    plan: &Plan,
    results: &ResultsDir,
    log_path: &std::path::Path,
) -> Result<()> {
    let device = pick_device(&args.device, args.quick)?;
    let done = results.read_cells()?;
    let datasets: BTreeMap<String, BenchDataset> = plan
        .datasets
        .iter()
        .map(|(d, _)| (d.to_string(), d.clone()))
        .collect();
    let mine: Vec<&CellKey> = plan
        .cells
        .iter()
        .enumerate()
        .filter(|(pos, _)| args.shard.owns(*pos))
        .map(|(_, c)| c)
        .collect();
    let todo: Vec<&CellKey> = mine
        .iter()
        .copied()
        .filter(|c| !plan.unavailable.contains_key(&c.dataset) && !done.contains_key(*c))
        .collect();
    let already = mine.iter().filter(|c| done.contains_key(**c)).count();
    println!(
        "shard {}: {} cells, {} already finished, {} to run on {} (results in {}, log {})",
        args.shard,
        mine.len(),
        already,
        todo.len(),
        dasvdd_core::device_name(&device),
        results.root.display(),
        log_path.display()
    );
    tracing::info!(shard = %args.shard, cells = mine.len(), already, todo = todo.len(), "bench-all");
    if todo.is_empty() {
        return Ok(());
    }
    let mut writer = CellWriter::create(results, &args.shard.to_string())?;
    let pb = ProgressBar::new(todo.len() as u64);
    pb.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} ETA {eta} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let mut cached: Option<((String, u8, u64, TrainVariant), OneClassSplit)> = None;
    let mut finished = 0usize;
    let mut failed = 0usize;
    let mut elsewhere = 0usize;
    for key in todo {
        if args.max_cells.is_some_and(|m| finished >= m) {
            break;
        }
        // Another process on the same results folder (the same shard started twice, or a
        // resumed run) may be computing this cell, or may just have finished it.
        let Some(_claim) = results.claim(key)? else {
            elsewhere += 1;
            tracing::info!(cell = %key, "claimed by another process; skipped");
            pb.inc(1);
            continue;
        };
        if results.is_finished(key)? {
            elsewhere += 1;
            pb.inc(1);
            continue;
        }
        pb.set_message(key.to_string());
        let dataset = &datasets[&key.dataset];
        let spec: MethodSpec = key.method.parse()?;
        let split_seed = if split_uses_seed(dataset) {
            key.seed
        } else {
            0
        };
        let variant = data_variant(&plan.cfg, &key.dataset, &spec)?;
        let cache_key = (key.dataset.clone(), key.class, split_seed, variant);
        let split = match &cached {
            Some((k, s)) if *k == cache_key => Ok(s.clone()),
            _ => load_split(&plan.cfg, dataset, key.class, split_seed, variant),
        };
        let outcome = split.and_then(|full| {
            cached = Some((cache_key, full.clone()));
            let cap = plan.cfg.dataset(&key.dataset).max_train;
            let max_train = match (plan.shape.max_train, cap) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let split = subsample(&full, max_train, plan.shape.max_test, key.seed)?;
            run_cell(plan, key, dataset, &spec, &split, &device, &pb)
        });
        match outcome {
            Ok((record, detail)) => {
                results.write_detail(&detail)?;
                writer.append(&record)?;
                finished += 1;
                tracing::info!(cell = %key, auroc = record.auroc, fit_seconds = record.fit_seconds, "cell finished");
                say(
                    &pb,
                    format!(
                        "{key}: AUROC {:.2} (fit {:.1} s)",
                        100.0 * record.auroc,
                        record.fit_seconds
                    ),
                );
            }
            Err(e) => {
                failed += 1;
                tracing::error!(cell = %key, "cell failed: {e:#}");
                say(&pb, format!("{key}: failed: {e:#}"));
            }
        }
        pb.inc(1);
    }
    pb.finish_and_clear();
    println!(
        "shard {}: {finished} cells finished{}{}; results in {}",
        args.shard,
        if elsewhere > 0 {
            format!(", {elsewhere} left to or finished by another process")
        } else {
            String::new()
        },
        if failed > 0 {
            format!(", {failed} failed (see {})", log_path.display())
        } else {
            String::new()
        },
        results.root.display()
    );
    if failed > 0 {
        bail!("{failed} cells failed");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quick_subsets_keep_both_classes_and_are_seeded() {
        let s = synthetic::split(0).unwrap();
        let a = subsample(&s, Some(50), Some(40), 1).unwrap();
        assert_eq!(a.counts.train, 50);
        assert_eq!(a.test.y.len(), 40);
        assert_eq!(a.counts.test_normal, 4);
        assert_eq!(a.counts.test_anomalous, 36);
        assert_eq!(a, subsample(&s, Some(50), Some(40), 1).unwrap());
        assert_ne!(a.train, subsample(&s, Some(50), Some(40), 2).unwrap().train);
        let whole = subsample(&s, None, None, 1).unwrap();
        assert_eq!(whole, s);
    }

    #[test]
    fn thinning_keeps_the_ends() {
        let f: Vec<f64> = (0..1000).map(|i| i as f64 / 999.0).collect();
        let (a, b) = thin(f.clone(), f, 10);
        assert_eq!(a.len(), 10);
        assert_eq!((a[0], a[9]), (0.0, 1.0));
        assert_eq!(b[9], 1.0);
    }
}
