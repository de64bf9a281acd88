//! A user's tabular data in CSV: a header row or not (auto-detected), labels from a column
//! (by name or index) or from a separate file; and the atomic writer of score files.
//!
//! Every problem in a CSV file is reported with the file, the 1-based line number and what is
//! wrong: ragged rows, empty or non-numeric cells, NaN or infinite values, labels other than
//! 0 and 1.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};
use crate::fileio::write_atomic;
use crate::matrix::{LabeledData, Matrix};

/// Whether the first row of a CSV file names the columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Header {
    /// The first row is a header by [`is_header_row`]: names, or pandas' `0,1,..,n-1` above a
    /// row with decimal fractions.
    #[default]
    Auto,
    /// The first row is a header.
    Present,
    /// Every row is data.
    Absent,
}

/// A column of a CSV file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ColumnRef {
    /// By 0-based index.
    Index(usize),
    /// By header name (requires a header row).
    Name(String),
    /// The last column.
    Last,
}

/// Where the labels (0 = normal, 1 = anomaly) of a CSV file come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum LabelSource {
    /// No labels: every row is normal (data to train on, or to score).
    #[default]
    None,
    /// A column of the file itself; the other columns are the features.
    Column(ColumnRef),
    /// A separate file with one label per line (optionally under a header line).
    File(PathBuf),
}

/// How to read a CSV file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CsvOptions {
    /// Whether the first row is a header; default [`Header::Auto`].
    pub header: Header,
    /// Where the labels come from; default [`LabelSource::None`].
    pub label: LabelSource,
    /// Field delimiter, `b','` by default.
    pub delimiter: u8,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            header: Header::Auto,
            label: LabelSource::None,
            delimiter: b',',
        }
    }
}

fn parse_number(cell: &str) -> Option<f64> {
    cell.trim().parse::<f64>().ok()
}

/// Parses one cell as a finite number, or says what is wrong with it.
fn parse_cell(cell: &str) -> std::result::Result<f64, String> {
    let t = cell.trim();
    if t.is_empty() {
        return Err("empty cell".to_string());
    }
    match t.parse::<f64>() {
        // The features are kept as f32, so a value beyond its range is as infinite as `inf`.
        Ok(v) if v.is_finite() && (v as f32).is_finite() => Ok(v),
        Ok(v) if v.is_finite() => Err(format!("value `{t}` is outside the f32 range")),
        Ok(v) => Err(format!("non-finite value `{t}` ({v})")),
        Err(_) => Err(format!("non-numeric cell `{t}`")),
    }
}

/// Whether the first row of a delimited file is a header, the rule of [`Header::Auto`] and of
/// the `dasvdd` command line: the row has a cell that is not a number and its other cells are
/// integers (a header that names its columns, or only some of them, as pandas' `to_csv`
/// writes `0,1,2,label`; a first row such as `1.5,abc` stays data, so its bad cell is
/// reported), or it is the integers `0,1,..,n-1` that pandas writes for a frame without
/// column names while the next row has a number written as a decimal fraction or with an
/// exponent (so a file of integer data whose first row happens to be `0,1` stays all data).
/// The columns in `ignore` (a text label column given by number) are left out of the first
/// test, and in the second may hold a name that the next row does not repeat.
pub fn is_header_row(first: &[&str], second: Option<&[&str]>, ignore: &[usize]) -> bool {
    let is_integer = |c: &str| {
        let t = c.trim();
        !t.is_empty()
            && t.strip_prefix('-')
                .unwrap_or(t)
                .bytes()
                .all(|b| b.is_ascii_digit())
    };
    let considered = || {
        first
            .iter()
            .enumerate()
            .filter(|(j, _)| !ignore.contains(j))
            .map(|(_, c)| *c)
    };
    if considered().any(|c| parse_number(c).is_none()) {
        return considered().all(|c| parse_number(c).is_none() || is_integer(c));
    }
    // An ignored column may be named (`0,1,label`) when the next row does not repeat the name.
    let counts_up = first.iter().enumerate().all(|(i, c)| {
        c.trim() == i.to_string()
            || (ignore.contains(&i)
                && parse_number(c).is_none()
                && second.is_none_or(|r| r.get(i).map(|v| v.trim()) != Some(c.trim())))
    });
    let next_has_fraction = second.is_some_and(|r| {
        r.iter()
            .any(|c| c.trim().contains(['.', 'e', 'E']) && parse_number(c).is_some())
    });
    counts_up && next_has_fraction
}

/// Parses a 0/1 label.
fn parse_label(cell: &str) -> std::result::Result<u8, String> {
    match parse_cell(cell) {
        Ok(v) if v == 0.0 || v == 1.0 => Ok(v as u8),
        Ok(_) | Err(_) => Err(format!("label `{}` is not 0 or 1", cell.trim())),
    }
}

fn format_err(path: &Path, line: u64, problem: impl std::fmt::Display) -> DataError {
    DataError::format(path, format!("row {line}: {problem}"))
}

/// Counts lines up to byte offsets that only grow, so that the whole file is scanned once.
struct LineCounter<'a> {
    bytes: &'a [u8],
    offset: usize,
    line: u64,
}

impl LineCounter<'_> {
    /// The 1-based line of the first byte at or after `offset` that is not a line break (the
    /// `csv` crate reports a record as starting where the blank lines before it start).
    fn line_at(&mut self, offset: u64) -> u64 {
        let mut target = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(self.bytes.len());
        while target < self.bytes.len() && matches!(self.bytes[target], b'\n' | b'\r') {
            target += 1;
        }
        if target > self.offset {
            self.line += self.bytes[self.offset..target]
                .iter()
                .filter(|&&b| b == b'\n')
                .count() as u64;
            self.offset = target;
        }
        self.line
    }
}

/// The records of a CSV file with their 1-based line numbers; blank lines are skipped. (Line
/// numbers are counted here from byte offsets: the `csv` crate's own count skips blank lines.)
fn records(path: &Path, delimiter: u8) -> Result<Vec<(u64, csv::StringRecord)>> {
    let bytes = crate::fileio::read_bytes(path)?;
    let mut lines = LineCounter {
        bytes: &bytes,
        offset: 0,
        line: 1,
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(&bytes[..]);
    let mut out = Vec::new();
    for rec in reader.records() {
        let rec = rec.map_err(|e| {
            let line = e.position().map(|p| lines.line_at(p.byte())).unwrap_or(0);
            format_err(path, line, format!("malformed csv: {e}"))
        })?;
        let line = rec.position().map(|p| lines.line_at(p.byte())).unwrap_or(0);
        if rec.len() == 1 && rec[0].trim().is_empty() {
            continue;
        }
        out.push((line, rec));
    }
    Ok(out)
}

/// Reads a CSV file of numeric features as `opts` says. Labels default to all 0 (normal).
///
/// Errors name the file and, for cell problems, the 1-based line: a row with a different
/// number of cells than the first, an empty or non-numeric cell, NaN or an infinity, a label
/// other than 0/1, a label column that does not exist, a label file with a different number of
/// rows, or a file without data rows.
pub fn read_csv(path: &Path, opts: &CsvOptions) -> Result<LabeledData> {
    let recs = records(path, opts.delimiter)?;
    let Some((_, first)) = recs.first() else {
        return Err(DataError::format(path, "no data rows"));
    };
    let needs_header = matches!(opts.label, LabelSource::Column(ColumnRef::Name(_)));
    let has_header = match opts.header {
        Header::Present => true,
        Header::Absent => false,
        Header::Auto => {
            let first: Vec<&str> = first.iter().collect();
            let second: Option<Vec<&str>> = recs.get(1).map(|(_, r)| r.iter().collect());
            needs_header || is_header_row(&first, second.as_deref(), &[])
        }
    };
    let width = first.len();
    let label_col = match &opts.label {
        LabelSource::Column(ColumnRef::Index(i)) => {
            if *i >= width {
                return Err(DataError::format(
                    path,
                    format!("label column {i} does not exist: rows have {width} columns"),
                ));
            }
            Some(*i)
        }
        LabelSource::Column(ColumnRef::Last) => Some(width - 1),
        LabelSource::Column(ColumnRef::Name(name)) => {
            if !has_header {
                return Err(DataError::format(
                    path,
                    format!("label column `{name}` named but the file has no header row"),
                ));
            }
            Some(first.iter().position(|c| c.trim() == name).ok_or_else(|| {
                DataError::format(path, format!("no column named `{name}` in the header row"))
            })?)
        }
        _ => None,
    };
    let n_features = width - usize::from(label_col.is_some());
    if n_features == 0 {
        return Err(DataError::format(path, "no feature columns"));
    }
    let body = &recs[usize::from(has_header)..];
    if body.is_empty() {
        return Err(DataError::format(path, "no data rows"));
    }
    let mut x = Matrix::empty(n_features);
    let mut y = Vec::with_capacity(body.len());
    let mut row = Vec::with_capacity(n_features);
    for (line, rec) in body {
        if rec.len() != width {
            return Err(format_err(
                path,
                *line,
                format!("ragged row: {} cells, expected {width}", rec.len()),
            ));
        }
        row.clear();
        for (j, cell) in rec.iter().enumerate() {
            if Some(j) == label_col {
                y.push(parse_label(cell).map_err(|p| format_err(path, *line, p))?);
            } else {
                let v = parse_cell(cell)
                    .map_err(|p| format_err(path, *line, format!("column {}: {p}", j + 1)))?;
                row.push(v as f32);
            }
        }
        x.push_row(&row);
    }
    match &opts.label {
        LabelSource::File(label_path) => {
            y = read_label_file(label_path)?;
            if y.len() != x.rows {
                return Err(DataError::format(
                    label_path,
                    format!(
                        "{} labels but {} has {} data rows",
                        y.len(),
                        path.display(),
                        x.rows
                    ),
                ));
            }
        }
        LabelSource::None => y = vec![0; x.rows],
        LabelSource::Column(_) => {}
    }
    tracing::debug!(path = %path.display(), rows = x.rows, cols = x.cols, "read csv");
    Ok(LabeledData { x, y, groups: None })
}

/// Reads a label file: one 0/1 label per line (the first cell of each row), optionally under
/// a header line (auto-detected: a first line that is not a number).
pub fn read_label_file(path: &Path) -> Result<Vec<u8>> {
    let recs = records(path, b',')?;
    let skip = recs
        .first()
        .map(|(_, r)| usize::from(r.get(0).and_then(parse_number).is_none()))
        .unwrap_or(0);
    let mut labels = Vec::with_capacity(recs.len());
    for (line, rec) in &recs[skip..] {
        if rec.len() != 1 {
            return Err(format_err(
                path,
                *line,
                format!("{} cells, expected one label", rec.len()),
            ));
        }
        labels.push(parse_label(&rec[0]).map_err(|p| format_err(path, *line, p))?);
    }
    if labels.is_empty() {
        return Err(DataError::format(path, "no labels"));
    }
    Ok(labels)
}

/// Writes `scores` to `path` as CSV, a `score` header line then one score per row, atomically
/// (temporary file in the same folder, then rename). Scores are written with enough digits to
/// read back the same `f32`.
pub fn write_scores_csv(path: &Path, scores: &[f32]) -> Result<()> {
    let mut text = String::with_capacity(16 * (scores.len() + 1));
    text.push_str("score\n");
    for s in scores {
        // `{}` of an f32 prints the shortest string that parses back to the same value.
        text.push_str(&format!("{s}\n"));
    }
    write_atomic(path, text.as_bytes())
}
