//! Where a result came from: the commit, the command line and the time, written into the
//! records and the report.

use std::time::{SystemTime, UNIX_EPOCH};

/// The source folder of this crate as it was built: git runs there, not in the folder the
/// command runs from (which may be another repository, or none).
const SOURCE_DIR: &str = env!("CARGO_MANIFEST_DIR");

fn git(args: &[&str]) -> Option<String> {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(SOURCE_DIR)
        .args(args)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The commit of the checkout this binary was built from (read when it runs), marked when
/// its working tree has uncommitted changes.
pub fn commit() -> String {
    if !std::path::Path::new(SOURCE_DIR).is_dir() {
        return format!("unknown (the build's source folder {SOURCE_DIR} is not on this machine)");
    }
    match git(&["rev-parse", "--short=12", "HEAD"]) {
        Some(c) if !c.is_empty() => {
            let dirty = git(&["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|s| !s.is_empty());
            if dirty {
                format!("{c} (with uncommitted changes)")
            } else {
                c
            }
        }
        _ => "unknown (not a git checkout)".into(),
    }
}

/// The command line of this process, for the records.
pub fn command_line() -> String {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    args.insert(0, "cargo xtask".into());
    args.join(" ")
}

/// Seconds since the Unix epoch (0 if the clock is before it).
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
