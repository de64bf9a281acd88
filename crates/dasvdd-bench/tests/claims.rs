//! Cells claimed by a process on another host (a task killed on one node, resubmitted with
//! another job id on another): `bench-all` waits while the claim is fresh, takes it over once
//! its heartbeat has stopped for `DASVDD_CLAIM_STALE_SECS`, and ends with every cell finished
//! (it used to skip such cells for good and exit 0). In a test binary of its own, since it
//! sets that variable for the whole process.

use std::time::{Duration, Instant, SystemTime};

use dasvdd_bench::store::{ResultsDir, CLAIM_STALE_ENV};
use dasvdd_bench::BenchArgs;

#[test]
fn a_claim_from_another_host_is_waited_for_then_taken_over() {
    std::env::set_var(CLAIM_STALE_ENV, "2");
    let dir = tempfile::tempdir().unwrap();
    let args = BenchArgs {
        datasets: vec!["synthetic".into()],
        classes: vec![0],
        methods: vec!["iforest".into()],
        seeds: Some(3),
        results: dir.path().to_path_buf(),
        ..BenchArgs::default()
    };
    let plan = dasvdd_bench::runner::plan(&args).unwrap();
    assert_eq!(plan.cells.len(), 3);
    let results = ResultsDir::new(dir.path());
    std::fs::create_dir_all(results.claims_dir()).unwrap();
    let owner =
        r#"{"host":"another-node","pid":4242,"start":17,"slurm_job":"900","slurm_restart":0}"#;
    let claim = |i: usize| results.claim_path(&plan.cells[i]);
    // Cell 0: claimed just now (its owner may be alive); cell 1: untouched for an hour.
    std::fs::write(claim(0), owner).unwrap();
    std::fs::write(claim(1), owner).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(claim(1))
        .unwrap()
        .set_modified(SystemTime::now() - Duration::from_secs(3600))
        .unwrap();
    let started = Instant::now();
    dasvdd_bench::runner::run(&args).unwrap();
    let waited = started.elapsed();
    let done = results.read_cells().unwrap();
    assert_eq!(done.len(), 3, "every cell finished: {:?}", done.keys());
    assert!(
        waited >= Duration::from_millis(1500),
        "the fresh claim was taken at once ({waited:?})"
    );
    assert!(
        std::fs::read_dir(results.claims_dir())
            .unwrap()
            .next()
            .is_none(),
        "claims left behind"
    );
}
