//! Unit tests of the runner: the seeded subsets of `--quick` and the thinning of ROC curves.

use super::cell::thin;
use super::*;
use crate::synthetic;

#[test]
fn quick_subsets_keep_both_classes_and_are_seeded() {
    let s = synthetic::split(0).unwrap();
    let a = subsample(&s, Some(50), Some(40), 1).unwrap();
    assert_eq!(a.counts.train, 50);
    assert_eq!(a.test.y.len(), 40);
    assert_eq!(a.counts.test_normal, 4);
    assert_eq!(a.counts.test_anomalous, 36);
    assert_eq!(a, subsample(&s, Some(50), Some(40), 1).unwrap());
    assert_ne!(a.train, subsample(&s, Some(50), Some(40), 2).unwrap().train);
    let whole = subsample(&s, None, None, 1).unwrap();
    assert_eq!(whole, s);
}

#[test]
fn thinning_keeps_the_ends() {
    let f: Vec<f64> = (0..1000).map(|i| i as f64 / 999.0).collect();
    let (a, b) = thin(f.clone(), f, 10);
    assert_eq!(a.len(), 10);
    assert_eq!((a[0], a[9]), (0.0, 1.0));
    assert_eq!(b[9], 1.0);
}
