//! `dasvdd inspect`: what a model file holds, read from its metadata: the method, its
//! settings, gamma, a summary of the training history, the scaling and the threshold, and
//! whether its tensors matched the checksum stored with them. A file whose tensors do not is
//! still shown (its metadata says which run wrote it), and then reported as damaged: the
//! command fails, as `score` and `load` refuse such a file.

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
    show(&ck, &shown, args.json)?;
    if ck.integrity() == Integrity::Damaged {
        // After the metadata, so that a damaged file still says where it came from.
        anyhow::bail!("{shown}: {}", dasvdd_core::checkpoint::DAMAGED);
    }
    Ok(())
}

/// Prints what the checkpoint's metadata says (as one JSON object with `json`).
fn show(ck: &Checkpoint, shown: &str, json: bool) -> Result<()> {
    let meta = ck.metadata();
    let decode = |key: &str| -> Option<Value> {
        meta.get(key)
            .map(|v| serde_json::from_str::<Value>(v).unwrap_or_else(|_| Value::String(v.clone())))
    };
    if json {
        let mut keys: Vec<&String> = meta.keys().collect();
        keys.sort();
        let obj: serde_json::Map<String, Value> = keys
            .into_iter()
            .map(|k| (k.clone(), decode(k).unwrap_or(Value::Null)))
            .collect();
        println!("{}", Value::Object(obj));
        return Ok(());
    }
    let method = ck.method()?;
    println!("file           {shown}");
    println!("method         {method}");
    if let Some(v) = meta.get("crate_version") {
        println!("written by     dasvdd-rs {v}");
    }
    match ck.integrity() {
        Integrity::Verified => println!("checksum       verified (SHA-256 of the tensors)"),
        Integrity::Unchecked => {
            println!("checksum       none stored (an older version or another tool wrote the file)")
        }
        Integrity::Damaged => println!(
            "checksum       MISMATCH: the tensors are not those written (score and load refuse \
             this file)"
        ),
    }
    if let Some(t) = meta.get(TRAINING_DATA_KEY) {
        println!("trained on     {t}");
    }
    for key in ["config", "params", "hyperparameters"] {
        if let Some(v) = decode(key) {
            println!("settings       {v}");
        }
    }
    if let Some(g) = meta.get("gamma") {
        let how = match decode("gamma_estimate") {
            Some(Value::Null) | None => "given",
            Some(_) => "estimated by the heuristic of eq. (6)",
        };
        println!("gamma          {g} ({how})");
    }
    if let Some(s) = meta.get("seed") {
        println!("seed           {s}");
    }
    if let Some(Value::Array(h)) = decode("history") {
        let loss = |r: &Value| {
            r.get("total")
                .or_else(|| r.get("loss"))
                .and_then(Value::as_f64)
        };
        match (h.first().and_then(loss), h.last().and_then(loss)) {
            (Some(a), Some(b)) => println!(
                "training       {} epochs, loss {a:.6} (first) -> {b:.6} (last)",
                h.len()
            ),
            _ => println!("training       {} epochs", h.len()),
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
                println!("last epoch     {line}");
            }
        }
    }
    if let Some(p) = decode(PREPROCESSING_KEY) {
        let name = match &p {
            Value::String(s) => s.clone(),
            Value::Object(o) => o.keys().cloned().collect::<Vec<_>>().join(", "),
            other => other.to_string(),
        };
        println!("scaling        {name} (fitted on the training data)");
    }
    match meta.get(THRESHOLD_KEY) {
        Some(t) => match serde_json::from_str::<StoredThreshold>(t) {
            Ok(t) => println!(
                "threshold      {} (flags {} of the {} training samples)",
                t.value, t.contamination, t.n_train
            ),
            Err(_) => println!("threshold      {t} (unreadable)"),
        },
        None => println!("threshold      none (train with --contamination to store one)"),
    }
    Ok(())
}
