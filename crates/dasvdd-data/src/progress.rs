//! Progress of a download: what a fetch reports as the bytes of a file arrive, and a
//! one-line reporter for a terminal that the command lines use.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One report of a download's progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProgressEvent<'a> {
    /// The file's catalogue name.
    pub file: &'a str,
    /// Bytes of the file received so far, those of a resumed partial file included.
    pub bytes: u64,
    /// The file's size, when the server or the catalogue says it.
    pub total: Option<u64>,
    /// The last report of this download (the body ended, whole or cut).
    pub done: bool,
}

/// Called as a download goes, with each [`ProgressEvent`]: after every block written, so the
/// callee decides how often to show anything.
#[derive(Clone)]
pub struct Progress(pub Arc<dyn Fn(&ProgressEvent<'_>) + Send + Sync>);

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Progress(..)")
    }
}

impl PartialEq for Progress {
    /// The same callback.
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Progress {
    /// A reporter that rewrites one line on standard error at most five times a second (`file:
    /// 12.3 of 170.1 MB (7%)`) and ends it when the download does; `None` unless standard
    /// error is a terminal, so logs and pipes get nothing.
    pub fn on_terminal() -> Option<Progress> {
        if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            return None;
        }
        let last: Mutex<Option<Instant>> = Mutex::new(None);
        Some(Progress(Arc::new(move |e: &ProgressEvent<'_>| {
            let mut last = last.lock().unwrap_or_else(|p| p.into_inner());
            let due = last.is_none_or(|t| t.elapsed() >= Duration::from_millis(200));
            if !(due || e.done) {
                return;
            }
            *last = if e.done { None } else { Some(Instant::now()) };
            let end = if e.done { "\n" } else { "" };
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r{}\x1b[K{end}", progress_line(e));
            let _ = err.flush();
        })))
    }
}

/// The text of one progress report: `name: 12.3 of 170.1 MB (7%)` (kB below a megabyte), or
/// `name: 12.3 MB` when the size is not known.
pub fn progress_line(e: &ProgressEvent<'_>) -> String {
    let (div, unit) = if e.total.unwrap_or(e.bytes) < 1_000_000 {
        (1e3, "kB")
    } else {
        (1e6, "MB")
    };
    let size = |b: u64| b as f64 / div;
    match e.total {
        Some(t) if t > 0 => format!(
            "{}: {:.1} of {:.1} {unit} ({}%)",
            e.file,
            size(e.bytes),
            size(t),
            (e.bytes.min(t) * 100) / t
        ),
        _ => format!("{}: {:.1} {unit}", e.file, size(e.bytes)),
    }
}

/// A writer that passes everything to `inner` and reports the bytes written so far (from
/// `start`) to `report` after each write.
pub(crate) struct Counting<'a, W> {
    pub inner: W,
    pub bytes: u64,
    pub report: &'a dyn Fn(u64),
}

impl<W: Write> Write for Counting<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        (self.report)(self.bytes);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_gives_megabytes_and_the_share_when_the_size_is_known() {
        let e = ProgressEvent {
            file: "cifar-10-binary.tar.gz",
            bytes: 12_345_678,
            total: Some(170_052_171),
            done: false,
        };
        assert_eq!(
            progress_line(&e),
            "cifar-10-binary.tar.gz: 12.3 of 170.1 MB (7%)"
        );
        let e = ProgressEvent { total: None, ..e };
        assert_eq!(progress_line(&e), "cifar-10-binary.tar.gz: 12.3 MB");
        let small = ProgressEvent {
            file: "train-labels-idx1-ubyte.gz",
            bytes: 8_000,
            total: Some(29_515),
            done: false,
        };
        assert_eq!(
            progress_line(&small),
            "train-labels-idx1-ubyte.gz: 8.0 of 29.5 kB (27%)"
        );
        // More bytes than announced (a server that lied) never shows above 100%.
        let e = ProgressEvent {
            bytes: 200,
            total: Some(100),
            ..e
        };
        assert!(
            progress_line(&e).ends_with("(100%)"),
            "{}",
            progress_line(&e)
        );
    }

    #[test]
    fn counting_reports_every_write_from_its_start() {
        let seen = Mutex::new(Vec::new());
        let report = |b: u64| seen.lock().unwrap().push(b);
        let mut w = Counting {
            inner: Vec::new(),
            bytes: 300,
            report: &report,
        };
        w.write_all(b"abc").unwrap();
        w.write_all(b"de").unwrap();
        assert_eq!(w.inner, b"abcde");
        assert_eq!(*seen.lock().unwrap(), [303, 305]);
    }
}
