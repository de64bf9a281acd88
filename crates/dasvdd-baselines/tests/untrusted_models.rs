//! Model files of every method from strangers: metadata describing a huge network or forest,
//! hyperparameters out of range, tensors with the wrong shape or non-finite values are refused
//! with an error naming the file and the field, before anything large is allocated; the files
//! as written still load and score as the model that wrote them.

use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::Device;
use dasvdd_baselines::{default_params, load_detector, Method};
use dasvdd_core::checkpoint::set_metadata;
use dasvdd_core::{Activation, AutoencoderConfig, CoreError, Detector, SampleView};

const D: usize = 5;

fn data(rows: usize) -> Vec<f32> {
    (0..rows * D)
        .map(|i| ((i * 37) % 101) as f32 / 101.0)
        .collect()
}

fn net() -> AutoencoderConfig {
    AutoencoderConfig {
        input_dim: D,
        hidden: vec![4],
        latent: 2,
        output_activation: Activation::Identity,
    }
}

/// A model of `method` fitted on 40 rows and saved in `dir`.
fn saved(method: Method, dir: &Path) -> (Box<dyn Detector>, PathBuf) {
    let x = data(40);
    let params = default_params(method, D, Some(&net()), Some(1), 0)
        .unwrap()
        .into_boxed();
    let model = params
        .fit_detector(SampleView::new(&x, 40, D).unwrap(), &Device::Cpu)
        .unwrap();
    let path = dir.join(format!("{method}.safetensors"));
    model.save(&path).unwrap();
    (model, path)
}

/// A copy of `path` named `name` with metadata `key` set to `value`.
fn edited(path: &Path, name: &str, key: &str, value: &str) -> PathBuf {
    let p = path.with_file_name(name);
    std::fs::copy(path, &p).unwrap();
    set_metadata(&p, &[(key, value.to_string())]).unwrap();
    p
}

/// The load error of `path`: a checkpoint error, one line, naming the file, within a second.
fn refused(path: &Path) -> String {
    let t = Instant::now();
    let err = match load_detector(path, &Device::Cpu) {
        Ok(_) => panic!("{} loaded", path.display()),
        Err(e) => e,
    };
    assert!(t.elapsed().as_secs_f64() < 1.0, "took {:?}", t.elapsed());
    assert!(matches!(err, CoreError::Checkpoint { .. }), "{err}");
    let msg = err.to_string();
    assert!(!msg.contains('\n'), "{msg}");
    assert!(msg.starts_with(&path.display().to_string()), "{msg}");
    msg
}

fn json_with(path: &Path, key: &str, edit: impl FnOnce(&mut serde_json::Value)) -> String {
    let text = dasvdd_core::checkpoint::get_metadata(path, key)
        .unwrap()
        .unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    edit(&mut v);
    v.to_string()
}

#[test]
fn every_method_reloads_as_saved() {
    let dir = tempfile::tempdir().unwrap();
    let q = data(7);
    let q = SampleView::new(&q, 7, D).unwrap();
    for method in Method::ALL {
        let (model, path) = saved(method, dir.path());
        let loaded = load_detector(&path, &Device::Cpu).unwrap();
        assert_eq!(
            loaded.score(q).unwrap(),
            model.score(q).unwrap(),
            "{method}"
        );
    }
}

#[test]
fn huge_networks_are_refused_before_they_are_built() {
    let dir = tempfile::tempdir().unwrap();
    for method in [Method::Ae, Method::DeepSvdd] {
        let (_, path) = saved(method, dir.path());
        for (name, hidden) in [
            ("wide", serde_json::json!([300_000, 300_000])),
            ("overflow", serde_json::json!([u64::MAX / 2, 3])),
            ("zero", serde_json::json!([0])),
        ] {
            let value = json_with(&path, "params", |v| v["model"]["hidden"] = hidden);
            let p = edited(&path, &format!("{method}-{name}.st"), "params", &value);
            let msg = refused(&p);
            assert!(msg.contains("metadata `params`"), "{method} {name}: {msg}");
        }
        let value = json_with(&path, "params", |v| v["lr"] = serde_json::json!(-1.0));
        let p = edited(&path, &format!("{method}-lr.st"), "params", &value);
        assert!(refused(&p).contains("`lr`"));
    }
}

#[test]
fn classical_models_bound_their_counts_and_values() {
    let dir = tempfile::tempdir().unwrap();
    let (_, forest) = saved(Method::IsolationForest, dir.path());
    for (name, field, value) in [
        ("trees", "n_trees", serde_json::json!(u64::MAX)),
        ("trees0", "n_trees", serde_json::json!(0)),
        ("sub", "subsample", serde_json::json!(1)),
    ] {
        let h = json_with(&forest, "hyperparameters", |v| v[field] = value);
        let p = edited(&forest, &format!("if-{name}.st"), "hyperparameters", &h);
        let msg = refused(&p);
        assert!(
            msg.contains("n_trees") || msg.contains("subsample"),
            "{name}: {msg}"
        );
    }
    let (_, svm) = saved(Method::Ocsvm, dir.path());
    let h = json_with(&svm, "hyperparameters", |v| {
        v["nu"] = serde_json::json!(2.0)
    });
    let p = edited(&svm, "svm-nu.st", "hyperparameters", &h);
    assert!(refused(&p).contains("nu"));
    let (_, kde) = saved(Method::Kde, dir.path());
    let h = json_with(&kde, "hyperparameters", |v| {
        v["bandwidth"] = serde_json::json!({"fixed": -1.0})
    });
    let p = edited(&kde, "kde-h.st", "hyperparameters", &h);
    assert!(refused(&p).contains("hyperparameters"));
    // The file's method must be one this crate knows.
    let p = edited(&kde, "kde-method.st", "method", "vae");
    assert!(refused(&p).contains("`vae`"));
}
