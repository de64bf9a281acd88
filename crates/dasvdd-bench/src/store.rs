//! The results store under a results directory.
//!
//! Layout:
//! - `cells/cells-<writer>.jsonl`: one JSON line per finished cell ([`CellRecord`]). Each process
//!   writes only its own file, whose name holds the shard, host, process id and start time, so
//!   concurrent shards on a shared filesystem never share a file. Every append rewrites the
//!   whole file to a temporary file in the same folder and renames it over the old one, so a
//!   reader (or a killed writer) only ever sees complete lines.
//! - `details/<cell>.json`: the per-cell side file ([`CellDetail`]: ROC points, training history,
//!   most and least anomalous test samples), written atomically before the cell's line.
//! - `requests/matrix-<hash>.json`: every matrix a `bench-all` was asked for
//!   ([`MatrixRequest`]), so that the report can list the cells still missing.
//! - `claims/<cell>.lock`: the claim of a cell being computed ([`CellClaim`]), created with
//!   `O_EXCL` and holding the host, process id and process start time of its owner, so that two
//!   processes on the same results folder never compute the same cell at once. A claim whose
//!   process is gone (killed, crashed) is stale and is taken over; the claim is removed when
//!   the cell's line is written (or the cell failed). Whether a process on another host is
//!   gone cannot be asked of that host: a live owner touches its claims every minute (the
//!   heartbeat), and a claim from another host untouched for [`claim_stale_after`] (10
//!   minutes) is stale too.
//! - `logs/`: the `tracing` logs of the runs.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use dasvdd_core::EpochRecord;
use dasvdd_data::fileio::host_name;
use serde::{Deserialize, Serialize};

use crate::matrix::{hex, CellKey};

/// What one finished cell measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellRecord {
    /// The cell (its fields are written flat into the JSON line).
    #[serde(flatten)]
    pub key: CellKey,
    /// Name of the normal class.
    pub class_name: String,
    /// Area under the ROC curve, in `[0, 1]`.
    pub auroc: f64,
    /// Average precision, in `[0, 1]`.
    pub ap: f64,
    /// F1 with the `k` highest scores flagged, `k` the number of test anomalies, in `[0, 1]`.
    pub f1: f64,
    /// DASVDD's gamma (the heuristic's or the fixed value); `None` for the other methods.
    pub gamma: Option<f64>,
    /// Wall-clock seconds of fitting.
    pub fit_seconds: f64,
    /// Wall-clock seconds of scoring the test set.
    pub score_seconds: f64,
    /// Epochs trained (neural methods).
    pub epochs: Option<usize>,
    /// The device the method ran on (`cpu` for the classical methods).
    pub device: String,
    /// Version of the `dasvdd-bench` crate that computed the cell.
    pub crate_version: String,
    /// Training samples.
    pub train: usize,
    /// Normal test units (samples, or clips).
    pub test_normal: usize,
    /// Anomalous test units (samples, or clips).
    pub test_anomalous: usize,
    /// Evaluation unit: `sample`, or `clip` where scores are averaged over a clip's frames.
    pub unit: String,
    /// Unix time (seconds) when the cell finished.
    pub finished_unix: u64,
    /// For methods whose score is a weighted sum of terms (DASVDD: `reconstruction` and
    /// `svdd`), the AUROC of each term alone, in `[0, 1]`; empty for the others and in records
    /// written before 2026-12-03.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub term_auroc: BTreeMap<String, f64>,
}

/// A test sample at one end of the score ranking (Fig. 2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RankedSample {
    /// Row of the (possibly subsampled) test set.
    pub index: usize,
    /// Its anomaly score (higher = more anomalous).
    pub score: f64,
    /// 1 = anomaly.
    pub label: u8,
    /// Pixels scaled to 0..=255 for image datasets (row-major, channels last).
    pub pixels: Option<Vec<u8>>,
}

/// The side file of one cell, for the figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellDetail {
    /// The cell this file belongs to.
    pub key: CellKey,
    /// ROC curve (scikit-learn's `drop_intermediate` points, thinned to at most 512).
    pub roc_fpr: Vec<f64>,
    /// True-positive rates of the same points as `roc_fpr`.
    pub roc_tpr: Vec<f64>,
    /// DASVDD's training history, one record per epoch (empty for the other methods).
    pub history: Vec<EpochRecord>,
    /// Lowest scores first.
    pub least_anomalous: Vec<RankedSample>,
    /// Highest scores first.
    pub most_anomalous: Vec<RankedSample>,
    /// (side, channels) of image samples.
    pub image_shape: Option<(usize, usize)>,
}

/// The matrix one `bench-all` invocation was asked for (all shards of it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MatrixRequest {
    /// The command line of the `bench-all` process.
    pub command: String,
    /// The commit `bench-all` was built from (`git describe` of its working directory).
    #[serde(default)]
    pub commit: Option<String>,
    /// Epochs and subsets of the run.
    #[serde(default)]
    pub shape: Option<crate::matrix::RunShape>,
    /// Every requested cell, available or not.
    pub cells: Vec<CellKey>,
    /// Datasets that were asked for but not found, with how to get them.
    pub unavailable: BTreeMap<String, String>,
}

/// Writes `bytes` to `path` atomically (creating its folder): a temporary file in the same
/// folder, named with the host and process, synced, renamed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dasvdd_data::fileio::write_atomic(path, bytes)?)
}

/// The results directory.
#[derive(Debug, Clone)]
pub struct ResultsDir {
    /// The directory's path.
    pub root: PathBuf,
}

impl ResultsDir {
    /// The results directory at `root` (nothing is created).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        ResultsDir { root: root.into() }
    }

    /// `cells/`: the JSON-lines files of finished cells.
    pub fn cells_dir(&self) -> PathBuf {
        self.root.join("cells")
    }

    /// `details/<cell>.json`: the side file of `key`.
    pub fn details_path(&self, key: &CellKey) -> PathBuf {
        self.root
            .join("details")
            .join(format!("{}.json", key.file_stem()))
    }

    /// `requests/`: the requested matrices.
    pub fn requests_dir(&self) -> PathBuf {
        self.root.join("requests")
    }

    /// `logs/`: the runs' logs.
    pub fn logs_dir(&self) -> PathBuf {
        self.root.join("logs")
    }

    /// `claims/`: the claims of cells being computed.
    pub fn claims_dir(&self) -> PathBuf {
        self.root.join("claims")
    }

    /// `claims/<cell>.lock`: where the claim of `key` is made.
    pub fn claim_path(&self, key: &CellKey) -> PathBuf {
        self.claims_dir().join(format!("{}.lock", key.file_stem()))
    }

    /// Claims `key` for this process: `None` when another live process holds it. A claim left
    /// by a process that is gone is taken over.
    pub fn claim(&self, key: &CellKey) -> Result<Option<CellClaim>> {
        let dir = self.claims_dir();
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let path = self.claim_path(key);
        let me = ClaimOwner::this_process();
        let text = serde_json::to_string(&me)?;
        // A few rounds: each stale claim removed may be replaced by another process's at once.
        for _ in 0..4 {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(mut f) => {
                    f.write_all(text.as_bytes())
                        .and_then(|_| f.sync_all())
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    if let Ok(mut held) = HELD_CLAIMS.lock() {
                        held.push(path.clone());
                    }
                    start_heartbeat();
                    return Ok(Some(CellClaim { path, text }));
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let Some(stale) = stale_claim(&path) else {
                        return Ok(None);
                    };
                    take_over(&path, &stale)?;
                }
                Err(e) => {
                    return Err(e).with_context(|| format!("cannot create {}", path.display()))
                }
            }
        }
        Ok(None)
    }

    /// Whether `key` has a finished record (re-read from disk: another process may just have
    /// finished it).
    pub fn is_finished(&self, key: &CellKey) -> Result<bool> {
        Ok(self.read_cells()?.contains_key(key))
    }

    /// Every finished cell of every writer, in key order. When a cell was finished twice (two
    /// overlapping runs), the record that finished first is kept. Unreadable lines are skipped
    /// with a warning event.
    pub fn read_cells(&self) -> Result<BTreeMap<CellKey, CellRecord>> {
        let mut out: BTreeMap<CellKey, CellRecord> = BTreeMap::new();
        let dir = self.cells_dir();
        if !dir.is_dir() {
            return Ok(out);
        }
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .with_context(|| format!("cannot list {}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension().is_some_and(|e| e == "jsonl")
                    && !p
                        .file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            })
            .collect();
        files.sort();
        for file in files {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            for (i, line) in text.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                match serde_json::from_str::<CellRecord>(line) {
                    Ok(r) => {
                        let keep = out
                            .get(&r.key)
                            .is_none_or(|old| r.finished_unix < old.finished_unix);
                        if keep {
                            out.insert(r.key.clone(), r);
                        }
                    }
                    Err(e) => tracing::warn!(
                        file = %file.display(),
                        line = i + 1,
                        "skipping an unreadable result line: {e}"
                    ),
                }
            }
        }
        Ok(out)
    }

    /// The side file of a cell, if it was written; one that does not parse (cut short, say)
    /// is `None` with a warning naming it.
    pub fn read_detail(&self, key: &CellKey) -> Option<CellDetail> {
        let path = self.details_path(key);
        let text = std::fs::read_to_string(&path).ok()?;
        match serde_json::from_str(&text) {
            Ok(d) => Some(d),
            Err(e) => {
                tracing::warn!(file = %path.display(), "skipping an unreadable detail file: {e}");
                None
            }
        }
    }

    /// Writes the side file of `detail.key` atomically.
    pub fn write_detail(&self, detail: &CellDetail) -> Result<()> {
        let json = serde_json::to_vec(detail)?;
        write_atomic(&self.details_path(&detail.key), &json)
    }

    /// Records a requested matrix (identical requests share one file).
    pub fn write_request(&self, req: &MatrixRequest) -> Result<PathBuf> {
        use sha2::{Digest, Sha256};
        let cells = serde_json::to_vec(&(&req.cells, &req.unavailable))?;
        let mut h = Sha256::new();
        h.update(&cells);
        let name = format!("matrix-{}.json", &hex(&h.finalize())[..16]);
        let path = self.requests_dir().join(name);
        write_atomic(&path, &serde_json::to_vec_pretty(req)?)?;
        Ok(path)
    }

    /// Every recorded request, in file-name order.
    pub fn read_requests(&self) -> Result<Vec<MatrixRequest>> {
        let dir = self.requests_dir();
        if !dir.is_dir() {
            return Ok(Vec::new());
        }
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .with_context(|| format!("cannot list {}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        files
            .iter()
            .map(|f| {
                let text = std::fs::read_to_string(f)
                    .with_context(|| format!("cannot read {}", f.display()))?;
                serde_json::from_str(&text).with_context(|| format!("{} is invalid", f.display()))
            })
            .collect()
    }
}

/// Who holds a claim: enough to tell, on the same host, whether that process still runs, and
/// under Slurm, whether it was an earlier run of this same (requeued) job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct ClaimOwner {
    host: String,
    pid: u32,
    /// Start time of the process (clock ticks since boot, `/proc/<pid>/stat` field 22), so
    /// that a reused process id is not mistaken for the owner.
    start: Option<u64>,
    /// `SLURM_JOB_ID` of the owner, when it ran under Slurm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    slurm_job: Option<String>,
    /// `SLURM_RESTART_COUNT` of the owner (0 when unset): a requeued job keeps its id and
    /// counts up, on whichever node it restarts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    slurm_restart: Option<u32>,
}

/// This process's Slurm job id and restart count, when it runs under Slurm.
fn slurm_identity() -> (Option<String>, Option<u32>) {
    let job = std::env::var("SLURM_JOB_ID").ok().filter(|j| !j.is_empty());
    let restart = job.as_ref().map(|_| {
        std::env::var("SLURM_RESTART_COUNT")
            .ok()
            .and_then(|r| r.parse().ok())
            .unwrap_or(0)
    });
    (job, restart)
}

impl ClaimOwner {
    fn this_process() -> Self {
        let pid = std::process::id();
        let (slurm_job, slurm_restart) = slurm_identity();
        ClaimOwner {
            host: host_name(),
            pid,
            start: process_start(pid),
            slurm_job,
            slurm_restart,
        }
    }

    /// Whether the owner is known to be gone: decidable on the owner's own host, and, on any
    /// host, when the owner was an earlier run of this Slurm job (a requeued array task that
    /// restarts on another node finds its own claims from before). (A claim from another host
    /// is also stale when its heartbeat stopped: [`stale_claim`].)
    fn is_gone(&self) -> bool {
        self.is_gone_seen_from(slurm_identity())
    }

    /// [`ClaimOwner::is_gone`] as a process with this Slurm job id and restart count sees it.
    fn is_gone_seen_from(&self, (job, restart): (Option<String>, Option<u32>)) -> bool {
        if let (Some(mine), Some(theirs)) = (&job, &self.slurm_job) {
            if mine == theirs && restart > self.slurm_restart {
                return true;
            }
        }
        if self.host != host_name() || !Path::new("/proc/self/stat").exists() {
            return false;
        }
        match process_start(self.pid) {
            None => true,
            Some(start) => self.start.is_some_and(|s| s != start),
        }
    }
}

/// Start time of process `pid` from `/proc/<pid>/stat`; `None` when there is no such process.
fn process_start(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: fields after it.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Seconds after which a claim file that holds no readable owner (its writer died between
/// creating and writing it) counts as stale.
const UNREADABLE_CLAIM_SECONDS: u64 = 60;

/// The variable that sets [`claim_stale_after`] in seconds (for tests and clusters whose file
/// system is slow to show a touched file's time).
pub const CLAIM_STALE_ENV: &str = "DASVDD_CLAIM_STALE_SECS";

/// How long a claim from another host may go untouched before it counts as stale: 10 minutes,
/// ten heartbeats ([`claim_heartbeat`]), so that neither a busy file server nor clocks a few
/// seconds apart make a live claim look stale; or [`CLAIM_STALE_ENV`] seconds.
pub fn claim_stale_after() -> std::time::Duration {
    let secs = std::env::var(CLAIM_STALE_ENV)
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|&s| s > 0)
        .unwrap_or(600);
    std::time::Duration::from_secs(secs)
}

/// How often a live process touches its claims: a tenth of [`claim_stale_after`].
pub fn claim_heartbeat() -> std::time::Duration {
    (claim_stale_after() / 10).max(std::time::Duration::from_millis(200))
}

/// How long ago the file at `path` was last written or touched.
fn untouched_for(path: &Path) -> Option<std::time::Duration> {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .map(|t| t.elapsed().unwrap_or_default())
}

/// The text of the claim at `path` when it is stale, `None` when it is held (or vanished).
fn stale_claim(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    match serde_json::from_str::<ClaimOwner>(&text) {
        Ok(owner) => {
            let gone = owner.is_gone()
                || (owner.host != host_name()
                    && untouched_for(path).is_some_and(|age| age > claim_stale_after()));
            gone.then_some(text)
        }
        Err(_) => {
            let age = untouched_for(path)?;
            (age.as_secs() > UNREADABLE_CLAIM_SECONDS).then_some(text)
        }
    }
}

/// The claim files this process holds, touched by the heartbeat thread.
static HELD_CLAIMS: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

/// Starts, once per process, the thread that touches every claim this process holds every
/// [`claim_heartbeat`], so that a process on another host can tell it is alive.
fn start_heartbeat() {
    static STARTED: std::sync::Once = std::sync::Once::new();
    STARTED.call_once(|| {
        let every = claim_heartbeat();
        let _ = std::thread::Builder::new()
            .name("claim-heartbeat".into())
            .spawn(move || loop {
                std::thread::sleep(every);
                touch_held_claims();
            });
    });
}

/// Touches (sets the modification time of) every claim this process holds.
fn touch_held_claims() {
    let held = HELD_CLAIMS.lock().map(|h| h.clone()).unwrap_or_default();
    for path in held {
        let touched = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .and_then(|f| f.set_modified(std::time::SystemTime::now()));
        if let Err(e) = touched {
            tracing::warn!(claim = %path.display(), "cannot touch a claim: {e}");
        }
    }
}

/// Removes the stale claim at `path` whose text was `stale`. It is first renamed to a name of
/// this process (atomic: of several processes doing this at once, one gets it), then checked
/// to be the claim judged stale: if another process replaced it meanwhile, it is put back.
fn take_over(path: &Path, stale: &str) -> Result<()> {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut aside = path.as_os_str().to_owned();
    aside.push(format!(".stale-{}-{}-{n}", host_name(), std::process::id()));
    let aside = PathBuf::from(aside);
    if std::fs::rename(path, &aside).is_err() {
        // Someone else took it over first.
        return Ok(());
    }
    let moved = std::fs::read_to_string(&aside).unwrap_or_default();
    if moved != stale {
        // A live claim made after our check: restore it unless yet another claim exists.
        let _ = std::fs::hard_link(&aside, path);
    } else {
        tracing::warn!(claim = %path.display(), "took over the claim of a process that is gone");
    }
    let _ = std::fs::remove_file(&aside);
    Ok(())
}

/// This process's claim of one cell; dropping it removes the claim file (when it is still
/// this process's).
#[derive(Debug)]
pub struct CellClaim {
    path: PathBuf,
    text: String,
}

impl Drop for CellClaim {
    fn drop(&mut self) {
        if let Ok(mut held) = HELD_CLAIMS.lock() {
            held.retain(|p| *p != self.path);
        }
        if std::fs::read_to_string(&self.path).is_ok_and(|t| t == self.text) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// This process's own JSON-lines file of finished cells.
pub struct CellWriter {
    /// `cells-<writer>` without the part number and extension.
    stem: PathBuf,
    part: usize,
    lines: Vec<String>,
}

/// Lines per file: each append rewrites its file, so files are kept short.
pub const LINES_PER_FILE: usize = 200;

impl CellWriter {
    /// A new writer whose file names no other process can choose: shard, host, pid, start time.
    pub fn create(results: &ResultsDir, shard: &str) -> Result<Self> {
        let host = host_name();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let shard = shard.replace('/', "of");
        let stem = results.cells_dir().join(format!(
            "cells-shard{shard}-{host}-{}-{nanos}",
            std::process::id()
        ));
        Ok(CellWriter {
            stem,
            part: 0,
            lines: Vec::new(),
        })
    }

    /// The file being written.
    pub fn path(&self) -> PathBuf {
        let mut p = self.stem.clone().into_os_string();
        p.push(format!("-{:04}.jsonl", self.part));
        PathBuf::from(p)
    }

    /// Appends one record: the current file is rewritten atomically with the new line; a full
    /// file is left as it is and the next part begun.
    pub fn append(&mut self, record: &CellRecord) -> Result<()> {
        if self.lines.len() >= LINES_PER_FILE {
            self.part += 1;
            self.lines.clear();
        }
        self.lines.push(serde_json::to_string(record)?);
        let mut text = self.lines.join("\n");
        text.push('\n');
        write_atomic(&self.path(), text.as_bytes())
    }
}

/// A finished cell of `key` with this AUROC, for the crate's tests.
#[cfg(test)]
pub(crate) fn test_record(key: CellKey, finished: u64, auroc: f64) -> CellRecord {
    CellRecord {
        class_name: key.class.to_string(),
        key,
        auroc,
        ap: 0.5,
        f1: 0.5,
        gamma: None,
        fit_seconds: 0.1,
        score_seconds: 0.1,
        epochs: None,
        device: "cpu".into(),
        crate_version: "0.1.0".into(),
        train: 10,
        test_normal: 5,
        test_anomalous: 5,
        unit: "sample".into(),
        finished_unix: finished,
        term_auroc: BTreeMap::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(seed: u64, finished: u64, auroc: f64) -> CellRecord {
        let key = CellKey {
            dataset: "pima".into(),
            class: 0,
            method: "ocsvm".into(),
            seed,
            config_hash: "abc".into(),
        };
        test_record(key, finished, auroc)
    }

    #[test]
    fn records_without_term_aurocs_still_load_and_empty_ones_are_not_written() {
        let r = record(1, 2, 0.75);
        let line = serde_json::to_string(&r).unwrap();
        assert!(!line.contains("term_auroc"), "{line}");
        assert_eq!(serde_json::from_str::<CellRecord>(&line).unwrap(), r);
        let mut with = r.clone();
        with.term_auroc.insert("svdd".into(), 0.5);
        let line = serde_json::to_string(&with).unwrap();
        assert!(line.contains(r#""term_auroc":{"svdd":0.5}"#), "{line}");
        assert_eq!(serde_json::from_str::<CellRecord>(&line).unwrap(), with);
    }

    #[test]
    fn a_claim_excludes_others_until_dropped_and_a_dead_owner_is_stale() {
        let dir = tempfile::tempdir().unwrap();
        let results = ResultsDir::new(dir.path());
        let key = record(3, 1, 0.5).key;
        let claim = results
            .claim(&key)
            .unwrap()
            .expect("a free cell is claimed");
        assert!(results.claim(&key).unwrap().is_none(), "claimed twice");
        drop(claim);
        assert!(std::fs::read_dir(results.claims_dir())
            .unwrap()
            .next()
            .is_none());
        let again = results.claim(&key).unwrap();
        assert!(again.is_some());
        drop(again);

        // A claim left by a process that has exited is taken over.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        let dead = ClaimOwner {
            host: host_name(),
            pid,
            start: Some(1),
            slurm_job: None,
            slurm_restart: None,
        };
        let path = results.claim_path(&key);
        std::fs::write(&path, serde_json::to_string(&dead).unwrap()).unwrap();
        let taken = results.claim(&key).unwrap();
        assert!(taken.is_some(), "a dead owner's claim was not taken over");
        // A live process's claim (this one's, as seen by another claimant) is respected, and so
        // is a claim from another host whose heartbeat is recent (just written).
        for owner in [
            ClaimOwner::this_process(),
            ClaimOwner {
                host: "elsewhere".into(),
                pid,
                start: None,
                slurm_job: None,
                slurm_restart: None,
            },
        ] {
            let other = record(4, 1, 0.5).key;
            let p = results.claim_path(&other);
            std::fs::write(&p, serde_json::to_string(&owner).unwrap()).unwrap();
            assert!(results.claim(&other).unwrap().is_none(), "{owner:?}");
            std::fs::remove_file(&p).unwrap();
        }
    }

    #[test]
    fn a_claim_from_another_host_is_stale_once_its_heartbeat_stops() {
        let dir = tempfile::tempdir().unwrap();
        let results = ResultsDir::new(dir.path());
        std::fs::create_dir_all(results.claims_dir()).unwrap();
        let key = record(5, 1, 0.5).key;
        let path = results.claim_path(&key);
        let elsewhere = ClaimOwner {
            host: "another-node".into(),
            pid: 4321,
            start: Some(7),
            slurm_job: Some("900".into()),
            slurm_restart: Some(0),
        };
        let set_age = |age: std::time::Duration| {
            std::fs::OpenOptions::new()
                .write(true)
                .open(&path)
                .unwrap()
                .set_modified(std::time::SystemTime::now() - age)
                .unwrap();
        };
        std::fs::write(&path, serde_json::to_string(&elsewhere).unwrap()).unwrap();
        // Touched within the last ten minutes: its owner may be alive.
        set_age(claim_stale_after() / 2);
        assert!(results.claim(&key).unwrap().is_none());
        // Untouched for longer (a killed task whose resubmission has another job id, on
        // another node): taken over.
        set_age(claim_stale_after() + std::time::Duration::from_secs(60));
        let mine = results
            .claim(&key)
            .unwrap()
            .expect("a stale claim is taken over");
        // This process's heartbeat keeps its own claim fresh.
        set_age(claim_stale_after() + std::time::Duration::from_secs(60));
        touch_held_claims();
        assert!(untouched_for(&path).unwrap() < std::time::Duration::from_secs(60));
        drop(mine);
        assert!(!path.exists());
        assert!(HELD_CLAIMS.lock().unwrap().iter().all(|p| *p != path));
    }

    #[test]
    fn a_requeued_slurm_job_takes_back_its_claims_from_another_node() {
        let earlier = ClaimOwner {
            host: "node-a".into(),
            pid: 1234,
            start: Some(99),
            slurm_job: Some("5501".into()),
            slurm_restart: Some(0),
        };
        // The same job, restarted (on node-b, say): the claim is its own, from before.
        assert!(earlier.is_gone_seen_from((Some("5501".into()), Some(1))));
        // Another job, or the same run of this one, or no Slurm: not decidable from here.
        assert!(!earlier.is_gone_seen_from((Some("5502".into()), Some(1))));
        assert!(!earlier.is_gone_seen_from((Some("5501".into()), Some(0))));
        assert!(!earlier.is_gone_seen_from((None, None)));
        // Claims written before these fields existed still read.
        let old = r#"{"host":"node-a","pid":1234,"start":99}"#;
        let owner: ClaimOwner = serde_json::from_str(old).unwrap();
        assert_eq!(owner.slurm_job, None);
        assert!(!owner.is_gone_seen_from((Some("5501".into()), Some(1))));
    }

    #[test]
    fn writers_append_and_readers_merge() {
        let dir = tempfile::tempdir().unwrap();
        let results = ResultsDir::new(dir.path());
        let mut a = CellWriter::create(&results, "0/2").unwrap();
        let mut b = CellWriter::create(&results, "1/2").unwrap();
        assert_ne!(a.path(), b.path());
        a.append(&record(0, 10, 0.7)).unwrap();
        a.append(&record(1, 11, 0.8)).unwrap();
        // The same cell finished twice: the earlier one is kept.
        b.append(&record(1, 9, 0.9)).unwrap();
        let cells = results.read_cells().unwrap();
        assert_eq!(cells.len(), 2);
        // A long run spreads its lines over several files, all read back.
        let mut c = CellWriter::create(&results, "0/1").unwrap();
        let first = c.path();
        for seed in 100..100 + LINES_PER_FILE as u64 + 5 {
            c.append(&record(seed, 1, 0.5)).unwrap();
        }
        assert_ne!(c.path(), first);
        let n = std::fs::read_to_string(c.path()).unwrap().lines().count();
        assert_eq!(n, 5);
        assert_eq!(results.read_cells().unwrap().len(), 2 + LINES_PER_FILE + 5);
        std::fs::remove_file(c.path()).unwrap();
        std::fs::remove_file(&first).unwrap();
        assert_eq!(results.read_cells().unwrap().len(), 2);
        let seed1 = cells.values().find(|r| r.key.seed == 1).unwrap();
        assert_eq!(seed1.auroc, 0.9);
        // A torn or foreign line is skipped, not fatal.
        std::fs::write(results.cells_dir().join("junk.jsonl"), "{\"dataset\":\n").unwrap();
        assert_eq!(results.read_cells().unwrap().len(), 2);
        // No temporary file is left behind.
        let leftovers = std::fs::read_dir(results.cells_dir())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with(".tmp")
            })
            .count();
        assert_eq!(leftovers, 0);
    }
}
