//! Helpers shared by the end-to-end tests of `cargo xtask` (`bench_e2e_*.rs`): a temporary
//! folder with two tabular datasets generated there ([`Env`]), the xtask binary run in it, and
//! the result lines of a results directory.

// Each test file uses a part of these helpers.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Writes `<root>/odds/<stem>.csv`: `normal` rows around 0 and `anomalous` rows around
/// `shift`, six features, label last, no header (the layout `dasvdd-data` reads).
pub fn write_dataset(root: &Path, stem: &str, seed: u64, shift: f64) {
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

pub struct Env {
    pub dir: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        write_dataset(&dir.path().join("data"), "toya", 1, 2.5);
        write_dataset(&dir.path().join("data"), "toyb", 2, 1.5);
        Env { dir }
    }

    pub fn results(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Runs the xtask binary in the temporary folder with the test data root.
    pub fn xtask(&self, args: &[&str]) -> Output {
        let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
            .args(args)
            .current_dir(self.dir.path())
            .env("DASVDD_DATA", self.dir.path().join("data"))
            .env("RAYON_NUM_THREADS", "1")
            .output()
            .unwrap();
        out
    }

    pub fn ok(&self, args: &[&str]) -> String {
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

/// Every result line of a results directory, as (cell identity, whole line).
pub fn result_lines(results: &Path) -> Vec<(String, String)> {
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
