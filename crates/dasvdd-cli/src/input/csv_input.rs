//! CSV input: the command line's options turned into the data crate's CSV reader's
//! ([`dasvdd_data::tabular`]: separator, header, columns by name or number, the hints and
//! warnings), and the labels read by the command line's convention (`--pos-label`).

use std::path::Path;

use anyhow::{anyhow, Result};
use dasvdd_data::tabular::{
    self, ColumnRef, CsvOptions, Delimiter, Header, LabelSource, OptionNames,
};
use dasvdd_data::Matrix;

use super::SourceArgs;
use crate::labels::LabelRule;

/// A parsed CSV file: the features, the labels (with `--label-col`) and, when the file has a
/// header row, the names of the feature columns.
pub(super) struct CsvTable {
    pub x: Matrix,
    pub labels: Option<Vec<u8>>,
    pub names: Option<Vec<String>>,
}

impl SourceArgs {
    /// Parses CSV text into features and, with `--label-col`, labels.
    #[cfg(test)]
    pub(super) fn parse_csv(
        &self,
        origin: &str,
        text: &str,
        rule: &LabelRule,
    ) -> Result<(Matrix, Option<Vec<u8>>)> {
        let t = self.parse_csv_table(origin, text, rule)?;
        Ok((t.x, t.labels))
    }

    /// Parses CSV text into features, labels (with `--label-col`) and feature names, through
    /// the data crate's reader ([`dasvdd_data::tabular::parse_csv`]); its warnings about
    /// id-like columns are printed here.
    pub(super) fn parse_csv_table(
        &self,
        origin: &str,
        text: &str,
        rule: &LabelRule,
    ) -> Result<CsvTable> {
        let opts = CsvOptions {
            header: match self.header.as_deref() {
                Some("yes") => Header::Present,
                Some("no") => Header::Absent,
                _ => Header::Auto,
            },
            label: match &self.label_col {
                Some(c) => LabelSource::Column(ColumnRef::Given(c.clone())),
                None => LabelSource::None,
            },
            delimiter: match self.delimiter.as_deref() {
                Some(d) => parse_delimiter(d)?,
                None => Delimiter::Auto,
            },
            decimal_comma: self.decimal_comma,
            drop: self
                .drop_cols
                .iter()
                .map(|c| ColumnRef::Given(c.clone()))
                .collect(),
            option_names: OptionNames {
                delimiter: "--delimiter",
                drop: "--drop-cols",
                label: "--label-col",
                header_present: "--header yes",
                decimal_comma: "--decimal-comma",
            },
        };
        let table = tabular::parse_csv(Path::new(origin), text, &opts)?;
        for w in &table.warnings {
            eprintln!("warning: {origin}: {w}");
        }
        let labels = match &table.label_cells {
            Some(cells) => Some(rule.apply(origin, cells, false)?),
            None => None,
        };
        Ok(CsvTable {
            x: table.x,
            labels,
            names: table.names,
        })
    }
}

/// The delimiter of `--delimiter`.
pub(super) fn parse_delimiter(s: &str) -> Result<Delimiter> {
    s.parse::<Delimiter>().map_err(|e| anyhow!("--{e}"))
}
