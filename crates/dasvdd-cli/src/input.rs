//! Reading the user's sample files (CSV with or without a header row, or NPY) and writing
//! score files.

use std::path::Path;

use anyhow::{bail, Context, Result};
use dasvdd_data::tabular::{read_csv, CsvOptions};
use dasvdd_data::Matrix;

/// Reads a samples x features matrix from `.csv`/`.tsv`/`.txt` or `.npy`.
pub fn read_samples(path: &Path) -> Result<Matrix> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let m = match ext.as_str() {
        "npy" => dasvdd_data::npy::read_npy_matrix(path)?,
        "csv" | "txt" | "tsv" | "" => {
            let opts = CsvOptions {
                delimiter: if ext == "tsv" { b'\t' } else { b',' },
                ..CsvOptions::default()
            };
            read_csv(path, &opts)?.x
        }
        other => bail!(
            "{}: unsupported file type `.{other}` (expected .csv, .tsv or .npy)",
            path.display()
        ),
    };
    if m.rows == 0 {
        bail!("{}: the file holds no samples", path.display());
    }
    Ok(m)
}

/// Writes one score per line under a `score` header, atomically. Values are printed with the
/// shortest representation that reads back to the same f64.
pub fn write_scores(path: &Path, scores: &[f64]) -> Result<()> {
    let mut text = String::with_capacity(scores.len() * 20 + 6);
    text.push_str("score\n");
    for s in scores {
        text.push_str(&format!("{s}\n"));
    }
    dasvdd_core::checkpoint::write_atomic(path, text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Reads a score file: one number per line (at full f64 precision), an optional header line.
pub fn read_scores(path: &Path) -> Result<Vec<f64>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.is_empty() {
            continue;
        }
        if t.contains(',') {
            bail!(
                "{}: row {}: expected one score per row, found several columns",
                path.display(),
                i + 1
            );
        }
        match t.parse::<f64>() {
            Ok(v) if v.is_finite() => out.push(v),
            Ok(v) => bail!("{}: row {}: score `{t}` is {v}", path.display(), i + 1),
            Err(_) if i == 0 => {} // header
            Err(_) => bail!("{}: row {}: `{t}` is not a number", path.display(), i + 1),
        }
    }
    if out.is_empty() {
        bail!("{}: the file holds no scores", path.display());
    }
    Ok(out)
}
