//! The side-by-side PyTorch loops of `cargo xtask perf`: a script run by a Python with torch,
//! whose output line is parsed into two numbers and torch's version.

use std::process::Command;

/// Whether `python` runs and imports torch; otherwise the reason, in one line (the last line of
/// its error output, or why it did not start), so that a missing torch is reported once rather
/// than once per loop.
pub fn available(python: &std::path::Path) -> Result<(), String> {
    match Command::new(python).args(["-c", "import torch"]).output() {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => Err(last_line(&out.stderr).unwrap_or_else(|| "it exited with an error".into())),
        Err(e) => Err(e.to_string()),
    }
}

/// [`available`], saying in one line on standard output why not when it is not: the check
/// `cargo xtask perf` and `perf --lenet` make before their PyTorch loops.
pub fn found(python: &std::path::Path) -> bool {
    match available(python) {
        Ok(()) => true,
        Err(why) => {
            println!(
                "PyTorch not found by {} ({why}): no side-by-side comparison (pass --python PATH)",
                python.display()
            );
            false
        }
    }
}

/// The last line of a process's output, if it printed any.
fn last_line(bytes: &[u8]) -> Option<String> {
    String::from_utf8_lossy(bytes)
        .lines()
        .last()
        .map(str::to_string)
}

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
            last_line(&out.stderr).unwrap_or_default()
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

#[cfg(test)]
mod tests {
    use super::available;
    use std::path::Path;

    #[test]
    fn a_python_that_does_not_start_or_fails_is_not_available() {
        let missing = available(Path::new("/nonexistent/python")).unwrap_err();
        assert!(missing.contains("No such file"), "{missing}");
        if Path::new("/bin/false").exists() {
            assert_eq!(
                available(Path::new("/bin/false")).unwrap_err(),
                "it exited with an error"
            );
        }
        if Path::new("/bin/true").exists() {
            assert!(available(Path::new("/bin/true")).is_ok());
        }
    }
}
