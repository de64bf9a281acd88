//! A cut download resumed: `fetch` against a local HTTP server on 127.0.0.1 (never the
//! internet) that cuts its bodies short, honours or ignores `Range`, or changes the file between
//! two requests. A cut is resumed from the bytes already received, within one fetch and by the
//! next one, and what is placed is always the whole file its checksum pins.

use std::path::Path;

use dasvdd_data::fetch::{fetch_files, partial_path, FetchOptions, FetchReport, URL_ATTEMPTS};
use dasvdd_data::leftovers::has_leftovers;
use dasvdd_data::progress::{Progress, ProgressEvent};

mod common;
use common::http::{keep, opts, response, server, Server};
use common::listing;

/// `content` from byte `from` on, as a server that honours ranges sends it (`206` with its
/// `Content-Range` when `from` is given, else `200`), but only `cut` bytes of it before the
/// connection closes (all when `cut` is `None`), with the length of the whole answer announced.
fn serve(content: &[u8], from: Option<u64>, cut: Option<usize>) -> Vec<u8> {
    let start = from.unwrap_or(0) as usize;
    let rest = &content[start..];
    let sent = &rest[..cut.unwrap_or(rest.len()).min(rest.len())];
    let mut headers = vec![format!("Content-Length: {}", rest.len())];
    match from {
        Some(f) => {
            headers.push(format!(
                "Content-Range: bytes {f}-{}/{}",
                content.len() - 1,
                content.len()
            ));
            response(
                "206 Partial Content",
                &headers.iter().map(String::as_str).collect::<Vec<_>>(),
                sent,
            )
        }
        None => response(
            "200 OK",
            &headers.iter().map(String::as_str).collect::<Vec<_>>(),
            sent,
        ),
    }
}

fn content() -> Vec<u8> {
    (0..1000u32).map(|i| (i * 7 % 251) as u8).collect()
}

/// `fetch_files` of the one file `x.bin` of `content` from `srv`'s `/x` into `dest`.
fn fetch_x(srv: &Server, content: &[u8], dest: &Path) -> dasvdd_data::Result<FetchReport> {
    let files = [keep("x.bin", format!("{}/x", srv.base), content)];
    fetch_files("toy", &files, dest, None, &opts())
}

/// Each progress report: the file, its bytes so far, its total and whether it ends an attempt.
type Seen = std::sync::Arc<std::sync::Mutex<Vec<(String, u64, Option<u64>, bool)>>>;

/// A progress callback that records every report, and the record.
fn recorder() -> (Seen, Progress) {
    let seen: Seen = Default::default();
    let s2 = seen.clone();
    let progress = Progress(std::sync::Arc::new(move |e: &ProgressEvent<'_>| {
        s2.lock()
            .unwrap()
            .push((e.file.to_string(), e.bytes, e.total, e.done));
    }));
    (seen, progress)
}

fn ranges(srv: &Server) -> Vec<Option<u64>> {
    srv.log.lock().unwrap().iter().map(|(_, r)| *r).collect()
}

#[test]
fn a_cut_download_is_resumed_within_the_fetch() {
    let body = content();
    let b = body.clone();
    // The first answer stops after 300 bytes; the second sends the rest.
    let srv = server(move |_, from| serve(&b, from, from.is_none().then_some(300)));
    let dest = tempfile::tempdir().unwrap();
    let report = fetch_x(&srv, &body, dest.path()).unwrap();
    assert_eq!(std::fs::read(dest.path().join("x.bin")).unwrap(), body);
    assert_eq!(ranges(&srv), [None, Some(300)]);
    assert_eq!(report.files[0].bytes, 1000);
    assert_eq!(
        listing(dest.path()),
        ["x.bin"],
        "the partial file is removed"
    );
}

#[test]
fn a_download_cut_at_every_attempt_is_kept_and_the_next_fetch_resumes_it() {
    let body = content();
    let b = body.clone();
    // Every answer stops after 150 bytes: each attempt gets further, none finishes.
    let srv = server(move |_, from| serve(&b, from, Some(150)));
    let dest = tempfile::tempdir().unwrap();
    let url = format!("{}/x", srv.base);
    let err = fetch_x(&srv, &body, dest.path()).unwrap_err();
    let msg = err.to_string();
    let kept = 150 * URL_ATTEMPTS as u64;
    assert!(
        msg.contains("x.bin")
            && msg.contains(&url)
            && msg.contains("interrupted")
            && msg.contains(&format!("{kept} bytes kept"))
            && msg.contains("the next fetch resumes"),
        "{msg}"
    );
    let expected: Vec<Option<u64>> = (0..URL_ATTEMPTS as u64)
        .map(|i| (i > 0).then_some(150 * i))
        .collect();
    assert_eq!(ranges(&srv), expected);
    // Only the hidden partial file is there: nothing a reader takes for the file.
    let part = partial_path(dest.path(), "x.bin");
    assert_eq!(std::fs::read(&part).unwrap(), body[..kept as usize]);
    assert_eq!(listing(dest.path()), [".dasvdd-partial.x.bin.tmp"]);
    assert!(has_leftovers(dest.path()));

    // The next fetch asks for the rest only (the server still cuts at 150 bytes a request).
    srv.log.lock().unwrap().clear();
    fetch_x(&srv, &body, dest.path()).unwrap();
    assert_eq!(std::fs::read(dest.path().join("x.bin")).unwrap(), body);
    assert_eq!(ranges(&srv), [Some(600), Some(750), Some(900)]);
    assert_eq!(listing(dest.path()), ["x.bin"]);
}

#[test]
fn a_cut_that_gets_no_further_stops_at_once() {
    let body = content();
    let b = body.clone();
    // A server that ignores ranges and always stops at byte 300.
    let srv = server(move |_, _| serve(&b, None, Some(300)));
    let dest = tempfile::tempdir().unwrap();
    let err = fetch_x(&srv, &body, dest.path()).unwrap_err();
    assert!(err.to_string().contains("300 bytes kept"), "{err}");
    // The first attempt got 300 bytes; the second, sent the whole file again, got no further.
    assert_eq!(ranges(&srv), [None, Some(300)]);
}

#[test]
fn a_partial_file_the_server_does_not_resume_is_replaced() {
    let body = content();
    for (case, status) in [("ignores ranges", 200), ("cannot serve the range", 416)] {
        let b = body.clone();
        let srv = server(move |_, from| match (from, status) {
            (Some(_), 416) => response("416 Range Not Satisfiable", &["Content-Length: 0"], b""),
            _ => serve(&b, None, None),
        });
        let dest = tempfile::tempdir().unwrap();
        std::fs::write(partial_path(dest.path(), "x.bin"), b"stale bytes").unwrap();
        fetch_x(&srv, &body, dest.path()).unwrap();
        assert_eq!(
            std::fs::read(dest.path().join("x.bin")).unwrap(),
            body,
            "{case}"
        );
        let want: Vec<Option<u64>> = if status == 416 {
            vec![Some(11), None]
        } else {
            vec![Some(11)]
        };
        assert_eq!(ranges(&srv), want, "{case}");
        assert_eq!(listing(dest.path()), ["x.bin"], "{case}");
    }
}

#[test]
fn a_resumed_download_that_fails_its_checksum_is_downloaded_again_from_the_start() {
    // The partial file holds the first 500 bytes of an older version of the file.
    let body = content();
    let old: Vec<u8> = body.iter().map(|b| b.wrapping_add(1)).collect();
    let b = body.clone();
    let srv = server(move |_, from| serve(&b, from, None));
    let dest = tempfile::tempdir().unwrap();
    std::fs::write(partial_path(dest.path(), "x.bin"), &old[..500]).unwrap();
    fetch_x(&srv, &body, dest.path()).unwrap();
    assert_eq!(std::fs::read(dest.path().join("x.bin")).unwrap(), body);
    assert_eq!(ranges(&srv), [Some(500), None]);
    assert_eq!(listing(dest.path()), ["x.bin"]);

    // A partial file of the full size is checked without asking the server; a wrong one is
    // downloaded again.
    for (partial, requests) in [(body.clone(), 0), (old.clone(), 1)] {
        srv.log.lock().unwrap().clear();
        let dest = tempfile::tempdir().unwrap();
        std::fs::write(partial_path(dest.path(), "x.bin"), &partial).unwrap();
        fetch_x(&srv, &body, dest.path()).unwrap();
        assert_eq!(std::fs::read(dest.path().join("x.bin")).unwrap(), body);
        assert_eq!(srv.log.lock().unwrap().len(), requests);
        assert_eq!(listing(dest.path()), ["x.bin"]);
    }
}

#[test]
fn a_source_whose_file_changed_is_refused_and_leaves_no_partial_file() {
    // A server whose file is not the catalogue's, served whole: refused by its checksum, and
    // nothing kept to resume from.
    let body = content();
    let other: Vec<u8> = body.iter().rev().copied().collect();
    let srv = server(move |_, from| serve(&other, from, None));
    let dest = tempfile::tempdir().unwrap();
    let err = fetch_x(&srv, &body, dest.path()).unwrap_err();
    assert!(err.to_string().contains("sha-256 mismatch"), "{err}");
    assert!(
        listing(dest.path()).is_empty(),
        "{:?}",
        listing(dest.path())
    );
}

#[test]
fn a_file_changed_on_the_server_between_two_attempts_of_one_fetch_is_downloaded_again() {
    // The first answer is the old file, cut after 300 bytes; every later one is the new file.
    let body = content();
    let old: Vec<u8> = body.iter().map(|b| b.wrapping_add(1)).collect();
    let b = body.clone();
    let first = std::sync::atomic::AtomicBool::new(true);
    let srv = server(move |_, from| {
        if first.swap(false, std::sync::atomic::Ordering::SeqCst) {
            serve(&old, from, Some(300))
        } else {
            serve(&b, from, None)
        }
    });
    let dest = tempfile::tempdir().unwrap();
    fetch_x(&srv, &body, dest.path()).unwrap();
    assert_eq!(std::fs::read(dest.path().join("x.bin")).unwrap(), body);
    assert_eq!(ranges(&srv), [None, Some(300), None]);
    assert_eq!(listing(dest.path()), ["x.bin"]);
}

#[test]
fn a_resume_the_server_refuses_says_what_is_kept() {
    let body = content();
    let dest = tempfile::tempdir().unwrap();
    std::fs::write(partial_path(dest.path(), "x.bin"), &body[..400]).unwrap();
    let srv = server(|_, _| response("503 Service Unavailable", &["Content-Length: 0"], b""));
    let err = fetch_x(&srv, &body, dest.path()).unwrap_err().to_string();
    assert!(
        err.contains("http status 503") && err.contains("400 bytes kept"),
        "{err}"
    );
    // Kept for a later fetch.
    assert_eq!(listing(dest.path()), [".dasvdd-partial.x.bin.tmp"]);
}

#[test]
fn progress_is_told_the_bytes_of_each_attempt_and_the_whole_size() {
    let body = content();
    let b = body.clone();
    let srv = server(move |_, from| serve(&b, from, from.is_none().then_some(300)));
    let dest = tempfile::tempdir().unwrap();
    let (seen, progress) = recorder();
    let o = FetchOptions {
        progress: Some(progress),
        ..opts()
    };
    let files = [keep("x.bin", format!("{}/x", srv.base), &body)];
    fetch_files("toy", &files, dest.path(), None, &o).unwrap();
    let seen = seen.lock().unwrap();
    assert!(seen
        .iter()
        .all(|(f, _, total, _)| f == "x.bin" && *total == Some(1000)));
    // Each attempt's reports rise and end with one marked done: at 300 (the cut), then at 1000.
    let ends: Vec<u64> = seen.iter().filter(|e| e.3).map(|e| e.1).collect();
    assert_eq!(ends, [300, 1000]);
    let cut = seen.iter().position(|e| e.3).unwrap();
    assert!(seen[..=cut].windows(2).all(|w| w[0].1 <= w[1].1));
    assert!(seen[cut + 1..].windows(2).all(|w| w[0].1 <= w[1].1));
    assert!(
        seen[cut + 1].1 > 300,
        "the second attempt counts from the kept bytes"
    );
}

#[test]
fn a_server_answering_another_range_than_asked_for_gets_a_fresh_start() {
    // It answers a range with the file from byte 0, marked as partial content.
    let body = content();
    let b = body.clone();
    let srv = server(move |_, from| match from {
        Some(_) => serve(&b, Some(0), None),
        None => serve(&b, None, None),
    });
    let dest = tempfile::tempdir().unwrap();
    std::fs::write(partial_path(dest.path(), "x.bin"), &body[..500]).unwrap();
    fetch_x(&srv, &body, dest.path()).unwrap();
    assert_eq!(std::fs::read(dest.path().join("x.bin")).unwrap(), body);
    assert_eq!(ranges(&srv), [Some(500), None]);
    assert_eq!(listing(dest.path()), ["x.bin"]);
}

#[test]
fn a_cut_hub_download_is_resumed_within_the_fetch_and_its_progress_told() {
    let body: Vec<u8> = (0..50_000u32).map(|i| (i * 13 % 251) as u8).collect();
    let b = body.clone();
    // The hub's `resolve` URL answers as the original hosts do (the whole file, or the range
    // asked for); the first answer stops after 20,000 bytes.
    let srv = server(move |path, from| {
        if path != "/datasets/org/mirror/resolve/main/x.bin" {
            return response("404 Not Found", &[], b"");
        }
        serve(&b, from, from.is_none().then_some(20_000))
    });
    let dest = tempfile::tempdir().unwrap();
    let (seen, progress) = recorder();
    let o = FetchOptions {
        hub_endpoint: Some(srv.base.clone()),
        hub_repo: Some("org/mirror".into()),
        hub_only: true,
        progress: Some(progress),
        ..opts()
    };
    let files = [keep("x.bin", "http://127.0.0.1:9/unused".into(), &body)];
    fetch_files("toy", &files, dest.path(), Some("org/mirror"), &o).unwrap();
    assert_eq!(std::fs::read(dest.path().join("x.bin")).unwrap(), body);
    assert_eq!(
        ranges(&srv),
        [None, Some(20_000)],
        "resumed where the cut stopped"
    );
    assert_eq!(listing(dest.path()), ["x.bin"], "no partial file is left");
    let seen = seen.lock().unwrap();
    assert!(seen.iter().all(|e| e.2 == Some(50_000)), "{seen:?}");
    // One end per attempt, at the cut and at the whole size, the bytes never falling.
    let ends: Vec<u64> = seen.iter().filter(|e| e.3).map(|e| e.1).collect();
    assert_eq!(ends, [20_000, 50_000]);
    assert!(seen.windows(2).all(|w| w[0].1 <= w[1].1), "{seen:?}");
}

#[test]
fn a_hostile_hub_cannot_name_where_its_file_is_written() {
    // `hf-hub`'s own download named its cache file after the server's `ETag`: an absolute one
    // had the file written there. The hub's answer now goes where any download goes.
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("overwritten");
    let body = content();
    let b = body.clone();
    let etag = format!("ETag: \"{}\"", target.display());
    let srv = server(move |_, from| {
        let mut answer = serve(&b, from, None);
        // The same answer with the hostile headers of the hub's protocol added.
        let at = answer.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 2;
        let extra = format!("{etag}\r\nX-Linked-Etag: \"/tmp\"\r\nX-Repo-Commit: /tmp\r\n");
        answer.splice(at..at, extra.into_bytes());
        answer
    });
    let dest = tempfile::tempdir().unwrap();
    let o = FetchOptions {
        hub_endpoint: Some(srv.base.clone()),
        hub_only: true,
        ..opts()
    };
    let files = [keep("x.bin", "http://127.0.0.1:9/unused".into(), &body)];
    fetch_files("toy", &files, dest.path(), Some("org/mirror"), &o).unwrap();
    assert_eq!(std::fs::read(dest.path().join("x.bin")).unwrap(), body);
    assert!(!target.exists(), "a file was written where the server said");
    assert_eq!(listing(outside.path()), Vec::<String>::new());
}
