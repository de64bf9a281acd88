//! Tests of the matrix: method names and variants, cells, shards and config hashes.

use super::*;

#[test]
fn shards_partition_the_matrix() {
    let shards: Vec<Shard> = (0..3).map(|i| format!("{i}/3").parse().unwrap()).collect();
    for pos in 0..20 {
        assert_eq!(shards.iter().filter(|s| s.owns(pos)).count(), 1);
    }
    assert!("3/3".parse::<Shard>().is_err());
    assert!("1".parse::<Shard>().is_err());
    assert!("0/0".parse::<Shard>().is_err());
}

#[test]
fn method_specs_round_trip() {
    for s in [
        "dasvdd",
        "ocsvm",
        "dasvdd:gamma=0.001",
        "dasvdd:kappa=0.5",
        "dasvdd:latent=64",
        "dasvdd:t=5",
        "dasvdd:center=fixed",
        "dasvdd-paper",
        "dasvdd-code",
        "dasvdd:svdd_term=first_sample",
        "dasvdd:center_grad=accumulate",
        "dasvdd:gamma_norm=first_of_batch",
        "dasvdd:center_lr_decay=0.01",
        "dasvdd:weight_decay=0",
    ] {
        let m: MethodSpec = s.parse().unwrap();
        assert_eq!(m.to_string(), s);
    }
    assert!("ocsvm:gamma=1".parse::<MethodSpec>().is_err());
    assert!("dasvdd:latent=0".parse::<MethodSpec>().is_err());
    assert!("dasvdd:depth=3".parse::<MethodSpec>().is_err());
    assert!("vae".parse::<MethodSpec>().is_err());
    assert_eq!(
        "dasvdd:variant=published-code"
            .parse::<MethodSpec>()
            .unwrap()
            .to_string(),
        "dasvdd-code"
    );
    assert!("dasvdd:variant=2021".parse::<MethodSpec>().is_err());
    assert!("dasvdd:svdd_term=all".parse::<MethodSpec>().is_err());
}

#[test]
fn method_names_are_the_registry_spellings_with_their_aliases() {
    for (alias, canonical) in [
        ("deep_svdd", "deep_svdd"),
        ("deepsvdd", "deep_svdd"),
        ("deep-svdd", "deep_svdd"),
        ("iforest", "iforest"),
        ("isolation-forest", "iforest"),
        ("OCSVM", "ocsvm"),
    ] {
        let m: MethodSpec = alias.parse().unwrap();
        assert_eq!(m.to_string(), canonical, "{alias}");
    }
}

#[test]
fn a_variant_shares_the_hash_of_the_method_it_varies() {
    // So that a sweep's report finds its reference (plain DASVDD under the same settings);
    // the cells stay apart by their method, which names the variant.
    let cfg = BenchConfig::default();
    let shape = RunShape {
        epochs: Some(3),
        quick: true,
        max_train: None,
        max_test: None,
    };
    for dataset in ["pima", "fmnist"] {
        let d: BenchDataset = dataset.parse().unwrap();
        let plain = config_hash(&cfg, &d, &"dasvdd".parse().unwrap(), &shape);
        for variant in [
            "dasvdd:gamma=10",
            "dasvdd:kappa=0.5",
            "dasvdd:center=fixed",
            "dasvdd-code",
        ] {
            let m: MethodSpec = variant.parse().unwrap();
            assert_eq!(config_hash(&cfg, &d, &m, &shape), plain, "{variant}");
        }
        assert_ne!(config_hash(&cfg, &d, &"ae".parse().unwrap(), &shape), plain);
    }
    let keys = enumerate_cells(
        &cfg,
        &[("pima".parse().unwrap(), vec![0])],
        &[
            "dasvdd".parse().unwrap(),
            "dasvdd:gamma=10".parse().unwrap(),
        ],
        &[0],
        &shape,
    );
    assert_ne!(keys[0].file_stem(), keys[1].file_stem());
}

#[test]
fn the_hash_follows_the_settings_that_matter() {
    let cfg = BenchConfig::default();
    let d: BenchDataset = "pima".parse().unwrap();
    let m: MethodSpec = "dasvdd".parse().unwrap();
    let shape = RunShape {
        epochs: None,
        quick: false,
        max_train: None,
        max_test: None,
    };
    let base = config_hash(&cfg, &d, &m, &shape);
    let more_epochs = RunShape {
        epochs: Some(5),
        ..shape.clone()
    };
    assert_ne!(base, config_hash(&cfg, &d, &m, &more_epochs));
    // Epochs do not concern the classical methods.
    let oc: MethodSpec = "ocsvm".parse().unwrap();
    assert_eq!(
        config_hash(&cfg, &d, &oc, &shape),
        config_hash(&cfg, &d, &oc, &more_epochs)
    );
    // A training-size cap of the dataset concerns every method.
    let mut capped = cfg.clone();
    capped.datasets.insert(
        "pima".into(),
        crate::config::DatasetSettings {
            max_train: Some(10),
            ..Default::default()
        },
    );
    assert_ne!(
        config_hash(&cfg, &d, &oc, &shape),
        config_hash(&capped, &d, &oc, &shape)
    );
    // A method's table in the dataset's config concerns that method only; the network
    // and training concern the neural methods only.
    let mut cfg2 = cfg.clone();
    cfg2.datasets.insert("pima".into(), Default::default());
    cfg2.configs.insert(
        "pima".into(),
        dasvdd_baselines::Config::parse("p.toml", "[baselines.ocsvm]\nnu = 0.1\n").unwrap(),
    );
    assert_ne!(
        config_hash(&cfg, &d, &oc, &shape),
        config_hash(&cfg2, &d, &oc, &shape)
    );
    let kde: MethodSpec = "kde".parse().unwrap();
    assert_eq!(
        config_hash(&cfg, &d, &kde, &shape),
        config_hash(&cfg2, &d, &kde, &shape)
    );
    let mut cfg3 = cfg.clone();
    cfg3.datasets.insert("pima".into(), Default::default());
    cfg3.configs.insert(
        "pima".into(),
        dasvdd_baselines::Config::parse("p.toml", "[train]\nkappa = 0.5\n").unwrap(),
    );
    assert_ne!(base, config_hash(&cfg3, &d, &m, &shape));
    assert_eq!(
        config_hash(&cfg, &d, &oc, &shape),
        config_hash(&cfg3, &d, &oc, &shape)
    );
}

#[test]
fn quick_epochs_of_one_method_override_the_datasets() {
    let mut cfg = BenchConfig::default();
    let mut settings = crate::config::DatasetSettings {
        quick_epochs: Some(200),
        ..Default::default()
    };
    settings.quick_method_epochs.insert("deep_svdd".into(), 10);
    cfg.datasets.insert("fmnist".into(), settings);
    let quick = RunShape {
        epochs: None,
        quick: true,
        max_train: None,
        max_test: None,
    };
    let deep = Method::DeepSvdd;
    assert_eq!(quick.epochs_for(&cfg, "fmnist", deep), Some(10));
    assert_eq!(quick.epochs_for(&cfg, "fmnist", Method::Dasvdd), Some(200));
    // Other datasets: run.quick_epochs; --epochs wins over both; without --quick the config's.
    assert_eq!(
        quick.epochs_for(&cfg, "pima", deep),
        Some(cfg.run.quick_epochs)
    );
    let forced = RunShape {
        epochs: Some(3),
        ..quick.clone()
    };
    assert_eq!(forced.epochs_for(&cfg, "fmnist", deep), Some(3));
    let full = RunShape {
        quick: false,
        ..quick.clone()
    };
    assert_eq!(full.epochs_for(&cfg, "fmnist", deep), None);
    // The hash of a quick cell follows its own epochs.
    let d: BenchDataset = "fmnist".parse().unwrap();
    let ds: MethodSpec = "deep_svdd".parse().unwrap();
    let mut cfg2 = cfg.clone();
    if let Some(s) = cfg2.datasets.get_mut("fmnist") {
        s.quick_method_epochs.insert("deep_svdd".into(), 11);
    }
    assert_ne!(
        config_hash(&cfg, &d, &ds, &quick),
        config_hash(&cfg2, &d, &ds, &quick)
    );
}
