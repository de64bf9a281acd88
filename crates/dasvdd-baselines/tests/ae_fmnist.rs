//! The autoencoder baseline on real Fashion-MNIST (class 1, trousers, as the normal class): a
//! short training on the 6,000 training trousers separates the first 2,000 test images with
//! AUROC >= 0.90. Skipped, with a note, when Debian's `dataset-fashion-mnist` is absent.

use std::path::Path;
use std::time::Instant;

use candle_core::Device;
use dasvdd_baselines::AeParams;
use dasvdd_core::{Detector, Preset, SampleView};
use dasvdd_data::idx::load_mnist_dir;

const FMNIST_DIR: &str = "/usr/share/datasets/fashion-mnist";
const NORMAL_CLASS: u8 = 1;
const N_TEST: usize = 2000;

#[test]
fn fashion_mnist_trousers_auroc() {
    if !Path::new(FMNIST_DIR)
        .join("train-images-idx3-ubyte.gz")
        .is_file()
    {
        eprintln!("note: {FMNIST_DIR} is absent (apt-get install dataset-fashion-mnist); skipping");
        return;
    }
    let (train, test) = load_mnist_dir(Path::new(FMNIST_DIR)).unwrap();
    let normal: Vec<usize> = (0..train.len())
        .filter(|&i| train.labels[i] == NORMAL_CLASS)
        .collect();
    let x = train.select_unit(&normal);
    let test_idx: Vec<usize> = (0..N_TEST).collect();
    let t = test.select_unit(&test_idx);
    let anomalous: Vec<bool> = test.labels[..N_TEST]
        .iter()
        .map(|&l| l != NORMAL_CLASS)
        .collect();

    let started = Instant::now();
    let model = AeParams {
        model: Some(Preset::Mnist.autoencoder()),
        epochs: 3,
        ..AeParams::default()
    }
    .fit(
        SampleView::new(&x.data, x.rows, x.cols).unwrap(),
        &Device::Cpu,
    )
    .unwrap();
    let scores = model
        .score(SampleView::new(&t.data, t.rows, t.cols).unwrap())
        .unwrap();
    let auc = dasvdd_eval::auroc(&scores, &anomalous).unwrap();
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
