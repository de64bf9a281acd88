//! Preprocessing against numbers computed with NumPy (script in each test), the zero-variance
//! guard, training-only statistics and serialisation of fitted scalers.

use dasvdd_data::preprocess::{
    global_contrast_normalize, scale_pixels, GcnNorm, MinMaxScaler, Preprocessing, StandardScaler,
};
use dasvdd_data::{DataError, FittedPreprocessing, Matrix};

fn close(a: &[f32], b: &[f64]) {
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        assert!(
            (f64::from(*x) - y).abs() < 1e-5 * y.abs().max(1.0),
            "{a:?} vs {b:?}"
        );
    }
}

fn m(rows: usize, cols: usize, v: &[f64]) -> Matrix {
    Matrix::new(v.iter().map(|&x| x as f32).collect(), rows, cols).unwrap()
}

// Python (numpy 2.4.6), the reference code's global_contrast_normalization on each row:
//   x = np.array([[0.1,0.5,0.9,0.3],[0.0,1.0,0.25,0.75]])
//   for r in x: r = r - r.mean(); s = np.mean(np.abs(r)) (l1) or np.sqrt(np.sum(r**2))/r.size (l2); r/s
#[test]
fn gcn_matches_the_reference_formula() {
    let x = m(2, 4, &[0.1, 0.5, 0.9, 0.3, 0.0, 1.0, 0.25, 0.75]);
    let mut l1 = x.clone();
    global_contrast_normalize(&mut l1, GcnNorm::L1);
    close(
        &l1.data,
        &[
            -1.4,
            0.2,
            1.8,
            -0.6,
            -4.0 / 3.0,
            4.0 / 3.0,
            -2.0 / 3.0,
            2.0 / 3.0,
        ],
    );
    let mut l2 = x;
    global_contrast_normalize(&mut l2, GcnNorm::L2);
    close(
        &l2.data,
        &[
            -2.3664319132398464,
            0.33806170189140655,
            3.04255531702266,
            -1.0141851056742202,
            -2.5298221281347035,
            2.5298221281347035,
            -1.2649110640673518,
            1.2649110640673518,
        ],
    );
}

#[test]
fn gcn_of_a_constant_image_is_zero_not_nan() {
    for norm in [GcnNorm::L1, GcnNorm::L2] {
        let mut x = m(2, 3, &[0.7, 0.7, 0.7, 0.0, 0.0, 0.0]);
        global_contrast_normalize(&mut x, norm);
        assert_eq!(x.data, vec![0.0; 6]);
    }
}

#[test]
fn pixel_scaling_maps_bytes_to_unit_range() {
    let mut x = m(1, 3, &[0.0, 51.0, 255.0]);
    scale_pixels(&mut x);
    close(&x.data, &[0.0, 0.2, 1.0]);
}

// Python (numpy 2.4.6; scikit-learn 1.9.1's StandardScaler and MinMaxScaler give the same):
//   t = np.array([[1.,10.,5.],[2.,30.,5.],[4.,20.,5.]]); q = np.array([[3.,0.,7.]])
//   m, s = t.mean(0), t.std(0); (q-m)/np.where(s==0,1,s)        -> [0.5345224838248487, -2.449489742783178, 2.0]
//   mn, mx = t.min(0), t.max(0); (q-mn)/np.where(mx-mn==0,1,mx-mn) -> [0.6666666666666666, -0.5, 2.0]
#[test]
fn scalers_use_training_statistics_only() {
    let train = m(3, 3, &[1., 10., 5., 2., 30., 5., 4., 20., 5.]);
    let z = StandardScaler::fit(&train).unwrap();
    close(&z.mean, &[2.3333333333333335, 20.0, 5.0]);
    close(&z.std, &[1.247219128924647, 8.16496580927726, 1.0]);
    let mut q = m(1, 3, &[3., 0., 7.]);
    z.transform(&mut q).unwrap();
    close(&q.data, &[0.5345224838248487, -2.449489742783178, 2.0]);

    let mm = MinMaxScaler::fit(&train).unwrap();
    let mut q = m(1, 3, &[3., 0., 7.]);
    mm.transform(&mut q).unwrap();
    close(&q.data, &[0.6666666666666666, -0.5, 2.0]);

    // fit_transform fits on the training matrix only: a test value never moves the statistics.
    let mut tr = train.clone();
    let fitted = Preprocessing::ZScore.fit_transform(&mut tr).unwrap();
    assert_eq!(fitted, FittedPreprocessing::ZScore(z.clone()));
    close(
        &tr.data[..3],
        &[-1.0690449676496976, -1.224744871391589, 0.0],
    );
}

#[test]
fn fitted_steps_round_trip_through_json() {
    let train = m(3, 2, &[1., 2., 3., 5., 0., -1.]);
    for step in [
        Preprocessing::MinMax,
        Preprocessing::ZScore,
        Preprocessing::GcnMinMax(GcnNorm::L1),
        Preprocessing::None,
    ] {
        let mut t = train.clone();
        let fitted = step.fit_transform(&mut t).unwrap();
        let json = serde_json::to_string(&fitted).unwrap();
        let back: FittedPreprocessing = serde_json::from_str(&json).unwrap();
        assert_eq!(back, fitted);
        let mut again = train.clone();
        back.transform(&mut again).unwrap();
        assert_eq!(
            again, t,
            "{step:?}: the stored step transforms like the fitted one"
        );
    }
}

#[test]
fn scaler_errors() {
    assert!(matches!(
        StandardScaler::fit(&Matrix::empty(3)),
        Err(DataError::Invalid { .. })
    ));
    let nan = m(2, 1, &[1.0, f64::NAN]);
    let err = MinMaxScaler::fit(&nan).unwrap_err();
    assert!(err.to_string().contains("row 2"), "{err}");
    let z = StandardScaler::fit(&m(2, 2, &[1., 2., 3., 4.])).unwrap();
    let mut wrong = m(1, 3, &[1., 2., 3.]);
    assert!(matches!(
        z.transform(&mut wrong),
        Err(DataError::Invalid { .. })
    ));
}

// Deep SVDD's CIFAR-10 step: GCN l1, then (x - min) / (max - min) with the min and max of the
// normal class's training data. With the rows of `gcn_matches_the_reference_formula` as training
// data, the l1 values span [-1.4, 1.8]; a test row equal to the first training row maps to
//   python: lo, hi = -1.4, 1.8; [(v - lo) / (hi - lo) for v in (-1.4, 0.2, 1.8, -0.6)]
//   -> [0.0, 0.5, 1.0, 0.25]
#[test]
fn deep_svdd_global_min_max_after_gcn() {
    let mut train = m(2, 4, &[0.1, 0.5, 0.9, 0.3, 0.0, 1.0, 0.25, 0.75]);
    let fitted = Preprocessing::GcnGlobalMinMax(GcnNorm::L1)
        .fit_transform(&mut train)
        .unwrap();
    match &fitted {
        FittedPreprocessing::GcnGlobalMinMax(GcnNorm::L1, s) => {
            close(&[s.min, s.max], &[-1.4, 1.8]);
        }
        other => panic!("unexpected {other:?}"),
    }
    let (lo, hi) = train
        .data
        .iter()
        .fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
    assert!(lo.abs() < 1e-6 && (hi - 1.0).abs() < 1e-6);
    let mut test = m(1, 4, &[0.1, 0.5, 0.9, 0.3]);
    fitted.transform(&mut test).unwrap();
    close(&test.data, &[0.0, 0.5, 1.0, 0.25]);
}
