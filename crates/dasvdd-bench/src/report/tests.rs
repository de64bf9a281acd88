//! Unit tests of the report: the shipped paper table, the table's round trip, ranges and
//! dates.

use super::*;
use crate::matrix::Method;
use crate::summary::ranges;

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
