//! `--config`: a TOML file, or one of the configs shipped in `configs/` by name (`fmnist`,
//! `configs/fmnist.toml`) from any folder, since they are built into the binary. Its
//! `[baselines.<method>]` tables are read into typed settings ([`dasvdd_baselines::Config`]), so
//! an unknown table or key is an error naming the file and the key.

use std::path::Path;

use anyhow::{anyhow, bail, Result};
use dasvdd_baselines::Config;

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

/// Reads `--config`: the file at `path` (`-`: standard input), else a shipped config of that
/// name.
pub fn load(path: &Path) -> Result<Config> {
    let (origin, text) = if path.as_os_str() == "-" {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
            .map_err(|e| anyhow!("--config -: cannot read standard input: {e}"))?;
        ("<stdin>".to_string(), text)
    } else if path.is_file() {
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
pub fn parse(origin: &str, text: &str) -> Result<Config> {
    Ok(Config::parse(origin, text)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use dasvdd_baselines::Method;

    #[test]
    fn every_shipped_config_parses_and_sizes_a_network() {
        for (name, text) in SHIPPED {
            let c = parse(name, text).unwrap_or_else(|e| panic!("{name}: {e}"));
            // The files hold what differs from the presets: the paper's baseline settings are
            // the defaults, so no table restates them; the image datasets' only table puts Deep
            // SVDD on Ruff's LeNet with his schedule.
            let images = ["mnist", "fmnist", "cifar10"].contains(&name);
            let tables: Vec<Method> = c.baselines.iter().map(|b| b.method()).collect();
            let expected = if images {
                vec![Method::DeepSvdd]
            } else {
                vec![]
            };
            assert_eq!(tables, expected, "{name}");
            if images {
                let cols = if name == "cifar10" { 3072 } else { 784 };
                match c.method_params(Method::DeepSvdd, cols, None, None) {
                    Ok(dasvdd_baselines::MethodParams::DeepSvdd(p)) => {
                        assert_eq!(
                            p.network,
                            dasvdd_baselines::DeepSvddNetwork::Lenet,
                            "{name}"
                        );
                        assert_eq!(p.lr_milestones, vec![50], "{name}");
                    }
                    other => panic!("{name}: {other:?}"),
                }
            }
            let cols = c
                .file
                .preset()
                .unwrap()
                .map_or(40, |p| p.autoencoder().input_dim);
            let params = c.method_params(Method::Dasvdd, cols, None, None);
            assert!(params.is_ok(), "{name}: {params:?}");
        }
        let c = load(Path::new("configs/fmnist.toml")).unwrap();
        assert!(c.file.preset().unwrap().is_some());
        assert!(load(Path::new("/elsewhere/fmnist.toml")).is_err());
    }
}
