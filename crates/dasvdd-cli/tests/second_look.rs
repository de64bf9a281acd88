//! Defects found by a second new-user pass over `dasvdd` (2026-12-05), each as a test: columns
//! scored in another order, NaN scores written, options given where they do not apply, a
//! mistyped `--pos-label` or `--log`, file modes, `-` for every file argument, oversized
//! `--image-size`, gzipped IDX files by content. Tiny data and fast settings.

use std::path::Path;

mod common;
use common::{dasvdd, err, fixture, ok, run, FAST};

/// normal.csv and new.csv with a header row `f1..f8`.
fn named_fixture(d: &Path) {
    fixture(d);
    let header: Vec<String> = (1..=8).map(|j| format!("f{j}")).collect();
    for f in ["normal.csv", "new.csv"] {
        let body = std::fs::read_to_string(d.join(f)).unwrap();
        std::fs::write(d.join(f), format!("{}\n{body}", header.join(","))).unwrap();
    }
}

fn train(d: &Path, extra: &[&str]) {
    let mut args = vec!["train", "--quiet", "--force", "--data", "normal.csv"];
    args.extend(extra);
    ok(&dasvdd(&args, d));
}

#[test]
fn scoring_columns_in_another_order_or_with_other_names_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    named_fixture(d);
    train(d, &["--method", "iforest", "--out", "m.safetensors"]);
    let score = |data: &str| {
        dasvdd(
            &[
                "score",
                "--model",
                "m.safetensors",
                "--data",
                data,
                "--out",
                "-",
            ],
            d,
        )
    };
    ok(&score("new.csv"));
    // The same table with its columns reversed.
    let text = std::fs::read_to_string(d.join("new.csv")).unwrap();
    let reversed: String = text
        .lines()
        .map(|l| {
            let mut c: Vec<&str> = l.split(',').collect();
            c.reverse();
            c.join(",") + "\n"
        })
        .collect();
    std::fs::write(d.join("reversed.csv"), reversed).unwrap();
    let e = err(&score("reversed.csv"));
    assert!(
        e.contains("another order") && e.contains("reversed.csv"),
        "{e}"
    );
    // Another table of as many columns.
    std::fs::write(d.join("other.csv"), text.replacen("f3", "g3", 1)).unwrap();
    let e = err(&score("other.csv"));
    assert!(
        e.contains("column 3 is `g3` where the model's is `f3`"),
        "{e}"
    );
    // Without a header there are no names to check.
    std::fs::write(
        d.join("bare.csv"),
        text.lines().skip(1).collect::<Vec<_>>().join("\n") + "\n",
    )
    .unwrap();
    ok(&score("bare.csv"));
}

#[test]
fn a_non_finite_score_is_an_error_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fixture(d);
    let mut args = vec!["--method", "ae", "--out", "ae.safetensors"];
    args.extend(FAST.iter().take(2));
    train(d, &args);
    // Every feature at 3e38 (finite in f32): the first layer's sums overflow to infinities
    // of both signs, and the score is NaN.
    let text = std::fs::read_to_string(d.join("new.csv")).unwrap();
    let width = text.lines().next().unwrap().split(',').count();
    std::fs::write(
        d.join("huge.csv"),
        vec!["3e38"; width].join(",") + "\n" + &text,
    )
    .unwrap();
    let e = err(&dasvdd(
        &[
            "score",
            "--model",
            "ae.safetensors",
            "--data",
            "huge.csv",
            "--out",
            "s.csv",
        ],
        d,
    ));
    assert!(e.contains("huge.csv: the score of sample 1"), "{e}");
    assert!(!d.join("s.csv").exists());
    // Scaled by the model's z-score, the same value overflows before the network.
    train(
        d,
        &[
            "--method",
            "iforest",
            "--scale",
            "zscore",
            "--out",
            "z.safetensors",
        ],
    );
    let e = err(&dasvdd(
        &[
            "score",
            "--model",
            "z.safetensors",
            "--data",
            "huge.csv",
            "--out",
            "s.csv",
        ],
        d,
    ));
    assert!(
        e.contains("huge.csv: sample 1, feature 1 (from 1) is inf after the model's scaling"),
        "{e}"
    );
    assert!(!d.join("s.csv").exists());
}

#[test]
fn options_that_do_not_apply_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fixture(d);
    let base = [
        "train",
        "--method",
        "iforest",
        "--data",
        "normal.csv",
        "--out",
        "x.safetensors",
    ];
    for (extra, what) in [
        (&["--class", "3"][..], "--class applies to --dataset"),
        (&["--split", "test"][..], "--split applies to --dataset"),
        (
            &["--pos-label", "-1"][..],
            "give the column with --label-col",
        ),
        (
            &["--image-size", "32x32"][..],
            "--image-size applies to a folder of images",
        ),
        (&["--rgb"][..], "--rgb applies to a folder of images"),
    ] {
        let mut args = base.to_vec();
        args.extend(extra);
        let e = err(&dasvdd(&args, d));
        assert!(e.contains(what), "{extra:?}: {e}");
    }
    assert!(!d.join("x.safetensors").exists());
    std::fs::create_dir_all(d.join("imgs/normal")).unwrap();
    let e = err(&dasvdd(
        &[
            "train",
            "--method",
            "iforest",
            "--data",
            "imgs",
            "--image-size",
            "100000x100000",
            "--out",
            "x.safetensors",
        ],
        d,
    ));
    assert!(e.contains("at most 4096 pixels a side"), "{e}");
}

#[test]
fn a_pos_label_that_matches_no_row_of_several_labels_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut text = String::from("a,b,label\n");
    for i in 0..10 {
        let label = if i % 3 == 0 { "anomaly" } else { "normal" };
        text.push_str(&format!("{}.5,{}.25,{label}\n", i, i % 4));
    }
    std::fs::write(d.join("lab.csv"), &text).unwrap();
    let args = |pos: &'static str| {
        vec![
            "train",
            "--quiet",
            "--method",
            "iforest",
            "--data",
            "lab.csv",
            "--label-col",
            "label",
            "--pos-label",
            pos,
            "--out",
            "x.safetensors",
            "--force",
        ]
    };
    let e = err(&dasvdd(&args("Anomaly"), d));
    assert!(e.contains("no label is `Anomaly`"), "{e}");
    ok(&dasvdd(&args("anomaly"), d));
}

#[test]
fn a_misspelt_log_level_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let e = err(&dasvdd(&["--log", "wran", "data", "list"], d));
    assert!(e.contains("`wran` is not a level"), "{e}");
    ok(&dasvdd(
        &["--log", "info,dasvdd_core=debug", "data", "list"],
        d,
    ));
}

#[cfg(unix)]
#[test]
fn outputs_are_readable_as_files_created_the_usual_way() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fixture(d);
    train(d, &["--method", "iforest", "--out", "m.safetensors"]);
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
    // The tests run under the umask of the machine; 0o600 is what tempfile alone gave.
    for f in ["m.safetensors", "s.csv"] {
        let mode = std::fs::metadata(d.join(f)).unwrap().permissions().mode() & 0o777;
        assert_ne!(mode, 0o600, "{f}: {mode:o}");
        assert_eq!(mode & 0o600, 0o600, "{f}: {mode:o}");
    }
}

#[test]
fn every_model_argument_takes_standard_input() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fixture(d);
    train(
        d,
        &[
            "--method",
            "iforest",
            "--contamination",
            "0.1",
            "--out",
            "m.safetensors",
        ],
    );
    let model = std::fs::read(d.join("m.safetensors")).unwrap();
    let out = run(&["inspect", "-"], d, Some(&model), &[]);
    assert!(ok(&out).contains("method         iforest"));
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
    let out = run(
        &[
            "eval",
            "--scores",
            "s.csv",
            "--labels",
            "labels.csv",
            "--model",
            "-",
        ],
        d,
        Some(&model),
        &[],
    );
    assert!(ok(&out).contains("AUROC"));
    let config = b"[baselines.iforest]\nn_trees = 3\n";
    let out = run(
        &[
            "train",
            "--quiet",
            "--method",
            "iforest",
            "--data",
            "normal.csv",
            "--config",
            "-",
            "--out",
            "c.safetensors",
        ],
        d,
        Some(config),
        &[],
    );
    ok(&out);
    assert!(ok(&dasvdd(&["inspect", "c.safetensors"], d)).contains("\"n_trees\":3"));
    let e = err(&dasvdd(
        &[
            "eval",
            "--scores",
            "-",
            "--labels",
            "labels.csv",
            "--model",
            "-",
        ],
        d,
    ));
    assert!(e.contains("only one of"), "{e}");
}

#[test]
fn gzipped_idx_images_are_known_by_their_content() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Two 28x28 images in IDX (magic 0x00000803), gzipped, under a name without `idx`.
    let mut idx = vec![0u8, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 28, 0, 0, 0, 28];
    idx.extend((0..2 * 784).map(|i| (i % 251) as u8));
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &idx).unwrap();
    std::fs::write(d.join("images.gz"), gz.finish().unwrap()).unwrap();
    ok(&dasvdd(
        &[
            "train",
            "--quiet",
            "--method",
            "iforest",
            "--data",
            "images.gz",
            "--out",
            "m.safetensors",
        ],
        d,
    ));
}

#[test]
fn score_dataset_takes_the_class_the_model_was_trained_on() {
    let data = "/usr/share/datasets";
    if !Path::new(data).join("fashion-mnist").exists() {
        eprintln!("note: {data}/fashion-mnist is absent; test skipped");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let env = [("DASVDD_DATA", data)];
    let out = run(
        &[
            "train",
            "--quiet",
            "--method",
            "iforest",
            "--dataset",
            "fmnist",
            "--class",
            "1",
            "--out",
            "m.safetensors",
        ],
        d,
        None,
        &env,
    );
    ok(&out);
    let score = |extra: &[&str]| {
        let mut args = vec![
            "score",
            "--model",
            "m.safetensors",
            "--dataset",
            "fmnist",
            "--out",
            "s.csv",
            "--force",
        ];
        args.extend(extra);
        let out = run(&args, d, None, &env);
        ok(&out);
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let summary = score(&[]);
    assert!(
        summary.contains("fmnist class 1 (Trouser), test"),
        "{summary}"
    );
    let summary = score(&["--class", "3"]);
    assert!(
        summary.contains("was trained on fmnist class 1 as normal; these scores take class 3"),
        "{summary}"
    );
}

#[test]
fn a_model_whose_scaling_does_not_fit_its_features_is_named_as_the_fault() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fixture(d);
    train(
        d,
        &[
            "--method",
            "iforest",
            "--scale",
            "zscore",
            "--out",
            "m.safetensors",
        ],
    );
    let m = d.join("m.safetensors");
    let three = r#"{"ZScore":{"mean":[0.0,0.0,0.0],"std":[1.0,1.0,1.0]}}"#;
    let stored = dasvdd_core::checkpoint::get_metadata(&m, "preprocessing")
        .unwrap()
        .unwrap();
    assert!(stored.starts_with(r#"{"ZScore""#), "{stored}");
    dasvdd_core::checkpoint::set_metadata(&m, &[("preprocessing", three.to_string())]).unwrap();
    let e = err(&dasvdd(
        &[
            "score",
            "--model",
            "m.safetensors",
            "--data",
            "new.csv",
            "--out",
            "-",
        ],
        d,
    ));
    assert!(
        e.contains("m.safetensors: its stored scaling does not fit its own 8 features"),
        "{e}"
    );
}

/// `/dev/zero` given as data, as a model or as labels is an error at once: read whole, it
/// filled memory until the process was killed.
#[cfg(unix)]
#[test]
fn a_device_is_not_read_as_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fixture(d);
    train(d, &["--method", "iforest", "--out", "m.safetensors"]);
    std::fs::write(d.join("scores.csv"), "score\n0.5\n0.7\n").unwrap();
    for args in [
        &[
            "train",
            "--method",
            "iforest",
            "--data",
            "/dev/zero",
            "--out",
            "x.safetensors",
        ][..],
        &[
            "score",
            "--model",
            "/dev/zero",
            "--data",
            "new.csv",
            "--out",
            "s.csv",
        ][..],
        &[
            "score",
            "--model",
            "m.safetensors",
            "--data",
            "/dev/zero",
            "--out",
            "s.csv",
        ][..],
        &["inspect", "/dev/zero"][..],
        &["eval", "--scores", "scores.csv", "--labels", "/dev/zero"][..],
    ] {
        let e = err(&dasvdd(args, d));
        assert!(
            e.contains("/dev/zero") && e.contains("a device, not a file"),
            "{args:?}: {e}"
        );
    }
}
