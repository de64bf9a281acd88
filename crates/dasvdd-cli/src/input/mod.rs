//! Reading samples in every format the data crate reads: CSV (delimiter detected, header row
//! optional, columns dropped or used as labels by name or number), NPY, ODDS `.mat`, IDX image
//! files, folders of images, standard input, and the paper's datasets by name. Also the score
//! and label files of `dasvdd eval`.
//!
//! Split by concern: this module reads [`SourceArgs`] by format; `csv_input` parses CSV text,
//! and `eval_files` reads the score and label files, re-exported here.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use dasvdd_data::{DatasetName, ImageFolderOptions, LoadOptions, Matrix};

use crate::labels::LabelRule;

mod csv_input;
mod eval_files;

use csv_input::parse_delimiter;
pub use eval_files::{read_column, read_scores, shown};

/// Where the samples of `train` and `score` come from, and how to read them.
#[derive(Debug, Clone, Args)]
pub struct SourceArgs {
    /// Samples, one per row: .csv/.tsv/.txt, .npy, an ODDS .mat file, an IDX file (MNIST
    /// format, gzipped or not; unsigned bytes are pixels scaled to [0, 1]), a folder with
    /// normal/ (and abnormal/) images, or - for standard input (CSV or NPY)
    #[arg(long, required_unless_present = "dataset", conflicts_with = "dataset")]
    pub data: Option<PathBuf>,
    /// A dataset of the paper by name instead of --data (mnist, fmnist, cifar10, speech, pima,
    /// awid3, mimii, odds:<name>), from where `dasvdd data list` finds it, preprocessed as the
    /// paper does
    #[arg(long)]
    pub dataset: Option<String>,
    /// With --dataset: the normal class, by number (from 0) or name [default: 0; for `score`,
    /// the class the model was trained on when it was trained with --dataset]
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
    /// CSV header row: `yes` (the first row names the columns), `no` (every row is data) or
    /// `auto` [default: auto: a row with names, or pandas' `0,1,..` above decimal values]
    #[arg(long, value_name = "auto|yes|no", value_parser = ["auto", "yes", "no"])]
    pub header: Option<String>,
    /// CSV numbers with `,` as the decimal mark (`1,5`, as spreadsheets export them in many
    /// locales); the separator is then `;` or tab
    #[arg(long)]
    pub decimal_comma: bool,
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
    /// The feature columns' names, from a CSV file's header row.
    pub names: Option<Vec<String>>,
    /// The paper dataset and normal class, with `--dataset`.
    pub dataset: Option<(DatasetName, u8)>,
    /// The group of each row when rows are evaluated in groups (MIMII's test split: the
    /// clip each frame vector comes from, numbered in test order).
    pub groups: Option<Vec<u32>>,
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

    /// Checks the options that need no reading: the delimiter, the image size, the split, and
    /// options given where they do not apply.
    pub fn check(&self) -> Result<()> {
        // clap's `requires = "dataset"` is not checked beside `--data`, which conflicts with it.
        if self.data.is_some() {
            for (given, flag) in [
                (self.class.is_some(), "--class"),
                (self.split.is_some(), "--split"),
            ] {
                if given {
                    bail!(
                        "{flag} applies to --dataset (a paper dataset by name); with --data the \
                         file's rows are the samples"
                    );
                }
            }
        }
        if self.pos_label.is_some() && self.label_col.is_none() {
            bail!(
                "--pos-label names the anomaly value of the --label-col column; give the column \
                 with --label-col"
            );
        }
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
            self.no_image_options("<stdin>")?;
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
                names: None,
                dataset: None,
                groups: None,
            });
        }
        self.no_image_options(&shown)?;
        let bytes = dasvdd_data::fileio::not_a_device(path)
            .and_then(|()| std::fs::read(path))
            .with_context(|| format!("cannot read {shown}"))?;
        self.read_bytes(&shown, &bytes, Some(path), &rule)
    }

    /// Errors when the options of image folders are given for another source.
    fn no_image_options(&self, what: &str) -> Result<()> {
        for (given, flag) in [
            (self.image_size.is_some(), "--image-size"),
            (self.rgb, "--rgb"),
        ] {
            if given {
                bail!("{flag} applies to a folder of images, and {what} is not one");
            }
        }
        Ok(())
    }

    /// Errors when CSV-only options are given for another format.
    fn no_csv_options(&self, what: &str) -> Result<()> {
        for (given, flag) in [
            (self.label_col.is_some(), "--label-col"),
            (!self.drop_cols.is_empty(), "--drop-cols"),
            (self.delimiter.is_some(), "--delimiter"),
            (self.header.is_some(), "--header"),
            (self.decimal_comma, "--decimal-comma"),
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
        } else if name.contains("idx3")
            || ext == "idx"
            || is_idx(bytes)
            || (dasvdd_data::fileio::is_gzip(bytes)
                && dasvdd_data::fileio::gunzip(bytes).is_ok_and(|raw| is_idx(&raw)))
        {
            Format::Idx
        } else if matches!(ext.as_str(), "csv" | "tsv" | "txt" | "dat" | "") {
            Format::Csv
        } else {
            bail!(
                "{origin}: unsupported file type `.{ext}` (expected .csv, .tsv, .txt, .npy, \
                 .mat, an IDX file or a folder of images)"
            );
        };
        let samples = |x: Matrix, labels: Option<Vec<u8>>| Samples {
            x,
            labels,
            origin: origin.to_string(),
            names: None,
            dataset: None,
            groups: None,
        };
        match format {
            Format::Npy => {
                self.no_csv_options(origin)?;
                let a = dasvdd_data::npy::parse_npy(origin_path, bytes)?;
                Ok(samples(dasvdd_data::npy::npy_matrix(origin_path, a)?, None))
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
                // Unsigned bytes as pixels in [0, 1], as the image loaders give them; the
                // format's other types as the numbers they are.
                let x = dasvdd_data::idx::parse_idx_matrix(origin_path, &raw)?;
                Ok(samples(x, None))
            }
            Format::Csv => {
                let text = std::str::from_utf8(bytes).map_err(|_| {
                    anyhow!(
                        "{origin}: not text (a binary file needs its extension: .npy, .mat, \
                         or an IDX file)"
                    )
                })?;
                let table = self.parse_csv_table(origin, text, rule)?;
                Ok(Samples {
                    names: table.names,
                    ..samples(table.x, table.labels)
                })
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
        let (x, labels, groups) = match split {
            Role::Train => (prepared.split.train, None, None),
            Role::Score => {
                let test = prepared.split.test;
                (test.x, Some(test.y), test.groups)
            }
        };
        Ok(Samples {
            x,
            labels,
            origin,
            names: None,
            dataset: Some((dataset, class)),
            groups,
        })
    }
}

enum Format {
    Npy,
    Mat,
    Idx,
    Csv,
}

/// The largest side `--image-size` takes: every image becomes one sample of w x h (x 3)
/// features, and a model of 4096 x 4096 inputs is already far beyond the paper's networks.
const MAX_IMAGE_SIDE: u32 = 4096;

fn parse_image_size(s: &str) -> Result<(u32, u32)> {
    let parse = |v: &str| v.trim().parse::<u32>().ok().filter(|n| *n > 0);
    match s.split_once(['x', 'X']) {
        Some((w, h)) => match (parse(w), parse(h)) {
            (Some(w), Some(h)) if w > MAX_IMAGE_SIDE || h > MAX_IMAGE_SIDE => bail!(
                "--image-size `{s}`: at most {MAX_IMAGE_SIDE} pixels a side (each image becomes \
                 one sample of width x height features)"
            ),
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

/// Whether `bytes` start with an IDX header (two zero bytes, a value type, 1 to 4 dimensions):
/// images or not, so that an IDX file of labels or of another value type gets the IDX reader's
/// message rather than an unknown file type.
fn is_idx(bytes: &[u8]) -> bool {
    matches!(
        bytes,
        [0, 0, 0x08 | 0x09 | 0x0b | 0x0c | 0x0d | 0x0e, 1..=4, ..]
    )
}

#[cfg(test)]
mod tests;
