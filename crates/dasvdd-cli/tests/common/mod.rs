//! Helpers shared by the first-day tests of `dasvdd` (`first_day_*.rs`): the binary run in a
//! folder (with standard input and environment), its output checked as a success or a one-line
//! error, and tiny tables of normal rows and anomalies.

// Each test file uses a part of these helpers.
#![allow(dead_code)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The binary under test; `DASVDD_BIN` points the tests at another build (to show that they
/// fail on the one before the fixes).
pub fn binary() -> String {
    std::env::var("DASVDD_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_dasvdd").to_string())
}

pub fn run(args: &[&str], dir: &Path, stdin: Option<&[u8]>, envs: &[(&str, &str)]) -> Output {
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

pub fn dasvdd(args: &[&str], dir: &Path) -> Output {
    run(args, dir, None, &[])
}

pub fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn err(out: &Output) -> String {
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

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// 8 features: normal rows near a line, anomalies uniform. Returns (train CSV, test CSV,
/// label lines) without headers.
pub fn tables(rows: usize) -> (Vec<String>, Vec<String>, Vec<u8>) {
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
pub fn fixture(dir: &Path) {
    let (train, test, labels) = tables(200);
    std::fs::write(dir.join("normal.csv"), train.join("\n") + "\n").unwrap();
    std::fs::write(dir.join("new.csv"), test.join("\n") + "\n").unwrap();
    let l: String = labels.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(dir.join("labels.csv"), format!("label\n{l}")).unwrap();
}

pub const FAST: [&str; 4] = ["--epochs", "3", "--gamma", "1"];

pub fn train_fast(dir: &Path, out: &str) {
    train_fast_with(dir, out, &[]);
}

/// [`train_fast`] with more flags (e.g. `--contamination 0.1`).
pub fn train_fast_with(dir: &Path, out: &str, extra: &[&str]) {
    let mut args = vec!["train", "--quiet", "--data", "normal.csv", "--out", out];
    args.extend(FAST);
    args.extend(extra);
    ok(&dasvdd(&args, dir));
}
