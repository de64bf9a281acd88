//! Configuration of DASVDD: the autoencoder architecture (presets of the paper or any list of
//! widths) and the training hyperparameters of Algorithm 1, with the paper's defaults.
//!
//! Split by concern into private submodules, whose items are re-exported here: the network
//! (`model`), the training hyperparameters (`train`), the [`Variant`] (`variant`) and the TOML
//! [`ConfigFile`] (`file`).

use serde::{Deserialize, Serialize};

use crate::error::Result;

mod file;
mod model;
mod train;
mod variant;

pub use file::{ConfigFile, ModelSection, TrainSection};
pub use model::{
    Activation, AutoencoderConfig, Preset, LEAKY_SLOPE, MAX_HIDDEN_LAYERS, MAX_PARAMETERS,
    MAX_WIDTH,
};
pub use train::{
    CenterGrad, CenterMode, GammaChoice, GammaNorm, SvddTerm, TrainConfig, MAX_GAMMA_TRIALS,
};
pub use variant::Variant;

/// DASVDD's parameters under the name every method's follow (`XParams::fit`, as
/// `AeParams::fit` or `KdeParams::fit`): the same type as [`DasvddConfig`].
pub type DasvddParams = DasvddConfig;

/// Everything needed to build and train a DASVDD model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DasvddConfig {
    /// The autoencoder's architecture.
    pub model: AutoencoderConfig,
    /// The training hyperparameters of Algorithm 1.
    pub train: TrainConfig,
}

impl DasvddConfig {
    /// A config with the preset's network and the default [`Variant`]'s training settings
    /// for that dataset.
    pub fn from_preset(preset: Preset) -> Self {
        Self::from_preset_variant(preset, Variant::default())
    }

    /// A config with the preset's network and `variant`'s training settings for that dataset.
    pub fn from_preset_variant(preset: Preset, variant: Variant) -> Self {
        DasvddConfig {
            model: preset.autoencoder(),
            train: variant.train_config(Some(preset)),
        }
    }

    /// Validates both parts.
    pub fn validate(&self) -> Result<()> {
        self.model.validate()?;
        self.train.validate()
    }
}

#[cfg(test)]
mod tests;
