//! `fetch` against a misbehaving local HTTP server on 127.0.0.1 (never the internet): bodies
//! cut short, error statuses, redirect loops, HTML pages served with 200 instead of the file;
//! and the leftovers of interrupted runs: an archive that fails to unpack part way, and a partly
//! unpacked CIFAR-10. Each must end in an error naming the file, the source and the problem,
//! and never leave a file a later run or the readers would take for a complete dataset.
//! A hub answer that is not the file (a redirect without its `Location`, which `hf-hub`'s
//! client unwrapped) is that source's failure, and the original host is tried.

use std::io::Write;
use std::path::Path;

use dasvdd_data::catalog::{Checksum, RemoteFile, Unpack};
use dasvdd_data::fetch::{fetch, fetch_files, sha256_hex, FetchOptions};
use dasvdd_data::{DataError, DatasetName};

mod common;
use common::http::{keep, opts, response, server, Server as Raw};
use common::listing;

/// A server answering each request with the raw bytes `respond(path)` gives, whatever range it
/// asks for.
fn raw_server(respond: impl Fn(&str) -> Vec<u8> + Send + 'static) -> Raw {
    server(move |path, _| respond(path))
}

/// A gzip'd tar archive of `entries`; a name with `..` is written into the header as it is
/// (tar's builder refuses such names), as a hostile or broken archive would hold it.
fn tar_gz(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::default(),
    ));
    for (name, data) in entries {
        let mut h = tar::Header::new_old();
        h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_cksum();
        builder.append(&h, *data).unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap()
}

#[test]
fn cut_short_refused_and_error_statuses_name_the_file_and_url_and_leave_no_file_in_place() {
    let body = b"0123456789".repeat(100);
    let b2 = body.clone();
    let srv = raw_server(move |path| match path {
        // Content-Length larger than the body, then the server closes.
        "/short" => response("200 OK", &["Content-Length: 1000"], &b2[..300]),
        // No length at all: only the checksum can tell.
        "/noclen" => response("200 OK", &[], &b2[..300]),
        "/404" => response("404 Not Found", &["Content-Length: 9"], b"not found"),
        "/500" => response("500 Oops", &["Content-Length: 4"], b"oops"),
        "/403" => response("403 Forbidden", &["Content-Length: 4"], b"nope"),
        "/good" => response("200 OK", &["Content-Length: 1000"], &b2),
        _ => response("404 Not Found", &["Content-Length: 0"], b""),
    });
    let dest = tempfile::tempdir().unwrap();
    for (path, expect) in [
        ("short", "response body closed before all bytes were read"),
        ("noclen", "300 bytes where 1000 were expected"),
        ("404", "http status 404"),
        ("500", "http status 500"),
        ("403", "http status 403"),
    ] {
        let url = format!("{}/{path}", srv.base);
        let files = vec![keep("x.bin", url.clone(), &body)];
        let err = fetch_files("toy", &files, dest.path(), None, &opts()).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("x.bin") && msg.contains(&url) && msg.contains(expect),
            "{path}: {msg}"
        );
        // A body cut short is kept, hidden, for the next fetch to resume (fetch_resume.rs);
        // the whole body of the wrong file that follows replaces it and is then removed.
        let left: &[&str] = if path == "short" {
            &[".dasvdd-partial.x.bin.tmp"]
        } else {
            &[]
        };
        assert_eq!(listing(dest.path()), left, "{path}");
    }
    // The next run, with the source repaired, starts over without any cleanup.
    let files = vec![keep("x.bin", format!("{}/good", srv.base), &body)];
    fetch_files("toy", &files, dest.path(), None, &opts()).unwrap();
    assert_eq!(std::fs::read(dest.path().join("x.bin")).unwrap(), body);
    assert_eq!(listing(dest.path()), ["x.bin"]);
}

#[test]
fn an_html_page_served_with_200_is_called_what_it_is() {
    let body = b"0123456789".repeat(100);
    let page = b"<!DOCTYPE html><html><body>Access denied</body></html>".to_vec();
    let p2 = page.clone();
    let srv = raw_server(move |_| {
        let len = format!("Content-Length: {}", p2.len());
        response("200 OK", &["Content-Type: text/html", &len], &p2)
    });
    let dest = tempfile::tempdir().unwrap();
    let url = format!("{}/x.bin", srv.base);
    // Both kinds of pin: of the bytes, and of the decompressed content (Fashion-MNIST's).
    for checksum in [
        Checksum::Download(sha256_hex(&body)),
        Checksum::Gunzipped(sha256_hex(&body)),
    ] {
        let files = vec![RemoteFile {
            checksum,
            ..keep("x.bin", url.clone(), &body)
        }];
        let err = fetch_files("toy", &files, dest.path(), None, &opts()).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, DataError::Format { .. }), "{msg}");
        assert!(
            msg.contains(&url)
                && msg.contains("x.bin")
                && msg.contains("HTML or XML page")
                && msg.contains(&format!("{} bytes where 1000 were expected", page.len())),
            "{msg}"
        );
        assert!(listing(dest.path()).is_empty());
    }
}

#[test]
fn a_redirect_loop_is_reported_as_one_not_as_a_missing_connection() {
    let srv = raw_server(|_| response("302 Found", &["Location: /loop", "Content-Length: 0"], b""));
    let dest = tempfile::tempdir().unwrap();
    let url = format!("{}/loop", srv.base);
    let files = vec![keep("x.bin", url.clone(), b"x")];
    let err = fetch_files("toy", &files, dest.path(), None, &opts()).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains(&url) && msg.contains("x.bin") && msg.contains("redirects"),
        "{msg}"
    );
    assert!(!msg.contains("no connection"), "{msg}");
    assert!(listing(dest.path()).is_empty());
    assert!(srv.log.lock().unwrap().len() > 1);
}

#[test]
fn an_archive_that_fails_part_way_leaves_nothing_unpacked() {
    let archive = tar_gz(&[
        ("cifar-10-batches-bin/data_batch_1.bin", b"first batch"),
        ("cifar-10-batches-bin/test_batch.bin", b"test batch"),
        ("../outside.bin", b"escapes the folder"),
    ]);
    let a2 = archive.clone();
    let srv =
        raw_server(move |_| response("200 OK", &[&format!("Content-Length: {}", a2.len())], &a2));
    let root = tempfile::tempdir().unwrap();
    let dest = root.path().join("cifar10");
    let files = vec![RemoteFile {
        unpack: Unpack::TarGz,
        ..keep("c.tar.gz", format!("{}/c.tar.gz", srv.base), &archive)
    }];
    let err = fetch_files("toy", &files, &dest, None, &opts()).unwrap_err();
    assert!(
        matches!(&err, DataError::Format { path, problem }
            if path.ends_with("c.tar.gz") && problem.contains("outside")),
        "{err}"
    );
    // Nothing unpacked; the verified download is kept, hidden, so that the next fetch (after,
    // say, a full disk was cleared) unpacks it without downloading it again.
    assert_eq!(listing(&dest), [".dasvdd-partial.c.tar.gz.tmp"]);
    assert_eq!(listing(root.path()), ["cifar10"]);
    let before = srv.log.lock().unwrap().len();
    fetch_files("toy", &files, &dest, None, &opts()).unwrap_err();
    assert_eq!(srv.log.lock().unwrap().len(), before, "downloaded again");
}

#[test]
fn a_partly_unpacked_cifar_is_not_taken_for_a_complete_one() {
    // What an unpack interrupted after two of the six batches left (or one cut short): the
    // fetch must download again (here it reaches a mirror serving the wrong archive, which the pinned checksum
    // rejects) instead of reporting the dataset present.
    let dest = tempfile::tempdir().unwrap();
    let bin = dest.path().join("cifar-10-batches-bin");
    std::fs::create_dir(&bin).unwrap();
    std::fs::write(bin.join("data_batch_1.bin"), vec![0u8; 3073]).unwrap();
    std::fs::write(bin.join("test_batch.bin"), vec![0u8; 3073]).unwrap();
    let archive = tar_gz(&[("cifar-10-batches-bin/data_batch_2.bin", b"x")]);
    let srv = raw_server(move |_| {
        response(
            "200 OK",
            &[&format!("Content-Length: {}", archive.len())],
            &archive,
        )
    });
    check_downloaded_again(dest.path(), &srv);
    // All six batches, one of them cut short (as an unpack interrupted by the earlier code,
    // which wrote into the destination directly, left it): downloaded again too.
    // (Sparse files of the official size: no 180 MB written.)
    let sized = |name: &str, records: u64| {
        std::fs::File::create(bin.join(name))
            .unwrap()
            .set_len(records * 3073)
            .unwrap();
    };
    for name in dasvdd_data::cifar::CIFAR_TRAIN_FILES
        .iter()
        .chain([&dasvdd_data::cifar::CIFAR_TEST_FILE])
    {
        sized(name, 10_000);
    }
    sized("data_batch_4.bin", 4_000);
    check_downloaded_again(dest.path(), &srv);
    // Complete, it is present and nothing is downloaded.
    sized("data_batch_4.bin", 10_000);
    let before = srv.log.lock().unwrap().len();
    let o = FetchOptions {
        mirror: Some(srv.base.clone()),
        use_installed: false,
        ..Default::default()
    };
    let report = fetch(&DatasetName::Cifar10, dest.path(), &o).unwrap();
    assert!(report.already_present);
    assert_eq!(srv.log.lock().unwrap().len(), before);
}

/// Fetches CIFAR-10 into `dest` from `srv`, which serves a wrong archive: the fetch must try
/// the download (and the pinned checksum reject it), not report the copy in `dest` present.
fn check_downloaded_again(dest: &Path, srv: &Raw) {
    for use_installed in [false, true] {
        let o = FetchOptions {
            mirror: Some(srv.base.clone()),
            use_installed,
            ..Default::default()
        };
        let before = srv.log.lock().unwrap().len();
        let res = fetch(&DatasetName::Cifar10, dest, &o);
        if use_installed && res.as_ref().is_ok_and(|r| r.dir != dest) {
            // A complete copy installed elsewhere on this machine is a fine answer.
            continue;
        }
        let err = res.map(|r| r.dir).unwrap_err();
        assert!(
            err.to_string()
                .contains("c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd"),
            "{err}"
        );
        assert_eq!(srv.log.lock().unwrap().len(), before + 1);
    }
}

#[test]
fn an_unwritable_destination_fails_before_anything_is_downloaded() {
    let srv = raw_server(|_| response("200 OK", &["Content-Length: 1"], b"x"));
    let root = tempfile::tempdir().unwrap();
    let files = vec![keep("x.bin", format!("{}/x.bin", srv.base), b"x")];
    // A destination below a file cannot be created.
    std::fs::write(root.path().join("file"), b"").unwrap();
    let below_file = root.path().join("file").join("x");
    let err = fetch_files("toy", &files, &below_file, None, &opts()).unwrap_err();
    assert!(
        matches!(&err, DataError::Io { path, .. } if *path == below_file),
        "{err}"
    );
    assert!(srv.log.lock().unwrap().is_empty());

    // A folder this user may not write to: refused before the download, not after it.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let ro = root.path().join("ro");
        std::fs::create_dir(&ro).unwrap();
        std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
        if tempfile::tempfile_in(&ro).is_ok() {
            eprintln!("skipping the read-only folder: permissions do not bind this user (root)");
        } else {
            let err = fetch_files("toy", &files, &ro, None, &opts()).unwrap_err();
            assert!(
                matches!(&err, DataError::Io { path, .. } if *path == ro),
                "{err}"
            );
            assert!(err.to_string().contains("cannot write"), "{err}");
            assert!(srv.log.lock().unwrap().is_empty(), "downloaded first");
            // A read-only folder that already holds the verified file is fine: nothing to write.
            std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o755)).unwrap();
            std::fs::write(ro.join("x.bin"), b"x").unwrap();
            std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
            fetch_files("toy", &files, &ro, None, &opts()).unwrap();
        }
        std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

#[test]
fn a_stale_decompressed_copy_that_would_shadow_the_download_is_an_error() {
    // The readers take `train-images-idx3-ubyte` before `train-images-idx3-ubyte.gz`, so a
    // wrong decompressed file left in the folder (another dataset's, a gunzip cut short) would
    // be read instead of the verified download.
    let content = b"the real idx content".to_vec();
    let zipped = {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(&content).unwrap();
        e.finish().unwrap()
    };
    let z2 = zipped.clone();
    let srv =
        raw_server(move |_| response("200 OK", &[&format!("Content-Length: {}", z2.len())], &z2));
    let name = "train-images-idx3-ubyte.gz";
    let url = format!("{}/{name}", srv.base);
    for checksum in [
        Checksum::Download(sha256_hex(&zipped)),
        Checksum::Gunzipped(sha256_hex(&content)),
    ] {
        let files = vec![RemoteFile {
            checksum,
            ..keep(name, url.clone(), &zipped)
        }];
        let dest = tempfile::tempdir().unwrap();
        let stale = dest.path().join("train-images-idx3-ubyte");
        std::fs::write(&stale, b"another dataset's images").unwrap();
        let err = fetch_files("toy", &files, dest.path(), None, &opts()).unwrap_err();
        assert!(
            matches!(&err, DataError::Format { path, problem }
                if *path == stale && problem.contains("would read it instead")),
            "{err}"
        );
        // The same, again, with the .gz now already in place.
        std::fs::write(dest.path().join(name), &zipped).unwrap();
        let err = fetch_files("toy", &files, dest.path(), None, &opts()).unwrap_err();
        assert!(
            matches!(&err, DataError::Format { path, .. } if *path == stale),
            "{err}"
        );
        // A decompressed copy of the same content is fine.
        std::fs::write(&stale, &content).unwrap();
        fetch_files("toy", &files, dest.path(), None, &opts()).unwrap();
    }
}

#[test]
fn a_hub_answer_that_is_not_the_file_falls_back_to_the_original_host() {
    let body: Vec<u8> = (0..1000u32).map(|i| (i * 7 % 251) as u8).collect();
    let b = body.clone();
    // The hub answers `302 Found` with the hub's headers but no `Location` (whose body is not
    // the file); the original host (`/orig`) has the file.
    let srv = server(move |path, _| {
        if path.starts_with("/datasets/") {
            response(
                "302 Found",
                &[
                    "ETag: \"abc\"",
                    "X-Repo-Commit: 0123456789abcdef0123456789abcdef01234567",
                    "Content-Length: 0",
                ],
                b"",
            )
        } else if path == "/orig" {
            response("200 OK", &[&format!("Content-Length: {}", b.len())], &b)
        } else {
            response("404 Not Found", &[], b"")
        }
    });
    let dest = tempfile::tempdir().unwrap();
    let o = FetchOptions {
        hub_endpoint: Some(srv.base.clone()),
        ..opts()
    };
    let files = [keep("x.bin", format!("{}/orig", srv.base), &body)];
    let report = fetch_files("toy", &files, dest.path(), Some("org/mirror"), &o).unwrap();
    assert_eq!(std::fs::read(dest.path().join("x.bin")).unwrap(), body);
    assert!(report.files[0].source.contains("/orig"), "{report:?}");
}
