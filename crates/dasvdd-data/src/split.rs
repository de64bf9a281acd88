//! One-class splits: training data holds normal samples only, test data is labelled
//! 0 = normal, 1 = anomaly. Image datasets use the official train/test split; tabular datasets
//! offer the DASVDD reference code's split and the common "random half of the normals" protocol.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};
use crate::images::ImageSet;
use crate::matrix::{LabeledData, Matrix};

/// How many samples each part of a split holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SplitCounts {
    /// Training rows (all normal).
    pub train: usize,
    /// Normal test rows.
    pub test_normal: usize,
    /// Anomalous test rows.
    pub test_anomalous: usize,
}

impl std::fmt::Display for SplitCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "train {}, test {} normal / {} anomalous",
            self.train, self.test_normal, self.test_anomalous
        )
    }
}

/// Normal training samples and a labelled test set.
#[derive(Debug, Clone, PartialEq)]
pub struct OneClassSplit {
    /// Normal samples only.
    pub train: Matrix,
    /// Labelled test samples (0 = normal, 1 = anomaly), with group ids when the data has them.
    pub test: LabeledData,
    /// The sizes of `train` and of the two test classes.
    pub counts: SplitCounts,
}

impl OneClassSplit {
    /// Assembles a split and counts its parts. `context` names the dataset in errors: an empty
    /// training set (no normal samples) is an error, and so is a width mismatch.
    pub fn new(context: &str, train: Matrix, test: LabeledData) -> Result<Self> {
        if train.rows == 0 {
            return Err(DataError::invalid(
                context,
                "the normal class is empty: no training samples",
            ));
        }
        if test.x.rows != test.y.len() {
            return Err(DataError::invalid(
                context,
                format!("{} test rows but {} labels", test.x.rows, test.y.len()),
            ));
        }
        if test.x.rows > 0 && test.x.cols != train.cols {
            return Err(DataError::invalid(
                context,
                format!(
                    "training rows have {} features, test rows {}",
                    train.cols, test.x.cols
                ),
            ));
        }
        let test_anomalous = test.y.iter().filter(|&&l| l != 0).count();
        let counts = SplitCounts {
            train: train.rows,
            test_normal: test.y.len() - test_anomalous,
            test_anomalous,
        };
        if counts.test_normal == 0 || counts.test_anomalous == 0 {
            tracing::warn!(%context, %counts, "test set lacks one of the two classes: AUC is undefined");
        }
        tracing::debug!(%context, %counts, "one-class split");
        Ok(OneClassSplit {
            train,
            test,
            counts,
        })
    }
}

/// Which split to make of a dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum SplitProtocol {
    /// The DASVDD paper's split: for image datasets the official train split's normal class for
    /// training and the whole official test split for testing; for PIMA and Speech the
    /// reference code's split ([`paper_tabular_split`]).
    #[default]
    Paper,
    /// Train on a seeded random half of the normal samples; test on the other half plus all
    /// anomalies ([`half_normals_split`]).
    HalfNormals,
    /// The 2021 reference code's split where it differs from the paper: Speech trains on every
    /// row after the test rows, anomalies included ([`reference_code_tabular_split`]);
    /// otherwise as [`SplitProtocol::Paper`].
    ReferenceCode,
}

impl std::str::FromStr for SplitProtocol {
    type Err = DataError;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().replace('_', "-").as_str() {
            "paper" | "official" => Ok(SplitProtocol::Paper),
            "half-normals" | "half" => Ok(SplitProtocol::HalfNormals),
            "reference-code" | "code" => Ok(SplitProtocol::ReferenceCode),
            other => Err(DataError::invalid(
                "split protocol",
                format!(
                    "unknown protocol `{other}` (expected paper, half-normals or reference-code)"
                ),
            )),
        }
    }
}

/// The image protocol: train on the images of `normal_class` in the official training split,
/// test on the whole official test split with `normal_class` labelled 0 and every other class 1.
/// Pixels are scaled to [0, 1].
pub fn image_one_class_split(
    context: &str,
    train: &ImageSet,
    test: &ImageSet,
    normal_class: u8,
) -> Result<OneClassSplit> {
    let normal: Vec<usize> = (0..train.len())
        .filter(|&i| train.labels[i] == normal_class)
        .collect();
    if normal.is_empty() {
        return Err(DataError::invalid(
            context,
            format!("the normal class {normal_class} is empty: no training images carry it"),
        ));
    }
    let x_train = train.select_unit(&normal);
    let y = test
        .labels
        .iter()
        .map(|&l| u8::from(l != normal_class))
        .collect();
    OneClassSplit::new(
        context,
        x_train,
        LabeledData {
            x: test.to_unit_matrix(),
            y,
            groups: None,
        },
    )
}

/// Which rows of `data` are the units of a split: single rows, or whole groups when the data
/// carries group ids (a group is anomalous when any of its rows is).
fn units(data: &LabeledData) -> Vec<(Vec<usize>, bool)> {
    match &data.groups {
        None => (0..data.y.len())
            .map(|i| (vec![i], data.y[i] != 0))
            .collect(),
        Some(groups) => {
            let mut order: Vec<u32> = Vec::new();
            let mut members: std::collections::HashMap<u32, (Vec<usize>, bool)> =
                std::collections::HashMap::new();
            for (i, &g) in groups.iter().enumerate() {
                let entry = members.entry(g).or_insert_with(|| {
                    order.push(g);
                    (Vec::new(), false)
                });
                entry.0.push(i);
                entry.1 |= data.y[i] != 0;
            }
            order
                .into_iter()
                .filter_map(|g| members.remove(&g))
                .collect()
        }
    }
}

fn check_labels(context: &str, data: &LabeledData) -> Result<()> {
    if data.x.rows != data.y.len() {
        return Err(DataError::invalid(
            context,
            format!("{} rows but {} labels", data.x.rows, data.y.len()),
        ));
    }
    if let Some(g) = &data.groups {
        if g.len() != data.y.len() {
            return Err(DataError::invalid(
                context,
                format!("{} rows but {} group ids", data.y.len(), g.len()),
            ));
        }
    }
    Ok(())
}

/// Builds a split from training and test row indices (test rows keep their labels and groups).
fn assemble(
    context: &str,
    data: &LabeledData,
    train: &[usize],
    test: &[usize],
) -> Result<OneClassSplit> {
    let test_data = LabeledData {
        x: data.x.select_rows(test),
        y: test.iter().map(|&i| data.y[i]).collect(),
        groups: data
            .groups
            .as_ref()
            .map(|g| test.iter().map(|&i| g[i]).collect()),
    };
    OneClassSplit::new(context, data.x.select_rows(train), test_data)
}

/// The common protocol: a random half (rounded down) of the normal samples, drawn with a
/// ChaCha8 generator seeded by `seed`, for training; the other normal samples and all anomalies
/// for testing. When `data` has group ids, whole groups are split (a group is anomalous when any
/// of its rows is). Both parts keep the rows' original order.
pub fn half_normals_split(context: &str, data: &LabeledData, seed: u64) -> Result<OneClassSplit> {
    check_labels(context, data)?;
    let units = units(data);
    let mut normal: Vec<usize> = (0..units.len()).filter(|&u| !units[u].1).collect();
    if normal.len() < 2 {
        return Err(DataError::invalid(
            context,
            format!(
                "the normal class is too small to halve: {} normal samples",
                normal.len()
            ),
        ));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    normal.shuffle(&mut rng);
    let n_train = normal.len() / 2;
    let mut is_train = vec![false; units.len()];
    for &u in &normal[..n_train] {
        is_train[u] = true;
    }
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for (u, (rows, _)) in units.iter().enumerate() {
        if is_train[u] { &mut train } else { &mut test }.extend_from_slice(rows);
    }
    train.sort_unstable();
    test.sort_unstable();
    assemble(context, data, &train, &test)
}

/// The DASVDD reference code's tabular splits, which are deterministic (no seed):
///
/// - `pima`: rows are sorted by label, anomalies first (stable sort, so file order within a
///   label); the first ⌊0.4 n⌋ rows are the test set (for PIMA: all 268 anomalies and 39
///   normals), the rest the training set (461 normals).
/// - `speech`: the first ⌊0.1 n⌋ rows in file order are the test set (368 of 3686); the normal
///   rows among the rest are the training set. The 2021 code also trained on the anomalies
///   left in the remaining rows; the paper trains on normal data only, which is what this does.
///
/// Any other name is an error.
pub fn paper_tabular_split(name: &str, data: &LabeledData) -> Result<OneClassSplit> {
    tabular_split(name, data, false)
}

/// The 2021 reference code's tabular splits exactly: as [`paper_tabular_split`], except that
/// for `speech` the training set is every row after the test rows, the anomalies among them
/// included (so this split's training data is not purely normal: 55 anomalies for Speech).
/// For `pima` it equals the paper split, whose training rows are all normal anyway.
pub fn reference_code_tabular_split(name: &str, data: &LabeledData) -> Result<OneClassSplit> {
    tabular_split(name, data, true)
}

fn tabular_split(
    name: &str,
    data: &LabeledData,
    keep_train_anomalies: bool,
) -> Result<OneClassSplit> {
    check_labels(name, data)?;
    let n = data.y.len();
    match name {
        "pima" => {
            let mut order: Vec<usize> = (0..n).collect();
            order.sort_by_key(|&i| std::cmp::Reverse(data.y[i] != 0));
            let n_test = n * 4 / 10;
            let (test, rest) = order.split_at(n_test);
            let train: Vec<usize> = rest
                .iter()
                .copied()
                .filter(|&i| keep_train_anomalies || data.y[i] == 0)
                .collect();
            assemble(name, data, &train, test)
        }
        "speech" => {
            let n_test = n / 10;
            let test: Vec<usize> = (0..n_test).collect();
            let train: Vec<usize> =
                (n_test..n).filter(|&i| keep_train_anomalies || data.y[i] == 0).collect();
            assemble(name, data, &train, &test)
        }
        other => Err(DataError::invalid(
            other,
            "the paper split exists only for pima and speech among tabular datasets; use half-normals",
        )),
    }
}
