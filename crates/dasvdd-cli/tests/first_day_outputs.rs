//! A first day with `dasvdd`: defects found by trying the command as a new user (issue 13),
//! each as a test. This file: pipes and special files (`-` and links to standard output)
//! and outputs checked before training, never overwriting a model. Tiny data and few epochs,
//! so that the whole file runs in seconds.

mod common;
use common::{dasvdd, err, fixture, ok, run, train_fast, FAST};

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

/// Every command that prints a report on standard output ends quietly when its reader has gone
/// (`dasvdd inspect m | head -1` racing, `| true`): exit 0 and nothing on stderr, as `score
/// --out -` does, where `println!` panicked (exit 101).
#[test]
fn reports_to_a_closed_pipe_end_quietly() {
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
            "s.csv",
        ],
        d,
    ));
    assert!(scores.is_empty());
    let commands: [&[&str]; 6] = [
        &["inspect", "m.safetensors"],
        &["inspect", "m.safetensors", "--json"],
        &["eval", "--scores", "s.csv", "--labels", "labels.csv"],
        &[
            "eval",
            "--scores",
            "s.csv",
            "--labels",
            "labels.csv",
            "--json",
        ],
        &["data", "list"],
        &[
            "score",
            "--model",
            "m.safetensors",
            "--data",
            "new.csv",
            "--out",
            "-",
        ],
    ];
    for args in commands {
        // The pipe's reading end is closed before the command starts, so its first write fails
        // with a broken pipe whatever the timing.
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = std::process::Command::new(common::binary())
            .args(args)
            .current_dir(d)
            .env("RAYON_NUM_THREADS", "1")
            .env("DASVDD_DATA", d)
            .stdin(std::process::Stdio::null())
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{args:?}: {:?} {stderr}", out.status);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

/// `train --force` refuses to write the model over its own `--config`, as over its `--data`.
#[test]
fn train_never_writes_over_its_config() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fixture(d);
    std::fs::write(d.join("self.toml"), "[train]\nepochs = 1\n").unwrap();
    let e = err(&dasvdd(
        &[
            "train",
            "--quiet",
            "--data",
            "normal.csv",
            "--config",
            "self.toml",
            "--out",
            "self.toml",
            "--force",
        ],
        d,
    ));
    assert!(e.contains("--out self.toml is also an input"), "{e}");
    assert_eq!(
        std::fs::read_to_string(d.join("self.toml")).unwrap(),
        "[train]\nepochs = 1\n"
    );
}

/// `score --predict` with labels names where its threshold came from: the model's (stored by
/// `train --contamination`) or `--threshold`, as `eval --model` and `eval --threshold` do.
#[test]
fn score_names_the_source_of_its_threshold() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fixture(d);
    common::train_fast_with(d, "m.safetensors", &["--contamination", "0.1"]);
    // new.csv with its labels as a last column.
    let rows = std::fs::read_to_string(d.join("new.csv")).unwrap();
    let labels = std::fs::read_to_string(d.join("labels.csv")).unwrap();
    let labelled: String = rows
        .lines()
        .zip(labels.lines().skip(1))
        .map(|(r, l)| format!("{r},{l}\n"))
        .collect();
    std::fs::write(d.join("lab.csv"), labelled).unwrap();
    let summary = |extra: &[&str]| {
        let mut args = vec![
            "score",
            "--model",
            "m.safetensors",
            "--data",
            "lab.csv",
            "--label-col",
            "9",
            "--predict",
            "--out",
            "s.csv",
            "--force",
        ];
        args.extend(extra);
        let out = dasvdd(&args, d);
        ok(&out);
        common::stderr(&out)
    };
    let from_model = summary(&[]);
    assert!(
        from_model.contains("(of m.safetensors: flags 0.1 of its training samples)"),
        "{from_model}"
    );
    assert!(!from_model.contains("--threshold"), "{from_model}");
    let given = summary(&["--threshold", "0.5"]);
    assert!(
        given.contains("at threshold 0.5 (given (--threshold))"),
        "{given}"
    );
}
