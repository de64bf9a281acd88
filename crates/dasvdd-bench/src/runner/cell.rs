//! One cell of `bench-all`: fits and scores the method on the split, then computes the
//! metrics, the thinned ROC curve and the extreme samples of the record and its side file.

use anyhow::Result;
use candle_core::Device;
use dasvdd_core::SampleView;
use dasvdd_data::{Matrix, OneClassSplit};
use dasvdd_eval::{RankedScores, RocPoints};
use indicatif::ProgressBar;

use super::plan::Plan;
use crate::matrix::{BenchDataset, CellKey, MethodSpec};
use crate::methods::{fit_and_score, fit_and_score_stacked, Outcome};
use crate::provenance::unix_now;
use crate::store::{CellDetail, CellRecord, RankedSample};

fn view(m: &Matrix) -> Result<SampleView<'_>> {
    Ok(SampleView::new(&m.data, m.rows, m.cols)?)
}

/// ROC points thinned to at most `max` (keeping both ends).
pub(super) fn thin(fpr: Vec<f64>, tpr: Vec<f64>, max: usize) -> (Vec<f64>, Vec<f64>) {
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
pub(super) fn run_cell(
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
        plan.shape.epochs_for(&plan.cfg, &key.dataset, spec.method),
        train,
        test,
        device,
        &mut on_epoch,
    )?;
    finish_cell(plan, key, dataset, spec, split, device, out)
}

/// Runs cells of one stackable method and dataset, whose training sets have one size, at once
/// (`fit_and_score_stacked`: passes sized for the device, side by side on the CPU), and
/// returns each cell's record and side file.
#[allow(clippy::too_many_arguments)]
pub(super) fn run_cells_stacked(
    plan: &Plan,
    keys: &[&CellKey],
    dataset: &BenchDataset,
    spec: &MethodSpec,
    splits: &[&OneClassSplit],
    device: &Device,
    pb: &ProgressBar,
) -> Result<Vec<Result<(CellRecord, CellDetail)>>> {
    let trains = splits
        .iter()
        .map(|s| view(&s.train))
        .collect::<Result<Vec<_>>>()?;
    let tests = splits
        .iter()
        .map(|s| view(&s.test.x))
        .collect::<Result<Vec<_>>>()?;
    let seeds: Vec<u64> = keys.iter().map(|k| k.seed).collect();
    let label = format!("{} {} x{}", keys[0].dataset, keys[0].method, keys.len());
    let mut on_epoch = |m: usize, r: &dasvdd_core::EpochRecord| {
        if m == 0 {
            pb.set_message(format!("{label} epoch {}", r.epoch));
        }
    };
    let outcomes = fit_and_score_stacked(
        &plan.cfg,
        &keys[0].dataset,
        spec,
        &seeds,
        plan.shape
            .epochs_for(&plan.cfg, &keys[0].dataset, spec.method),
        &trains,
        &tests,
        device,
        &mut on_epoch,
    )?;
    Ok(outcomes
        .into_iter()
        .zip(keys.iter().zip(splits))
        .map(|(out, (key, split))| finish_cell(plan, key, dataset, spec, split, device, out?))
        .collect())
}

/// The record and side file of a cell from what fitting and scoring gave.
fn finish_cell(
    plan: &Plan,
    key: &CellKey,
    dataset: &BenchDataset,
    spec: &MethodSpec,
    split: &OneClassSplit,
    device: &Device,
    out: Outcome,
) -> Result<(CellRecord, CellDetail)> {
    let (scores, labels, unit) = match &split.test.groups {
        Some(groups) => {
            let (s, l) = dasvdd_eval::mean_by_group(&out.scores, groups, &split.test.y)?;
            (s, l, "clip")
        }
        None => (out.scores.clone(), split.test.y.clone(), "sample"),
    };
    // Each term of the score alone, evaluated on the same units as the score.
    let mut term_auroc = std::collections::BTreeMap::new();
    for t in &out.terms {
        let values = match &split.test.groups {
            Some(groups) => dasvdd_eval::mean_by_group(&t.values, groups, &split.test.y)?.0,
            None => t.values.clone(),
        };
        term_auroc.insert(t.name.to_string(), dasvdd_eval::auroc(&values, &labels)?);
    }
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
        term_auroc,
    };
    Ok((record, detail))
}
