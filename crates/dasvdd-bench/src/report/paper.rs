//! The paper's numbers the report compares with: Table 2 (read from
//! `configs/table2_auc.csv`) and Table 3.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};

use crate::matrix::{Method, PaperColumn};

/// The paper's Table 2: AUROC in % by (paper dataset, class or `avg` or empty, column).
#[derive(Debug, Clone, Default)]
pub struct PaperTable {
    values: BTreeMap<(String, String, String), f64>,
}

impl PaperTable {
    /// Reads the CSV (`#` lines are comments; the first other line is the header).
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("{} is invalid", path.display()))
    }

    /// Parses the CSV text (see [`PaperTable::load`]): a header `dataset,class,<column>...`,
    /// then one line of values per row.
    pub fn parse(text: &str) -> Result<Self> {
        let mut lines = text
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'));
        let header: Vec<&str> = lines
            .next()
            .ok_or_else(|| anyhow!("no header line"))?
            .split(',')
            .collect();
        if header.len() < 3 || header[0] != "dataset" || header[1] != "class" {
            bail!("the header must start with dataset,class");
        }
        let mut values = BTreeMap::new();
        for (i, line) in lines.enumerate() {
            let cells: Vec<&str> = line.split(',').collect();
            if cells.len() != header.len() {
                bail!(
                    "line {} has {} fields, the header {}",
                    i + 2,
                    cells.len(),
                    header.len()
                );
            }
            for (col, cell) in header.iter().zip(&cells).skip(2) {
                if cell.trim().is_empty() {
                    continue;
                }
                let v: f64 = cell
                    .trim()
                    .parse()
                    .map_err(|_| anyhow!("line {}: `{cell}` is not a number", i + 2))?;
                values.insert(
                    (cells[0].to_string(), cells[1].to_string(), col.to_string()),
                    v,
                );
            }
        }
        Ok(PaperTable { values })
    }

    /// The paper's name of one of our datasets.
    fn dataset(ours: &str) -> Option<&'static str> {
        Some(match ours {
            "mnist" => "MNIST",
            "fmnist" => "FMNIST",
            "cifar10" => "CIFAR10",
            "speech" => "Speech",
            "pima" => "PIMA",
            "awid3" => "AWID 3",
            "mimii" => "MIMII",
            _ => return None,
        })
    }

    /// The paper's AUROC (%) of `method` on `dataset`, class `class` (`None`: the average).
    pub fn get(&self, dataset: &str, class: Option<u8>, method: Method) -> Option<f64> {
        let d = Self::dataset(dataset)?.to_string();
        let col = method.paper_column().to_string();
        let one_row = |c: &str| self.values.get(&(d.clone(), c.to_string(), col.clone()));
        match class {
            Some(c) => one_row(&c.to_string()).or_else(|| {
                // Datasets with one row in the paper (no per-class values).
                (c == 0 && dataset != "mimii")
                    .then(|| one_row(""))
                    .flatten()
            }),
            None => one_row("avg").or_else(|| one_row("")),
        }
        .copied()
    }
}

/// The paper's Table 3 (AUROC %, trainable c / fixed c).
pub(super) const PAPER_TABLE3: [(&str, f64, f64); 3] = [
    ("mnist", 97.7, 95.2),
    ("cifar10", 66.5, 64.7),
    ("fmnist", 92.6, 89.7),
];
