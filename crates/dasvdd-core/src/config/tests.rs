//! Tests of the configuration: presets, validation, the TOML files, the variants and the
//! shipped `configs/`.

use super::*;
use crate::error::CoreError;

#[test]
fn kappa_split_of_the_paper() {
    let t = TrainConfig::default();
    assert_eq!(t.network_split(200), 180);
    let t1 = TrainConfig {
        kappa: 1.0,
        ..TrainConfig::default()
    };
    assert_eq!(t1.network_split(200), 200);
}

#[test]
fn presets_match_the_reference() {
    assert_eq!(
        Preset::Mnist.autoencoder().encoder_widths(),
        vec![784, 1024, 256, 256]
    );
    assert_eq!(
        Preset::Cifar10.autoencoder().decoder_widths(),
        vec![256, 256, 512, 1024, 3072]
    );
    assert_eq!(
        Preset::Pima.autoencoder().encoder_widths(),
        vec![8, 10, 4, 4]
    );
    assert_eq!(
        AutoencoderConfig::for_input(784),
        Preset::Mnist.autoencoder()
    );
}

#[test]
fn bad_parameters_are_errors() {
    let bad = TrainConfig {
        kappa: 0.0,
        ..TrainConfig::default()
    };
    assert!(matches!(
        bad.validate(),
        Err(CoreError::InvalidParameter { name: "kappa", .. })
    ));
    let bad = TrainConfig {
        gamma: GammaChoice::Fixed(f64::NAN),
        ..TrainConfig::default()
    };
    assert!(matches!(
        bad.validate(),
        Err(CoreError::InvalidParameter { name: "gamma", .. })
    ));
    let bad = TrainConfig {
        gamma: GammaChoice::Heuristic { trials: 0 },
        ..TrainConfig::default()
    };
    assert!(matches!(
        bad.validate(),
        Err(CoreError::InvalidParameter {
            name: "gamma_trials",
            ..
        })
    ));
    let bad = TrainConfig {
        gamma: GammaChoice::Heuristic { trials: 1 << 62 },
        ..TrainConfig::default()
    };
    assert!(matches!(
        bad.validate(),
        Err(CoreError::InvalidParameter {
            name: "gamma_trials",
            ..
        })
    ));
    // Widths each within MAX_WIDTH whose weights could not be allocated.
    let huge = AutoencoderConfig {
        hidden: vec![10_000_000, 10_000_000],
        ..AutoencoderConfig::for_input(6)
    };
    assert!(matches!(
        huge.validate_for_init(),
        Err(CoreError::InvalidParameter { name: "hidden", .. })
    ));
    let widest = AutoencoderConfig {
        input_dim: MAX_WIDTH,
        hidden: vec![MAX_WIDTH],
        latent: MAX_WIDTH,
        ..AutoencoderConfig::for_input(6)
    };
    assert!(widest.validate().is_ok() && widest.validate_for_init().is_err());
    assert!(AutoencoderConfig::for_input(3072)
        .validate_for_init()
        .is_ok());
    assert!(matches!(
        Preset::parse("vgg"),
        Err(CoreError::InvalidParameter { name: "preset", .. })
    ));
}

mod config_file_tests {
    use super::*;

    #[test]
    fn presets_and_overrides_resolve() {
        let f = ConfigFile::parse(
            "[model]\npreset = \"speech\"\n[train]\nvariant = \"published-code\"\ngamma = 2.5\nepochs = 7\n",
            "t",
        )
        .unwrap();
        let c = f.resolve(None).unwrap();
        assert_eq!(c.model, Preset::Speech.autoencoder());
        assert_eq!(c.train.lr, 1e-4);
        assert_eq!(c.train.epochs, 7);
        assert_eq!(c.train.gamma, GammaChoice::Fixed(2.5));
        let f = ConfigFile::parse("[train]\ncenter = \"fixed_mean_code\"\n", "t").unwrap();
        let c = f.resolve(Some(12)).unwrap();
        assert_eq!(c.model.input_dim, 12);
        assert_eq!(c.train.center, CenterMode::FixedMeanCode);
    }

    #[test]
    fn bad_files_are_errors() {
        assert!(matches!(
            ConfigFile::parse("[train]\nepoch = 3\n", "x.toml"),
            Err(CoreError::InvalidParameter { name: "config", .. })
        ));
        let f = ConfigFile::parse("[train]\ngamma = \"big\"\n", "t").unwrap();
        assert!(matches!(
            f.resolve(Some(3)),
            Err(CoreError::InvalidParameter { name: "gamma", .. })
        ));
        let f = ConfigFile::parse("[train]\nkappa = 1.5\n", "t").unwrap();
        assert!(matches!(
            f.resolve(Some(3)),
            Err(CoreError::InvalidParameter { name: "kappa", .. })
        ));
        let f = ConfigFile::parse("[train]\nsvdd_term = \"first\"\n", "t").unwrap();
        assert!(matches!(
            f.resolve(Some(3)),
            Err(CoreError::InvalidParameter {
                name: "svdd_term",
                ..
            })
        ));
        let f = ConfigFile::parse(
            "[train]\nsvdd_term = \"first_sample\"\ncenter_grad = \"accumulate\"\ngamma_norm = \"first_of_batch\"\n",
            "t",
        )
        .unwrap();
        let c = f.resolve(Some(3)).unwrap();
        assert_eq!(c.train.svdd_term, SvddTerm::FirstSample);
        assert_eq!(c.train.center_grad, CenterGrad::Accumulate);
        assert_eq!(c.train.gamma_norm, GammaNorm::FirstOfBatch);
        assert!(matches!(
            ConfigFile::default().resolve(None),
            Err(CoreError::InvalidParameter {
                name: "input_dim",
                ..
            })
        ));
    }
}

mod variant_tests {
    use super::*;

    fn resolve(text: &str) -> DasvddConfig {
        ConfigFile::parse(text, "t")
            .unwrap()
            .resolve(Some(20))
            .unwrap()
    }

    #[test]
    fn the_paper_variant_is_the_papers_text_for_every_dataset() {
        for preset in ["mnist", "cifar10", "speech", "pima"] {
            let c = resolve(&format!(
                "[model]\npreset = \"{preset}\"\n[train]\nvariant = \"paper\"\n"
            ));
            let t = &c.train;
            assert_eq!(t.variant, Variant::Paper);
            assert_eq!((t.lr, t.weight_decay), (1e-3, 1e-7), "{preset}");
            assert_eq!((t.center_lr, t.center_lr_decay), (1.0, 0.1), "{preset}");
            assert_eq!(t.svdd_term, SvddTerm::BatchMean);
            assert_eq!(t.center_grad, CenterGrad::Reset);
            assert_eq!(t.gamma_norm, GammaNorm::AllSamples);
        }
        // AWID3, MIMII and other data without a preset.
        let t = resolve("[train]\nvariant = \"paper\"\n").train;
        assert_eq!((t.center_lr, t.center_lr_decay), (1.0, 0.1));
    }

    #[test]
    fn the_published_code_variant_is_the_2021_codes_pair_for_every_dataset() {
        for (preset, lr, center_lr) in [
            ("mnist", 1e-3, 1.0),
            ("cifar10", 1e-3, 0.01),
            ("speech", 1e-4, 0.1),
            ("pima", 1e-3, 0.1),
        ] {
            let c = resolve(&format!(
                "[model]\npreset = \"{preset}\"\n[train]\nvariant = \"published-code\"\n"
            ));
            let t = &c.train;
            assert_eq!(t.variant, Variant::PublishedCode);
            assert_eq!((t.lr, t.weight_decay), (lr, 0.0), "{preset}");
            assert_eq!(
                (t.center_lr, t.center_lr_decay),
                (center_lr, 0.01),
                "{preset}"
            );
            assert_eq!(t.svdd_term, SvddTerm::FirstSample);
            assert_eq!(t.center_grad, CenterGrad::Accumulate);
            assert_eq!(t.gamma_norm, GammaNorm::FirstOfBatch);
        }
        let t = resolve("[train]\nvariant = \"code\"\n").train;
        assert_eq!((t.center_lr, t.center_lr_decay), (0.1, 0.01));
    }

    #[test]
    fn explicit_settings_override_the_variant_and_bad_names_are_errors() {
        let t = resolve(
            "[model]\npreset = \"cifar10\"\n[train]\nvariant = \"published-code\"\ncenter_lr_decay = 0.1\nsvdd_term = \"batch_mean\"\n",
        )
        .train;
        assert_eq!((t.center_lr, t.center_lr_decay), (0.01, 0.1));
        assert_eq!(t.svdd_term, SvddTerm::BatchMean);
        assert_eq!(t.center_grad, CenterGrad::Accumulate);
        let f = ConfigFile::parse("[train]\nvariant = \"2021\"\n", "t").unwrap();
        assert!(matches!(
            f.resolve(Some(3)),
            Err(CoreError::InvalidParameter {
                name: "variant",
                ..
            })
        ));
        assert_eq!(
            DasvddConfig::from_preset(Preset::Speech).train,
            Variant::default().train_config(Some(Preset::Speech))
        );
    }
}

mod shipped_configs {
    use super::*;

    /// The config of every paper dataset in `configs/` parses and resolves (AWID3 and MIMII
    /// need the data's width).
    #[test]
    fn configs_folder_resolves() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs");
        for name in [
            "mnist", "fmnist", "cifar10", "speech", "pima", "awid3", "mimii",
        ] {
            let path = dir.join(format!("{name}.toml"));
            let f = ConfigFile::read(&path).unwrap();
            let c = f
                .resolve(Some(100))
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert_eq!(c.train.kappa, 0.9);
            assert_eq!(c.train.epochs, 300);
            // The files leave every setting that differs between the sources to the variant.
            let preset = f.preset().unwrap();
            let mut expected = Variant::default().train_config(preset);
            expected.gamma = c.train.gamma;
            assert_eq!(c.train, expected, "{}", path.display());
        }
    }
}
