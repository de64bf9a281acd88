//! Summaries that the report and the figures share: the sweep points, the report's order of
//! datasets, class ranges and means.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::matrix::{BenchDataset, CellKey, MethodSpec};
use crate::store::CellRecord;

/// The mean of `values` (NaN when there are none).
pub fn mean(values: impl IntoIterator<Item = f64>) -> f64 {
    let v: Vec<f64> = values.into_iter().collect();
    dasvdd_eval::mean(&v).unwrap_or(f64::NAN)
}

/// A dataset's position in the report (the paper's order first), then its name.
pub fn dataset_order(d: &str) -> (usize, String) {
    d.parse::<BenchDataset>()
        .map(|d| d.order())
        .unwrap_or((usize::MAX, d.to_string()))
}

/// Compact ranges of numbers: `0-3,5,7-9`.
pub fn ranges(values: &[u64]) -> String {
    let mut v = values.to_vec();
    v.sort_unstable();
    v.dedup();
    let mut parts = Vec::new();
    let mut i = 0;
    while i < v.len() {
        let mut j = i;
        while j + 1 < v.len() && v[j + 1] == v[j] + 1 {
            j += 1;
        }
        parts.push(if i == j {
            v[i].to_string()
        } else {
            format!("{}-{}", v[i], v[j])
        });
        i = j + 1;
    }
    parts.join(",")
}

/// Rows of the sweeps and the fixed-c ablation: per (dataset, variant, config), the mean AUROC
/// (%) over every class and seed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepPoint {
    /// The dataset's name.
    pub dataset: String,
    /// The varied parameter ([`crate::matrix::Variant::parameter`]); `auto` for plain DASVDD.
    pub parameter: String,
    /// The parameter's value; `None` for plain DASVDD as configured (gamma by the heuristic,
    /// T = 10, trained c...) and for the variants without a number (`center=fixed`, the
    /// `dasvdd-paper`/`dasvdd-code` profiles, the on/off switches of the fidelity study).
    pub value: Option<f64>,
    /// The method as written in the cells (`dasvdd:gamma=0.5`, ...).
    pub method: String,
    /// The first 8 characters of the cells' config hash: runs of other settings (epochs, a
    /// config file) are separate points.
    #[serde(default)]
    pub config: String,
    /// The normal classes covered, as compact ranges (`0-3,5`).
    pub classes: String,
    /// Number of finished cells averaged.
    pub runs: usize,
    /// Mean AUROC in %.
    pub auroc: f64,
}

/// The sweep points of the finished DASVDD cells (plain and variants), one per (dataset,
/// method, config), in the report's dataset order, then by parameter, config and value.
/// Plain DASVDD, the reference (`auto`) of the variants run with the same dataset and config,
/// is averaged over the classes those variants cover, so that both sides of a comparison saw
/// the same classes (a sweep runs one class; a full run beside it, all ten).
pub fn sweep_points(cells: &BTreeMap<CellKey, CellRecord>) -> Vec<SweepPoint> {
    let mut by: BTreeMap<(String, String, String), Vec<&CellRecord>> = BTreeMap::new();
    for c in cells.values() {
        if c.key.method.starts_with("dasvdd") {
            by.entry((
                c.key.dataset.clone(),
                c.key.config_hash.clone(),
                c.key.method.clone(),
            ))
            .or_default()
            .push(c);
        }
    }
    // The classes the variants of each (dataset, config) cover.
    let mut variant_classes: BTreeMap<(String, String), std::collections::BTreeSet<u8>> =
        BTreeMap::new();
    for ((dataset, hash, method), recs) in &by {
        if method
            .parse::<MethodSpec>()
            .is_ok_and(|s| s.variant.is_some())
        {
            variant_classes
                .entry((dataset.clone(), hash.clone()))
                .or_default()
                .extend(recs.iter().map(|r| r.key.class));
        }
    }
    let mut out = Vec::new();
    for ((dataset, hash, method), recs) in &by {
        let Ok(spec) = method.parse::<MethodSpec>() else {
            continue;
        };
        let recs: Vec<&CellRecord> = match (
            &spec.variant,
            variant_classes.get(&(dataset.clone(), hash.clone())),
        ) {
            (None, Some(classes)) => recs
                .iter()
                .copied()
                .filter(|r| classes.contains(&r.key.class))
                .collect(),
            _ => recs.clone(),
        };
        if recs.is_empty() {
            continue;
        }
        let classes: Vec<u64> = recs.iter().map(|r| u64::from(r.key.class)).collect();
        let mut point = SweepPoint {
            dataset: dataset.clone(),
            parameter: String::new(),
            value: None,
            method: method.clone(),
            config: hash[..8.min(hash.len())].to_string(),
            classes: ranges(&classes),
            runs: recs.len(),
            auroc: mean(recs.iter().map(|r| 100.0 * r.auroc)),
        };
        match spec.variant {
            Some(v) => {
                point.parameter = v.parameter().into();
                point.value = (!v.is_categorical()).then(|| v.value());
                out.push(point);
            }
            None => {
                // Plain DASVDD is the reference point of every sweep of the dataset.
                point.parameter = "auto".into();
                out.push(point);
            }
        }
    }
    out.sort_by(|a, b| {
        dataset_order(&a.dataset)
            .cmp(&dataset_order(&b.dataset))
            .then(a.parameter.cmp(&b.parameter))
            .then(a.config.cmp(&b.config))
            .then(a.value.unwrap_or(-1.0).total_cmp(&b.value.unwrap_or(-1.0)))
    });
    out
}
