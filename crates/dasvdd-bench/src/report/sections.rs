//! The Markdown sections of `REPORT.md` besides the main table: the missing cells, Table 3
//! and the sweeps, Table 2 side by side with the paper, the averages per dataset, and the
//! terms of DASVDD's score.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use super::paper::PAPER_TABLE3;
use super::rows::{method_order, Ordered, TermRow};
use super::table::{opt, opt_f, Row};
use crate::matrix::{BenchDataset, CellKey};
use crate::summary::{dataset_order, ranges, SweepPoint};

pub(super) fn missing_section(
    missing: &[CellKey],
    unavailable: &BTreeMap<String, String>,
) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "## Missing cells\n");
    if missing.is_empty() {
        s.push_str("Every requested cell is finished.\n");
        return s;
    }
    let _ = writeln!(
        s,
        "{} requested cells are not finished (requests recorded in `requests/`). Run the same \
         `bench-all` command again (or re-submit the Slurm array): finished cells are skipped.\n",
        missing.len()
    );
    for (d, why) in unavailable {
        if missing.iter().any(|k| &k.dataset == d) {
            let _ = writeln!(s, "- `{d}` was not present where it was asked for: {why}");
        }
    }
    s.push('\n');
    let mut by: BTreeMap<(Ordered, Ordered, String, u8), Vec<u64>> = BTreeMap::new();
    for k in missing {
        by.entry((
            dataset_order(&k.dataset),
            method_order(&k.method),
            k.config_hash[..8.min(k.config_hash.len())].to_string(),
            k.class,
        ))
        .or_default()
        .push(k.seed);
    }
    let _ = writeln!(
        s,
        "| dataset | method | config | class | seeds |\n|---|---|---|---|---|"
    );
    for ((d, m, h, c), seeds) in &by {
        let _ = writeln!(s, "| {} | {} | {h} | {c} | {} |", d.1, m.1, ranges(seeds));
    }
    s
}

pub(super) fn sweeps_section(points: &[SweepPoint]) -> String {
    let mut s = String::new();
    let variants: Vec<&SweepPoint> = points.iter().filter(|p| p.parameter != "auto").collect();
    if variants.is_empty() {
        return s;
    }
    // The reference of each variant: plain DASVDD of the same dataset and config.
    let auto: BTreeMap<(&str, &str), &SweepPoint> = points
        .iter()
        .filter(|p| p.parameter == "auto")
        .map(|p| ((p.dataset.as_str(), p.config.as_str()), p))
        .collect();
    let auto_of = |p: &SweepPoint| {
        auto.get(&(p.dataset.as_str(), p.config.as_str()))
            .map_or("-".into(), |a| format!("{:.2}", a.auroc))
    };
    let fixed: Vec<&&SweepPoint> = variants
        .iter()
        .filter(|p| p.parameter == "center")
        .collect();
    if !fixed.is_empty() {
        let _ = writeln!(
            s,
            "## Table 3: trainable versus fixed centre\n\nAUROC (%), mean over the classes and \
             seeds run. Fixed c: the mean code of the untrained network, never trained (as Deep \
             SVDD).\n\n| dataset | config | trainable c | fixed c | paper trainable | paper fixed |\n|---|---|---|---|---|---|"
        );
        for f in fixed {
            let paper = PAPER_TABLE3.iter().find(|p| p.0 == f.dataset);
            let _ = writeln!(
                s,
                "| {} | {} | {} | {:.2} ({} runs, classes {}) | {} | {} |",
                f.dataset,
                f.config,
                auto_of(f),
                f.auroc,
                f.runs,
                f.classes,
                opt_f(paper.map(|p| p.1), 1),
                opt_f(paper.map(|p| p.2), 1),
            );
        }
        s.push('\n');
    }
    let swept: Vec<&&SweepPoint> = variants
        .iter()
        .filter(|p| p.parameter != "center")
        .collect();
    if !swept.is_empty() {
        let _ = writeln!(
            s,
            "## Sweeps (Figs. 5-8)\n\nAUROC (%), mean over the classes and seeds run; `auto` is \
             DASVDD as configured, with the same settings (config) on the same classes.\n\n| dataset | config | parameter | value | classes | runs | AUROC | auto |\n|---|---|---|---|---|---|---|---|"
        );
        for p in swept {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {:.2} | {} |",
                p.dataset,
                p.config,
                p.parameter,
                opt(&p.value),
                p.classes,
                p.runs,
                p.auroc,
                auto_of(p),
            );
        }
        s.push('\n');
    }
    s
}

/// The column of a row in the side-by-side tables: its method, and its config where the
/// rows hold one method under several configs for one dataset (a quick and a full run in one
/// folder, say), so that no run hides another. Every dataset has configs of its own (the
/// config hash includes the dataset), so configs are compared within a dataset only.
fn column_of(rows: &[Row]) -> impl Fn(&Row) -> (usize, String) + '_ {
    move |r: &Row| {
        let (pos, name) = method_order(&r.method);
        let several = rows
            .iter()
            .any(|o| o.method == r.method && o.dataset == r.dataset && o.config != r.config);
        if several {
            (pos, format!("{name} [{}]", r.config))
        } else {
            (pos, name)
        }
    }
}

/// Table 2 in the paper's layout: one row per dataset and class, one column per method (and
/// config, where a method ran under several), each cell `ours ± std (paper)`.
pub(super) fn side_by_side_section(rows: &[Row]) -> String {
    let mut s = String::new();
    let column = column_of(rows);
    let mut methods: Vec<(usize, String)> = Vec::new();
    let mut lines: Vec<(String, String)> = Vec::new();
    let mut cell: BTreeMap<(String, String, String), &Row> = BTreeMap::new();
    for r in rows {
        let m = column(r);
        if !methods.contains(&m) {
            methods.push(m.clone());
        }
        let class = r.class.map_or_else(|| "avg".to_string(), |c| c.to_string());
        let line = (r.dataset.clone(), class.clone());
        if !lines.contains(&line) {
            lines.push(line);
        }
        cell.insert((r.dataset.clone(), class, m.1), r);
    }
    if lines.is_empty() {
        return s;
    }
    methods.sort();
    let _ = writeln!(
        s,
        "## Table 2 side by side\n\nAUROC (%): ours ± std over seeds (the paper's value).\n"
    );
    header_row(
        &mut s,
        &["dataset", "class"],
        methods.iter().map(|m| m.1.as_str()),
    );
    for (d, c) in &lines {
        let cells: Vec<String> = methods
            .iter()
            .map(|m| match cell.get(&(d.clone(), c.clone(), m.1.clone())) {
                Some(r) => {
                    let std = r.auroc_std.map_or(String::new(), |v| format!(" ± {v:.2}"));
                    let paper = r.paper.map_or(String::new(), |p| format!(" ({p:.1})"));
                    format!("{:.2}{std}{paper}", r.auroc)
                }
                None => "-".into(),
            })
            .collect();
        let _ = writeln!(s, "| {d} | {c} | {} |", cells.join(" | "));
    }
    s.push('\n');
    s
}

/// Averages per dataset, one column per method (and config, where a method ran under
/// several): ours / paper.
pub(super) fn averages_section(rows: &[Row]) -> String {
    let mut s = String::new();
    let column = column_of(rows);
    let mut methods: Vec<(usize, String)> = Vec::new();
    let mut datasets: Vec<String> = Vec::new();
    let mut cell: BTreeMap<(String, String), &Row> = BTreeMap::new();
    let n_classes = |d: &str| {
        d.parse::<BenchDataset>()
            .map(|b| b.classes().len())
            .unwrap_or(1)
    };
    for r in rows {
        let is_summary = r.class.is_none() || n_classes(&r.dataset) == 1;
        if !is_summary {
            continue;
        }
        let m = column(r);
        if !methods.contains(&m) {
            methods.push(m.clone());
        }
        if !datasets.contains(&r.dataset) {
            datasets.push(r.dataset.clone());
        }
        cell.insert((r.dataset.clone(), m.1), r);
    }
    if datasets.is_empty() {
        return s;
    }
    methods.sort();
    let _ = writeln!(
        s,
        "## Averages per dataset\n\nAUROC (%) averaged over the classes run, ours / paper (the \
         paper's mean over the same classes where not all ran).\n"
    );
    header_row(&mut s, &["dataset"], methods.iter().map(|m| m.1.as_str()));
    for d in &datasets {
        let cells: Vec<String> = methods
            .iter()
            .map(|m| match cell.get(&(d.clone(), m.1.clone())) {
                Some(r) => format!("{:.2} / {}", r.auroc, opt_f(r.paper, 1)),
                None => "-".into(),
            })
            .collect();
        let _ = writeln!(s, "| {d} | {} |", cells.join(" | "));
    }
    s.push('\n');
    s
}

/// A Markdown table's header and rule: the `fixed` columns (left-aligned), then one
/// right-aligned column per method.
fn header_row<'a>(s: &mut String, fixed: &[&str], methods: impl Iterator<Item = &'a str>) {
    let methods: Vec<&str> = methods.collect();
    let _ = writeln!(
        s,
        "| {} | {} |\n|{}{}",
        fixed.join(" | "),
        methods.join(" | "),
        "---|".repeat(fixed.len()),
        "---|".repeat(methods.len())
    );
}

/// The terms of DASVDD's score: for each dataset and method whose cells record them, the mean
/// AUROC of the score and of each term alone.
pub(super) fn terms_section(rows: &[TermRow]) -> String {
    let mut s = String::new();
    if rows.is_empty() {
        return s;
    }
    let names: BTreeSet<&str> = rows
        .iter()
        .flat_map(|r| r.terms.keys().map(String::as_str))
        .collect();
    let _ = writeln!(
        s,
        "## The terms of the score

AUROC (%) of the score and of each of its terms alone, \
         mean over the cells (DASVDD, eq. 7: the reconstruction error, and ||z - c||^2 \
         weighted by gamma; `dasvdd score --parts` splits one model's scores the same way). In \
         brackets: the cells where the term alone ranks better than the score.\n"
    );
    let mut fixed = vec!["dataset", "method", "config", "cells", "score"];
    fixed.extend(names.iter().copied());
    let _ = writeln!(
        s,
        "| {} |\n|{}",
        fixed.join(" | "),
        "---|".repeat(fixed.len())
    );
    for r in rows {
        let terms: Vec<String> = names
            .iter()
            .map(|n| match (r.terms.get(*n), r.above_score.get(*n)) {
                (Some(a), Some(k)) => format!("{a:.2} ({k})"),
                _ => "-".into(),
            })
            .collect();
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {:.2} | {} |",
            r.dataset,
            r.method,
            r.config,
            r.cells,
            r.auroc,
            terms.join(" | ")
        );
    }
    s.push('\n');
    s
}
