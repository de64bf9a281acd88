//! The report's numbers from the finished cells: the main table's rows (per class, then the
//! averages over classes), the terms of DASVDD's score, and the requested cells still missing.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Result;
use dasvdd_eval::stats::SAMPLE;
use serde::{Deserialize, Serialize};

use super::paper::PaperTable;
use super::table::Row;
use crate::matrix::{BenchDataset, CellKey, Method, MethodSpec};
use crate::store::{CellRecord, ResultsDir};
use crate::summary::{dataset_order, mean};

/// Mean and sample std of `values` (std `None` below two values).
fn mean_std(values: &[f64]) -> (f64, Option<f64>) {
    match dasvdd_eval::mean_std(values, SAMPLE) {
        Ok(ms) => (ms.mean, Some(ms.std)),
        Err(_) => (dasvdd_eval::mean(values).unwrap_or(f64::NAN), None),
    }
}

pub(super) fn method_order(m: &str) -> (usize, String) {
    let pos = m
        .parse::<MethodSpec>()
        .ok()
        .and_then(|s| Method::ALL.iter().position(|x| *x == s.method))
        .unwrap_or(Method::ALL.len());
    (pos, m.to_string())
}

/// A name with its position in the report (the paper's order first).
pub(super) type Ordered = (usize, String);

/// Cells grouped by (dataset, class, method, config hash), in report order.
type Groups<'a> = BTreeMap<(Ordered, u8, Ordered, String), Vec<&'a CellRecord>>;

fn group<'a>(cells: impl Iterator<Item = &'a CellRecord>) -> Groups<'a> {
    let mut g: Groups<'a> = BTreeMap::new();
    for c in cells {
        g.entry((
            dataset_order(&c.key.dataset),
            c.key.class,
            method_order(&c.key.method),
            c.key.config_hash.clone(),
        ))
        .or_default()
        .push(c);
    }
    g
}

/// The rows of the main table: one per (dataset, class, method, config), then per (dataset,
/// method, config) the average over classes where the dataset has several.
pub fn table_rows(cells: &BTreeMap<CellKey, CellRecord>, paper: &PaperTable) -> Vec<Row> {
    let base = cells.values().filter(|c| !c.key.method.contains(':'));
    let groups = group(base);
    let mut rows = Vec::new();
    // (dataset, method, config) -> class rows, for the averages.
    let mut by_method: BTreeMap<(Ordered, Ordered, String), Vec<Row>> = BTreeMap::new();
    for ((d, class, m, hash), recs) in &groups {
        let aurocs: Vec<f64> = recs.iter().map(|r| 100.0 * r.auroc).collect();
        let (auroc, auroc_std) = mean_std(&aurocs);
        let method = recs[0].key.method.parse::<MethodSpec>().ok();
        let p = method.and_then(|m| paper.get(&d.1, Some(*class), m.method));
        let first = recs[0];
        let same = |f: fn(&CellRecord) -> usize| -> Option<usize> {
            let v = f(first);
            recs.iter().all(|r| f(r) == v).then_some(v)
        };
        let row = Row {
            dataset: d.1.clone(),
            class: Some(*class),
            class_name: first.class_name.clone(),
            method: m.1.clone(),
            config: hash[..8.min(hash.len())].to_string(),
            runs: recs.len(),
            auroc,
            auroc_std,
            paper: p,
            diff: p.map(|p| round2(auroc) - p),
            ap: mean(recs.iter().map(|r| 100.0 * r.ap)),
            f1: mean(recs.iter().map(|r| 100.0 * r.f1)),
            train: same(|r| r.train),
            test_normal: same(|r| r.test_normal),
            test_anomalous: same(|r| r.test_anomalous),
            fit_seconds: mean(recs.iter().map(|r| r.fit_seconds)),
            score_seconds: mean(recs.iter().map(|r| r.score_seconds)),
        };
        by_method
            .entry((d.clone(), m.clone(), hash.clone()))
            .or_default()
            .push(row.clone());
        rows.push(row);
    }
    // Averages after each dataset's class rows.
    let mut out = Vec::new();
    let mut i = 0;
    while i < rows.len() {
        let d = rows[i].dataset.clone();
        let mut j = i;
        while j < rows.len() && rows[j].dataset == d {
            j += 1;
        }
        out.extend_from_slice(&rows[i..j]);
        let n_classes = d
            .parse::<BenchDataset>()
            .map(|b| b.classes().len())
            .unwrap_or(1);
        if n_classes > 1 {
            for ((dd, m, _), class_rows) in &by_method {
                if dd.1 != d {
                    continue;
                }
                let method = m.1.parse::<MethodSpec>().ok();
                // The paper's average when every class ran; over some classes, the paper's
                // mean over those same classes, so that the difference compares like with like
                // (where the paper gives an average only, as for MIMII, that average).
                let p = method.and_then(|mm| {
                    let per_class: Option<Vec<f64>> = class_rows
                        .iter()
                        .map(|r| r.class.and_then(|c| paper.get(&d, Some(c), mm.method)))
                        .collect();
                    match per_class {
                        Some(v) if class_rows.len() < n_classes => Some(mean(v)),
                        _ => paper.get(&d, None, mm.method),
                    }
                });
                let auroc = mean(class_rows.iter().map(|r| r.auroc));
                out.push(Row {
                    dataset: d.clone(),
                    class: None,
                    class_name: format!("{} of {n_classes} classes", class_rows.len()),
                    method: m.1.clone(),
                    config: class_rows[0].config.clone(),
                    runs: class_rows.iter().map(|r| r.runs).sum(),
                    auroc,
                    auroc_std: None,
                    paper: p,
                    diff: p.map(|p| round2(auroc) - p),
                    ap: mean(class_rows.iter().map(|r| r.ap)),
                    f1: mean(class_rows.iter().map(|r| r.f1)),
                    train: None,
                    test_normal: None,
                    test_anomalous: None,
                    fit_seconds: mean(class_rows.iter().map(|r| r.fit_seconds)),
                    score_seconds: mean(class_rows.iter().map(|r| r.score_seconds)),
                });
            }
        }
        i = j;
    }
    out
}

/// Rounds to the two decimals the table shows, so that `diff` agrees with the printed values.
fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// The requested cells that are not finished, with why a whole dataset is missing.
pub fn missing_cells(
    results: &ResultsDir,
    cells: &BTreeMap<CellKey, CellRecord>,
) -> Result<(Vec<CellKey>, BTreeMap<String, String>)> {
    let mut requested = BTreeSet::new();
    let mut unavailable = BTreeMap::new();
    for req in results.read_requests()? {
        requested.extend(req.cells);
        unavailable.extend(req.unavailable);
    }
    let missing: Vec<CellKey> = requested
        .into_iter()
        .filter(|k| !cells.contains_key(k))
        .collect();
    Ok((missing, unavailable))
}

/// The terms of the score of one dataset's and method's cells, for methods whose score is a
/// weighted sum (DASVDD's eq. 7): mean AUROC (%) of the score and of each term alone over the
/// cells that record their terms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TermRow {
    /// The dataset's name.
    pub dataset: String,
    /// The method's name (`dasvdd`, `dasvdd-code`, ...).
    pub method: String,
    /// The first 8 characters of the cells' config hash (one row per config).
    #[serde(default)]
    pub config: String,
    /// Cells averaged.
    pub cells: usize,
    /// Mean AUROC (%) of the score.
    pub auroc: f64,
    /// Mean AUROC (%) of each term alone, by the term's name.
    pub terms: BTreeMap<String, f64>,
    /// For each term, the cells where it alone ranks better than the score.
    pub above_score: BTreeMap<String, usize>,
}

/// One [`TermRow`] per dataset, method and config whose cells record the AUROC of their
/// score's terms, in report order.
pub fn term_rows(cells: &BTreeMap<CellKey, CellRecord>) -> Vec<TermRow> {
    let mut by: BTreeMap<(Ordered, Ordered, String), Vec<&CellRecord>> = BTreeMap::new();
    for c in cells.values().filter(|c| !c.term_auroc.is_empty()) {
        by.entry((
            dataset_order(&c.key.dataset),
            method_order(&c.key.method),
            c.key.config_hash.clone(),
        ))
        .or_default()
        .push(c);
    }
    by.into_iter()
        .map(|(((_, dataset), (_, method), hash), recs)| {
            let mut terms: BTreeMap<String, Vec<f64>> = BTreeMap::new();
            let mut above_score: BTreeMap<String, usize> = BTreeMap::new();
            for r in &recs {
                for (name, a) in &r.term_auroc {
                    terms.entry(name.clone()).or_default().push(100.0 * a);
                    *above_score.entry(name.clone()).or_default() += usize::from(*a > r.auroc);
                }
            }
            TermRow {
                dataset,
                method,
                config: hash[..8.min(hash.len())].to_string(),
                cells: recs.len(),
                auroc: mean(recs.iter().map(|r| 100.0 * r.auroc)),
                terms: terms.into_iter().map(|(k, v)| (k, mean(v))).collect(),
                above_score,
            }
        })
        .collect()
}
