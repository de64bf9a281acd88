//! End-to-end tests of the arguments of `cargo xtask bench-all`, `report` and `slurm`, run as
//! the built binary: bad arguments are clear errors, method aliases, and `slurm`'s checks of the
//! bench-all arguments.

use std::process::Command;

mod common;
use common::Env;

#[test]
fn bad_arguments_are_clear_errors() {
    let env = Env::new();
    let out = env.xtask(&["bench-all", "--shard", "2/2"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("0 <= i < n"));
    let out = env.xtask(&["bench-all", "--datasets", "nope", "--results", "r"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown dataset"));
    let out = env.xtask(&["report", "--results", "does-not-exist"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not exist"));
}

/// Both spellings of Deep SVDD's name run; `slurm` refuses bench-all arguments that every
/// array task would fail on, without writing a script, and a user's error prints no backtrace
/// even with RUST_BACKTRACE=1.
#[test]
fn method_aliases_and_slurm_argument_checks() {
    let env = Env::new();
    for spelling in ["deep_svdd", "deepsvdd"] {
        let out = env.xtask(&[
            "bench-all",
            "--datasets",
            "nope-not-a-dataset",
            "--methods",
            spelling,
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        // The method parses; the run stops at the dataset.
        assert!(stderr.contains("unknown dataset"), "{spelling}: {stderr}");
    }
    for bad in [
        &["--methods", "deep_svd"][..],
        &["--bogus-flag"][..],
        &["--datasets", "fmnist,nope"][..],
    ] {
        let script = env.results("slurm").join("a.sbatch");
        let mut argv = vec![
            "slurm",
            "--shards",
            "2",
            "--out",
            script.to_str().unwrap(),
            "--",
        ];
        argv.extend(bad);
        let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
            .args(&argv)
            .current_dir(env.dir.path())
            .env("RUST_BACKTRACE", "1")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{bad:?} accepted");
        assert!(stderr.starts_with("error: bench-all arguments"), "{stderr}");
        assert!(!stderr.contains("backtrace"), "{stderr}");
        assert!(!script.exists(), "{bad:?}: a script was written");
    }
    // The arguments `slurm` sets itself, each with what to pass instead.
    for (owned, instead) in [
        ("--results", "--results before `--`"),
        ("--shard", "--shards before `--`"),
    ] {
        let out = env.xtask(&["slurm", "--shards", "2", "--", owned, "0/2"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{owned} accepted");
        assert!(
            stderr.contains("is set by `xtask slurm` itself") && stderr.contains(instead),
            "{stderr}"
        );
    }
    // An unknown method names what the benchmark takes beyond the registry's methods.
    let out = env.xtask(&["bench-all", "--methods", "dasvdd-paper2", "--results", "r"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("unknown method `dasvdd-paper2`") && stderr.contains("dasvdd-code"),
        "{stderr}"
    );
    let out = env.xtask(&["slurm", "--shards", "2", "--", "--methods", "deep_svdd"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
