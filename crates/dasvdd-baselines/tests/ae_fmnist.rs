//! The autoencoder baseline on real Fashion-MNIST (class 1, trousers, as the normal class): a
//! short training on the 6,000 training trousers separates the first 2,000 test images with
//! AUROC >= 0.90. Skipped, with a note, when Debian's `dataset-fashion-mnist` is absent.

use std::time::Instant;

use candle_core::Device;
use dasvdd_baselines::AeParams;
use dasvdd_core::{Detector, Preset};

mod fmnist_support;
use fmnist_support::{trousers, NORMAL_CLASS, N_TEST};

#[test]
fn fashion_mnist_trousers_auroc() {
    let Some(data) = trousers() else {
        return;
    };
    let (x, anomalous) = (&data.train, &data.anomalous);

    let started = Instant::now();
    let model = AeParams {
        model: Some(Preset::Mnist.autoencoder()),
        epochs: 3,
        ..AeParams::default()
    }
    .fit(data.train_view(), &Device::Cpu)
    .unwrap();
    let scores = model.score(data.test_view()).unwrap();
    let auc = dasvdd_eval::auroc(&scores, anomalous).unwrap();
    let h = &model.history;
    eprintln!(
        "ae on fashion-mnist class {NORMAL_CLASS}: {} train, {N_TEST} test, losses {:?}, AUROC {auc:.4}, {:.1} s",
        x.rows,
        h.iter().map(|e| e.loss).collect::<Vec<_>>(),
        started.elapsed().as_secs_f64()
    );
    assert_eq!(x.rows, 6000);
    assert!(h.last().unwrap().loss < h[0].loss, "loss did not fall");
    assert!(auc >= 0.90, "AUROC {auc}");
}
