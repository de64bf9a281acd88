//! End-to-end tests of what `cargo xtask report` shows after `bench-all` and `sweep`, run as
//! the built binary on tiny matrices: missing datasets and cells, the image grid of a quick
//! synthetic run, MIMII evaluated per clip, and the sweeps and fixed-centre ablation.

use std::path::Path;

mod common;
use common::{result_lines, Env};

#[test]
fn missing_datasets_are_skipped_with_a_line_and_listed_as_missing() {
    let env = Env::new();
    let results = env.results("r");
    let out = env.ok(&[
        "bench-all",
        "--datasets",
        "odds:absent,odds:toya",
        "--methods",
        "iforest",
        "--seeds",
        "1",
        "--results",
        results.to_str().unwrap(),
    ]);
    let skip: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("skipping odds:absent"))
        .collect();
    assert_eq!(skip.len(), 1, "{out}");
    assert!(skip[0].contains("not found"), "{out}");
    env.ok(&["report", "--results", results.to_str().unwrap()]);
    let report = std::fs::read_to_string(results.join("REPORT.md")).unwrap();
    assert!(report.contains("Cells: 1 finished, 1 missing"), "{report}");
    assert!(report.contains("`odds:absent` was not present"), "{report}");
    assert!(report.contains("| odds:absent | iforest |"), "{report}");
}

#[test]
fn quick_synthetic_run_draws_the_image_grid() {
    let env = Env::new();
    let results = env.results("q");
    let out = env.ok(&[
        "bench-all",
        "--quick",
        "--datasets",
        "synthetic",
        "--classes",
        "0,1",
        "--methods",
        "dasvdd,kde",
        "--seeds",
        "1",
        "--epochs",
        "2",
        "--results",
        results.to_str().unwrap(),
    ]);
    assert!(out.contains("4 to run"), "{out}");
    env.ok(&["report", "--results", results.to_str().unwrap()]);
    let grid = image::open(results.join("figures/extremes-synthetic.png"))
        .unwrap()
        .to_rgb8();
    // Two classes of 8x8 images at 3x, 2-pixel gaps: 2 * (24 + 2) + 2.
    assert_eq!((grid.width(), grid.height()), (54, 54));
    let report = std::fs::read_to_string(results.join("REPORT.md")).unwrap();
    assert!(
        report.contains("| synthetic | avg | 2 of 10 classes | dasvdd |"),
        "{report}"
    );
    assert!(report.contains("--quick"), "{report}");
    // DASVDD's two cells split into the terms of their score; KDE's score is one term.
    assert!(
        report.contains("| dataset | method | config | cells | score | reconstruction | svdd |"),
        "{report}"
    );
    assert!(
        report
            .lines()
            .any(|l| l.starts_with("| synthetic | dasvdd | ") && l.contains(" | 2 | ")),
        "{report}"
    );
    assert!(
        !report
            .lines()
            .any(|l| l.starts_with("| synthetic | kde | ")),
        "{report}"
    );
}

/// A mono 16 kHz clip: a tone of `freq` Hz plus a little deterministic noise.
fn write_wav(path: &Path, seconds: f32, freq: f32) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 16_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for k in 0..(16_000.0 * seconds) as usize {
        let t = k as f32 / 16_000.0;
        let v =
            (std::f32::consts::TAU * freq * t).sin() * 8_000.0 + ((k * 7919) % 101) as f32 * 10.0;
        w.write_sample(v as i16).unwrap();
    }
    w.finalize().unwrap();
}

#[test]
fn mimii_is_evaluated_per_clip() {
    let env = Env::new();
    // DCASE 2020 Task 2 layout: <machine>/{train,test}/<label>_id_XX_<n>.wav.
    let fan = env.dir.path().join("data/mimii/fan");
    for k in 0..3 {
        write_wav(
            &fan.join(format!("train/normal_id_00_0000000{k}.wav")),
            0.5,
            440.0 + 10.0 * k as f32,
        );
    }
    for k in 0..2 {
        write_wav(
            &fan.join(format!("test/normal_id_00_0000000{k}.wav")),
            0.5,
            445.0,
        );
        write_wav(
            &fan.join(format!("test/anomaly_id_00_0000000{k}.wav")),
            0.5,
            2_000.0 + 500.0 * k as f32,
        );
    }
    let results = env.results("m");
    let r = results.to_str().unwrap();
    env.ok(&[
        "bench-all",
        "--datasets",
        "mimii",
        "--classes",
        "0",
        "--methods",
        "iforest,dasvdd",
        "--seeds",
        "1",
        "--epochs",
        "1",
        "--results",
        r,
    ]);
    for (_, line) in result_lines(&results) {
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["unit"], "clip", "{line}");
        assert_eq!(
            (v["test_normal"].as_u64(), v["test_anomalous"].as_u64()),
            (Some(2), Some(2))
        );
        assert_eq!(v["class_name"], "fan");
    }
    env.ok(&["report", "--results", r]);
    let report = std::fs::read_to_string(results.join("REPORT.md")).unwrap();
    // The paper gives MIMII's average only: it stands beside our average over the machines run.
    assert!(report.contains("| mimii | 0 | fan | dasvdd |"), "{report}");
    assert!(
        report.contains("| mimii | avg | 1 of 4 classes | dasvdd |"),
        "{report}"
    );
    let avg = report
        .lines()
        .find(|l| l.starts_with("| mimii | avg | 1 of 4 classes | dasvdd |"))
        .unwrap();
    assert!(avg.contains("| 67.8 |"), "{avg}");
}

#[test]
fn sweeps_and_the_fixed_centre_ablation_reach_the_report() {
    let env = Env::new();
    let results = env.results("s");
    let r = results.to_str().unwrap();
    let common = [
        "--datasets",
        "synthetic",
        "--classes",
        "0",
        "--seeds",
        "1",
        "--epochs",
        "2",
        "--results",
        r,
    ];
    let mut gamma = vec!["sweep", "gamma"];
    gamma.extend(common);
    // The study's own list of gammas plus the heuristic's: six cells.
    let out = env.ok(&gamma);
    assert!(
        out.contains("6 cells, 0 already finished, 6 to run"),
        "{out}"
    );
    let mut fixed = vec!["sweep", "fixed-c"];
    fixed.extend(common);
    // Plain DASVDD is shared with the gamma study and not run again.
    let out = env.ok(&fixed);
    assert!(
        out.contains("2 cells, 1 already finished, 1 to run"),
        "{out}"
    );
    let report = std::fs::read_to_string(results.join("REPORT.md")).unwrap();
    assert!(
        report.contains("## Table 3: trainable versus fixed centre"),
        "{report}"
    );
    assert!(report.contains("| gamma | 1000 | 0 | 1 |"), "{report}");
    let svg =
        std::fs::read_to_string(results.join("figures/sweep-gamma-synthetic-class0.svg")).unwrap();
    // One labelled curve per gamma and one for the heuristic (`auto`).
    assert_eq!(svg.matches("(AUROC ").count(), 6, "{svg}");
    assert!(svg.contains("auto (AUROC"), "{svg}");
    assert!(svg.contains("gamma=0.001 (AUROC"), "{svg}");
}

#[test]
fn a_bad_result_line_and_a_cut_detail_file_are_each_warned_about_once() {
    let env = Env::new();
    let results = env.results("w");
    let r = results.to_str().unwrap();
    env.ok(&[
        "bench-all",
        "--datasets",
        "odds:toya",
        "--methods",
        "iforest",
        "--seeds",
        "1",
        "--results",
        r,
    ]);
    // A torn line appended to the results, and a detail file cut short.
    let cells = std::fs::read_dir(results.join("cells"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .unwrap();
    let mut text = std::fs::read_to_string(&cells).unwrap();
    text.push_str("{\"dataset\":\"odds:toya\",\"cla\n");
    std::fs::write(&cells, text).unwrap();
    let detail = std::fs::read_dir(results.join("details"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .next()
        .unwrap();
    let bytes = std::fs::read(&detail).unwrap();
    std::fs::write(&detail, &bytes[..bytes.len() / 2]).unwrap();
    let out = env.ok(&["report", "--results", r]);
    assert_eq!(
        out.matches("skipping an unreadable result line").count(),
        1,
        "{out}"
    );
    assert!(out.contains("skipping an unreadable detail file"), "{out}");
}
