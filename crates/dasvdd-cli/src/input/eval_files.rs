//! The score and label files of `dasvdd eval`: one column of values, under an optional header
//! row, read from a file or standard input.

use std::io::Read;
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};

use dasvdd_data::tabular::{CsvRows, Delimiter};

/// Reads a text file or standard input (`-`).
pub fn read_text(path: &Path) -> Result<String> {
    if path.as_os_str() == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .context("cannot read standard input")?;
        return Ok(s);
    }
    dasvdd_data::fileio::not_a_device(path)
        .and_then(|()| std::fs::read_to_string(path))
        .with_context(|| format!("cannot read {}", path.display()))
}

/// The name of a file argument in messages.
pub fn shown(path: &Path) -> String {
    if path.as_os_str() == "-" {
        "<stdin>".into()
    } else {
        path.display().to_string()
    }
}

/// The one column of a file of scores or labels (under an optional header line), with the
/// 1-based line of each value. A file of several columns (`score,prediction`, or with a
/// `label` column) gives the column named `wanted`. `value`: a value the column is known to
/// hold (`--pos-label`), which a first line holding it is not the header of.
pub fn read_column(path: &Path, wanted: &str, value: Option<&str>) -> Result<Vec<(u64, String)>> {
    let origin = shown(path);
    let text = read_text(path)?;
    let mut rows = CsvRows::new(Path::new(&origin), &text, Delimiter::Auto);
    let Some((first_line, header)) = rows.next().transpose()? else {
        bail!("{origin}: the file is empty");
    };
    let column = if header.len() == 1 {
        0
    } else {
        header
            .iter()
            .position(|h| h.trim().eq_ignore_ascii_case(wanted))
            .ok_or_else(|| {
                anyhow!(
                    "{origin}: row {first_line}: {} columns but none named `{wanted}`; \
                     expected one {wanted} per row",
                    header.len()
                )
            })?
    };
    let width = header.len();
    let mut rest = Vec::new();
    for row in rows {
        let (line, cells) = row?;
        if cells.len() != width {
            bail!(
                "{origin}: row {line}: {} cells, expected {width}; expected one {wanted} per row",
                cells.len()
            );
        }
        rest.push((line, cells[column].trim().to_string()));
    }
    // The first row is a header when it has several columns, or when its one cell is not a
    // number and is not a value of the column (text labels such as `normal` repeat), or when
    // it is the `0` pandas writes above an unnamed Series of decimal values (`to_csv` of
    // scores). A `0` above labels of 0 and 1 cannot be told from a label and stays one; a
    // count that then differs from the scores' is reported by `eval`.
    let head = header[0].trim();
    let first_is_header = value.is_none_or(|v| v.trim() != head)
        && (header.len() > 1
            || (head.parse::<f64>().is_err()
                && (rest.iter().any(|(_, v)| v.parse::<f64>().is_ok())
                    || !rest.iter().any(|(_, v)| v == head)))
            || (head == "0"
                && rest
                    .iter()
                    .any(|(_, v)| v.contains(['.', 'e', 'E']) && v.parse::<f64>().is_ok())));
    let mut out = Vec::new();
    if !first_is_header {
        out.push((first_line, head.to_string()));
    }
    out.extend(rest);
    if out.is_empty() {
        bail!("{origin}: the file holds no {wanted}s");
    }
    Ok(out)
}

/// Reads a score file: the `score` column, finite numbers.
pub fn read_scores(path: &Path) -> Result<Vec<f64>> {
    let origin = shown(path);
    read_column(path, "score", None)?
        .into_iter()
        .map(|(line, t)| match t.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(v),
            Ok(v) => bail!("{origin}: row {line}: score `{t}` is {v}"),
            Err(_) => bail!("{origin}: row {line}: `{t}` is not a number"),
        })
        .collect()
}
