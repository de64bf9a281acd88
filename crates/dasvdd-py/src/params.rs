//! The hyperparameters of `fit` from the Python constructors' keyword arguments, resolved as
//! the command line resolves them (the config file for DASVDD, the registry for the
//! baselines), and the `scale` argument.

use dasvdd_baselines::{default_params, Method, MethodParams};
use dasvdd_core::ConfigFile;
use dasvdd_data::{DataError, Preprocessing};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use serde_json::{Map, Value};

use crate::{core_err, value_err};

/// The network keys of the Python constructors, resolved like the `[model]` section of a config.
const NETWORK_KEYS: [&str; 4] = ["preset", "hidden", "latent", "output_activation"];

/// `none`, `zscore`, `minmax`, `gcn-l2` or `gcn-l1-minmax`, as `dasvdd train --scale`.
pub(crate) fn parse_scale(s: &str) -> PyResult<Preprocessing> {
    s.parse().map_err(|e: DataError| value_err(e.to_string()))
}

/// Drops null entries: `None` in Python means "the config's default".
fn non_null(map: &Map<String, Value>) -> Map<String, Value> {
    map.iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// A config file from the network and training keys, as `dasvdd train --config` reads it.
fn config_file(model: Map<String, Value>, train: Map<String, Value>) -> PyResult<ConfigFile> {
    let mut doc = Map::new();
    doc.insert("model".into(), Value::Object(model));
    doc.insert("train".into(), Value::Object(train));
    serde_json::from_value(Value::Object(doc)).map_err(|e| value_err(e.to_string()))
}

/// The hyperparameters `fit` uses for `method` on `cols` features, from the constructor's
/// keyword arguments `given` (JSON object; `seed` for `random_state`, null for defaults).
pub(crate) fn resolve_params(method: Method, given: &str, cols: usize) -> PyResult<MethodParams> {
    let given: Value = serde_json::from_str(given)
        .map_err(|e| value_err(format!("hyperparameters are not valid JSON: {e}")))?;
    let Value::Object(given) = given else {
        return Err(value_err("hyperparameters must be a JSON object"));
    };
    let mut given = non_null(&given);
    let seed = match given.remove("seed") {
        None => 0,
        Some(v) => v.as_u64().ok_or_else(|| {
            value_err(format!(
                "random_state must be a non-negative integer, got {v}"
            ))
        })?,
    };
    let mut network = Map::new();
    for k in NETWORK_KEYS {
        if let Some(v) = given.remove(k) {
            network.insert(k.into(), v);
        }
    }
    if method == Method::Dasvdd {
        given.insert("seed".into(), seed.into());
        if network.is_empty() {
            // As `dasvdd train` without a config: the network sized from the data and, when that
            // is one of the paper's presets, the preset's training setting.
            let sized = dasvdd_core::AutoencoderConfig::for_input(cols);
            if let Some(p) = ["mnist", "cifar10", "speech", "pima"]
                .into_iter()
                .find(|p| {
                    dasvdd_core::Preset::parse(p).ok().map(|p| p.autoencoder())
                        == Some(sized.clone())
                })
            {
                network.insert("preset".into(), p.into());
            }
        }
        let cfg = config_file(network, given)?
            .resolve(Some(cols))
            .map_err(core_err)?;
        if cfg.model.input_dim != cols {
            return Err(value_err(format!(
                "X has {cols} features but the network (preset) expects {}",
                cfg.model.input_dim
            )));
        }
        return Ok(MethodParams::Dasvdd(cfg));
    }
    let net = if network.is_empty() {
        None
    } else {
        let cfg = config_file(network, Map::new())?
            .resolve(Some(cols))
            .map_err(core_err)?;
        Some(cfg.model)
    };
    let defaults = default_params(method, cols, net.as_ref(), None, seed).map_err(core_err)?;
    let mut json = serde_json::to_value(&defaults).map_err(|e| value_err(e.to_string()))?;
    let Some(params) = json.get_mut("params").and_then(Value::as_object_mut) else {
        return Err(PyRuntimeError::new_err(
            "registry parameters are not an object",
        ));
    };
    match method {
        Method::Ocsvm => {
            if let Some(g) = given.remove("gamma") {
                let g = if g.is_number() {
                    serde_json::json!({ "value": g })
                } else {
                    g
                };
                params.insert("gamma".into(), g);
            }
        }
        Method::Kde => {
            let bandwidth = given.remove("bandwidth");
            let grid = given.remove("bandwidth_grid");
            let folds = given.remove("folds");
            let b = match bandwidth {
                Some(h) if h.is_number() => {
                    if grid.is_some() {
                        return Err(value_err(
                            "bandwidth_grid is only used with bandwidth=\"cv\"",
                        ));
                    }
                    serde_json::json!({ "fixed": h })
                }
                None => serde_json::json!("cv"),
                Some(Value::String(s)) if s == "cv" => Value::String(s),
                Some(other) => {
                    return Err(value_err(format!(
                        "bandwidth must be \"cv\" or a positive number, got {other}"
                    )))
                }
            };
            if b == Value::String("cv".into()) {
                let cv = params
                    .get_mut("bandwidth")
                    .and_then(|b| b.get_mut("cross_validated"))
                    .and_then(Value::as_object_mut)
                    .ok_or_else(|| {
                        PyRuntimeError::new_err("registry KDE is not cross-validated")
                    })?;
                if let Some(g) = grid {
                    cv.insert("grid".into(), g);
                }
                if let Some(f) = folds {
                    cv.insert("folds".into(), f);
                }
            } else {
                params.insert("bandwidth".into(), b);
            }
        }
        _ => {}
    }
    for (k, v) in given {
        if !params.contains_key(&k) || k == "model" {
            return Err(value_err(format!(
                "{} has no hyperparameter `{k}`",
                method.name()
            )));
        }
        params.insert(k, v);
    }
    serde_json::from_value(json).map_err(|e| value_err(format!("{}: {e}", method.name())))
}
