//! Reader of the AWID3 release (Aegean Wi-Fi Intrusion Dataset 3): CSV files of 254 columns of
//! Wireshark fields, the last one `Label` (`Normal` or an attack name), possibly split over
//! many files in a folder tree.
//!
//! Rules, applied the same way to every file:
//! - files: `root` is one CSV file or a folder walked recursively for `*.csv` (hidden files,
//!   whose names start with a dot, skipped), sorted by path;
//!   every file's header must equal the first file's (else an error naming the file and the
//!   first differing column); a header without `Label` is an error naming the file;
//! - labels: `Normal` is 0, any other non-empty label is 1 (anomaly); an empty or `?` label is
//!   an error naming the file and line;
//! - cells: empty or `?` is missing; `0x...` is read as a hexadecimal integer, `True` and
//!   `False` (any case; tshark prints boolean fields so) as 1 and 0; anything else
//!   must parse as a decimal number, otherwise the cell is text. `nan`/`inf` (or a number
//!   outside the `f32` range) in a column that is kept is an error naming the file, line and
//!   column; in a text column (an SSID or host name that reads `nan`) it is text like the rest;
//! - columns: a column with any text cell among the scanned rows (MAC addresses, SSIDs, lists
//!   such as `-37,-39`) is dropped, and so is a column without any number; every other column
//!   is kept, in file order. The decision is made over all rows scanned (all files, or the
//!   first `max_rows`), not only the rows kept, so it does not depend on the sample drawn;
//! - missing cells of kept columns become 0 or the column mean over the kept rows
//!   ([`MissingValue`]);
//! - memory: files are streamed with the `csv` crate; memory grows with the rows kept, not
//!   with the size of the files, and a kept row holds only its numeric cells (8 bytes each),
//!   not its empty and text fields. `max_rows` stops after that many data rows and `sample` keeps
//!   a seeded uniform sample of that many rows (reservoir sampling) of those scanned, for the
//!   30+ GB release;
//! - truncation: a file cut inside its last row would still parse, with a clipped value or
//!   label, so a file that does not end with a line break is accepted only when its last row
//!   has every field and a label already seen on an earlier row (RFC 4180 lets the last
//!   record go without a line break); otherwise it is an error.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::error::{DataError, Result};
use crate::matrix::{LabeledData, Matrix};

/// The name of the label column.
pub const LABEL_COLUMN: &str = "Label";
/// The label of normal traffic.
pub const NORMAL_LABEL: &str = "Normal";

/// What a missing cell (empty or `?`) of a kept column becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissingValue {
    /// 0, the default: in AWID3 a missing field mostly means the frame has no such field.
    Zero,
    /// The mean of the column's present values over the kept rows (0 when it has none).
    ColumnMean,
}

/// Options of [`load`].
///
/// Defaults: all rows, no sampling, seed 0, missing cells -> 0. Text columns are always
/// dropped and hexadecimal cells read as integers (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Awid3Options {
    /// Stop after this many data rows (over all files, in path order); `None` reads all.
    pub max_rows: Option<usize>,
    /// Keep a uniform random sample of this many of the scanned rows (reservoir sampling,
    /// seeded by `seed`), in their file order; `None` keeps every scanned row.
    pub sample: Option<usize>,
    /// Seed of the sample.
    pub seed: u64,
    /// Value of missing cells of kept columns.
    pub missing: MissingValue,
}

impl Default for Awid3Options {
    fn default() -> Self {
        Awid3Options {
            max_rows: None,
            sample: None,
            seed: 0,
            missing: MissingValue::Zero,
        }
    }
}

/// Loaded AWID3 rows and the names of the kept feature columns.
#[derive(Debug, Clone, PartialEq)]
pub struct Awid3Data {
    /// The kept rows as features and labels.
    pub data: LabeledData,
    /// One name per column of `data.x`.
    pub columns: Vec<String>,
}

/// Loads AWID3 rows from a CSV file or a folder tree of them; see the module documentation.
pub fn load(root: &Path, opts: &Awid3Options) -> Result<LabeledData> {
    load_with_columns(root, opts).map(|d| d.data)
}

/// [`load`], also returning the names of the kept columns.
pub fn load_with_columns(root: &Path, opts: &Awid3Options) -> Result<Awid3Data> {
    let files = csv_files(root)?;
    if files.is_empty() {
        return Err(DataError::format(root, "no .csv files found"));
    }
    let mut scan = Scan::new(opts);
    for file in &files {
        if scan.full() {
            break;
        }
        scan.read_file(file)?;
    }
    let scanned = scan.scanned;
    let data = scan.finish(root)?;
    tracing::info!(
        files = files.len(),
        scanned,
        kept = data.data.x.rows,
        columns = data.columns.len(),
        "read AWID3 rows"
    );
    Ok(data)
}

/// The CSV files at `root`: the file itself, or every `*.csv` below the folder, sorted.
pub fn csv_files(root: &Path) -> Result<Vec<PathBuf>> {
    let meta = std::fs::metadata(root).map_err(|e| DataError::io(root, e))?;
    if meta.is_file() {
        return Ok(vec![root.to_path_buf()]);
    }
    let mut files = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).map_err(|e| DataError::io(&dir, e))? {
            let entry = entry.map_err(|e| DataError::io(&dir, e))?;
            let path = entry.path();
            // Symbolic links to folders are not followed, so a link cycle cannot loop.
            let ty = entry.file_type().map_err(|e| DataError::io(&path, e))?;
            if ty.is_dir() {
                dirs.push(path);
            } else if path
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
                && !crate::fileio::is_hidden(&path)
                && path.is_file()
            {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// A parsed cell.
enum Cell {
    Missing,
    Number(f64),
    Text,
}

fn parse_cell(raw: &[u8]) -> Cell {
    let Ok(s) = std::str::from_utf8(raw) else {
        return Cell::Text;
    };
    let s = s.trim();
    if s.is_empty() || s == "?" {
        return Cell::Missing;
    }
    if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        return u128::from_str_radix(hex, 16).map_or(Cell::Text, |v| Cell::Number(v as f64));
    }
    // Boolean fields as recent tshark versions print them (pandas reads them as booleans).
    if s.eq_ignore_ascii_case("true") {
        return Cell::Number(1.0);
    }
    if s.eq_ignore_ascii_case("false") {
        return Cell::Number(0.0);
    }
    s.parse::<f64>().map_or(Cell::Text, Cell::Number)
}

/// Per-column facts gathered over all scanned rows.
#[derive(Clone, Default)]
struct ColumnStats {
    has_text: bool,
    has_number: bool,
    /// The first `nan`, `inf` or number outside the `f32` range: an error if the column is
    /// kept, text among text if it is dropped.
    non_finite: Option<(PathBuf, u64, String)>,
}

/// A kept row: its numeric cells only, as (column, value) pairs in column order. Empty, `?`
/// and text cells are not stored (they become the fill value, or their column is dropped), so a
/// row of the release's 253 fields, most of them empty or text, costs a few hundred bytes.
struct Row {
    index: usize,
    label: u8,
    cols: Box<[u32]>,
    vals: Box<[f32]>,
}

struct Scan<'a> {
    opts: &'a Awid3Options,
    header: Option<(PathBuf, Vec<String>)>,
    label_col: usize,
    stats: Vec<ColumnStats>,
    rows: Vec<Row>,
    scanned: usize,
    rng: ChaCha8Rng,
    /// The labels read so far, to accept the last row of a file without a final line break.
    labels_seen: std::collections::HashSet<Vec<u8>>,
    /// The numeric cells of the row being read (reused for every row).
    cols: Vec<u32>,
    vals: Vec<f32>,
}

impl<'a> Scan<'a> {
    fn new(opts: &'a Awid3Options) -> Self {
        Scan {
            opts,
            header: None,
            label_col: 0,
            stats: Vec::new(),
            rows: Vec::new(),
            scanned: 0,
            rng: ChaCha8Rng::seed_from_u64(opts.seed),
            labels_seen: std::collections::HashSet::new(),
            cols: Vec::new(),
            vals: Vec::new(),
        }
    }

    fn full(&self) -> bool {
        self.opts.max_rows.is_some_and(|m| self.scanned >= m)
    }

    fn read_file(&mut self, path: &Path) -> Result<()> {
        let terminated = ends_with_newline(path)?;
        let file = File::open(path).map_err(|e| DataError::io(path, e))?;
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(false)
            .from_reader(BufReader::new(file));
        let header: Vec<String> = reader
            .byte_headers()
            .map_err(|e| csv_error(path, e))?
            .iter()
            .map(|h| String::from_utf8_lossy(h).trim().to_string())
            .collect();
        self.check_header(path, header)?;
        let mut record = csv::ByteRecord::new();
        // Without a final line break, each row waits until the next is read, so that the
        // last one can be checked before it is taken.
        let mut pending: Option<(u64, csv::ByteRecord)> = None;
        while !self.full() {
            if !reader
                .read_byte_record(&mut record)
                .map_err(|e| csv_error(path, e))?
            {
                break;
            }
            let line = record.position().map_or(0, |p| p.line());
            if terminated {
                self.add_record(path, line, &record)?;
            } else if let Some((line, prev)) = pending.replace((line, record.clone())) {
                self.add_record(path, line, &prev)?;
            }
        }
        // The loop ends at the end of the file or at max_rows; in the second case the pending
        // row is past max_rows and dropped.
        if let Some((line, last)) = pending {
            if !self.full() {
                let label = last[self.label_col].trim_ascii();
                if !self.labels_seen.contains(label) {
                    return Err(DataError::format(
                        path,
                        format!(
                            "file does not end with a line break and its last row (line {line}) has the label {:?}, not seen on an earlier row (truncated?)",
                            String::from_utf8_lossy(label)
                        ),
                    ));
                }
                self.add_record(path, line, &last)?;
            }
        }
        Ok(())
    }

    fn check_header(&mut self, path: &Path, header: Vec<String>) -> Result<()> {
        match &self.header {
            None => {
                let label_col = header
                    .iter()
                    .position(|h| h == LABEL_COLUMN)
                    .ok_or_else(|| {
                        DataError::format(path, format!("header has no {LABEL_COLUMN} column"))
                    })?;
                self.label_col = label_col;
                self.stats = vec![ColumnStats::default(); header.len() - 1];
                self.header = Some((path.to_path_buf(), header));
            }
            Some((first, expected)) => {
                if !header.contains(&LABEL_COLUMN.to_string()) {
                    return Err(DataError::format(
                        path,
                        format!("header has no {LABEL_COLUMN} column"),
                    ));
                }
                if &header != expected {
                    let i = header.iter().zip(expected).position(|(a, b)| a != b);
                    let what = match i {
                        Some(i) => format!(
                            "column {} is {:?} where {} has {:?}",
                            i + 1,
                            header[i],
                            first.display(),
                            expected[i]
                        ),
                        None => format!(
                            "{} columns where {} has {}",
                            header.len(),
                            first.display(),
                            expected.len()
                        ),
                    };
                    return Err(DataError::format(path, format!("header differs: {what}")));
                }
            }
        }
        Ok(())
    }

    fn add_record(&mut self, path: &Path, line: u64, record: &csv::ByteRecord) -> Result<()> {
        let label_bytes = record[self.label_col].trim_ascii();
        if !self.labels_seen.contains(label_bytes) {
            self.labels_seen.insert(label_bytes.to_vec());
        }
        let raw_label = String::from_utf8_lossy(&record[self.label_col]);
        let label = match raw_label.trim() {
            "" | "?" => {
                return Err(DataError::format(
                    path,
                    format!("line {line}: missing label"),
                ));
            }
            NORMAL_LABEL => 0,
            _ => 1,
        };
        let index = self.scanned;
        self.scanned += 1;
        // Reservoir sampling (Vitter's algorithm R): row `index` replaces a kept row with
        // probability sample / (index + 1).
        let slot = match self.opts.sample {
            None => Some(None),
            Some(n) if index < n => Some(None),
            Some(n) => {
                let j = self.rng.random_range(0..=index);
                (j < n).then_some(Some(j))
            }
        };
        let keep = slot.is_some();
        self.cols.clear();
        self.vals.clear();
        let mut col = 0u32;
        for (i, raw) in record.iter().enumerate() {
            if i == self.label_col {
                continue;
            }
            let stats = &mut self.stats[col as usize];
            match parse_cell(raw) {
                Cell::Missing => {}
                Cell::Text => stats.has_text = true,
                Cell::Number(x) => {
                    let f = x as f32;
                    if !f.is_finite() && stats.non_finite.is_none() {
                        let cell = String::from_utf8_lossy(raw).trim().to_string();
                        stats.non_finite = Some((path.to_path_buf(), line, cell));
                    }
                    stats.has_number = true;
                    // A column with text is dropped whatever else it holds: not stored.
                    if keep && !stats.has_text {
                        self.cols.push(col);
                        self.vals.push(f);
                    }
                }
            }
            col += 1;
        }
        let row = Row {
            index,
            label,
            cols: self.cols.as_slice().into(),
            vals: self.vals.as_slice().into(),
        };
        match slot {
            Some(Some(j)) => self.rows[j] = row,
            Some(None) => self.rows.push(row),
            None => {}
        }
        Ok(())
    }

    fn finish(mut self, root: &Path) -> Result<Awid3Data> {
        let Some((_, header)) = self.header else {
            return Err(DataError::format(root, "no CSV header read"));
        };
        if self.rows.is_empty() {
            return Err(DataError::format(root, "no data rows"));
        }
        self.rows.sort_by_key(|r| r.index);
        let names: Vec<&String> = header
            .iter()
            .enumerate()
            .filter(|&(i, _)| i != self.label_col)
            .map(|(_, h)| h)
            .collect();
        let kept: Vec<usize> = (0..self.stats.len())
            .filter(|&c| !self.stats[c].has_text && self.stats[c].has_number)
            .collect();
        for &c in &kept {
            if let Some((path, line, cell)) = &self.stats[c].non_finite {
                return Err(DataError::format(
                    path,
                    format!(
                        "line {line}, column {:?}: value {cell} is not a finite f32",
                        names[c]
                    ),
                ));
            }
        }
        let dropped = self.stats.len() - kept.len();
        tracing::debug!(kept = kept.len(), dropped, "AWID3 columns");
        if kept.is_empty() {
            return Err(DataError::format(root, "no numeric feature column"));
        }
        // Each column's place among the kept ones.
        let mut place: Vec<Option<usize>> = vec![None; self.stats.len()];
        for (k, &c) in kept.iter().enumerate() {
            place[c] = Some(k);
        }
        let fill: Vec<f32> = match self.opts.missing {
            MissingValue::Zero => vec![0.0; kept.len()],
            MissingValue::ColumnMean => {
                let mut sums = vec![(0f64, 0usize); kept.len()];
                for r in &self.rows {
                    for (&c, &v) in r.cols.iter().zip(r.vals.iter()) {
                        if let Some(k) = place[c as usize] {
                            sums[k].0 += f64::from(v);
                            sums[k].1 += 1;
                        }
                    }
                }
                sums.iter()
                    .map(|&(sum, n)| if n == 0 { 0.0 } else { (sum / n as f64) as f32 })
                    .collect()
            }
        };
        let mut x = Matrix::empty(kept.len());
        x.data.reserve(self.rows.len() * kept.len());
        let mut row = vec![0f32; kept.len()];
        for r in &self.rows {
            row.copy_from_slice(&fill);
            for (&c, &v) in r.cols.iter().zip(r.vals.iter()) {
                if let Some(k) = place[c as usize] {
                    row[k] = v;
                }
            }
            x.push_row(&row);
        }
        let y = self.rows.iter().map(|r| r.label).collect();
        let columns = kept.iter().map(|&c| names[c].clone()).collect();
        Ok(Awid3Data {
            data: LabeledData { x, y, groups: None },
            columns,
        })
    }
}

fn csv_error(path: &Path, e: csv::Error) -> DataError {
    let line = e
        .position()
        .map(|p| format!("line {}: ", p.line()))
        .unwrap_or_default();
    match e.into_kind() {
        csv::ErrorKind::Io(io) => DataError::io(path, io),
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => DataError::format(
            path,
            format!(
                "{line}{len} fields where the header has {expected_len} (truncated or corrupt row)"
            ),
        ),
        other => DataError::format(path, format!("{line}invalid CSV: {other:?}")),
    }
}

/// Whether the file ends with a line break (see the module documentation on truncation); an
/// empty file is an error.
fn ends_with_newline(path: &Path) -> Result<bool> {
    let mut f = File::open(path).map_err(|e| DataError::io(path, e))?;
    let len = f.metadata().map_err(|e| DataError::io(path, e))?.len();
    if len == 0 {
        return Err(DataError::format(path, "empty file, no header"));
    }
    let mut last = [0u8; 1];
    f.seek(SeekFrom::Start(len - 1))
        .map_err(|e| DataError::io(path, e))?;
    f.read_exact(&mut last)
        .map_err(|e| DataError::io(path, e))?;
    Ok(last[0] == b'\n')
}
