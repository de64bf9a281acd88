//! The hyperparameters of `dasvdd train`: which flags each method takes (any other is an error
//! that lists them), and the method's parameters from its defaults, `--config` and the flags,
//! in that order, so that every setting reaches the method.

use anyhow::{bail, Result};
use dasvdd_baselines::{BaselineSettings, Config, Method, MethodParams};
use dasvdd_core::{GammaChoice, Preset};

/// The method settings given as flags (`None`: not given).
#[derive(Debug, Clone, Default)]
pub struct MethodFlags {
    pub preset: Option<String>,
    pub epochs: Option<usize>,
    pub gamma: Option<f64>,
    pub seed: Option<u64>,
    /// Only a device other than the CPU counts as given.
    pub device: Option<String>,
}

/// The flags `method` takes, besides those of every method (`--config`, `--scale`,
/// `--contamination`, and the input and output flags).
pub fn method_flags(method: Method) -> &'static [&'static str] {
    // From the registry's row: the networks take a preset, epochs, a seed and a device;
    // DASVDD also gamma; the other seeded methods only the seed.
    let info = method.info();
    match (info.neural, info.seeded) {
        _ if method == Method::Dasvdd => &["--preset", "--epochs", "--gamma", "--seed", "--device"],
        (true, _) => &["--preset", "--epochs", "--seed", "--device"],
        (false, true) => &["--seed"],
        (false, false) => &[],
    }
}

/// Errors on a flag that `method` does not take, naming those it takes and where its own
/// settings go.
pub fn check_flags(method: Method, flags: &MethodFlags) -> Result<()> {
    let given = [
        ("--preset", flags.preset.is_some()),
        ("--epochs", flags.epochs.is_some()),
        ("--gamma", flags.gamma.is_some()),
        ("--seed", flags.seed.is_some()),
        ("--device", flags.device.is_some()),
    ];
    let takes = method_flags(method);
    for (flag, is_given) in given {
        if !is_given || takes.contains(&flag) {
            continue;
        }
        let what = match flag {
            "--gamma" => " (DASVDD's weight of the SVDD term)",
            "--epochs" | "--preset" => " (it trains no network)",
            "--seed" => " (it is deterministic)",
            "--device" => " (it runs on the CPU)",
            _ => "",
        };
        let own = match BaselineSettings::keys(method) {
            Some(keys) => format!(
                "; its settings ({}) go in [baselines.{}] of --config",
                keys.join(", "),
                method
            ),
            None => String::new(),
        };
        let list = if takes.is_empty() {
            "no method flags".to_string()
        } else {
            takes.join(", ")
        };
        bail!("{flag} does not apply to {method}{what}: {method} takes {list}{own}");
    }
    Ok(())
}

/// The parameters of `method` for data of `cols` features: the method's defaults (the
/// paper's), then `--config` (`[model]` for the networks, `[train]` for DASVDD and the AE,
/// which the paper trains like DASVDD's autoencoder, `[baselines.<method>]`), then the flags,
/// in that order ([`Config::method_params`], which the benchmark also uses).
pub fn method_params(
    method: Method,
    cols: usize,
    config: Option<&Config>,
    flags: &MethodFlags,
) -> Result<MethodParams> {
    if flags.epochs == Some(0) {
        bail!("--epochs must be at least 1");
    }
    let mut config = config.cloned().unwrap_or_default();
    if let Some(p) = &flags.preset {
        Preset::parse(p)?;
        config.file.model.preset = Some(p.clone());
        if config.origin.is_empty() {
            config.origin = format!("--preset {p}");
        }
    }
    let mut params = config.method_params(method, cols, flags.epochs, flags.seed)?;
    if let MethodParams::Dasvdd(p) = &mut params {
        if let Some(g) = flags.gamma {
            p.train.gamma = GammaChoice::Fixed(g);
        }
        p.validate()?;
    }
    Ok(params)
}

/// The output activation of the network `params` trains, if it has one.
pub fn output_activation(params: &MethodParams) -> Option<dasvdd_core::Activation> {
    let model = match params {
        MethodParams::Dasvdd(p) => Some(&p.model),
        MethodParams::Ae(p) => p.model.as_ref(),
        _ => None,
    };
    model.map(|m| m.output_activation)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_a_method_does_not_take_are_errors_that_list_what_it_takes() {
        let gamma = MethodFlags {
            gamma: Some(100.0),
            ..Default::default()
        };
        let e = check_flags(Method::Ocsvm, &gamma).unwrap_err().to_string();
        assert!(
            e.contains("--gamma") && e.contains("[baselines.ocsvm]"),
            "{e}"
        );
        assert!(e.contains("nu, gamma"), "{e}");
        let epochs = MethodFlags {
            epochs: Some(3),
            ..Default::default()
        };
        for m in [Method::Ocsvm, Method::Kde, Method::IsolationForest] {
            assert!(check_flags(m, &epochs).is_err(), "{m}");
        }
        let e = check_flags(Method::IsolationForest, &epochs)
            .unwrap_err()
            .to_string();
        assert!(e.contains("iforest takes --seed"), "{e}");
        assert!(check_flags(Method::Ae, &epochs).is_ok());
        assert!(check_flags(Method::Dasvdd, &gamma).is_ok());
    }

    #[test]
    fn config_tables_and_flags_reach_the_params() {
        let c = crate::configs::parse(
            "c.toml",
            "[baselines.iforest]\nn_trees = 3\n[baselines.ae]\nlr = 0.5\n",
        )
        .unwrap();
        let p = method_params(
            Method::IsolationForest,
            5,
            Some(&c),
            &MethodFlags {
                seed: Some(9),
                ..Default::default()
            },
        )
        .unwrap();
        let MethodParams::IsolationForest(f) = p else {
            unreachable!()
        };
        assert_eq!((f.n_trees, f.seed), (3, 9));
        let p = method_params(
            Method::Ae,
            5,
            Some(&c),
            &MethodFlags {
                epochs: Some(2),
                ..Default::default()
            },
        )
        .unwrap();
        let MethodParams::Ae(a) = p else {
            unreachable!()
        };
        assert_eq!((a.lr, a.epochs), (0.5, 2));
    }
}
