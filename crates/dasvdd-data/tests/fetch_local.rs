//! `fetch` against a local HTTP server on 127.0.0.1 (never the internet): hub downloads
//! (the server speaks the hub's `resolve` protocol), fallback to the original
//! host, checksum rejection of a corrupted file, gzip-content checksums, archive unpacking,
//! reuse of verified files, and a fast failure when nothing listens.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dasvdd_data::catalog::{Checksum, RemoteFile, Unpack};
use dasvdd_data::fetch::{fetch, fetch_files, sha256_hex, FetchOptions};
use dasvdd_data::{DataError, DatasetName};

struct Server {
    base: String,
    log: Arc<Mutex<Vec<String>>>,
}

/// Serves `plain` under `/orig/<name>` and `hub` under
/// `/datasets/<repo>/resolve/main/<name>` as the hub does: the whole file, or the byte range
/// asked for with its `Content-Range`.
fn serve(plain: HashMap<String, Vec<u8>>, hub: HashMap<String, Vec<u8>>) -> Server {
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let port = server.server_addr().to_ip().unwrap().port();
    let log = Arc::new(Mutex::new(Vec::new()));
    let log2 = log.clone();
    std::thread::spawn(move || {
        for req in server.incoming_requests() {
            let url = req.url().to_string();
            log2.lock().unwrap().push(url.clone());
            let header = |k: &str, v: &str| {
                tiny_http::Header::from_bytes(k.as_bytes(), v.as_bytes()).unwrap()
            };
            let resp = if let Some(name) = url.strip_prefix("/orig/") {
                match plain.get(name) {
                    Some(b) => tiny_http::Response::from_data(b.clone()),
                    None => {
                        tiny_http::Response::from_data(b"not found".to_vec()).with_status_code(404)
                    }
                }
            } else if let Some(name) = url.strip_prefix("/datasets/org/mirror/resolve/main/") {
                match hub.get(name) {
                    Some(b) => {
                        let range = req
                            .headers()
                            .iter()
                            .find(|h| h.field.equiv("Range"))
                            .map(|h| h.value.as_str().to_string());
                        let Some(range) = range else {
                            // The whole file, as the hub (or the CDN it redirects to) sends it.
                            let _ = req
                                .respond(tiny_http::Response::from_data(b.clone()).with_header(
                                    header("ETag", &format!("\"{}\"", sha256_hex(b))),
                                ));
                            continue;
                        };
                        let spec = range.trim_start_matches("bytes=");
                        let (a, z) = spec.split_once('-').unwrap();
                        let start: usize = a.parse().unwrap();
                        let end: usize = if z.is_empty() {
                            b.len() - 1
                        } else {
                            z.parse().unwrap()
                        };
                        tiny_http::Response::from_data(b[start..=end].to_vec())
                            .with_status_code(206)
                            .with_header(header(
                                "Content-Range",
                                &format!("bytes {start}-{end}/{}", b.len()),
                            ))
                            .with_header(header("ETag", &format!("\"{}\"", sha256_hex(b))))
                            .with_header(header(
                                "X-Repo-Commit",
                                "0123456789abcdef0123456789abcdef01234567",
                            ))
                    }
                    None => tiny_http::Response::from_data(b"entry not found".to_vec())
                        .with_status_code(404),
                }
            } else {
                tiny_http::Response::from_data(b"?".to_vec()).with_status_code(404)
            };
            let _ = req.respond(resp);
        }
    });
    Server {
        base: format!("http://127.0.0.1:{port}"),
        log,
    }
}

fn file(name: &str, url: String, checksum: Checksum, unpack: Unpack) -> RemoteFile {
    RemoteFile {
        name: name.into(),
        url,
        bytes: None,
        checksum,
        unpack,
    }
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// Options of a download from `server`: copies installed on this machine are not looked
/// for, so the tests exercise the download whatever is installed.
fn opts(server: &Server) -> FetchOptions {
    FetchOptions {
        hub_endpoint: Some(server.base.clone()),
        use_installed: false,
        ..Default::default()
    }
}

#[test]
fn downloads_from_the_hub_and_falls_back_to_the_original_host() {
    let a = b"first file".to_vec();
    let b = b"second file, only at the original host".to_vec();
    let content = b"gzip content".to_vec();
    let zipped = gz(&content);
    let srv = serve(
        HashMap::from([("b.bin".into(), b.clone()), ("c.gz".into(), zipped.clone())]),
        HashMap::from([("a.bin".into(), a.clone())]),
    );
    let dest = tempfile::tempdir().unwrap();
    let files = vec![
        file(
            "a.bin",
            format!("{}/orig/a.bin", srv.base),
            Checksum::Download(sha256_hex(&a)),
            Unpack::Keep,
        ),
        file(
            "b.bin",
            format!("{}/orig/b.bin", srv.base),
            Checksum::Download(sha256_hex(&b)),
            Unpack::Keep,
        ),
        file(
            "c.gz",
            format!("{}/orig/c.gz", srv.base),
            Checksum::Gunzipped(sha256_hex(&content)),
            Unpack::Keep,
        ),
    ];
    let report = fetch_files("toy", &files, dest.path(), Some("org/mirror"), &opts(&srv)).unwrap();
    assert_eq!(std::fs::read(dest.path().join("a.bin")).unwrap(), a);
    assert_eq!(std::fs::read(dest.path().join("b.bin")).unwrap(), b);
    assert_eq!(std::fs::read(dest.path().join("c.gz")).unwrap(), zipped);
    assert!(
        report.files[0]
            .source
            .ends_with("/datasets/org/mirror/resolve/main/a.bin"),
        "{:?}",
        report.files[0]
    );
    assert!(report.files[1].source.ends_with("/orig/b.bin"));
    assert_eq!(report.files[0].sha256, sha256_hex(&a));
    // Only the placed files remain: no partial or temporary files.
    let mut left: Vec<String> = std::fs::read_dir(dest.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    left.sort();
    assert_eq!(left, ["a.bin", "b.bin", "c.gz"]);

    // A second fetch finds verified copies and downloads nothing.
    let before = srv.log.lock().unwrap().len();
    let again = fetch_files("toy", &files, dest.path(), Some("org/mirror"), &opts(&srv)).unwrap();
    assert!(again.files.iter().all(|f| f.source == "local"));
    assert_eq!(srv.log.lock().unwrap().len(), before);
}

#[test]
fn a_corrupted_file_is_rejected_by_its_checksum() {
    let good = b"the real bytes".to_vec();
    let mut corrupted = good.clone();
    corrupted[3] ^= 0x20;
    let srv = serve(
        HashMap::from([("x.bin".into(), corrupted.clone())]),
        HashMap::from([("x.bin".into(), corrupted)]),
    );
    let dest = tempfile::tempdir().unwrap();
    let files = vec![file(
        "x.bin",
        format!("{}/orig/x.bin", srv.base),
        Checksum::Download(sha256_hex(&good)),
        Unpack::Keep,
    )];
    let err = fetch_files("toy", &files, dest.path(), Some("org/mirror"), &opts(&srv)).unwrap_err();
    match &err {
        DataError::Format { path, problem } => {
            assert!(path.ends_with("x.bin"));
            assert!(problem.contains("sha-256 mismatch"), "{err}");
            assert!(problem.contains(&sha256_hex(&good)), "{err}");
        }
        other => panic!("expected a checksum error, got {other}"),
    }
    assert!(
        !dest.path().join("x.bin").exists(),
        "a rejected file is never placed"
    );
    // Gzip content checked after decompression: a corrupt gzip stream is rejected too.
    let bad_gz = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3];
    let srv = serve(HashMap::from([("y.gz".into(), bad_gz)]), HashMap::new());
    let files = vec![file(
        "y.gz",
        format!("{}/orig/y.gz", srv.base),
        Checksum::Gunzipped(sha256_hex(b"y")),
        Unpack::Keep,
    )];
    assert!(matches!(
        fetch_files("toy", &files, dest.path(), None, &opts(&srv)),
        Err(DataError::Format { .. })
    ));
}

#[test]
fn archives_are_unpacked_and_real_catalog_checksums_guard_mirrors() {
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::default(),
    ));
    for (name, data) in [
        ("cifar-10-batches-bin/readme.html", b"<p>hi</p>".to_vec()),
        (
            "cifar-10-batches-bin/batches.meta.txt",
            b"airplane\n".to_vec(),
        ),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        builder.append_data(&mut h, name, &data[..]).unwrap();
    }
    let archive = builder.into_inner().unwrap().finish().unwrap();
    let srv = serve(
        HashMap::from([("t.tar.gz".into(), archive.clone())]),
        HashMap::new(),
    );
    let dest = tempfile::tempdir().unwrap();
    let files = vec![file(
        "t.tar.gz",
        format!("{}/orig/t.tar.gz", srv.base),
        Checksum::Download(sha256_hex(&archive)),
        Unpack::TarGz,
    )];
    fetch_files("toy", &files, dest.path(), None, &opts(&srv)).unwrap();
    assert_eq!(
        std::fs::read(dest.path().join("cifar-10-batches-bin/batches.meta.txt")).unwrap(),
        b"airplane\n"
    );

    // The real MNIST catalogue through a mirror serving wrong bytes: the pinned SHA-256 of the
    // first file rejects it and nothing further is fetched.
    let srv = serve(
        HashMap::from([("train-images-idx3-ubyte.gz".into(), gz(b"not mnist"))]),
        HashMap::new(),
    );
    let o = FetchOptions {
        mirror: Some(format!("{}/orig", srv.base)),
        ..opts(&srv)
    };
    let err = fetch(&DatasetName::Mnist, dest.path(), &o).unwrap_err();
    assert!(
        matches!(&err, DataError::Format { problem, .. } if problem.contains("440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609")),
        "{err}"
    );
    assert_eq!(srv.log.lock().unwrap().len(), 1);
}

#[test]
fn without_network_the_fetch_fails_fast_and_says_what_to_do() {
    // A port nothing listens on: bind one, then free it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dest = tempfile::tempdir().unwrap();
    let o = FetchOptions {
        hub_endpoint: Some(format!("http://127.0.0.1:{port}")),
        hub_repo: Some("org/mirror".into()),
        mirror: Some(format!("http://127.0.0.1:{port}/orig")),
        connect_timeout: Duration::from_secs(2),
        use_installed: false,
        ..Default::default()
    };
    let t = Instant::now();
    let err = fetch(&DatasetName::Fmnist, dest.path(), &o).unwrap_err();
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "took {:?}",
        t.elapsed()
    );
    let msg = err.to_string();
    assert!(matches!(err, DataError::Unavailable { .. }), "{msg}");
    assert!(
        msg.contains("train-images-idx3-ubyte.gz")
            && msg.contains(&dest.path().display().to_string()),
        "{msg}"
    );
    assert!(
        msg.contains("apt-get install dataset-fashion-mnist"),
        "{msg}"
    );

    // Datasets without an automatic source say so without any network access.
    let err = fetch(&DatasetName::Awid3, dest.path(), &FetchOptions::default()).unwrap_err();
    assert!(
        matches!(&err, DataError::Unavailable { problem, .. } if problem.contains("no automatic download")),
        "{err}"
    );
}

/// Options that reach nothing: a port nothing listens on, for hub and original host alike.
fn unreachable() -> FetchOptions {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    FetchOptions {
        hub_endpoint: Some(format!("http://127.0.0.1:{port}")),
        hub_repo: Some("org/mirror".into()),
        mirror: Some(format!("http://127.0.0.1:{port}/orig")),
        connect_timeout: Duration::from_secs(2),
        ..Default::default()
    }
}

#[test]
fn an_installed_dataset_is_found_verified_and_not_downloaded() {
    let debian = std::path::Path::new(dasvdd_data::registry::DEBIAN_FMNIST_DIR);
    if !debian.is_dir() {
        eprintln!(
            "skipping: {} is absent (apt-get install dataset-fashion-mnist)",
            debian.display()
        );
        return;
    }
    let dest = tempfile::tempdir().unwrap();
    let t = Instant::now();
    let report = fetch(&DatasetName::Fmnist, dest.path(), &unreachable()).unwrap();
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "took {:?}",
        t.elapsed()
    );
    assert!(report.already_present);
    assert!(
        dasvdd_data::registry::candidate_dirs(&DatasetName::Fmnist).contains(&report.dir),
        "{}",
        report.dir.display()
    );
    // The Debian copy (or any copy under the catalogue names) is checked against the pins.
    assert_eq!(report.files.len(), 4, "{:?}", report.files);
    assert!(
        report.files.iter().all(|f| f.verified),
        "{:?}",
        report.files
    );
    assert!(std::fs::read_dir(dest.path()).unwrap().next().is_none());
}

#[test]
fn a_copy_with_a_wrong_checksum_is_refused_once_by_name() {
    let dest = tempfile::tempdir().unwrap();
    if dasvdd_data::registry::locate(&DatasetName::Mnist).is_ok() {
        eprintln!(
            "skipping: an MNIST copy is installed, so the fake one would not be the only one"
        );
        return;
    }
    for name in [
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    ] {
        std::fs::write(dest.path().join(name), gz(b"not mnist")).unwrap();
    }
    let err = fetch(&DatasetName::Mnist, dest.path(), &unreachable()).unwrap_err();
    let msg = err.to_string();
    let bad = dest.path().join("train-images-idx3-ubyte.gz");
    assert!(
        msg.contains("rejected") && msg.contains(&bad.display().to_string()),
        "{msg}"
    );
    assert_eq!(msg.matches("sha-256 mismatch").count(), 1, "{msg}");

    // A dataset without an automatic download, present in the destination, is found there.
    let awid = tempfile::tempdir().unwrap();
    std::fs::write(awid.path().join("1.Deauth_0.csv"), "frame.len\n1\n").unwrap();
    let report = fetch(&DatasetName::Awid3, awid.path(), &FetchOptions::default()).unwrap();
    assert!(report.already_present);
    assert_eq!(report.dir, awid.path());
}
