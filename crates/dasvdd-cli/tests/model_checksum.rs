//! The checksum of a model file's tensors through the CLI: `score` refuses a file with a flipped
//! bit in a weight (exit status non-zero, the file named, no panic), `inspect` says whether the
//! checksum verified (and shows a damaged file's metadata before failing), and files without
//! one (older versions) or with metadata added after training (the threshold) still score.

use std::path::Path;

mod common;
use common::{dasvdd, err, fixture, ok, train_fast_with};

const DAMAGED: &str = "damaged: its weights do not match the checksum stored when it was written";

/// The header of a safetensors file as JSON, and where its data starts.
fn header(bytes: &[u8]) -> (serde_json::Map<String, serde_json::Value>, usize) {
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let json: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    (json.as_object().unwrap().clone(), 8 + n)
}

/// `header` and `data` as one safetensors file (the header padded to 8 bytes with spaces).
fn assemble(header: &serde_json::Map<String, serde_json::Value>, data: &[u8]) -> Vec<u8> {
    let mut text = serde_json::to_vec(header).unwrap();
    while text.len() % 8 != 0 {
        text.push(b' ');
    }
    let mut out = (text.len() as u64).to_le_bytes().to_vec();
    out.extend(text);
    out.extend(data);
    out
}

fn score(d: &Path, model: &str) -> std::process::Output {
    dasvdd(
        &[
            "score",
            "--model",
            model,
            "--data",
            "new.csv",
            "--out",
            "-",
            "--predict",
        ],
        d,
    )
}

#[test]
fn a_flipped_bit_in_a_weight_fails_score_and_old_files_still_score() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fixture(d);
    // The threshold is metadata written after the tensors: the checksum still holds.
    train_fast_with(d, "m.safetensors", &["--contamination", "0.1"]);
    let want = ok(&score(d, "m.safetensors"));
    assert!(ok(&dasvdd(&["inspect", "m.safetensors"], d))
        .contains("checksum       verified (SHA-256 of the tensors)"));

    let bytes = std::fs::read(d.join("m.safetensors")).unwrap();
    let (head, start) = header(&bytes);
    assert!(head["__metadata__"]["dasvdd_sha256"].is_string());
    assert!(head["__metadata__"]["threshold"].is_string());

    // One bit of the first weight of the first layer: still a finite number.
    let offset = head["encoder.0.weight"]["data_offsets"][0]
        .as_u64()
        .unwrap() as usize;
    let mut damaged = bytes.clone();
    damaged[start + offset] ^= 1;
    std::fs::write(d.join("damaged.safetensors"), &damaged).unwrap();
    let inspected = dasvdd(&["inspect", "damaged.safetensors"], d);
    let as_json = dasvdd(&["inspect", "--json", "damaged.safetensors"], d);
    for cmd in [
        score(d, "damaged.safetensors"),
        inspected.clone(),
        as_json.clone(),
    ] {
        let e = err(&cmd);
        assert!(
            e.contains(&format!("damaged.safetensors: {DAMAGED}")),
            "{e}"
        );
    }
    // `inspect` still shows what the damaged file's metadata says before it fails; `score`
    // writes nothing.
    let shown = String::from_utf8_lossy(&inspected.stdout);
    assert!(shown.contains("method         dasvdd"), "{shown}");
    assert!(shown.contains("checksum       MISMATCH"), "{shown}");
    assert!(shown.contains("threshold      "), "{shown}");
    let json: serde_json::Value = serde_json::from_slice(&as_json.stdout).unwrap();
    assert_eq!(json["method"], "dasvdd");
    assert_eq!(json["checksum"], "mismatch", "{json}");
    assert!(score(d, "damaged.safetensors").stdout.is_empty());
    let json_of = |file: &str| -> serde_json::Value {
        serde_json::from_str(&ok(&dasvdd(&["inspect", "--json", file], d))).unwrap()
    };
    assert_eq!(json_of("m.safetensors")["checksum"], "verified");

    // The same file as an older version wrote it: no checksum; it scores as before.
    let mut old = head.clone();
    old["__metadata__"]
        .as_object_mut()
        .unwrap()
        .remove("dasvdd_sha256");
    std::fs::write(d.join("old.safetensors"), assemble(&old, &bytes[start..])).unwrap();
    assert_eq!(ok(&score(d, "old.safetensors")), want);
    assert!(ok(&dasvdd(&["inspect", "old.safetensors"], d)).contains("checksum       none stored"));
    assert_eq!(json_of("old.safetensors")["checksum"], "none");

    // A header-only change (another metadata entry) keeps the checksum valid.
    let mut noted = head.clone();
    noted["__metadata__"]
        .as_object_mut()
        .unwrap()
        .insert("note".into(), "edited by hand".into());
    std::fs::write(
        d.join("noted.safetensors"),
        assemble(&noted, &bytes[start..]),
    )
    .unwrap();
    assert_eq!(ok(&score(d, "noted.safetensors")), want);
    assert!(ok(&dasvdd(&["inspect", "noted.safetensors"], d)).contains("checksum       verified"));
}
