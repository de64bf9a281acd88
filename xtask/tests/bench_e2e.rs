//! End-to-end tests of `cargo xtask bench-all` and `cargo xtask report`, run as the built
//! binary on a tiny matrix: two tabular datasets generated here (found through `$DASVDD_DATA`
//! as ODDS-style CSV files), two methods, two seeds, one epoch. Covers resuming after a stop,
//! shards merged against one run, missing cells, skipped datasets and the figures.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Writes `<root>/odds/<stem>.csv`: `normal` rows around 0 and `anomalous` rows around
/// `shift`, six features, label last, no header (the layout `dasvdd-data` reads).
fn write_dataset(root: &Path, stem: &str, seed: u64, shift: f64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut text = String::new();
    for i in 0..260 {
        let anomalous = i % 10 == 0;
        let centre = if anomalous { shift } else { 0.0 };
        let row: Vec<String> = (0..6)
            .map(|_| format!("{:.5}", centre + rng.random_range(-1.0..1.0)))
            .collect();
        text.push_str(&format!("{},{}\n", row.join(","), u8::from(anomalous)));
    }
    std::fs::create_dir_all(root.join("odds")).unwrap();
    std::fs::write(root.join("odds").join(format!("{stem}.csv")), text).unwrap();
}

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        write_dataset(&dir.path().join("data"), "toya", 1, 2.5);
        write_dataset(&dir.path().join("data"), "toyb", 2, 1.5);
        Env { dir }
    }

    fn results(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Runs the xtask binary in the temporary folder with the test data root.
    fn xtask(&self, args: &[&str]) -> Output {
        let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
            .args(args)
            .current_dir(self.dir.path())
            .env("DASVDD_DATA", self.dir.path().join("data"))
            .env("RAYON_NUM_THREADS", "1")
            .output()
            .unwrap();
        out
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.xtask(args);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "xtask {args:?} failed:\n{text}");
        text
    }
}

const MATRIX: [&str; 8] = [
    "--datasets",
    "odds:toya,odds:toyb",
    "--methods",
    "dasvdd,iforest",
    "--seeds",
    "2",
    "--epochs",
    "1",
];

fn bench(results: &Path, extra: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = vec!["bench-all".into()];
    v.extend(MATRIX.iter().map(|s| s.to_string()));
    v.push("--results".into());
    v.push(results.display().to_string());
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

fn args(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// Every result line of a results directory, as (cell identity, whole line).
fn result_lines(results: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(results.join("cells")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|e| e == "jsonl") {
            for line in std::fs::read_to_string(&p).unwrap().lines() {
                let v: serde_json::Value = serde_json::from_str(line).unwrap();
                let id = format!(
                    "{} {} {} {} {}",
                    v["dataset"], v["class"], v["method"], v["seed"], v["config_hash"]
                );
                out.push((id, line.to_string()));
            }
        }
    }
    out.sort();
    out
}

/// report.csv without its two seconds columns.
fn numbers(results: &Path) -> String {
    std::fs::read_to_string(results.join("report.csv"))
        .unwrap()
        .lines()
        .map(|l| {
            let mut cells: Vec<&str> = l.split(',').collect();
            cells.truncate(cells.len() - 2);
            cells.join(",")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn a_stopped_run_resumes_without_repeating_and_shards_merge_to_the_same_report() {
    let env = Env::new();

    // One process, stopped after its first cell.
    let single = env.results("single");
    let out = env.ok(&args(&bench(&single, &["--max-cells", "1"])));
    assert!(
        out.contains("8 cells, 0 already finished, 8 to run"),
        "{out}"
    );
    let first = result_lines(&single);
    assert_eq!(first.len(), 1);

    // The report lists the seven cells still missing.
    env.ok(&["report", "--results", single.to_str().unwrap()]);
    let report = std::fs::read_to_string(single.join("REPORT.md")).unwrap();
    assert!(report.contains("Cells: 1 finished, 7 missing"), "{report}");
    assert!(
        report.contains("7 requested cells are not finished"),
        "{report}"
    );

    // Started again, it runs only the seven others.
    let out = env.ok(&args(&bench(&single, &[])));
    assert!(
        out.contains("8 cells, 1 already finished, 7 to run"),
        "{out}"
    );
    let all = result_lines(&single);
    assert_eq!(all.len(), 8);
    let ids: BTreeSet<&String> = all.iter().map(|(id, _)| id).collect();
    assert_eq!(ids.len(), 8, "a cell was run twice");
    // The first cell's line is kept as it was.
    assert!(all.contains(&first[0]));
    // A third start has nothing left to do.
    let out = env.ok(&args(&bench(&single, &[])));
    assert!(out.contains("8 already finished, 0 to run"), "{out}");
    assert_eq!(result_lines(&single).len(), 8);

    // The same matrix as two shards into another folder.
    let sharded = env.results("sharded");
    // Both shards at the same time, as two array tasks on a shared filesystem.
    let spawn = |shard: &str| {
        Command::new(env!("CARGO_BIN_EXE_xtask"))
            .args(args(&bench(&sharded, &["--shard", shard])))
            .current_dir(env.dir.path())
            .env("DASVDD_DATA", env.dir.path().join("data"))
            .env("RAYON_NUM_THREADS", "1")
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (pa, pb) = (spawn("0/2"), spawn("1/2"));
    let (oa, ob) = (
        pa.wait_with_output().unwrap(),
        pb.wait_with_output().unwrap(),
    );
    assert!(oa.status.success() && ob.status.success());
    let (a, b) = (
        String::from_utf8_lossy(&oa.stdout),
        String::from_utf8_lossy(&ob.stdout),
    );
    assert!(a.contains("4 cells, 0 already finished, 4 to run"), "{a}");
    assert!(b.contains("4 cells, 0 already finished, 4 to run"), "{b}");
    assert_eq!(result_lines(&sharded).len(), 8);

    for r in [&single, &sharded] {
        env.ok(&["report", "--results", r.to_str().unwrap()]);
    }
    let (one, merged) = (numbers(&single), numbers(&sharded));
    // Header, 2 datasets x 2 methods (one class each, so no average rows).
    assert_eq!(one.lines().count(), 5, "{one}");
    assert_eq!(one, merged);
    let report = std::fs::read_to_string(sharded.join("REPORT.md")).unwrap();
    assert!(
        report.contains("Every requested cell is finished."),
        "{report}"
    );
    assert!(
        report.contains("| odds:toya | 0 | normal | dasvdd |"),
        "{report}"
    );
    // The figures of the merged run exist and are the stated size.
    let roc = std::fs::read_to_string(sharded.join("figures/roc-odds-toya-class0.svg")).unwrap();
    assert!(roc.contains(r#"width="640" height="480""#));
    assert!(roc.contains("<polyline"));
    let losses =
        std::fs::read_to_string(sharded.join("figures/losses-odds-toya-class0.svg")).unwrap();
    assert!(losses.contains("<polyline"));
}

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
}

#[test]
fn bad_arguments_are_clear_errors() {
    let env = Env::new();
    let out = env.xtask(&["bench-all", "--shard", "2/2"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("0 <= i < n"));
    let out = env.xtask(&["bench-all", "--datasets", "nope", "--results", "r"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown dataset"));
    let out = env.xtask(&["report", "--results", "does-not-exist"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not exist"));
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
    assert!(
        report.contains("| synthetic | gamma | 1000 | 0 | 1 |"),
        "{report}"
    );
    let svg =
        std::fs::read_to_string(results.join("figures/sweep-gamma-synthetic-class0.svg")).unwrap();
    // One labelled curve per gamma and one for the heuristic (`auto`).
    assert_eq!(svg.matches("(AUROC ").count(), 6, "{svg}");
    assert!(svg.contains("auto (AUROC"), "{svg}");
    assert!(svg.contains("gamma=0.001 (AUROC"), "{svg}");
}

#[test]
fn a_killed_run_loses_nothing_finished_and_repeats_nothing() {
    let env = Env::new();
    let results = env.results("k");
    let r = results.to_str().unwrap().to_string();
    let run = [
        "bench-all",
        "--datasets",
        "synthetic",
        "--methods",
        "dasvdd,iforest",
        "--seeds",
        "1",
        "--epochs",
        "20",
        "--results",
        &r,
    ];
    let mut child = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(run)
        .current_dir(env.dir.path())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill it (SIGKILL) as soon as its first cell is stored.
    let started = std::time::Instant::now();
    while started.elapsed() < std::time::Duration::from_secs(60) {
        if results.join("cells").is_dir() && !result_lines(&results).is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let before = result_lines(&results);
    assert!(!before.is_empty(), "no cell was stored within a minute");
    assert!(before.len() < 20, "the run ended before it was killed");
    // No temporary file is mistaken for results, and every stored line is whole.
    let out = env.ok(&run);
    assert!(
        out.contains(&format!("20 cells, {} already finished", before.len())),
        "{out}"
    );
    let after = result_lines(&results);
    assert_eq!(after.len(), 20);
    let ids: BTreeSet<&String> = after.iter().map(|(id, _)| id).collect();
    assert_eq!(ids.len(), 20, "a cell was run twice");
    for line in &before {
        assert!(after.contains(line), "a finished cell was lost or changed");
    }
}

#[test]
fn two_processes_on_the_same_shard_never_run_a_cell_twice() {
    let env = Env::new();
    let results = env.results("twice");
    let r = results.to_str().unwrap().to_string();
    let run = [
        "bench-all",
        "--datasets",
        "synthetic",
        "--methods",
        "dasvdd,iforest",
        "--seeds",
        "1",
        "--epochs",
        "3",
        "--results",
        &r,
    ];
    // The same shard (0/1) started twice on one results folder, at the same time: without a
    // per-cell claim both would walk the same list in the same order.
    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_xtask"))
            .args(run)
            .current_dir(env.dir.path())
            .env("RAYON_NUM_THREADS", "1")
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (pa, pb) = (spawn(), spawn());
    let (oa, ob) = (
        pa.wait_with_output().unwrap(),
        pb.wait_with_output().unwrap(),
    );
    let (a, b) = (
        String::from_utf8_lossy(&oa.stdout),
        String::from_utf8_lossy(&ob.stdout),
    );
    assert!(oa.status.success() && ob.status.success(), "{a}\n{b}");
    let lines = result_lines(&results);
    let ids: BTreeSet<&String> = lines.iter().map(|(id, _)| id).collect();
    assert_eq!(ids.len(), 20, "{a}\n{b}");
    assert_eq!(lines.len(), 20, "a cell was computed twice:\n{a}\n{b}");
    // Each process says how many cells it finished; together, every cell once.
    let finished = |out: &str| -> usize {
        let line = out
            .lines()
            .find(|l| l.contains("cells finished"))
            .unwrap_or_else(|| panic!("{out}"));
        line.split(": ")
            .nth(1)
            .unwrap()
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    assert_eq!(finished(&a) + finished(&b), 20, "{a}\n{b}");
    // No claim is left behind, and the report counts each cell once.
    assert_eq!(
        std::fs::read_dir(results.join("claims")).unwrap().count(),
        0
    );
    env.ok(&["report", "--results", &r]);
    let report = std::fs::read_to_string(results.join("REPORT.md")).unwrap();
    assert!(
        report.contains("Every requested cell is finished."),
        "{report}"
    );
    assert!(report.contains("Cells: 20 finished"), "{report}");
}

/// Both spellings of Deep SVDD's name run; `slurm` refuses bench-all arguments that every
/// array task would fail on, without writing a script, and a user's error prints no backtrace
/// even with RUST_BACKTRACE=1.
#[test]
fn method_aliases_and_slurm_argument_checks() {
    let env = Env::new();
    for spelling in ["deep_svdd", "deepsvdd"] {
        let out = env.xtask(&[
            "bench-all",
            "--datasets",
            "nope-not-a-dataset",
            "--methods",
            spelling,
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        // The method parses; the run stops at the dataset.
        assert!(stderr.contains("unknown dataset"), "{spelling}: {stderr}");
    }
    for bad in [
        &["--methods", "deep_svd"][..],
        &["--bogus-flag"][..],
        &["--datasets", "fmnist,nope"][..],
    ] {
        let script = env.results("slurm").join("a.sbatch");
        let mut argv = vec![
            "slurm",
            "--shards",
            "2",
            "--out",
            script.to_str().unwrap(),
            "--",
        ];
        argv.extend(bad);
        let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
            .args(&argv)
            .current_dir(env.dir.path())
            .env("RUST_BACKTRACE", "1")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{bad:?} accepted");
        assert!(stderr.starts_with("error: bench-all arguments"), "{stderr}");
        assert!(!stderr.contains("backtrace"), "{stderr}");
        assert!(!script.exists(), "{bad:?}: a script was written");
    }
    let out = env.xtask(&["slurm", "--shards", "2", "--", "--methods", "deep_svdd"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
