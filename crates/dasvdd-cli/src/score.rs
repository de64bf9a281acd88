//! `dasvdd score`: one anomaly score per sample with a saved model (higher = more anomalous),
//! optionally DASVDD's two parts of the score and a 0/1 prediction at the model's threshold,
//! and, when the samples carry labels, the evaluation of the scores in the same run.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;
use dasvdd_baselines::load_detector_from;
use dasvdd_core::checkpoint;
use dasvdd_core::{parse_device, SampleView, ScoreTerm};
use dasvdd_data::FittedPreprocessing;

use crate::eval::ThresholdRule;
use crate::input::{Role, SourceArgs};
use crate::output::{Existing, Output};
use crate::train::{
    decoded_metadata, StoredThreshold, TrainedOn, DATASET_KEY, FEATURE_NAMES_KEY,
    PREPROCESSING_KEY, THRESHOLD_KEY,
};

/// Arguments of `dasvdd score`.
#[derive(Debug, Args)]
pub struct ScoreArgs {
    /// A model written by `dasvdd train`, or - for standard input
    #[arg(long)]
    model: PathBuf,
    #[command(flatten)]
    source: SourceArgs,
    /// Where to write the scores (CSV with a `score` header, one row per sample in the same
    /// order), or - for standard output
    #[arg(long)]
    out: PathBuf,
    /// Overwrite a model file at --out (any other file is replaced without asking)
    #[arg(long)]
    force: bool,
    /// Add a `prediction` column: 1 where the score is at or above the threshold (the model's,
    /// from `train --contamination`, or --threshold)
    #[arg(long)]
    predict: bool,
    /// The threshold of --predict instead of the model's
    #[arg(long, requires = "predict")]
    threshold: Option<f64>,
    /// DASVDD models only: add the score's two terms (eq. 7), the `reconstruction` error (mean
    /// over features of (x_hat - x)^2) and `svdd`, the squared distance ||z - c||^2 of the code
    /// to the centre, so that score = reconstruction + gamma * svdd; with labels, also print
    /// each term's AUROC
    #[arg(long)]
    parts: bool,
    /// cpu, cuda or cuda:N
    #[arg(long, default_value = "cpu")]
    device: String,
    /// No evaluation summary on stderr when the samples have labels
    #[arg(long)]
    quiet: bool,
}

/// `dasvdd score`.
pub fn run(args: &ScoreArgs) -> Result<()> {
    if args.model.as_os_str() == "-" && args.source.is_stdin() {
        bail!("--model - and --data - cannot both read standard input");
    }
    args.source.check()?;
    let device = parse_device(&args.device)?;
    let mut inputs: Vec<&Path> = vec![&args.model];
    inputs.extend(args.source.path());
    let out = Output::prepare(
        "--out",
        &args.out,
        Existing::ReplaceUnlessModel,
        args.force,
        &inputs,
    )?;
    let model_file = crate::model_file::ModelFile::open(&args.model)?;
    let model_path = model_file.path();
    let model_name = crate::input::shown(&args.model);
    let named = |e: dasvdd_core::CoreError| model_file.named(&model_name, e);

    // The file read (and its checksum computed) once, for the detector and its metadata.
    let ck = checkpoint::Checkpoint::read_any(model_path).map_err(named)?;
    let metadata = ck.metadata().clone();
    let detector = load_detector_from(ck, &device).map_err(named)?;
    if args.parts && detector.score_term_names().is_empty() {
        bail!(
            "--parts splits a score into its terms (DASVDD's reconstruction and SVDD terms), \
             but {model_name} is a {} model, whose score is one term",
            detector.method()
        );
    }
    // The threshold of --predict, and where it came from, for the evaluation's summary.
    let threshold_rule = if args.predict {
        Some(match args.threshold {
            Some(t) if t.is_finite() => ThresholdRule::Given(t),
            Some(t) => bail!("--threshold {t} is not a finite number"),
            None => {
                let stored =
                    decoded_metadata::<StoredThreshold>(model_path, &metadata, THRESHOLD_KEY)
                        .map_err(named)?
                        .with_context(|| {
                            format!(
                                "{model_name} holds no threshold: train it with \
                                 --contamination, or pass --threshold"
                            )
                        })?;
                ThresholdRule::Model {
                    value: stored.value,
                    contamination: stored.contamination,
                    file: model_name.to_string(),
                }
            }
        })
    } else {
        None
    };
    let threshold = match &threshold_rule {
        Some(ThresholdRule::Given(t)) => Some(*t),
        Some(ThresholdRule::Model { value, .. }) => Some(*value),
        _ => None,
    };

    // `--dataset` without `--class` scores the class the model was trained on.
    let trained_on: Option<TrainedOn> =
        decoded_metadata(model_path, &metadata, DATASET_KEY).map_err(named)?;
    let mut source = args.source.clone();
    if let (Some(name), Some(t)) = (&source.dataset, &trained_on) {
        let same = name
            .parse::<dasvdd_data::DatasetName>()
            .is_ok_and(|d| d.to_string() == t.dataset);
        if same && source.class.is_none() {
            source.class = Some(t.class.to_string());
        }
    }
    let samples = source.read(Role::Score)?;
    if let (Some((d, c)), Some(t)) = (&samples.dataset, &trained_on) {
        if d.to_string() == t.dataset && *c != t.class && !args.quiet {
            eprintln!(
                "warning: {model_name} was trained on {} class {} as normal; these scores take \
                 class {c} as normal",
                t.dataset, t.class
            );
        }
    }
    let mut x = samples.x;
    if x.cols != detector.n_features() {
        bail!(
            "{}: {} columns, but the model {model_name} was trained on {} features",
            samples.origin,
            x.cols,
            detector.n_features()
        );
    }
    // A header that names the columns otherwise than the training file's is a mistake a
    // count cannot see (columns reordered, or another table of as many columns).
    let trained_names: Option<Vec<String>> =
        decoded_metadata(model_path, &metadata, FEATURE_NAMES_KEY).map_err(named)?;
    if let (Some(want), Some(got)) = (&trained_names, &samples.names) {
        if want != got {
            let mut sorted_want = want.clone();
            let mut sorted_got = got.clone();
            sorted_want.sort();
            sorted_got.sort();
            let problem = if sorted_want == sorted_got {
                "the same columns in another order".to_string()
            } else {
                let first = want.iter().zip(got).position(|(a, b)| a != b).unwrap_or(0);
                format!(
                    "column {} is `{}` where the model's is `{}`",
                    first + 1,
                    got[first],
                    want[first]
                )
            };
            bail!(
                "{}: the header names the features {}, but {model_name} was trained on {}: {problem}. \
                 Give the columns in the training file's order and names",
                samples.origin,
                shorten_list(got),
                shorten_list(want)
            );
        }
    }
    let preprocessing: Option<FittedPreprocessing> =
        decoded_metadata(model_path, &metadata, PREPROCESSING_KEY).map_err(named)?;
    if let Some(fitted) = preprocessing {
        // The data's width was checked against the model's above, so a scaling that does not
        // fit it is the model file's fault.
        fitted.transform(&mut x).map_err(|e| {
            anyhow::anyhow!(
                "{model_name}: its stored scaling does not fit its own {} features ({e}); the \
                 model file is inconsistent",
                detector.n_features()
            )
        })?;
        if let Some(k) = x.data.iter().position(|v| !v.is_finite()) {
            bail!(
                "{}: sample {}, feature {} (from 1) is {} after the model's scaling: the value \
                 lies far outside the training data's range",
                samples.origin,
                k / x.cols + 1,
                k % x.cols + 1,
                x.data[k]
            );
        }
    }
    let view = SampleView::new(&x.data, x.rows, x.cols).with_context(|| samples.origin.clone())?;
    // With --parts the score is summed here from its terms, as `Detector::score` sums them
    // (`ScoreTerm::sum`), so it is the same value to the bit.
    let (scores, parts) = if args.parts {
        let terms = detector
            .score_terms(view)?
            .context("the model named terms of its score but gave none")?;
        (ScoreTerm::sum(&terms), Some(terms))
    } else {
        (detector.score(view)?, None)
    };

    if let Some(i) = scores.iter().position(|s| !s.is_finite()) {
        bail!(
            "{}: the score of sample {} (from 1) is {}: a value far outside the training \
             data's range overflows the model's f32 arithmetic; nothing was written",
            samples.origin,
            i + 1,
            scores[i]
        );
    }
    let groups = samples.groups.as_deref();
    let mut header = vec!["score"];
    header.extend(parts.iter().flatten().map(|t| t.name));
    if threshold.is_some() {
        header.push("prediction");
    }
    if groups.is_some() {
        header.push(GROUP_COLUMN);
    }
    let mut text = String::with_capacity(scores.len() * 24 * header.len() + 40);
    text.push_str(&header.join(","));
    text.push('\n');
    for (i, s) in scores.iter().enumerate() {
        // The shortest representation that reads back to the same f64.
        text.push_str(&s.to_string());
        for t in parts.iter().flatten() {
            text.push_str(&format!(",{}", t.values[i]));
        }
        if let Some(t) = threshold {
            text.push_str(&format!(",{}", u8::from(*s >= t)));
        }
        if let Some(g) = groups {
            text.push_str(&format!(",{}", g[i]));
        }
        text.push('\n');
    }
    out.write(text.as_bytes())?;

    if let (Some(row_labels), false) = (&samples.labels, args.quiet) {
        // Rows in groups (MIMII's frames of one clip) are evaluated as their groups, each
        // scored by the mean of its rows' scores, as the benchmark and the MIMII baseline do.
        let by_group = |values: &[f64]| -> Result<(Vec<f64>, Vec<u8>)> {
            match groups {
                Some(g) => dasvdd_eval::mean_by_group(values, g, row_labels)
                    .with_context(|| format!("cannot average the scores of {}", samples.origin)),
                None => Ok((values.to_vec(), row_labels.clone())),
            }
        };
        let (scores, labels) = by_group(&scores)?;
        let labels = &labels;
        let origin = match groups {
            Some(_) => format!(
                "{}, per group of rows ({} groups, the `{GROUP_COLUMN}` column: MIMII's clips, \
                 each scored by the mean score of its rows)",
                samples.origin,
                labels.len()
            ),
            None => samples.origin.clone(),
        };
        // The scores are written; labels of one class only (a folder of normal images, say)
        // leave nothing to evaluate, which is worth a note, not a failed run.
        let anomalies = labels.iter().filter(|&&l| l != 0).count();
        if anomalies == 0 || anomalies == labels.len() {
            eprintln!(
                "{}: all {} samples are labelled {}: no AUROC to report",
                origin,
                labels.len(),
                if anomalies == 0 {
                    "normal"
                } else {
                    "anomalous"
                }
            );
            return Ok(());
        }
        let summary = crate::eval::Summary::new(
            &scores,
            labels,
            threshold_rule
                .clone()
                .unwrap_or(ThresholdRule::TopAnomalies),
        )
        .with_context(|| format!("cannot evaluate the scores of {}", origin))?;
        eprintln!("{}: {}", origin, summary.one_line());
        if let Some(terms) = &parts {
            let mut each = Vec::with_capacity(terms.len());
            for t in terms {
                let a = dasvdd_eval::auroc(&by_group(&t.values)?.0, labels).with_context(|| {
                    format!("cannot evaluate the {} term of the scores", t.name)
                })?;
                each.push(format!("{} {a:.4} (weight {})", t.name, t.weight));
            }
            eprintln!(
                "{}: AUROC of each term of the score alone: {}",
                origin,
                each.join(", ")
            );
        }
    }
    Ok(())
}

/// The column of the score file that names each row's group, when the rows come in groups.
const GROUP_COLUMN: &str = "group";

/// `a, b, c` for a short list, `a, b, c, ... (40 columns)` for a long one.
fn shorten_list(names: &[String]) -> String {
    if names.len() <= 8 {
        names.join(", ")
    } else {
        format!("{}, ... ({} columns)", names[..6].join(", "), names.len())
    }
}
