//! A first day with `dasvdd`: defects found by trying the command as a new user (issue 13),
//! each as a test. This file: thresholds and predictions, label conventions, and
//! messages that are plain, single and say the fix. Tiny data and few epochs, so that the whole
//! file runs in seconds.

mod common;
use common::{dasvdd, err, fixture, ok, run, stderr, tables, train_fast, train_fast_with, FAST};

#[test]
fn thresholds_predictions_and_inspect() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fixture(d);
    train_fast_with(d, "m.safetensors", &["--contamination", "0.1"]);
    let scored = ok(&dasvdd(
        &[
            "score",
            "--model",
            "m.safetensors",
            "--data",
            "normal.csv",
            "--predict",
            "--out",
            "-",
        ],
        d,
    ));
    let mut lines = scored.lines();
    assert_eq!(lines.next(), Some("score,prediction"));
    let flagged = lines.filter(|l| l.ends_with(",1")).count();
    // 10% of the 200 training rows, give or take ties.
    assert!((18..=24).contains(&flagged), "{flagged} flagged");
    let report = ok(&dasvdd(&["inspect", "m.safetensors"], d));
    for what in [
        "dasvdd",
        "gamma",
        "3 epochs",
        "threshold",
        "0.1 of the 200",
        "last epoch     reconstruction loss ",
        "codes' spread ",
    ] {
        assert!(report.contains(what), "{what} missing from:\n{report}");
    }
    // eval reports n, the threshold, precision and recall, with the model's threshold.
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
    let json = ok(&dasvdd(
        &[
            "eval",
            "--json",
            "--scores",
            "s.csv",
            "--labels",
            "labels.csv",
            "--model",
            "m.safetensors",
        ],
        d,
    ));
    let v: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
    for key in ["n", "threshold", "precision", "recall", "auroc", "ap", "f1"] {
        assert!(v.get(key).is_some(), "{key} missing: {json}");
    }
    assert_eq!(v["n"], 80);
    // Without a stored threshold, --predict says how to get one.
    train_fast(d, "plain.safetensors");
    let e = err(&dasvdd(
        &[
            "score",
            "--model",
            "plain.safetensors",
            "--data",
            "new.csv",
            "--predict",
            "--out",
            "-",
        ],
        d,
    ));
    assert!(e.contains("--contamination"), "{e}");
}

#[test]
fn label_conventions_get_a_hint_and_pos_label_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("s.csv"), "score\n0.9\n0.1\n0.8\n0.2\n").unwrap();
    std::fs::write(d.join("sk.csv"), "-1\n1\n-1\n1\n").unwrap();
    std::fs::write(d.join("words.csv"), "anomaly\nnormal\nanomaly\nnormal\n").unwrap();
    let e = err(&dasvdd(
        &["eval", "--scores", "s.csv", "--labels", "sk.csv"],
        d,
    ));
    assert!(
        e.contains("--pos-label -1") && e.contains("scikit-learn"),
        "{e}"
    );
    let e = err(&dasvdd(
        &["eval", "--scores", "s.csv", "--labels", "words.csv"],
        d,
    ));
    assert!(
        e.contains("--pos-label") && e.contains("anomaly, normal"),
        "{e}"
    );
    for (file, pos) in [("sk.csv", "-1"), ("words.csv", "anomaly")] {
        let json = ok(&dasvdd(
            &[
                "eval",
                "--json",
                "--scores",
                "s.csv",
                "--labels",
                file,
                "--pos-label",
                pos,
            ],
            d,
        ));
        let v: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
        assert_eq!(v["auroc"].as_f64(), Some(1.0), "{file}: {json}");
    }
}

#[test]
fn messages_are_plain_single_and_say_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fixture(d);
    // A warning (batch larger than the data) without colour codes when stderr is a pipe.
    let (train, _, _) = tables(20);
    std::fs::write(d.join("small.csv"), train.join("\n") + "\n").unwrap();
    let mut args = vec![
        "train",
        "--quiet",
        "--data",
        "small.csv",
        "--out",
        "m.safetensors",
    ];
    args.extend(FAST);
    let out = dasvdd(&args, d);
    ok(&out);
    let e = stderr(&out);
    assert!(e.contains("batch size"), "no warning: {e}");
    assert!(!e.contains('\x1b'), "colour codes: {e:?}");
    // A negative number is a value, and its problem is said.
    let e = err(&dasvdd(
        &[
            "train",
            "--data",
            "normal.csv",
            "--gamma",
            "-1",
            "--out",
            "x.safetensors",
        ],
        d,
    ));
    assert!(
        !e.contains("unexpected argument") && e.contains("gamma"),
        "{e}"
    );
    // One training row: the same refusal from every method.
    std::fs::write(d.join("one.csv"), "0.1,0.2,0.3\n").unwrap();
    for method in ["dasvdd", "ocsvm", "kde", "iforest", "ae", "deep_svdd"] {
        let e = err(&dasvdd(
            &[
                "train",
                "--method",
                method,
                "--data",
                "one.csv",
                "--out",
                "x.safetensors",
            ],
            d,
        ));
        assert!(
            e.contains("1 training rows") && e.contains("needs at least"),
            "{method}: {e}"
        );
    }
    // Raw pixels into a sigmoid output: a warning with the fix.
    let (train, _, _) = tables(30);
    let raw: Vec<String> = train
        .iter()
        .map(|r| {
            r.split(',')
                .map(|v| format!("{}", (v.parse::<f64>().unwrap() * 255.0).round()))
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect();
    std::fs::write(d.join("pixels.csv"), raw.join("\n") + "\n").unwrap();
    std::fs::write(
        d.join("sig.toml"),
        "[model]\nhidden = [4]\nlatent = 2\noutput_activation = \"sigmoid\"\n",
    )
    .unwrap();
    let mut args = vec![
        "train",
        "--quiet",
        "--data",
        "pixels.csv",
        "--config",
        "sig.toml",
        "--out",
        "p.safetensors",
    ];
    args.extend(FAST);
    let out = dasvdd(&args, d);
    ok(&out);
    assert!(stderr(&out).contains("--scale minmax"), "{}", stderr(&out));
    // A missing file: its OS error once, no backtrace even when asked for one.
    let out = run(
        &[
            "score",
            "--model",
            "missing.safetensors",
            "--data",
            "new.csv",
            "--out",
            "s.csv",
        ],
        d,
        None,
        &[("RUST_BACKTRACE", "1")],
    );
    let e = err(&out);
    assert_eq!(e.matches("os error 2").count(), 1, "{e}");
    assert!(!e.to_lowercase().contains("backtrace"), "{e}");
    assert_eq!(e.trim().lines().count(), 1, "{e}");
    // The shipped configs by their repository path, from any folder.
    let out = dasvdd(
        &[
            "train",
            "--quiet",
            "--method",
            "iforest",
            "--data",
            "normal.csv",
            "--config",
            "configs/fmnist.toml",
            "--out",
            "f.safetensors",
        ],
        d,
    );
    ok(&out);
}

/// MIMII's test split scored by `--dataset`: each frame vector gets its score and its clip (the
/// `group` column), and the evaluation is per clip, each scored by the mean of its frames'
/// scores as the benchmark and the MIMII baseline do (it was per frame vector).
#[test]
fn mimii_scores_are_evaluated_per_clip() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let fan = d.join("mimii/fan");
    std::fs::create_dir_all(fan.join("train")).unwrap();
    std::fs::create_dir_all(fan.join("test")).unwrap();
    let wav = |path: &std::path::Path, freq: f32| {
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 16_000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(path, spec).unwrap();
        for k in 0..8_000usize {
            let t = k as f32 / 16_000.0;
            let v = (2.0 * std::f32::consts::PI * freq * t).sin() * 8_000.0
                + ((k * 7919) % 101) as f32 * 10.0;
            w.write_sample(v as i16).unwrap();
        }
        w.finalize().unwrap();
    };
    for k in 0..3 {
        wav(
            &fan.join(format!("train/normal_id_00_0000000{k}.wav")),
            440.0 + 10.0 * k as f32,
        );
        wav(
            &fan.join(format!("test/normal_id_00_0000000{k}.wav")),
            445.0 + 10.0 * k as f32,
        );
        wav(
            &fan.join(format!("test/anomaly_id_00_0000000{k}.wav")),
            2_000.0 + 300.0 * k as f32,
        );
    }
    let data = d.to_str().unwrap();
    let env = [("DASVDD_DATA", data)];
    let train = common::run(
        &[
            "train",
            "--quiet",
            "--dataset",
            "mimii",
            "--method",
            "iforest",
            "--out",
            "m.st",
        ],
        d,
        None,
        &env,
    );
    common::ok(&train);
    let out = common::run(
        &[
            "score",
            "--model",
            "m.st",
            "--dataset",
            "mimii",
            "--out",
            "s.csv",
        ],
        d,
        None,
        &env,
    );
    common::ok(&out);
    let text = std::fs::read_to_string(d.join("s.csv")).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("score,group"));
    let rows: Vec<(f64, u32)> = lines
        .map(|l| {
            let (s, g) = l.split_once(',').unwrap();
            (s.parse().unwrap(), g.parse().unwrap())
        })
        .collect();
    let mut clips: Vec<u32> = rows.iter().map(|r| r.1).collect();
    clips.dedup();
    assert_eq!(clips.len(), 6, "six clips, their frames in a row each");
    assert!(rows.len() > 6 * 10, "{} frame vectors", rows.len());
    let summary = common::stderr(&out);
    assert!(
        summary.contains("per group of rows (6 groups") && summary.contains("n 6 (3 anomalies)"),
        "{summary}"
    );
}

/// `inspect` shows the values a fit chose that the model keeps as tensors: KDE's bandwidth (one
/// of its cross-validation grid) and OCSVM's kernel gamma (for `scale`, 1 / (features x the
/// variance of all training values), as scikit-learn computes it).
#[test]
fn inspect_shows_the_fitted_bandwidth_and_kernel_gamma() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    common::fixture(d);
    for method in ["kde", "ocsvm"] {
        common::ok(&common::dasvdd(
            &[
                "train",
                "--quiet",
                "--method",
                method,
                "--data",
                "normal.csv",
                "--out",
                &format!("{method}.st"),
            ],
            d,
        ));
    }
    let json = |file: &str| -> serde_json::Value {
        serde_json::from_str(&common::ok(&common::dasvdd(
            &["inspect", "--json", file],
            d,
        )))
        .unwrap()
    };
    let kde = json("kde.st");
    let h = kde["fitted"]["bandwidth"].as_f64().unwrap();
    let grid = kde["hyperparameters"]["bandwidth"]["cross_validated"]["grid"]
        .as_array()
        .unwrap();
    assert!(
        grid.iter().any(|g| g.as_f64() == Some(h)),
        "{h} not in {grid:?}"
    );
    assert!(common::ok(&common::dasvdd(&["inspect", "kde.st"], d))
        .contains(&format!("bandwidth      {h} (fitted)")));
    // OCSVM's `scale`: 1 / (n_features * var(X)) over every training value.
    let text = std::fs::read_to_string(d.join("normal.csv")).unwrap();
    let values: Vec<f64> = text
        .lines()
        .flat_map(|l| l.split(',').map(|v| v.parse::<f64>().unwrap()))
        .collect();
    let features = text.lines().next().unwrap().split(',').count() as f64;
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / values.len() as f64;
    let g = json("ocsvm.st")["fitted"]["gamma"].as_f64().unwrap();
    assert!(
        (g - 1.0 / (features * var)).abs() < 1e-4 * g,
        "{g} against {}",
        1.0 / (features * var)
    );
}
