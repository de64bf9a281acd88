//! `dasvdd train`: fits a detector on normal samples and writes it as one safetensors file,
//! with the fitted scaling and, with `--contamination`, a decision threshold in its metadata.
//!
//! Everything that can be checked without the data (method, flags, config, output path) is
//! checked before the data is read, and the data before training starts.

use std::ops::ControlFlow;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use dasvdd_baselines::{Method, MethodParams};
use dasvdd_core::checkpoint;
use dasvdd_core::{
    fit, parse_device, Activation, Detector, DetectorParams, GammaChoice, SampleView,
};
use dasvdd_data::Preprocessing;
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};

use crate::input::{Role, SourceArgs};
use crate::output::{Existing, Output};
use crate::settings::{check_flags, method_params, output_activation, MethodFlags};

/// Metadata key of the fitted preprocessing in every model file the CLI writes.
pub const PREPROCESSING_KEY: &str = "preprocessing";
/// Metadata key of a note on the training data, for `dasvdd inspect`.
pub const TRAINING_DATA_KEY: &str = "training_data";
/// Metadata key of the decision threshold (`train --contamination`).
pub const THRESHOLD_KEY: &str = "threshold";
/// Metadata key of the feature columns' names (a JSON list), when the training CSV had a
/// header row: `score` checks a scored file's header against them.
pub const FEATURE_NAMES_KEY: &str = "feature_names";
/// Metadata key of the paper dataset and normal class trained on (`--dataset`), as JSON
/// `{"dataset": "fmnist", "class": 1}`: `score --dataset` takes that class by default.
pub const DATASET_KEY: &str = "dataset";

/// The JSON value of metadata entry `key` of the model at `model` (`None` when absent), an
/// invalid one an error naming the file and the key.
pub fn decoded_metadata<T: serde::de::DeserializeOwned>(
    model: &std::path::Path,
    metadata: &std::collections::HashMap<String, String>,
    key: &str,
) -> dasvdd_core::Result<Option<T>> {
    metadata
        .get(key)
        .map(|text| {
            serde_json::from_str(text).map_err(|e| dasvdd_core::CoreError::Checkpoint {
                path: model.to_path_buf(),
                problem: format!("metadata `{key}` is invalid: {e}"),
            })
        })
        .transpose()
}

/// The paper dataset and normal class a model was trained on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrainedOn {
    pub dataset: String,
    pub class: u8,
}

/// The decision threshold stored in a model file.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StoredThreshold {
    /// Scores at or above it are predicted anomalies.
    pub value: f64,
    /// The fraction of the training samples that score at or above it (`--contamination`).
    pub contamination: f64,
    /// Training samples it was computed on.
    pub n_train: usize,
}

impl StoredThreshold {
    /// The threshold stored in the model file at `model` by `train --contamination`, if any.
    pub fn read(model: &std::path::Path) -> dasvdd_core::Result<Option<StoredThreshold>> {
        decoded_metadata(model, &checkpoint::read_metadata(model)?, THRESHOLD_KEY)
    }
}

/// Arguments of `dasvdd train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    #[command(flatten)]
    source: SourceArgs,
    /// Where to write the model (one safetensors file), or - for standard output
    #[arg(long)]
    out: PathBuf,
    /// Overwrite the file at --out if there is one
    #[arg(long)]
    force: bool,
    /// Detector: dasvdd, ocsvm, kde, iforest, ae or deep_svdd (also spelled deepsvdd)
    #[arg(long, default_value = "dasvdd")]
    method: String,
    /// TOML config: a file, or a shipped one by name (mnist, fmnist, cifar10, speech, pima,
    /// awid3, mimii). [model] sizes the networks, [train] is DASVDD's (and the AE's),
    /// [baselines.<method>] the baselines'; flags override it
    #[arg(long)]
    config: Option<PathBuf>,
    /// Network preset of the paper: mnist (also Fashion-MNIST), cifar10, speech, pima. Without
    /// a preset or config the network is sized from the data (mnist for 784 columns).
    /// Networks only (dasvdd, ae, deep_svdd)
    #[arg(long)]
    preset: Option<String>,
    /// Number of training epochs (dasvdd, ae, deep_svdd)
    #[arg(long)]
    epochs: Option<usize>,
    /// DASVDD's gamma, the weight of the SVDD term; skips the heuristic of eq. (6) (dasvdd)
    #[arg(long)]
    gamma: Option<f64>,
    /// Seed of initial weights, centre and shuffling, or of the trees (all but ocsvm and kde)
    /// [default: 0]
    #[arg(long)]
    seed: Option<u64>,
    /// cpu, cuda or cuda:N (dasvdd, ae, deep_svdd) [default: cpu]
    #[arg(long)]
    device: Option<String>,
    /// Feature scaling fitted on the training data and stored in the model: none, zscore,
    /// minmax, gcn-l2 (CIFAR-10 as the 2021 DASVDD code) or gcn-l1-minmax (as Deep SVDD)
    /// [default: the method's entry in the config's [preprocessing], else none]
    #[arg(long)]
    scale: Option<String>,
    /// Expected fraction of anomalies, in (0, 1): stores the threshold that flags this fraction
    /// of the training samples, for `score --predict`
    #[arg(long)]
    contamination: Option<f64>,
    /// No progress bar and no summary (warnings and errors still show)
    #[arg(long)]
    quiet: bool,
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
pub fn run(args: &TrainArgs) -> Result<()> {
    // 1. What needs no data: method, flags, config, scaling, threshold, device, output.
    let method = Method::from_str(&args.method).map_err(|e| anyhow!("--method: {e}"))?;
    let flags = MethodFlags {
        preset: args.preset.clone(),
        epochs: args.epochs,
        gamma: args.gamma,
        seed: args.seed,
        device: args
            .device
            .clone()
            .filter(|d| !d.eq_ignore_ascii_case("cpu")),
    };
    check_flags(method, &flags)?;
    if let Some(p) = &args.preset {
        dasvdd_core::Preset::parse(p)?;
    }
    if args.config.as_deref().is_some_and(|c| c.as_os_str() == "-") && args.source.is_stdin() {
        bail!("--config - and --data - cannot both read standard input");
    }
    let config = args
        .config
        .as_deref()
        .map(crate::configs::load)
        .transpose()?;
    // --scale, else the config's [preprocessing] of the method (the benchmark's choice for
    // that dataset and method), else none.
    let from_config = config
        .as_ref()
        .and_then(|c| c.preprocessing(method).map(|s| (c, s)));
    let (scale_name, scale): (String, Preprocessing) = match (&args.scale, from_config) {
        (Some(s), _) => (s.clone(), s.parse().map_err(|e| anyhow!("--{e}"))?),
        (None, Some((c, s))) => (
            s.to_string(),
            s.parse()
                .map_err(|e| anyhow!("--config {}: [preprocessing] {method}: {e}", c.origin))?,
        ),
        (None, None) => ("none".to_string(), Preprocessing::None),
    };
    if let Some(q) = args.contamination {
        if !(q > 0.0 && q < 1.0) {
            bail!("--contamination {q} is not in (0, 1)");
        }
    }
    if args.epochs == Some(0) {
        bail!("--epochs must be at least 1");
    }
    let device = parse_device(args.device.as_deref().unwrap_or("cpu"))?;
    args.source.check()?;
    // The config file is an input too: `--force` must not replace it with the model.
    let inputs: Vec<&std::path::Path> = args
        .source
        .path()
        .into_iter()
        .chain(args.config.as_deref().filter(|c| c.as_os_str() != "-"))
        .collect();
    let out = Output::prepare(
        "--out",
        &args.out,
        Existing::NeedsForce,
        args.force,
        &inputs,
    )?;
    if out == Output::Stdout && std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        bail!("--out -: standard output is a terminal; redirect it to a file or a pipe");
    }

    // 2. The data.
    let samples = args.source.read(Role::Train)?;
    let origin = samples.origin.clone();
    let feature_names = samples.names.clone();
    let trained_on = samples.dataset.as_ref().map(|(d, c)| TrainedOn {
        dataset: d.to_string(),
        class: *c,
    });
    let mut x = samples.x;
    if let Some(labels) = &samples.labels {
        let normal: Vec<usize> = (0..x.rows).filter(|&i| labels[i] == 0).collect();
        if normal.len() < x.rows {
            if !args.quiet {
                eprintln!(
                    "{origin}: training on the {} normal rows; {} rows labelled anomalous are \
                     left out",
                    normal.len(),
                    x.rows - normal.len()
                );
            }
            x = x.select_rows(&normal);
        }
    }
    let fitted = scale
        .fit_transform(&mut x)
        .with_context(|| format!("cannot scale {origin}"))?;
    let params = method_params(method, x.cols, config.as_ref(), &flags)?;
    let min_rows = params.min_training_rows();
    if x.rows < min_rows {
        bail!(
            "{origin}: {} training rows; {method} needs at least {min_rows}",
            x.rows
        );
    }
    warn_if_out_of_range(&origin, &x, &params, &scale_name);
    let view = SampleView::new(&x.data, x.rows, x.cols).with_context(|| origin.clone())?;

    // 3. Training.
    let detector: Box<dyn Detector> = match &params {
        MethodParams::Dasvdd(cfg) => {
            if matches!(cfg.train.gamma, GammaChoice::Heuristic { .. }) && !args.quiet {
                eprintln!("estimating gamma (eq. 6)...");
            }
            let pb = progress_bar(cfg.train.epochs as u64, args.quiet);
            let model = fit(cfg, view, &device, &mut |r| {
                pb.set_message(format!(
                    "loss {:.5} (rec {:.5}, svdd {:.4})",
                    r.total, r.reconstruction, r.svdd
                ));
                pb.inc(1);
            })?;
            pb.finish_and_clear();
            if !args.quiet {
                eprintln!(
                    "trained DASVDD on {} samples x {} features: gamma {:.6}, final loss {:.6}",
                    x.rows,
                    x.cols,
                    model.gamma,
                    model.history.last().map(|r| r.total).unwrap_or(f64::NAN)
                );
            }
            Box::new(model)
        }
        other => {
            let pb = if args.quiet {
                ProgressBar::hidden()
            } else {
                ProgressBar::new_spinner()
            };
            pb.set_message(format!("fitting {method}"));
            pb.enable_steady_tick(Duration::from_millis(200));
            let model = other.fit_observed(view, &device, &mut |p| {
                pb.set_message(format!(
                    "fitting {method}: {} epoch {}/{}, loss {:.5}",
                    p.phase, p.epoch, p.epochs, p.loss
                ));
                ControlFlow::Continue(())
            })?;
            pb.finish_and_clear();
            if !args.quiet {
                eprintln!(
                    "fitted {method} on {} samples x {} features",
                    x.rows, x.cols
                );
            }
            model
        }
    };

    // 4. The threshold, then the file: written whole beside the destination, then moved.
    let mut metadata = vec![(PREPROCESSING_KEY, serde_json::to_string(&fitted)?)];
    if let Some(q) = args.contamination {
        // The training samples as a new sample would score (KDE leaves each one's own kernel
        // out), so that the threshold flags about q of new normal samples.
        let scores = detector.training_scores(view)?;
        let value = dasvdd_eval::contamination_threshold(&scores, q)?;
        let t = StoredThreshold {
            value,
            contamination: q,
            n_train: scores.len(),
        };
        if !args.quiet {
            eprintln!("threshold {value} flags {q} of the training samples");
        }
        metadata.push((THRESHOLD_KEY, serde_json::to_string(&t)?));
    }
    metadata.push((
        TRAINING_DATA_KEY,
        format!("{origin}: {} samples x {} features", x.rows, x.cols),
    ));
    if let Some(names) = &feature_names {
        metadata.push((FEATURE_NAMES_KEY, serde_json::to_string(names)?));
    }
    if let Some(t) = &trained_on {
        metadata.push((DATASET_KEY, serde_json::to_string(t)?));
    }
    let staged = out.staging_path();
    let written = detector
        .save(&staged)
        .map_err(anyhow::Error::from)
        .and_then(|()| Ok(checkpoint::set_metadata(&staged, &metadata)?));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&staged);
        return Err(e.context(format!("cannot write {}", out.describe())));
    }
    out.publish(&staged)?;
    if !args.quiet {
        eprintln!("wrote {}", out.describe());
    }
    Ok(())
}

/// Warns when the inputs lie far outside what the network's output activation can
/// reconstruct (raw 0-255 pixels into a sigmoid output, say).
fn warn_if_out_of_range(origin: &str, x: &dasvdd_data::Matrix, params: &MethodParams, scale: &str) {
    let Some(Activation::Sigmoid) = output_activation(params) else {
        return;
    };
    let (lo, hi) = x
        .data
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    if lo < -0.5 || hi > 1.5 {
        let fix = if scale == "none" {
            "pass --scale minmax"
        } else {
            "use --scale minmax, or a config whose [model] output_activation is \"none\""
        };
        eprintln!(
            "warning: {origin}: values span [{lo}, {hi}] but the network's sigmoid output lies \
             in (0, 1), so it cannot reconstruct them; {fix}"
        );
    }
}
