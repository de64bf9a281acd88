//! Isolation Forest: parameter and input validation, seeding, the scikit-learn conventions for
//! tiny subsamples, outlier ranking on synthetic data, and save/load round trips.

use candle_core::Device;
use dasvdd_baselines::{IsolationForest, IsolationForestParams};
use dasvdd_core::{CoreError, Detector, DetectorParams, SampleView};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// `n` points of a 2-d standard-ish cluster (uniform in [-1, 1]^2).
fn cluster(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..2 * n).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

#[test]
fn zero_trees_is_rejected() {
    let x = cluster(10, 0);
    let params = IsolationForestParams {
        n_trees: 0,
        ..Default::default()
    };
    let err = params.fit(SampleView::new(&x, 10, 2).unwrap()).unwrap_err();
    assert!(
        matches!(
            err,
            CoreError::InvalidParameter {
                name: "n_trees",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn zero_subsample_is_rejected() {
    let x = cluster(10, 0);
    let params = IsolationForestParams {
        subsample: 0,
        ..Default::default()
    };
    let err = params.fit(SampleView::new(&x, 10, 2).unwrap()).unwrap_err();
    assert!(
        matches!(
            err,
            CoreError::InvalidParameter {
                name: "subsample",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn empty_input_is_rejected() {
    let err = IsolationForestParams::default()
        .fit(SampleView::new(&[], 0, 2).unwrap())
        .unwrap_err();
    assert!(matches!(err, CoreError::InvalidInput(_)), "{err}");
}

#[test]
fn non_finite_input_is_rejected() {
    let x = [0.0, f32::NAN, 1.0, 2.0];
    assert!(matches!(
        SampleView::new(&x, 2, 2),
        Err(CoreError::InvalidInput(_))
    ));
}

#[test]
fn wrong_width_at_scoring_is_rejected() {
    let x = cluster(50, 1);
    let model = IsolationForestParams::default()
        .fit(SampleView::new(&x, 50, 2).unwrap())
        .unwrap();
    let y = [0.0f32; 3];
    assert!(matches!(
        model.score(SampleView::new(&y, 1, 3).unwrap()),
        Err(CoreError::InvalidInput(_))
    ));
}

#[test]
fn subsample_is_clamped_to_the_sample_count() {
    let x = cluster(100, 2);
    let model = IsolationForestParams::default()
        .fit(SampleView::new(&x, 100, 2).unwrap())
        .unwrap();
    assert_eq!(model.effective_subsample(), 100);
}

#[test]
fn outliers_score_higher_than_inliers() {
    let n = 500;
    let x = cluster(n, 3);
    let model = IsolationForestParams::default()
        .fit(SampleView::new(&x, n, 2).unwrap())
        .unwrap();
    let test = [0.0f32, 0.0, 0.1, -0.2, 6.0, 6.0, -5.0, 4.0];
    let s = model.score(SampleView::new(&test, 4, 2).unwrap()).unwrap();
    assert!(s.iter().all(|v| (0.0..=1.0).contains(v)), "{s:?}");
    assert!(s[2].min(s[3]) > s[0].max(s[1]) + 0.1, "{s:?}");
    // Both far points are isolated within the first splits: their scores exceed 0.5.
    assert!(s[2] > 0.5 && s[3] > 0.5, "{s:?}");
}

#[test]
fn constant_features_are_never_split_on() {
    // Feature 1 is constant: a tree can only split on feature 0, so the score depends on
    // feature 0 alone.
    let n = 200;
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let x: Vec<f32> = (0..n)
        .flat_map(|_| [rng.random_range(0.0f32..1.0), 3.0])
        .collect();
    let model = IsolationForestParams::default()
        .fit(SampleView::new(&x, n, 2).unwrap())
        .unwrap();
    let test = [0.5f32, 3.0, 0.5, -100.0, 0.5, 100.0];
    let s = model.score(SampleView::new(&test, 3, 2).unwrap()).unwrap();
    assert_eq!(s[0], s[1]);
    assert_eq!(s[0], s[2]);
}

#[test]
fn all_constant_data_gives_root_leaves() {
    // No split is possible: every path is c(psi) long and every score is 2^-1.
    let x = vec![1.0f32; 40];
    let model = IsolationForestParams::default()
        .fit(SampleView::new(&x, 20, 2).unwrap())
        .unwrap();
    let s = model
        .score(SampleView::new(&[7.0, -7.0], 1, 2).unwrap())
        .unwrap();
    assert!((s[0] - 0.5).abs() < 1e-12, "{s:?}");
}

#[test]
fn single_sample_scores_one_half() {
    let model = IsolationForestParams::default()
        .fit(SampleView::new(&[1.0, 2.0], 1, 2).unwrap())
        .unwrap();
    let s = model
        .score(SampleView::new(&[0.0, 0.0], 1, 2).unwrap())
        .unwrap();
    assert_eq!(s, vec![0.5]);
}

#[test]
fn same_seed_same_forest_other_seed_other_forest() {
    let n = 300;
    let x = cluster(n, 5);
    let view = SampleView::new(&x, n, 2).unwrap();
    let a = IsolationForestParams {
        seed: 7,
        ..Default::default()
    }
    .fit(view)
    .unwrap();
    let b = IsolationForestParams {
        seed: 7,
        ..Default::default()
    }
    .fit(view)
    .unwrap();
    let c = IsolationForestParams {
        seed: 8,
        ..Default::default()
    }
    .fit(view)
    .unwrap();
    assert_eq!(a.score(view).unwrap(), b.score(view).unwrap());
    assert_ne!(a.score(view).unwrap(), c.score(view).unwrap());
}

#[test]
fn save_and_load_round_trip() {
    let n = 300;
    let x = cluster(n, 6);
    let view = SampleView::new(&x, n, 2).unwrap();
    let model = IsolationForestParams {
        n_trees: 20,
        ..Default::default()
    }
    .fit(view)
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("if.safetensors");
    model.save(&path).unwrap();
    let loaded = IsolationForest::load(&path).unwrap();
    assert_eq!(loaded, model);
    assert_eq!(loaded.score(view).unwrap(), model.score(view).unwrap());
    // Only the model file is left behind: the temporary file was renamed.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn boxed_detector_matches_typed_model() {
    let n = 100;
    let x = cluster(n, 9);
    let view = SampleView::new(&x, n, 2).unwrap();
    let params = IsolationForestParams::default();
    let boxed = params.fit_detector(view, &Device::Cpu).unwrap();
    assert_eq!(boxed.method(), "iforest");
    assert_eq!(boxed.n_features(), 2);
    assert_eq!(
        boxed.score(view).unwrap(),
        params.fit(view).unwrap().score(view).unwrap()
    );
}

#[test]
fn loading_a_missing_or_foreign_file_fails_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("absent.safetensors");
    assert!(matches!(
        IsolationForest::load(&missing),
        Err(CoreError::Io { .. })
    ));

    let garbage = dir.path().join("garbage.safetensors");
    std::fs::write(&garbage, b"not a model").unwrap();
    assert!(matches!(
        IsolationForest::load(&garbage),
        Err(CoreError::Checkpoint { .. })
    ));
}
