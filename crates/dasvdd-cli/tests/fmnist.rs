//! Acceptance test on the real Fashion-MNIST (Debian's `dataset-fashion-mnist`): DASVDD trained
//! on class 1 (trouser) for 10 epochs reaches AUROC >= 0.95 on the official test split.
//! Skipped, with a note, where the data is not installed; `.ci/run` installs it.

use candle_core::Device;
use dasvdd_core::{fit, DasvddConfig, Detector, Preset, SampleView};
use dasvdd_data::{load_prepared, DatasetName, LoadOptions};

const DEBIAN_DIR: &str = "/usr/share/datasets/fashion-mnist";

#[test]
fn trouser_class_auroc_at_least_0_95() {
    if !std::path::Path::new(DEBIAN_DIR).exists() {
        eprintln!(
            "note: {DEBIAN_DIR} is absent (apt-get install -y dataset-fashion-mnist); test skipped"
        );
        return;
    }
    let opts = LoadOptions {
        normal_class: 1,
        dir: Some(DEBIAN_DIR.into()),
        ..LoadOptions::default()
    };
    let prepared = load_prepared(&DatasetName::Fmnist, &opts).unwrap();
    let split = &prepared.split;
    assert_eq!(split.counts.train, 6000);
    assert_eq!(
        (split.counts.test_normal, split.counts.test_anomalous),
        (1000, 9000)
    );

    let mut cfg = DasvddConfig::from_preset(Preset::Mnist);
    cfg.train.epochs = 10;
    cfg.train.seed = 1;
    let x = SampleView::new(&split.train.data, split.train.rows, split.train.cols).unwrap();
    let model = fit(&cfg, x, &Device::Cpu, &mut |_| {}).unwrap();
    let h = &model.history;
    assert!(h.last().unwrap().total < h[0].total, "loss did not fall");
    let t = &split.test.x;
    let scores = model
        .score(SampleView::new(&t.data, t.rows, t.cols).unwrap())
        .unwrap();
    let auroc = dasvdd_eval::auroc(&scores, &split.test.y).unwrap();
    eprintln!(
        "Fashion-MNIST class 1, 10 epochs: AUROC {auroc:.4}, gamma {:.4}",
        model.gamma
    );
    assert!(auroc >= 0.95, "AUROC {auroc}");
}
