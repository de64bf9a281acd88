//! The subcommands of `dasvdd`: argument definitions and what each one does.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use dasvdd_baselines::{default_params, load_detector, Method, MethodParams};
use dasvdd_core::checkpoint;
use dasvdd_core::{
    fit, parse_device, AutoencoderConfig, ConfigFile, DasvddConfig, Detector, DetectorParams,
    GammaChoice, Preset, SampleView,
};
use dasvdd_data::{FittedPreprocessing, GcnNorm, Preprocessing};
use indicatif::{ProgressBar, ProgressStyle};

use crate::input::{read_samples, read_scores, write_scores};

/// Metadata key of the fitted preprocessing in every model file the CLI writes.
const PREPROCESSING_KEY: &str = "preprocessing";

/// Arguments of `dasvdd train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Normal training samples: .csv (header row optional) or .npy, one sample per row
    #[arg(long)]
    data: PathBuf,
    /// Where to write the model (one safetensors file)
    #[arg(long)]
    out: PathBuf,
    /// Detector: dasvdd, ocsvm, kde, iforest, ae or deep_svdd
    #[arg(long, default_value = "dasvdd")]
    method: String,
    /// TOML config (see configs/); flags below override it
    #[arg(long)]
    config: Option<PathBuf>,
    /// Network preset of the paper: mnist (also Fashion-MNIST), cifar10, speech, pima.
    /// Without a preset or config the network is sized from the data (mnist for 784 columns)
    #[arg(long)]
    preset: Option<String>,
    /// Number of training epochs (neural methods)
    #[arg(long)]
    epochs: Option<usize>,
    /// DASVDD's gamma; skips the heuristic of eq. (6)
    #[arg(long)]
    gamma: Option<f64>,
    /// Seed of initial weights, centre, shuffling (and Isolation Forest)
    #[arg(long)]
    seed: Option<u64>,
    /// cpu, cuda or cuda:N
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Feature scaling fitted on the training data and stored in the model: none, zscore,
    /// minmax, gcn-l2 (CIFAR-10 as the 2021 DASVDD code) or gcn-l1-minmax (as Deep SVDD)
    #[arg(long, default_value = "none")]
    scale: String,
    /// No progress bar
    #[arg(long)]
    quiet: bool,
}

/// Arguments of `dasvdd score`.
#[derive(Debug, Args)]
pub struct ScoreArgs {
    /// A model written by `dasvdd train`
    #[arg(long)]
    model: PathBuf,
    /// Samples to score: .csv or .npy with the training data's columns
    #[arg(long)]
    data: PathBuf,
    /// Where to write the scores (CSV, one per row, same order, higher = more anomalous)
    #[arg(long)]
    out: PathBuf,
    /// cpu, cuda or cuda:N
    #[arg(long, default_value = "cpu")]
    device: String,
}

/// Arguments of `dasvdd eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Scores from `dasvdd score`
    #[arg(long)]
    scores: PathBuf,
    /// One label per row, same order: 1 = anomaly, 0 = normal (header row optional)
    #[arg(long)]
    labels: PathBuf,
    /// F1 at this score threshold (score >= threshold = anomaly) instead of at the
    /// contamination percentile
    #[arg(long)]
    threshold: Option<f64>,
    /// Print one JSON object with the keys auroc, ap, f1
    #[arg(long)]
    json: bool,
}

/// `dasvdd data ...`.
#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// List the datasets of the paper, whether each is present, and where it comes from
    List,
    /// Download a dataset (checksums verified) into $DASVDD_DATA/<name> or datasets/<name>
    Fetch {
        /// mnist, fmnist, cifar10, speech, pima, awid3, mimii or odds:<name>
        name: String,
        /// Destination folder instead of the default
        #[arg(long)]
        dest: Option<PathBuf>,
    },
}

fn parse_scale(s: &str) -> Result<Preprocessing> {
    Ok(match s.to_ascii_lowercase().as_str() {
        "none" => Preprocessing::None,
        "zscore" | "z-score" | "standard" => Preprocessing::ZScore,
        "minmax" | "min-max" => Preprocessing::MinMax,
        // CIFAR-10's two global contrast normalisations: the 2021 DASVDD code's, and Deep
        // SVDD's, which the paper cites (docs/fidelity.md).
        "gcn-l2" => Preprocessing::Gcn(GcnNorm::L2),
        "gcn-l1-minmax" => Preprocessing::GcnGlobalMinMax(GcnNorm::L1),
        other => bail!("--scale: `{other}` is not none, zscore, minmax, gcn-l2 or gcn-l1-minmax"),
    })
}

/// The DASVDD config from `--config`, `--preset` or the data's width, with flag overrides.
fn dasvdd_config(args: &TrainArgs, cols: usize) -> Result<DasvddConfig> {
    let mut cfg = match (&args.config, &args.preset) {
        (Some(path), preset) => {
            let mut file = ConfigFile::read(path)?;
            if let Some(p) = preset {
                file.model.preset = Some(p.clone());
            }
            file.resolve(Some(cols))?
        }
        (None, Some(p)) => DasvddConfig::from_preset(Preset::parse(p)?),
        (None, None) => {
            let model = AutoencoderConfig::for_input(cols);
            match [Preset::Mnist, Preset::Cifar10, Preset::Speech, Preset::Pima]
                .into_iter()
                .find(|p| p.autoencoder() == model)
            {
                Some(p) => DasvddConfig::from_preset(p),
                None => DasvddConfig {
                    model,
                    train: Default::default(),
                },
            }
        }
    };
    if let Some(e) = args.epochs {
        cfg.train.epochs = e;
    }
    if let Some(g) = args.gamma {
        cfg.train.gamma = GammaChoice::Fixed(g);
    }
    if let Some(s) = args.seed {
        cfg.train.seed = s;
    }
    cfg.validate()?;
    Ok(cfg)
}

fn progress_bar(len: u64, quiet: bool) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(len);
    pb.set_style(
        ProgressStyle::with_template("{spinner} epoch {pos}/{len} [{bar:30}] {msg} (eta {eta})")
            .expect("static template")
            .progress_chars("=> "),
    );
    pb
}

/// `dasvdd train`.
pub fn train(args: &TrainArgs) -> Result<()> {
    let method = Method::from_str(&args.method).map_err(|e| anyhow::anyhow!("--method: {e}"))?;
    let device = parse_device(&args.device)?;
    let mut x = read_samples(&args.data)?;
    let fitted = parse_scale(&args.scale)?
        .fit_transform(&mut x)
        .with_context(|| format!("cannot scale {}", args.data.display()))?;
    let view = SampleView::new(&x.data, x.rows, x.cols)
        .with_context(|| format!("{}", args.data.display()))?;

    let detector: Box<dyn Detector> = if method == Method::Dasvdd {
        let cfg = dasvdd_config(args, x.cols)?;
        if cfg.model.input_dim != x.cols {
            bail!(
                "{}: {} columns, but the network expects {} input features",
                args.data.display(),
                x.cols,
                cfg.model.input_dim
            );
        }
        if matches!(cfg.train.gamma, GammaChoice::Heuristic { .. }) && !args.quiet {
            eprintln!("estimating gamma (eq. 6)...");
        }
        let pb = progress_bar(cfg.train.epochs as u64, args.quiet);
        let model = fit(&cfg, view, &device, &mut |r| {
            pb.set_message(format!(
                "loss {:.5} (rec {:.5}, svdd {:.4})",
                r.total, r.reconstruction, r.svdd
            ));
            pb.inc(1);
        })?;
        pb.finish_and_clear();
        if !args.quiet {
            let last = model.history.last();
            eprintln!(
                "trained DASVDD on {} samples x {} features: gamma {:.6}, final loss {:.6}",
                x.rows,
                x.cols,
                model.gamma,
                last.map(|r| r.total).unwrap_or(f64::NAN)
            );
        }
        Box::new(model)
    } else {
        let network = match (&args.config, &args.preset) {
            (None, None) => None,
            _ => Some(dasvdd_config(args, x.cols)?.model),
        };
        let params = default_params(
            method,
            x.cols,
            network.as_ref(),
            args.epochs,
            args.seed.unwrap_or(0),
        )?;
        let pb = if args.quiet {
            ProgressBar::hidden()
        } else {
            ProgressBar::new_spinner()
        };
        pb.set_message(format!("fitting {}", method.name()));
        pb.enable_steady_tick(Duration::from_millis(200));
        let boxed: Box<dyn DetectorParams> = MethodParams::into_boxed(params);
        let model = boxed.fit_detector(view, &device)?;
        pb.finish_and_clear();
        if !args.quiet {
            eprintln!(
                "fitted {} on {} samples x {} features",
                method.name(),
                x.rows,
                x.cols
            );
        }
        model
    };
    detector.save(&args.out)?;
    checkpoint::set_metadata(
        &args.out,
        &[(PREPROCESSING_KEY, serde_json::to_string(&fitted)?)],
    )?;
    if !args.quiet {
        eprintln!("wrote {}", args.out.display());
    }
    Ok(())
}

/// `dasvdd score`.
pub fn score(args: &ScoreArgs) -> Result<()> {
    let device = parse_device(&args.device)?;
    let detector = load_detector(&args.model, &device)?;
    let mut x = read_samples(&args.data)?;
    if x.cols != detector.n_features() {
        bail!(
            "{}: {} columns, but the model {} was trained on {} features",
            args.data.display(),
            x.cols,
            args.model.display(),
            detector.n_features()
        );
    }
    if let Some(p) = checkpoint::get_metadata(&args.model, PREPROCESSING_KEY)? {
        let fitted: FittedPreprocessing = serde_json::from_str(&p)
            .with_context(|| format!("{}: invalid preprocessing metadata", args.model.display()))?;
        fitted
            .transform(&mut x)
            .with_context(|| format!("cannot scale {}", args.data.display()))?;
    }
    let view = SampleView::new(&x.data, x.rows, x.cols)
        .with_context(|| format!("{}", args.data.display()))?;
    let scores = detector.score(view)?;
    write_scores(&args.out, &scores)?;
    Ok(())
}

/// `dasvdd eval`.
pub fn eval(args: &EvalArgs) -> Result<()> {
    let scores = read_scores(&args.scores)?;
    let labels = dasvdd_data::tabular::read_label_file(&args.labels)?;
    if scores.len() != labels.len() {
        bail!(
            "{} has {} scores but {} has {} labels",
            args.scores.display(),
            scores.len(),
            args.labels.display(),
            labels.len()
        );
    }
    let mut m = dasvdd_eval::evaluate(&scores, &labels).context("cannot evaluate")?;
    if let Some(t) = args.threshold {
        m.f1 = dasvdd_eval::f1_at_threshold(&scores, &labels, t)?;
    }
    if args.json {
        println!(
            "{}",
            serde_json::json!({"auroc": m.auroc, "ap": m.ap, "f1": m.f1})
        );
    } else {
        let anomalies = labels.iter().filter(|&&l| l == 1).count();
        println!("samples  {} ({} anomalies)", labels.len(), anomalies);
        println!("AUROC    {:.6}", m.auroc);
        println!("AP       {:.6}", m.ap);
        match args.threshold {
            Some(t) => println!("F1       {:.6} (score >= {t})", m.f1),
            None => println!("F1       {:.6} (top {anomalies} scores flagged)", m.f1),
        }
    }
    Ok(())
}

/// `dasvdd data ...`.
pub fn data(cmd: &DataCommand) -> Result<()> {
    match cmd {
        DataCommand::List => {
            for name in dasvdd_data::DatasetName::KNOWN {
                let n = dasvdd_data::DatasetName::from_str(name)?;
                let info = n.info();
                let place = match dasvdd_data::registry::locate(&n) {
                    Ok(dir) => format!("present in {}", dir.display()),
                    Err(_) => "not present".to_string(),
                };
                println!("{name:8} {:32} {:10} {place}", info.title, info.size);
            }
            Ok(())
        }
        DataCommand::Fetch { name, dest } => {
            let n = dasvdd_data::DatasetName::from_str(name)?;
            let dest = dest
                .clone()
                .unwrap_or_else(|| dasvdd_data::fetch::default_fetch_dir(&n));
            let report = dasvdd_data::fetch(&n, &dest, &dasvdd_data::FetchOptions::default())?;
            for f in &report.files {
                println!(
                    "{}",
                    serde_json::to_string(f).unwrap_or_else(|_| format!("{f:?}"))
                );
            }
            println!("{} is in {}", report.dataset, report.dir.display());
            Ok(())
        }
    }
}
