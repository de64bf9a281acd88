//! Fashion-MNIST as Debian's `dataset-fashion-mnist` package installs it: counts, pixel range
//! and the one-class split of class 1. Skipped, with a note, when the package is absent.

use std::path::Path;

use dasvdd_data::idx::load_mnist_dir;
use dasvdd_data::registry::DEBIAN_FMNIST_DIR;
use dasvdd_data::{load_prepared, DatasetName, LoadOptions, SplitProtocol};

fn present() -> bool {
    let ok = Path::new(DEBIAN_FMNIST_DIR)
        .join("train-images-idx3-ubyte.gz")
        .is_file();
    if !ok {
        eprintln!(
            "note: {DEBIAN_FMNIST_DIR} is absent (apt-get install dataset-fashion-mnist); skipping"
        );
    }
    ok
}

#[test]
fn real_fashion_mnist_has_the_official_counts() {
    if !present() {
        return;
    }
    let (train, test) = load_mnist_dir(Path::new(DEBIAN_FMNIST_DIR)).unwrap();
    assert_eq!((train.len(), test.len()), (60_000, 10_000));
    assert_eq!((train.height, train.width, train.channels), (28, 28, 1));
    assert_eq!(train.class_counts(10), vec![6_000; 10]);
    assert_eq!(test.class_counts(10), vec![1_000; 10]);
    let m = test.to_unit_matrix();
    let (lo, hi) = m
        .data
        .iter()
        .fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
    assert_eq!((lo, hi), (0.0, 1.0), "pixels span exactly [0, 1]");
}

#[test]
fn real_fashion_mnist_one_class_split_of_class_1() {
    if !present() {
        return;
    }
    let opts = LoadOptions {
        normal_class: 1,
        protocol: SplitProtocol::Paper,
        dir: Some(DEBIAN_FMNIST_DIR.into()),
        ..Default::default()
    };
    let p = load_prepared(&DatasetName::Fmnist, &opts).unwrap();
    let c = p.split.counts;
    assert_eq!(
        (c.train, c.test_normal, c.test_anomalous),
        (6_000, 1_000, 9_000)
    );
    assert_eq!((p.split.train.cols, p.split.test.x.cols), (784, 784));
    assert!(p.split.train.data.iter().all(|v| (0.0..=1.0).contains(v)));
}
