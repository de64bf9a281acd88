//! The registry: names, classes, the folder search order (`$DASVDD_DATA` first) and the
//! `Unavailable` error. One test per process touches the environment, so it lives alone here.

mod common;

use dasvdd_data::registry::{candidate_dirs, locate, DATA_ENV};
use dasvdd_data::{load_split, DataError, DatasetName, SplitProtocol};

#[test]
fn names_parse_and_print() {
    for n in DatasetName::KNOWN {
        assert_eq!(n.parse::<DatasetName>().unwrap().to_string(), n);
    }
    assert_eq!(
        "Fashion-MNIST".parse::<DatasetName>().unwrap(),
        DatasetName::Fmnist
    );
    assert_eq!(
        "odds:cardio".parse::<DatasetName>().unwrap(),
        DatasetName::Odds("cardio".into())
    );
    assert_eq!(
        "odds:pima".parse::<DatasetName>().unwrap(),
        DatasetName::Pima
    );
    assert!(matches!(
        "imagenet".parse::<DatasetName>(),
        Err(DataError::Invalid { .. })
    ));
    assert!("odds:../etc".parse::<DatasetName>().is_err());
    assert_eq!(DatasetName::Cifar10.classes()[3], "cat");
    assert_eq!(DatasetName::Pima.classes(), vec!["normal".to_string()]);
    assert_eq!(dasvdd_data::classes("fmnist").unwrap()[9], "Ankle boot");
    assert!(dasvdd_data::classes("nope").is_err());
}

#[test]
fn env_root_is_searched_first_and_missing_data_is_unavailable() {
    let root = tempfile::tempdir().unwrap();
    std::env::set_var(DATA_ENV, root.path());
    let dirs = candidate_dirs(&DatasetName::Mnist);
    assert_eq!(dirs[0], root.path().join("mnist"));

    // Nothing there yet: an Unavailable error that says which files to put where.
    let err = locate(&DatasetName::Mnist).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, DataError::Unavailable { .. }), "{msg}");
    assert!(
        msg.contains("train-images-idx3-ubyte")
            && msg.contains(&root.path().join("mnist").display().to_string()),
        "{msg}"
    );

    std::fs::create_dir(root.path().join("mnist")).unwrap();
    common::write_mnist_dir(&root.path().join("mnist"), 40, 20, true);
    assert_eq!(
        locate(&DatasetName::Mnist).unwrap(),
        root.path().join("mnist")
    );
    let s = load_split("mnist", 2, 0, SplitProtocol::Paper).unwrap();
    assert_eq!(
        (
            s.counts.train,
            s.counts.test_normal,
            s.counts.test_anomalous
        ),
        (4, 2, 18)
    );
    assert!(matches!(
        load_split("mnist", 10, 0, SplitProtocol::Paper),
        Err(DataError::Invalid { .. })
    ));
    assert!(matches!(
        load_split("mnist", 1, 0, SplitProtocol::HalfNormals),
        Err(DataError::Invalid { .. })
    ));

    // A tabular ODDS-style CSV (features, then the label; no header) under its own name.
    std::fs::create_dir(root.path().join("pima")).unwrap();
    let mut csv = String::new();
    for i in 0..50 {
        csv.push_str(&format!("{},{},{}\n", i, i * 2, u8::from(i % 5 == 0)));
    }
    std::fs::write(root.path().join("pima/pima.csv"), csv).unwrap();
    let s = load_split("pima", 0, 0, SplitProtocol::Paper).unwrap();
    assert_eq!(
        (
            s.counts.train,
            s.counts.test_normal,
            s.counts.test_anomalous
        ),
        (30, 10, 10)
    );
    let s = load_split("pima", 0, 1, SplitProtocol::HalfNormals).unwrap();
    assert_eq!(
        (
            s.counts.train,
            s.counts.test_normal,
            s.counts.test_anomalous
        ),
        (20, 20, 10)
    );
    // Fashion-MNIST, absent from every root, falls back to Debian's package folder.
    let debian = std::path::Path::new(dasvdd_data::registry::DEBIAN_FMNIST_DIR);
    if debian.join("train-images-idx3-ubyte.gz").is_file() {
        assert_eq!(locate(&DatasetName::Fmnist).unwrap(), debian);
    } else {
        eprintln!("note: {} is absent; fallback not checked", debian.display());
    }
    // A torchvision data root: <root>/FashionMNIST/raw/ and <root>/cifar-10-batches-py/.
    let tv = root.path().join("FashionMNIST").join("raw");
    std::fs::create_dir_all(&tv).unwrap();
    common::write_mnist_dir(&tv, 40, 20, true);
    assert_eq!(locate(&DatasetName::Fmnist).unwrap(), tv);
    assert!(load_split("fmnist", 2, 0, SplitProtocol::Paper).is_ok());
    let py = root.path().join("cifar-10-batches-py");
    std::fs::create_dir(&py).unwrap();
    for name in ["data_batch_1", "test_batch"] {
        std::fs::write(py.join(name), b"").unwrap();
    }
    assert_eq!(locate(&DatasetName::Cifar10).unwrap(), root.path());
    let err = load_split("cifar10", 0, 0, SplitProtocol::Paper).unwrap_err();
    assert!(
        err.to_string().contains("data_batch_1") && err.to_string().contains("empty"),
        "{err}"
    );
    std::env::remove_var(DATA_ENV);
}
