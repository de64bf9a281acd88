//! The one config source of every method: a TOML file of `configs/` (or the user's) read into
//! [`Config`], whose `[model]` and `[train]` are DASVDD's network and training (shared by the AE,
//! which the paper trains like DASVDD's autoencoder, and by Deep SVDD's encoder) and whose
//! `[baselines.<method>]` tables are typed [`BaselineSettings`]; its `[preprocessing]` table
//! names single methods' data preparation. [`Config::method_params`] turns it into any
//! method's parameters; the CLI and the benchmark both call it, so a file means the
//! same to both. An unknown table or key is an error naming the file and the key.

use dasvdd_core::config::Variant;
use dasvdd_core::{ConfigFile, CoreError, DasvddConfig, Result};

use crate::registry::{Method, MethodParams};
use crate::settings::BaselineSettings;

/// A parsed config file and its typed baseline tables.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Config {
    /// The file, for messages (empty for the built-in defaults).
    pub origin: String,
    /// The file's contents: `[model]`, `[train]` and the raw `[baselines]` tables.
    pub file: ConfigFile,
    /// The `[baselines.<method>]` tables, typed, at most one per method, in file order.
    pub baselines: Vec<BaselineSettings>,
}

fn invalid(origin: &str, problem: String) -> CoreError {
    CoreError::Config {
        origin: origin.to_string(),
        problem,
    }
}

impl Config {
    /// Parses TOML text; `origin` names it in errors.
    pub fn parse(origin: &str, text: &str) -> Result<Self> {
        let file: ConfigFile = toml::from_str(text).map_err(|e| {
            // TOML's message spans several lines (a caret under the key): keep the first line,
            // which names the place, and the last, which says what is wrong.
            let text = e.to_string();
            let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
            invalid(
                origin,
                match lines[..] {
                    [first, .., last] => format!("{first}: {}", last.trim()),
                    _ => text.trim().to_string(),
                },
            )
        })?;
        let mut baselines: Vec<BaselineSettings> = Vec::new();
        for (key, value) in file.baselines.iter().flatten() {
            let method: Method = key.parse().map_err(|_| {
                invalid(
                    origin,
                    format!(
                        "unknown table [baselines.{key}] (the baselines are ocsvm, kde, \
                         iforest, ae and deep_svdd)"
                    ),
                )
            })?;
            let table = |e: toml::de::Error| {
                invalid(
                    origin,
                    format!(
                        "[baselines.{key}]: {}",
                        e.to_string().trim_end().replace('\n', " ")
                    ),
                )
            };
            let settings = BaselineSettings::parse(method, value.clone())
                .map_err(table)?
                .ok_or_else(|| {
                    invalid(
                        origin,
                        format!("[baselines.{key}]: DASVDD's settings go in [model] and [train]"),
                    )
                })?;
            if baselines.iter().any(|b| b.method() == method) {
                return Err(invalid(
                    origin,
                    format!("two tables for {method} ([baselines.{key}] and another spelling)"),
                ));
            }
            baselines.push(settings);
        }
        for key in file.preprocessing.keys() {
            match key.parse::<Method>() {
                Ok(m) if m.name() == key => {}
                _ => {
                    return Err(invalid(
                        origin,
                        format!(
                            "[preprocessing]: `{key}` is not a method's name ({})",
                            Method::ALL.map(Method::name).join(", ")
                        ),
                    ))
                }
            }
        }
        Ok(Config {
            origin: origin.to_string(),
            file,
            baselines,
        })
    }

    /// The file's `[preprocessing]` of `method` (a `dasvdd train --scale` name, which the
    /// caller parses), if it sets one.
    pub fn preprocessing(&self, method: Method) -> Option<&str> {
        self.file
            .preprocessing
            .get(method.name())
            .map(String::as_str)
    }

    /// Reads and parses a TOML file.
    pub fn read(path: &std::path::Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| CoreError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&path.display().to_string(), &text)
    }

    /// The table of `method`, if the file has one.
    pub fn baseline(&self, method: Method) -> Option<&BaselineSettings> {
        self.baselines.iter().find(|b| b.method() == method)
    }

    /// The DASVDD config of the file for data of `cols` features, with `variant`'s settings
    /// where given (else the file's `[train] variant`, else the default one).
    pub fn dasvdd_config(&self, cols: usize, variant: Option<Variant>) -> Result<DasvddConfig> {
        let mut file = self.file.clone();
        if let Some(v) = variant {
            file.train.variant = Some(v.name().to_string());
        }
        let with_origin = |e: CoreError| {
            if self.origin.is_empty() {
                e
            } else {
                invalid(&self.origin, e.to_string())
            }
        };
        let d = file.resolve(Some(cols)).map_err(with_origin)?;
        if d.model.input_dim != cols {
            return Err(with_origin(CoreError::param(
                "input_dim",
                format!(
                    "the data has {cols} columns, but the network expects {} input features",
                    d.model.input_dim
                ),
            )));
        }
        Ok(d)
    }

    /// The parameters of `method` for data of `cols` features: the method's defaults (the
    /// paper's), then the file: `[model]` for the networks, `[train]` for DASVDD and the AE
    /// (epochs, batch size, learning rate, weight decay), then `[baselines.<method>]`.
    /// `epochs` then replaces the epochs of the neural methods (for Deep SVDD also its
    /// pre-training, when that is on), and `seed` their seed and Isolation Forest's (`None`:
    /// the file's `[train] seed`, else 0).
    pub fn method_params(
        &self,
        method: Method,
        cols: usize,
        epochs: Option<usize>,
        seed: Option<u64>,
    ) -> Result<MethodParams> {
        if epochs == Some(0) {
            return Err(CoreError::param("epochs", "must be at least 1"));
        }
        if cols == 0 {
            return Err(CoreError::param("input_dim", "must be positive"));
        }
        // Only the networks must fit the data's width; the classical methods read no more
        // than the seed from `[train]`.
        let d = if method.is_neural() {
            self.dasvdd_config(cols, None)?
        } else {
            self.file
                .resolve(Some(cols))
                .map_err(|e| invalid(&self.origin, e.to_string()))?
        };
        let seed = seed.unwrap_or(d.train.seed);
        // The registry's paper setting on the file's network and training: DASVDD takes both,
        // the AE the network and how DASVDD trains it, Deep SVDD the network as its encoder.
        let mut params = method.paper_default(d.model, &d.train, seed);
        if let Some(table) = self.baseline(method) {
            table
                .apply(&mut params)
                .map_err(|e| invalid(&self.origin, e.to_string()))?;
        }
        if let Some(e) = epochs {
            params.set_epochs(e);
        }
        Ok(params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::default_params;

    #[test]
    fn unknown_tables_and_keys_name_the_file_and_key() {
        let e = Config::parse("my.toml", "[baselines.ocsvm]\nnuu = 0.9\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("my.toml") && e.contains("nuu") && e.contains("ocsvm"),
            "{e}"
        );
        let e = Config::parse("my.toml", "[baselines.svm]\nnu = 0.9\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("my.toml") && e.contains("[baselines.svm]"),
            "{e}"
        );
        let e = Config::parse("my.toml", "[baselines.iforest]\nn_trees = \"many\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("n_trees") || e.contains("invalid type"), "{e}");
        let e = Config::parse("my.toml", "[train]\nepochz = 3\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("my.toml") && e.contains("epochz"), "{e}");
        // The alias of Deep SVDD's name is accepted.
        let c = Config::parse("my.toml", "[baselines.deepsvdd]\nepochs = 3\n").unwrap();
        assert!(c.baseline(Method::DeepSvdd).is_some());
    }

    #[test]
    fn preprocessing_is_per_method_by_its_name() {
        let c = Config::parse(
            "p.toml",
            "[preprocessing]\ndeep_svdd = \"gcn-l1-minmax\"\nae = \"minmax\"\n",
        )
        .unwrap();
        assert_eq!(c.preprocessing(Method::DeepSvdd), Some("gcn-l1-minmax"));
        assert_eq!(c.preprocessing(Method::Ae), Some("minmax"));
        assert_eq!(c.preprocessing(Method::Dasvdd), None);
        // Only a method's own name: an alias or an unknown name is an error naming the file.
        for key in ["dsvdd", "svdd"] {
            let e = Config::parse("p.toml", &format!("[preprocessing]\n{key} = \"none\"\n"))
                .unwrap_err()
                .to_string();
            assert!(e.contains("p.toml") && e.contains(key), "{e}");
        }
    }

    #[test]
    fn the_registry_keys_are_exactly_the_tables_keys() {
        for info in crate::registry::METHODS {
            let Some(keys) = info.settings_keys else {
                continue;
            };
            for key in keys {
                // A value of the wrong type at worst: never an unknown key.
                let text = format!("[baselines.{}]\n{key} = 1\n", info.name);
                if let Err(e) = Config::parse("t.toml", &text) {
                    assert!(!e.to_string().contains("unknown field"), "{e}");
                }
            }
            let e = Config::parse("t.toml", &format!("[baselines.{}]\nzz = 1\n", info.name))
                .unwrap_err()
                .to_string();
            // serde lists the accepted keys (and their aliases): every key of the registry.
            for key in keys {
                assert!(e.contains(&format!("`{key}`")), "{key}: {e}");
            }
        }
    }

    #[test]
    fn one_file_gives_every_method_its_settings() {
        let c = Config::parse(
            "t.toml",
            "[model]\nhidden = [8]\nlatent = 3\n[train]\nepochs = 7\nbatch_size = 16\nlr = 0.01\n\
             [baselines.iforest]\nn_trees = 9\n[baselines.deep_svdd]\nepochs = 4\n",
        )
        .unwrap();
        let MethodParams::Dasvdd(d) = c.method_params(Method::Dasvdd, 5, None, Some(3)).unwrap()
        else {
            panic!()
        };
        assert_eq!((d.model.hidden.clone(), d.model.latent), (vec![8], 3));
        assert_eq!((d.train.epochs, d.train.seed), (7, 3));
        // The AE trains like DASVDD's autoencoder: same network, epochs, batch, lr.
        let MethodParams::Ae(a) = c.method_params(Method::Ae, 5, None, None).unwrap() else {
            panic!()
        };
        assert_eq!(a.model.as_ref(), Some(&d.model));
        assert_eq!((a.epochs, a.batch_size, a.lr), (7, 16, 0.01));
        let MethodParams::IsolationForest(f) = c
            .method_params(Method::IsolationForest, 5, None, Some(2))
            .unwrap()
        else {
            panic!()
        };
        assert_eq!((f.n_trees, f.seed), (9, 2));
        let MethodParams::DeepSvdd(s) = c.method_params(Method::DeepSvdd, 5, None, None).unwrap()
        else {
            panic!()
        };
        assert_eq!(s.epochs, 4);
        assert_eq!(s.model.as_ref(), Some(&d.model));
        // `epochs` overrides the file.
        let MethodParams::DeepSvdd(s) =
            c.method_params(Method::DeepSvdd, 5, Some(2), None).unwrap()
        else {
            panic!()
        };
        assert_eq!(s.epochs, 2);
        // A network for another width is an error naming the file.
        let e = Config::parse("w.toml", "[model]\ninput_dim = 4\n")
            .unwrap()
            .method_params(Method::Ae, 5, None, None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("w.toml") && e.contains("5 columns"), "{e}");
    }

    #[test]
    fn an_empty_config_is_the_registry_default() {
        let c = Config::default();
        for m in Method::ALL {
            assert_eq!(
                c.method_params(m, 784, None, Some(1)).unwrap(),
                default_params(m, 784, None, None, 1).unwrap(),
                "{m}"
            );
        }
    }
}
