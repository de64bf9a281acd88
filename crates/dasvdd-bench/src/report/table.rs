//! The report's main table: [`Row`], its columns, and the Markdown table that
//! [`write_table`] writes into `REPORT.md` and [`parse_table`] reads back.

use std::fmt::Write as _;

use anyhow::{anyhow, bail, Result};
use serde::{Deserialize, Serialize};

/// One row of the report's main table. Class `None` is the average over the classes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// The dataset's name.
    pub dataset: String,
    /// Index of the normal class; `None` for the average over the classes.
    pub class: Option<u8>,
    /// The class's name, or `k of n classes` for an average.
    pub class_name: String,
    /// The method's name (`dasvdd`, `ocsvm`, `dasvdd-paper`, ...).
    pub method: String,
    /// The first eight hex digits of the cells' config hash.
    pub config: String,
    /// Seeds finished (for averages: cells).
    pub runs: usize,
    /// AUROC in %.
    pub auroc: f64,
    /// Sample standard deviation (ddof = 1) over seeds, in %; `None` with one seed and for
    /// averages.
    pub auroc_std: Option<f64>,
    /// The paper's Table 2 AUROC in %, `None` where the paper has no number.
    pub paper: Option<f64>,
    /// `auroc` (rounded to two decimals) minus `paper`, in percentage points.
    pub diff: Option<f64>,
    /// Average precision and F1, in %.
    pub ap: f64,
    /// Mean F1, in %.
    pub f1: f64,
    /// Training samples, when every seed had the same number; `None` otherwise and for
    /// averages.
    pub train: Option<usize>,
    /// Normal test samples, as `train`.
    pub test_normal: Option<usize>,
    /// Anomalous test samples, as `train`.
    pub test_anomalous: Option<usize>,
    /// Mean seconds per cell.
    pub fit_seconds: f64,
    /// Mean seconds of scoring per cell.
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

pub(super) fn opt<T: std::fmt::Display>(v: &Option<T>) -> String {
    v.as_ref()
        .map_or_else(|| "-".to_string(), |v| v.to_string())
}

pub(super) fn opt_f(v: Option<f64>, decimals: usize) -> String {
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
