//! Kernel density estimation: parameter and input validation, log-densities and the
//! cross-validated bandwidth on a small data set against scikit-learn, and save/load.
//!
//! Expected numbers come from scikit-learn 1.9.1 with this script:
//!
//! ```python
//! import numpy as np
//! from sklearn.neighbors import KernelDensity
//! from sklearn.model_selection import GridSearchCV
//! X = np.array([[((i * 7 + j * 3 + i * j) % 11 - 5) / 4 for j in range(3)] for i in range(12)], dtype=np.float64)
//! Q = np.array([[0.125, -0.25, 0.375], [2.0, 2.0, -2.0]])
//! print(KernelDensity(kernel='gaussian', bandwidth=0.5).fit(X).score_samples(Q).tolist())
//! gs = GridSearchCV(KernelDensity(kernel='gaussian'), {'bandwidth': np.logspace(-1, 1, 20)}, cv=5).fit(X)
//! print(repr(gs.best_params_['bandwidth']), gs.best_index_)
//! print(gs.cv_results_['mean_test_score'].tolist())
//! ```

use candle_core::Device;
use dasvdd_baselines::kde::logspace;
use dasvdd_baselines::{Bandwidth, Kde, KdeParams};
use dasvdd_core::{CoreError, Detector, DetectorParams, SampleView};

/// The 12 x 3 data set of the script above.
fn small_data() -> Vec<f32> {
    let mut x = Vec::new();
    for i in 0..12i32 {
        for j in 0..3i32 {
            x.push(((i * 7 + j * 3 + i * j) % 11 - 5) as f32 / 4.0);
        }
    }
    x
}

const QUERIES: [f32; 6] = [0.125, -0.25, 0.375, 2.0, 2.0, -2.0];

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * b.abs().max(1.0)
}

#[test]
fn fixed_bandwidth_log_density_matches_sklearn() {
    let x = small_data();
    let model = KdeParams {
        bandwidth: Bandwidth::Fixed(0.5),
    }
    .fit(SampleView::new(&x, 12, 3).unwrap())
    .unwrap();
    let got = model
        .log_density(SampleView::new(&QUERIES, 2, 3).unwrap())
        .unwrap();
    let expected = [-3.186916369062872, -13.397912380275272];
    for (g, e) in got.iter().zip(expected) {
        assert!(close(*g, e, 1e-12), "{got:?} vs {expected:?}");
    }
    let scores = model
        .score(SampleView::new(&QUERIES, 2, 3).unwrap())
        .unwrap();
    assert_eq!(scores, got.iter().map(|v| -v).collect::<Vec<_>>());
}

#[test]
fn cross_validated_bandwidth_matches_grid_search_cv() {
    let x = small_data();
    let model = KdeParams::default()
        .fit(SampleView::new(&x, 12, 3).unwrap())
        .unwrap();
    assert!(
        close(model.bandwidth(), 0.8858667904100825, 1e-14),
        "{}",
        model.bandwidth()
    );
    let expected = [
        -147.49618315843014,
        -90.60511025917357,
        -56.2007811326789,
        -35.65306540571447,
        -23.618464401871034,
        -16.765887364199926,
        -13.02786983274964,
        -11.120131963867147,
        -10.277266520871311,
        -10.119157527516311,
        -10.463651931172468,
        -11.201853969463425,
        -12.250422790932138,
        -13.531527862105856,
        -14.976169612881671,
        -16.53034588759046,
        -18.155569168108773,
        -19.82596139543997,
        -21.52471901802719,
        -23.241155903750442,
    ];
    let got = model.cv_mean_log_likelihoods().unwrap();
    for (g, e) in got.iter().zip(expected) {
        assert!(close(*g, e, 1e-10), "{got:?}");
    }
}

#[test]
fn default_grid_is_numpy_logspace() {
    let grid = Bandwidth::default_grid();
    assert_eq!(grid.len(), 20);
    assert_eq!(grid[0], 0.1);
    assert_eq!(grid[19], 10.0);
    // np.logspace(-1, 1, 20)[9] = 0.8858667904100825
    assert!(close(grid[9], 0.8858667904100825, 1e-15));
    assert_eq!(logspace(0.0, 2.0, 3), vec![1.0, 10.0, 100.0]);
}

#[test]
fn non_positive_bandwidth_is_rejected() {
    let x = small_data();
    for h in [0.0, -1.0, f64::NAN] {
        let err = KdeParams {
            bandwidth: Bandwidth::Fixed(h),
        }
        .fit(SampleView::new(&x, 12, 3).unwrap())
        .unwrap_err();
        assert!(
            matches!(
                err,
                CoreError::InvalidParameter {
                    name: "bandwidth",
                    ..
                }
            ),
            "{err}"
        );
    }
}

#[test]
fn empty_grid_is_rejected() {
    let x = small_data();
    let params = KdeParams {
        bandwidth: Bandwidth::CrossValidated {
            grid: vec![],
            folds: 5,
        },
    };
    let err = params.fit(SampleView::new(&x, 12, 3).unwrap()).unwrap_err();
    assert!(
        matches!(
            err,
            CoreError::InvalidParameter {
                name: "bandwidth_grid",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn non_positive_grid_value_is_rejected() {
    let x = small_data();
    let params = KdeParams {
        bandwidth: Bandwidth::CrossValidated {
            grid: vec![1.0, 0.0],
            folds: 5,
        },
    };
    let err = params.fit(SampleView::new(&x, 12, 3).unwrap()).unwrap_err();
    assert!(
        matches!(
            err,
            CoreError::InvalidParameter {
                name: "bandwidth_grid",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn fewer_than_two_folds_is_rejected() {
    let x = small_data();
    let params = KdeParams {
        bandwidth: Bandwidth::CrossValidated {
            grid: vec![1.0],
            folds: 1,
        },
    };
    let err = params.fit(SampleView::new(&x, 12, 3).unwrap()).unwrap_err();
    assert!(
        matches!(err, CoreError::InvalidParameter { name: "folds", .. }),
        "{err}"
    );
}

#[test]
fn fewer_samples_than_folds_is_rejected() {
    let x = small_data();
    let err = KdeParams::default()
        .fit(SampleView::new(&x[..12], 4, 3).unwrap())
        .unwrap_err();
    assert!(matches!(err, CoreError::InvalidInput(_)), "{err}");
}

#[test]
fn empty_input_is_rejected() {
    let err = KdeParams::default()
        .fit(SampleView::new(&[], 0, 3).unwrap())
        .unwrap_err();
    assert!(matches!(err, CoreError::InvalidInput(_)), "{err}");
}

#[test]
fn far_points_have_tiny_but_finite_log_density() {
    // exp(-d^2 / 2h^2) underflows for every centre; log-sum-exp keeps the exact value.
    let x = small_data();
    let model = KdeParams {
        bandwidth: Bandwidth::Fixed(0.1),
    }
    .fit(SampleView::new(&x, 12, 3).unwrap())
    .unwrap();
    let far = [100.0f32, 100.0, 100.0];
    let ld = model
        .log_density(SampleView::new(&far, 1, 3).unwrap())
        .unwrap()[0];
    assert!(ld.is_finite() && ld < -1e5, "{ld}");
}

#[test]
fn save_and_load_round_trip() {
    let x = small_data();
    let view = SampleView::new(&x, 12, 3).unwrap();
    let model = KdeParams::default().fit(view).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kde.safetensors");
    model.save(&path).unwrap();
    let loaded = Kde::load(&path).unwrap();
    assert_eq!(loaded, model);
    let q = SampleView::new(&QUERIES, 2, 3).unwrap();
    assert_eq!(loaded.score(q).unwrap(), model.score(q).unwrap());
}

#[test]
fn loading_another_methods_file_fails_clearly() {
    let x = small_data();
    let view = SampleView::new(&x, 12, 3).unwrap();
    let forest = dasvdd_baselines::IsolationForestParams::default()
        .fit(view)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("if.safetensors");
    forest.save(&path).unwrap();
    let err = Kde::load(&path).unwrap_err();
    assert!(
        matches!(&err, CoreError::Checkpoint { problem, .. } if problem.contains("iforest")),
        "{err}"
    );
}

#[test]
fn boxed_detector_scores_like_typed_model() {
    let x = small_data();
    let view = SampleView::new(&x, 12, 3).unwrap();
    let params = KdeParams::default();
    let boxed = params.fit_detector(view, &Device::Cpu).unwrap();
    assert_eq!(boxed.method(), "kde");
    assert_eq!(
        boxed.score(view).unwrap(),
        params.fit(view).unwrap().score(view).unwrap()
    );
}

#[test]
fn leave_one_out_training_scores_leave_each_samples_own_kernel_out() {
    let x = small_data();
    let model = KdeParams {
        bandwidth: Bandwidth::Fixed(0.5),
    }
    .fit(SampleView::new(&x, 12, 3).unwrap())
    .unwrap();
    // Each training sample's density under a model fitted on the other 11.
    let loo = model.leave_one_out_log_density().unwrap();
    for i in 0..12 {
        let rest: Vec<f32> = (0..12)
            .filter(|&r| r != i)
            .flat_map(|r| x[r * 3..r * 3 + 3].to_vec())
            .collect();
        let other = KdeParams {
            bandwidth: Bandwidth::Fixed(0.5),
        }
        .fit(SampleView::new(&rest, 11, 3).unwrap())
        .unwrap();
        let want = other
            .log_density(SampleView::new(&x[i * 3..i * 3 + 3], 1, 3).unwrap())
            .unwrap()[0];
        assert!(close(loo[i], want, 1e-12), "row {i}: {} vs {want}", loo[i]);
    }
    let train = SampleView::new(&x, 12, 3).unwrap();
    let scores = model.training_scores(train).unwrap();
    assert_eq!(scores, loo.iter().map(|v| -v).collect::<Vec<_>>());
    // Other samples are scored as usual.
    let q = SampleView::new(&QUERIES, 2, 3).unwrap();
    assert_eq!(model.training_scores(q).unwrap(), model.score(q).unwrap());
}

#[test]
fn a_threshold_from_leave_one_out_scores_flags_about_its_share_of_new_samples() {
    // 400 training and 2,000 new samples of one Gaussian in 4 dimensions; the threshold at the
    // training scores' top 10% should flag about 10% of the new ones. From the in-sample
    // scores (each sample's own kernel counted) it flags far more.
    let gauss = |n: usize, seed: u64| -> Vec<f32> {
        let mut s = seed;
        let mut u = move || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        };
        (0..n * 4)
            .map(|_| ((-2.0 * u().ln()).sqrt() * (std::f64::consts::TAU * u()).cos()) as f32)
            .collect()
    };
    let (train, new) = (gauss(400, 1), gauss(2000, 2));
    let model = KdeParams::default()
        .fit(SampleView::new(&train, 400, 4).unwrap())
        .unwrap();
    let flagged = |scores: &[f64]| {
        let t = dasvdd_eval::contamination_threshold(scores, 0.1).unwrap();
        let new_scores = model
            .score(SampleView::new(&new, 2000, 4).unwrap())
            .unwrap();
        new_scores.iter().filter(|&&s| s >= t).count() as f64 / 2000.0
    };
    let view = SampleView::new(&train, 400, 4).unwrap();
    let loo = flagged(&model.training_scores(view).unwrap());
    let in_sample = flagged(&model.score(view).unwrap());
    eprintln!("flagged: leave-one-out {loo}, in-sample {in_sample}");
    assert!((0.06..=0.15).contains(&loo), "leave-one-out: {loo}");
    assert!(
        in_sample > loo,
        "in-sample {in_sample} vs leave-one-out {loo}"
    );
}
