//! `--config`: a TOML file, or one of the configs shipped in `configs/` by name (`fmnist`,
//! `configs/fmnist.toml`) from any folder, since they are built into the binary. Its
//! `[baselines.<method>]` tables are read into typed settings, so an unknown table or key is an
//! error naming the file and the key.

use std::path::Path;

use anyhow::{anyhow, bail, Result};
use dasvdd_baselines::settings::{
    AeSettings, BaselineSettings, DeepSvddSettings, IforestSettings, KdeSettings, OcsvmSettings,
};
use dasvdd_baselines::Method;
use dasvdd_core::ConfigFile;

/// The configs of `configs/`, built in.
const SHIPPED: [(&str, &str); 7] = [
    ("mnist", include_str!("../../../configs/mnist.toml")),
    ("fmnist", include_str!("../../../configs/fmnist.toml")),
    ("cifar10", include_str!("../../../configs/cifar10.toml")),
    ("speech", include_str!("../../../configs/speech.toml")),
    ("pima", include_str!("../../../configs/pima.toml")),
    ("awid3", include_str!("../../../configs/awid3.toml")),
    ("mimii", include_str!("../../../configs/mimii.toml")),
];

/// A parsed config file and its typed baseline tables.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    /// The file, for messages.
    pub origin: String,
    pub file: ConfigFile,
    pub baselines: Vec<BaselineSettings>,
}

impl LoadedConfig {
    /// The table of `method`, if the file has one.
    pub fn baseline(&self, method: Method) -> Option<&BaselineSettings> {
        self.baselines.iter().find(|b| b.method() == method)
    }
}

/// Reads `--config`: the file at `path`, else a shipped config of that name.
pub fn load(path: &Path) -> Result<LoadedConfig> {
    let (origin, text) = if path.is_file() {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow!("--config {}: {e}", path.display()))?;
        (path.display().to_string(), text)
    } else {
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        let plain_name = path.parent().is_none_or(|p| {
            p.as_os_str().is_empty() || p == Path::new("configs") || p.ends_with("configs")
        });
        match SHIPPED.iter().find(|(n, _)| *n == stem) {
            Some((name, text)) if plain_name => {
                (format!("configs/{name}.toml (built in)"), text.to_string())
            }
            _ => bail!(
                "--config {}: no such file, and not a shipped config ({})",
                path.display(),
                SHIPPED.map(|(n, _)| n).join(", ")
            ),
        }
    };
    parse(&origin, &text)
}

/// Parses config text; `origin` names it in errors.
pub fn parse(origin: &str, text: &str) -> Result<LoadedConfig> {
    let file = ConfigFile::parse(text, origin).map_err(|e| match e {
        // TOML's message spans several lines (a caret under the key): keep the first line,
        // which names the file and place, and the last, which says what is wrong.
        dasvdd_core::CoreError::InvalidParameter { problem, .. } => {
            let lines: Vec<&str> = problem.lines().filter(|l| !l.trim().is_empty()).collect();
            match lines[..] {
                [first, .., last] => anyhow!("{first}: {}", last.trim()),
                _ => anyhow!("{problem}"),
            }
        }
        other => other.into(),
    })?;
    let mut baselines: Vec<BaselineSettings> = Vec::new();
    for (key, value) in file.baselines.iter().flatten() {
        let method: Method = key.parse().map_err(|_| {
            anyhow!(
                "{origin}: unknown table [baselines.{key}] (the baselines are ocsvm, kde, \
                 iforest, ae and deep_svdd)"
            )
        })?;
        let table = |e: toml::de::Error| {
            anyhow!(
                "{origin}: [baselines.{key}]: {}",
                e.to_string().trim_end().replace('\n', " ")
            )
        };
        let v = value.clone();
        let settings = match method {
            Method::Dasvdd => {
                bail!("{origin}: [baselines.{key}]: DASVDD's settings go in [model] and [train]")
            }
            Method::Ocsvm => BaselineSettings::Ocsvm(v.try_into::<OcsvmSettings>().map_err(table)?),
            Method::Kde => BaselineSettings::Kde(v.try_into::<KdeSettings>().map_err(table)?),
            Method::IsolationForest => {
                BaselineSettings::IsolationForest(v.try_into::<IforestSettings>().map_err(table)?)
            }
            Method::Ae => BaselineSettings::Ae(v.try_into::<AeSettings>().map_err(table)?),
            Method::DeepSvdd => {
                BaselineSettings::DeepSvdd(v.try_into::<DeepSvddSettings>().map_err(table)?)
            }
        };
        if baselines.iter().any(|b| b.method() == method) {
            bail!("{origin}: two tables for {method} ([baselines.{key}] and another spelling)");
        }
        baselines.push(settings);
    }
    Ok(LoadedConfig {
        origin: origin.to_string(),
        file,
        baselines,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_config_parses_with_typed_baselines() {
        for (name, text) in SHIPPED {
            let c = parse(name, text).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(c.baseline(Method::Ocsvm).is_some(), "{name}");
        }
        let c = load(Path::new("configs/fmnist.toml")).unwrap();
        assert!(c.file.preset().unwrap().is_some());
        assert!(load(Path::new("/elsewhere/fmnist.toml")).is_err());
    }

    #[test]
    fn unknown_tables_and_keys_name_the_file_and_key() {
        let e = parse("my.toml", "[baselines.ocsvm]\nnuu = 0.9\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("my.toml") && e.contains("nuu") && e.contains("ocsvm"),
            "{e}"
        );
        let e = parse("my.toml", "[baselines.svm]\nnu = 0.9\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("[baselines.svm]"), "{e}");
        let e = parse("my.toml", "[baselines.iforest]\nn_trees = \"many\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("n_trees") || e.contains("invalid type"), "{e}");
        // The alias of Deep SVDD's name is accepted.
        let c = parse("my.toml", "[baselines.deepsvdd]\nepochs = 3\n").unwrap();
        assert!(c.baseline(Method::DeepSvdd).is_some());
    }
}
