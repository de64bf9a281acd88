//! The registry's entry points for parameters and model files: [`default_params`] (the paper's
//! setting of each method for an input width and network) and [`load_detector`] (a model file's
//! `method` metadata to that method's loader); [`MethodParams`] is generated in `mod.rs`.

use std::path::Path;

use candle_core::Device;
use dasvdd_core::checkpoint::Checkpoint;
use dasvdd_core::{
    AutoencoderConfig, CoreError, DasvddConfig, Detector, DetectorParams, Preset, Result,
};

use super::Method;
pub use super::MethodParams;

/// The paper's preset whose network is exactly `network`, if any.
fn preset_of(network: &AutoencoderConfig) -> Option<Preset> {
    [Preset::Mnist, Preset::Cifar10, Preset::Speech, Preset::Pima]
        .into_iter()
        .find(|p| p.autoencoder() == *network)
}

/// The paper's setting of `method` for samples of `input_dim` features.
///
/// `network` is the autoencoder of the neural methods (DASVDD, AE, and the encoder of Deep
/// SVDD); `None` sizes it from the data with [`AutoencoderConfig::for_input`]. When the
/// network is one of the paper's presets, DASVDD gets that preset's training setting
/// ([`DasvddConfig::from_preset`], the default variant's) and the AE the same
/// network learning rate. `epochs` replaces the default number of epochs of the neural methods
/// (for Deep SVDD both pre-training and the one-class phase; pre-training stays off when it is
/// off by default) and `seed` their seed and Isolation Forest's; the classical methods ignore
/// `epochs`, and OCSVM and KDE, being deterministic, ignore `seed`.
pub fn default_params(
    method: Method,
    input_dim: usize,
    network: Option<&AutoencoderConfig>,
    epochs: Option<usize>,
    seed: u64,
) -> Result<MethodParams> {
    if input_dim == 0 {
        return Err(CoreError::param("input_dim", "must be positive"));
    }
    let network = match network {
        Some(n) => {
            n.validate()?;
            if n.input_dim != input_dim {
                return Err(CoreError::param(
                    "network",
                    format!(
                        "expects {} input features but the data has {input_dim}",
                        n.input_dim
                    ),
                ));
            }
            n.clone()
        }
        None => AutoencoderConfig::for_input(input_dim),
    };
    let preset = preset_of(&network);
    let dasvdd_train = preset
        .map(|p| DasvddConfig::from_preset(p).train)
        .unwrap_or_default();
    if epochs == Some(0) {
        return Err(CoreError::param("epochs", "must be at least 1"));
    }
    let mut params = method.paper_default(network, &dasvdd_train, seed);
    if let Some(e) = epochs {
        params.set_epochs(e);
    }
    Ok(params)
}

/// [`default_params`] as a boxed [`DetectorParams`].
pub fn default_detector_params(
    method: Method,
    input_dim: usize,
    network: Option<&AutoencoderConfig>,
    epochs: Option<usize>,
    seed: u64,
) -> Result<Box<dyn DetectorParams>> {
    Ok(default_params(method, input_dim, network, epochs, seed)?.into_boxed())
}

/// The method that wrote the model file at `path`, from its `method` metadata.
pub fn read_method(path: &Path) -> Result<Method> {
    method_of(&Checkpoint::read_any(path)?)
}

/// The method that wrote a file already read, from its `method` metadata.
pub fn method_of(ck: &Checkpoint) -> Result<Method> {
    let name = ck
        .metadata()
        .get("method")
        .ok_or_else(|| ck.error("metadata `method` is missing (not a model file)"))?;
    name.parse().map_err(|_| {
        ck.error(format!(
            "metadata `method` names an unknown method `{name}`"
        ))
    })
}

/// Loads any model file written by a detector's `save`, onto `device` for the neural methods.
pub fn load_detector(path: &Path, device: &Device) -> Result<Box<dyn Detector>> {
    load_detector_from(Checkpoint::read_any(path)?, device)
}

/// [`load_detector`] from a file already read by [`Checkpoint::read_any`] (read once, so that a
/// caller that also wants its metadata need not read and hash it again).
pub fn load_detector_from(ck: Checkpoint, device: &Device) -> Result<Box<dyn Detector>> {
    let method = method_of(&ck)?;
    ck.check_format()?;
    method.load_checkpoint(ck, device)
}
