//! `cargo xtask report`: merges the results of every shard into `REPORT.md` (with `report.csv`
//! and `report.json` holding the same numbers), compares them with the paper's Table 2 and
//! Table 3, lists the cells still missing, and draws the figures.
//!
//! Everything but the header (command, commit, device, date) and the seconds columns is a
//! function of the finished cells alone, so one run and merged shards give the same report.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use dasvdd_eval::stats::SAMPLE;
use serde::{Deserialize, Serialize};

use crate::matrix::{BenchDataset, CellKey, Method, MethodSpec, PaperColumn};
use crate::provenance::{command_line, commit, unix_now};
use crate::store::{write_atomic, CellRecord, ResultsDir};
use crate::summary::{dataset_order, mean, ranges, sweep_points, SweepPoint};

/// Options of `cargo xtask report`.
#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// Results directory written by `bench-all` (every shard's)
    #[arg(long, default_value = "results")]
    pub results: PathBuf,
    /// The paper's Table 2 [default: configs/table2_auc.csv]
    #[arg(long)]
    pub paper: Option<PathBuf>,
    /// Skip the figures
    #[arg(long)]
    pub no_figures: bool,
}

impl Default for ReportArgs {
    /// What `cargo xtask report` does without arguments: `results/`, the bundled Table 2,
    /// figures drawn.
    fn default() -> Self {
        ReportArgs {
            results: PathBuf::from("results"),
            paper: None,
            no_figures: false,
        }
    }
}

/// Where the paper's table is looked for when `--paper` is not given.
pub fn default_paper_path() -> PathBuf {
    let local = PathBuf::from("configs/table2_auc.csv");
    if local.is_file() {
        return local;
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/table2_auc.csv")
}

/// The paper's Table 2: AUROC in % by (paper dataset, class or `avg` or empty, column).
#[derive(Debug, Clone, Default)]
pub struct PaperTable {
    values: BTreeMap<(String, String, String), f64>,
}

impl PaperTable {
    /// Reads the CSV (`#` lines are comments; the first other line is the header).
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("{} is invalid", path.display()))
    }

    pub fn parse(text: &str) -> Result<Self> {
        let mut lines = text
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'));
        let header: Vec<&str> = lines
            .next()
            .ok_or_else(|| anyhow!("no header line"))?
            .split(',')
            .collect();
        if header.len() < 3 || header[0] != "dataset" || header[1] != "class" {
            bail!("the header must start with dataset,class");
        }
        let mut values = BTreeMap::new();
        for (i, line) in lines.enumerate() {
            let cells: Vec<&str> = line.split(',').collect();
            if cells.len() != header.len() {
                bail!(
                    "line {} has {} fields, the header {}",
                    i + 2,
                    cells.len(),
                    header.len()
                );
            }
            for (col, cell) in header.iter().zip(&cells).skip(2) {
                if cell.trim().is_empty() {
                    continue;
                }
                let v: f64 = cell
                    .trim()
                    .parse()
                    .map_err(|_| anyhow!("line {}: `{cell}` is not a number", i + 2))?;
                values.insert(
                    (cells[0].to_string(), cells[1].to_string(), col.to_string()),
                    v,
                );
            }
        }
        Ok(PaperTable { values })
    }

    /// The paper's name of one of our datasets.
    fn dataset(ours: &str) -> Option<&'static str> {
        Some(match ours {
            "mnist" => "MNIST",
            "fmnist" => "FMNIST",
            "cifar10" => "CIFAR10",
            "speech" => "Speech",
            "pima" => "PIMA",
            "awid3" => "AWID 3",
            "mimii" => "MIMII",
            _ => return None,
        })
    }

    /// The paper's AUROC (%) of `method` on `dataset`, class `class` (`None`: the average).
    pub fn get(&self, dataset: &str, class: Option<u8>, method: Method) -> Option<f64> {
        let d = Self::dataset(dataset)?.to_string();
        let col = method.paper_column().to_string();
        let one_row = |c: &str| self.values.get(&(d.clone(), c.to_string(), col.clone()));
        match class {
            Some(c) => one_row(&c.to_string()).or_else(|| {
                // Datasets with one row in the paper (no per-class values).
                (c == 0 && dataset != "mimii")
                    .then(|| one_row(""))
                    .flatten()
            }),
            None => one_row("avg").or_else(|| one_row("")),
        }
        .copied()
    }
}

/// One row of the report's main table. Class `None` is the average over the classes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    pub dataset: String,
    pub class: Option<u8>,
    pub class_name: String,
    pub method: String,
    pub config: String,
    /// Seeds finished (for averages: cells).
    pub runs: usize,
    /// AUROC in %.
    pub auroc: f64,
    /// Sample standard deviation (ddof = 1) over seeds, in %; `None` with one seed and for
    /// averages.
    pub auroc_std: Option<f64>,
    pub paper: Option<f64>,
    pub diff: Option<f64>,
    /// Average precision and F1, in %.
    pub ap: f64,
    pub f1: f64,
    pub train: Option<usize>,
    pub test_normal: Option<usize>,
    pub test_anomalous: Option<usize>,
    /// Mean seconds per cell.
    pub fit_seconds: f64,
    pub score_seconds: f64,
}

/// Columns of the main table, in order; the last two are seconds.
pub const COLUMNS: [&str; 17] = [
    "dataset",
    "class",
    "name",
    "method",
    "config",
    "runs",
    "AUROC",
    "std",
    "paper",
    "diff",
    "AP",
    "F1",
    "train",
    "test normal",
    "test anomalous",
    "fit s",
    "score s",
];

fn opt<T: std::fmt::Display>(v: &Option<T>) -> String {
    v.as_ref()
        .map_or_else(|| "-".to_string(), |v| v.to_string())
}

fn opt_f(v: Option<f64>, decimals: usize) -> String {
    v.map_or_else(|| "-".to_string(), |v| format!("{v:.decimals$}"))
}

impl Row {
    /// The row's cells as written in the table and the CSV.
    pub fn cells(&self) -> Vec<String> {
        vec![
            self.dataset.clone(),
            self.class.map_or_else(|| "avg".into(), |c| c.to_string()),
            self.class_name.clone(),
            self.method.clone(),
            self.config.clone(),
            self.runs.to_string(),
            format!("{:.2}", self.auroc),
            opt_f(self.auroc_std, 2),
            opt_f(self.paper, 1),
            opt_f(self.diff, 2),
            format!("{:.2}", self.ap),
            format!("{:.2}", self.f1),
            opt(&self.train),
            opt(&self.test_normal),
            opt(&self.test_anomalous),
            format!("{:.2}", self.fit_seconds),
            format!("{:.2}", self.score_seconds),
        ]
    }

    /// Reads a row back from its cells.
    pub fn from_cells(cells: &[&str]) -> Result<Self> {
        if cells.len() != COLUMNS.len() {
            bail!(
                "a row has {} cells, the table {} columns",
                cells.len(),
                COLUMNS.len()
            );
        }
        let f = |i: usize| -> Result<f64> {
            cells[i]
                .parse()
                .map_err(|_| anyhow!("column {}: `{}` is not a number", COLUMNS[i], cells[i]))
        };
        let of = |i: usize| -> Result<Option<f64>> {
            if cells[i] == "-" {
                Ok(None)
            } else {
                f(i).map(Some)
            }
        };
        let ou = |i: usize| -> Result<Option<usize>> {
            if cells[i] == "-" {
                return Ok(None);
            }
            cells[i]
                .parse()
                .map(Some)
                .map_err(|_| anyhow!("column {}: `{}` is not a count", COLUMNS[i], cells[i]))
        };
        Ok(Row {
            dataset: cells[0].to_string(),
            class: if cells[1] == "avg" {
                None
            } else {
                Some(
                    cells[1]
                        .parse()
                        .map_err(|_| anyhow!("class `{}` is not a number or avg", cells[1]))?,
                )
            },
            class_name: cells[2].to_string(),
            method: cells[3].to_string(),
            config: cells[4].to_string(),
            runs: ou(5)?.ok_or_else(|| anyhow!("runs is missing"))?,
            auroc: f(6)?,
            auroc_std: of(7)?,
            paper: of(8)?,
            diff: of(9)?,
            ap: f(10)?,
            f1: f(11)?,
            train: ou(12)?,
            test_normal: ou(13)?,
            test_anomalous: ou(14)?,
            fit_seconds: f(15)?,
            score_seconds: f(16)?,
        })
    }
}

const TABLE_BEGIN: &str = "<!-- table2:begin -->";
const TABLE_END: &str = "<!-- table2:end -->";

fn md_escape(s: &str) -> String {
    s.replace('|', "/")
}

/// The main table as Markdown, between markers that [`parse_table`] finds.
pub fn write_table(rows: &[Row]) -> String {
    let mut s = String::new();
    s.push_str(TABLE_BEGIN);
    s.push('\n');
    let _ = writeln!(s, "| {} |", COLUMNS.join(" | "));
    let _ = writeln!(s, "|{}", "---|".repeat(COLUMNS.len()));
    for r in rows {
        let cells: Vec<String> = r.cells().iter().map(|c| md_escape(c)).collect();
        let _ = writeln!(s, "| {} |", cells.join(" | "));
    }
    s.push_str(TABLE_END);
    s.push('\n');
    s
}

/// Reads the main table back from a report written by [`write_table`].
pub fn parse_table(markdown: &str) -> Result<Vec<Row>> {
    let start = markdown
        .find(TABLE_BEGIN)
        .ok_or_else(|| anyhow!("the report has no table2 marker"))?;
    let end = markdown[start..]
        .find(TABLE_END)
        .ok_or_else(|| anyhow!("the report's table2 is not closed"))?
        + start;
    let mut lines = markdown[start + TABLE_BEGIN.len()..end]
        .lines()
        .filter(|l| !l.trim().is_empty());
    let header = lines
        .next()
        .ok_or_else(|| anyhow!("table2 has no header"))?;
    let header: Vec<&str> = split_md(header);
    if header != COLUMNS {
        bail!("table2's header is {header:?}");
    }
    lines.next(); // the |---| line
    lines.map(|l| Row::from_cells(&split_md(l))).collect()
}

fn split_md(line: &str) -> Vec<&str> {
    let t = line.trim().trim_start_matches('|').trim_end_matches('|');
    t.split('|').map(str::trim).collect()
}

/// Mean and sample std of `values` (std `None` below two values).
fn mean_std(values: &[f64]) -> (f64, Option<f64>) {
    match dasvdd_eval::mean_std(values, SAMPLE) {
        Ok(ms) => (ms.mean, Some(ms.std)),
        Err(_) => (dasvdd_eval::mean(values).unwrap_or(f64::NAN), None),
    }
}

fn method_order(m: &str) -> (usize, String) {
    let pos = m
        .parse::<MethodSpec>()
        .ok()
        .and_then(|s| Method::ALL.iter().position(|x| *x == s.method))
        .unwrap_or(Method::ALL.len());
    (pos, m.to_string())
}

/// A name with its position in the report (the paper's order first).
type Ordered = (usize, String);

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
                let p = method.and_then(|mm| paper.get(&d, None, mm.method));
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

fn missing_section(missing: &[CellKey], unavailable: &BTreeMap<String, String>) -> String {
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

/// The paper's Table 3 (AUROC %, trainable c / fixed c).
const PAPER_TABLE3: [(&str, f64, f64); 3] = [
    ("mnist", 97.7, 95.2),
    ("cifar10", 66.5, 64.7),
    ("fmnist", 92.6, 89.7),
];

fn sweeps_section(points: &[SweepPoint]) -> String {
    let mut s = String::new();
    let variants: Vec<&SweepPoint> = points.iter().filter(|p| p.parameter != "auto").collect();
    if variants.is_empty() {
        return s;
    }
    let auto: BTreeMap<&str, &SweepPoint> = points
        .iter()
        .filter(|p| p.parameter == "auto")
        .map(|p| (p.dataset.as_str(), p))
        .collect();
    let fixed: Vec<&&SweepPoint> = variants
        .iter()
        .filter(|p| p.parameter == "center")
        .collect();
    if !fixed.is_empty() {
        let _ = writeln!(
            s,
            "## Table 3: trainable versus fixed centre\n\nAUROC (%), mean over the classes and \
             seeds run. Fixed c: the mean code of the untrained network, never trained (as Deep \
             SVDD).\n\n| dataset | trainable c | fixed c | paper trainable | paper fixed |\n|---|---|---|---|---|"
        );
        for f in fixed {
            let paper = PAPER_TABLE3.iter().find(|p| p.0 == f.dataset);
            let _ = writeln!(
                s,
                "| {} | {} | {:.2} ({} runs, classes {}) | {} | {} |",
                f.dataset,
                auto.get(f.dataset.as_str())
                    .map_or("-".into(), |a| format!("{:.2}", a.auroc)),
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
             DASVDD as configured.\n\n| dataset | parameter | value | classes | runs | AUROC | auto |\n|---|---|---|---|---|---|---|"
        );
        for p in swept {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {:.2} | {} |",
                p.dataset,
                p.parameter,
                opt(&p.value),
                p.classes,
                p.runs,
                p.auroc,
                auto.get(p.dataset.as_str())
                    .map_or("-".into(), |a| format!("{:.2}", a.auroc)),
            );
        }
        s.push('\n');
    }
    s
}

/// Table 2 in the paper's layout: one row per dataset and class, one column per method, each
/// cell `ours ± std (paper)`.
fn side_by_side_section(rows: &[Row]) -> String {
    let mut s = String::new();
    let mut methods: Vec<(usize, String)> = Vec::new();
    let mut lines: Vec<(String, String)> = Vec::new();
    let mut cell: BTreeMap<(String, String, String), &Row> = BTreeMap::new();
    for r in rows {
        let m = method_order(&r.method);
        if !methods.contains(&m) {
            methods.push(m);
        }
        let class = r.class.map_or_else(|| "avg".to_string(), |c| c.to_string());
        let line = (r.dataset.clone(), class.clone());
        if !lines.contains(&line) {
            lines.push(line);
        }
        cell.entry((r.dataset.clone(), class, r.method.clone()))
            .or_insert(r);
    }
    if lines.is_empty() {
        return s;
    }
    methods.sort();
    let _ = writeln!(
        s,
        "## Table 2 side by side\n\nAUROC (%): ours ± std over seeds (the paper's value).\n"
    );
    let _ = writeln!(
        s,
        "| dataset | class | {} |\n|---|---|{}",
        methods
            .iter()
            .map(|m| m.1.as_str())
            .collect::<Vec<_>>()
            .join(" | "),
        "---|".repeat(methods.len())
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

/// Averages per dataset, one column per method (ours / paper).
fn averages_section(rows: &[Row]) -> String {
    let mut s = String::new();
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
        let m = method_order(&r.method);
        if !methods.contains(&m) {
            methods.push(m);
        }
        if !datasets.contains(&r.dataset) {
            datasets.push(r.dataset.clone());
        }
        cell.entry((r.dataset.clone(), r.method.clone()))
            .or_insert(r);
    }
    if datasets.is_empty() {
        return s;
    }
    methods.sort();
    let _ = writeln!(
        s,
        "## Averages per dataset\n\nAUROC (%) averaged over the classes run, ours / paper.\n"
    );
    let _ = writeln!(
        s,
        "| dataset | {} |\n|---|{}",
        methods
            .iter()
            .map(|m| m.1.as_str())
            .collect::<Vec<_>>()
            .join(" | "),
        "---|".repeat(methods.len())
    );
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

/// `YYYY-MM-DD HH:MM:SS UTC` of a Unix time.
pub fn utc(unix: u64) -> String {
    let days = (unix / 86_400) as i64;
    let secs = unix % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Everything the report shows, also written as `report.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReportData {
    pub rows: Vec<Row>,
    pub sweeps: Vec<SweepPoint>,
    pub missing: Vec<CellKey>,
    pub finished_cells: usize,
}

/// Builds the report's numbers from a results directory.
pub fn build(results: &ResultsDir, paper: &PaperTable) -> Result<ReportData> {
    let cells = results.read_cells()?;
    let rows = table_rows(&cells, paper);
    let sweeps = sweep_points(&cells);
    let (missing, _) = missing_cells(results, &cells)?;
    Ok(ReportData {
        rows,
        sweeps,
        missing,
        finished_cells: cells.len(),
    })
}

/// `cargo xtask report`.
pub fn run(args: &ReportArgs) -> Result<()> {
    let results = ResultsDir::new(&args.results);
    if !args.results.is_dir() {
        bail!(
            "{} does not exist: run `cargo xtask bench-all --results {}` first",
            args.results.display(),
            args.results.display()
        );
    }
    let paper = PaperTable::load(&args.paper.clone().unwrap_or_else(default_paper_path))?;
    let cells = results.read_cells()?;
    let data = build(&results, &paper)?;
    let (_, unavailable) = missing_cells(&results, &cells)?;
    let figures = if args.no_figures {
        Vec::new()
    } else {
        crate::figures::draw_all(&results, &cells).unwrap_or_else(|e| {
            eprintln!("warning: figures not drawn: {e:#}");
            Vec::new()
        })
    };
    let devices: BTreeSet<&str> = cells.values().map(|c| c.device.as_str()).collect();
    let versions: BTreeSet<&str> = cells.values().map(|c| c.crate_version.as_str()).collect();
    let requests = results.read_requests()?;
    let commands: BTreeSet<&str> = requests.iter().map(|r| r.command.as_str()).collect();
    let bench_commits: BTreeSet<&str> = requests
        .iter()
        .filter_map(|r| r.commit.as_deref())
        .collect();
    let quick: BTreeSet<String> = requests
        .iter()
        .filter_map(|r| r.shape.as_ref())
        .filter(|s| s.quick)
        .map(|s| {
            format!(
                "- Quick run: seeded subsets of at most {} training and {} test samples per split \
                 and few epochs (`quick_epochs` of the config); not the paper's protocol",
                opt(&s.max_train),
                opt(&s.max_test)
            )
        })
        .collect();
    let mut md = String::new();
    md.push_str("# DASVDD benchmark report\n\n");
    let _ = writeln!(md, "- Report command: `{}`", command_line());
    for c in &commands {
        let _ = writeln!(md, "- Benchmark command: `{c}`");
    }
    let _ = writeln!(
        md,
        "- Commit of the benchmark runs: {}",
        if bench_commits.is_empty() {
            "unknown".to_string()
        } else {
            bench_commits.into_iter().collect::<Vec<_>>().join(", ")
        }
    );
    let _ = writeln!(md, "- Commit of this report: {}", commit());
    for q in &quick {
        let _ = writeln!(md, "{q}");
    }
    let _ = writeln!(
        md,
        "- Device of the neural methods: {}; crate version {}",
        devices.into_iter().collect::<Vec<_>>().join(", "),
        versions.into_iter().collect::<Vec<_>>().join(", ")
    );
    let _ = writeln!(md, "- Date: {}", utc(unix_now()));
    let _ = writeln!(
        md,
        "- Cells: {} finished, {} missing\n",
        data.finished_cells,
        data.missing.len()
    );
    md.push_str(
        "## Table 2: AUROC (%)\n\nPer dataset, normal class and method: AUROC, AP and F1 in %, mean \
         over the seeds run (`runs`); `std` is the sample standard deviation over seeds (ddof = 1; \
         `-` with a single seed). `paper` is the paper's Table 2 (`configs/table2_auc.csv`), \
         `diff` = ours - paper. `avg` rows average the class rows. `config` is the start of the \
         config hash of the cells. Split counts are those of the evaluation (MIMII: clips). \
         `fit s` and `score s` are mean seconds per cell.\n\n",
    );
    md.push_str(&write_table(&data.rows));
    md.push('\n');
    md.push_str(&side_by_side_section(&data.rows));
    md.push_str(&averages_section(&data.rows));
    md.push_str(&sweeps_section(&data.sweeps));
    if !figures.is_empty() {
        md.push_str("## Figures\n\n");
        for (title, path) in &figures {
            let rel = path.strip_prefix(&results.root).unwrap_or(path);
            let _ = writeln!(md, "### {title}\n\n![{title}]({})\n", rel.display());
        }
    }
    md.push_str(&missing_section(&data.missing, &unavailable));

    // The table must read back as written: REPORT.md is also a machine-readable result.
    let back = parse_table(&md)?;
    if write_table(&back) != write_table(&data.rows) {
        bail!("the report's table does not read back as written");
    }
    write_atomic(&results.root.join("REPORT.md"), md.as_bytes())?;
    let mut csv = COLUMNS.join(",");
    csv.push('\n');
    for r in &data.rows {
        let cells: Vec<String> = r
            .cells()
            .into_iter()
            .map(|c| {
                if c.contains(',') || c.contains('"') {
                    format!("\"{}\"", c.replace('"', "\"\""))
                } else {
                    c
                }
            })
            .collect();
        csv.push_str(&cells.join(","));
        csv.push('\n');
    }
    write_atomic(&results.root.join("report.csv"), csv.as_bytes())?;
    write_atomic(
        &results.root.join("report.json"),
        &serde_json::to_vec_pretty(&data)?,
    )?;
    println!(
        "wrote {} ({} cells finished, {} missing, {} figures)",
        results.root.join("REPORT.md").display(),
        data.finished_cells,
        data.missing.len(),
        figures.len()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_paper_table_reads() {
        let p = PaperTable::load(&default_paper_path()).unwrap();
        assert_eq!(p.get("fmnist", Some(1), Method::Dasvdd), Some(99.0));
        assert_eq!(p.get("mnist", None, Method::Ocsvm), Some(91.3));
        assert_eq!(p.get("pima", Some(0), Method::Dasvdd), Some(72.2));
        assert_eq!(p.get("awid3", Some(0), Method::IsolationForest), Some(95.8));
        assert_eq!(p.get("mimii", None, Method::DeepSvdd), Some(64.2));
        assert_eq!(p.get("mimii", Some(0), Method::Dasvdd), None);
        assert_eq!(p.get("synthetic", Some(0), Method::Dasvdd), None);
    }

    #[test]
    fn table_parser_reads_back_what_the_writer_wrote() {
        let rows = vec![
            Row {
                dataset: "fmnist".into(),
                class: Some(3),
                class_name: "Dress".into(),
                method: "dasvdd".into(),
                config: "0123abcd".into(),
                runs: 2,
                auroc: 93.456,
                auroc_std: Some(0.1234),
                paper: Some(93.7),
                diff: Some(-0.24),
                ap: 70.0,
                f1: 60.5,
                train: Some(6000),
                test_normal: Some(1000),
                test_anomalous: Some(9000),
                fit_seconds: 12.345,
                score_seconds: 0.5,
            },
            Row {
                dataset: "fmnist".into(),
                class: None,
                class_name: "1 of 10 classes".into(),
                method: "dasvdd".into(),
                config: "0123abcd".into(),
                runs: 2,
                auroc: 93.456,
                auroc_std: None,
                paper: None,
                diff: None,
                ap: 70.0,
                f1: 60.5,
                train: None,
                test_normal: None,
                test_anomalous: None,
                fit_seconds: 12.345,
                score_seconds: 0.5,
            },
        ];
        let md = format!("# x\n\ntext\n\n{}\nmore\n", write_table(&rows));
        let back = parse_table(&md).unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!(write_table(&back), write_table(&rows));
        assert_eq!(back[0].class, Some(3));
        assert_eq!(back[0].auroc, 93.46);
        assert_eq!(back[1].auroc_std, None);
        assert!(parse_table("no table").is_err());
    }

    #[test]
    fn ranges_and_dates() {
        assert_eq!(ranges(&[0, 1, 2, 5, 7, 8]), "0-2,5,7-8");
        assert_eq!(ranges(&[3]), "3");
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(1_700_000_000), "2023-11-14 22:13:20 UTC");
    }
}
