//! The hyperparameters of `dasvdd train`: which flags each method takes (any other is an error
//! that lists them), and the method's parameters from its defaults, `--config` and the flags,
//! in that order, so that every setting reaches the method.

use anyhow::{bail, Result};
use dasvdd_baselines::{default_params, BaselineSettings, Method, MethodParams};
use dasvdd_core::{AutoencoderConfig, DasvddConfig, GammaChoice, Preset};

use crate::configs::LoadedConfig;

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
    match method {
        Method::Dasvdd => &["--preset", "--epochs", "--gamma", "--seed", "--device"],
        Method::Ae | Method::DeepSvdd => &["--preset", "--epochs", "--seed", "--device"],
        Method::IsolationForest => &["--seed"],
        Method::Ocsvm | Method::Kde => &[],
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

/// The DASVDD config from `--config`, `--preset` or the data's width, before flags.
fn dasvdd_config(
    config: Option<&LoadedConfig>,
    preset: Option<&str>,
    cols: usize,
) -> Result<Option<DasvddConfig>> {
    Ok(match (config, preset) {
        (Some(c), preset) => {
            let mut file = c.file.clone();
            if let Some(p) = preset {
                file.model.preset = Some(p.to_string());
            }
            Some(
                file.resolve(Some(cols))
                    .map_err(|e| anyhow::anyhow!("{}: {e}", c.origin))?,
            )
        }
        (None, Some(p)) => Some(DasvddConfig::from_preset(Preset::parse(p)?)),
        (None, None) => None,
    })
}

/// The parameters of `method` for data of `cols` features: the method's defaults (the
/// paper's), then `--config` (`[model]` for the networks, `[train]` for DASVDD and the AE,
/// which the paper trains like DASVDD's autoencoder, `[baselines.<method>]`), then the flags.
pub fn method_params(
    method: Method,
    cols: usize,
    config: Option<&LoadedConfig>,
    flags: &MethodFlags,
) -> Result<MethodParams> {
    let dasvdd = dasvdd_config(config, flags.preset.as_deref(), cols)?;
    if let Some(d) = &dasvdd {
        if d.model.input_dim != cols && method.is_neural() {
            bail!(
                "the data has {cols} columns, but the network of {} expects {} input features",
                config.map(|c| c.origin.clone()).unwrap_or_else(|| format!(
                    "--preset {}",
                    flags.preset.as_deref().unwrap_or("")
                )),
                d.model.input_dim
            );
        }
    }
    let network: Option<&AutoencoderConfig> = dasvdd
        .as_ref()
        .filter(|_| method.is_neural())
        .map(|d| &d.model);
    let mut params = default_params(method, cols, network, None, flags.seed.unwrap_or(0))?;
    match (&mut params, &dasvdd) {
        (MethodParams::Dasvdd(p), Some(d)) => *p = d.clone(),
        (MethodParams::Ae(p), Some(d)) if config.is_some() => {
            p.epochs = d.train.epochs;
            p.batch_size = d.train.batch_size;
            p.lr = d.train.lr;
            p.weight_decay = d.train.weight_decay;
        }
        _ => {}
    }
    if let Some(table) = config.and_then(|c| c.baseline(method)) {
        table
            .apply(&mut params)
            .map_err(|e| anyhow::anyhow!("{}: {e}", config.map(|c| &*c.origin).unwrap_or("")))?;
    }
    // The flags last: they override the file.
    match &mut params {
        MethodParams::Dasvdd(p) => {
            if let Some(e) = flags.epochs {
                p.train.epochs = e;
            }
            if let Some(g) = flags.gamma {
                p.train.gamma = GammaChoice::Fixed(g);
            }
            if let Some(s) = flags.seed {
                p.train.seed = s;
            }
            p.validate()?;
        }
        MethodParams::Ae(p) => {
            if let Some(e) = flags.epochs {
                p.epochs = e;
            }
            p.seed = flags.seed.unwrap_or(p.seed);
        }
        MethodParams::DeepSvdd(p) => {
            if let Some(e) = flags.epochs {
                p.epochs = e;
                if p.pretrain_epochs > 0 {
                    p.pretrain_epochs = e;
                }
            }
            p.seed = flags.seed.unwrap_or(p.seed);
        }
        MethodParams::IsolationForest(p) => p.seed = flags.seed.unwrap_or(p.seed),
        MethodParams::Ocsvm(_) | MethodParams::Kde(_) => {}
    }
    if flags.epochs == Some(0) {
        bail!("--epochs must be at least 1");
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
