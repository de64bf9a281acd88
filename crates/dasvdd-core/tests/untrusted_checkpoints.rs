//! Model files from strangers: a checkpoint whose metadata describes a huge network, holds
//! mis-shaped or non-finite tensors, or a bad gamma is refused with a one-line error naming
//! the file and the field, quickly and without allocating more than the file's size.
//!
//! This test binary counts every heap allocation (a wrapping global allocator), so the peak
//! memory of a load can be asserted.

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use candle_core::Device;
use dasvdd_core::checkpoint::set_metadata;
use dasvdd_core::{CoreError, DasvddConfig, DasvddModel, Detector, Preset, SampleView};

mod common;
use common::small_model;

/// The system allocator, counting live bytes and their peak.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator; the counters are plain
// atomics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// A 1 kB file as the issue describes it: the metadata of a real Fashion-MNIST model whose
/// `config.model.hidden` was edited to `[300000, 300000]`, and only the centre tensor.
fn crafted_file(path: &Path) {
    let mut config = DasvddConfig::from_preset(Preset::Mnist);
    config.model.hidden = vec![300_000, 300_000];
    let center = vec![0.5f32; config.model.latent];
    let bytes: Vec<u8> = center.iter().flat_map(|v| v.to_le_bytes()).collect();
    let view = safetensors::tensor::TensorView::new(
        safetensors::Dtype::F32,
        vec![config.model.latent],
        &bytes,
    )
    .unwrap();
    let metadata = HashMap::from([
        ("format".to_string(), "dasvdd-rs".to_string()),
        ("method".to_string(), "dasvdd".to_string()),
        (
            "config".to_string(),
            serde_json::to_string(&config).unwrap(),
        ),
        ("gamma".to_string(), "1e0".to_string()),
    ]);
    safetensors::serialize_to_file([("center", view)], Some(metadata), path).unwrap();
}

#[test]
fn a_huge_network_in_a_small_file_is_one_fast_small_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crafted.safetensors");
    crafted_file(&path);
    assert!(std::fs::metadata(&path).unwrap().len() < 4096);
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let started = Instant::now();
    let err = DasvddModel::load(&path, &Device::Cpu).unwrap_err();
    let seconds = started.elapsed().as_secs_f64();
    let peak = PEAK.load(Ordering::Relaxed).saturating_sub(before);
    let msg = err.to_string();
    assert!(matches!(err, CoreError::Checkpoint { .. }), "{msg}");
    assert!(!msg.contains('\n'), "more than one line: {msg}");
    assert!(msg.contains("crafted.safetensors"), "{msg}");
    assert!(msg.contains("metadata `config`"), "{msg}");
    assert!(seconds < 1.0, "took {seconds} s");
    // Other tests of this binary may allocate at the same time; they are small.
    assert!(peak < 100 << 20, "peak allocation {peak} bytes");
}

/// Writes `path` again with tensor `name` replaced by `values` of `shape`, without the tensors'
/// checksum (as a stranger's tool would write it: with it, the file would be refused as damaged
/// before any of the checks these tests are about).
fn replace_tensor(path: &Path, out: &Path, name: &str, shape: Vec<usize>, values: &[f32]) {
    let bytes = std::fs::read(path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let mut metadata = meta.metadata().clone().unwrap();
    metadata.remove(dasvdd_core::checkpoint::CHECKSUM_KEY);
    let raw: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    let mut tensors: Vec<(String, safetensors::tensor::TensorView<'_>)> = st
        .tensors()
        .into_iter()
        .filter(|(n, _)| n != name)
        .collect();
    tensors.push((
        name.to_string(),
        safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape, &raw).unwrap(),
    ));
    safetensors::serialize_to_file(tensors, Some(metadata), out).unwrap();
}

fn load_error(path: &Path) -> String {
    let err = DasvddModel::load(path, &Device::Cpu).unwrap_err();
    assert!(matches!(err, CoreError::Checkpoint { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.starts_with(&path.display().to_string()), "{msg}");
    msg
}

#[test]
fn every_bad_field_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let (model, path) = small_model(dir.path());
    // The file as written loads and scores as the model did.
    let x: Vec<f32> = (0..12).map(|i| i as f32 / 12.0).collect();
    let x = SampleView::new(&x, 2, 6).unwrap();
    let loaded = DasvddModel::load(&path, &Device::Cpu).unwrap();
    assert_eq!(loaded.score(x).unwrap(), model.score(x).unwrap());

    let edit = |name: &str, key: &str, value: String| {
        let p = dir.path().join(name);
        std::fs::copy(&path, &p).unwrap();
        set_metadata(&p, &[(key, value)]).unwrap();
        p
    };
    let mut config = model.config.clone();
    config.model.hidden = vec![usize::MAX / 2, 4];
    let p = edit(
        "overflow.st",
        "config",
        serde_json::to_string(&config).unwrap(),
    );
    assert!(load_error(&p).contains("`hidden`"), "{}", load_error(&p));
    config.model.hidden = vec![1 << 20, 1 << 20];
    let p = edit("huge.st", "config", serde_json::to_string(&config).unwrap());
    let msg = load_error(&p);
    assert!(
        msg.contains("metadata `config`") && msg.contains("bytes"),
        "{msg}"
    );
    config.model.hidden = vec![0];
    let p = edit("zero.st", "config", serde_json::to_string(&config).unwrap());
    assert!(load_error(&p).contains("`hidden`"));
    for gamma in ["NaN", "inf", "-1", "big"] {
        let p = edit("gamma.st", "gamma", gamma.to_string());
        assert!(load_error(&p).contains("metadata `gamma`"), "{gamma}");
    }
    let p = edit("config.st", "config", "{\"model\": 3}".to_string());
    assert!(load_error(&p).contains("metadata `config`"));

    let p = dir.path().join("nan.st");
    replace_tensor(
        &path,
        &p,
        "encoder.0.bias",
        vec![5],
        &[0.0, 1.0, f32::NAN, 0.0, 0.0],
    );
    let msg = load_error(&p);
    assert!(
        msg.contains("`encoder.0.bias`") && msg.contains("not finite"),
        "{msg}"
    );
    replace_tensor(&path, &p, "decoder.1.weight", vec![5, 6], &[0.1; 30]);
    let msg = load_error(&p);
    assert!(
        msg.contains("`decoder.1.weight`") && msg.contains("shape"),
        "{msg}"
    );
    replace_tensor(&path, &p, "center", vec![3], &[0.0, f32::INFINITY, 0.0]);
    assert!(load_error(&p).contains("`center`"));
}

#[test]
fn saves_into_a_missing_folder_name_the_folder_not_a_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing").join("model.safetensors");
    let e = dasvdd_core::checkpoint::write_atomic(&path, b"bytes")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("model.safetensors")
            && e.contains("missing does not exist")
            && !e.contains(".dasvdd-"),
        "{e}"
    );
}
