//! Label values as users have them (`0/1`, scikit-learn's `-1/1`, `normal/anomaly`) turned
//! into the project's convention, 1 = anomaly and 0 = normal, with `--pos-label` naming the
//! value that marks an anomaly.

use anyhow::{bail, Result};

/// The rule that turns a label cell into 0 (normal) or 1 (anomaly).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelRule {
    /// The value that marks an anomaly; `None`: the labels must be 0 and 1.
    pub pos_label: Option<String>,
}

/// Whether two label cells hold the same value: equal numbers (`1` and `1.0`) or equal text.
fn same_value(a: &str, b: &str) -> bool {
    match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

impl LabelRule {
    pub fn new(pos_label: Option<&str>) -> Self {
        LabelRule {
            pos_label: pos_label.map(|s| s.trim().to_string()),
        }
    }

    /// Converts `cells` (label values with the 1-based line each came from) of `origin`.
    /// `require_anomaly`: with `--pos-label`, it is an error when no cell holds that value
    /// (a mistyped value would otherwise make every sample normal).
    pub fn apply(
        &self,
        origin: &str,
        cells: &[(u64, String)],
        require_anomaly: bool,
    ) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(cells.len());
        match &self.pos_label {
            Some(pos) => {
                for (_, c) in cells {
                    out.push(u8::from(same_value(c.trim(), pos)));
                }
                // No cell holds the value: an error where an anomaly must be present, and
                // wherever the cells hold several values, one of which must then mark the
                // anomalies (`--pos-label Anomaly` for `anomaly` would otherwise train on them).
                let several = cells
                    .iter()
                    .any(|(_, c)| !same_value(c.trim(), cells[0].1.trim()));
                if (require_anomaly || several) && !out.contains(&1) {
                    bail!(
                        "{origin}: no label is `{pos}` (--pos-label); the labels are {}",
                        distinct(cells)
                    );
                }
            }
            None => {
                for (line, c) in cells {
                    let t = c.trim();
                    match t.parse::<f64>() {
                        Ok(v) if v == 0.0 || v == 1.0 => out.push(v as u8),
                        _ => bail!("{origin}: row {line}: {}", self.hint(t, cells)),
                    }
                }
            }
        }
        Ok(out)
    }

    /// Why `bad` is not a label, and the fix.
    fn hint(&self, bad: &str, cells: &[(u64, String)]) -> String {
        let values = distinct(cells);
        let numbers: Option<Vec<f64>> = cells.iter().map(|(_, c)| c.trim().parse().ok()).collect();
        if let Some(n) = numbers {
            if n.iter().all(|v| *v == -1.0 || *v == 1.0) {
                return format!(
                    "label `{bad}`: the labels are -1 and 1, not 0 and 1; in scikit-learn's \
                     convention -1 marks the anomalies: pass --pos-label -1 (or --pos-label 1 \
                     if 1 marks them)"
                );
            }
        }
        format!(
            "label `{bad}` is not 0 or 1 (1 = anomaly); pass --pos-label with the value that \
             marks an anomaly (the labels are {values})"
        )
    }
}

/// The distinct values of `cells`, at most six of them, for messages.
fn distinct(cells: &[(u64, String)]) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for (_, c) in cells {
        let t = c.trim();
        if !seen.contains(&t) {
            if seen.len() == 6 {
                return format!("{}, ...", seen.join(", "));
            }
            seen.push(t);
        }
    }
    seen.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cells(v: &[&str]) -> Vec<(u64, String)> {
        v.iter()
            .enumerate()
            .map(|(i, s)| (i as u64 + 1, s.to_string()))
            .collect()
    }

    #[test]
    fn zero_one_labels_need_no_rule() {
        let l = LabelRule::default()
            .apply("f", &cells(&["0", "1", "1.0"]), true)
            .unwrap();
        assert_eq!(l, [0, 1, 1]);
    }

    #[test]
    fn other_conventions_get_a_hint_and_work_with_pos_label() {
        let e = LabelRule::default()
            .apply("f.csv", &cells(&["1", "-1", "1"]), true)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("f.csv: row 2") && e.contains("--pos-label -1"),
            "{e}"
        );
        let l = LabelRule::new(Some("-1"))
            .apply("f", &cells(&["1", "-1", "1"]), true)
            .unwrap();
        assert_eq!(l, [0, 1, 0]);
        let e = LabelRule::default()
            .apply("f", &cells(&["normal", "anomaly"]), true)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("--pos-label") && e.contains("normal, anomaly"),
            "{e}"
        );
        let l = LabelRule::new(Some("anomaly"))
            .apply("f", &cells(&["normal", "anomaly"]), true)
            .unwrap();
        assert_eq!(l, [0, 1]);
        let e = LabelRule::new(Some("anomalous"))
            .apply("f", &cells(&["normal", "anomaly"]), true)
            .unwrap_err()
            .to_string();
        assert!(e.contains("no label is `anomalous`"), "{e}");
    }
}
