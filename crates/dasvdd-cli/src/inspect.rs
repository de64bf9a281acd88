//! `dasvdd inspect`: what a model file holds, read from its metadata: the method, its
//! settings, gamma, a summary of the training history, the scaling and the threshold, and
//! whether its tensors matched the checksum stored with them. A file whose tensors do not is
//! still shown (its metadata says which run wrote it), and then reported as damaged: the
//! command fails, as `score` and `load` refuse such a file.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use dasvdd_core::checkpoint::{Checkpoint, Integrity};
use serde_json::Value;

use crate::train::{StoredThreshold, PREPROCESSING_KEY, THRESHOLD_KEY, TRAINING_DATA_KEY};

/// Arguments of `dasvdd inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// A model file written by `dasvdd train`, or - for standard input
    model: PathBuf,
    /// Print the metadata as one JSON object instead (JSON values decoded)
    #[arg(long)]
    json: bool,
}

/// `dasvdd inspect`.
pub fn run(args: &InspectArgs) -> Result<()> {
    let file = crate::model_file::ModelFile::open(&args.model)?;
    let shown = crate::input::shown(&args.model);
    let ck = Checkpoint::open_to_inspect(file.path()).map_err(|e| file.named(&shown, e))?;
    crate::output::print_stdout(&show(&ck, &shown, args.json)?)?;
    if ck.integrity() == Integrity::Damaged {
        // After the metadata, so that a damaged file still says where it came from.
        anyhow::bail!("{shown}: {}", dasvdd_core::checkpoint::DAMAGED);
    }
    Ok(())
}

/// The name of the fitted scalars ([`FITTED_SCALARS`]) in the JSON object; not a metadata key.
const FITTED_FIELD: &str = "fitted";

/// The name of the checksum's state in the JSON object: `verified`, `none` (no checksum stored)
/// or `mismatch`; not a metadata key.
const CHECKSUM_FIELD: &str = "checksum";

/// Values a fit chose that the model keeps as tensors rather than metadata: KDE's bandwidth
/// (cross-validated over its grid, unless given) and OCSVM's RBF gamma (computed from the data
/// for `scale` and `auto`). `(method, tensor, line label)`; the JSON object has them under
/// `fitted`, by tensor name.
const FITTED_SCALARS: [(&str, &str, &str); 2] = [
    ("kde", "bandwidth", "bandwidth      "),
    ("ocsvm", "gamma", "kernel gamma   "),
];

/// The fitted scalars of [`FITTED_SCALARS`] that the checkpoint holds: none from a file whose
/// tensors failed their checksum.
fn fitted_scalars(ck: &Checkpoint) -> Vec<(&'static str, &'static str, f64)> {
    let Ok(method) = ck.method() else {
        return Vec::new();
    };
    if ck.integrity() == Integrity::Damaged {
        return Vec::new();
    }
    FITTED_SCALARS
        .iter()
        .filter(|(m, _, _)| *m == method)
        .filter_map(|&(_, name, label)| Some((name, label, ck.f64_scalar(name).ok()?)))
        .collect()
}

/// What the checkpoint's metadata says, as lines of text (as one JSON object with `json`,
/// with the checksum's state under [`CHECKSUM_FIELD`]).
fn show(ck: &Checkpoint, shown: &str, json: bool) -> Result<String> {
    let mut out = String::new();
    let meta = ck.metadata();
    let decode = |key: &str| -> Option<Value> {
        meta.get(key)
            .map(|v| serde_json::from_str::<Value>(v).unwrap_or_else(|_| Value::String(v.clone())))
    };
    if json {
        let mut keys: Vec<&String> = meta.keys().collect();
        keys.sort();
        let mut obj: serde_json::Map<String, Value> = keys
            .into_iter()
            .map(|k| (k.clone(), decode(k).unwrap_or(Value::Null)))
            .collect();
        let state = match ck.integrity() {
            Integrity::Verified => "verified",
            Integrity::Unchecked => "none",
            Integrity::Damaged => "mismatch",
        };
        // Written by the command, not read from the file: a metadata key of the same name (no
        // writer of this project uses one) is shown under its own name with a prefix.
        let mut computed = |field: &str, value: Value| {
            if let Some(v) = obj.remove(field) {
                obj.insert(format!("metadata.{field}"), v);
            }
            obj.insert(field.into(), value);
        };
        computed(CHECKSUM_FIELD, Value::String(state.into()));
        let fitted = fitted_scalars(ck);
        if !fitted.is_empty() {
            let values = fitted
                .into_iter()
                .map(|(name, _, v)| (name.to_string(), Value::from(v)))
                .collect();
            computed(FITTED_FIELD, Value::Object(values));
        }
        writeln!(out, "{}", Value::Object(obj))?;
        return Ok(out);
    }
    let method = ck.method()?;
    writeln!(out, "file           {shown}")?;
    writeln!(out, "method         {method}")?;
    if let Some(v) = meta.get("crate_version") {
        writeln!(out, "written by     dasvdd-rs {v}")?;
    }
    match ck.integrity() {
        Integrity::Verified => writeln!(out, "checksum       verified (SHA-256 of the tensors)")?,
        Integrity::Unchecked => writeln!(
            out,
            "checksum       none stored (an older version or another tool wrote the file)"
        )?,
        Integrity::Damaged => writeln!(
            out,
            "checksum       MISMATCH: the tensors are not those written (score and load refuse \
             this file)"
        )?,
    }
    if let Some(t) = meta.get(TRAINING_DATA_KEY) {
        writeln!(out, "trained on     {t}")?;
    }
    for key in ["config", "params", "hyperparameters"] {
        if let Some(v) = decode(key) {
            writeln!(out, "settings       {v}")?;
        }
    }
    for (_, label, v) in fitted_scalars(ck) {
        writeln!(out, "{label}{v} (fitted)")?;
    }
    if let Some(g) = meta.get("gamma") {
        let how = match decode("gamma_estimate") {
            Some(Value::Null) | None => "given",
            Some(_) => "estimated by the heuristic of eq. (6)",
        };
        writeln!(out, "gamma          {g} ({how})")?;
    }
    if let Some(s) = meta.get("seed") {
        writeln!(out, "seed           {s}")?;
    }
    if let Some(Value::Array(h)) = decode("history") {
        let loss = |r: &Value| {
            r.get("total")
                .or_else(|| r.get("loss"))
                .and_then(Value::as_f64)
        };
        match (h.first().and_then(loss), h.last().and_then(loss)) {
            (Some(a), Some(b)) => writeln!(
                out,
                "training       {} epochs, loss {a:.6} (first) -> {b:.6} (last)",
                h.len()
            )?,
            _ => writeln!(out, "training       {} epochs", h.len())?,
        }
        // DASVDD's last epoch by term: the reconstruction loss, the SVDD term, and where the
        // centre is (docs/fidelity.md: the SVDD term costs AUROC by slowing the reconstruction).
        if let Some(last) = h.last() {
            let field = |k: &str| last.get(k).and_then(Value::as_f64);
            if let (Some(r), Some(s)) = (field("reconstruction"), field("svdd")) {
                let mut line = format!("reconstruction loss {r:.6}, SVDD term {s:.6}");
                if let (Some(o), Some(p)) = (field("center_offset"), field("code_spread")) {
                    line.push_str(&format!(
                        " (||c - mean code||^2 {o:.3e}, codes' spread {p:.3e})"
                    ));
                }
                writeln!(out, "last epoch     {line}")?;
            }
        }
    }
    if let Some(p) = decode(PREPROCESSING_KEY) {
        let name = match &p {
            Value::String(s) => s.clone(),
            Value::Object(o) => o.keys().cloned().collect::<Vec<_>>().join(", "),
            other => other.to_string(),
        };
        writeln!(out, "scaling        {name} (fitted on the training data)")?;
    }
    match meta.get(THRESHOLD_KEY) {
        Some(t) => match serde_json::from_str::<StoredThreshold>(t) {
            Ok(t) => writeln!(
                out,
                "threshold      {} (flags {} of the {} training samples)",
                t.value, t.contamination, t.n_train
            )?,
            Err(_) => writeln!(out, "threshold      {t} (unreadable)")?,
        },
        None => writeln!(
            out,
            "threshold      none (train with --contamination to store one)"
        )?,
    }
    Ok(out)
}
