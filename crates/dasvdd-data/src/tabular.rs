//! A user's tabular data in CSV, the one reader behind the `dasvdd` command line (its `--data`
//! files and `eval`'s score and label files) and the paper's CSV datasets: the field separator
//! given or detected, a header row or not (auto-detected), columns dropped or taken as labels
//! by name or number, labels from a column or from a separate file; and the atomic writer of
//! score files.
//!
//! Quoting follows RFC 4180 (the `csv` crate: quoted fields, `""` for a quote, line breaks
//! inside quotes). Every problem is reported with the file, the 1-based line number (blank
//! lines counted) and what is wrong: ragged rows, empty or non-numeric cells, NaN or infinite
//! values, values beyond the f32 range, labels other than 0 and 1; a cell that holds another
//! separator than the one in use gets a hint naming it.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};
use crate::fileio::write_atomic;
use crate::matrix::{LabeledData, Matrix};

/// Whether the first row of a CSV file names the columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Header {
    /// The first row is a header by [`is_header_row`]: names, or pandas' `0,1,..,n-1` above a
    /// row with decimal fractions. A column referred to by name makes it a header.
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
    /// As a user gives it on a command line: the header's column of that name when there is
    /// one, else a column number counted from 1. Text that is not a number needs a header.
    Given(String),
}

impl ColumnRef {
    /// The 0-based index this reference names without looking at a header, if any.
    fn index_hint(&self, width: usize) -> Option<usize> {
        match self {
            ColumnRef::Index(i) => Some(*i),
            ColumnRef::Last => width.checked_sub(1),
            ColumnRef::Given(s) => s.trim().parse::<usize>().ok()?.checked_sub(1),
            ColumnRef::Name(_) => None,
        }
    }

    /// Whether the reference needs a header row.
    fn needs_header(&self) -> bool {
        match self {
            ColumnRef::Name(_) => true,
            ColumnRef::Given(s) => s.trim().parse::<usize>().is_err(),
            ColumnRef::Index(_) | ColumnRef::Last => false,
        }
    }
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

/// The field separator of a CSV file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Delimiter {
    /// Detected from the first row by [`detect_delimiter`].
    #[default]
    Auto,
    /// One ASCII character (`,` `;` tab `|` ...).
    Char(u8),
    /// Any run of spaces and tabs (whitespace-separated text, as NumPy's `savetxt` writes it).
    Blanks,
}

impl FromStr for Delimiter {
    type Err = String;

    /// `auto`, `tab` (or `\t`), `space` (any run of blanks; also `whitespace`, `blank`, ` `),
    /// or one ASCII character.
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        Ok(match s {
            "auto" => Delimiter::Auto,
            "tab" | "\\t" | "\t" => Delimiter::Char(b'\t'),
            "space" | "whitespace" | "blank" | " " => Delimiter::Blanks,
            s if s.len() == 1 && s.is_ascii() && s != "\"" && s != "\n" && s != "\r" => {
                Delimiter::Char(s.as_bytes()[0])
            }
            _ => {
                return Err(format!(
                    "delimiter `{s}`: give one ASCII character other than a quote or a line \
                     break, `tab`, `space` or `auto`"
                ))
            }
        })
    }
}

impl Delimiter {
    /// This delimiter, or for [`Delimiter::Auto`] the one [`detect_delimiter`] finds in the
    /// first line of `text` that is not blank.
    pub fn resolved(self, text: &str) -> Delimiter {
        self.resolved_with(text, false)
    }

    /// [`Delimiter::resolved`], where with `decimal_comma` the detection leaves `,` out (it is
    /// then part of the numbers).
    pub fn resolved_with(self, text: &str, decimal_comma: bool) -> Delimiter {
        match self {
            Delimiter::Auto => {
                let line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
                if decimal_comma {
                    detect_delimiter(&line.replace(',', ""))
                } else {
                    detect_delimiter(line)
                }
            }
            d => d,
        }
    }
}

/// The separator of a first row: the most frequent of `,` `;` and tab, else runs of blanks
/// when the row has several words, else `,` (one column).
pub fn detect_delimiter(line: &str) -> Delimiter {
    let best = [b',', b';', b'\t']
        .into_iter()
        .map(|c| (line.bytes().filter(|&b| b == c).count(), c))
        .filter(|(n, _)| *n > 0)
        .max_by_key(|(n, c)| (*n, std::cmp::Reverse(*c)));
    match best {
        Some((_, c)) => Delimiter::Char(c),
        None if line.split_whitespace().count() > 1 => Delimiter::Blanks,
        None => Delimiter::Char(b','),
    }
}

/// What the caller calls the options that fix a file, for messages and their hints: the command
/// line sets its flags (`--delimiter`); the defaults name the fields of [`CsvOptions`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptionNames {
    /// The option that sets the delimiter.
    pub delimiter: &'static str,
    /// The option that drops columns.
    pub drop: &'static str,
    /// The option that takes a column as the labels.
    pub label: &'static str,
    /// The option that says whether the first row is a header, with the value that says it
    /// is.
    pub header_present: &'static str,
    /// The option that reads `,` as the decimal mark.
    pub decimal_comma: &'static str,
}

impl Default for OptionNames {
    fn default() -> Self {
        OptionNames {
            header_present: "`CsvOptions::header = Header::Present`",
            decimal_comma: "`CsvOptions::decimal_comma`",
            delimiter: "`CsvOptions::delimiter`",
            drop: "`CsvOptions::drop`",
            label: "`CsvOptions::label`",
        }
    }
}

/// How to read a CSV file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvOptions {
    /// Whether the first row is a header; default [`Header::Auto`].
    pub header: Header,
    /// Where the labels come from; default [`LabelSource::None`].
    pub label: LabelSource,
    /// The field separator; default [`Delimiter::Auto`].
    pub delimiter: Delimiter,
    /// Columns that are not features (ids, timestamps, ...); default none.
    pub drop: Vec<ColumnRef>,
    /// `,` is the decimal mark (`1,5` is one and a half, as spreadsheets write numbers in many
    /// locales); the separator is then detected among `;` and tab, and `,` cannot be it.
    /// Default false.
    pub decimal_comma: bool,
    /// The names of these options in the hints of messages.
    pub option_names: OptionNames,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            header: Header::Auto,
            label: LabelSource::None,
            delimiter: Delimiter::Auto,
            drop: Vec::new(),
            decimal_comma: false,
            option_names: OptionNames::default(),
        }
    }
}

/// A CSV file parsed by [`parse_csv`].
#[derive(Debug, Clone, PartialEq)]
pub struct CsvTable {
    /// The feature columns, row after row.
    pub x: Matrix,
    /// With [`LabelSource::Column`]: each row's label cell as written, with its 1-based line,
    /// for the caller's convention (0/1 in [`read_csv`]; `-1/1` or words on the command line).
    pub label_cells: Option<Vec<(u64, String)>>,
    /// The feature columns' names, when the file has a header row.
    pub names: Option<Vec<String>>,
    /// Columns that look like ids or labels but are used as features, one sentence each.
    pub warnings: Vec<String>,
}

fn parse_number(cell: &str) -> Option<f64> {
    cell.trim().parse::<f64>().ok()
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
    let counts_up = counts_up(first, second, ignore);
    let next_has_fraction = second.is_some_and(|r| {
        r.iter()
            .any(|c| c.trim().contains(['.', 'e', 'E']) && parse_number(c).is_some())
    });
    counts_up && next_has_fraction
}

/// Whether `first` is the integers `0,1,..,n-1`, the header pandas writes for a frame without
/// column names. An ignored column may be named (`0,1,label`) when the next row does not repeat
/// the name.
fn counts_up(first: &[&str], second: Option<&[&str]>, ignore: &[usize]) -> bool {
    first.iter().enumerate().all(|(i, c)| {
        c.trim() == i.to_string()
            || (ignore.contains(&i)
                && parse_number(c).is_none()
                && second.is_none_or(|r| r.get(i).map(|v| v.trim()) != Some(c.trim())))
    })
}

/// Parses a 0/1 label.
fn parse_label(cell: &str) -> std::result::Result<u8, String> {
    match parse_number(cell) {
        Some(v) if v == 0.0 || v == 1.0 => Ok(v as u8),
        _ => Err(format!("label {} is not 0 or 1", shorten(cell.trim()))),
    }
}

fn format_err(path: &Path, line: u64, problem: impl std::fmt::Display) -> DataError {
    DataError::format(path, format!("row {line}: {problem}"))
}

/// Counts lines up to byte offsets that only grow, so that the whole text is scanned once.
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

/// The rows of CSV text one at a time, blank rows skipped, each with its 1-based line (blank
/// lines counted): [`CsvRows::next_row`] into a record that is reused, or as an iterator of
/// owned cells.
pub struct CsvRows<'a> {
    path: &'a Path,
    inner: RowsInner<'a>,
}

enum RowsInner<'a> {
    /// Quoted CSV with a one-byte separator, through the `csv` crate.
    Csv {
        reader: csv::Reader<&'a [u8]>,
        lines: LineCounter<'a>,
    },
    /// Fields separated by runs of blanks, line by line.
    Blanks(std::iter::Enumerate<std::str::Lines<'a>>),
}

impl<'a> CsvRows<'a> {
    /// The rows of `text`, read from `path` (named in errors), split by `delimiter`
    /// ([`Delimiter::Auto`]: detected from the first row that is not blank).
    pub fn new(path: &'a Path, text: &'a str, delimiter: Delimiter) -> Self {
        // The byte order mark that Excel and `encoding="utf-8-sig"` write is not part of the
        // first cell.
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let delimiter = delimiter.resolved(text);
        let separator = match delimiter {
            Delimiter::Blanks => {
                return CsvRows {
                    path,
                    inner: RowsInner::Blanks(text.lines().enumerate()),
                }
            }
            Delimiter::Char(c) => c,
            // `detect_delimiter` never answers `Auto`; were it to, `,` is the format's own.
            Delimiter::Auto => b',',
        };
        CsvRows {
            path,
            inner: RowsInner::Csv {
                reader: csv::ReaderBuilder::new()
                    .has_headers(false)
                    .flexible(true)
                    .delimiter(separator)
                    .from_reader(text.as_bytes()),
                lines: LineCounter {
                    bytes: text.as_bytes(),
                    offset: 0,
                    line: 1,
                },
            },
        }
    }

    /// Reads the next row that is not blank into `rec`; its line, or `None` at the end.
    pub fn next_row(&mut self, rec: &mut csv::StringRecord) -> Result<Option<u64>> {
        let path = self.path;
        match &mut self.inner {
            RowsInner::Csv { reader, lines } => loop {
                let more = reader.read_record(rec).map_err(|e| {
                    let line = e.position().map(|p| lines.line_at(p.byte())).unwrap_or(0);
                    format_err(path, line, format!("malformed CSV: {e}"))
                })?;
                if !more {
                    return Ok(None);
                }
                if rec.len() == 1 && rec[0].trim().is_empty() {
                    continue;
                }
                return Ok(Some(
                    rec.position().map(|p| lines.line_at(p.byte())).unwrap_or(0),
                ));
            },
            RowsInner::Blanks(it) => {
                for (i, line) in it.by_ref() {
                    if line.trim().is_empty() {
                        continue;
                    }
                    rec.clear();
                    for w in line.split_whitespace() {
                        rec.push_field(w);
                    }
                    return Ok(Some(i as u64 + 1));
                }
                Ok(None)
            }
        }
    }
}

impl Iterator for CsvRows<'_> {
    /// A row's 1-based line and its cells, untrimmed.
    type Item = Result<(u64, Vec<String>)>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut rec = csv::StringRecord::new();
        match self.next_row(&mut rec) {
            Ok(Some(line)) => Some(Ok((line, rec.iter().map(str::to_string).collect()))),
            Ok(None) => None,
            Err(e) => Some(Err(e)),
        }
    }
}

/// Parses CSV text into features, label cells and feature names as `opts` says; `path` names
/// where the text came from in errors (a file, or `<stdin>`). A [`LabelSource::File`] is left
/// to the caller ([`read_csv`] reads it).
///
/// Errors name `path` and, for a row's problem, its 1-based line and column (with its header
/// name): a file without data rows, a column reference that does not exist, no feature
/// column left, a row with another number of cells than the first, an empty, non-numeric,
/// NaN, infinite or beyond-f32 cell. The matrix is filled row by row, so a large file costs
/// its text and its values.
pub fn parse_csv(path: &Path, text: &str, opts: &CsvOptions) -> Result<CsvTable> {
    let decimal_comma = opts.decimal_comma;
    let delimiter = opts.delimiter.resolved_with(text, decimal_comma);
    let names_of = &opts.option_names;
    if decimal_comma && delimiter == Delimiter::Char(b',') {
        return Err(DataError::format(
            path,
            format!(
                "with {} the separator cannot be `,`: give another one ({} ';')",
                names_of.decimal_comma, names_of.delimiter
            ),
        ));
    }
    let mut rows = CsvRows::new(path, text, delimiter);
    let mut first = csv::StringRecord::new();
    let Some(first_line) = rows.next_row(&mut first)? else {
        return Err(DataError::format(path, "no data rows: the file is empty"));
    };
    let mut second = csv::StringRecord::new();
    let second_line = rows.next_row(&mut second)?;
    let width = first.len();

    let label_ref = match &opts.label {
        LabelSource::Column(c) => Some(c),
        LabelSource::None | LabelSource::File(_) => None,
    };
    let refs = || opts.drop.iter().chain(label_ref);
    // With `Auto`, a first row of integers counting up from 0 that is read as data (the next
    // row has no decimal fraction) may be pandas' header above integer values: said in a
    // warning, since only the caller can tell.
    let mut looks_like_header = false;
    let has_header = match opts.header {
        Header::Present => true,
        Header::Absent => false,
        Header::Auto => {
            let ignore: Vec<usize> = refs().filter_map(|c| c.index_hint(width)).collect();
            // With a decimal comma, `1,5` is a number like `1.5` for the header's test.
            let point = |c: &str| {
                if decimal_comma {
                    c.replace(',', ".")
                } else {
                    c.to_string()
                }
            };
            let first_owned: Vec<String> = first.iter().map(point).collect();
            let second_owned: Option<Vec<String>> =
                second_line.map(|_| second.iter().map(point).collect());
            let first_cells: Vec<&str> = first_owned.iter().map(String::as_str).collect();
            let second_cells: Option<Vec<&str>> = second_owned
                .as_ref()
                .map(|r| r.iter().map(String::as_str).collect());
            let header = refs().any(ColumnRef::needs_header)
                || is_header_row(&first_cells, second_cells.as_deref(), &ignore);
            looks_like_header = !header
                && width > 1
                && second_line.is_some()
                && counts_up(&first_cells, second_cells.as_deref(), &ignore);
            header
        }
    };
    // A header taken because a column was named, whose cells are all numbers, is a data row.
    let numeric_header = has_header && first.iter().all(|c| parse_number(c).is_some());
    let names: Option<Vec<String>> =
        has_header.then(|| first.iter().map(|c| c.trim().to_string()).collect());
    let resolve = |what: &str, c: &ColumnRef| -> Result<usize> {
        let by_name = |name: &str| names.as_ref()?.iter().position(|n| n == name.trim());
        let no_column = |shown: String| {
            let known = match &names {
                Some(n) if numeric_header => format!(
                    "the first row holds only numbers ({}), so the file seems to have no \
                     header row: give columns by number (1 = the first)",
                    shorten(&n.join(", "))
                ),
                Some(n) => format!("the header has {}", shorten(&n.join(", "))),
                None => "the file has no header row".into(),
            };
            DataError::format(path, format!("{what} {shown}: no such column; {known}"))
        };
        match c {
            ColumnRef::Index(i) if *i < width => Ok(*i),
            ColumnRef::Index(i) => Err(DataError::format(
                path,
                format!("{what} {i} (counted from 0) does not exist: rows have {width} columns"),
            )),
            ColumnRef::Last => width
                .checked_sub(1)
                .ok_or_else(|| DataError::format(path, "the first row has no cells")),
            ColumnRef::Name(n) => by_name(n).ok_or_else(|| no_column(format!("`{}`", n.trim()))),
            ColumnRef::Given(s) => {
                if let Some(j) = by_name(s) {
                    return Ok(j);
                }
                match s.trim().parse::<usize>() {
                    Ok(n) if (1..=width).contains(&n) => Ok(n - 1),
                    Ok(n) => Err(DataError::format(
                        path,
                        format!("{what} {n}: the file has {width} columns (numbered from 1)"),
                    )),
                    Err(_) => Err(no_column(format!("`{}`", s.trim()))),
                }
            }
        }
    };
    let mut dropped = Vec::with_capacity(opts.drop.len());
    for c in &opts.drop {
        dropped.push(resolve(names_of.drop, c)?);
    }
    let label_col = label_ref.map(|c| resolve(names_of.label, c)).transpose()?;
    let features: Vec<usize> = (0..width)
        .filter(|j| !dropped.contains(j) && Some(*j) != label_col)
        .collect();
    if features.is_empty() {
        return Err(DataError::format(path, "no feature columns are left"));
    }
    let column_name = |j: usize| match &names {
        Some(n) => format!("column {} (`{}`)", j + 1, shorten_plain(&n[j])),
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
    let mut label_cells = label_col.map(|_| Vec::new());
    let mut row = Vec::with_capacity(features.len());
    let mut push = |line: u64, cells: &csv::StringRecord| -> Result<()> {
        // Only quotes put a line break in a cell, and numbers never hold one: a quote that is
        // never closed swallows the lines after it. (A text column may hold one.)
        if let Some((j, c)) = features
            .iter()
            .find_map(|&j| cells.get(j).filter(|c| c.contains('\n')).map(|c| (j, c)))
        {
            return Err(DataError::format(
                path,
                format!(
                    "row {line}, {}: a quoted cell starts here and runs over {} lines: is its \
                     closing `\"` missing?",
                    column_name(j),
                    c.trim_end_matches(['\n', '\r']).matches('\n').count() + 1
                ),
            ));
        }
        if cells.len() != width {
            let n = cells.len();
            let mut problem = format!(
                "{n} {}, expected {width} as in the first row",
                if n == 1 { "cell" } else { "cells" }
            );
            if let Some(h) = cells
                .iter()
                .find_map(|c| separator_hint(c, delimiter, names_of))
            {
                problem.push_str(&format!("; {h}"));
            }
            return Err(format_err(path, line, problem));
        }
        row.clear();
        for &j in &features {
            let v = parse_cell(&cells[j], decimal_comma).map_err(|problem| {
                let mut problem = problem;
                if cells[j].trim().parse::<f64>().is_err() && !cells[j].trim().is_empty() {
                    if let Some(h) = separator_hint(&cells[j], delimiter, names_of) {
                        problem.push_str(&format!("; {h}"));
                    } else if width > 1 || has_header {
                        problem.push_str(&format!(
                            "; drop text columns ({}), or take them as the labels ({})",
                            names_of.drop, names_of.label
                        ));
                    }
                }
                DataError::format(path, format!("row {line}, {}: {problem}", column_name(j)))
            })?;
            row.push(v as f32);
        }
        x.push_row(&row);
        if let (Some(l), Some(out)) = (label_col, label_cells.as_mut()) {
            out.push((line, cells[l].trim().to_string()));
        }
        Ok(())
    };
    if !has_header {
        push(first_line, &first)?;
    }
    if let Some(line) = second_line {
        push(line, &second)?;
        let mut rec = csv::StringRecord::new();
        while let Some(line) = rows.next_row(&mut rec)? {
            push(line, &rec)?;
        }
    }
    if x.rows == 0 {
        return Err(DataError::format(path, "no data rows, only a header row"));
    }
    x.data.shrink_to_fit();
    let mut warnings = suspect_columns(&x, &features, names.as_deref(), names_of);
    if looks_like_header {
        warnings.push(format!(
            "the first row ({}) counts the columns from 0 and was read as data; if it is a \
             header (pandas writes one for unnamed columns), pass {}",
            shorten(&first.iter().collect::<Vec<_>>().join(",")),
            names_of.header_present
        ));
    }
    let names = names.map(|n| features.iter().map(|&j| n[j].clone()).collect());
    tracing::debug!(path = %path.display(), rows = x.rows, cols = x.cols, "parsed csv");
    Ok(CsvTable {
        x,
        label_cells,
        names,
        warnings,
    })
}

/// Parses one cell as a finite number within the f32 range, or says what is wrong with it;
/// with `decimal_comma`, `,` is the decimal mark (and a cell with both `,` and `.`, a
/// thousands separator, is an error rather than a guess).
fn parse_cell(cell: &str, decimal_comma: bool) -> std::result::Result<f64, String> {
    let t = cell.trim();
    if t.is_empty() {
        return Err("empty cell".to_string());
    }
    let pointed;
    let number = if decimal_comma && t.contains(',') {
        if t.contains('.') {
            return Err(format!(
                "{} has both `.` and `,`: with the decimal comma, write numbers without a \
                 thousands separator",
                shorten(t)
            ));
        }
        pointed = t.replace(',', ".");
        pointed.as_str()
    } else {
        t
    };
    match number.parse::<f64>() {
        // The features are kept as f32, so a value beyond its range is as infinite as `inf`.
        Ok(v) if v.is_finite() && (v as f32).is_finite() => Ok(v),
        Ok(v) if v.is_finite() => Err(format!(
            "the value `{t}` is outside the f32 range (|x| < 3.4e38) that the models compute in"
        )),
        Ok(v) => Err(format!("non-finite value `{t}` ({v})")),
        Err(_) => Err(format!("non-numeric cell {}", shorten(t))),
    }
}

/// A hint when `cell` holds another separator than the one in use.
fn separator_hint(cell: &str, used: Delimiter, names: &OptionNames) -> Option<String> {
    // `1,5` is a decimal comma (a spreadsheet's export in many locales) or two columns of a
    // comma-separated file: the hint gives both readings.
    let t = cell.trim();
    if used != Delimiter::Char(b',')
        && t.matches(',').count() == 1
        && t.split(',').all(|p| {
            let p = p.strip_prefix('-').unwrap_or(p);
            !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())
        })
    {
        return Some(format!(
            "if `,` is the decimal mark, pass {} (or write the numbers with a point, {}); if \
             it separates the columns, pass {} ','",
            names.decimal_comma,
            t.replacen(',', ".", 1),
            names.delimiter
        ));
    }
    let candidates = [(b';', "';'"), (b',', "','"), (b'\t', "tab"), (b'|', "'|'")];
    for (c, name) in candidates {
        if used != Delimiter::Char(c) && cell.as_bytes().contains(&c) {
            let parts: Vec<&str> = cell.split(c as char).collect();
            if parts.len() > 1 && parts.iter().any(|p| p.trim().parse::<f64>().is_ok()) {
                return Some(format!(
                    "the cell holds `{}`: is the file separated by it? pass {} {name}",
                    (c as char).escape_default(),
                    names.delimiter
                ));
            }
        }
    }
    if used != Delimiter::Blanks {
        let words: Vec<&str> = cell.split_whitespace().collect();
        if words.len() > 1 && words.iter().all(|w| w.parse::<f64>().is_ok()) {
            return Some(format!(
                "the cell holds numbers separated by blanks: pass {} space",
                names.delimiter
            ));
        }
    }
    None
}

/// A cell quoted for messages: at most 40 of its characters.
fn shorten(cell: &str) -> String {
    format!("`{}`", shorten_plain(cell))
}

/// At most 40 characters of `text`, and how many it has when cut; control characters (a line
/// break in a quoted cell) escaped, so that a message stays on one line.
fn shorten_plain(text: &str) -> String {
    let n = text.chars().count();
    let shown = |c: char| -> String {
        if c.is_control() {
            c.escape_default().to_string()
        } else {
            c.to_string()
        }
    };
    if n <= 40 {
        text.chars().map(shown).collect()
    } else {
        let head: String = text.chars().take(40).map(shown).collect();
        format!("{head}... ({n} characters)")
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

/// Feature columns that look like ids or labels: a suspect header name, or values counting 0,
/// 1, 2, ... or 1, 2, 3, ... row by row; one sentence each, with the fix.
fn suspect_columns(
    x: &Matrix,
    features: &[usize],
    names: Option<&[String]>,
    options: &OptionNames,
) -> Vec<String> {
    let mut out = Vec::new();
    for (k, &j) in features.iter().enumerate() {
        let name = names.map(|n| n[j].as_str());
        let named = name.is_some_and(|n| SUSPECT_NAMES.contains(&n.to_ascii_lowercase().as_str()));
        let counting = x.rows >= 3 && {
            let start = x.data[k];
            (start == 0.0 || start == 1.0)
                && (0..x.rows).all(|i| x.data[i * x.cols + k] == start + i as f32)
        };
        if named || counting {
            let label = match name {
                Some(n) => format!("column {} (`{}`)", j + 1, shorten_plain(n)),
                None => format!("column {}", j + 1),
            };
            let why = if counting {
                "counts the rows, like an id"
            } else {
                "is named like an id or a label"
            };
            out.push(format!(
                "{label} {why} but is used as a feature; drop it ({} {}) or take it as the \
                 labels ({} {})",
                options.drop,
                j + 1,
                options.label,
                j + 1
            ));
        }
    }
    out
}

/// `bytes` read from `path` as text, or an error saying it is not `what`.
fn utf8<'a>(path: &Path, bytes: &'a [u8], what: &str) -> Result<&'a str> {
    std::str::from_utf8(bytes).map_err(|e| {
        DataError::format(
            path,
            format!("not UTF-8 text (byte {}): not {what}", e.valid_up_to()),
        )
    })
}

/// Reads a CSV file of numeric features as `opts` says. Labels must be 0 (normal) and 1
/// (anomaly); without a label source every row is normal.
///
/// Errors name the file and, for cell problems, the 1-based line: those of [`parse_csv`], a
/// file that is not UTF-8 text, a label other than 0/1, a label file with a different number
/// of rows.
pub fn read_csv(path: &Path, opts: &CsvOptions) -> Result<LabeledData> {
    let bytes = crate::fileio::read_bytes(path)?;
    let text = utf8(path, &bytes, "a CSV file")?;
    let table = parse_csv(path, text, opts)?;
    let rows = table.x.rows;
    let y = match (&opts.label, table.label_cells) {
        (LabelSource::Column(_), Some(cells)) => cells
            .iter()
            .map(|(line, c)| parse_label(c).map_err(|p| format_err(path, *line, p)))
            .collect::<Result<Vec<u8>>>()?,
        (LabelSource::File(label_path), _) => {
            let y = read_label_file(label_path)?;
            if y.len() != rows {
                return Err(DataError::format(
                    label_path,
                    format!(
                        "{} labels but {} has {rows} data rows",
                        y.len(),
                        path.display(),
                    ),
                ));
            }
            y
        }
        _ => vec![0; rows],
    };
    Ok(LabeledData {
        x: table.x,
        y,
        groups: None,
    })
}

/// Reads a label file: one 0/1 label per line (the first cell of each row), optionally under
/// a header line (auto-detected: a first line that is not a number).
pub fn read_label_file(path: &Path) -> Result<Vec<u8>> {
    let bytes = crate::fileio::read_bytes(path)?;
    let text = utf8(path, &bytes, "a label file")?;
    let mut rows = CsvRows::new(path, text, Delimiter::Char(b','));
    let mut rec = csv::StringRecord::new();
    let mut labels = Vec::new();
    let mut first = true;
    while let Some(line) = rows.next_row(&mut rec)? {
        if std::mem::take(&mut first) && parse_number(&rec[0]).is_none() {
            continue;
        }
        if rec.len() != 1 {
            return Err(format_err(
                path,
                line,
                format!("{} cells, expected one label", rec.len()),
            ));
        }
        labels.push(parse_label(&rec[0]).map_err(|p| format_err(path, line, p))?);
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
