//! One test per `EvalError` variant: every invalid input is rejected with the right variant
//! (checked with `matches!`) instead of producing NaN.

use dasvdd_eval::{
    auroc, average_precision, confusion_at_threshold, contamination_threshold, evaluate,
    f1_at_contamination, f1_at_threshold, mean, mean_by_group, mean_std, roc_curve, std_dev,
    EvalError, RankedScores, RocPoints,
};

const SCORES: [f64; 4] = [0.1, 0.4, 0.35, 0.8];
const LABELS: [u8; 4] = [0, 0, 1, 1];

#[test]
fn empty_input() {
    let none: [f64; 0] = [];
    let no_labels: [u8; 0] = [];
    assert!(matches!(auroc(&none, &no_labels), Err(EvalError::Empty)));
    assert!(matches!(evaluate(&none, &no_labels), Err(EvalError::Empty)));
    assert!(matches!(
        f1_at_threshold(&none, &no_labels, 0.5),
        Err(EvalError::Empty)
    ));
    assert!(matches!(
        contamination_threshold(&none, 0.1),
        Err(EvalError::Empty)
    ));
    let no_groups: [u32; 0] = [];
    assert!(matches!(
        mean_by_group(&none, &no_groups, &no_labels),
        Err(EvalError::Empty)
    ));
    assert!(matches!(mean(&none), Err(EvalError::Empty)));
    assert!(matches!(std_dev(&none, 0), Err(EvalError::Empty)));
}

#[test]
fn length_mismatch() {
    let err = auroc(&SCORES, &LABELS[..3]).unwrap_err();
    assert!(matches!(
        err,
        EvalError::LengthMismatch {
            what: "labels",
            scores: 4,
            other: 3
        }
    ));
    assert_eq!(err.to_string(), "length mismatch: 4 scores but 3 labels");
    assert!(matches!(
        average_precision(&SCORES[..2], &LABELS),
        Err(EvalError::LengthMismatch { .. })
    ));
    assert!(matches!(
        confusion_at_threshold(&SCORES, &LABELS[..1], 0.5),
        Err(EvalError::LengthMismatch { .. })
    ));
    assert!(matches!(
        mean_by_group(&SCORES, &[0, 0, 1], &LABELS),
        Err(EvalError::LengthMismatch { what: "groups", .. })
    ));
    assert!(matches!(
        mean_by_group(&SCORES, &[0, 0, 1, 1], &LABELS[..3]),
        Err(EvalError::LengthMismatch { what: "labels", .. })
    ));
}

#[test]
fn non_finite_score_names_its_index() {
    for (index, bad) in [(0, f64::NAN), (2, f64::INFINITY), (3, f64::NEG_INFINITY)] {
        let mut scores = SCORES;
        scores[index] = bad;
        let err = auroc(&scores, &LABELS).unwrap_err();
        assert!(
            matches!(err, EvalError::NonFiniteScore { index: i, .. } if i == index),
            "{err}"
        );
        assert!(err.to_string().contains(&format!("at index {index}")));
        assert!(matches!(
            evaluate(&scores, &LABELS),
            Err(EvalError::NonFiniteScore { index: i, .. }) if i == index
        ));
        assert!(matches!(
            f1_at_contamination(&scores, &LABELS, None),
            Err(EvalError::NonFiniteScore { index: i, .. }) if i == index
        ));
        assert!(matches!(
            contamination_threshold(&scores, 0.5),
            Err(EvalError::NonFiniteScore { index: i, .. }) if i == index
        ));
        assert!(matches!(
            mean_by_group(&scores, &[1, 1, 2, 2], &LABELS),
            Err(EvalError::NonFiniteScore { index: i, .. }) if i == index
        ));
    }
}

#[test]
fn invalid_label_names_index_and_value() {
    let labels = [0u8, 1, 2, 1];
    let err = auroc(&SCORES, &labels).unwrap_err();
    assert!(matches!(
        err,
        EvalError::InvalidLabel { index: 2, value: 2 }
    ));
    assert_eq!(
        err.to_string(),
        "invalid label 2 at index 2: labels must be 0 (normal) or 1 (anomaly)"
    );
    assert!(matches!(
        f1_at_threshold(&SCORES, &[255u8, 0, 1, 1], 0.5),
        Err(EvalError::InvalidLabel {
            index: 0,
            value: 255
        })
    ));
    assert!(matches!(
        mean_by_group(&SCORES, &[0, 0, 1, 1], &labels),
        Err(EvalError::InvalidLabel { index: 2, .. })
    ));
}

#[test]
fn single_class() {
    let normals = [0u8; 4];
    let anomalies = [true; 4];
    assert!(matches!(
        auroc(&SCORES, &normals),
        Err(EvalError::SingleClass {
            positives: 0,
            negatives: 4
        })
    ));
    assert!(matches!(
        average_precision(&SCORES, &anomalies),
        Err(EvalError::SingleClass {
            positives: 4,
            negatives: 0
        })
    ));
    assert!(matches!(
        roc_curve(&SCORES, &normals, RocPoints::AllThresholds),
        Err(EvalError::SingleClass { .. })
    ));
    assert!(matches!(
        RankedScores::new(&SCORES, &anomalies),
        Err(EvalError::SingleClass { .. })
    ));
    assert!(matches!(
        evaluate(&SCORES, &normals),
        Err(EvalError::SingleClass { .. })
    ));
    // F1 of the anomaly class needs an anomaly, but not a normal sample.
    assert!(matches!(
        f1_at_threshold(&SCORES, &normals, 0.5),
        Err(EvalError::SingleClass { positives: 0, .. })
    ));
    assert!(matches!(
        f1_at_contamination(&SCORES, &normals, Some(0.5)),
        Err(EvalError::SingleClass { positives: 0, .. })
    ));
    assert_eq!(f1_at_threshold(&SCORES, &anomalies, 0.3), Ok(6.0 / 7.0));
    // Counts stay defined with one class.
    let c = confusion_at_threshold(&SCORES, &normals, 0.3).unwrap();
    assert_eq!((c.false_positives, c.true_negatives), (3, 1));
}

#[test]
fn invalid_contamination() {
    let ranked = RankedScores::new(&SCORES, &LABELS).unwrap();
    for bad in [0.0, -0.1, 1.5, f64::NAN, f64::INFINITY] {
        assert!(matches!(
            contamination_threshold(&SCORES, bad),
            Err(EvalError::InvalidContamination { .. })
        ));
        assert!(matches!(
            f1_at_contamination(&SCORES, &LABELS, Some(bad)),
            Err(EvalError::InvalidContamination { .. })
        ));
        assert!(matches!(
            ranked.f1_at_contamination(Some(bad)),
            Err(EvalError::InvalidContamination { .. })
        ));
    }
}

#[test]
fn invalid_threshold() {
    assert!(matches!(
        f1_at_threshold(&SCORES, &LABELS, f64::NAN),
        Err(EvalError::InvalidThreshold { .. })
    ));
    let ranked = RankedScores::new(&SCORES, &LABELS).unwrap();
    assert!(matches!(
        ranked.confusion_at_threshold(f64::NAN),
        Err(EvalError::InvalidThreshold { .. })
    ));
    // Infinite thresholds are valid: flag everything or nothing.
    assert_eq!(
        f1_at_threshold(&SCORES, &LABELS, f64::NEG_INFINITY),
        Ok(2.0 / 3.0)
    );
    assert_eq!(f1_at_threshold(&SCORES, &LABELS, f64::INFINITY), Ok(0.0));
}

#[test]
fn non_finite_value_in_statistics() {
    let err = mean(&[1.0, 2.0, f64::NAN]).unwrap_err();
    assert!(matches!(err, EvalError::NonFiniteValue { index: 2, .. }));
    assert!(matches!(
        std_dev(&[f64::INFINITY, 1.0], 1),
        Err(EvalError::NonFiniteValue { index: 0, .. })
    ));
}

#[test]
fn too_few_values_for_ddof() {
    assert!(matches!(
        std_dev(&[0.9], 1),
        Err(EvalError::TooFewValues { len: 1, ddof: 1 })
    ));
    assert!(matches!(
        mean_std(&[0.9, 0.8], 2),
        Err(EvalError::TooFewValues { len: 2, ddof: 2 })
    ));
    assert_eq!(std_dev(&[0.9], 0), Ok(0.0));
}

#[test]
fn mixed_group_labels() {
    let groups = ["a", "b", "a", "b"];
    let labels = [0u8, 1, 0, 0];
    let err = mean_by_group(&SCORES, &groups, &labels).unwrap_err();
    assert!(matches!(
        err,
        EvalError::MixedGroupLabels {
            first_row: 1,
            row: 3
        }
    ));
    assert_eq!(
        err.to_string(),
        "group mixes labels: row 3 disagrees with row 1 of the same group"
    );
}

#[test]
fn sums_beyond_f64_give_finite_means_or_an_error_never_nan() {
    // The mean of finite values is finite even when their sum overflows.
    assert_eq!(mean(&[1e308, 1e308]).unwrap(), 1e308);
    let m = mean_std(&[1e308, -1e308, 1e308], 1).unwrap();
    assert!((m.mean - 1e308 / 3.0).abs() <= 1e293, "{m:?}");
    // numpy.std([1e308, -1e308, 1e308], ddof=1) computed at a smaller scale: 1.1547005e308.
    assert!(
        (m.std / 1.1547005383792515e308 - 1.0).abs() < 1e-12,
        "{m:?}"
    );
    // A std beyond f64::MAX is an error.
    assert!(matches!(
        std_dev(&[1.7e308, -1.7e308], 1),
        Err(EvalError::StdOverflow)
    ));
    let (means, _) = mean_by_group(&[1e308, 1e308, 0.5], &[0, 0, 1], &[0u8, 0, 1]).unwrap();
    assert_eq!(means, [1e308, 0.5]);
}
