//! Reference tests: every metric against the values scikit-learn 1.9.1 computes on the same
//! inputs, random scores with ties (rounded to one decimal, a few levels only, binary).
//!
//! The inputs are not embedded: `common::make_case` and the script's `make_case` draw them from
//! the same integer generator. `CASES` and the `RUNS_*` constants below are this script's
//! output, pasted verbatim:
//!
//! ```text
//! # Prints the expected-value table of crates/dasvdd-eval/tests/sklearn.rs.
//! # pip install scikit-learn numpy   (run with scikit-learn 1.9.1, numpy 2.4.6)
//! import math
//!
//! import numpy as np
//! from sklearn.metrics import average_precision_score, f1_score, roc_auc_score, roc_curve
//!
//! MASK = (1 << 64) - 1
//!
//!
//! class Lcg:
//!     """The 64-bit LCG of tests/common/mod.rs (Knuth's MMIX constants), output = state >> 33."""
//!
//!     def __init__(self, seed):
//!         self.state = seed & MASK
//!
//!     def next(self):
//!         self.state = (self.state * 6364136223846793005 + 1442695040888963407) & MASK
//!         return self.state >> 33
//!
//!
//! def make_case(seed, n, levels, shift, offset, pos_percent):
//!     """Labels ~ Bernoulli(pos_percent / 100); score = (uniform level + shift * label - offset) / 10."""
//!     rng = Lcg(seed)
//!     scores, labels = [], []
//!     for _ in range(n):
//!         y = 1 if rng.next() % 100 < pos_percent else 0
//!         level = rng.next() % levels + shift * y
//!         scores.append((level - offset) / 10)
//!         labels.append(y)
//!     return np.array(scores), np.array(labels)
//!
//!
//! def top_k_threshold(s, c):
//!     k = min(max(math.floor(c * len(s) + 0.5), 1), len(s))
//!     return np.sort(s)[::-1][k - 1]
//!
//!
//! def arr(xs):
//!     return "&[" + ", ".join("f64::INFINITY" if math.isinf(x) else repr(float(x)) for x in xs) + "]"
//!
//!
//! # name, seed, n, levels, shift, offset, pos_percent, fixed threshold, contamination
//! CASES = [
//!     ("tiny", 1, 12, 5, 1, 0, 30, 0.3, 0.25),
//!     ("one_decimal", 2, 57, 11, 3, 5, 20, 0.2, 0.1),
//!     ("heavy_ties", 3, 200, 3, 1, 1, 50, 0.1, 0.3),
//!     ("binary_scores", 4, 500, 2, 1, 0, 5, 0.1, 0.05),
//!     ("few_ties", 5, 1000, 1000, 200, 500, 10, 30.0, 0.1),
//!     ("large_one_decimal", 6, 2000, 21, 4, 10, 15, 0.5, 0.2),
//! ]
//!
//! for name, seed, n, levels, shift, offset, pos, thr, cont in CASES:
//!     s, y = make_case(seed, n, levels, shift, offset, pos)
//!     assert 0 < y.sum() < n
//!     label_k_thr = np.sort(s)[::-1][int(y.sum()) - 1]
//!     fpr, tpr, th = roc_curve(y, s, drop_intermediate=False)
//!     dfpr, dtpr, dth = roc_curve(y, s, drop_intermediate=True)
//!     small = len(th) <= 40
//!     print("    Case {")
//!     print(f'        name: "{name}", seed: {seed}, n: {n}, levels: {levels}, shift: {shift}, offset: {offset}, pos_percent: {pos},')
//!     print(f"        auroc: {roc_auc_score(y, s)!r},")
//!     print(f"        ap: {average_precision_score(y, s)!r},")
//!     print(f"        threshold: {thr!r}, f1_at_threshold: {f1_score(y, s >= thr)!r},")
//!     print(f"        f1_label_contamination: {f1_score(y, s >= label_k_thr)!r},")
//!     print(f"        contamination: {cont!r}, contamination_threshold: {float(top_k_threshold(s, cont))!r},")
//!     print(f"        f1_at_contamination: {f1_score(y, s >= top_k_threshold(s, cont))!r},")
//!     print(f"        roc_len: {len(th)}, roc_dropped_len: {len(dth)},")
//!     if small:
//!         print(f"        roc: Some(Roc {{ fpr: {arr(fpr)}, tpr: {arr(tpr)}, thresholds: {arr(th)} }}),")
//!         print(f"        roc_dropped: Some(Roc {{ fpr: {arr(dfpr)}, tpr: {arr(dtpr)}, thresholds: {arr(dth)} }}),")
//!     else:
//!         print("        roc: None,")
//!         print("        roc_dropped: None,")
//!     print("    },")
//!
//! # Ten per-seed AUROCs, summarised as the report does.
//! runs = np.array([0.9123, 0.8871, 0.9342, 0.9011, 0.8954, 0.9207, 0.9105, 0.8899, 0.929, 0.9068])
//! print(f"const RUNS_MEAN: f64 = {float(np.mean(runs))!r};")
//! print(f"const RUNS_STD_DDOF0: f64 = {float(np.std(runs, ddof=0))!r};")
//! print(f"const RUNS_STD_DDOF1: f64 = {float(np.std(runs, ddof=1))!r};")
//! ```

mod common;

use common::{assert_close, make_case};
use dasvdd_eval::{
    auroc, average_precision, contamination_threshold, evaluate, f1_at_contamination,
    f1_at_threshold, mean, mean_std, roc_curve, std_dev, RankedScores, RocCurve, RocPoints,
};

/// Metrics must agree with scikit-learn to this absolute tolerance.
const TOL: f64 = 1e-12;

struct Roc {
    fpr: &'static [f64],
    tpr: &'static [f64],
    thresholds: &'static [f64],
}

struct Case {
    name: &'static str,
    seed: u64,
    n: usize,
    levels: u64,
    shift: u64,
    offset: i64,
    pos_percent: u64,
    auroc: f64,
    ap: f64,
    threshold: f64,
    f1_at_threshold: f64,
    f1_label_contamination: f64,
    contamination: f64,
    contamination_threshold: f64,
    f1_at_contamination: f64,
    roc_len: usize,
    roc_dropped_len: usize,
    roc: Option<Roc>,
    roc_dropped: Option<Roc>,
}

impl Case {
    fn inputs(&self) -> (Vec<f64>, Vec<u8>) {
        make_case(
            self.seed,
            self.n,
            self.levels,
            self.shift,
            self.offset,
            self.pos_percent,
        )
    }
}

#[rustfmt::skip]
const CASES: &[Case] = &[
    Case {
        name: "tiny", seed: 1, n: 12, levels: 5, shift: 1, offset: 0, pos_percent: 30,
        auroc: 0.8333333333333333,
        ap: 0.5873015873015873,
        threshold: 0.3, f1_at_threshold: 0.6666666666666666,
        f1_label_contamination: 0.6666666666666666,
        contamination: 0.25, contamination_threshold: 0.3,
        f1_at_contamination: 0.6666666666666666,
        roc_len: 5, roc_dropped_len: 5,
        roc: Some(Roc { fpr: &[0.0, 0.1111111111111111, 0.3333333333333333, 0.4444444444444444, 1.0], tpr: &[0.0, 0.6666666666666666, 0.6666666666666666, 1.0, 1.0], thresholds: &[f64::INFINITY, 0.3, 0.2, 0.1, 0.0] }),
        roc_dropped: Some(Roc { fpr: &[0.0, 0.1111111111111111, 0.3333333333333333, 0.4444444444444444, 1.0], tpr: &[0.0, 0.6666666666666666, 0.6666666666666666, 1.0, 1.0], thresholds: &[f64::INFINITY, 0.3, 0.2, 0.1, 0.0] }),
    },
    Case {
        name: "one_decimal", seed: 2, n: 57, levels: 11, shift: 3, offset: 5, pos_percent: 20,
        auroc: 0.8686224489795918,
        ap: 0.6567078754578755,
        threshold: 0.2, f1_at_threshold: 0.4375,
        f1_label_contamination: 0.47619047619047616,
        contamination: 0.1, contamination_threshold: 0.5,
        f1_at_contamination: 0.5714285714285714,
        roc_len: 15, roc_dropped_len: 14,
        roc: Some(Roc { fpr: &[0.0, 0.0, 0.0, 0.0, 0.04081632653061224, 0.16326530612244897, 0.22448979591836735, 0.3469387755102041, 0.40816326530612246, 0.5102040816326531, 0.5306122448979592, 0.6530612244897959, 0.6938775510204082, 0.8163265306122449, 1.0], tpr: &[0.0, 0.25, 0.375, 0.5, 0.5, 0.625, 0.625, 0.875, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0], thresholds: &[f64::INFINITY, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0, -0.1, -0.2, -0.3, -0.4, -0.5] }),
        roc_dropped: Some(Roc { fpr: &[0.0, 0.0, 0.0, 0.04081632653061224, 0.16326530612244897, 0.22448979591836735, 0.3469387755102041, 0.40816326530612246, 0.5102040816326531, 0.5306122448979592, 0.6530612244897959, 0.6938775510204082, 0.8163265306122449, 1.0], tpr: &[0.0, 0.25, 0.5, 0.5, 0.625, 0.625, 0.875, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0], thresholds: &[f64::INFINITY, 0.8, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0, -0.1, -0.2, -0.3, -0.4, -0.5] }),
    },
    Case {
        name: "heavy_ties", seed: 3, n: 200, levels: 3, shift: 1, offset: 1, pos_percent: 50,
        auroc: 0.824779911964786,
        ap: 0.7960249129877267,
        threshold: 0.1, f1_at_threshold: 0.7064676616915423,
        f1_label_contamination: 0.7064676616915423,
        contamination: 0.3, contamination_threshold: 0.1,
        f1_at_contamination: 0.7064676616915423,
        roc_len: 5, roc_dropped_len: 5,
        roc: Some(Roc { fpr: &[0.0, 0.0, 0.3137254901960784, 0.5980392156862745, 1.0], tpr: &[0.0, 0.40816326530612246, 0.7244897959183674, 1.0, 1.0], thresholds: &[f64::INFINITY, 0.2, 0.1, 0.0, -0.1] }),
        roc_dropped: Some(Roc { fpr: &[0.0, 0.0, 0.3137254901960784, 0.5980392156862745, 1.0], tpr: &[0.0, 0.40816326530612246, 0.7244897959183674, 1.0, 1.0], thresholds: &[f64::INFINITY, 0.2, 0.1, 0.0, -0.1] }),
    },
    Case {
        name: "binary_scores", seed: 4, n: 500, levels: 2, shift: 1, offset: 0, pos_percent: 5,
        auroc: 0.8955026455026456,
        ap: 0.5953329538986909,
        threshold: 0.1, f1_at_threshold: 0.10566037735849057,
        f1_label_contamination: 0.10566037735849057,
        contamination: 0.05, contamination_threshold: 0.1,
        f1_at_contamination: 0.10566037735849057,
        roc_len: 4, roc_dropped_len: 4,
        roc: Some(Roc { fpr: &[0.0, 0.0, 0.4876543209876543, 1.0], tpr: &[0.0, 0.5714285714285714, 1.0, 1.0], thresholds: &[f64::INFINITY, 0.2, 0.1, 0.0] }),
        roc_dropped: Some(Roc { fpr: &[0.0, 0.0, 0.4876543209876543, 1.0], tpr: &[0.0, 0.5714285714285714, 1.0, 1.0], thresholds: &[f64::INFINITY, 0.2, 0.1, 0.0] }),
    },
    Case {
        name: "few_ties", seed: 5, n: 1000, levels: 1000, shift: 200, offset: 500, pos_percent: 10,
        auroc: 0.6911738087696275,
        ap: 0.336165471388561,
        threshold: 30.0, f1_at_threshold: 0.2635135135135135,
        f1_label_contamination: 0.2857142857142857,
        contamination: 0.1, contamination_threshold: 39.8,
        f1_at_contamination: 0.2828282828282828,
        roc_len: 627, roc_dropped_len: 390,
        roc: None,
        roc_dropped: None,
    },
    Case {
        name: "large_one_decimal", seed: 6, n: 2000, levels: 21, shift: 4, offset: 10, pos_percent: 15,
        auroc: 0.6758140894114354,
        ap: 0.3696914857811028,
        threshold: 0.5, f1_at_threshold: 0.309255079006772,
        f1_label_contamination: 0.29497568881685576,
        contamination: 0.2, contamination_threshold: 0.7,
        f1_at_contamination: 0.29567642956764295,
        roc_len: 26, roc_dropped_len: 26,
        roc: Some(Roc { fpr: &[0.0, 0.0, 0.0, 0.0, 0.0, 0.050669772859638904, 0.09027373325567851, 0.1415259172976121, 0.19103086779266162, 0.2294700058241118, 0.27140361094933024, 0.3255678509027373, 0.37565521258008155, 0.42516016307513105, 0.4711706464764123, 0.5183459522422831, 0.5730926033779848, 0.6150262085032032, 0.6610366919044846, 0.7093768200349446, 0.7600465928945835, 0.8159580663948748, 0.8666278392545137, 0.9091438555620268, 0.9574839836924869, 1.0], tpr: &[0.0, 0.038869257950530034, 0.10600706713780919, 0.13780918727915195, 0.19081272084805653, 0.23674911660777384, 0.26855123674911663, 0.3215547703180212, 0.3745583038869258, 0.42402826855123676, 0.4840989399293286, 0.5371024734982333, 0.5795053003533569, 0.6395759717314488, 0.6855123674911661, 0.7314487632508834, 0.7667844522968198, 0.8091872791519434, 0.8445229681978799, 0.8798586572438163, 0.9469964664310954, 1.0, 1.0, 1.0, 1.0, 1.0], thresholds: &[f64::INFINITY, 1.4, 1.3, 1.2, 1.1, 1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0, -0.1, -0.2, -0.3, -0.4, -0.5, -0.6, -0.7, -0.8, -0.9, -1.0] }),
        roc_dropped: Some(Roc { fpr: &[0.0, 0.0, 0.0, 0.0, 0.0, 0.050669772859638904, 0.09027373325567851, 0.1415259172976121, 0.19103086779266162, 0.2294700058241118, 0.27140361094933024, 0.3255678509027373, 0.37565521258008155, 0.42516016307513105, 0.4711706464764123, 0.5183459522422831, 0.5730926033779848, 0.6150262085032032, 0.6610366919044846, 0.7093768200349446, 0.7600465928945835, 0.8159580663948748, 0.8666278392545137, 0.9091438555620268, 0.9574839836924869, 1.0], tpr: &[0.0, 0.038869257950530034, 0.10600706713780919, 0.13780918727915195, 0.19081272084805653, 0.23674911660777384, 0.26855123674911663, 0.3215547703180212, 0.3745583038869258, 0.42402826855123676, 0.4840989399293286, 0.5371024734982333, 0.5795053003533569, 0.6395759717314488, 0.6855123674911661, 0.7314487632508834, 0.7667844522968198, 0.8091872791519434, 0.8445229681978799, 0.8798586572438163, 0.9469964664310954, 1.0, 1.0, 1.0, 1.0, 1.0], thresholds: &[f64::INFINITY, 1.4, 1.3, 1.2, 1.1, 1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0, -0.1, -0.2, -0.3, -0.4, -0.5, -0.6, -0.7, -0.8, -0.9, -1.0] }),
    },
];

#[rustfmt::skip]
const RUNS_MEAN: f64 = 0.9087000000000002;
const RUNS_STD_DDOF0: f64 = 0.015102317702922297;
const RUNS_STD_DDOF1: f64 = 0.015919240629572205;

fn assert_roc(name: &str, got: &RocCurve, expected: &Roc) {
    assert_eq!(
        got.thresholds.len(),
        expected.thresholds.len(),
        "{name}: roc length"
    );
    for i in 0..got.fpr.len() {
        assert_close(
            got.fpr[i],
            expected.fpr[i],
            TOL,
            &format!("{name}: fpr[{i}]"),
        );
        assert_close(
            got.tpr[i],
            expected.tpr[i],
            TOL,
            &format!("{name}: tpr[{i}]"),
        );
    }
    assert_eq!(got.thresholds[0], f64::INFINITY, "{name}: first threshold");
    // Thresholds are input scores, returned unchanged, so they compare exactly.
    assert_eq!(
        &got.thresholds[1..],
        &expected.thresholds[1..],
        "{name}: thresholds"
    );
}

#[test]
fn generator_produces_ties_and_both_classes() {
    for case in CASES {
        let (scores, labels) = case.inputs();
        let mut distinct = scores.clone();
        distinct.sort_by(f64::total_cmp);
        distinct.dedup();
        assert!(distinct.len() < scores.len(), "{}: no ties", case.name);
        assert!(labels.contains(&0) && labels.contains(&1), "{}", case.name);
    }
}

#[test]
fn auroc_matches_roc_auc_score() {
    for case in CASES {
        let (scores, labels) = case.inputs();
        assert_close(auroc(&scores, &labels).unwrap(), case.auroc, TOL, case.name);
    }
}

#[test]
fn average_precision_matches_sklearn() {
    for case in CASES {
        let (scores, labels) = case.inputs();
        let ap = average_precision(&scores, &labels).unwrap();
        assert_close(ap, case.ap, TOL, case.name);
    }
}

#[test]
fn f1_at_threshold_matches_f1_score() {
    for case in CASES {
        let (scores, labels) = case.inputs();
        let f1 = f1_at_threshold(&scores, &labels, case.threshold).unwrap();
        assert_close(f1, case.f1_at_threshold, TOL, case.name);
        let ranked = RankedScores::new(&scores, &labels).unwrap();
        let f1 = ranked.confusion_at_threshold(case.threshold).unwrap().f1();
        assert_close(f1, case.f1_at_threshold, TOL, case.name);
    }
}

#[test]
fn f1_at_contamination_matches_f1_score_at_top_k() {
    for case in CASES {
        let (scores, labels) = case.inputs();
        let thr = contamination_threshold(&scores, case.contamination).unwrap();
        assert_eq!(thr, case.contamination_threshold, "{}", case.name);

        let f1 = f1_at_contamination(&scores, &labels, Some(case.contamination)).unwrap();
        assert_close(f1, case.f1_at_contamination, TOL, case.name);
        let f1 = f1_at_contamination(&scores, &labels, None).unwrap();
        assert_close(f1, case.f1_label_contamination, TOL, case.name);

        let ranked = RankedScores::new(&scores, &labels).unwrap();
        let f1 = ranked
            .f1_at_contamination(Some(case.contamination))
            .unwrap();
        assert_close(f1, case.f1_at_contamination, TOL, case.name);
        let f1 = ranked.f1_at_contamination(None).unwrap();
        assert_close(f1, case.f1_label_contamination, TOL, case.name);
    }
}

#[test]
fn roc_curve_matches_sklearn_points() {
    for case in CASES {
        let (scores, labels) = case.inputs();
        let all = roc_curve(&scores, &labels, RocPoints::AllThresholds).unwrap();
        let dropped = roc_curve(&scores, &labels, RocPoints::DropIntermediate).unwrap();
        assert_eq!(all.thresholds.len(), case.roc_len, "{}", case.name);
        assert_eq!(
            dropped.thresholds.len(),
            case.roc_dropped_len,
            "{}",
            case.name
        );
        if let Some(expected) = &case.roc {
            assert_roc(case.name, &all, expected);
        }
        if let Some(expected) = &case.roc_dropped {
            assert_roc(case.name, &dropped, expected);
        }
    }
}

#[test]
fn evaluate_matches_the_single_metrics() {
    for case in CASES {
        let (scores, labels) = case.inputs();
        let m = evaluate(&scores, &labels).unwrap();
        assert_close(m.auroc, case.auroc, TOL, case.name);
        assert_close(m.ap, case.ap, TOL, case.name);
        assert_close(m.f1, case.f1_label_contamination, TOL, case.name);
    }
}

#[test]
fn bool_labels_give_the_same_metrics() {
    for case in CASES {
        let (scores, labels) = case.inputs();
        let bools: Vec<bool> = labels.iter().map(|&y| y == 1).collect();
        assert_eq!(
            evaluate(&scores, &bools).unwrap(),
            evaluate(&scores, &labels).unwrap()
        );
    }
}

#[test]
fn mean_and_std_match_numpy() {
    let runs = [
        0.9123, 0.8871, 0.9342, 0.9011, 0.8954, 0.9207, 0.9105, 0.8899, 0.929, 0.9068,
    ];
    assert_close(mean(&runs).unwrap(), RUNS_MEAN, 1e-15, "mean");
    assert_close(
        std_dev(&runs, 0).unwrap(),
        RUNS_STD_DDOF0,
        1e-15,
        "std ddof 0",
    );
    assert_close(
        std_dev(&runs, 1).unwrap(),
        RUNS_STD_DDOF1,
        1e-15,
        "std ddof 1",
    );
    let both = mean_std(&runs, dasvdd_eval::stats::SAMPLE).unwrap();
    assert_eq!(both.mean, mean(&runs).unwrap());
    assert_eq!(both.std, std_dev(&runs, 1).unwrap());
}
