//! Agreement of Isolation Forest with scikit-learn's `IsolationForest(n_estimators=100,
//! max_samples=256)` on real data: ODDS cardio and thyroid and a Fashion-MNIST subset (see
//! `classical_support`). The random streams differ, so the comparison is statistical: the test
//! AUROC averaged over seeds 0..9 must be within 0.01 of scikit-learn's average over
//! `random_state` 0..9. Each check skips with a note when its data files are absent.
//!
//! Expected numbers come from scikit-learn 1.9.1 with `data.py` of `classical_support` and:
//!
//! ```python
//! import numpy as np
//! from sklearn.ensemble import IsolationForest
//! from sklearn.metrics import roc_auc_score
//! from data import odds, fmnist
//! for name, (train, test, y) in [('cardio', odds('cardio')), ('thyroid', odds('thyroid')), ('fmnist', fmnist())]:
//!     aucs = [roc_auc_score(y, -IsolationForest(n_estimators=100, max_samples=256, random_state=s).fit(train).score_samples(test)) for s in range(10)]
//!     print(name, 'mean auroc', repr(float(np.mean(aucs))), 'std', float(np.std(aucs)))
//! ```

mod classical_support;

use classical_support::{fashion_mnist, odds, Agreement};
use dasvdd_baselines::IsolationForestParams;
use dasvdd_core::Detector;

fn check(data: Option<Agreement>, sklearn_mean_auroc: f64) {
    let Some(data) = data else { return };
    let aurocs: Vec<f64> = (0..10)
        .map(|seed| {
            let model = IsolationForestParams {
                seed,
                ..Default::default()
            }
            .fit(data.train())
            .unwrap();
            dasvdd_eval::auroc(&model.score(data.test()).unwrap(), &data.labels).unwrap()
        })
        .collect();
    let mean = aurocs.iter().sum::<f64>() / aurocs.len() as f64;
    println!(
        "{}: mean auroc {mean:.4} vs scikit-learn {sklearn_mean_auroc:.4} ({aurocs:.4?})",
        data.name
    );
    assert!(
        (mean - sklearn_mean_auroc).abs() < 0.01,
        "{}: mean auroc {mean} vs {sklearn_mean_auroc}",
        data.name
    );
}

/// scikit-learn's mean test AUROC over `random_state` 0..9 (standard deviation 0.009062602232847357).
const CARDIO_MEAN_AUROC: f64 = 0.9524749382037901;
/// scikit-learn's mean test AUROC over `random_state` 0..9 (standard deviation 0.002136028752899396).
const THYROID_MEAN_AUROC: f64 = 0.9882088692871778;
/// scikit-learn's mean test AUROC over `random_state` 0..9 (standard deviation 0.0037223526088448664).
const FMNIST_MEAN_AUROC: f64 = 0.9167899864993563;

#[test]
fn cardio_matches_sklearn() {
    check(odds("cardio"), CARDIO_MEAN_AUROC);
}

#[test]
fn thyroid_matches_sklearn() {
    check(odds("thyroid"), THYROID_MEAN_AUROC);
}

#[test]
fn fashion_mnist_matches_sklearn() {
    check(fashion_mnist(), FMNIST_MEAN_AUROC);
}
