//! The method registry: the one place that knows every method. A method is its own module
//! (params with a documented `Default`, a fitted model, a `[baselines.<name>]` settings table
//! and an impl of [`RegisteredMethod`]) plus one line in the `registry!` list below, from which
//! this module generates:
//! - [`Method`] and [`METHODS`] (its [`MethodInfo`] rows: name, aliases, report column,
//!   neural or not, seeded or not, config-table keys), which every tool reads for names,
//!   flags and columns;
//! - [`MethodParams`] (any method's params) and the dispatch of [`params::default_params`] (the
//!   paper's setting for an input width and network) and [`params::load_detector`];
//! - [`settings::BaselineSettings`] (any method's typed config table) and how it applies.
//!
//! The entries of the paper's six methods are in `registry/entries.rs`.

use std::fmt;
use std::str::FromStr;

use candle_core::Device;
use dasvdd_core::checkpoint::Checkpoint;
use dasvdd_core::{
    AutoencoderConfig, CoreError, Detector, DetectorParams, Result, SampleView, TrainConfig,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

mod entries;
pub mod params;
pub mod settings;
mod stacked;

pub use params::{
    default_detector_params, default_params, load_detector, load_detector_from, method_of,
    read_method,
};
pub use stacked::fit_stacked;

/// What a method's params type provides to be registered.
pub trait RegisteredMethod:
    DetectorParams + Clone + PartialEq + fmt::Debug + Serialize + DeserializeOwned + 'static
{
    /// The method's row of the registry.
    const INFO: MethodInfo;
    /// Its `[baselines.<name>]` config table (every key optional, unknown keys refused).
    type Settings: Clone + PartialEq + fmt::Debug + Serialize + DeserializeOwned;

    /// The paper's setting for data the network `network` fits (validated, its input width the
    /// data's), where DASVDD trains that network with `train`; `seed` seeds what is random.
    fn paper_default(network: AutoencoderConfig, train: &TrainConfig, seed: u64) -> Self;

    /// Writes every key of the table that is set (values are range-checked by `fit`).
    fn apply(&mut self, settings: &Self::Settings) -> Result<()>;

    /// The epochs of a network's training (`None`: the method trains no network).
    fn epochs(&self) -> Option<usize> {
        None
    }

    /// Sets the epochs of a network's training (ignored by the methods without one).
    fn set_epochs(&mut self, epochs: usize) {
        let _ = epochs;
    }

    /// The fewest training samples the params can be fitted on (one sample has no spread to
    /// learn).
    fn min_training_rows(&self) -> usize {
        2
    }

    /// Loads a model file that the fitted model's `save` wrote (read whole, its format
    /// checked), onto `device` for networks.
    fn load_checkpoint(ck: Checkpoint, device: &Device) -> Result<Box<dyn Detector>>;
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

/// Generates the registry from one line per method, `Variant("name") => ParamsType`, in the
/// column order of the paper's tables (the order of [`Method::ALL`] and [`METHODS`]).
macro_rules! registry {
    ( $( $(#[$doc:meta])* $variant:ident($name:literal) => $params:ty, )* ) => {
        /// An anomaly detection method of the paper's comparison.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum Method {
            $( $(#[$doc])* #[serde(rename = $name)] $variant, )*
        }

        /// Hyperparameters of any method, so that callers can keep, print or serialise them and
        /// still fit through the shared [`DetectorParams`] interface.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "method", content = "params")]
        pub enum MethodParams {
            $( $(#[$doc])* #[serde(rename = $name)] $variant($params), )*
        }

        /// The registry: one row per method, in the column order of the paper's tables.
        pub const METHODS: [MethodInfo; Method::ALL.len()] =
            [$( <$params as RegisteredMethod>::INFO ),*];

        impl Method {
            /// Every method, in the column order of the paper's tables.
            pub const ALL: [Method; [$(stringify!($variant)),*].len()] = [$(Method::$variant),*];

            /// The method's row of the registry.
            pub fn info(self) -> &'static MethodInfo {
                &METHODS[self as usize]
            }

            /// The paper's setting of this method (see [`RegisteredMethod::paper_default`]).
            pub(crate) fn paper_default(
                self,
                network: AutoencoderConfig,
                train: &TrainConfig,
                seed: u64,
            ) -> MethodParams {
                match self {
                    $( Method::$variant => MethodParams::$variant(
                        <$params as RegisteredMethod>::paper_default(network, train, seed),
                    ), )*
                }
            }

            /// Loads a model file of this method, already read.
            fn load_checkpoint(self, ck: Checkpoint, device: &Device) -> Result<Box<dyn Detector>> {
                match self {
                    $( Method::$variant => <$params as RegisteredMethod>::load_checkpoint(ck, device), )*
                }
            }

            /// Reads this method's `[baselines.<name>]` table (`None` where it has none).
            fn parse_settings(
                self,
                table: toml::Value,
            ) -> std::result::Result<Option<BaselineSettings>, toml::de::Error> {
                if self.info().settings_keys.is_none() {
                    return Ok(None);
                }
                Ok(Some(match self {
                    $( Method::$variant => BaselineSettings::$variant(table.try_into()?), )*
                }))
            }
        }

        impl MethodParams {
            /// The method these parameters belong to.
            pub fn method(&self) -> Method {
                match self {
                    $( MethodParams::$variant(_) => Method::$variant, )*
                }
            }

            /// The epochs of a network's training (`None` for the classical methods).
            pub fn epochs(&self) -> Option<usize> {
                match self {
                    $( MethodParams::$variant(p) => p.epochs(), )*
                }
            }

            /// Sets the epochs of a network's training (ignored by the classical methods; for
            /// Deep SVDD both phases).
            pub fn set_epochs(&mut self, epochs: usize) {
                match self {
                    $( MethodParams::$variant(p) => p.set_epochs(epochs), )*
                }
            }

            /// The fewest training samples these parameters can be fitted on: 2 for every
            /// method (one sample has no spread to learn, and DASVDD needs one to train the
            /// network and one the centre), and for KDE with a cross-validated bandwidth one per
            /// fold.
            pub fn min_training_rows(&self) -> usize {
                match self {
                    $( MethodParams::$variant(p) => p.min_training_rows(), )*
                }
            }

            /// The parameters as a boxed [`DetectorParams`].
            pub fn into_boxed(self) -> Box<dyn DetectorParams> {
                match self {
                    $( MethodParams::$variant(p) => Box::new(p), )*
                }
            }

            /// Writes the keys of `settings` that are set; an error when the table is another
            /// method's.
            fn apply(&mut self, settings: &BaselineSettings) -> Result<()> {
                match (self, settings) {
                    $( (MethodParams::$variant(p), BaselineSettings::$variant(s)) => p.apply(s), )*
                    (p, s) => Err(CoreError::param(
                        "baselines",
                        format!("settings of {} cannot apply to {}", s.method(), p.method()),
                    )),
                }
            }
        }

        impl DetectorParams for MethodParams {
            fn fit_detector(&self, x: SampleView<'_>, device: &Device) -> Result<Box<dyn Detector>> {
                match self {
                    $( MethodParams::$variant(p) => p.fit_detector(x, device), )*
                }
            }

            fn fit_observed(
                &self,
                x: SampleView<'_>,
                device: &Device,
                observer: &mut dyn FnMut(&dasvdd_core::EpochProgress) -> std::ops::ControlFlow<()>,
            ) -> Result<Box<dyn Detector>> {
                match self {
                    $( MethodParams::$variant(p) => p.fit_observed(x, device, observer), )*
                }
            }

            fn fit_observed_polled(
                &self,
                x: SampleView<'_>,
                device: &Device,
                observer: &mut dyn FnMut(&dasvdd_core::EpochProgress) -> std::ops::ControlFlow<()>,
                keep_going: &mut dyn FnMut() -> std::ops::ControlFlow<()>,
            ) -> Result<Box<dyn Detector>> {
                match self {
                    $( MethodParams::$variant(p) => {
                        p.fit_observed_polled(x, device, observer, keep_going)
                    } )*
                }
            }
        }

        /// The settings table of one method, typed (`[baselines.<name>]` of a config file).
        #[derive(Debug, Clone, PartialEq, Serialize)]
        pub enum BaselineSettings {
            $( $(#[$doc])* $variant(<$params as RegisteredMethod>::Settings), )*
        }

        impl BaselineSettings {
            /// The method the table belongs to.
            pub fn method(&self) -> Method {
                match self {
                    $( BaselineSettings::$variant(_) => Method::$variant, )*
                }
            }
        }
    };
}

registry! {
    /// One-class SVM with an RBF kernel.
    Ocsvm("ocsvm") => crate::ocsvm::OneClassSvmParams,
    /// Gaussian kernel density estimation.
    Kde("kde") => crate::kde::KdeParams,
    /// Isolation Forest.
    IsolationForest("iforest") => crate::iforest::IsolationForestParams,
    /// Autoencoder, scored by reconstruction error.
    Ae("ae") => crate::ae::AeParams,
    /// One-class Deep SVDD.
    DeepSvdd("deep_svdd") => crate::deep_svdd::DeepSvddParams,
    /// DASVDD, the paper's method.
    Dasvdd("dasvdd") => dasvdd_core::DasvddConfig,
}

impl Method {
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
                        "unknown method `{}` (expected one of {})",
                        s.trim(),
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
