//! Unit tests of the report: the shipped paper table, the table's round trip, ranges and
//! dates.

use super::*;
use crate::matrix::Method;
use crate::store::CellRecord;
use crate::summary::ranges;
use std::collections::BTreeMap;

#[test]
fn the_shipped_paper_table_reads() {
    let p = PaperTable::load(&default_paper_path()).unwrap();
    assert_eq!(p.get("fmnist", Some(1), Method::Dasvdd), Some(99.0));
    assert_eq!(p.get("mnist", None, Method::Ocsvm), Some(91.3));
    assert_eq!(p.get("pima", Some(0), Method::Dasvdd), Some(72.2));
    assert_eq!(p.get("awid3", Some(0), Method::IsolationForest), Some(95.8));
    assert_eq!(p.get("mimii", None, Method::DeepSvdd), Some(64.2));
    assert_eq!(p.get("mimii", Some(0), Method::Dasvdd), None);
    assert_eq!(p.get("synthetic", Some(0), Method::Dasvdd), None);
}

#[test]
fn table_parser_reads_back_what_the_writer_wrote() {
    let rows = vec![
        Row {
            dataset: "fmnist".into(),
            class: Some(3),
            class_name: "Dress".into(),
            method: "dasvdd".into(),
            config: "0123abcd".into(),
            runs: 2,
            auroc: 93.456,
            auroc_std: Some(0.1234),
            paper: Some(93.7),
            diff: Some(-0.24),
            ap: 70.0,
            f1: 60.5,
            train: Some(6000),
            test_normal: Some(1000),
            test_anomalous: Some(9000),
            fit_seconds: 12.345,
            score_seconds: 0.5,
        },
        Row {
            dataset: "fmnist".into(),
            class: None,
            class_name: "1 of 10 classes".into(),
            method: "dasvdd".into(),
            config: "0123abcd".into(),
            runs: 2,
            auroc: 93.456,
            auroc_std: None,
            paper: None,
            diff: None,
            ap: 70.0,
            f1: 60.5,
            train: None,
            test_normal: None,
            test_anomalous: None,
            fit_seconds: 12.345,
            score_seconds: 0.5,
        },
    ];
    let md = format!("# x\n\ntext\n\n{}\nmore\n", write_table(&rows));
    let back = parse_table(&md).unwrap();
    assert_eq!(back.len(), 2);
    assert_eq!(write_table(&back), write_table(&rows));
    assert_eq!(back[0].class, Some(3));
    assert_eq!(back[0].auroc, 93.46);
    assert_eq!(back[1].auroc_std, None);
    assert!(parse_table("no table").is_err());
}

#[test]
fn ranges_and_dates() {
    assert_eq!(ranges(&[0, 1, 2, 5, 7, 8]), "0-2,5,7-8");
    assert_eq!(ranges(&[3]), "3");
    assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
    assert_eq!(utc(1_700_000_000), "2023-11-14 22:13:20 UTC");
}

/// A finished cell of `method` on `dataset`'s `class` under config `hash`.
fn cell(dataset: &str, class: u8, method: &str, hash: &str, auroc: f64) -> CellRecord {
    let key = CellKey {
        dataset: dataset.into(),
        class,
        method: method.into(),
        seed: 0,
        config_hash: hash.into(),
    };
    crate::store::test_record(key, 1, auroc)
}

fn cells(list: Vec<CellRecord>) -> BTreeMap<CellKey, CellRecord> {
    list.into_iter().map(|c| (c.key.clone(), c)).collect()
}

#[test]
fn a_method_run_under_two_configs_shows_both_and_partial_averages_meet_the_papers_same_classes() {
    let paper = PaperTable::load(&default_paper_path()).unwrap();
    let c = cells(vec![
        cell("fmnist", 0, "iforest", "aaaaaaaa11", 0.90),
        cell("fmnist", 1, "iforest", "aaaaaaaa11", 0.98),
        cell("fmnist", 0, "iforest", "bbbbbbbb22", 0.80),
    ]);
    let rows = table_rows(&c, &paper);
    let md = sections::side_by_side_section(&rows);
    assert!(
        md.contains("iforest [aaaaaaaa]") && md.contains("iforest [bbbbbbbb]"),
        "{md}"
    );
    assert!(md.contains("90.00") && md.contains("80.00"), "{md}");
    let avg = sections::averages_section(&rows);
    assert!(avg.contains("94.00") && avg.contains("80.00"), "{avg}");
    // Classes 0 and 1 only: the paper's mean over those two, not its ten-class average.
    let p0 = paper
        .get("fmnist", Some(0), Method::IsolationForest)
        .unwrap();
    let p1 = paper
        .get("fmnist", Some(1), Method::IsolationForest)
        .unwrap();
    let two = rows
        .iter()
        .find(|r| r.class.is_none() && r.config == "aaaaaaaa")
        .unwrap();
    assert_eq!(two.paper, Some((p0 + p1) / 2.0));
    assert_ne!(
        two.paper,
        paper.get("fmnist", None, Method::IsolationForest)
    );
}

#[test]
fn sweep_references_share_the_variants_config_and_classes() {
    let c = cells(vec![
        // A full run of plain DASVDD on every class, and a sweep on class 8, same settings.
        cell("synthetic", 0, "dasvdd", "aaaaaaaa11", 0.50),
        cell("synthetic", 8, "dasvdd", "aaaaaaaa11", 0.70),
        cell("synthetic", 8, "dasvdd:gamma=10", "aaaaaaaa11", 0.60),
        // The same sweep under other settings.
        cell("synthetic", 8, "dasvdd", "bbbbbbbb22", 0.90),
        cell("synthetic", 8, "dasvdd:gamma=10", "bbbbbbbb22", 0.95),
    ]);
    let points = sweep_points(&c);
    let find = |method: &str, config: &str| {
        points
            .iter()
            .find(|p| p.method == method && p.config == config)
            .unwrap()
    };
    assert_eq!(find("dasvdd:gamma=10", "aaaaaaaa").auroc, 60.0);
    assert_eq!(find("dasvdd:gamma=10", "bbbbbbbb").auroc, 95.0);
    // The reference covers the sweep's class only.
    let auto = find("dasvdd", "aaaaaaaa");
    assert_eq!(
        (auto.auroc, auto.classes.as_str(), auto.runs),
        (70.0, "8", 1)
    );
    let md = sections::sweeps_section(&points);
    assert!(
        md.contains("| synthetic | aaaaaaaa | gamma | 10 | 8 | 1 | 60.00 | 70.00 |"),
        "{md}"
    );
    assert!(
        md.contains("| synthetic | bbbbbbbb | gamma | 10 | 8 | 1 | 95.00 | 90.00 |"),
        "{md}"
    );
}

#[test]
fn a_file_is_not_a_results_folder() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("afile");
    std::fs::write(&f, "").unwrap();
    let e = run(&ReportArgs {
        results: f,
        paper: None,
        no_figures: true,
    })
    .unwrap_err()
    .to_string();
    assert!(e.contains("is a file, not a results folder"), "{e}");
}

#[test]
fn one_config_per_dataset_keeps_one_column_per_method() {
    // Every dataset has a config hash of its own: a run over two datasets is one column per
    // method, not one per method and dataset.
    let paper = PaperTable::load(&default_paper_path()).unwrap();
    let c = cells(vec![
        cell("fmnist", 0, "iforest", "aaaaaaaa11", 0.90),
        cell("pima", 0, "iforest", "bbbbbbbb22", 0.70),
        cell("fmnist", 0, "ocsvm", "cccccccc33", 0.85),
        cell("pima", 0, "ocsvm", "dddddddd44", 0.65),
    ]);
    let rows = table_rows(&c, &paper);
    for md in [
        sections::side_by_side_section(&rows),
        sections::averages_section(&rows),
    ] {
        assert!(!md.contains('['), "{md}");
        let header = md.lines().find(|l| l.contains("iforest")).unwrap();
        assert_eq!(header.matches("iforest").count(), 1, "{md}");
        assert_eq!(header.matches("ocsvm").count(), 1, "{md}");
    }
}

#[test]
fn a_folder_without_results_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let e = run(&ReportArgs {
        results: dir.path().to_path_buf(),
        paper: None,
        no_figures: true,
    })
    .unwrap_err()
    .to_string();
    assert!(e.contains("holds no results"), "{e}");
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "nothing written"
    );
}
