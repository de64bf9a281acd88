//! CSV input: the field separator (given or detected), splitting lines, column references by
//! header name or number, the parsing of the rows into features and labels, and the hints and
//! warnings about wrong separators and id-like columns.

use anyhow::{anyhow, bail, Result};
use dasvdd_data::Matrix;

use super::SourceArgs;
use crate::labels::LabelRule;

/// A parsed CSV file: the features, the labels (with `--label-col`) and, when the file has a
/// header row, the names of the feature columns.
pub(super) struct CsvTable {
    pub x: Matrix,
    pub labels: Option<Vec<u8>>,
    pub names: Option<Vec<String>>,
}

impl SourceArgs {
    /// Parses CSV text into features and, with `--label-col`, labels.
    #[cfg(test)]
    pub(super) fn parse_csv(
        &self,
        origin: &str,
        text: &str,
        rule: &LabelRule,
    ) -> Result<(Matrix, Option<Vec<u8>>)> {
        let t = self.parse_csv_table(origin, text, rule)?;
        Ok((t.x, t.labels))
    }

    /// Parses CSV text into features, labels (with `--label-col`) and feature names.
    pub(super) fn parse_csv_table(
        &self,
        origin: &str,
        text: &str,
        rule: &LabelRule,
    ) -> Result<CsvTable> {
        let delimiter = match self.delimiter.as_deref() {
            Some(d) => parse_delimiter(d)?,
            None => Delimiter::Auto,
        };
        let first_line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        let delimiter = match delimiter {
            Delimiter::Auto => detect_delimiter(first_line),
            d => d,
        };
        // Only the first two rows are split up front (the header's detection needs them);
        // the others are split one at a time into the matrix, so that a large file costs its
        // text and its values, not a string per cell.
        let mut lines = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| -> Result<(u64, Vec<String>)> {
                let number = i as u64 + 1;
                Ok((number, split_line(l, delimiter, origin, number)?))
            });
        let Some(first) = lines.next().transpose()? else {
            bail!("{origin}: the file holds no samples");
        };
        let second = lines.next().transpose()?;
        let (first_number, first) = (first.0, first.1);
        let width = first.len();

        // Column references by number can be resolved before the header is known; by name
        // they need one.
        let by_name = self
            .drop_cols
            .iter()
            .chain(&self.label_col)
            .any(|c| c.trim().parse::<usize>().is_err());
        let skip_for_detection: Vec<usize> = self
            .drop_cols
            .iter()
            .chain(&self.label_col)
            .filter_map(|c| c.trim().parse::<usize>().ok())
            .filter_map(|n| n.checked_sub(1))
            .collect();
        let first_cells: Vec<&str> = first.iter().map(String::as_str).collect();
        let second_cells: Option<Vec<&str>> = second
            .as_ref()
            .map(|(_, r)| r.iter().map(String::as_str).collect());
        let has_header = by_name
            || dasvdd_data::tabular::is_header_row(
                &first_cells,
                second_cells.as_deref(),
                &skip_for_detection,
            );
        let names: Option<&Vec<String>> = has_header.then_some(&first);
        let resolve = |flag: &str, c: &str| -> Result<usize> {
            let c = c.trim();
            if let Some(names) = names {
                if let Some(j) = names.iter().position(|n| n.trim() == c) {
                    return Ok(j);
                }
            }
            match c.parse::<usize>() {
                Ok(n) if n >= 1 && n <= width => Ok(n - 1),
                Ok(n) => bail!("{flag} {n}: {origin} has {width} columns (numbered from 1)"),
                Err(_) => bail!(
                    "{flag} `{c}`: no such column in {origin}; {}",
                    match names {
                        Some(n) => format!("the header has {}", n.join(", ")),
                        None => "the file has no header row".into(),
                    }
                ),
            }
        };
        let mut dropped = Vec::new();
        for c in &self.drop_cols {
            dropped.push(resolve("--drop-cols", c)?);
        }
        let label_col = self
            .label_col
            .as_deref()
            .map(|c| resolve("--label-col", c))
            .transpose()?;
        let features: Vec<usize> = (0..width)
            .filter(|j| !dropped.contains(j) && Some(*j) != label_col)
            .collect();
        if features.is_empty() {
            bail!("{origin}: no feature columns are left");
        }
        let column_name = |j: usize| match names {
            Some(n) => format!("column {} (`{}`)", j + 1, n[j].trim()),
            None => format!("column {}", j + 1),
        };

        // Reserved for every row the text can hold, so that the values are not copied as the
        // matrix grows: at most one per line, and a row of `width` cells takes at least
        // `2 * width` bytes with its separators and line end (so a wide first row above many
        // blank lines cannot make this ask for more than the text's size in values).
        let lines_in_text = text.bytes().filter(|&b| b == b'\n').count() + 1;
        let rows_at_most = lines_in_text.min(text.len() / (2 * width).max(1) + 1);
        let mut x = Matrix::empty(features.len());
        x.data.reserve(rows_at_most.saturating_mul(features.len()));
        let mut label_cells = Vec::new();
        let mut row = Vec::with_capacity(features.len());
        let mut push = |line: u64, cells: &[String]| -> Result<()> {
            if cells.len() != width {
                let mut problem = format!(
                    "{origin}: row {line}: {} cells, expected {width} as in the first row",
                    cells.len()
                );
                if let Some(h) = cells.iter().find_map(|c| separator_hint(c, delimiter)) {
                    problem.push_str(&format!("; {h}"));
                }
                bail!(problem);
            }
            row.clear();
            for &j in &features {
                let cell = cells[j].trim();
                let v = match cell.parse::<f64>() {
                    Ok(v) if v.is_finite() && (v as f32).is_finite() => v,
                    Ok(v) if v.is_finite() => bail!(
                        "{origin}: row {line}, {}: the value `{cell}` is outside the f32 range \
                         (|x| < 3.4e38) that the models compute in",
                        column_name(j)
                    ),
                    Ok(v) => bail!(
                        "{origin}: row {line}, {}: the value `{cell}` is {v}",
                        column_name(j)
                    ),
                    Err(_) if cell.is_empty() => {
                        bail!("{origin}: row {line}, {}: empty cell", column_name(j))
                    }
                    Err(_) => {
                        let mut problem = format!(
                            "{origin}: row {line}, {}: non-numeric cell {}",
                            column_name(j),
                            shorten(cell)
                        );
                        if let Some(h) = separator_hint(cell, delimiter) {
                            problem.push_str(&format!("; {h}"));
                        } else if width > 1 || names.is_some() {
                            problem.push_str(
                                "; drop text columns with --drop-cols, or name the labels \
                                 with --label-col",
                            );
                        }
                        bail!(problem)
                    }
                };
                row.push(v as f32);
            }
            x.push_row(&row);
            if let Some(l) = label_col {
                label_cells.push((line, cells[l].clone()));
            }
            Ok(())
        };
        if !has_header {
            push(first_number, &first)?;
        }
        if let Some((line, cells)) = &second {
            push(*line, cells)?;
        }
        for r in lines {
            let (line, cells) = r?;
            push(line, &cells)?;
        }
        if x.rows == 0 {
            bail!("{origin}: the file holds no samples, only a header row");
        }
        x.data.shrink_to_fit();
        warn_suspect_columns(origin, &x, &features, names);
        let labels = match label_col {
            Some(_) => Some(rule.apply(origin, &label_cells, false)?),
            None => None,
        };
        let names = names.map(|n| features.iter().map(|&j| n[j].trim().to_string()).collect());
        Ok(CsvTable { x, labels, names })
    }
}

/// A CSV field separator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delimiter {
    Auto,
    Char(char),
    /// Any run of spaces and tabs.
    Blanks,
}

pub(super) fn parse_delimiter(s: &str) -> Result<Delimiter> {
    Ok(match s {
        "auto" => Delimiter::Auto,
        "tab" | "\\t" | "\t" => Delimiter::Char('\t'),
        "space" | "whitespace" | "blank" | " " => Delimiter::Blanks,
        s if s.chars().count() == 1 => Delimiter::Char(s.chars().next().unwrap_or(',')),
        _ => bail!("--delimiter `{s}`: give one character, `tab`, `space` or `auto`"),
    })
}

/// The separator of `line`: the most frequent of `,` `;` and tab, else runs of blanks when
/// the line has several words, else `,` (one column).
pub(super) fn detect_delimiter(line: &str) -> Delimiter {
    let best = [',', ';', '\t']
        .into_iter()
        .map(|c| (line.matches(c).count(), c))
        .filter(|(n, _)| *n > 0)
        .max_by_key(|(n, c)| (*n, std::cmp::Reverse(*c as u32)));
    match best {
        Some((_, c)) => Delimiter::Char(c),
        None if line.split_whitespace().count() > 1 => Delimiter::Blanks,
        None => Delimiter::Char(','),
    }
}

/// Splits one line; fields may be double-quoted (with `""` for a quote).
pub(super) fn split_line(
    line: &str,
    d: Delimiter,
    origin: &str,
    number: u64,
) -> Result<Vec<String>> {
    let line = line.strip_suffix('\r').unwrap_or(line);
    let sep = match d {
        Delimiter::Blanks => return Ok(line.split_whitespace().map(str::to_string).collect()),
        Delimiter::Char(c) => c,
        Delimiter::Auto => ',',
    };
    if !line.contains('"') {
        return Ok(line.split(sep).map(str::to_string).collect());
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .delimiter(sep as u8)
        .from_reader(line.as_bytes());
    let mut rec = csv::StringRecord::new();
    reader
        .read_record(&mut rec)
        .map_err(|e| anyhow!("{origin}: row {number}: malformed CSV: {e}"))?;
    Ok(rec.iter().map(str::to_string).collect())
}

/// A hint when `cell` holds another separator than the one in use.
fn separator_hint(cell: &str, used: Delimiter) -> Option<String> {
    let candidates = [(';', "';'"), (',', "','"), ('\t', "tab"), ('|', "'|'")];
    for (c, name) in candidates {
        if used != Delimiter::Char(c) && cell.matches(c).count() >= 1 {
            let parts: Vec<&str> = cell.split(c).collect();
            if parts.len() > 1 && parts.iter().any(|p| p.trim().parse::<f64>().is_ok()) {
                return Some(format!(
                    "the cell holds `{}`: is the file separated by it? pass --delimiter {name}",
                    c.escape_default()
                ));
            }
        }
    }
    if used != Delimiter::Blanks {
        let words: Vec<&str> = cell.split_whitespace().collect();
        if words.len() > 1 && words.iter().all(|w| w.parse::<f64>().is_ok()) {
            return Some(
                "the cell holds numbers separated by blanks: pass --delimiter space".into(),
            );
        }
    }
    None
}

/// A cell quoted for messages: at most 40 of its characters.
fn shorten(cell: &str) -> String {
    let n = cell.chars().count();
    if n <= 40 {
        format!("`{cell}`")
    } else {
        let head: String = cell.chars().take(40).collect();
        format!("`{head}...` ({n} characters)")
    }
}

/// Header names that are rarely features.
const SUSPECT_NAMES: [&str; 16] = [
    "id",
    "index",
    "idx",
    "row",
    "row_id",
    "sample_id",
    "label",
    "labels",
    "class",
    "target",
    "y",
    "anomaly",
    "is_anomaly",
    "outlier",
    "ground_truth",
    "timestamp",
];

/// Warns about feature columns that look like ids or labels: a suspect header name, or values
/// counting 0, 1, 2, ... or 1, 2, 3, ... row by row.
fn warn_suspect_columns(origin: &str, x: &Matrix, features: &[usize], names: Option<&Vec<String>>) {
    for (k, &j) in features.iter().enumerate() {
        let name = names.map(|n| n[j].trim().to_string());
        let named = name
            .as_deref()
            .is_some_and(|n| SUSPECT_NAMES.contains(&n.to_ascii_lowercase().as_str()));
        let counting = x.rows >= 3 && {
            let start = x.data[k];
            (start == 0.0 || start == 1.0)
                && (0..x.rows).all(|i| x.data[i * x.cols + k] == start + i as f32)
        };
        if named || counting {
            let label = match &name {
                Some(n) => format!("column {} (`{n}`)", j + 1),
                None => format!("column {}", j + 1),
            };
            let why = if counting {
                "counts the rows, like an id"
            } else {
                "is named like an id or a label"
            };
            eprintln!(
                "warning: {origin}: {label} {why} but is used as a feature; pass \
                 --drop-cols {} (or --label-col {} for labels)",
                j + 1,
                j + 1
            );
        }
    }
}
