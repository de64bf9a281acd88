//! A first day with `dasvdd`: every defect found by trying the command as a new user (issue
//! 13) as a test. Pipes and special files, settings that must reach their method or be an
//! error, columns and formats, thresholds and predictions, and messages that say the fix.
//! Tiny data and few epochs, so that the whole file runs in seconds.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The binary under test; `DASVDD_BIN` points the tests at another build (to show that they
/// fail on the one before the fixes).
fn binary() -> String {
    std::env::var("DASVDD_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_dasvdd").to_string())
}

fn run(args: &[&str], dir: &Path, stdin: Option<&[u8]>, envs: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(binary());
    cmd.args(args)
        .current_dir(dir)
        .env("RAYON_NUM_THREADS", "1")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("the binary runs");
    if let Some(bytes) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        pipe.write_all(bytes).unwrap();
    }
    child.wait_with_output().unwrap()
}

fn dasvdd(args: &[&str], dir: &Path) -> Output {
    run(args, dir, None, &[])
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
    assert!(
        !out.status.success(),
        "unexpected success: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let e = String::from_utf8_lossy(&out.stderr).into_owned();
    // Every error is one line that says what is wrong; never a panic.
    assert!(!e.contains("panicked"), "{e}");
    e
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// 8 features: normal rows near a line, anomalies uniform. Returns (train CSV, test CSV,
/// label lines) without headers.
fn tables(rows: usize) -> (Vec<String>, Vec<String>, Vec<u8>) {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let d = 8;
    let dir: Vec<f64> = (0..d).map(|_| rng.random_range(-1.0..1.0)).collect();
    let normal = |rng: &mut ChaCha8Rng| -> String {
        let a: f64 = rng.random_range(-1.0..1.0);
        (0..d)
            .map(|j| {
                format!(
                    "{:.5}",
                    0.5 + 0.3 * a * dir[j] + rng.random_range(-0.01..0.01)
                )
            })
            .collect::<Vec<_>>()
            .join(",")
    };
    let train = (0..rows).map(|_| normal(&mut rng)).collect();
    let mut test = Vec::new();
    let mut labels = Vec::new();
    for i in 0..80 {
        if i % 4 == 0 {
            test.push(
                (0..d)
                    .map(|_| format!("{:.5}", rng.random_range(0.0..1.0)))
                    .collect::<Vec<_>>()
                    .join(","),
            );
            labels.push(1);
        } else {
            test.push(normal(&mut rng));
            labels.push(0);
        }
    }
    (train, test, labels)
}

/// normal.csv (200 rows), new.csv (80 rows), labels.csv (0/1 with a header).
fn fixture(dir: &Path) {
    let (train, test, labels) = tables(200);
    std::fs::write(dir.join("normal.csv"), train.join("\n") + "\n").unwrap();
    std::fs::write(dir.join("new.csv"), test.join("\n") + "\n").unwrap();
    let l: String = labels.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(dir.join("labels.csv"), format!("label\n{l}")).unwrap();
}

const FAST: [&str; 4] = ["--epochs", "3", "--gamma", "1"];

fn train_fast(dir: &Path, out: &str) {
    let mut args = vec!["train", "--quiet", "--data", "normal.csv", "--out", out];
    args.extend(FAST);
    ok(&dasvdd(&args, dir));
}

#[cfg(unix)]
#[test]
fn a_link_to_standard_output_is_written_through_and_never_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fixture(d);
    train_fast(d, "m.safetensors");
    // The same kind of link as /dev/stdout -> /proc/self/fd/1.
    let link = d.join("stdout-link");
    std::os::unix::fs::symlink("/proc/self/fd/1", &link).unwrap();
    let out = dasvdd(
        &[
            "score",
            "--model",
            "m.safetensors",
            "--data",
            "new.csv",
            "--out",
            "stdout-link",
        ],
        d,
    );
    let text = ok(&out);
    assert!(text.starts_with("score\n"), "the pipe got {text:?}");
    assert_eq!(text.lines().count(), 81);
    let meta = std::fs::symlink_metadata(&link).unwrap();
    assert!(meta.file_type().is_symlink(), "the link was replaced");
}

#[test]
fn dash_is_standard_output_and_input_in_a_pipe() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fixture(d);
    train_fast(d, "m.safetensors");
    let scores = ok(&dasvdd(
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
    assert!(!d.join("-").exists(), "a file named - was written");
    assert_eq!(scores.lines().count(), 81);
    // eval reads the scores from stdin; score reads the samples from stdin.
    let json = ok(&run(
        &["eval", "--json", "--scores", "-", "--labels", "labels.csv"],
        d,
        Some(scores.as_bytes()),
        &[],
    ));
    std::fs::write(d.join("s.csv"), &scores).unwrap();
    let from_file = ok(&dasvdd(
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
    assert_eq!(json, from_file);
    assert!(json.contains("\"n\":80"), "{json}");
    let samples = std::fs::read(d.join("new.csv")).unwrap();
    let again = ok(&run(
        &[
            "score",
            "--model",
            "m.safetensors",
            "--data",
            "-",
            "--out",
            "-",
        ],
        d,
        Some(&samples),
        &[],
    ));
    assert_eq!(again, scores);
    // A model through a pipe.
    let model = std::fs::read(d.join("m.safetensors")).unwrap();
    let piped = ok(&run(
        &["score", "--model", "-", "--data", "new.csv", "--out", "-"],
        d,
        Some(&model),
        &[],
    ));
    assert_eq!(piped, scores);
}

#[test]
fn outputs_are_checked_before_training_and_models_are_not_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fixture(d);
    // A typo in the folder fails at once, not after training.
    let out = dasvdd(
        &[
            "train",
            "--data",
            "normal.csv",
            "--epochs",
            "3",
            "--out",
            "modles/m.safetensors",
        ],
        d,
    );
    let e = err(&out);
    assert!(e.contains("modles") && e.contains("does not exist"), "{e}");
    assert!(!e.contains("trained") && !e.contains("estimating"), "{e}");
    train_fast(d, "m.safetensors");
    // Training again onto the model needs --force.
    let mut again = vec![
        "train",
        "--quiet",
        "--data",
        "normal.csv",
        "--out",
        "m.safetensors",
    ];
    again.extend(FAST);
    let e = err(&dasvdd(&again, d));
    assert!(
        e.contains("m.safetensors exists") && e.contains("--force"),
        "{e}"
    );
    again.push("--force");
    ok(&dasvdd(&again, d));
    // Scores never overwrite the model they come from.
    let before = std::fs::read(d.join("m.safetensors")).unwrap();
    let e = err(&dasvdd(
        &[
            "score",
            "--model",
            "m.safetensors",
            "--data",
            "new.csv",
            "--out",
            "m.safetensors",
        ],
        d,
    ));
    assert!(e.contains("also an input"), "{e}");
    assert_eq!(std::fs::read(d.join("m.safetensors")).unwrap(), before);
    // Nor another model without --force.
    std::fs::copy(d.join("m.safetensors"), d.join("other.safetensors")).unwrap();
    let e = err(&dasvdd(
        &[
            "score",
            "--model",
            "m.safetensors",
            "--data",
            "new.csv",
            "--out",
            "other.safetensors",
        ],
        d,
    ));
    assert!(e.contains("--force"), "{e}");
}

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

#[test]
fn thresholds_predictions_and_inspect() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fixture(d);
    let mut args = vec![
        "train",
        "--quiet",
        "--data",
        "normal.csv",
        "--contamination",
        "0.1",
        "--out",
        "m.safetensors",
    ];
    args.extend(FAST);
    ok(&dasvdd(&args, d));
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
    for what in ["dasvdd", "gamma", "3 epochs", "threshold", "0.1 of the 200"] {
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
