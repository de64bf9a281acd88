//! Getting datasets: downloads from a Hugging Face Hub mirror (the file's URL named by the
//! `hf-hub` crate; the endpoint is configurable with `HF_ENDPOINT`) or from the original hosts,
//! SHA-256 verification, unpacking of `.tar.gz` archives, and atomic placement of the files.
//!
//! A dataset already present where the registry looks (`dest`, the data roots, Debian's
//! Fashion-MNIST package, ...) is not downloaded again: [`fetch`] says where it is and checks
//! the pinned checksums of the files it finds there.
//!
//! Without network access a fetch fails fast (a short connect timeout, and no further files are
//! tried after the first failure) with a message saying which files to put where by hand.
//!
//! A fetch that writes holds the destination's lock ([`crate::leftovers::DestLock`]): a second
//! fetch into the same folder waits for it, then uses what it placed. Each fetch first removes
//! the stale leftovers of killed ones there ([`crate::leftovers::remove_stale`]). Hub downloads
//! send the token of `HF_TOKEN`, else of the token file `huggingface-cli login` writes.
//!
//! Every download, from the hub or not, is a plain HTTP GET (through the proxy of the
//! environment when one is set) written into a hidden partial file in the destination
//! (`.dasvdd-partial.<name>.tmp`, see [`partial_path`]) rather than held in memory alone: when
//! the connection is cut, the next attempt asks for the rest (`Range: bytes=<kept>-`) and
//! appends it, up to [`URL_ATTEMPTS`] attempts in one fetch while each one gets further, and a
//! later fetch resumes what this one kept. The file is checked against its pinned SHA-256 as a
//! whole, so a resumed download that does not match (the server's file changed between two
//! attempts) is downloaded once more from the start; the partial file is removed once the file
//! is in place, or when its checksum fails. Its bytes are reported to
//! [`FetchOptions::progress`]. (`hf-hub`'s own download is not used: it names the file it
//! writes after the server's `ETag`, which a hostile endpoint can make an absolute path.)

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::catalog::{Checksum, RemoteFile, Unpack};
use crate::error::{DataError, Result};
use crate::fileio::{gunzip, write_atomic};
use crate::progress::{Counting, Progress, ProgressEvent};
use crate::registry::{DatasetName, DATA_ENV};

/// Environment variable naming a Hugging Face Hub dataset repository that mirrors the files
/// of the dataset being fetched under their catalogue names.
pub const HUB_REPO_ENV: &str = "DASVDD_HF_REPO";
/// Environment variable of the hub endpoint, as `huggingface_hub` and `hf-hub` read it.
pub const HUB_ENDPOINT_ENV: &str = "HF_ENDPOINT";
/// Environment variable of the hub access token, as `huggingface_hub` reads it.
pub const HUB_TOKEN_ENV: &str = "HF_TOKEN";
/// The public hub.
pub const DEFAULT_HUB_ENDPOINT: &str = "https://huggingface.co";
/// No dataset file is larger than this; a longer body is refused rather than filling memory.
const MAX_DOWNLOAD: u64 = 4 << 30;
/// Attempts at one plain HTTP download within one fetch: each after the first resumes where
/// the one before was cut, and only while each gets further than the one before.
pub const URL_ATTEMPTS: usize = 4;

/// Where and how to download.
#[derive(Debug, Clone, PartialEq)]
pub struct FetchOptions {
    /// Hub endpoint; `None`: `$HF_ENDPOINT`, else `https://huggingface.co`.
    pub hub_endpoint: Option<String>,
    /// Hub dataset repository (`<owner>/<repo>`) mirroring the files; `None`:
    /// `$DASVDD_HF_REPO`, else the catalogue's (no built-in dataset has one yet, so the original
    /// hosts are used). The command lines' `--mirror`.
    pub hub_repo: Option<String>,
    /// Replaces the original host: each file is fetched from `<mirror>/<file name>`.
    pub mirror: Option<String>,
    /// Skip the original hosts (hub only).
    pub hub_only: bool,
    /// Time allowed to open a connection; short, so that a machine without network fails fast.
    pub connect_timeout: Duration,
    /// Time allowed between two reads of a download.
    pub read_timeout: Duration,
    /// Look for the dataset in `dest` and in every folder the registry searches
    /// ([`crate::registry::candidate_dirs`]) before downloading, and use a copy found there.
    pub use_installed: bool,
    /// Told the progress of each download ([`Progress::on_terminal`] for a line on a
    /// terminal); `None`: nothing is reported.
    pub progress: Option<Progress>,
}

impl Default for FetchOptions {
    /// Environment-configured hub, original hosts as fallback, 5 s to connect, 60 s per read.
    fn default() -> Self {
        FetchOptions {
            hub_endpoint: None,
            hub_repo: None,
            mirror: None,
            hub_only: false,
            connect_timeout: Duration::from_secs(5),
            read_timeout: Duration::from_secs(60),
            use_installed: true,
            progress: None,
        }
    }
}

impl FetchOptions {
    /// The defaults with `hub_repo` as given and a progress line on a terminal
    /// ([`Progress::on_terminal`]): the options of the command lines' `fetch --mirror
    /// <owner/repo>`, where the repository given replaces `$DASVDD_HF_REPO`.
    pub fn with_hub_repo(hub_repo: Option<&str>) -> Self {
        FetchOptions {
            hub_repo: hub_repo.map(String::from),
            progress: Progress::on_terminal(),
            ..Default::default()
        }
    }
}

/// One file placed by a fetch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FetchedFile {
    /// File name in the dataset folder.
    pub name: String,
    /// The URL it came from, or `local` when a copy was already there.
    pub source: String,
    /// Size in bytes of the file as downloaded or found (for an archive, the archive).
    pub bytes: u64,
    /// SHA-256 of the file's bytes.
    pub sha256: String,
    /// Whether the file matched its pinned checksum (downloads always do; a local copy in
    /// another form than the pinned one, e.g. decompressed, cannot be checked).
    pub verified: bool,
}

/// What a fetch did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FetchReport {
    /// The dataset's name.
    pub dataset: String,
    /// The dataset folder the files are in.
    pub dir: PathBuf,
    /// The files checked or placed, in catalogue order; empty when an archive's unpacked
    /// files were already there.
    pub files: Vec<FetchedFile>,
    /// True when the dataset was already present in `dir` and nothing was downloaded.
    pub already_present: bool,
}

/// The folder `dasvdd data fetch <name>` fills by default: `$DASVDD_DATA/<name>` when the
/// variable is set, else `datasets/<name>` under the current folder.
pub fn default_fetch_dir(name: &DatasetName) -> PathBuf {
    let root = std::env::var_os(DATA_ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("datasets"));
    root.join(name.dir_name())
}

/// Checks a hub dataset repository given as `<owner>/<repo>` (the command lines' `--mirror`):
/// two non-empty parts of ASCII letters, digits, `-`, `_` and `.`. The error says what is
/// expected, and where the endpoint goes when a URL was given.
pub fn parse_hub_repo(text: &str) -> std::result::Result<String, String> {
    let ok_part = |p: &str| {
        !p.is_empty()
            && !p.starts_with('.')
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    match text.split_once('/') {
        Some((owner, repo)) if ok_part(owner) && ok_part(repo) => Ok(text.to_string()),
        _ if text.contains("://") => Err(format!(
            "`{text}` is a URL: give the hub dataset repository as <owner>/<repo>, and the \
             hub's address in ${HUB_ENDPOINT_ENV}"
        )),
        _ => Err(format!(
            "`{text}` is not a hub dataset repository: expected <owner>/<repo>, e.g. \
             someone/mnist-mirror"
        )),
    }
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Checks `bytes` against the pinned checksum of `file`; returns the SHA-256 of `bytes`.
pub fn verify(file: &RemoteFile, bytes: &[u8]) -> std::result::Result<String, String> {
    let got = sha256_hex(bytes);
    let (expected, actual, what) = match &file.checksum {
        Checksum::Download(e) => (e.as_str(), got.clone(), "file"),
        Checksum::Gunzipped(e) => (
            e.as_str(),
            sha256_hex(&gunzip(bytes)?),
            "decompressed content",
        ),
    };
    if actual.eq_ignore_ascii_case(expected) {
        Ok(got)
    } else {
        Err(format!(
            "sha-256 mismatch of the {what}: expected {expected}, got {actual}"
        ))
    }
}

/// Downloads the catalogue files of `name` into `dest` (see [`fetch_files`]). Datasets that
/// must be obtained by hand (AWID3, MIMII, ODDS files) give an `Unavailable` error with the
/// instructions, without touching the network.
pub fn fetch(name: &DatasetName, dest: &Path, opts: &FetchOptions) -> Result<FetchReport> {
    let info = name.info();
    let mut rejected = Vec::new();
    if opts.use_installed {
        let mut dirs = vec![dest.to_path_buf()];
        dirs.extend(crate::registry::candidate_dirs(name));
        for dir in dirs.iter().filter(|d| name.is_present_in(d)) {
            if !name.is_complete_in(dir) {
                tracing::warn!(dataset = %name, dir = %dir.display(), "present copy incomplete");
                rejected.push(format!(
                    "{}: incomplete, some of {} are missing or cut short",
                    dir.display(),
                    info.expected_files.join(", ")
                ));
                continue;
            }
            match check_installed(name, &info.remote_files, dir) {
                Ok(files) => {
                    tracing::info!(dataset = %name, dir = %dir.display(), "already present");
                    if dir == dest {
                        tidy(dest);
                    }
                    return Ok(FetchReport {
                        dataset: name.to_string(),
                        dir: dir.clone(),
                        files,
                        already_present: true,
                    });
                }
                Err(problem) => {
                    tracing::warn!(dataset = %name, dir = %dir.display(), %problem, "present copy rejected");
                    rejected.push(problem);
                }
            }
        }
    }
    let rejected_note = if rejected.is_empty() {
        String::new()
    } else {
        format!(" (copies found but rejected: {})", rejected.join("; "))
    };
    if info.remote_files.is_empty() {
        return Err(DataError::Unavailable {
            dataset: name.to_string(),
            problem: format!(
                "no automatic download; put {} in {}: {}{rejected_note}",
                info.expected_files.join(", "),
                dest.display(),
                info.manual
            ),
        });
    }
    std::fs::create_dir_all(dest).map_err(|e| DataError::io(dest, e))?;
    let lock = crate::leftovers::DestLock::acquire(dest)?;
    // The fetch waited for might have placed the dataset.
    if lock.waited() && opts.use_installed && name.is_complete_in(dest) {
        if let Ok(files) = check_installed(name, &info.remote_files, dest) {
            tracing::info!(dataset = %name, dir = %dest.display(), "placed by the other fetch");
            return Ok(FetchReport {
                dataset: name.to_string(),
                dir: dest.to_path_buf(),
                files,
                already_present: true,
            });
        }
    }
    crate::leftovers::remove_stale(dest, lock.held());
    // An archive is skipped when all the files it unpacks to are already there.
    if info.remote_files.iter().all(|f| f.unpack == Unpack::TarGz) && name.is_complete_in(dest) {
        tracing::info!(dataset = %name, dir = %dest.display(), "already present");
        return Ok(FetchReport {
            dataset: name.to_string(),
            dir: dest.to_path_buf(),
            files: Vec::new(),
            already_present: true,
        });
    }
    let hub_repo = opts
        .hub_repo
        .clone()
        .or_else(|| std::env::var(HUB_REPO_ENV).ok().filter(|v| !v.is_empty()))
        .or_else(|| info.hub_repo.map(String::from));
    fetch_files_locked(
        &name.to_string(),
        &info.remote_files,
        dest,
        hub_repo.as_deref(),
        opts,
        lock.held(),
    )
    .map_err(|e| match e {
        DataError::Unavailable { dataset, problem } => DataError::Unavailable {
            dataset,
            problem: format!(
                "{problem}; to install by hand put {} in {}, or: {}{rejected_note}",
                info.expected_files.join(", "),
                dest.display(),
                info.manual
            ),
        },
        other => other,
    })
}

/// Removes the stale leftovers of killed fetches in `dest`, if it has any, when no other fetch
/// is writing there (a fetch that found nothing to do does not wait for one that is).
fn tidy(dest: &Path) {
    if crate::leftovers::has_leftovers(dest) {
        if let Some(lock) = crate::leftovers::DestLock::try_acquire(dest) {
            crate::leftovers::remove_stale(dest, lock.held());
        }
    }
}

/// Checks the copy of dataset `name` in `dir` against the pinned checksums of `files`: each
/// file kept as downloaded (`Unpack::Keep`) is looked for where the readers look, for gzip
/// files decompressed first, then under its catalogue name, then with the `.idx` dot variant
/// some mirrors use, so that the file checked is the one read. A copy whose checksum differs is
/// refused (the message names the file), so is a decompressed copy whose content differs from
/// the verified `.gz` beside it; one in another form than the pin covers is listed as
/// unverified. Archives (`Unpack::TarGz`) leave no file to check.
fn check_installed(
    name: &DatasetName,
    files: &[RemoteFile],
    dir: &Path,
) -> std::result::Result<Vec<FetchedFile>, String> {
    let mut out = Vec::new();
    for file in files.iter().filter(|f| f.unpack == Unpack::Keep) {
        // In the order the readers pick them (MnistFiles::find): the file checked is the one
        // they would read.
        let plain = file.name.strip_suffix(".gz");
        let mut candidates = vec![file.name.clone()];
        if let Some(stem) = plain {
            let dotted = stem.replacen("-idx", ".idx", 1);
            candidates = vec![
                stem.to_string(),
                file.name.clone(),
                dotted.clone(),
                format!("{dotted}.gz"),
            ];
        }
        let Some(path) = candidates.iter().map(|c| dir.join(c)).find(|p| p.is_file()) else {
            // Another form the registry accepts; nothing to check it against.
            tracing::debug!(dataset = %name, file = %file.name, "no copy under a catalogue name");
            continue;
        };
        let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let sha = sha256_hex(&bytes);
        let compressed = crate::fileio::is_gzip(&bytes);
        let verified = match (&file.checksum, compressed) {
            (Checksum::Download(_), true) | (Checksum::Gunzipped(_), true) => {
                verify(file, &bytes).map_err(|e| format!("{}: {e}", path.display()))?;
                true
            }
            (Checksum::Gunzipped(expected), false) => {
                if !sha.eq_ignore_ascii_case(expected) {
                    return Err(format!(
                        "{}: sha-256 mismatch of the decompressed content: expected {expected}, got {sha}",
                        path.display()
                    ));
                }
                true
            }
            // A decompressed copy beside the verified `.gz` can be checked against its content.
            (Checksum::Download(_), false) => {
                let gz = dir.join(&file.name);
                match std::fs::read(&gz) {
                    Ok(zipped) if verify(file, &zipped).is_ok() => {
                        check_twin(file, &zipped, dir).map_err(|e| e.to_string())?;
                        true
                    }
                    _ => false,
                }
            }
        };
        out.push(FetchedFile {
            name: file.name.clone(),
            source: format!("local {}", path.display()),
            bytes: bytes.len() as u64,
            sha256: sha,
            verified,
        });
    }
    Ok(out)
}

/// Downloads `files` into `dest`: each from the hub repository `hub_repo` when given, else (or
/// when that fails) from its original URL; verifies its SHA-256; then writes it atomically or,
/// for archives, unpacks it. A file already in `dest` whose checksum verifies is kept.
///
/// A destination that cannot be written to is an `Io` error before the first download; a
/// checksum mismatch is a `Format` error naming the file; a download that fails on every
/// source is `Unavailable`. Either stops the fetch: later files are not tried.
///
/// The destination's lock is held throughout (a fetch already writing there is waited for),
/// and the stale leftovers of killed fetches there are removed first.
pub fn fetch_files(
    dataset: &str,
    files: &[RemoteFile],
    dest: &Path,
    hub_repo: Option<&str>,
    opts: &FetchOptions,
) -> Result<FetchReport> {
    std::fs::create_dir_all(dest).map_err(|e| DataError::io(dest, e))?;
    let lock = crate::leftovers::DestLock::acquire(dest)?;
    crate::leftovers::remove_stale(dest, lock.held());
    fetch_files_locked(dataset, files, dest, hub_repo, opts, lock.held())
}

/// [`fetch_files`] once the destination exists and its lock is taken; `locked`: whether the
/// lock is held (where the file system has no locks it is not, and plain downloads then keep
/// no partial file, which two fetches could both write).
fn fetch_files_locked(
    dataset: &str,
    files: &[RemoteFile],
    dest: &Path,
    hub_repo: Option<&str>,
    opts: &FetchOptions,
    locked: bool,
) -> Result<FetchReport> {
    let endpoint = opts
        .hub_endpoint
        .clone()
        .or_else(|| {
            std::env::var(HUB_ENDPOINT_ENV)
                .ok()
                .filter(|v| !v.is_empty())
        })
        .unwrap_or_else(|| DEFAULT_HUB_ENDPOINT.to_string());
    let endpoint = endpoint.trim_end_matches('/').to_string();
    let mut report = FetchReport {
        dataset: dataset.to_string(),
        dir: dest.to_path_buf(),
        files: Vec::new(),
        already_present: false,
    };
    let agent = ureq::AgentBuilder::new()
        .timeout_connect(opts.connect_timeout)
        .timeout_read(opts.read_timeout)
        .try_proxy_from_env(true)
        // The hub's token goes with a redirect to its own host only (a file's bytes are served
        // from a CDN host by signed URLs), as `hf-hub` sends it.
        .redirect_auth_headers(ureq::RedirectAuthHeaders::SameHost)
        .build();
    // The token is looked for at the first hub download, not by fetches without one.
    let hub_auth: std::cell::OnceCell<Option<String>> = std::cell::OnceCell::new();
    let mut writable_checked = false;
    for file in files {
        let target = dest.join(&file.name);
        if file.unpack == Unpack::Keep && target.is_file() {
            let bytes = std::fs::read(&target).map_err(|e| DataError::io(&target, e))?;
            if let Ok(sha) = verify(file, &bytes) {
                check_twin(file, &bytes, dest)?;
                tracing::info!(file = %target.display(), "already present and verified");
                report.files.push(FetchedFile {
                    name: file.name.clone(),
                    source: "local".into(),
                    bytes: bytes.len() as u64,
                    sha256: sha,
                    verified: true,
                });
                continue;
            }
            tracing::warn!(file = %target.display(), "present but its checksum differs: downloading again");
        }
        if !writable_checked {
            check_writable(dest)?;
            writable_checked = true;
        }
        let mut failures = Vec::new();
        let mut checksum_failed = false;
        let mut got = None;
        let mut sources: Vec<Source> = Vec::new();
        if let Some(repo) = hub_repo {
            sources.push(Source::Hub {
                endpoint: endpoint.clone(),
                repo: repo.to_string(),
            });
        }
        if !opts.hub_only {
            let url = match &opts.mirror {
                Some(m) => format!("{}/{}", m.trim_end_matches('/'), file.name),
                None => file.url.clone(),
            };
            sources.push(Source::Url(url));
        }
        let partial = locked.then(|| partial_path(dest, &file.name));
        let tell = |bytes: u64, total: Option<u64>, done: bool| {
            if let Some(p) = &opts.progress {
                (p.0)(&ProgressEvent {
                    file: &file.name,
                    bytes,
                    total,
                    done,
                });
            }
        };
        let check = |bytes: Vec<u8>| match verify(file, &bytes) {
            Ok(sha) => Ok((bytes, sha)),
            Err(e) => Err(SourceError::Checksum(format!(
                "{e}{}",
                mismatch_hint(file, &bytes)
            ))),
        };
        for source in &sources {
            let label = source.describe(&file.name);
            tracing::info!(file = %file.name, source = %label, "downloading");
            // `label` is the source's URL; only the hub's requests carry the token.
            let to = Target {
                partial: partial.as_deref(),
                expected: file.bytes,
                report: &tell,
                auth: match source {
                    Source::Hub { .. } => hub_auth
                        .get_or_init(|| hub_token().map(|t| format!("Bearer {t}")))
                        .as_deref(),
                    Source::Url(_) => None,
                },
            };
            let verified = download_url_checked(&agent, &label, &to, check);
            let verified = verified.map_err(|e| {
                if let SourceError::Checksum(_) = e {
                    checksum_failed = true;
                }
                e.to_string()
            });
            match verified {
                Ok((bytes, sha)) => {
                    got = Some((bytes, sha, label));
                    break;
                }
                Err(e) => {
                    tracing::warn!(file = %file.name, source = %label, error = %e, "download failed");
                    failures.push(format!("{label}: {e}"));
                }
            }
        }
        let Some((bytes, sha, label)) = got else {
            let problem = if failures.is_empty() {
                "no source to download from (hub only, and no hub repository)".to_string()
            } else {
                failures.join("; ")
            };
            return Err(if checksum_failed {
                DataError::format(&target, format!("rejected download: {problem}"))
            } else {
                DataError::Unavailable {
                    dataset: dataset.to_string(),
                    problem: format!("could not download {}: {problem}", file.name),
                }
            });
        };
        check_twin(file, &bytes, dest)?;
        match file.unpack {
            Unpack::Keep => write_atomic(&target, &bytes)?,
            Unpack::TarGz => unpack_tar_gz(&target, &bytes, dest)?,
        }
        if let Some(part) = &partial {
            if let Err(e) = std::fs::remove_file(part) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    tracing::warn!(file = %part.display(), error = %e, "cannot remove the finished download's partial file");
                }
            }
        }
        report.files.push(FetchedFile {
            name: file.name.clone(),
            source: label,
            bytes: bytes.len() as u64,
            sha256: sha,
            verified: true,
        });
    }
    Ok(report)
}

/// What a download rejected by its checksum looks like, in parentheses, when it says more
/// than the checksum: a size other than the catalogue's (a download cut short, or another
/// file), or text starting with `<` (an HTML or XML error or login page served with status 200).
fn mismatch_hint(file: &RemoteFile, bytes: &[u8]) -> String {
    let mut notes = Vec::new();
    if let Some(expected) = file.bytes.filter(|&n| n != bytes.len() as u64) {
        notes.push(format!(
            "{} bytes where {expected} were expected",
            bytes.len()
        ));
    }
    let head = &bytes[..bytes.len().min(512)];
    let text = head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(head);
    let start = text.iter().position(|b| !b.is_ascii_whitespace());
    if start.is_some_and(|i| text[i] == b'<') && !text.contains(&0) {
        notes.push(
            "it looks like an HTML or XML page (an error or login page?), not the file".into(),
        );
    }
    if notes.is_empty() {
        String::new()
    } else {
        format!(" ({})", notes.join("; "))
    }
}

/// The decompressed twin of a `.gz` file kept as downloaded (`x` beside `x.gz`), which the
/// readers take before the `.gz` ([`crate::idx::MnistFiles::find`]): an error naming it unless
/// it holds the content of `bytes`, the verified `.gz`, so that fetch never reports a dataset
/// the readers would read from another file than the one it verified.
fn check_twin(file: &RemoteFile, bytes: &[u8], dest: &Path) -> Result<()> {
    let Some(stem) = file.name.strip_suffix(".gz") else {
        return Ok(());
    };
    let twin = dest.join(stem);
    if file.unpack != Unpack::Keep || !twin.is_file() {
        return Ok(());
    }
    let content = gunzip(bytes).map_err(|e| DataError::format(dest.join(&file.name), e))?;
    let raw = std::fs::read(&twin).map_err(|e| DataError::io(&twin, e))?;
    let found = if crate::fileio::is_gzip(&raw) {
        gunzip(&raw).unwrap_or(raw)
    } else {
        raw
    };
    if found == content {
        return Ok(());
    }
    Err(DataError::format(
        &twin,
        format!(
            "differs from the content of the verified {} (sha-256 {}, expected {}), and the \
             readers would read it instead: remove it and fetch again",
            file.name,
            sha256_hex(&found),
            sha256_hex(&content)
        ),
    ))
}

/// Creates (and removes) a temporary file in `dest`, so that a folder or file system this
/// user cannot write to is an error before anything is downloaded rather than after.
fn check_writable(dest: &Path) -> Result<()> {
    tempfile::Builder::new()
        .prefix(&crate::leftovers::temp_prefix(".dasvdd-"))
        .suffix(".tmp")
        .tempfile_in(dest)
        .map(drop)
        .map_err(|e| {
            let problem = format!("cannot write in the destination folder: {e}");
            DataError::io(dest, std::io::Error::new(e.kind(), problem))
        })
}

/// A download source.
enum Source {
    Hub { endpoint: String, repo: String },
    Url(String),
}

impl Source {
    fn describe(&self, name: &str) -> String {
        match self {
            Source::Hub { endpoint, repo } => hub_url(endpoint, repo, name),
            Source::Url(u) => u.clone(),
        }
    }
}

/// The hub access token, as `huggingface_hub` finds it: `$HF_TOKEN`, else the file
/// `$HF_TOKEN_PATH`, else `token` in `$HF_HOME` (default `$XDG_CACHE_HOME/huggingface`, else
/// `~/.cache/huggingface`), where `huggingface-cli login` writes it. Never logged.
fn hub_token() -> Option<String> {
    let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    if let Some(t) = var(HUB_TOKEN_ENV) {
        let t = t.to_string_lossy().trim().to_string();
        if !t.is_empty() {
            return Some(t);
        }
    }
    let file = var("HF_TOKEN_PATH").map(PathBuf::from).or_else(|| {
        let home = var("HF_HOME").map(PathBuf::from).or_else(|| {
            var("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .or_else(|| var("HOME").map(|h| PathBuf::from(h).join(".cache")))
                .map(|c| c.join("huggingface"))
        })?;
        Some(home.join("token"))
    })?;
    let text = std::fs::read_to_string(&file).ok()?;
    let t = text.trim();
    (!t.is_empty()).then(|| {
        tracing::debug!(file = %file.display(), "hub token from a file");
        t.to_string()
    })
}

/// The URL of `name` in the hub dataset repository `repo` at `endpoint`, as `hf-hub` names a
/// repository's files (`<endpoint>/datasets/<repo>/resolve/main/<name>`). The file is then
/// downloaded as any other, into the destination's partial file: `hf-hub`'s own download
/// writes its cache under the name the server's `ETag` gives, which a hostile endpoint can
/// point outside the cache (an absolute path), so it is not used.
fn hub_url(endpoint: &str, repo: &str, name: &str) -> String {
    let repo = hf_hub::Repo::new(repo.to_string(), hf_hub::RepoType::Dataset);
    format!(
        "{}/{}/resolve/{}/{name}",
        endpoint.trim_end_matches('/'),
        repo.url(),
        repo.url_revision()
    )
}

/// Why one source gave no verified file.
enum SourceError {
    /// Nothing usable came: no connection, an error status, a cut the retries did not mend.
    Download(String),
    /// The bytes came whole and are not the file the catalogue pins.
    Checksum(String),
}

impl std::fmt::Display for SourceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SourceError::Download(e) | SourceError::Checksum(e) => f.write_str(e),
        }
    }
}

/// The hidden file in `dest` into which a plain download of the catalogue file `name` is
/// written, kept when the download is cut so that the next attempt resumes it. It carries no
/// owner (a later fetch by another process resumes it), so as a leftover it is removed only
/// once it has not changed for [`crate::leftovers::STALE_AFTER`].
pub fn partial_path(dest: &Path, name: &str) -> PathBuf {
    dest.join(format!(".dasvdd-partial.{name}.tmp"))
}

/// Where a plain download goes and who hears of it.
struct Target<'a> {
    /// The partial file it is written into (`None`: memory only, one attempt).
    partial: Option<&'a Path>,
    /// The file's size in the catalogue, if it has one.
    expected: Option<u64>,
    /// Told `(bytes so far, total if known, whether this is the last report)`.
    report: &'a dyn Fn(u64, Option<u64>, bool),
    /// The `Authorization` header of each request (the hub's token), if any.
    auth: Option<&'a str>,
}

/// [`download_url`] then `check`; a download that resumed a partial file and fails the check
/// (the server's file changed between two attempts, or the partial file was damaged) is
/// downloaded once more from the start. The partial file is removed when the check fails.
fn download_url_checked<T>(
    agent: &ureq::Agent,
    url: &str,
    to: &Target<'_>,
    check: impl Fn(Vec<u8>) -> std::result::Result<T, SourceError>,
) -> std::result::Result<T, SourceError> {
    let forget = || {
        if let Some(part) = to.partial {
            let _ = std::fs::remove_file(part);
        }
    };
    let (bytes, resumed) = download_url(agent, url, to).map_err(SourceError::Download)?;
    match check(bytes) {
        Ok(got) => Ok(got),
        Err(e) => {
            forget();
            if resumed == 0 {
                return Err(e);
            }
            tracing::warn!(url, error = %e, "the resumed download does not match its checksum: downloading it again from the start");
            let (bytes, _) = download_url(agent, url, to).map_err(SourceError::Download)?;
            check(bytes).inspect_err(|_| forget())
        }
    }
}

/// Downloads `url` with a plain HTTP GET, with the bytes received and the largest offset an
/// attempt resumed at (0 when none resumed: the bytes all came in one answer).
///
/// With `partial`, the body is written into that file as it arrives: a partial file already
/// there (a cut download of an earlier attempt or fetch) is resumed with `Range: bytes=<its
/// length>-` when the server answers `206` from that offset, and replaced when it sends the
/// whole file (`200`) or cannot serve the range (`416`), and dropped when it answers with
/// another range (the download then starts again); a partial file longer than the
/// catalogue's size (`expected`) is started again, and one of that size is returned as it is
/// (the caller's checksum decides). A download cut part way is tried again from
/// where it stopped, up to [`URL_ATTEMPTS`] attempts while each gets further; what it got is
/// kept in `partial` for the next fetch. Without `partial`, the body is read into memory in one
/// attempt.
fn download_url(
    agent: &ureq::Agent,
    url: &str,
    to: &Target<'_>,
) -> std::result::Result<(Vec<u8>, u64), String> {
    let expected = to.expected;
    let Some(part) = to.partial else {
        let resp = get(agent, url, 0, to.auth)?;
        let total = total_of(&resp, 0).or(expected);
        let mut out = Counting {
            inner: Vec::new(),
            bytes: 0,
            report: &|b| (to.report)(b, total, false),
        };
        let copied = std::io::copy(&mut resp.into_reader().take(MAX_DOWNLOAD + 1), &mut out);
        (to.report)(out.bytes, total, true);
        copied.map_err(|e| format!("download interrupted: {e}"))?;
        let bytes = out.inner;
        if bytes.len() as u64 > MAX_DOWNLOAD {
            return Err(format!("larger than {MAX_DOWNLOAD} bytes"));
        }
        return Ok((bytes, 0));
    };
    let part_len = || std::fs::metadata(part).map(|m| m.len()).unwrap_or(0);
    let io = |e: std::io::Error| format!("{}: {e}", part.display());
    let have = part_len();
    if have > 0 && expected == Some(have) {
        // Whole already (a fetch that failed after its download, placing the file): the
        // checksum says whether it is the file; if not, it is downloaded again.
        tracing::info!(file = %part.display(), "a complete earlier download: checking it");
        return Ok((std::fs::read(part).map_err(io)?, have));
    }
    let mut resumed_at = 0;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let mut have = part_len();
        if expected.is_some_and(|e| have > e) || have > MAX_DOWNLOAD {
            have = 0;
        }
        let resp = match get(agent, url, have, to.auth) {
            Err(e) if e == "http status 416" && have > 0 => {
                tracing::info!(file = %part.display(), "the server cannot resume there: starting again");
                have = 0;
                get(agent, url, 0, to.auth)
            }
            other => other,
        };
        let resp = resp.map_err(|e| format!("{e}{}", kept_note(part_len(), part)))?;
        let start = match (resp.status(), resp.header("Content-Range")) {
            (206, Some(range)) if range_start(range) == Some(have) && have > 0 => have,
            (206, range) => {
                // Not the bytes asked for: what is kept cannot be trusted to match them.
                let _ = std::fs::remove_file(part);
                if have > 0 && attempt < URL_ATTEMPTS {
                    tracing::warn!(
                        url,
                        range,
                        "the server sent another range than asked for: starting again"
                    );
                    continue;
                }
                return Err(wrong_range(have, range));
            }
            _ => 0,
        };
        if start > 0 {
            tracing::info!(file = %part.display(), bytes = start, "resuming a cut download");
        }
        resumed_at = resumed_at.max(start);
        let total = total_of(&resp, start).or(expected);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .append(start > 0)
            .truncate(start == 0)
            .open(part)
            .map_err(io)?;
        let mut out = Counting {
            inner: file,
            bytes: start,
            report: &|b| (to.report)(b, total, false),
        };
        let copied = std::io::copy(
            &mut resp.into_reader().take(MAX_DOWNLOAD + 1 - start),
            &mut out,
        );
        out.flush().map_err(io)?;
        (to.report)(out.bytes, total, true);
        drop(out);
        let now = part_len();
        match copied {
            Ok(_) if now > MAX_DOWNLOAD => {
                let _ = std::fs::remove_file(part);
                return Err(format!("larger than {MAX_DOWNLOAD} bytes"));
            }
            Ok(_) => break,
            Err(e) if now > have && attempt < URL_ATTEMPTS => {
                tracing::warn!(url, error = %e, bytes = now, attempt, "download cut: resuming it");
            }
            Err(e) => return Err(format!("download interrupted: {e}{}", kept_note(now, part))),
        }
    }
    let bytes = std::fs::read(part).map_err(io)?;
    Ok((bytes, resumed_at))
}

/// What an error adds when `kept` bytes of the download are kept in `part` (nothing for 0).
fn kept_note(kept: u64, part: &Path) -> String {
    match kept {
        0 => String::new(),
        _ => format!(
            " ({kept} bytes kept in {}: the next fetch resumes there)",
            part.display()
        ),
    }
}

/// The error of a `206` answer for another range than the one asked for.
fn wrong_range(from: u64, got: Option<&str>) -> String {
    let got = got.unwrap_or("none");
    format!("the server answered a request for the bytes from {from} with another range ({got})")
}

/// The size of the whole file from an answer that starts at byte `start`: its
/// `Content-Length` plus `start`.
fn total_of(resp: &ureq::Response, start: u64) -> Option<u64> {
    let len: u64 = resp.header("Content-Length")?.trim().parse().ok()?;
    Some(len + start)
}

/// A GET of `url`, asking for the bytes from `from` on when it is not 0, with `auth` as its
/// `Authorization` header when given. An answer that is neither `200` nor `206` (a redirect
/// without its `Location`) is an error, as the `4xx` and `5xx` ones are.
fn get(
    agent: &ureq::Agent,
    url: &str,
    from: u64,
    auth: Option<&str>,
) -> std::result::Result<ureq::Response, String> {
    let mut req = agent.get(url);
    if from > 0 {
        req = req.set("Range", &format!("bytes={from}-"));
    }
    if let Some(a) = auth {
        req = req.set("Authorization", a);
    }
    let resp = req.call().map_err(|e| match e {
        ureq::Error::Status(code, _) => format!("http status {code}"),
        ureq::Error::Transport(t) => match t.kind() {
            ureq::ErrorKind::Dns | ureq::ErrorKind::ConnectionFailed => {
                format!("no connection: {t}")
            }
            ureq::ErrorKind::TooManyRedirects => format!("redirect loop: {t}"),
            _ => format!("transfer failed: {t}"),
        },
    })?;
    match resp.status() {
        200 | 206 => Ok(resp),
        code => Err(format!("http status {code}: not the file")),
    }
}

/// The first byte of a `Content-Range: bytes <first>-<last>/<length>` header.
fn range_start(header: &str) -> Option<u64> {
    let spec = header.trim().strip_prefix("bytes")?.trim_start();
    spec.split_once('-')?.0.trim().parse().ok()
}

/// Extracts the regular files and folders of a `.tar.gz` held in memory into `dest`. Entries
/// whose path would leave `dest` (absolute, or with `..`) are refused by `tar`'s
/// `unpack_in`, and are an error here.
///
/// The archive is unpacked into a hidden temporary folder inside `dest`, and its files are
/// renamed into place only once every entry is out: a failure part way (a bad entry, a full
/// disk) leaves nothing a later run or the readers could take for a complete dataset, and the
/// temporary folder is removed.
fn unpack_tar_gz(archive: &Path, bytes: &[u8], dest: &Path) -> Result<()> {
    let fail = |p: String| DataError::format(archive, p);
    let staging = tempfile::Builder::new()
        .prefix(&crate::leftovers::temp_prefix(".dasvdd-unpack-"))
        .tempdir_in(dest)
        .map_err(|e| DataError::io(dest, e))?;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
    let entries = tar
        .entries()
        .map_err(|e| fail(format!("not a tar archive: {e}")))?;
    let mut n = 0usize;
    for entry in entries {
        let mut entry = entry.map_err(|e| fail(format!("corrupt tar archive: {e}")))?;
        let kind = entry.header().entry_type();
        if !(kind.is_file() || kind.is_dir()) {
            continue;
        }
        let inside = entry
            .unpack_in(staging.path())
            .map_err(|e| fail(format!("cannot unpack: {e}")))?;
        if !inside {
            return Err(fail(format!(
                "entry {} would be written outside {}",
                entry
                    .path()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
                dest.display()
            )));
        }
        n += 1;
    }
    move_into(staging.path(), dest)?;
    tracing::info!(archive = %archive.display(), entries = n, "unpacked");
    Ok(())
}

/// Moves the files below `from` to the same places below `to` (renames within one file
/// system), creating the folders; a file already at a place is replaced.
fn move_into(from: &Path, to: &Path) -> Result<()> {
    let mut entries = std::fs::read_dir(from)
        .and_then(|d| d.collect::<std::io::Result<Vec<_>>>())
        .map_err(|e| DataError::io(from, e))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        if entry
            .file_type()
            .map_err(|e| DataError::io(&src, e))?
            .is_dir()
        {
            std::fs::create_dir_all(&dst).map_err(|e| DataError::io(&dst, e))?;
            move_into(&src, &dst)?;
        } else {
            std::fs::rename(&src, &dst).map_err(|e| DataError::io(&dst, e))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gz(bytes: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    /// A verified `.gz` beside a wrong decompressed copy (which the readers take first) is not
    /// an installed dataset, whether the pin covers the download or the decompressed content.
    #[test]
    fn check_installed_checks_the_file_the_readers_read() {
        let dir = tempfile::tempdir().unwrap();
        let mut files = Vec::new();
        for stem in crate::idx::MNIST_FILE_STEMS {
            let content = format!("{stem} content").into_bytes();
            std::fs::write(dir.path().join(format!("{stem}.gz")), gz(&content)).unwrap();
            files.push((stem, content));
        }
        let stale = dir.path().join(crate::idx::MNIST_FILE_STEMS[0]);
        std::fs::write(&stale, b"another dataset's images").unwrap();
        let found = crate::idx::MnistFiles::find(dir.path()).unwrap();
        assert_eq!(found.train_images, stale);
        for gunzipped in [false, true] {
            let remote: Vec<RemoteFile> = files
                .iter()
                .map(|(stem, content)| {
                    let name = format!("{stem}.gz");
                    let zipped = std::fs::read(dir.path().join(&name)).unwrap();
                    RemoteFile {
                        url: format!("http://127.0.0.1:9/{name}"),
                        name,
                        bytes: None,
                        checksum: if gunzipped {
                            Checksum::Gunzipped(sha256_hex(content))
                        } else {
                            Checksum::Download(sha256_hex(&zipped))
                        },
                        unpack: Unpack::Keep,
                    }
                })
                .collect();
            let err = check_installed(&DatasetName::Mnist, &remote, dir.path()).unwrap_err();
            assert!(err.contains(&stale.display().to_string()), "{err}");
            // With the right decompressed content, every file verifies.
            std::fs::write(&stale, &files[0].1).unwrap();
            let ok = check_installed(&DatasetName::Mnist, &remote, dir.path()).unwrap();
            assert!(ok.iter().all(|f| f.verified), "{ok:?}");
            assert!(ok[0].source.ends_with(crate::idx::MNIST_FILE_STEMS[0]));
            std::fs::write(&stale, b"another dataset's images").unwrap();
        }
    }
}
