//! The `[baselines.<method>]` tables of a config file, typed: every key is optional, an
//! unknown key is a deserialisation error, and [`BaselineSettings::apply`] writes the keys that
//! are set into a method's hyperparameters, so that no setting of a config file is ignored.
//!
//! The tables are deserialised by the caller (from TOML, JSON, ...), which knows the file name
//! to put into the error; this crate only defines their shape.

use serde::{Deserialize, Serialize};

use super::{Method, MethodParams};
use dasvdd_core::Result;

/// A number, or a word such as `"scale"` or `"cv"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum NumberOrWord {
    /// A number.
    Number(f64),
    /// A word.
    Word(String),
}

/// `[baselines.ocsvm]`: scikit-learn's `OneClassSVM` settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OcsvmSettings {
    /// [`OneClassSvmParams::nu`](crate::OneClassSvmParams::nu), in `(0, 1]`.
    pub nu: Option<f64>,
    /// `"scale"`, `"auto"` or a positive number.
    pub gamma: Option<NumberOrWord>,
    /// Stopping tolerance of the solver.
    pub tol: Option<f64>,
    /// Whether the solver shrinks the active set.
    pub shrinking: Option<bool>,
    /// Kernel cache, in MiB.
    pub cache_mb: Option<usize>,
}

/// `[baselines.kde]`: a fixed bandwidth, or the cross-validated grid.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KdeSettings {
    /// A positive number, or `"cv"` for the cross-validated choice (the default).
    pub bandwidth: Option<NumberOrWord>,
    /// Number of cross-validation folds (also spelled `folds`); default 5.
    #[serde(alias = "folds")]
    pub cv_folds: Option<usize>,
    /// Base-10 logarithm of the smallest bandwidth of the grid; default -1.
    pub grid_log10_min: Option<f64>,
    /// Base-10 logarithm of the largest bandwidth of the grid; default 1.
    pub grid_log10_max: Option<f64>,
    /// Number of grid values, evenly spaced in log scale; default 20.
    pub grid_points: Option<usize>,
}

/// `[baselines.iforest]`; the seed is `--seed`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IforestSettings {
    /// Number of trees.
    pub n_trees: Option<usize>,
    /// Samples drawn to grow each tree.
    pub subsample: Option<usize>,
}

/// `[baselines.ae]`; the network is the config's `[model]`, the seed `--seed`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AeSettings {
    /// Number of training epochs.
    pub epochs: Option<usize>,
    /// Batch size.
    pub batch_size: Option<usize>,
    /// Adam learning rate.
    pub lr: Option<f64>,
    /// Adam's L2 weight decay.
    pub weight_decay: Option<f64>,
}

/// `[baselines.deep_svdd]`; the network is the config's `[model]`, the seed `--seed`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeepSvddSettings {
    /// The network phi: `mlp` or `lenet`.
    pub network: Option<crate::deep_svdd::DeepSvddNetwork>,
    /// Epochs of the one-class objective.
    pub epochs: Option<usize>,
    /// Batch size of pre-training and the one-class objective.
    pub batch_size: Option<usize>,
    /// Adam learning rate of the one-class objective.
    pub lr: Option<f64>,
    /// Adam's L2 weight decay of the one-class objective.
    pub weight_decay: Option<f64>,
    /// Epochs after which the one-class learning rate drops tenfold.
    pub lr_milestones: Option<Vec<usize>>,
    /// Coordinates of the initial centre (mean output) closer to 0 than this are pushed to
    /// `+-eps`.
    pub center_eps: Option<f64>,
    /// Epochs of autoencoder pre-training (0: none).
    pub pretrain_epochs: Option<usize>,
    /// Adam learning rate of pre-training.
    pub pretrain_lr: Option<f64>,
    /// Adam's L2 weight decay of pre-training.
    pub pretrain_weight_decay: Option<f64>,
    /// Epochs after which the pre-training learning rate drops tenfold.
    pub pretrain_lr_milestones: Option<Vec<usize>>,
}

/// The table of a method without one (DASVDD: its settings are a config's `[model]` and
/// `[train]`); it accepts no key.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoSettings {}

pub use super::BaselineSettings;

impl BaselineSettings {
    /// Reads the `[baselines.<method>]` table of `method` (`None` for DASVDD, whose settings
    /// are the config's `[model]` and `[train]`); an unknown key or a wrong type is an error.
    pub fn parse(
        method: Method,
        table: toml::Value,
    ) -> std::result::Result<Option<Self>, toml::de::Error> {
        method.parse_settings(table)
    }

    /// The keys a table of `method` accepts (`None` for DASVDD, whose settings are the
    /// config's `[model]` and `[train]`): the registry's [`super::MethodInfo::settings_keys`].
    pub fn keys(method: Method) -> Option<&'static [&'static str]> {
        method.info().settings_keys
    }

    /// Writes every key that is set into `params`, which must be of the same method. Values
    /// are range-checked later, by the method's `fit`.
    pub fn apply(&self, params: &mut MethodParams) -> Result<()> {
        params.apply(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::default_params;
    use crate::{Bandwidth, Gamma};
    use dasvdd_core::CoreError;

    #[test]
    fn set_keys_reach_the_params_and_unset_keys_keep_the_defaults() {
        let mut p = default_params(Method::Ocsvm, 4, None, None, 0).unwrap();
        BaselineSettings::Ocsvm(OcsvmSettings {
            nu: Some(0.9),
            gamma: Some(NumberOrWord::Number(100.0)),
            ..Default::default()
        })
        .apply(&mut p)
        .unwrap();
        let MethodParams::Ocsvm(o) = &p else {
            unreachable!()
        };
        assert_eq!((o.nu, o.gamma, o.tol), (0.9, Gamma::Value(100.0), 1e-3));

        let mut p = default_params(Method::IsolationForest, 4, None, None, 7).unwrap();
        BaselineSettings::IsolationForest(IforestSettings {
            n_trees: Some(3),
            subsample: None,
        })
        .apply(&mut p)
        .unwrap();
        let MethodParams::IsolationForest(f) = &p else {
            unreachable!()
        };
        assert_eq!((f.n_trees, f.subsample, f.seed), (3, 256, 7));

        let mut p = default_params(Method::Kde, 4, None, None, 0).unwrap();
        BaselineSettings::Kde(KdeSettings {
            bandwidth: Some(NumberOrWord::Number(0.3)),
            ..Default::default()
        })
        .apply(&mut p)
        .unwrap();
        assert!(matches!(
            p,
            MethodParams::Kde(crate::KdeParams {
                bandwidth: Bandwidth::Fixed(h)
            }) if h == 0.3
        ));
    }

    #[test]
    fn words_that_are_not_choices_and_mismatched_methods_are_errors() {
        let mut p = default_params(Method::Ocsvm, 4, None, None, 0).unwrap();
        let bad = BaselineSettings::Ocsvm(OcsvmSettings {
            gamma: Some(NumberOrWord::Word("big".into())),
            ..Default::default()
        });
        assert!(matches!(
            bad.apply(&mut p),
            Err(CoreError::InvalidParameter { name: "gamma", .. })
        ));
        let trees = BaselineSettings::IsolationForest(IforestSettings::default());
        assert!(matches!(
            trees.apply(&mut p),
            Err(CoreError::InvalidParameter {
                name: "baselines",
                ..
            })
        ));
        let mut k = default_params(Method::Kde, 4, None, None, 0).unwrap();
        let both = BaselineSettings::Kde(KdeSettings {
            bandwidth: Some(NumberOrWord::Number(1.0)),
            cv_folds: Some(3),
            ..Default::default()
        });
        assert!(both.apply(&mut k).is_err());
    }

    #[test]
    fn the_listed_keys_are_the_fields() {
        // Each table's key list (shown to users) names exactly the fields serde accepts.
        fn fields<T: Serialize + Default>() -> Vec<String> {
            let v = serde_json::to_value(T::default()).unwrap();
            v.as_object().unwrap().keys().cloned().collect()
        }
        let sorted = |k: &[&str]| {
            let mut k: Vec<String> = k.iter().map(|s| s.to_string()).collect();
            k.sort();
            k
        };
        for (m, f) in [
            (Method::Ocsvm, fields::<OcsvmSettings>()),
            (Method::Kde, fields::<KdeSettings>()),
            (Method::IsolationForest, fields::<IforestSettings>()),
            (Method::Ae, fields::<AeSettings>()),
            (Method::DeepSvdd, fields::<DeepSvddSettings>()),
        ] {
            let mut f = f;
            f.sort();
            assert_eq!(sorted(BaselineSettings::keys(m).unwrap()), f, "{m}");
        }
    }
}
