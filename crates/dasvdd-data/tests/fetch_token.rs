//! Hub downloads and the environment, against a local hub on 127.0.0.1 (never the internet):
//! the access token of `HF_TOKEN`, else of the token file, reaches the hub as an
//! `Authorization` header and is never written in a message; the repository given in the
//! options (the command lines' `--mirror`) beats `DASVDD_HF_REPO`; a file the hub redirects to
//! another host is fetched there without the token.
//!
//! One test in its own binary: it sets environment variables, which other tests running at
//! the same time in the same process would see.

use std::sync::{Arc, Mutex};

use dasvdd_data::catalog::{Checksum, RemoteFile, Unpack};
use dasvdd_data::fetch::{fetch, fetch_files, sha256_hex, FetchOptions};
use dasvdd_data::DatasetName;

/// Each request's path and `Authorization` header.
type Log = Arc<Mutex<Vec<(String, Option<String>)>>>;

/// The request's `Authorization` header.
fn authorization(req: &tiny_http::Request) -> Option<String> {
    req.headers()
        .iter()
        .find(|h| h.field.equiv("Authorization"))
        .map(|h| h.value.as_str().to_string())
}

/// A hub answering every `resolve` request with the same wrong bytes; records each request's
/// path and `Authorization` header.
fn hub() -> (String, Log) {
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let port = server.server_addr().to_ip().unwrap().port();
    let log: Log = Arc::new(Mutex::new(Vec::new()));
    let log2 = log.clone();
    std::thread::spawn(move || {
        let body = b"not the file".to_vec();
        let header =
            |k: &str, v: &str| tiny_http::Header::from_bytes(k.as_bytes(), v.as_bytes()).unwrap();
        for req in server.incoming_requests() {
            let auth = authorization(&req);
            log2.lock().unwrap().push((req.url().to_string(), auth));
            let end = body.len() - 1;
            let resp = tiny_http::Response::from_data(body.clone())
                .with_status_code(206)
                .with_header(header(
                    "Content-Range",
                    &format!("bytes 0-{end}/{}", body.len()),
                ))
                .with_header(header("ETag", &format!("\"{}\"", sha256_hex(&body))))
                .with_header(header(
                    "X-Repo-Commit",
                    "0123456789abcdef0123456789abcdef01234567",
                ));
            let _ = req.respond(resp);
        }
    });
    (format!("http://127.0.0.1:{port}"), log)
}

#[test]
fn the_token_reaches_the_hub_and_the_given_repository_beats_the_variable() {
    let (base, log) = hub();
    let home = tempfile::tempdir().unwrap();
    for k in ["HF_TOKEN", "HF_TOKEN_PATH", "HF_HOME", "XDG_CACHE_HOME"] {
        std::env::remove_var(k);
    }
    // No token file where hf-hub or huggingface_hub would look by default.
    std::env::set_var("HOME", home.path());
    std::env::set_var("DASVDD_HF_REPO", "env/repo");
    let opts = FetchOptions {
        hub_endpoint: Some(base.clone()),
        hub_repo: Some("org/mirror".into()),
        hub_only: true,
        use_installed: false,
        ..Default::default()
    };
    let run = || {
        let dest = tempfile::tempdir().unwrap();
        log.lock().unwrap().clear();
        let err = fetch(&DatasetName::Mnist, dest.path(), &opts)
            .unwrap_err()
            .to_string();
        let requests = log.lock().unwrap().clone();
        assert!(!requests.is_empty(), "no request reached the hub: {err}");
        for (path, _) in &requests {
            assert!(
                path.starts_with("/datasets/org/mirror/resolve/main/"),
                "{path}"
            );
        }
        (err, requests)
    };

    // Without a token, none is sent.
    let (_, requests) = run();
    assert!(requests.iter().all(|(_, a)| a.is_none()), "{requests:?}");

    // HF_TOKEN.
    let secret = "hf_SecretFromTheEnvironment42";
    std::env::set_var("HF_TOKEN", secret);
    let (err, requests) = run();
    for (path, auth) in &requests {
        assert_eq!(
            auth.as_deref(),
            Some(format!("Bearer {secret}").as_str()),
            "{path}"
        );
    }
    assert!(!err.contains(secret), "the token is in the message: {err}");

    // The token file of `huggingface-cli login`, in $HF_HOME.
    std::env::remove_var("HF_TOKEN");
    let hf_home = home.path().join("hf");
    std::fs::create_dir_all(&hf_home).unwrap();
    let from_file = "hf_SecretFromTheFile42";
    std::fs::write(hf_home.join("token"), format!("{from_file}\n")).unwrap();
    std::env::set_var("HF_HOME", &hf_home);
    let (err, requests) = run();
    for (path, auth) in &requests {
        assert_eq!(
            auth.as_deref(),
            Some(format!("Bearer {from_file}").as_str()),
            "{path}"
        );
    }
    assert!(
        !err.contains(from_file),
        "the token is in the message: {err}"
    );

    // A file the hub redirects to another host (its CDN) is fetched there without the token.
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let port = server.server_addr().to_ip().unwrap().port();
    let cdn_log: Log = Arc::new(Mutex::new(Vec::new()));
    let cdn_log2 = cdn_log.clone();
    let body = b"the file, from the CDN".to_vec();
    let b = body.clone();
    std::thread::spawn(move || {
        for req in server.incoming_requests() {
            let auth = authorization(&req);
            let url = req.url().to_string();
            cdn_log2.lock().unwrap().push((url.clone(), auth));
            let resp = if url.starts_with("/datasets/") {
                // `localhost` is another host than `127.0.0.1` for the client.
                let to = format!("http://localhost:{port}/cdn/x.bin");
                tiny_http::Response::from_data(Vec::new())
                    .with_status_code(302)
                    .with_header(
                        tiny_http::Header::from_bytes(&b"Location"[..], to.as_bytes()).unwrap(),
                    )
            } else {
                tiny_http::Response::from_data(b.clone())
            };
            let _ = req.respond(resp);
        }
    });
    let dest = tempfile::tempdir().unwrap();
    let file = RemoteFile {
        name: "x.bin".into(),
        url: "http://127.0.0.1:9/unused".into(),
        bytes: Some(body.len() as u64),
        checksum: Checksum::Download(sha256_hex(&body)),
        unpack: Unpack::Keep,
    };
    let cdn_opts = FetchOptions {
        hub_endpoint: Some(format!("http://127.0.0.1:{port}")),
        ..opts.clone()
    };
    fetch_files("toy", &[file], dest.path(), Some("org/mirror"), &cdn_opts).unwrap();
    assert_eq!(std::fs::read(dest.path().join("x.bin")).unwrap(), body);
    let requests = cdn_log.lock().unwrap().clone();
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert_eq!(
        requests[0].1.as_deref(),
        Some(format!("Bearer {from_file}").as_str()),
        "the hub's own host gets the token"
    );
    assert_eq!(
        requests[1],
        ("/cdn/x.bin".to_string(), None),
        "the CDN does not"
    );
}
