//! End-to-end test of `cargo xtask perf --lenet`: both of Ruff's networks train through the
//! project's Deep SVDD on random pixels and the table reports a finite, positive rate for each
//! phase (PyTorch left out, so the test needs no Python).

use std::process::Command;

#[test]
fn perf_lenet_times_both_networks_and_both_phases() {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args([
            "perf",
            "--lenet",
            "--samples",
            "200",
            "--epochs",
            "1",
            "--no-torch",
        ])
        .env("RAYON_NUM_THREADS", "2")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for network in ["mnist LeNet, 200 samples", "cifar10 LeNet, 200 samples"] {
        assert!(stdout.contains(network), "no {network} in:\n{stdout}");
    }
    let rows: Vec<Vec<f64>> = stdout
        .lines()
        .filter(|l| l.trim_start().starts_with("dasvdd-rs "))
        .map(|l| {
            l.split_whitespace()
                .skip(1)
                .map(|v| v.parse().unwrap())
                .collect()
        })
        .collect();
    assert_eq!(rows.len(), 2, "{stdout}");
    for row in rows {
        // samples/s and s/epoch of pre-training, then of the one-class phase.
        assert_eq!(row.len(), 4, "{stdout}");
        assert!(row.iter().all(|v| v.is_finite() && *v > 0.0), "{stdout}");
    }
    assert!(!stdout.contains("PyTorch"), "{stdout}");
}
