//! End-to-end tests of `cargo xtask bench-all` and `cargo xtask report`, run as the built
//! binary on a tiny matrix: two tabular datasets generated here (found through `$DASVDD_DATA`
//! as ODDS-style CSV files), two methods, two seeds, one epoch. Covers resuming after a stop
//! or a kill, shards merged against one run, and two processes on one shard.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

mod common;
use common::{result_lines, Env};

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
    // Fig. 3b with the centre's distance to the codes beside c_1 and ||c||.
    let centre =
        std::fs::read_to_string(sharded.join("figures/center-odds-toya-class0.svg")).unwrap();
    assert!(centre.contains("||c - mean code||"), "{centre}");
    assert!(centre.contains("rms distance to their mean"), "{centre}");
    // Four series, each drawn as a line and a legend entry (the axes are 1 wide).
    assert_eq!(centre.matches(r#"stroke-width="2""#).count(), 8, "{centre}");
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
