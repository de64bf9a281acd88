//! The side-by-side PyTorch loops of `cargo xtask perf`: a script run by a Python with torch,
//! whose output line is parsed into two numbers and torch's version.

use std::process::Command;

/// Runs `python -c script args...`, whose standard output is two numbers, torch's version and
/// its thread count: the two numbers and `torch <version> (<threads> threads)`. `None` (with
/// the script's last error line on standard error) when it fails or prints something else.
pub fn run(python: &std::path::Path, script: &str, args: &[String]) -> Option<(f64, f64, String)> {
    let out = Command::new(python)
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!(
            "PyTorch comparison skipped: {}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        );
        return None;
    }
    let s = String::from_utf8_lossy(&out.stdout);
    let mut it = s.split_whitespace();
    let a = it.next()?.parse().ok()?;
    let b = it.next()?.parse().ok()?;
    let version = format!("torch {} ({} threads)", it.next()?, it.next()?);
    Some((a, b, version))
}
