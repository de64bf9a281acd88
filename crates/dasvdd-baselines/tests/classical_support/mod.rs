//! Real data for the scikit-learn agreement tests of the classical baselines: the ODDS `cardio`
//! and `thyroid` files (train = the normal rows, test = all rows) and a Fashion-MNIST subset
//! (train = the first 1,000 training images of class 0, test = the first 1,000 test images,
//! anomaly = any other class), pixels / 255 in `f32`. Each loader returns `None`, after printing
//! a note, when its files are absent, so the tests skip instead of failing.
//!
//! The Python side of every agreement test loads the same data with this `data.py`:
//!
//! ```python
//! import gzip, numpy as np, scipy.io
//! def odds(name):
//!     m = scipy.io.loadmat(f'/work/shared/data/odds/{name}.mat')
//!     X = m['X'].astype(np.float32).astype(np.float64); y = m['y'].ravel().astype(int)
//!     return X[y == 0], X, y
//! def fmnist():
//!     d = '/usr/share/datasets/fashion-mnist/'
//!     def imgs(f):
//!         with gzip.open(d + f) as fh: return np.frombuffer(fh.read(), np.uint8, offset=16).reshape(-1, 784)
//!     def labs(f):
//!         with gzip.open(d + f) as fh: return np.frombuffer(fh.read(), np.uint8, offset=8)
//!     xtr, ytr = imgs('train-images-idx3-ubyte.gz'), labs('train-labels-idx1-ubyte.gz')
//!     xte, yte = imgs('t10k-images-idx3-ubyte.gz'), labs('t10k-labels-idx1-ubyte.gz')
//!     train = (xtr[ytr == 0][:1000].astype(np.float32) / 255).astype(np.float64)
//!     test = (xte[:1000].astype(np.float32) / 255).astype(np.float64)
//!     return train, test, (yte[:1000] != 0).astype(int)
//! ```

#![allow(dead_code)] // Each test file uses a different part of this module.

use std::path::{Path, PathBuf};

use dasvdd_core::SampleView;

/// A training set of normal samples and a labelled test set (1 = anomaly).
pub struct Agreement {
    pub name: &'static str,
    pub cols: usize,
    pub train: Vec<f32>,
    pub test: Vec<f32>,
    pub labels: Vec<u8>,
}

impl Agreement {
    pub fn train(&self) -> SampleView<'_> {
        SampleView::new(&self.train, self.train.len() / self.cols, self.cols).unwrap()
    }

    pub fn test(&self) -> SampleView<'_> {
        SampleView::new(&self.test, self.labels.len(), self.cols).unwrap()
    }

    /// The test rows at `0, stride, 2 stride, ...` (`count` of them), with
    /// `stride = test rows / count` as in the Python scripts (`np.arange(count) * (n // count)`).
    pub fn strided_rows(&self, count: usize) -> Vec<usize> {
        let stride = self.labels.len() / count;
        (0..count).map(|k| k * stride).collect()
    }

    /// The test rows at `rows` as a new matrix.
    pub fn test_rows(&self, rows: &[usize]) -> Vec<f32> {
        rows.iter()
            .flat_map(|&r| {
                self.test[r * self.cols..(r + 1) * self.cols]
                    .iter()
                    .copied()
            })
            .collect()
    }
}

fn shared_odds_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/odds")
}

/// ODDS `name.mat`: train = rows labelled normal, test = every row.
pub fn odds(name: &'static str) -> Option<Agreement> {
    let path = shared_odds_dir().join(format!("{name}.mat"));
    if !path.exists() {
        println!(
            "note: {} is absent; skipping the {name} agreement check",
            path.display()
        );
        return None;
    }
    let data = dasvdd_data::mat::read_mat(&path).unwrap();
    let cols = data.x.cols;
    let mut train = Vec::new();
    for (i, &label) in data.y.iter().enumerate() {
        if label == 0 {
            train.extend_from_slice(data.x.row(i));
        }
    }
    Some(Agreement {
        name,
        cols,
        train,
        test: data.x.data,
        labels: data.y,
    })
}

/// The Fashion-MNIST subset described in the module comment.
pub fn fashion_mnist() -> Option<Agreement> {
    let dir = Path::new("/usr/share/datasets/fashion-mnist");
    let files = [
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    ];
    if files.iter().any(|f| !dir.join(f).exists()) {
        println!("note: Fashion-MNIST is absent from {} (apt-get install dataset-fashion-mnist); skipping", dir.display());
        return None;
    }
    let train_set =
        dasvdd_data::idx::load_idx_pair(&dir.join(files[0]), &dir.join(files[1])).unwrap();
    let test_set =
        dasvdd_data::idx::load_idx_pair(&dir.join(files[2]), &dir.join(files[3])).unwrap();
    let cols = 784;
    let scale = |p: &[u8]| {
        p.iter()
            .map(|&v| f32::from(v) / 255.0)
            .collect::<Vec<f32>>()
    };
    let mut train = Vec::new();
    for (i, _) in train_set
        .labels
        .iter()
        .enumerate()
        .filter(|(_, &l)| l == 0)
        .take(1000)
    {
        train.extend(scale(&train_set.pixels[i * cols..(i + 1) * cols]));
    }
    let test = scale(&test_set.pixels[..1000 * cols]);
    let labels = test_set.labels[..1000]
        .iter()
        .map(|&l| u8::from(l != 0))
        .collect();
    Some(Agreement {
        name: "fashion-mnist",
        cols,
        train,
        test,
        labels,
    })
}

/// Pearson correlation of two equally long series.
pub fn correlation(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        sab += (x - ma) * (y - mb);
        saa += (x - ma) * (x - ma);
        sbb += (y - mb) * (y - mb);
    }
    sab / (saa * sbb).sqrt()
}
