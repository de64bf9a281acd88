//! Fixtures shared by the model-file tests of `dasvdd-core` (`model_checksum.rs`,
//! `untrusted_checkpoints.rs`): a small DASVDD model trained for one epoch and saved.

use std::path::{Path, PathBuf};

use candle_core::Device;
use dasvdd_core::{
    fit, Activation, AutoencoderConfig, DasvddConfig, DasvddModel, Detector, GammaChoice,
    SampleView, TrainConfig,
};

/// Features per row of [`data`].
pub const D: usize = 6;

/// The 40 training rows of [`small_model`], row-major.
pub fn data() -> Vec<f32> {
    (0..40 * D).map(|i| ((i * 7) % 11) as f32 / 11.0).collect()
}

/// A DASVDD model of a 6-5-3 network trained one epoch on [`data`] (gamma fixed at 0.5), and
/// the file it was saved to in `dir`.
pub fn small_model(dir: &Path) -> (DasvddModel, PathBuf) {
    let train = data();
    let config = DasvddConfig {
        model: AutoencoderConfig {
            input_dim: D,
            hidden: vec![5],
            latent: 3,
            output_activation: Activation::Identity,
        },
        train: TrainConfig {
            epochs: 1,
            batch_size: 10,
            gamma: GammaChoice::Fixed(0.5),
            ..TrainConfig::default()
        },
    };
    let model = fit(
        &config,
        SampleView::new(&train, 40, D).unwrap(),
        &Device::Cpu,
        &mut |_| {},
    )
    .unwrap();
    let path = dir.join("m.safetensors");
    model.save(&path).unwrap();
    (model, path)
}
