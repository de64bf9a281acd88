//! The data of a cell: [`load_split`] loads its split as the method's variant prepares it, and
//! [`subsample`] takes the seeded subsets of `--quick`.

use anyhow::{Context, Result};
use dasvdd_core::config::Variant as TrainVariant;
use dasvdd_data::registry::LoadOptions;
use dasvdd_data::{DatasetName, LabeledData, OneClassSplit, Preprocessing, SplitProtocol};
use rand::seq::index::sample;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::config::BenchConfig;
use crate::matrix::BenchDataset;
use crate::synthetic;

/// Loads the split of a cell, `seed` choosing the random parts of half-normals splits and
/// `variant` the data choices of its source: the paper's (Speech trained on normal rows only,
/// CIFAR-10 with l1 GCN and min-max) or the 2021 code's (Speech's anomalies after the test rows
/// kept in training, CIFAR-10 with l2 GCN); `own`, when given, replaces the variant's
/// preprocessing (a method's own, e.g. Ruff's GCN for Deep SVDD).
pub fn load_split(
    cfg: &BenchConfig,
    dataset: &BenchDataset,
    class: u8,
    seed: u64,
    variant: TrainVariant,
    own: Option<Preprocessing>,
) -> Result<OneClassSplit> {
    match dataset {
        BenchDataset::Synthetic => {
            let mut split = synthetic::split(class)?;
            if let Some(step) = own {
                let fitted = step.fit_transform(&mut split.train)?;
                fitted.transform(&mut split.test.x)?;
            }
            Ok(split)
        }
        BenchDataset::Registry(name) => {
            let (protocol, preprocessing) = match variant {
                TrainVariant::Paper => (SplitProtocol::Paper, name.paper_preprocessing()),
                TrainVariant::PublishedCode => (
                    SplitProtocol::ReferenceCode,
                    name.reference_code_preprocessing(),
                ),
            };
            let opts = LoadOptions {
                normal_class: class,
                seed,
                protocol,
                preprocessing: Some(own.unwrap_or(preprocessing)),
                sample_rows: cfg.dataset(&name.to_string()).sample_rows,
                mimii_train_stride: cfg
                    .dataset(&name.to_string())
                    .mimii_train_stride
                    .unwrap_or(1),
                ..Default::default()
            };
            Ok(dasvdd_data::load_prepared(name, &opts)
                .with_context(|| format!("cannot load {name} class {class}"))?
                .split)
        }
    }
}

/// Whether the split of `dataset` depends on the seed.
pub(super) fn split_uses_seed(dataset: &BenchDataset) -> bool {
    matches!(
        dataset,
        BenchDataset::Registry(DatasetName::Odds(_) | DatasetName::Awid3)
    )
}

/// The seeded subsets of `--quick`: at most `max_train` training rows and `max_test` test rows
/// (stratified, both classes kept; grouped test sets are kept whole so clips stay complete).
pub fn subsample(
    split: &OneClassSplit,
    max_train: Option<usize>,
    max_test: Option<usize>,
    seed: u64,
) -> Result<OneClassSplit> {
    let mut rng = ChaCha8Rng::seed_from_u64(0x5AB5_A3F1 ^ seed);
    let pick = |rng: &mut ChaCha8Rng, rows: &[usize], k: usize| -> Vec<usize> {
        if rows.len() <= k {
            return rows.to_vec();
        }
        let mut idx: Vec<usize> = sample(rng, rows.len(), k)
            .into_iter()
            .map(|i| rows[i])
            .collect();
        idx.sort_unstable();
        idx
    };
    let train = match max_train {
        Some(k) if split.train.rows > k => {
            let all: Vec<usize> = (0..split.train.rows).collect();
            split.train.select_rows(&pick(&mut rng, &all, k))
        }
        _ => split.train.clone(),
    };
    let test = match max_test {
        Some(k) if split.test.x.rows > k && split.test.groups.is_none() => {
            let normal: Vec<usize> = (0..split.test.y.len())
                .filter(|&i| split.test.y[i] == 0)
                .collect();
            let anomal: Vec<usize> = (0..split.test.y.len())
                .filter(|&i| split.test.y[i] != 0)
                .collect();
            let frac = anomal.len() as f64 / split.test.y.len() as f64;
            let ka = ((k as f64 * frac).round() as usize).clamp(1, k - 1);
            let mut rows = pick(&mut rng, &normal, k - ka);
            rows.extend(pick(&mut rng, &anomal, ka));
            rows.sort_unstable();
            LabeledData {
                x: split.test.x.select_rows(&rows),
                y: rows.iter().map(|&i| split.test.y[i]).collect(),
                groups: None,
            }
        }
        _ => split.test.clone(),
    };
    Ok(OneClassSplit::new("subsample", train, test)?)
}
