//! Reading samples in every format the data crate reads: CSV (delimiter detected, header row
//! optional, columns dropped or used as labels by name or number), NPY, ODDS `.mat`, IDX image
//! files, folders of images, standard input, and the paper's datasets by name. Also the score
//! and label files of `dasvdd eval`.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use dasvdd_data::{DatasetName, ImageFolderOptions, LoadOptions, Matrix};

use crate::labels::LabelRule;

/// Where the samples of `train` and `score` come from, and how to read them.
#[derive(Debug, Clone, Args)]
pub struct SourceArgs {
    /// Samples, one per row: .csv/.tsv/.txt, .npy, an ODDS .mat file, an IDX image file
    /// (MNIST format, gzipped or not), a folder with normal/ (and abnormal/) images, or - for
    /// standard input (CSV or NPY)
    #[arg(long, required_unless_present = "dataset", conflicts_with = "dataset")]
    pub data: Option<PathBuf>,
    /// A dataset of the paper by name instead of --data (mnist, fmnist, cifar10, speech, pima,
    /// awid3, mimii, odds:<name>), from where `dasvdd data list` finds it, preprocessed as the
    /// paper does
    #[arg(long)]
    pub dataset: Option<String>,
    /// With --dataset: the normal class, by number (from 0) or name [default: 0]
    #[arg(long, requires = "dataset")]
    pub class: Option<String>,
    /// With --dataset: `train` (the normal training samples) or `test` (labelled) [default:
    /// train for `dasvdd train`, test for `dasvdd score`]
    #[arg(long, requires = "dataset")]
    pub split: Option<String>,
    /// CSV field separator: `,` `;` `tab` `space` (any run of blanks) or `auto` [default: auto,
    /// the most frequent of , ; and tab in the first row, else blanks]
    #[arg(long)]
    pub delimiter: Option<String>,
    /// CSV columns that are not features (ids, timestamps, ...), comma-separated, each by header
    /// name or number (1 = the first column)
    #[arg(long, value_delimiter = ',', value_name = "COLUMNS")]
    pub drop_cols: Vec<String>,
    /// CSV column of labels, by header name or number (1 = the first column); it is not a
    /// feature. `train` keeps only the normal rows, `score` also evaluates the scores
    #[arg(long, value_name = "COLUMN")]
    pub label_col: Option<String>,
    /// The label value that marks an anomaly (e.g. -1, anomaly, outlier); every other value is
    /// normal [default: labels must be 1 = anomaly, 0 = normal]
    #[arg(long, value_name = "VALUE")]
    pub pos_label: Option<String>,
    /// Image folders: the size every image is resized to, WIDTHxHEIGHT [default: 28x28]
    #[arg(long, value_name = "WxH")]
    pub image_size: Option<String>,
    /// Image folders: keep the three colour channels instead of converting to grey
    #[arg(long)]
    pub rgb: bool,
}

/// Which part of a dataset a command wants by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Train,
    Score,
}

/// Samples read from one source.
#[derive(Debug, Clone)]
pub struct Samples {
    pub x: Matrix,
    /// 1 = anomaly, 0 = normal, when the source has labels.
    pub labels: Option<Vec<u8>>,
    /// The source, for messages (`normal.csv`, `<stdin>`, `fmnist class 1 (train)`).
    pub origin: String,
}

impl SourceArgs {
    /// The file the samples are read from, if any (for the checks of output paths).
    pub fn path(&self) -> Option<&Path> {
        self.data.as_deref()
    }

    /// Whether the samples come from standard input.
    pub fn is_stdin(&self) -> bool {
        self.data.as_deref().is_some_and(|p| p.as_os_str() == "-")
    }

    /// Checks the options that need no reading: the delimiter, the image size, the split.
    pub fn check(&self) -> Result<()> {
        if let Some(d) = &self.delimiter {
            parse_delimiter(d)?;
        }
        if let Some(s) = &self.image_size {
            parse_image_size(s)?;
        }
        if let Some(s) = &self.split {
            parse_split(s)?;
        }
        if let Some(d) = &self.dataset {
            d.parse::<DatasetName>()?;
        }
        Ok(())
    }

    /// Reads the samples.
    pub fn read(&self, role: Role) -> Result<Samples> {
        if let Some(name) = &self.dataset {
            return self.read_dataset(name, role);
        }
        let path = self
            .data
            .as_deref()
            .ok_or_else(|| anyhow!("give the samples with --data or --dataset"))?;
        let rule = LabelRule::new(self.pos_label.as_deref());
        if path.as_os_str() == "-" {
            let mut bytes = Vec::new();
            std::io::stdin()
                .read_to_end(&mut bytes)
                .context("cannot read standard input")?;
            return self.read_bytes("<stdin>", &bytes, None, &rule);
        }
        let shown = path.display().to_string();
        if path.is_dir() {
            self.no_csv_options(&shown)?;
            let (width, height) = match &self.image_size {
                Some(s) => parse_image_size(s)?,
                None => (28, 28),
            };
            let opts = ImageFolderOptions {
                width,
                height,
                colour: if self.rgb {
                    dasvdd_data::ColourMode::Rgb
                } else {
                    dasvdd_data::ColourMode::Grey
                },
            };
            let d = dasvdd_data::images::load_image_folder(path, &opts)?;
            return Ok(Samples {
                x: d.x,
                labels: Some(d.y),
                origin: shown,
            });
        }
        let bytes = std::fs::read(path).with_context(|| format!("cannot read {shown}"))?;
        self.read_bytes(&shown, &bytes, Some(path), &rule)
    }

    /// Errors when CSV-only options are given for another format.
    fn no_csv_options(&self, what: &str) -> Result<()> {
        for (given, flag) in [
            (self.label_col.is_some(), "--label-col"),
            (!self.drop_cols.is_empty(), "--drop-cols"),
            (self.delimiter.is_some(), "--delimiter"),
        ] {
            if given {
                bail!("{flag} applies to CSV input, and {what} is not CSV");
            }
        }
        Ok(())
    }

    /// Reads the bytes of a file (`path`) or of standard input (`path` is `None`), by the file
    /// extension or, without one, by the content.
    fn read_bytes(
        &self,
        origin: &str,
        bytes: &[u8],
        path: Option<&Path>,
        rule: &LabelRule,
    ) -> Result<Samples> {
        let ext = path
            .and_then(|p| p.extension())
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        let name = path
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        let origin_path = Path::new(origin);
        let format = if bytes.starts_with(b"\x93NUMPY") || ext == "npy" {
            Format::Npy
        } else if ext == "mat" || bytes.starts_with(b"MATLAB") {
            Format::Mat
        } else if name.contains("idx3") || ext == "idx" || is_idx_images(bytes) {
            Format::Idx
        } else if matches!(ext.as_str(), "csv" | "tsv" | "txt" | "dat" | "") {
            Format::Csv
        } else {
            bail!(
                "{origin}: unsupported file type `.{ext}` (expected .csv, .tsv, .txt, .npy, \
                 .mat, an IDX image file or a folder of images)"
            );
        };
        let samples = |x: Matrix, labels: Option<Vec<u8>>| Samples {
            x,
            labels,
            origin: origin.to_string(),
        };
        match format {
            Format::Npy => {
                self.no_csv_options(origin)?;
                let a = dasvdd_data::npy::parse_npy(origin_path, bytes)?;
                Ok(samples(npy_matrix(origin, a)?, None))
            }
            Format::Mat => {
                self.no_csv_options(origin)?;
                let d = dasvdd_data::mat::read_mat_bytes(origin_path, bytes)?;
                Ok(samples(d.x, Some(d.y)))
            }
            Format::Idx => {
                self.no_csv_options(origin)?;
                let raw = if dasvdd_data::fileio::is_gzip(bytes) {
                    dasvdd_data::fileio::gunzip(bytes)
                        .map_err(|e| anyhow!("{origin}: cannot decompress: {e}"))?
                } else {
                    bytes.to_vec()
                };
                let a = dasvdd_data::idx::parse_idx(origin_path, &raw, 3)?;
                let cols = a.dims[1] * a.dims[2];
                // Pixels in [0, 1], as the project's image loaders give them.
                let data = a.values.iter().map(|&v| f32::from(v) / 255.0).collect();
                let x = Matrix::new(data, a.dims[0], cols)
                    .ok_or_else(|| anyhow!("{origin}: inconsistent IDX dimensions"))?;
                Ok(samples(x, None))
            }
            Format::Csv => {
                let text = std::str::from_utf8(bytes).map_err(|_| {
                    anyhow!(
                        "{origin}: not text (a binary file needs its extension: .npy, .mat, \
                         or an IDX file)"
                    )
                })?;
                let table = self.parse_csv(origin, text, rule)?;
                Ok(samples(table.0, table.1))
            }
        }
    }

    /// Loads `--dataset`: its training part (normal samples) or its labelled test part.
    fn read_dataset(&self, name: &str, role: Role) -> Result<Samples> {
        self.no_csv_options(&format!("--dataset {name}"))?;
        let dataset: DatasetName = name.parse()?;
        let classes = dataset.classes();
        let class = match &self.class {
            None => 0u8,
            Some(c) => match c.trim().parse::<u8>() {
                Ok(i) if usize::from(i) < classes.len() => i,
                _ => classes
                    .iter()
                    .position(|n| n.eq_ignore_ascii_case(c.trim()))
                    .map(|i| i as u8)
                    .ok_or_else(|| {
                        anyhow!(
                            "--class {c}: {dataset} has the classes 0..{} ({})",
                            classes.len() - 1,
                            classes.join(", ")
                        )
                    })?,
            },
        };
        let split = match &self.split {
            Some(s) => parse_split(s)?,
            None => role,
        };
        let opts = LoadOptions {
            normal_class: class,
            ..LoadOptions::default()
        };
        let prepared = dasvdd_data::load_prepared(&dataset, &opts)?;
        let part = if split == Role::Train {
            "train"
        } else {
            "test"
        };
        let origin = format!(
            "{dataset} class {class} ({}), {part}",
            classes[class as usize]
        );
        let (x, labels) = match split {
            Role::Train => (prepared.split.train, None),
            Role::Score => (prepared.split.test.x, Some(prepared.split.test.y)),
        };
        Ok(Samples { x, labels, origin })
    }

    /// Parses CSV text into features and, with `--label-col`, labels.
    fn parse_csv(
        &self,
        origin: &str,
        text: &str,
        rule: &LabelRule,
    ) -> Result<(Matrix, Option<Vec<u8>>)> {
        let delimiter = match self.delimiter.as_deref() {
            Some(d) => parse_delimiter(d)?,
            None => Delimiter::Auto,
        };
        let first_line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        let delimiter = match delimiter {
            Delimiter::Auto => detect_delimiter(first_line),
            d => d,
        };
        let rows: Vec<(u64, Vec<String>)> = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| {
                Ok((
                    i as u64 + 1,
                    split_line(l, delimiter, origin, i as u64 + 1)?,
                ))
            })
            .collect::<Result<_>>()?;
        let Some((_, first)) = rows.first() else {
            bail!("{origin}: the file holds no samples");
        };
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
        let has_header = by_name
            || first
                .iter()
                .enumerate()
                .filter(|(j, _)| !skip_for_detection.contains(j))
                .all(|(_, c)| c.trim().parse::<f64>().is_err());
        let names: Option<&Vec<String>> = has_header.then_some(first);
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

        let body = &rows[usize::from(has_header)..];
        if body.is_empty() {
            bail!("{origin}: the file holds no samples, only a header row");
        }
        let mut x = Matrix::empty(features.len());
        let mut label_cells = Vec::new();
        let mut row = Vec::with_capacity(features.len());
        for (line, cells) in body {
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
                    Ok(v) if v.is_finite() => v,
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
                label_cells.push((*line, cells[l].clone()));
            }
        }
        warn_suspect_columns(origin, &x, &features, names);
        let labels = match label_col {
            Some(_) => Some(rule.apply(origin, &label_cells, false)?),
            None => None,
        };
        Ok((x, labels))
    }
}

enum Format {
    Npy,
    Mat,
    Idx,
    Csv,
}

/// A CSV field separator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delimiter {
    Auto,
    Char(char),
    /// Any run of spaces and tabs.
    Blanks,
}

fn parse_delimiter(s: &str) -> Result<Delimiter> {
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
fn detect_delimiter(line: &str) -> Delimiter {
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
fn split_line(line: &str, d: Delimiter, origin: &str, number: u64) -> Result<Vec<String>> {
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

fn parse_image_size(s: &str) -> Result<(u32, u32)> {
    let parse = |v: &str| v.trim().parse::<u32>().ok().filter(|n| *n > 0);
    match s.split_once(['x', 'X']) {
        Some((w, h)) => match (parse(w), parse(h)) {
            (Some(w), Some(h)) => Ok((w, h)),
            _ => bail!("--image-size `{s}` is not WIDTHxHEIGHT, e.g. 28x28"),
        },
        None => bail!("--image-size `{s}` is not WIDTHxHEIGHT, e.g. 28x28"),
    }
}

fn parse_split(s: &str) -> Result<Role> {
    match s.to_ascii_lowercase().as_str() {
        "train" => Ok(Role::Train),
        "test" => Ok(Role::Score),
        _ => bail!("--split `{s}` is not train or test"),
    }
}

/// An NPY array as a samples x features matrix (1-D: one feature per sample).
fn npy_matrix(origin: &str, a: dasvdd_data::npy::NpyArray) -> Result<Matrix> {
    let (rows, cols) = match a.shape[..] {
        [n] => (n, 1),
        [r, c] => (r, c),
        _ => bail!("{origin}: an array of shape {:?} is not a matrix", a.shape),
    };
    if rows == 0 || cols == 0 {
        bail!("{origin}: empty array of shape {:?}", a.shape);
    }
    if let Some(k) = a.values.iter().position(|v| !v.is_finite()) {
        bail!(
            "{origin}: non-finite value {} at row {}, column {}",
            a.values[k],
            k / cols + 1,
            k % cols + 1
        );
    }
    let data = a.values.into_iter().map(|v| v as f32).collect();
    Ok(Matrix { data, rows, cols })
}

/// Whether `bytes` start like an IDX file of unsigned-byte images (magic 0x00000803), gzipped
/// or not.
fn is_idx_images(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0, 0, 8, 3])
}

/// Reads a text file or standard input (`-`).
pub fn read_text(path: &Path) -> Result<String> {
    if path.as_os_str() == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .context("cannot read standard input")?;
        return Ok(s);
    }
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

/// The name of a file argument in messages.
pub fn shown(path: &Path) -> String {
    if path.as_os_str() == "-" {
        "<stdin>".into()
    } else {
        path.display().to_string()
    }
}

/// The one column of a file of scores or labels (under an optional header line), with the
/// 1-based line of each value. A file of several columns (`score,prediction`, or with a
/// `label` column) gives the column named `wanted`.
pub fn read_column(path: &Path, wanted: &str) -> Result<Vec<(u64, String)>> {
    let origin = shown(path);
    let text = read_text(path)?;
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i as u64 + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty());
    let Some((first_line, first)) = lines.next() else {
        bail!("{origin}: the file is empty");
    };
    let d = detect_delimiter(first);
    let header = split_line(first, d, &origin, first_line)?;
    let column = if header.len() == 1 {
        0
    } else {
        header
            .iter()
            .position(|h| h.trim().eq_ignore_ascii_case(wanted))
            .ok_or_else(|| {
                anyhow!(
                    "{origin}: row {first_line}: {} columns but none named `{wanted}`; \
                     expected one {wanted} per row",
                    header.len()
                )
            })?
    };
    let width = header.len();
    let mut rest = Vec::new();
    for (line, l) in lines {
        let cells = split_line(l, d, &origin, line)?;
        if cells.len() != width {
            bail!(
                "{origin}: row {line}: {} cells, expected {width}; expected one {wanted} per row",
                cells.len()
            );
        }
        rest.push((line, cells[column].trim().to_string()));
    }
    // The first row is a header when it has several columns, or when its one cell is not a
    // number and is not a value of the column (text labels such as `normal` repeat).
    let head = header[0].trim();
    let first_is_header = header.len() > 1
        || (head.parse::<f64>().is_err()
            && (rest.iter().any(|(_, v)| v.parse::<f64>().is_ok())
                || !rest.iter().any(|(_, v)| v == head)));
    let mut out = Vec::new();
    if !first_is_header {
        out.push((first_line, head.to_string()));
    }
    out.extend(rest);
    if out.is_empty() {
        bail!("{origin}: the file holds no {wanted}s");
    }
    Ok(out)
}

/// Reads a score file: the `score` column, finite numbers.
pub fn read_scores(path: &Path) -> Result<Vec<f64>> {
    let origin = shown(path);
    read_column(path, "score")?
        .into_iter()
        .map(|(line, t)| match t.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(v),
            Ok(v) => bail!("{origin}: row {line}: score `{t}` is {v}"),
            Err(_) => bail!("{origin}: row {line}: `{t}` is not a number"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> SourceArgs {
        SourceArgs {
            data: None,
            dataset: None,
            class: None,
            split: None,
            delimiter: None,
            drop_cols: Vec::new(),
            label_col: None,
            pos_label: None,
            image_size: None,
            rgb: false,
        }
    }

    #[test]
    fn delimiters_are_detected() {
        assert_eq!(detect_delimiter("a;b;c"), Delimiter::Char(';'));
        assert_eq!(detect_delimiter("1\t2\t3"), Delimiter::Char('\t'));
        assert_eq!(detect_delimiter("1,2,3"), Delimiter::Char(','));
        assert_eq!(detect_delimiter("1.5 2 3"), Delimiter::Blanks);
        assert_eq!(detect_delimiter("7"), Delimiter::Char(','));
        // Auto-detection reads a semicolon file whose decimals have commas as two columns.
        let (x, _) = args()
            .parse_csv("t", "a;b\n1.5;2\n", &LabelRule::default())
            .unwrap();
        assert_eq!(x.data, [1.5, 2.0]);
    }

    #[test]
    fn a_wrong_delimiter_gets_a_hint_and_long_cells_are_cut() {
        let mut a = args();
        a.delimiter = Some(",".into());
        let long: String = (0..400).map(|i| format!("{i};")).collect();
        let text = format!("a\n{long}\n");
        let e = a
            .parse_csv("semi.csv", &text, &LabelRule::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("semi.csv: row 2"), "{e}");
        assert!(e.contains("--delimiter ';'"), "{e}");
        assert!(e.len() < 300, "{e}");
    }

    #[test]
    fn columns_are_dropped_and_labels_taken_by_name_or_number() {
        let mut a = args();
        a.drop_cols = vec!["id".into()];
        a.label_col = Some("4".into());
        let text = "id,x,y2,lab\n1,0.5,2,0\n2,0.25,3,1\n";
        let (x, y) = a.parse_csv("t", text, &LabelRule::default()).unwrap();
        assert_eq!((x.rows, x.cols), (2, 2));
        assert_eq!(x.data, [0.5, 2.0, 0.25, 3.0]);
        assert_eq!(y.unwrap(), [0, 1]);
        a.label_col = Some("nope".into());
        let e = a
            .parse_csv("t", text, &LabelRule::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("nope") && e.contains("id, x, y2, lab"), "{e}");
    }

    #[test]
    fn score_files_with_a_prediction_column_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.csv");
        std::fs::write(&p, "score,prediction\n0.5,1\n0.25,0\n").unwrap();
        assert_eq!(read_scores(&p).unwrap(), [0.5, 0.25]);
        std::fs::write(&p, "0.5\n-1\n").unwrap();
        assert_eq!(read_scores(&p).unwrap(), [0.5, -1.0]);
    }
}
