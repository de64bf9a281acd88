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

#[test]
fn a_class_no_dataset_has_and_a_misspelt_dataset_table_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let args = BenchArgs {
        datasets: vec!["synthetic".into()],
        classes: vec![0, 99],
        methods: vec!["iforest".into()],
        seeds: Some(1),
        results: dir.path().to_path_buf(),
        ..BenchArgs::default()
    };
    let e = plan(&args).err().unwrap().to_string();
    assert!(
        e.contains("--classes 99: no dataset of this run has it"),
        "{e}"
    );
    // Repeated classes run once; so do repeated datasets and methods, however spelt.
    let p = plan(&BenchArgs {
        classes: vec![3, 3, 1],
        ..args.clone()
    })
    .unwrap();
    assert_eq!(p.cells.len(), 2, "{:?}", p.cells);
    let p = plan(&BenchArgs {
        classes: vec![1],
        datasets: vec!["synthetic".into(), "synthetic".into()],
        methods: vec!["iforest".into(), "IForest".into(), "ocsvm".into()],
        ..args.clone()
    })
    .unwrap();
    let methods: Vec<&str> = p.cells.iter().map(|c| c.method.as_str()).collect();
    assert_eq!(methods, ["iforest", "ocsvm"], "{:?}", p.cells);
    assert_eq!(p.datasets.len(), 1);

    // Settings a cell would refuse are refused before any cell runs.
    let e = plan(&BenchArgs {
        classes: vec![0],
        epochs: Some(0),
        ..args.clone()
    })
    .err()
    .unwrap()
    .to_string();
    assert!(e.contains("--epochs must be at least 1"), "{e}");
    let e = "dasvdd:kappa=2"
        .parse::<crate::matrix::MethodSpec>()
        .unwrap_err()
        .to_string();
    assert!(e.contains("in (0, 1]"), "{e}");

    let cfg = dir.path().join("bench.toml");
    std::fs::write(&cfg, "[datasets.synthetc]\nquick_epochs = 3\n").unwrap();
    let e = plan(&BenchArgs {
        classes: vec![0],
        config: Some(cfg),
        ..args
    })
    .err()
    .unwrap()
    .to_string();
    assert!(
        e.contains("[datasets.synthetc]") && e.contains("not a dataset"),
        "{e}"
    );
}

#[test]
fn a_sweeps_class_applies_to_its_own_dataset_only() {
    use crate::sweep::{bench_args, SweepArgs, SweepKind};
    let own = bench_args(&SweepArgs {
        kind: SweepKind::Gamma,
        bench: BenchArgs::default(),
    });
    assert_eq!(
        (own.datasets, own.classes),
        (vec!["cifar10".to_string()], vec![8])
    );
    let other = bench_args(&SweepArgs {
        kind: SweepKind::Gamma,
        bench: BenchArgs {
            datasets: vec!["pima".into()],
            ..BenchArgs::default()
        },
    });
    assert!(other.classes.is_empty());
}

#[test]
fn a_run_whose_every_dataset_is_missing_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("r");
    let e = run(&BenchArgs {
        datasets: vec!["odds:absent-one".into(), "odds:absent-two".into()],
        methods: vec!["iforest".into()],
        seeds: Some(1),
        results: results.clone(),
        ..BenchArgs::default()
    })
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("no requested dataset is present")
            && e.contains("odds:absent-one: not found: expected files absent-one.mat")
            && e.contains("odds:absent-two"),
        "{e}"
    );
    assert!(!results.exists(), "nothing written");
}
