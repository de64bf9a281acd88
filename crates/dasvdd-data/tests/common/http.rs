//! A local HTTP server on 127.0.0.1 for the fetch tests (never the internet): each request is
//! answered with exactly the bytes a closure gives, so a test can cut bodies short, lie about
//! lengths, send error statuses or honour `Range`; and the fetch options and catalogue entry
//! those tests share.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use dasvdd_data::catalog::{Checksum, RemoteFile, Unpack};
use dasvdd_data::fetch::{sha256_hex, FetchOptions};

/// Each request's path and the start `N` of its `Range: bytes=N-` header, if it sent one.
pub type Log = Arc<Mutex<Vec<(String, Option<u64>)>>>;

/// A running server: its base URL and the log of the requests it answered.
pub struct Server {
    pub base: String,
    pub log: Log,
}

/// A server answering each request with the raw bytes `respond(path, range_start)` gives
/// (status line, headers and body, exactly as written), then closing the connection.
pub fn server(respond: impl Fn(&str, Option<u64>) -> Vec<u8> + Send + 'static) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let log: Log = Arc::new(Mutex::new(Vec::new()));
    let log2 = log.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let (line, range) = read_request(&mut reader).unwrap_or_default();
            let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
            log2.lock().unwrap().push((path.clone(), range));
            let _ = stream.write_all(&respond(&path, range));
            let _ = stream.flush();
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
    });
    Server {
        base: format!("http://127.0.0.1:{port}"),
        log,
    }
}

/// Reads a request line and its headers: the line (without its line end) and the start `N`
/// of its `Range: bytes=N-` header, if it sent one; `None` when nothing came.
pub fn read_request(reader: &mut impl BufRead) -> Option<(String, Option<u64>)> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut range = None;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
            break;
        }
        if let Some((name, value)) = h.split_once(':') {
            if name.eq_ignore_ascii_case("range") {
                range = value
                    .trim()
                    .strip_prefix("bytes=")
                    .and_then(|v| v.strip_suffix('-'))
                    .and_then(|v| v.parse::<u64>().ok());
            }
        }
    }
    Some((line.trim_end().to_string(), range))
}

/// An HTTP/1.1 answer: the status line, `Connection: close`, `headers`, then `body`.
pub fn response(status: &str, headers: &[&str], body: &[u8]) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status}\r\nConnection: close\r\n").into_bytes();
    for h in headers {
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

/// The fetch options of these tests: download, never use a copy installed on this machine.
pub fn opts() -> FetchOptions {
    FetchOptions {
        use_installed: false,
        ..Default::default()
    }
}

/// A catalogue entry for `content` at `url`, kept as it is, pinned by its SHA-256 and size.
pub fn keep(name: &str, url: String, content: &[u8]) -> RemoteFile {
    RemoteFile {
        name: name.into(),
        url,
        bytes: Some(content.len() as u64),
        checksum: Checksum::Download(sha256_hex(content)),
        unpack: Unpack::Keep,
    }
}
