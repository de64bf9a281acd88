//! `heap::keep_freed_memory`: a large buffer freed and allocated again comes back without page
//! faults, where glibc's defaults fault on every page of it (checked in a child process of this
//! same test binary, since the setting is process-wide).

#![cfg(all(target_os = "linux", target_env = "gnu"))]

use dasvdd_core::heap::{keep_freed_memory, HeapSetting, SWITCH_VAR};

/// 16 MiB of f32: 4,096 pages, under the 32 MiB mmap threshold set.
const LEN: usize = 4 << 20;
const PAGES: u64 = (LEN * 4 / 4096) as u64;

/// Marks the child process that measures glibc's defaults.
const CHILD: &str = "DASVDD_HEAP_TEST_CHILD";

/// Minor page faults of the calling thread so far.
fn minor_faults() -> u64 {
    // SAFETY: getrusage writes one `rusage` into the zeroed value it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut usage) };
    assert_eq!(rc, 0, "getrusage failed");
    usage.ru_minflt as u64
}

/// Page faults taken while allocating and writing a buffer of [`LEN`] values, after one buffer
/// of the same size was allocated, written and freed.
fn faults_on_reuse() -> u64 {
    drop(std::hint::black_box(vec![1.0f32; LEN]));
    let before = minor_faults();
    let again = std::hint::black_box(vec![2.0f32; LEN]);
    let faults = minor_faults() - before;
    assert_eq!(again[LEN - 1], 2.0);
    faults
}

#[test]
fn a_freed_buffer_is_reused_without_page_faults() {
    if std::env::var_os(CHILD).is_some() {
        // The child: glibc's defaults.
        assert_eq!(keep_freed_memory(), HeapSetting::SwitchedOff);
        println!("faults={}", faults_on_reuse());
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_freed_buffer_is_reused_without_page_faults",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(CHILD, "1")
        .env(SWITCH_VAR, "0")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "child failed: {stdout}");
    let defaults: u64 = stdout
        .lines()
        .find_map(|l| l.split_once("faults=").map(|(_, n)| n))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no fault count in the child's output: {stdout}"));

    assert_eq!(keep_freed_memory(), HeapSetting::Kept);
    let kept = faults_on_reuse();
    // glibc's defaults take one fault per page of the new buffer; kept, the freed pages are
    // reused and (almost) none fault.
    assert!(
        defaults >= PAGES / 2,
        "glibc's defaults faulted only {defaults} times on {PAGES} pages"
    );
    assert!(
        kept < PAGES / 20,
        "{kept} page faults on {PAGES} pages reused (defaults: {defaults})"
    );
}
