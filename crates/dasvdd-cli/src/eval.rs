//! `dasvdd eval`: scores against labels. AUROC and average precision need no threshold; the
//! precision, recall and F1 of the predictions are given at a threshold that is reported: the
//! model's, a given one, a contamination, or by default the one that flags as many samples as
//! there are anomalies.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;
use serde::Serialize;

use crate::input::{read_column, read_scores, shown};
use crate::labels::LabelRule;

/// Arguments of `dasvdd eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Scores from `dasvdd score` (its `score` column), or - for standard input
    #[arg(long)]
    scores: PathBuf,
    /// One label per row, same order (a `label` column, or the only column), or - for
    /// standard input; 1 = anomaly, 0 = normal unless --pos-label says otherwise
    #[arg(long)]
    labels: PathBuf,
    /// The label value that marks an anomaly (e.g. -1, anomaly, outlier); every other value
    /// is normal
    #[arg(long, value_name = "VALUE")]
    pos_label: Option<String>,
    /// Predict an anomaly where score >= this threshold
    #[arg(long, conflicts_with_all = ["contamination", "model"])]
    threshold: Option<f64>,
    /// Flag this fraction of the samples, the highest scores, in (0, 1]
    #[arg(long, conflicts_with = "model")]
    contamination: Option<f64>,
    /// Use the threshold stored in this model file (`train --contamination`)
    #[arg(long)]
    model: Option<PathBuf>,
    /// Print one JSON object (keys n, anomalies, auroc, ap, threshold, threshold_rule, flagged,
    /// precision, recall, f1)
    #[arg(long)]
    json: bool,
}

/// How the threshold of the predictions is chosen.
#[derive(Debug, Clone, PartialEq)]
pub enum ThresholdRule {
    /// Flag as many samples as there are anomalies (the labels' contamination).
    TopAnomalies,
    /// Flag the top fraction of the samples.
    Contamination(f64),
    /// This value.
    Given(f64),
    /// The value stored in a model file, with its training contamination.
    Model {
        value: f64,
        contamination: f64,
        file: String,
    },
}

/// What `eval` reports.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub n: usize,
    pub anomalies: usize,
    pub auroc: f64,
    pub ap: f64,
    pub threshold: f64,
    pub threshold_rule: String,
    pub flagged: usize,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
}

impl Summary {
    /// Evaluates `scores` against `labels` (1 = anomaly) with the threshold of `rule`.
    pub fn new(scores: &[f64], labels: &[u8], rule: ThresholdRule) -> Result<Self> {
        let m = dasvdd_eval::evaluate(scores, labels)?;
        let anomalies = labels.iter().filter(|&&l| l == 1).count();
        let (threshold, rule_text) = match &rule {
            ThresholdRule::TopAnomalies => {
                let q = anomalies as f64 / scores.len() as f64;
                (
                    dasvdd_eval::contamination_threshold(scores, q)?,
                    format!("the top {anomalies} scores (as many as there are anomalies)"),
                )
            }
            ThresholdRule::Contamination(q) => (
                dasvdd_eval::contamination_threshold(scores, *q)?,
                format!("the top {q} of the scores (--contamination)"),
            ),
            ThresholdRule::Given(t) => (*t, "given (--threshold)".to_string()),
            ThresholdRule::Model {
                value,
                contamination,
                file,
            } => (
                *value,
                format!("of {file}: flags {contamination} of its training samples"),
            ),
        };
        let c = dasvdd_eval::confusion_at_threshold(scores, labels, threshold)?;
        Ok(Summary {
            n: scores.len(),
            anomalies,
            auroc: m.auroc,
            ap: m.ap,
            threshold,
            threshold_rule: rule_text,
            flagged: c.true_positives + c.false_positives,
            precision: c.precision(),
            recall: c.recall(),
            f1: c.f1(),
        })
    }

    /// The summary in one line (for `score` with labels).
    pub fn one_line(&self) -> String {
        format!(
            "n {} ({} anomalies), AUROC {:.4}, AP {:.4}; at threshold {} ({}): precision {:.4}, \
             recall {:.4}, F1 {:.4}",
            self.n,
            self.anomalies,
            self.auroc,
            self.ap,
            self.threshold,
            self.threshold_rule,
            self.precision,
            self.recall,
            self.f1
        )
    }
}

/// `dasvdd eval`.
pub fn run(args: &EvalArgs) -> Result<()> {
    let stdin_readers = [
        args.scores.as_os_str() == "-",
        args.labels.as_os_str() == "-",
        args.model.as_deref().is_some_and(|m| m.as_os_str() == "-"),
    ];
    if stdin_readers.iter().filter(|&&b| b).count() > 1 {
        bail!("only one of --scores, --labels and --model can read standard input (-)");
    }
    let rule = match (&args.threshold, &args.contamination, &args.model) {
        (Some(t), _, _) => {
            if !t.is_finite() {
                bail!("--threshold {t} is not a finite number");
            }
            ThresholdRule::Given(*t)
        }
        (_, Some(q), _) => {
            if !(*q > 0.0 && *q <= 1.0) {
                bail!("--contamination {q} is not in (0, 1]");
            }
            ThresholdRule::Contamination(*q)
        }
        (_, _, Some(m)) => {
            let file = crate::model_file::ModelFile::open(m)?;
            let t = crate::train::StoredThreshold::read(file.path())?.with_context(|| {
                format!(
                    "{} holds no threshold: train it with --contamination",
                    shown(m)
                )
            })?;
            ThresholdRule::Model {
                value: t.value,
                contamination: t.contamination,
                file: shown(m),
            }
        }
        _ => ThresholdRule::TopAnomalies,
    };
    let scores = read_scores(&args.scores)?;
    let label_cells = read_column(&args.labels, "label", args.pos_label.as_deref())?;
    let labels = LabelRule::new(args.pos_label.as_deref()).apply(
        &shown(&args.labels),
        &label_cells,
        true,
    )?;
    if scores.len() != labels.len() {
        // pandas' `Series.to_csv(index=False)` heads a column of 0/1 labels with `0`, which
        // reads as one more label.
        let hint = if labels.len() == scores.len() + 1
            && label_cells
                .first()
                .is_some_and(|(line, v)| *line == 1 && v == "0")
        {
            "; if its first line `0` is a header (as pandas' to_csv writes one), remove it or \
             write the labels with header=False"
        } else {
            ""
        };
        bail!(
            "{} has {} scores but {} has {} labels{hint}",
            shown(&args.scores),
            scores.len(),
            shown(&args.labels),
            labels.len()
        );
    }
    let s = Summary::new(&scores, &labels, rule).context("cannot evaluate")?;
    let mut out = String::new();
    if args.json {
        writeln!(out, "{}", serde_json::to_string(&s)?)?;
    } else {
        writeln!(out, "samples    {} ({} anomalies)", s.n, s.anomalies)?;
        writeln!(out, "AUROC      {:.6}", s.auroc)?;
        writeln!(out, "AP         {:.6}", s.ap)?;
        writeln!(out, "threshold  {} ({})", s.threshold, s.threshold_rule)?;
        writeln!(out, "flagged    {}", s.flagged)?;
        writeln!(out, "precision  {:.6}", s.precision)?;
        writeln!(out, "recall     {:.6}", s.recall)?;
        writeln!(out, "F1         {:.6}", s.f1)?;
    }
    crate::output::print_stdout(&out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_threshold_flags_as_many_as_there_are_anomalies() {
        let scores = [0.1, 0.2, 0.9, 0.8, 0.3];
        let labels = [0, 0, 1, 0, 1];
        let s = Summary::new(&scores, &labels, ThresholdRule::TopAnomalies).unwrap();
        assert_eq!((s.threshold, s.flagged), (0.8, 2));
        assert_eq!((s.precision, s.recall), (0.5, 0.5));
        let s = Summary::new(&scores, &labels, ThresholdRule::Given(0.25)).unwrap();
        assert_eq!(s.flagged, 3);
        assert!((s.precision - 2.0 / 3.0).abs() < 1e-12 && s.recall == 1.0);
    }
}
