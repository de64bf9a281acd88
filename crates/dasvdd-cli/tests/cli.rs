//! The `dasvdd` binary run as a user runs it: train / score / eval on CSV files, every method,
//! and clear errors (file, row, problem; non-zero exit) for malformed input.

use std::path::Path;
use std::process::{Command, Output};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn dasvdd(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dasvdd"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the binary runs")
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn err(out: &Output) -> String {
    assert!(!out.status.success(), "unexpected success");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Normal rows near a plane in R^12, anomalies uniform; a header on the training file only.
fn write_fixture(dir: &Path) {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let d = 12;
    let basis: Vec<f64> = (0..2 * d).map(|_| rng.random_range(-1.0..1.0)).collect();
    let normal = |rng: &mut ChaCha8Rng| -> String {
        let (a, b): (f64, f64) = (rng.random_range(-1.0..1.0), rng.random_range(-1.0..1.0));
        (0..d)
            .map(|j| format!("{:.6}", 0.5 + 0.2 * (a * basis[j] + b * basis[d + j])))
            .collect::<Vec<_>>()
            .join(",")
    };
    let mut train = (0..d)
        .map(|j| format!("f{j}"))
        .collect::<Vec<_>>()
        .join(",")
        + "\n";
    for _ in 0..600 {
        train += &(normal(&mut rng) + "\n");
    }
    let (mut test, mut labels) = (String::new(), String::from("label\n"));
    for i in 0..200 {
        if i % 4 == 0 {
            test += &((0..d)
                .map(|_| format!("{:.6}", rng.random_range(0.0..1.0)))
                .collect::<Vec<_>>()
                .join(",")
                + "\n");
            labels += "1\n";
        } else {
            test += &(normal(&mut rng) + "\n");
            labels += "0\n";
        }
    }
    std::fs::write(dir.join("normal.csv"), train).unwrap();
    std::fs::write(dir.join("new.csv"), test).unwrap();
    std::fs::write(dir.join("labels.csv"), labels).unwrap();
}

#[test]
fn train_score_eval_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_fixture(d);
    ok(&dasvdd(
        &[
            "train",
            "--quiet",
            "--data",
            "normal.csv",
            "--epochs",
            "40",
            "--seed",
            "3",
            "--out",
            "m.safetensors",
        ],
        d,
    ));
    ok(&dasvdd(
        &[
            "score",
            "--model",
            "m.safetensors",
            "--data",
            "new.csv",
            "--out",
            "s.csv",
        ],
        d,
    ));
    let scores = std::fs::read_to_string(d.join("s.csv")).unwrap();
    let values: Vec<f64> = scores.lines().skip(1).map(|l| l.parse().unwrap()).collect();
    assert_eq!(values.len(), 200, "one score per row");
    assert!(
        values.iter().any(|v| *v != values[0]),
        "scores are constant"
    );
    let json = ok(&dasvdd(
        &[
            "eval",
            "--json",
            "--scores",
            "s.csv",
            "--labels",
            "labels.csv",
        ],
        d,
    ));
    let v: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
    let auroc = v["auroc"].as_f64().unwrap();
    assert!(auroc > 0.9, "AUROC {auroc}");
    assert!(v["ap"].as_f64().unwrap() > 0.5 && v["f1"].as_f64().is_some());
    let text = ok(&dasvdd(
        &["eval", "--scores", "s.csv", "--labels", "labels.csv"],
        d,
    ));
    assert!(text.contains("AUROC") && text.contains("F1"), "{text}");

    // Same seed, same scores; the model file round-trips through score.
    ok(&dasvdd(
        &[
            "train",
            "--quiet",
            "--data",
            "normal.csv",
            "--epochs",
            "40",
            "--seed",
            "3",
            "--out",
            "m2.safetensors",
        ],
        d,
    ));
    ok(&dasvdd(
        &[
            "score",
            "--model",
            "m2.safetensors",
            "--data",
            "new.csv",
            "--out",
            "s2.csv",
        ],
        d,
    ));
    assert_eq!(scores, std::fs::read_to_string(d.join("s2.csv")).unwrap());

    // A fixed gamma skips the heuristic and is stored; z-score scaling is stored and applied.
    ok(&dasvdd(
        &[
            "train",
            "--quiet",
            "--data",
            "normal.csv",
            "--epochs",
            "5",
            "--gamma",
            "0.5",
            "--scale",
            "zscore",
            "--out",
            "m3.safetensors",
        ],
        d,
    ));
    let gamma = dasvdd_core::checkpoint::get_metadata(&d.join("m3.safetensors"), "gamma")
        .unwrap()
        .unwrap();
    assert_eq!(gamma.parse::<f64>().unwrap(), 0.5);
    let pre = dasvdd_core::checkpoint::get_metadata(&d.join("m3.safetensors"), "preprocessing")
        .unwrap()
        .unwrap();
    assert!(pre.contains("ZScore"), "{pre}");
    ok(&dasvdd(
        &[
            "score",
            "--model",
            "m3.safetensors",
            "--data",
            "new.csv",
            "--out",
            "s3.csv",
        ],
        d,
    ));
}

/// `score --parts` writes DASVDD's two terms beside the score, which is the plain score to the
/// bit and their sum with the model's gamma; with labels it prints each term's AUROC; a model of
/// another method is refused by name.
#[test]
fn score_parts_are_the_two_terms_of_the_score() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_fixture(d);
    let train = |method: &str, out: &str| {
        ok(&dasvdd(
            &[
                "train",
                "--quiet",
                "--method",
                method,
                "--data",
                "normal.csv",
                "--epochs",
                "20",
                "--seed",
                "5",
                "--out",
                out,
            ],
            d,
        ))
    };
    train("dasvdd", "m.safetensors");
    let score = |extra: &[&str], out: &str| {
        let mut args = vec!["score", "--model", "m.safetensors", "--out", out];
        args.extend(extra);
        dasvdd(&args, d)
    };
    ok(&score(&["--data", "new.csv"], "plain.csv"));
    ok(&score(&["--data", "new.csv", "--parts"], "parts.csv"));
    let plain = std::fs::read_to_string(d.join("plain.csv")).unwrap();
    let parts = std::fs::read_to_string(d.join("parts.csv")).unwrap();
    let mut lines = parts.lines();
    assert_eq!(lines.next(), Some("score,reconstruction,svdd"));
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 200);
    let first: Vec<&str> = rows.iter().map(|r| r[0]).collect();
    let plain_scores: Vec<&str> = plain.lines().skip(1).collect();
    assert_eq!(
        first, plain_scores,
        "the score column is the plain score, as written"
    );

    let meta: serde_json::Value =
        serde_json::from_str(ok(&dasvdd(&["inspect", "--json", "m.safetensors"], d)).trim())
            .unwrap();
    let gamma = match &meta["gamma"] {
        serde_json::Value::Number(n) => n.as_f64().unwrap(),
        serde_json::Value::String(s) => s.parse().unwrap(),
        other => panic!("gamma {other}"),
    };
    assert!(gamma > 0.0, "gamma {gamma}");
    let num = |v: &str| -> f64 { v.parse().unwrap() };
    for r in &rows {
        let (s, rec, svdd) = (num(r[0]), num(r[1]), num(r[2]));
        assert!(rec >= 0.0 && svdd >= 0.0, "{r:?}");
        assert!(
            (s - (rec + gamma * svdd)).abs() <= 1e-12 * s.abs().max(1e-300),
            "{s} != {rec} + {gamma} * {svdd}"
        );
    }
    for col in [1, 2] {
        assert!(
            rows.iter().any(|r| r[col] != rows[0][col]),
            "column {col} is constant"
        );
    }

    // With labels: each term's AUROC, after the score's summary; with --predict a fourth column.
    let new = std::fs::read_to_string(d.join("new.csv")).unwrap();
    let labels = std::fs::read_to_string(d.join("labels.csv")).unwrap();
    let labelled: String = new
        .lines()
        .zip(labels.lines().skip(1))
        .map(|(x, y)| format!("{x},{y}\n"))
        .collect();
    std::fs::write(d.join("labelled.csv"), labelled).unwrap();
    let out = score(
        &[
            "--data",
            "labelled.csv",
            "--label-col",
            "13",
            "--parts",
            "--predict",
            "--threshold",
            "0.1",
        ],
        "p.csv",
    );
    ok(&out);
    let text = String::from_utf8_lossy(&out.stderr);
    let line = text
        .lines()
        .find(|l| l.contains("AUROC of each term of the score alone"))
        .unwrap_or_else(|| panic!("no parts line in {text}"));
    let aurocs: Vec<f64> = ["reconstruction ", "svdd "]
        .iter()
        .map(|k| {
            let v = line
                .split(k)
                .nth(1)
                .unwrap()
                .split([',', ' '])
                .next()
                .unwrap();
            v.parse().unwrap()
        })
        .collect();
    assert!(aurocs.iter().all(|a| (0.0..=1.0).contains(a)), "{line}");
    let p = std::fs::read_to_string(d.join("p.csv")).unwrap();
    assert!(
        p.starts_with("score,reconstruction,svdd,prediction\n"),
        "{p}"
    );
    assert_eq!(p.lines().nth(1).unwrap().split(',').count(), 4);

    // Another method's score is one term.
    train("ae", "ae.safetensors");
    let e = err(&dasvdd(
        &[
            "score",
            "--model",
            "ae.safetensors",
            "--data",
            "new.csv",
            "--parts",
            "--out",
            "x.csv",
        ],
        d,
    ));
    assert!(
        e.contains("--parts") && e.contains("ae.safetensors") && e.contains("ae model"),
        "{e}"
    );
    assert!(
        !d.join("x.csv").exists(),
        "nothing is written after the error"
    );
}

#[test]
fn every_method_trains_and_scores() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_fixture(d);
    for method in ["ocsvm", "kde", "iforest", "ae", "deep_svdd"] {
        let model = format!("{method}.safetensors");
        let scores = format!("{method}.csv");
        // Epochs only for the methods that train a network: the others reject the flag.
        let mut train = vec![
            "train",
            "--quiet",
            "--method",
            method,
            "--data",
            "normal.csv",
            "--out",
            &model,
        ];
        if matches!(method, "ae" | "deep_svdd") {
            train.extend(["--epochs", "10"]);
        }
        ok(&dasvdd(&train, d));
        ok(&dasvdd(
            &[
                "score", "--model", &model, "--data", "new.csv", "--out", &scores,
            ],
            d,
        ));
        let json = ok(&dasvdd(
            &[
                "eval",
                "--json",
                "--scores",
                &scores,
                "--labels",
                "labels.csv",
            ],
            d,
        ));
        let v: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
        assert!(v["auroc"].as_f64().unwrap() > 0.6, "{method}: {json}");
    }
    let e = err(&dasvdd(
        &[
            "train",
            "--method",
            "svm",
            "--data",
            "normal.csv",
            "--out",
            "x",
        ],
        d,
    ));
    assert!(e.contains("svm"), "{e}");
}

/// A config's `[preprocessing]` prepares its method's data (as the benchmark does), only that
/// method's, unless `--scale` says otherwise; a bad entry is an error naming the file.
#[test]
fn the_configs_preprocessing_is_the_default_scale_of_its_method() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_fixture(d);
    std::fs::write(
        d.join("c.toml"),
        "[preprocessing]\nkde = \"zscore\"\n[baselines.kde]\nbandwidth = 1.0\n",
    )
    .unwrap();
    let stored = |model: &str| {
        dasvdd_core::checkpoint::get_metadata(&d.join(model), "preprocessing")
            .unwrap()
            .unwrap_or_default()
    };
    let train = |method: &str, model: &str, extra: &[&str]| {
        let mut args = vec![
            "train",
            "--quiet",
            "--method",
            method,
            "--data",
            "normal.csv",
            "--config",
            "c.toml",
            "--out",
            model,
        ];
        args.extend(extra);
        ok(&dasvdd(&args, d));
    };
    train("kde", "k.safetensors", &[]);
    assert!(
        stored("k.safetensors").contains("ZScore"),
        "{}",
        stored("k.safetensors")
    );
    train("iforest", "i.safetensors", &[]);
    assert!(
        !stored("i.safetensors").contains("ZScore"),
        "{}",
        stored("i.safetensors")
    );
    train("kde", "k2.safetensors", &["--scale", "minmax"]);
    assert!(
        !stored("k2.safetensors").contains("ZScore"),
        "{}",
        stored("k2.safetensors")
    );
    std::fs::write(d.join("bad.toml"), "[preprocessing]\nkde = \"zscor\"\n").unwrap();
    let e = err(&dasvdd(
        &[
            "train",
            "--method",
            "kde",
            "--data",
            "normal.csv",
            "--config",
            "bad.toml",
            "--out",
            "x.safetensors",
        ],
        d,
    ));
    assert!(e.contains("bad.toml") && e.contains("zscor"), "{e}");
}

#[test]
fn malformed_files_name_the_file_and_row() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_fixture(d);
    std::fs::write(d.join("ragged.csv"), "1,2,3\n4,5\n").unwrap();
    std::fs::write(d.join("text.csv"), "1,2,3\n4,x,6\n").unwrap();
    std::fs::write(d.join("nan.csv"), "1,2,3\n4,5,6\n7,NaN,9\n").unwrap();
    let e = err(&dasvdd(&["train", "--data", "ragged.csv", "--out", "m"], d));
    assert!(e.contains("ragged.csv") && e.contains("row 2"), "{e}");
    let e = err(&dasvdd(&["train", "--data", "text.csv", "--out", "m"], d));
    assert!(
        e.contains("text.csv") && e.contains("row 2") && e.contains("`x`"),
        "{e}"
    );
    let e = err(&dasvdd(&["train", "--data", "nan.csv", "--out", "m"], d));
    assert!(e.contains("nan.csv") && e.contains("row 3"), "{e}");

    ok(&dasvdd(
        &[
            "train",
            "--quiet",
            "--data",
            "normal.csv",
            "--epochs",
            "1",
            "--gamma",
            "1",
            "--out",
            "m.safetensors",
        ],
        d,
    ));
    // Wrong column count for the model.
    std::fs::write(d.join("three.csv"), "1,2,3\n4,5,6\n").unwrap();
    let e = err(&dasvdd(
        &[
            "score",
            "--model",
            "m.safetensors",
            "--data",
            "three.csv",
            "--out",
            "s.csv",
        ],
        d,
    ));
    assert!(
        e.contains("three.csv") && e.contains("3 columns") && e.contains("12 features"),
        "{e}"
    );
    assert!(!d.join("s.csv").exists(), "no score file on error");
    // Not a model file.
    let e = err(&dasvdd(
        &[
            "score",
            "--model",
            "labels.csv",
            "--data",
            "new.csv",
            "--out",
            "s.csv",
        ],
        d,
    ));
    assert!(e.contains("labels.csv"), "{e}");
    // Labels: wrong count and unknown values.
    std::fs::write(d.join("bad_labels.csv"), "0\n2\n").unwrap();
    ok(&dasvdd(
        &[
            "score",
            "--model",
            "m.safetensors",
            "--data",
            "new.csv",
            "--out",
            "s.csv",
        ],
        d,
    ));
    let e = err(&dasvdd(
        &["eval", "--scores", "s.csv", "--labels", "bad_labels.csv"],
        d,
    ));
    assert!(e.contains("bad_labels.csv") && e.contains("row 2"), "{e}");
    std::fs::write(d.join("short.csv"), "0\n1\n").unwrap();
    let e = err(&dasvdd(
        &["eval", "--scores", "s.csv", "--labels", "short.csv"],
        d,
    ));
    assert!(e.contains("200 scores") && e.contains("2 labels"), "{e}");
    // Score files: a non-finite score and several columns.
    std::fs::write(d.join("nan_scores.csv"), "score\n0.5\nNaN\n").unwrap();
    let e = err(&dasvdd(
        &[
            "eval",
            "--scores",
            "nan_scores.csv",
            "--labels",
            "short.csv",
        ],
        d,
    ));
    assert!(e.contains("nan_scores.csv") && e.contains("row 3"), "{e}");
    std::fs::write(d.join("wide_scores.csv"), "0.5,1\n0.2,3\n").unwrap();
    let e = err(&dasvdd(
        &[
            "eval",
            "--scores",
            "wide_scores.csv",
            "--labels",
            "short.csv",
        ],
        d,
    ));
    assert!(e.contains("wide_scores.csv") && e.contains("row 1"), "{e}");
    // A CPU-only build asked for CUDA.
    if !cfg!(feature = "cuda") {
        let e = err(&dasvdd(
            &[
                "train",
                "--data",
                "normal.csv",
                "--device",
                "cuda:0",
                "--out",
                "m",
            ],
            d,
        ));
        assert!(e.contains("no CUDA support"), "{e}");
    }
}
