//! Property tests on generated data: invariances and identities the metrics must satisfy,
//! checked against brute-force definitions (pairwise Mann-Whitney count, sorting by position).

mod common;

use common::{assert_close, make_case, Lcg};
use dasvdd_eval::{
    auroc, average_precision, contamination_threshold, evaluate, f1_at_contamination,
    f1_at_threshold, mean_by_group, roc_curve, RankedScores, RocPoints,
};

/// Distinct continuous-ish scores (ties have probability ~n^2 / 2^31) and random labels.
fn untied_case(seed: u64, n: usize) -> (Vec<f64>, Vec<u8>) {
    let mut rng = Lcg(seed);
    let labels: Vec<u8> = (0..n).map(|i| u8::from(i % 3 == 0)).collect();
    let scores = labels
        .iter()
        .map(|&y| rng.next_f64() + 0.3 * f64::from(y))
        .collect();
    (scores, labels)
}

/// Generated inputs with heavy ties, in several sizes.
fn tied_cases() -> Vec<(Vec<f64>, Vec<u8>)> {
    (0..12)
        .map(|s| make_case(100 + s, 5 + 37 * s as usize, 2 + s % 6, s % 3, 2, 35))
        .filter(|(_, y)| y.contains(&0) && y.contains(&1))
        .collect()
}

/// AUROC by its definition: the fraction of (anomaly, normal) pairs ranked correctly, ties 1/2.
fn brute_force_auroc(scores: &[f64], labels: &[u8]) -> f64 {
    let (mut wins, mut pairs) = (0.0, 0.0);
    for (i, &si) in scores.iter().enumerate() {
        for (j, &sj) in scores.iter().enumerate() {
            if labels[i] == 1 && labels[j] == 0 {
                pairs += 1.0;
                wins += if si > sj {
                    1.0
                } else if si == sj {
                    0.5
                } else {
                    0.0
                };
            }
        }
    }
    wins / pairs
}

/// AP by its definition: for each anomaly, the precision of the rule "score >= its score",
/// averaged over anomalies.
fn brute_force_ap(scores: &[f64], labels: &[u8]) -> f64 {
    let positives = labels.iter().filter(|&&y| y == 1).count();
    let mut sum = 0.0;
    for (i, &si) in scores.iter().enumerate() {
        if labels[i] == 1 {
            let flagged = scores.iter().filter(|&&s| s >= si).count();
            let hits = scores
                .iter()
                .zip(labels)
                .filter(|(&s, &y)| s >= si && y == 1)
                .count();
            sum += hits as f64 / flagged as f64;
        }
    }
    sum / positives as f64
}

#[test]
fn auroc_equals_pairwise_count_with_ties() {
    assert!(tied_cases().len() >= 10, "too few two-class cases");
    for (scores, labels) in tied_cases() {
        let expected = brute_force_auroc(&scores, &labels);
        assert_close(auroc(&scores, &labels).unwrap(), expected, 1e-12, "auroc");
    }
}

#[test]
fn ap_equals_mean_precision_at_each_anomaly_with_ties() {
    for (scores, labels) in tied_cases() {
        let expected = brute_force_ap(&scores, &labels);
        let ap = average_precision(&scores, &labels).unwrap();
        assert_close(ap, expected, 1e-12, "ap");
    }
}

#[test]
fn reversed_scores_give_one_minus_auroc() {
    for seed in 0..5 {
        let (scores, labels) = untied_case(seed, 300);
        let reversed: Vec<f64> = scores.iter().map(|s| -s).collect();
        let a = auroc(&scores, &labels).unwrap();
        assert_close(auroc(&reversed, &labels).unwrap(), 1.0 - a, 1e-12, "untied");
    }
    // With ties counted one half the identity still holds.
    for (scores, labels) in tied_cases() {
        let reversed: Vec<f64> = scores.iter().map(|s| -s).collect();
        let a = auroc(&scores, &labels).unwrap();
        assert_close(auroc(&reversed, &labels).unwrap(), 1.0 - a, 1e-12, "tied");
    }
}

#[test]
fn flipped_labels_give_one_minus_auroc() {
    for (scores, labels) in tied_cases() {
        let flipped: Vec<u8> = labels.iter().map(|y| 1 - y).collect();
        let a = auroc(&scores, &labels).unwrap();
        assert_close(auroc(&scores, &flipped).unwrap(), 1.0 - a, 1e-12, "flipped");
    }
}

#[test]
fn metrics_are_invariant_under_monotone_maps_and_permutation() {
    for (scores, labels) in tied_cases() {
        let base = evaluate(&scores, &labels).unwrap();
        let mapped: Vec<f64> = scores.iter().map(|s| (3.0 * s).exp() + 1.0).collect();
        let m = evaluate(&mapped, &labels).unwrap();
        assert_close(m.auroc, base.auroc, 1e-12, "monotone auroc");
        assert_close(m.ap, base.ap, 1e-12, "monotone ap");
        assert_close(m.f1, base.f1, 1e-12, "monotone f1");

        let (mut s2, mut y2) = (scores.clone(), labels.clone());
        s2.reverse();
        y2.reverse();
        let n = s2.len();
        s2.rotate_left(n / 3);
        y2.rotate_left(n / 3);
        assert_eq!(evaluate(&s2, &y2).unwrap(), base);
    }
}

#[test]
fn perfect_and_constant_scores() {
    let labels = [0u8, 0, 1, 0, 1, 1];
    let perfect = [0.1, 0.2, 0.9, 0.3, 0.8, 0.7];
    let m = evaluate(&perfect, &labels).unwrap();
    assert_eq!((m.auroc, m.ap, m.f1), (1.0, 1.0, 1.0));
    let worst: Vec<f64> = perfect.iter().map(|s| -s).collect();
    assert_eq!(auroc(&worst, &labels).unwrap(), 0.0);

    // All scores tied: AUROC 1/2, AP = anomaly fraction, everything flagged.
    let constant = [0.5; 6];
    let m = evaluate(&constant, &labels).unwrap();
    assert_eq!((m.auroc, m.ap), (0.5, 0.5));
    assert_close(m.f1, 2.0 / 3.0, 1e-15, "f1 when all are flagged");
    let curve = roc_curve(&constant, &labels, RocPoints::DropIntermediate).unwrap();
    assert_eq!(curve.fpr, [0.0, 1.0]);
    assert_eq!(curve.tpr, [0.0, 1.0]);
}

#[test]
fn roc_curve_is_monotone_and_its_trapezoid_is_the_auroc() {
    for (scores, labels) in tied_cases() {
        let ranked = RankedScores::new(&scores, &labels).unwrap();
        for points in [RocPoints::AllThresholds, RocPoints::DropIntermediate] {
            let c = ranked.roc_curve(points);
            assert_eq!((c.fpr[0], c.tpr[0]), (0.0, 0.0));
            assert_eq!((*c.fpr.last().unwrap(), *c.tpr.last().unwrap()), (1.0, 1.0));
            assert!(c.thresholds.windows(2).all(|w| w[0] > w[1]));
            assert!(c.fpr.windows(2).all(|w| w[0] <= w[1]));
            assert!(c.tpr.windows(2).all(|w| w[0] <= w[1]));
            // Dropping collinear points must not change the area.
            let area: f64 = (1..c.fpr.len())
                .map(|i| (c.fpr[i] - c.fpr[i - 1]) * (c.tpr[i] + c.tpr[i - 1]) / 2.0)
                .sum();
            assert_close(area, ranked.auroc(), 1e-12, "trapezoid");
        }
        let all = ranked.roc_curve(RocPoints::AllThresholds);
        assert_eq!(all.thresholds.len(), ranked.distinct_scores().len() + 1);
    }
}

#[test]
fn f1_flags_ties_with_the_kth_score() {
    // k = round(0.5 * 6) = 3; the 3rd largest score 0.5 is tied with a 4th, so 4 are flagged.
    let scores = [0.9, 0.5, 0.1, 0.5, 0.7, 0.2];
    let labels = [1u8, 0, 0, 1, 1, 0];
    assert_eq!(contamination_threshold(&scores, 0.5), Ok(0.5));
    // Flagged: 0.9 (a), 0.7 (a), 0.5 (n), 0.5 (a): tp 3, fp 1, fn 0 => F1 = 6 / 7.
    let f1 = f1_at_contamination(&scores, &labels, Some(0.5)).unwrap();
    assert_close(f1, 6.0 / 7.0, 1e-15, "tied k-th score");
    // Default contamination = 3 anomalies of 6, the same rule.
    assert_close(
        f1_at_contamination(&scores, &labels, None).unwrap(),
        6.0 / 7.0,
        1e-15,
        "label contamination",
    );
    // Rounding of k: 0.25 * 6 = 1.5 rounds up to 2 => threshold 0.7; tiny fractions flag one.
    assert_eq!(contamination_threshold(&scores, 0.25), Ok(0.7));
    assert_eq!(contamination_threshold(&scores, 1e-9), Ok(0.9));
    assert_eq!(contamination_threshold(&scores, 1.0), Ok(0.1));
}

#[test]
fn sorted_and_selection_paths_agree() {
    for (scores, labels) in tied_cases() {
        let ranked = RankedScores::new(&scores, &labels).unwrap();
        for c in [0.01, 0.1, 0.33, 0.5, 1.0] {
            let thr = contamination_threshold(&scores, c).unwrap();
            let by_threshold = f1_at_threshold(&scores, &labels, thr).unwrap();
            assert_eq!(ranked.f1_at_contamination(Some(c)).unwrap(), by_threshold);
            assert_eq!(
                f1_at_contamination(&scores, &labels, Some(c)).unwrap(),
                by_threshold
            );
            assert_eq!(
                ranked.confusion_at_threshold(thr).unwrap(),
                dasvdd_eval::confusion_at_threshold(&scores, &labels, thr).unwrap()
            );
        }
    }
}

#[test]
fn mean_by_group_averages_in_first_appearance_order() {
    let scores = [1.0, 4.0, 3.0, 2.0, 10.0];
    let groups = [7u32, 3, 7, 3, 9];
    let labels = [true, false, true, false, true];
    let (group_scores, group_labels) = mean_by_group(&scores, &groups, &labels).unwrap();
    assert_eq!(group_scores, [2.0, 3.0, 10.0]);
    assert_eq!(group_labels, [true, false, true]);

    let u8_labels = [1u8, 0, 1, 0, 1];
    let (_, group_labels) = mean_by_group(&scores, &groups, &u8_labels).unwrap();
    assert_eq!(group_labels, [1, 0, 1]);
}
