//! Fetches sharing a destination folder, against a local HTTP server on 127.0.0.1 (never the
//! internet): what a killed fetch left there is removed by the next one when it is provably
//! stale and kept otherwise, and a second fetch into a folder waits for the first instead of
//! downloading beside it.

use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, SystemTime};

use dasvdd_data::catalog::{Checksum, RemoteFile, Unpack};
use dasvdd_data::fetch::{fetch_files, sha256_hex};

mod common;
use common::http::opts;

/// Serves `body` under `/orig/a.bin`, each request on its own thread, after `gate` opens.
struct Server {
    base: String,
    log: Arc<Mutex<Vec<String>>>,
    gate: Arc<(Mutex<bool>, Condvar)>,
}

fn serve(body: Vec<u8>, open: bool) -> Server {
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let port = server.server_addr().to_ip().unwrap().port();
    let log = Arc::new(Mutex::new(Vec::new()));
    let gate = Arc::new((Mutex::new(open), Condvar::new()));
    let (log2, gate2) = (log.clone(), gate.clone());
    std::thread::spawn(move || {
        for req in server.incoming_requests() {
            let (log, gate, body) = (log2.clone(), gate2.clone(), body.clone());
            std::thread::spawn(move || {
                log.lock().unwrap().push(req.url().to_string());
                let (lock, cv) = &*gate;
                let mut open = lock.lock().unwrap();
                while !*open {
                    open = cv.wait(open).unwrap();
                }
                drop(open);
                let resp = if req.url() == "/orig/a.bin" {
                    tiny_http::Response::from_data(body)
                } else {
                    tiny_http::Response::from_data(b"?".to_vec()).with_status_code(404)
                };
                let _ = req.respond(resp);
            });
        }
    });
    Server {
        base: format!("http://127.0.0.1:{port}"),
        log,
        gate,
    }
}

impl Server {
    fn open(&self) {
        *self.gate.0.lock().unwrap() = true;
        self.gate.1.notify_all();
    }
    fn requests(&self) -> usize {
        self.log.lock().unwrap().len()
    }
}

fn files(srv: &Server, body: &[u8]) -> Vec<RemoteFile> {
    vec![RemoteFile {
        name: "a.bin".into(),
        url: format!("{}/orig/a.bin", srv.base),
        bytes: None,
        checksum: Checksum::Download(sha256_hex(body)),
        unpack: Unpack::Keep,
    }]
}

/// This host's name as the fetch writes it into its temporary names (`<pid>@<host>`), taken
/// from the owner tag the crate itself writes.
fn host() -> String {
    let tag = dasvdd_data::leftovers::owner_tag().expect("this host has no name");
    let (_, host) = tag.split_once('@').expect("the owner tag is <pid>@<host>");
    host.to_string()
}

/// Sets the modification time of `path` and everything below it to `when`.
fn age(path: &Path, when: SystemTime) {
    if path.is_dir() {
        for e in std::fs::read_dir(path).unwrap() {
            age(&e.unwrap().path(), when);
        }
    }
    std::fs::File::open(path)
        .unwrap()
        .set_modified(when)
        .unwrap();
}

/// A fetch killed by SIGKILL leaves its temporary files and folders in the destination. The
/// next fetch removes those whose owner (recorded in the name) ran on this host and has ended,
/// and those nothing has changed in for over a day (no owner recorded: earlier versions' names,
/// other writers); it keeps those of live owners, and young ones whose owner cannot be checked
/// (another host, no owner), which may belong to a fetch still running, and everything else in
/// the folder, an old `.hf-cache` folder included (earlier versions' hub cache, but also what
/// users call their own Hugging Face cache).
#[test]
fn a_fetch_removes_the_stale_leftovers_of_killed_fetches_and_only_those() {
    if !Path::new("/proc/self").exists() {
        eprintln!("skipped: no /proc to tell a live process from an ended one");
        return;
    }
    let host = host();
    assert!(!host.is_empty(), "this host has no name");
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    let me = std::process::id();
    let dest = tempfile::tempdir().unwrap();
    let d = dest.path();
    let two_days_ago = SystemTime::now() - Duration::from_secs(48 * 3600);
    let mkfile = |name: &str| {
        std::fs::write(d.join(name), b"partial").unwrap();
        d.join(name)
    };
    let mkdir = |name: &str| {
        std::fs::create_dir_all(d.join(name).join("sub")).unwrap();
        std::fs::write(d.join(name).join("sub").join("part"), b"partial").unwrap();
        d.join(name)
    };
    let stale = [
        mkfile(&format!(".dasvdd-{dead}@{host}-AbC123.tmp")),
        mkdir(&format!(".dasvdd-unpack-{dead}@{host}-Xy12Zq")),
        mkdir(&format!(".dasvdd-hf-cache-{dead}@{host}-Qw34Er")),
        mkfile(".dasvdd-Anon02.tmp"),
        mkdir(".dasvdd-unpack-Old001"),
    ];
    for p in &stale[3..] {
        age(p, two_days_ago);
    }
    let old_hub_cache = mkdir(".hf-cache");
    age(&old_hub_cache, two_days_ago);
    let kept = [
        mkfile(&format!(".dasvdd-{me}@{host}-Live01.tmp")),
        mkfile(&format!(".dasvdd-{dead}@another-host-Oth001.tmp")),
        mkfile(".dasvdd-Anon01.tmp"),
        mkdir(".dasvdd-unpack-New001"),
        mkfile("notes.txt"),
        mkfile(".dasvdd-not-a-temp-file"),
        old_hub_cache,
    ];
    // An old folder with a young file inside is in use: something in it changed.
    let young = mkdir(".dasvdd-unpack-Young1");
    for p in [young.join("sub"), young.clone()] {
        std::fs::File::open(&p)
            .unwrap()
            .set_modified(two_days_ago)
            .unwrap();
    }

    let body = b"the file".to_vec();
    let srv = serve(body.clone(), true);
    let report = fetch_files("toy", &files(&srv, &body), d, None, &opts()).unwrap();
    assert_eq!(report.files.len(), 1);
    assert_eq!(std::fs::read(d.join("a.bin")).unwrap(), body);
    for p in &stale {
        assert!(!p.exists(), "{} was left", p.display());
    }
    for p in kept.iter().chain([&young]) {
        assert!(p.exists(), "{} was removed", p.display());
    }
    // The fetch's own temporary names are gone, and none of its own is left.
    let left: Vec<String> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(&format!("{me}@")))
        .collect();
    assert_eq!(left, vec![format!(".dasvdd-{me}@{host}-Live01.tmp")]);
}

/// A second fetch into a folder a first is still writing into waits for it (before, both
/// downloaded at once and shared the hub's cache folder, which the first removed under the
/// second), then finds the file the first placed and verified.
#[test]
fn a_second_fetch_into_the_same_folder_waits_for_the_first() {
    let body = b"shared file".to_vec();
    let srv = Arc::new(serve(body.clone(), false));
    let dest = tempfile::tempdir().unwrap();
    let d = dest.path().to_path_buf();
    let start = |srv: &Arc<Server>| {
        let (srv, d, body) = (srv.clone(), d.clone(), body.clone());
        std::thread::spawn(move || fetch_files("toy", &files(&srv, &body), &d, None, &opts()))
    };
    let first = start(&srv);
    let t0 = std::time::Instant::now();
    while srv.requests() == 0 {
        assert!(t0.elapsed() < Duration::from_secs(20), "no request came");
        std::thread::sleep(Duration::from_millis(10));
    }
    let second = start(&srv);
    std::thread::sleep(Duration::from_millis(800));
    let during = srv.requests();
    let holder = std::fs::read_to_string(d.join(".dasvdd-fetch.lock")).unwrap_or_default();
    srv.open();
    let first = first.join().unwrap().unwrap();
    let second = second.join().unwrap().unwrap();
    assert_eq!(during, 1, "the second fetch downloaded beside the first");
    assert!(
        holder.contains(&format!("pid {}@", std::process::id())),
        "the lock file does not name its holder: {holder:?}"
    );
    assert_eq!(srv.requests(), 1);
    assert_eq!(first.files[0].source, format!("{}/orig/a.bin", srv.base));
    assert_eq!(second.files[0].source, "local");
    assert!(second.files[0].verified);
    assert_eq!(std::fs::read(d.join("a.bin")).unwrap(), body);
    assert!(
        !d.join(".dasvdd-fetch.lock").exists(),
        "the lock file is left"
    );
}
