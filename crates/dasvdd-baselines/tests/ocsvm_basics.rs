//! One-class SVM: parameter and input validation, the solution on a small data set against
//! scikit-learn's `OneClassSVM` (libsvm) for three settings, invariance of the solution to the
//! cache size and to shrinking, and save/load.
//!
//! Expected numbers come from scikit-learn 1.9.1 with this script:
//!
//! ```python
//! import numpy as np
//! from sklearn.svm import OneClassSVM
//! X = np.array([[((i * 7 + j * 5 + i * j * 3) % 17 - 8) / 8 for j in range(4)] for i in range(60)], dtype=np.float64)
//! Q = np.array([[0.0, 0.0, 0.0, 0.0], [0.5, -0.25, 0.125, 1.0], [3.0, -3.0, 3.0, -3.0]])
//! for nu, gamma in [(0.5, 'scale'), (0.1, 'auto'), (0.9, 2.0)]:
//!     m = OneClassSVM(kernel='rbf', nu=nu, gamma=gamma).fit(X)
//!     print(nu, gamma, repr(m._gamma), 'rho', repr(-m.intercept_[0]), 'nsv', len(m.support_), 'sum', m.dual_coef_.sum())
//!     print('  dec', m.decision_function(Q).tolist())
//!     print('  train dec[:5]', m.decision_function(X[:5]).tolist())
//! ```

use candle_core::Device;
use dasvdd_baselines::{Gamma, OneClassSvm, OneClassSvmParams};
use dasvdd_core::{CoreError, Detector, DetectorParams, SampleView};

const ROWS: usize = 60;
const COLS: usize = 4;

fn small_data() -> Vec<f32> {
    let mut x = Vec::new();
    for i in 0..ROWS as i32 {
        for j in 0..COLS as i32 {
            x.push(((i * 7 + j * 5 + i * j * 3) % 17 - 8) as f32 / 8.0);
        }
    }
    x
}

const QUERIES: [f32; 12] = [
    0.0, 0.0, 0.0, 0.0, 0.5, -0.25, 0.125, 1.0, 3.0, -3.0, 3.0, -3.0,
];

struct Expected {
    nu: f64,
    gamma: Gamma,
    gamma_value: f64,
    rho: f64,
    n_support: usize,
    queries: [f64; 3],
    train: [f64; 5],
}

fn expected() -> Vec<Expected> {
    vec![
        Expected {
            nu: 0.5,
            gamma: Gamma::Scale,
            gamma_value: 0.6726462308528287,
            rho: 6.243262991269107,
            n_support: 39,
            queries: [2.917352475527375, 0.0958435583526338, -6.243262300999994],
            train: [
                -3.2011826379019226e-05,
                -0.0003080763789098384,
                -4.399329785709227e-05,
                0.00014468830257907683,
                2.128783346465699,
            ],
        },
        Expected {
            nu: 0.1,
            gamma: Gamma::Auto,
            gamma_value: 0.25,
            rho: 2.6106374853387675,
            n_support: 11,
            queries: [1.0396025193092813, 0.22322860470825479, -2.6073353860463073],
            train: [
                3.428439381769621e-05,
                0.010693473599939995,
                4.96968625247618e-05,
                4.967113420750735e-05,
                0.6450019711688344,
            ],
        },
        Expected {
            nu: 0.9,
            gamma: Gamma::Value(2.0),
            gamma_value: 2.0,
            rho: 5.662485928051276,
            n_support: 59,
            queries: [-1.5127949148104962, -3.950720448433016, -5.662485928051276],
            train: [
                -0.17952548772456733,
                -0.10689951296026301,
                -1.0989982775610505,
                -0.00019397178035518436,
                0.0002606951514581013,
            ],
        },
    ]
}

/// libsvm stops at a KKT violation of 1e-3 and keeps its kernel cache in `f32`, so decision
/// values agree to about the tolerance, not to rounding.
const TOL: f64 = 2e-3;

#[test]
fn solution_matches_libsvm_through_sklearn() {
    let x = small_data();
    let view = SampleView::new(&x, ROWS, COLS).unwrap();
    let q = SampleView::new(&QUERIES, 3, COLS).unwrap();
    for e in expected() {
        let params = OneClassSvmParams {
            nu: e.nu,
            gamma: e.gamma,
            ..Default::default()
        };
        let model = params.fit(view).unwrap();
        assert!(
            (model.gamma() - e.gamma_value).abs() < 1e-12 * e.gamma_value,
            "nu {}: gamma {}",
            e.nu,
            model.gamma()
        );
        assert!(
            (model.rho() - e.rho).abs() < TOL,
            "nu {}: rho {} vs {}",
            e.nu,
            model.rho(),
            e.rho
        );
        let sum: f64 = model.dual_coefs().iter().sum();
        assert!(
            (sum - e.nu * ROWS as f64).abs() < 1e-9,
            "coefficients sum to {sum}"
        );
        assert!(model.dual_coefs().iter().all(|a| *a > 0.0 && *a <= 1.0));
        assert!(
            model.n_support().abs_diff(e.n_support) <= 1,
            "nu {}: {} support vectors",
            e.nu,
            model.n_support()
        );
        let dec = model.decision_function(q).unwrap();
        for (d, t) in dec.iter().zip(e.queries) {
            assert!(
                (d - t).abs() < TOL,
                "nu {}: queries {dec:?} vs {:?}",
                e.nu,
                e.queries
            );
        }
        let dec = model.decision_function(view.slice_rows(0, 5)).unwrap();
        for (d, t) in dec.iter().zip(e.train) {
            assert!(
                (d - t).abs() < TOL,
                "nu {}: train {dec:?} vs {:?}",
                e.nu,
                e.train
            );
        }
    }
}

#[test]
fn cache_size_and_shrinking_do_not_change_the_solution() {
    // With 500 samples the 1 MiB cache holds 262 of the 500 columns, so the solver evicts and
    // recomputes columns all the time, while the default cache holds the whole matrix. The
    // solutions must agree up to the solver tolerance.
    let n = 500;
    let x: Vec<f32> = (0..n * COLS)
        .map(|k| ((k as f32) * 0.618).sin() + ((k / COLS) as f32 * 0.01))
        .collect();
    let view = SampleView::new(&x, n, COLS).unwrap();
    let reference = OneClassSvmParams::default().fit(view).unwrap();
    let b = reference.decision_function(view).unwrap();
    let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    for shrinking in [true, false] {
        let params = OneClassSvmParams {
            shrinking,
            cache_mb: 1,
            ..Default::default()
        };
        let model = params.fit(view).unwrap();
        let a = model.decision_function(view).unwrap();
        let worst = a
            .iter()
            .zip(&b)
            .fold(0.0f64, |m, (u, v)| m.max((u - v).abs()));
        assert!(
            worst < 1e-3 * scale,
            "shrinking {shrinking}: differs by {worst} (scale {scale})"
        );
    }
}

#[test]
fn score_is_negated_decision_function() {
    let x = small_data();
    let view = SampleView::new(&x, ROWS, COLS).unwrap();
    let model = OneClassSvmParams::default().fit(view).unwrap();
    let q = SampleView::new(&QUERIES, 3, COLS).unwrap();
    let s = model.score(q).unwrap();
    let d = model.decision_function(q).unwrap();
    assert_eq!(s, d.iter().map(|v| -v).collect::<Vec<_>>());
    // The far query is the most anomalous.
    assert!(s[2] > s[0] && s[2] > s[1]);
}

#[test]
fn nu_outside_unit_interval_is_rejected() {
    let x = small_data();
    for nu in [0.0, -0.1, 1.5, f64::NAN] {
        let err = OneClassSvmParams {
            nu,
            ..Default::default()
        }
        .fit(SampleView::new(&x, ROWS, COLS).unwrap())
        .unwrap_err();
        assert!(
            matches!(err, CoreError::InvalidParameter { name: "nu", .. }),
            "{err}"
        );
    }
}

#[test]
fn nu_of_one_is_accepted() {
    let x = small_data();
    let model = OneClassSvmParams {
        nu: 1.0,
        ..Default::default()
    }
    .fit(SampleView::new(&x, ROWS, COLS).unwrap());
    assert_eq!(model.unwrap().n_support(), ROWS);
}

#[test]
fn non_positive_gamma_is_rejected() {
    let x = small_data();
    for g in [0.0, -2.0, f64::INFINITY] {
        let params = OneClassSvmParams {
            gamma: Gamma::Value(g),
            ..Default::default()
        };
        let err = params
            .fit(SampleView::new(&x, ROWS, COLS).unwrap())
            .unwrap_err();
        assert!(
            matches!(err, CoreError::InvalidParameter { name: "gamma", .. }),
            "{err}"
        );
    }
}

#[test]
fn non_positive_tolerance_is_rejected() {
    let x = small_data();
    let params = OneClassSvmParams {
        tol: 0.0,
        ..Default::default()
    };
    let err = params
        .fit(SampleView::new(&x, ROWS, COLS).unwrap())
        .unwrap_err();
    assert!(
        matches!(err, CoreError::InvalidParameter { name: "tol", .. }),
        "{err}"
    );
}

#[test]
fn zero_cache_is_rejected() {
    let x = small_data();
    let params = OneClassSvmParams {
        cache_mb: 0,
        ..Default::default()
    };
    let err = params
        .fit(SampleView::new(&x, ROWS, COLS).unwrap())
        .unwrap_err();
    assert!(
        matches!(
            err,
            CoreError::InvalidParameter {
                name: "cache_mb",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn empty_input_is_rejected() {
    let err = OneClassSvmParams::default()
        .fit(SampleView::new(&[], 0, COLS).unwrap())
        .unwrap_err();
    assert!(matches!(err, CoreError::InvalidInput(_)), "{err}");
}

#[test]
fn constant_data_uses_unit_gamma() {
    let x = vec![0.5f32; 10 * COLS];
    let model = OneClassSvmParams::default()
        .fit(SampleView::new(&x, 10, COLS).unwrap())
        .unwrap();
    assert_eq!(model.gamma(), 1.0);
    let d = model
        .decision_function(SampleView::new(&x[..COLS], 1, COLS).unwrap())
        .unwrap();
    assert!(d[0].abs() < 1e-9, "{d:?}");
}

#[test]
fn save_and_load_round_trip() {
    let x = small_data();
    let view = SampleView::new(&x, ROWS, COLS).unwrap();
    let model = OneClassSvmParams::default().fit(view).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ocsvm.safetensors");
    model.save(&path).unwrap();
    let loaded = OneClassSvm::load(&path).unwrap();
    assert_eq!(loaded, model);
    assert_eq!(loaded.score(view).unwrap(), model.score(view).unwrap());
}

#[test]
fn loading_a_file_with_a_missing_tensor_fails_clearly() {
    // A KDE file has the right metadata layout but another method.
    let x = small_data();
    let view = SampleView::new(&x, ROWS, COLS).unwrap();
    let kde = dasvdd_baselines::KdeParams {
        bandwidth: dasvdd_baselines::Bandwidth::Fixed(1.0),
    }
    .fit(view)
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kde.safetensors");
    kde.save(&path).unwrap();
    let err = OneClassSvm::load(&path).unwrap_err();
    assert!(
        matches!(&err, CoreError::Checkpoint { problem, .. } if problem.contains("kde")),
        "{err}"
    );
}

#[test]
fn boxed_detector_scores_like_typed_model() {
    let x = small_data();
    let view = SampleView::new(&x, ROWS, COLS).unwrap();
    let params = OneClassSvmParams::default();
    let boxed = params.fit_detector(view, &Device::Cpu).unwrap();
    assert_eq!(boxed.method(), "ocsvm");
    assert_eq!(boxed.n_features(), COLS);
    assert_eq!(
        boxed.score(view).unwrap(),
        params.fit(view).unwrap().score(view).unwrap()
    );
}

#[test]
fn loading_a_file_with_a_mis_shaped_or_missing_tensor_fails_clearly() {
    use safetensors::tensor::{Dtype, TensorView};
    use safetensors::SafeTensors;

    let x = small_data();
    let view = SampleView::new(&x, ROWS, COLS).unwrap();
    let model = OneClassSvmParams::default().fit(view).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.safetensors");
    model.save(&good).unwrap();
    let bytes = std::fs::read(&good).unwrap();
    let tensors = SafeTensors::deserialize(&bytes).unwrap();
    let (_, header) = SafeTensors::read_metadata(&bytes).unwrap();
    // Without the tensors' checksum, as another tool would write the file: with it, both files
    // below would be refused as damaged before their tensors are looked at.
    let mut metadata = header.metadata().clone();
    if let Some(m) = metadata.as_mut() {
        m.remove(dasvdd_core::checkpoint::CHECKSUM_KEY);
    }

    // Drop the last dual coefficient: its length no longer matches the support vectors.
    let coefs = tensors.tensor("dual_coef").unwrap();
    let n = coefs.shape()[0];
    let short = &coefs.data()[..(n - 1) * 8];
    let mut views: Vec<(String, TensorView<'_>)> = tensors
        .tensors()
        .into_iter()
        .filter(|(name, _)| name != "dual_coef")
        .collect();
    views.push((
        "dual_coef".into(),
        TensorView::new(Dtype::F64, vec![n - 1], short).unwrap(),
    ));
    let bad = dir.path().join("bad.safetensors");
    std::fs::write(
        &bad,
        safetensors::serialize(views, metadata.clone()).unwrap(),
    )
    .unwrap();
    let err = OneClassSvm::load(&bad).unwrap_err();
    assert!(
        matches!(&err, CoreError::Checkpoint { problem, .. } if problem.contains("dual_coef")),
        "{err}"
    );

    // Leave out `rho` altogether.
    let views: Vec<(String, TensorView<'_>)> = tensors
        .tensors()
        .into_iter()
        .filter(|(name, _)| name != "rho")
        .collect();
    let missing = dir.path().join("missing.safetensors");
    std::fs::write(&missing, safetensors::serialize(views, metadata).unwrap()).unwrap();
    let err = OneClassSvm::load(&missing).unwrap_err();
    assert!(
        matches!(&err, CoreError::Checkpoint { problem, .. } if problem.contains("`rho` is missing")),
        "{err}"
    );
}
