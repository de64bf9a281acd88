//! The method registry: the one place that knows every method. A method is its own module
//! (params, fitted model, config table) plus its entry here:
//! - [`Method`] and its row of [`METHODS`] ([`MethodInfo`]: name, aliases, report column,
//!   neural or not, seeded or not, config-table keys), which every tool reads for names,
//!   flags and columns;
//! - [`params`]: [`MethodParams`], [`default_params`] (the paper's setting for an input width
//!   and network) and [`load_detector`] (a model file's `method` metadata to its loader);
//! - [`settings`]: the typed `[baselines.<method>]` table of a config file and how it applies.

use std::fmt;
use std::str::FromStr;

use dasvdd_core::{CoreError, Result};
use serde::{Deserialize, Serialize};

pub mod params;
pub mod settings;

pub use params::{
    default_detector_params, default_params, load_detector, read_method, MethodParams,
};

/// An anomaly detection method of the paper's comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// DASVDD, the paper's method.
    Dasvdd,
    /// One-class SVM with an RBF kernel.
    Ocsvm,
    /// Gaussian kernel density estimation.
    Kde,
    /// Isolation Forest.
    #[serde(rename = "iforest")]
    IsolationForest,
    /// Autoencoder, scored by reconstruction error.
    Ae,
    /// One-class Deep SVDD.
    DeepSvdd,
}

/// Everything the tools know about a method besides its parameter and model types: the one
/// row of the registry that the command line, the benchmark, the config files and the Python
/// package read for names, aliases, report columns and which generic settings apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MethodInfo {
    /// The method this row describes.
    pub method: Method,
    /// The name on the command line, in config tables, model files and result files.
    pub name: &'static str,
    /// Other spellings accepted on input (compared ignoring case, with `-` read as `_`).
    pub aliases: &'static [&'static str],
    /// The column of the paper's Table 2.
    pub paper_column: &'static str,
    /// Trains a network for a number of epochs (takes `epochs`, a network and a device).
    pub neural: bool,
    /// Takes a seed (weights, centre, shuffling or trees); the others are deterministic.
    pub seeded: bool,
    /// The keys of its `[baselines.<name>]` config table (`None`: DASVDD, whose settings are
    /// the config's `[model]` and `[train]`).
    pub settings_keys: Option<&'static [&'static str]>,
}

/// The registry: one row per method, in the column order of the paper's tables.
pub const METHODS: [MethodInfo; 6] = [
    MethodInfo {
        method: Method::Ocsvm,
        name: crate::ocsvm::METHOD,
        aliases: &["oc_svm"],
        paper_column: "OCSVM",
        neural: false,
        seeded: false,
        settings_keys: Some(&["nu", "gamma", "tol", "shrinking", "cache_mb"]),
    },
    MethodInfo {
        method: Method::Kde,
        name: crate::kde::METHOD,
        aliases: &[],
        paper_column: "KDE",
        neural: false,
        seeded: false,
        settings_keys: Some(&[
            "bandwidth",
            "cv_folds",
            "grid_log10_min",
            "grid_log10_max",
            "grid_points",
        ]),
    },
    MethodInfo {
        method: Method::IsolationForest,
        name: crate::iforest::METHOD,
        aliases: &["if", "isolation_forest"],
        paper_column: "IF",
        neural: false,
        seeded: true,
        settings_keys: Some(&["n_trees", "subsample"]),
    },
    MethodInfo {
        method: Method::Ae,
        name: crate::ae::METHOD,
        aliases: &["autoencoder"],
        paper_column: "AE",
        neural: true,
        seeded: true,
        settings_keys: Some(&["epochs", "batch_size", "lr", "weight_decay"]),
    },
    MethodInfo {
        method: Method::DeepSvdd,
        name: crate::deep_svdd::METHOD,
        aliases: &["dsvdd", "deepsvdd"],
        paper_column: "DSVDD",
        neural: true,
        seeded: true,
        settings_keys: Some(&[
            "network",
            "epochs",
            "batch_size",
            "lr",
            "weight_decay",
            "lr_milestones",
            "center_eps",
            "pretrain_epochs",
            "pretrain_lr",
            "pretrain_weight_decay",
        ]),
    },
    MethodInfo {
        method: Method::Dasvdd,
        name: "dasvdd",
        aliases: &[],
        paper_column: "DASVDD",
        neural: true,
        seeded: true,
        settings_keys: None,
    },
];

impl Method {
    /// Every method, in the column order of the paper's tables.
    pub const ALL: [Method; 6] = [
        Method::Ocsvm,
        Method::Kde,
        Method::IsolationForest,
        Method::Ae,
        Method::DeepSvdd,
        Method::Dasvdd,
    ];

    /// The method's row of the registry.
    pub fn info(self) -> &'static MethodInfo {
        METHODS
            .iter()
            .find(|i| i.method == self)
            .expect("every method has a row in METHODS (tested)")
    }

    /// The name used on the command line, in model files and in result files.
    pub fn name(self) -> &'static str {
        self.info().name
    }

    /// Whether the method trains a network for a number of epochs (and can use a GPU).
    pub fn is_neural(self) -> bool {
        self.info().neural
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Method {
    type Err = CoreError;

    /// Parses a method name or one of its aliases ([`MethodInfo::aliases`]), ignoring case and
    /// treating `-` as `_`: `dasvdd`, `ocsvm`, `kde`, `iforest` (or `if`, `isolation_forest`),
    /// `ae` (or `autoencoder`), `deep_svdd` (or `dsvdd`, `deepsvdd`).
    fn from_str(s: &str) -> Result<Self> {
        let wanted = s.trim().to_ascii_lowercase().replace('-', "_");
        METHODS
            .iter()
            .find(|i| i.name == wanted || i.aliases.contains(&wanted.as_str()))
            .map(|i| i.method)
            .ok_or_else(|| {
                CoreError::param(
                    "method",
                    format!(
                        "unknown method `{wanted}` (expected one of {})",
                        Method::ALL.map(Method::name).join(", ")
                    ),
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_method_has_one_row_and_its_names_parse_back() {
        for m in Method::ALL {
            assert_eq!(METHODS.iter().filter(|i| i.method == m).count(), 1, "{m}");
            let info = m.info();
            assert_eq!(info.name.parse::<Method>().unwrap(), m);
            for a in info.aliases {
                assert_eq!(a.parse::<Method>().unwrap(), m, "{a}");
                assert_eq!(
                    a.to_uppercase()
                        .replace('_', "-")
                        .parse::<Method>()
                        .unwrap(),
                    m
                );
            }
        }
        assert_eq!(
            METHODS.map(|i| i.method),
            Method::ALL,
            "the rows are in the paper's column order"
        );
        assert!("svm".parse::<Method>().is_err());
    }
}
