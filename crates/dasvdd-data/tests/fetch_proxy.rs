//! A hub download behind a proxy, the only way out of some networks: the hub's host is not
//! reachable from here, the proxy named by `HTTP_PROXY` (a local server on 127.0.0.1, never
//! the internet) is, and the download goes through it. Its own test binary, since it sets
//! the process's proxy variables.

use std::io::{BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use dasvdd_data::fetch::{fetch_files, sha256_hex, FetchOptions};

mod common;
use common::http::{keep, opts, read_request, response};

/// The hub's `resolve` answers for `body`: the whole file, or the bytes from `range` on.
fn hub_answer(body: &[u8], range: Option<u64>) -> Vec<u8> {
    let etag = format!("ETag: \"{}\"", sha256_hex(body));
    match range {
        None => response(
            "200 OK",
            &[&etag, &format!("Content-Length: {}", body.len())],
            body,
        ),
        Some(from) => {
            let from = from as usize;
            response(
                "206 Partial Content",
                &[
                    &etag,
                    &format!(
                        "Content-Range: bytes {from}-{}/{}",
                        body.len() - 1,
                        body.len()
                    ),
                    &format!("Content-Length: {}", body.len() - from),
                ],
                &body[from..],
            )
        }
    }
}

#[test]
fn a_hub_download_goes_through_the_proxy_of_the_environment() {
    let body: Vec<u8> = (0..5000u32).map(|i| (i * 11 % 251) as u8).collect();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen2 = seen.clone();
    let b = body.clone();
    // A proxy that tunnels `CONNECT` and answers plain proxied requests, as the hub itself.
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let Some((mut line, mut range)) = read_request(&mut reader) else {
                continue;
            };
            if line.starts_with("CONNECT ") {
                seen2.lock().unwrap().push(line.clone());
                let _ = stream.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n");
                let Some(inner) = read_request(&mut reader) else {
                    continue;
                };
                (line, range) = inner;
            }
            seen2.lock().unwrap().push(line.clone());
            let answer = if line.contains("/datasets/org/mirror/resolve/main/x.bin") {
                hub_answer(&b, range)
            } else {
                response("404 Not Found", &[], b"")
            };
            let _ = stream.write_all(&answer);
            let _ = stream.flush();
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
    });
    for v in [
        "ALL_PROXY",
        "all_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "http_proxy",
    ] {
        std::env::remove_var(v);
    }
    std::env::set_var("HTTP_PROXY", format!("http://127.0.0.1:{port}"));
    let dest = tempfile::tempdir().unwrap();
    // `.invalid` never resolves (RFC 6761): only the proxy can reach this hub.
    let o = FetchOptions {
        hub_endpoint: Some("http://hub.invalid".into()),
        hub_only: true,
        ..opts()
    };
    let files = [keep("x.bin", "http://hub.invalid/unused".into(), &body)];
    let result = fetch_files("toy", &files, dest.path(), Some("org/mirror"), &o);
    std::env::remove_var("HTTP_PROXY");
    result.unwrap();
    assert_eq!(std::fs::read(dest.path().join("x.bin")).unwrap(), body);
    let seen = seen.lock().unwrap();
    assert!(
        seen.iter().any(|l| l.contains("hub.invalid")),
        "the proxy saw no request for the hub: {seen:?}"
    );
}
