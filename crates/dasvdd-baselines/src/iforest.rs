//! Isolation Forest (Liu, Ting and Zhou, 2008) as scikit-learn's `IsolationForest` builds it:
//! each tree isolates a subsample drawn without replacement by splitting on a feature chosen
//! uniformly among those not constant in the node, at a threshold uniform between the node's
//! minimum and maximum, down to depth `ceil(log2 psi)`; a sample's path length is its depth plus
//! `c(n)` of the leaf it lands in, and its score is `2^(-E[h] / c(psi))`.

use std::path::Path;

use dasvdd_core::checkpoint::Checkpoint;

use candle_core::Device;
use dasvdd_core::{CoreError, Detector, DetectorParams, Result, SampleView};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::common::{average_path_length, check_fit_input, save_model, Array, ModelFile};

/// Method name used on the command line and in model files.
pub const METHOD: &str = "iforest";

/// A feature whose range within a node is at most this wide counts as constant there
/// (scikit-learn's `FEATURE_THRESHOLD`).
const FEATURE_THRESHOLD: f64 = 1e-7;

/// Hyperparameters of [`IsolationForest`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IsolationForestParams {
    /// Number of trees.
    pub n_trees: usize,
    /// Samples drawn (without replacement) to grow each tree, `psi`; clamped to the number of
    /// training samples, with a warning, when larger.
    pub subsample: usize,
    /// Seed of the random generator that draws subsamples, features and thresholds.
    pub seed: u64,
}

impl Default for IsolationForestParams {
    /// The paper's setting (Section 4.2) and scikit-learn's defaults: 100 trees grown on
    /// subsamples of 256, seed 0.
    fn default() -> Self {
        IsolationForestParams {
            n_trees: 100,
            subsample: 256,
            seed: 0,
        }
    }
}

impl IsolationForestParams {
    fn validate(&self) -> Result<()> {
        if self.n_trees == 0 {
            return Err(CoreError::param("n_trees", "must be at least 1"));
        }
        if self.subsample == 0 {
            return Err(CoreError::param("subsample", "must be at least 1"));
        }
        Ok(())
    }

    /// Grows the forest on the normal samples `x`.
    pub fn fit(&self, x: SampleView<'_>) -> Result<IsolationForest> {
        self.validate()?;
        check_fit_input(&x, METHOD)?;
        let n = x.rows();
        let psi = if self.subsample > n {
            tracing::warn!(
                subsample = self.subsample,
                samples = n,
                "subsample is larger than the number of samples; using all samples for each tree"
            );
            n
        } else {
            self.subsample
        };
        let max_depth = (psi.max(2) as f64).log2().ceil() as usize;
        let mut master = ChaCha8Rng::seed_from_u64(self.seed);
        // `n_trees` comes from the user: a count whose seeds alone cannot be allocated
        // (10^12 trees: 8 TB) is an error, not an aborted process.
        let mut tree_seeds: Vec<u64> = Vec::new();
        tree_seeds.try_reserve_exact(self.n_trees).map_err(|_| {
            CoreError::param(
                "n_trees",
                format!("{} trees cannot be allocated", self.n_trees),
            )
        })?;
        tree_seeds.extend((0..self.n_trees).map(|_| master.random::<u64>()));
        let trees: Vec<Vec<Node>> = tree_seeds
            .into_par_iter()
            .map(|seed| {
                let mut rng = ChaCha8Rng::seed_from_u64(seed);
                let mut indices = rand::seq::index::sample(&mut rng, n, psi).into_vec();
                grow_tree(&x, &mut indices, max_depth, &mut rng)
            })
            .collect();
        let forest = Forest::from_trees(trees);
        tracing::debug!(
            trees = self.n_trees,
            psi,
            nodes = forest.feature.len(),
            "isolation forest grown"
        );
        Ok(IsolationForest {
            params: self.clone(),
            n_features: x.cols(),
            psi,
            forest,
        })
    }
}

impl DetectorParams for IsolationForestParams {
    fn fit_detector(&self, x: SampleView<'_>, _device: &Device) -> Result<Box<dyn Detector>> {
        Ok(Box::new(self.fit(x)?))
    }
}

/// One node of a tree while it is grown; `feature` is `None` for leaves.
struct Node {
    feature: Option<usize>,
    threshold: f64,
    left: usize,
    right: usize,
    n_samples: usize,
}

/// Grows one isolation tree on the rows `indices` of `x` (reordered in place).
fn grow_tree(
    x: &SampleView<'_>,
    indices: &mut [usize],
    max_depth: usize,
    rng: &mut ChaCha8Rng,
) -> Vec<Node> {
    let cols = x.cols();
    let mut features: Vec<usize> = (0..cols).collect();
    let mut nodes = Vec::new();
    // (node id, start, end, depth); the left child is expanded first, as scikit-learn's
    // depth-first builder does.
    let mut stack = vec![(0usize, 0usize, indices.len(), 0usize)];
    nodes.push(Node {
        feature: None,
        threshold: 0.0,
        left: 0,
        right: 0,
        n_samples: indices.len(),
    });
    while let Some((id, start, end, depth)) = stack.pop() {
        let n = end - start;
        if depth >= max_depth || n < 2 {
            continue;
        }
        let node_rows = &indices[start..end];
        // Draw features without replacement until one is not constant in this node: this picks
        // uniformly among the non-constant features, like scikit-learn's random splitter.
        let mut remaining = cols;
        let mut split = None;
        while remaining > 0 {
            let j = rng.random_range(0..remaining);
            let f = features[j];
            features.swap(j, remaining - 1);
            remaining -= 1;
            let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
            for &r in node_rows {
                let v = x.row(r)[f];
                lo = lo.min(v);
                hi = hi.max(v);
            }
            let (lo, hi) = (f64::from(lo), f64::from(hi));
            if hi <= lo + FEATURE_THRESHOLD {
                continue;
            }
            let mut threshold = lo + (hi - lo) * rng.random::<f64>();
            if threshold == hi {
                threshold = lo;
            }
            split = Some((f, threshold));
            break;
        }
        let Some((f, threshold)) = split else {
            continue;
        };
        // Partition: samples with value <= threshold go left.
        let rows = &mut indices[start..end];
        let mut mid = 0;
        for k in 0..rows.len() {
            if f64::from(x.row(rows[k])[f]) <= threshold {
                rows.swap(k, mid);
                mid += 1;
            }
        }
        let left = nodes.len();
        let right = left + 1;
        nodes.push(Node {
            feature: None,
            threshold: 0.0,
            left: 0,
            right: 0,
            n_samples: mid,
        });
        nodes.push(Node {
            feature: None,
            threshold: 0.0,
            left: 0,
            right: 0,
            n_samples: n - mid,
        });
        let node = &mut nodes[id];
        node.feature = Some(f);
        node.threshold = threshold;
        node.left = left;
        node.right = right;
        stack.push((right, start + mid, end, depth + 1));
        stack.push((left, start, start + mid, depth + 1));
    }
    nodes
}

/// All trees in flat arrays; children are indices relative to their tree's first node.
#[derive(Debug, Clone, PartialEq)]
struct Forest {
    /// First node of each tree, plus the total node count at the end.
    offsets: Vec<usize>,
    /// Split feature, or -1 for a leaf.
    feature: Vec<i64>,
    threshold: Vec<f64>,
    left: Vec<i64>,
    right: Vec<i64>,
    /// Training samples (of the tree's subsample) that reached the node.
    n_samples: Vec<i64>,
}

impl Forest {
    fn from_trees(trees: Vec<Vec<Node>>) -> Self {
        let total: usize = trees.iter().map(Vec::len).sum();
        let mut f = Forest {
            offsets: Vec::with_capacity(trees.len() + 1),
            feature: Vec::with_capacity(total),
            threshold: Vec::with_capacity(total),
            left: Vec::with_capacity(total),
            right: Vec::with_capacity(total),
            n_samples: Vec::with_capacity(total),
        };
        for tree in trees {
            f.offsets.push(f.feature.len());
            for node in tree {
                let (feature, left, right) = match node.feature {
                    Some(feat) => (feat as i64, node.left as i64, node.right as i64),
                    None => (-1, -1, -1),
                };
                f.feature.push(feature);
                f.threshold.push(node.threshold);
                f.left.push(left);
                f.right.push(right);
                f.n_samples.push(node.n_samples as i64);
            }
        }
        f.offsets.push(f.feature.len());
        f
    }

    /// Depth of the leaf `row` reaches in tree `t` plus `c(n)` of that leaf.
    fn path_length(&self, t: usize, row: &[f32]) -> f64 {
        let base = self.offsets[t];
        let mut node = base;
        let mut depth = 0usize;
        while self.feature[node] >= 0 {
            let f = self.feature[node] as usize;
            let child = if f64::from(row[f]) <= self.threshold[node] {
                self.left[node]
            } else {
                self.right[node]
            };
            node = base + child as usize;
            depth += 1;
        }
        depth as f64 + average_path_length(self.n_samples[node] as usize)
    }
}

/// A fitted Isolation Forest.
#[derive(Debug, Clone, PartialEq)]
pub struct IsolationForest {
    params: IsolationForestParams,
    n_features: usize,
    psi: usize,
    forest: Forest,
}

impl IsolationForest {
    /// The hyperparameters it was fitted with.
    pub fn params(&self) -> &IsolationForestParams {
        &self.params
    }

    /// The subsample size actually used, `min(subsample, training samples)`.
    pub fn effective_subsample(&self) -> usize {
        self.psi
    }

    /// Mean path length `E[h(x)]` over the trees for every sample.
    pub fn mean_path_lengths(&self, x: SampleView<'_>) -> Result<Vec<f64>> {
        x.expect_cols(self.n_features)?;
        let n_trees = self.forest.offsets.len() - 1;
        Ok((0..x.rows())
            .into_par_iter()
            .with_min_len(64)
            .map(|i| {
                let row = x.row(i);
                (0..n_trees)
                    .map(|t| self.forest.path_length(t, row))
                    .sum::<f64>()
                    / n_trees as f64
            })
            .collect())
    }

    /// Loads a forest written by [`Detector::save`].
    pub fn load(path: &Path) -> Result<Self> {
        Self::from_checkpoint(Checkpoint::open(path)?)
    }

    /// [`IsolationForest::load`] from a file already read (its format checked).
    pub fn from_checkpoint(ck: Checkpoint) -> Result<Self> {
        let file = ModelFile::new(ck, METHOD)?;
        let params: IsolationForestParams = file.hyperparameters()?;
        params
            .validate()
            .map_err(|e| file.invalid(format!("stored hyperparameters: {e}")))?;
        let n_features = file.i64s("n_features", &[])?.0[0];
        let psi = file.i64s("subsample_used", &[])?.0[0];
        if n_features < 1 || psi < 1 {
            return Err(file.invalid("`n_features` and `subsample_used` must be positive"));
        }
        if psi as u64 > params.subsample as u64 {
            return Err(file.invalid(format!(
                "`subsample_used` {psi} is larger than hyperparameter `subsample` {}",
                params.subsample
            )));
        }
        // Every tree has at least one node, so the file bounds the number of trees (and
        // `n_trees + 1` cannot overflow below).
        let max_trees = file.len() / 8;
        if params.n_trees > max_trees {
            return Err(file.invalid(format!(
                "hyperparameter `n_trees` {} is more than a file of {} bytes can hold",
                params.n_trees,
                file.len()
            )));
        }
        let (offsets, _) = file.i64s("tree_offsets", &[Some(params.n_trees + 1)])?;
        let (feature, shape) = file.i64s("feature", &[None])?;
        let nodes = Some(shape[0]);
        let (threshold, _) = file.f64s("threshold", &[nodes])?;
        let (left, _) = file.i64s("left", &[nodes])?;
        let (right, _) = file.i64s("right", &[nodes])?;
        let (n_samples, _) = file.i64s("n_samples", &[nodes])?;
        if let Some(k) = threshold.iter().position(|t| !t.is_finite()) {
            return Err(file.invalid(format!("tensor `threshold` holds {} at {k}", threshold[k])));
        }
        let offsets: Vec<usize> = offsets.iter().map(|&o| o.max(0) as usize).collect();
        if offsets[0] != 0
            || offsets.windows(2).any(|w| w[1] <= w[0])
            || offsets[params.n_trees] != feature.len()
        {
            return Err(
                file.invalid("`tree_offsets` do not partition the nodes into non-empty trees")
            );
        }
        for t in 0..params.n_trees {
            let size = (offsets[t + 1] - offsets[t]) as i64;
            // A tree grown on psi samples has at most psi leaves, so 2 psi - 1 nodes.
            let most = psi.saturating_mul(2) - 1;
            if size > most {
                return Err(file.invalid(format!(
                    "tree {t} has {size} nodes; a tree of {psi} samples has at most {most}"
                )));
            }
            for local in 0..size {
                let k = offsets[t] + local as usize;
                let ok = if feature[k] < 0 {
                    left[k] == -1 && right[k] == -1
                } else {
                    // Children come after their parent, so walks always terminate.
                    feature[k] < n_features
                        && left[k] > local
                        && left[k] < size
                        && right[k] > local
                        && right[k] < size
                };
                if !ok || n_samples[k] < 0 || n_samples[k] > psi {
                    return Err(file.invalid(format!("node {local} of tree {t} is malformed")));
                }
            }
        }
        let forest = Forest {
            offsets,
            feature,
            threshold,
            left,
            right,
            n_samples,
        };
        Ok(IsolationForest {
            params,
            n_features: n_features as usize,
            psi: psi as usize,
            forest,
        })
    }
}

impl Detector for IsolationForest {
    fn method(&self) -> &'static str {
        METHOD
    }

    fn n_features(&self) -> usize {
        self.n_features
    }

    /// `2^(-E[h(x)] / c(psi))`; 0.5 for every sample when `psi = 1` (as scikit-learn).
    fn score(&self, x: SampleView<'_>) -> Result<Vec<f64>> {
        let denominator = average_path_length(self.psi);
        let lengths = self.mean_path_lengths(x)?;
        Ok(lengths
            .into_iter()
            .map(|h| {
                if denominator > 0.0 {
                    (-h / denominator).exp2()
                } else {
                    0.5
                }
            })
            .collect())
    }

    fn save(&self, path: &Path) -> Result<()> {
        let f = &self.forest;
        let nodes = f.feature.len();
        save_model(
            path,
            METHOD,
            &self.params,
            vec![
                (
                    "n_features",
                    vec![],
                    Array::I64(vec![self.n_features as i64]),
                ),
                ("subsample_used", vec![], Array::I64(vec![self.psi as i64])),
                (
                    "tree_offsets",
                    vec![f.offsets.len()],
                    Array::I64(f.offsets.iter().map(|&o| o as i64).collect()),
                ),
                ("feature", vec![nodes], Array::I64(f.feature.clone())),
                ("threshold", vec![nodes], Array::F64(f.threshold.clone())),
                ("left", vec![nodes], Array::I64(f.left.clone())),
                ("right", vec![nodes], Array::I64(f.right.clone())),
                ("n_samples", vec![nodes], Array::I64(f.n_samples.clone())),
            ],
        )
    }
}
