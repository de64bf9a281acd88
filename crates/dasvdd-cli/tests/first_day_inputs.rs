//! A first day with `dasvdd`: defects found by trying the command as a new user (issue 13),
//! each as a test. This file: settings that must reach their method or be an error,
//! id and label columns, formats and delimiters, and a paper dataset by name. Tiny data and
//! few epochs, so that the whole file runs in seconds.

use std::path::Path;

mod common;
use common::{dasvdd, err, fixture, ok, stderr, tables, FAST};

/// Scores of a method trained with the given extra arguments.
fn scores_of(d: &Path, extra: &[&str]) -> String {
    let mut args = vec![
        "train",
        "--quiet",
        "--force",
        "--data",
        "normal.csv",
        "--out",
        "b.safetensors",
    ];
    args.extend(extra);
    ok(&dasvdd(&args, d));
    ok(&dasvdd(
        &[
            "score",
            "--model",
            "b.safetensors",
            "--data",
            "new.csv",
            "--out",
            "-",
        ],
        d,
    ))
}

#[test]
fn baseline_settings_of_the_config_are_applied_and_typos_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fixture(d);
    std::fs::write(
        d.join("b.toml"),
        "[baselines.ocsvm]\nnu = 0.9\ngamma = 100\n[baselines.iforest]\nn_trees = 3\n",
    )
    .unwrap();
    for method in ["ocsvm", "iforest"] {
        let default = scores_of(d, &["--method", method]);
        let set = scores_of(d, &["--method", method, "--config", "b.toml"]);
        assert_ne!(default, set, "{method}: the config changed nothing");
    }
    let settings = ok(&dasvdd(&["inspect", "b.safetensors"], d));
    assert!(settings.contains("\"n_trees\":3"), "{settings}");
    std::fs::write(d.join("typo.toml"), "[baselines.ocsvm]\nnuu = 0.9\n").unwrap();
    let e = err(&dasvdd(
        &[
            "train",
            "--method",
            "ocsvm",
            "--data",
            "normal.csv",
            "--config",
            "typo.toml",
            "--out",
            "x.safetensors",
        ],
        d,
    ));
    assert!(e.contains("typo.toml") && e.contains("nuu"), "{e}");
}

#[test]
fn flags_a_method_does_not_take_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fixture(d);
    for (method, flag, value) in [
        ("ocsvm", "--gamma", "100"),
        ("kde", "--epochs", "3"),
        ("iforest", "--epochs", "3"),
        ("iforest", "--gamma", "1"),
        ("ocsvm", "--seed", "2"),
    ] {
        let e = err(&dasvdd(
            &[
                "train",
                "--method",
                method,
                "--data",
                "normal.csv",
                flag,
                value,
                "--out",
                "x.safetensors",
            ],
            d,
        ));
        assert!(
            e.contains(&format!("{flag} does not apply to {method}")) && e.contains("takes"),
            "{e}"
        );
    }
    // The alias of Deep SVDD's name works as the name does.
    let a = scores_of(d, &["--method", "deepsvdd", "--epochs", "2"]);
    let b = scores_of(d, &["--method", "deep_svdd", "--epochs", "2"]);
    assert_eq!(a, b);
}

#[test]
fn id_and_label_columns_are_named_dropped_or_used() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (train, test, labels) = tables(60);
    let header = "id,a,b,c,d,e,f,g,h";
    let with_id: Vec<String> = train
        .iter()
        .enumerate()
        .map(|(i, r)| format!("{},{r}", i + 1))
        .collect();
    std::fs::write(
        d.join("ids.csv"),
        format!("{header}\n{}\n", with_id.join("\n")),
    )
    .unwrap();
    let mut args = vec![
        "train",
        "--data",
        "ids.csv",
        "--out",
        "m.safetensors",
        "--quiet",
    ];
    args.extend(FAST);
    let out = dasvdd(&args, d);
    ok(&out);
    let warning = stderr(&out);
    assert!(
        warning.contains("`id`") && warning.contains("--drop-cols 1"),
        "no warning: {warning}"
    );
    args.extend(["--drop-cols", "id", "--force"]);
    let out = dasvdd(&args, d);
    ok(&out);
    assert!(!stderr(&out).contains("--drop-cols"), "{}", stderr(&out));
    // A labelled file: train keeps the normal rows, score evaluates in the same run.
    let labelled: Vec<String> = test
        .iter()
        .zip(&labels)
        .map(|(r, l)| format!("{r},{}", if *l == 1 { "anomaly" } else { "normal" }))
        .collect();
    std::fs::write(
        d.join("labelled.csv"),
        format!("a,b,c,d,e,f,g,h,kind\n{}\n", labelled.join("\n")),
    )
    .unwrap();
    let out = dasvdd(
        &[
            "score",
            "--model",
            "m.safetensors",
            "--data",
            "labelled.csv",
            "--label-col",
            "kind",
            "--pos-label",
            "anomaly",
            "--out",
            "s.csv",
        ],
        d,
    );
    ok(&out);
    assert!(stderr(&out).contains("AUROC"), "{}", stderr(&out));
    let out = dasvdd(
        &[
            "train",
            "--data",
            "labelled.csv",
            "--label-col",
            "9",
            "--pos-label",
            "anomaly",
            "--epochs",
            "2",
            "--gamma",
            "1",
            "--out",
            "l.safetensors",
        ],
        d,
    );
    ok(&out);
    assert!(
        stderr(&out).contains("training on the 60 normal rows"),
        "{}",
        stderr(&out)
    );
    // Labels of one class only (a folder of normal images, say): the scores are written and
    // the run succeeds with a note instead of an AUROC.
    let normal_only: Vec<&String> = labelled.iter().filter(|r| r.ends_with(",normal")).collect();
    let rows: Vec<&str> = normal_only.iter().map(|r| r.as_str()).collect();
    std::fs::write(
        d.join("normal.csv"),
        format!("a,b,c,d,e,f,g,h,kind\n{}\n", rows.join("\n")),
    )
    .unwrap();
    let out = dasvdd(
        &[
            "score",
            "--model",
            "m.safetensors",
            "--data",
            "normal.csv",
            "--label-col",
            "kind",
            "--pos-label",
            "anomaly",
            "--out",
            "n.csv",
        ],
        d,
    );
    ok(&out);
    assert!(
        stderr(&out).contains("labelled normal: no AUROC to report"),
        "{}",
        stderr(&out)
    );
    let written = std::fs::read_to_string(d.join("n.csv")).unwrap();
    assert_eq!(written.lines().count(), rows.len() + 1, "{written}");
}

#[test]
fn other_formats_and_delimiters_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (train, _, _) = tables(40);
    // Semicolons, detected.
    let semi: Vec<String> = train.iter().map(|r| r.replace(',', ";")).collect();
    std::fs::write(d.join("semi.csv"), semi.join("\n") + "\n").unwrap();
    let mut args = vec![
        "train",
        "--quiet",
        "--data",
        "semi.csv",
        "--out",
        "s.safetensors",
    ];
    args.extend(FAST);
    ok(&dasvdd(&args, d));
    // The wrong delimiter gets a hint, in a short message.
    let e = err(&dasvdd(
        &[
            "train",
            "--data",
            "semi.csv",
            "--delimiter",
            ",",
            "--out",
            "x.safetensors",
        ],
        d,
    ));
    assert!(e.contains("--delimiter ';'") && e.len() < 400, "{e}");
    // An IDX image file: 5 images of 2 x 3 pixels.
    let mut idx = vec![0u8, 0, 8, 3, 0, 0, 0, 5, 0, 0, 0, 2, 0, 0, 0, 3];
    idx.extend((0..30).map(|i| (i * 8) as u8));
    std::fs::write(d.join("images-idx3-ubyte"), idx).unwrap();
    ok(&dasvdd(
        &[
            "train",
            "--quiet",
            "--method",
            "iforest",
            "--data",
            "images-idx3-ubyte",
            "--out",
            "i.safetensors",
        ],
        d,
    ));
    // IDX files without pixels or without images: an error naming the file (it was a message
    // about `input_dim`, without the file).
    for (name, dims) in [
        ("flat-idx3-ubyte", [5u32, 0, 28]),
        ("none-idx3-ubyte", [0, u32::MAX, u32::MAX]),
    ] {
        let mut bytes = vec![0u8, 0, 8, 3];
        bytes.extend(dims.iter().flat_map(|d| d.to_be_bytes()));
        std::fs::write(d.join(name), bytes).unwrap();
        for method in ["iforest", "kde"] {
            let e = err(&dasvdd(
                &[
                    "train", "--quiet", "--method", method, "--data", name, "--out", "e.st",
                ],
                d,
            ));
            assert!(
                e.contains(name) && (e.contains("empty sample size") || e.contains("no samples")),
                "{e}"
            );
        }
    }
    // A gzipped IDX file of labels, given where images go: the IDX reader's message (it was
    // "unsupported file type `.gz`").
    let mut labels = vec![0u8, 0, 8, 1, 0, 0, 0, 3, 1, 2, 3];
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &labels).unwrap();
    labels = gz.finish().unwrap();
    std::fs::write(d.join("labels-idx1-ubyte.gz"), labels).unwrap();
    let e = err(&dasvdd(
        &[
            "train",
            "--quiet",
            "--method",
            "iforest",
            "--data",
            "labels-idx1-ubyte.gz",
            "--out",
            "e.st",
        ],
        d,
    ));
    assert!(
        e.contains("labels-idx1-ubyte.gz: an IDX file of 1 dimension (labels?)"),
        "{e}"
    );
    // An IDX file of another value type (64-bit floats, 4 samples x 2): read as its numbers.
    let mut f8 = vec![0u8, 0, 0x0e, 2, 0, 0, 0, 4, 0, 0, 0, 2];
    for v in [0.5f64, -1.5, 2.25, 3.0, -0.75, 1.0, 4.5, -2.0] {
        f8.extend(v.to_be_bytes());
    }
    std::fs::write(d.join("floats.idx"), f8).unwrap();
    ok(&dasvdd(
        &[
            "train",
            "--quiet",
            "--method",
            "iforest",
            "--scale",
            "zscore",
            "--data",
            "floats.idx",
            "--out",
            "f.st",
        ],
        d,
    ));
    let inspected = ok(&dasvdd(&["inspect", "--json", "f.st"], d));
    assert!(inspected.contains(r#""mean":[1.625,0.125]"#), "{inspected}");
    // An ODDS .mat file, where the shared data is present.
    let cardio = Path::new("/work/shared/data/odds/cardio.mat");
    if cardio.exists() {
        let cardio = cardio.to_str().unwrap();
        ok(&dasvdd(
            &[
                "train",
                "--quiet",
                "--method",
                "iforest",
                "--data",
                cardio,
                "--out",
                "c.safetensors",
            ],
            d,
        ));
        let out = dasvdd(
            &[
                "score",
                "--model",
                "c.safetensors",
                "--data",
                cardio,
                "--out",
                "c.csv",
            ],
            d,
        );
        ok(&out);
        assert!(stderr(&out).contains("AUROC"), "{}", stderr(&out));
    } else {
        eprintln!(
            "note: {} is absent; the .mat case is skipped",
            cardio.display()
        );
    }
}

/// A paper dataset by name and class, where `dasvdd data list` finds it (Debian's
/// Fashion-MNIST on CI); score on its test split evaluates in the same run.
#[test]
fn a_paper_dataset_by_name_and_class() {
    if !Path::new("/usr/share/datasets/fashion-mnist").exists() {
        eprintln!("note: Fashion-MNIST is not installed; test skipped");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(&dasvdd(
        &[
            "train",
            "--quiet",
            "--method",
            "iforest",
            "--dataset",
            "fmnist",
            "--class",
            "trouser",
            "--out",
            "m.safetensors",
        ],
        d,
    ));
    let out = dasvdd(
        &[
            "score",
            "--model",
            "m.safetensors",
            "--dataset",
            "fmnist",
            "--class",
            "1",
            "--out",
            "-",
        ],
        d,
    );
    let scores = ok(&out);
    assert_eq!(scores.lines().count(), 10_001);
    let summary = stderr(&out);
    assert!(summary.contains("n 10000 (9000 anomalies)"), "{summary}");
    let e = err(&dasvdd(
        &[
            "train",
            "--dataset",
            "fmnist",
            "--class",
            "shoe",
            "--out",
            "x",
        ],
        d,
    ));
    assert!(e.contains("Trouser"), "{e}");
}
