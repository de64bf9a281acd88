//! The autoencoder's architecture: layer activations, the paper's network presets, and any
//! list of widths with its limits.

use serde::{Deserialize, Serialize};

use crate::error::{CoreError, Result};

/// Activation applied to a layer's output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// Leaky ReLU with negative slope 0.01 (PyTorch's default slope).
    LeakyRelu,
    /// Logistic sigmoid.
    Sigmoid,
    /// No activation.
    Identity,
}

impl Activation {
    /// Parses `sigmoid`, `leaky_relu` (also `leaky-relu`, `leakyrelu`) or `none`/`identity`.
    pub fn parse(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().replace('-', "_").as_str() {
            "sigmoid" => Ok(Activation::Sigmoid),
            "leaky_relu" | "leakyrelu" => Ok(Activation::LeakyRelu),
            "none" | "identity" | "linear" => Ok(Activation::Identity),
            other => Err(CoreError::param(
                "output_activation",
                format!("`{other}` is not sigmoid, leaky_relu or none"),
            )),
        }
    }
}

/// Slope of the leaky ReLU for negative inputs.
pub const LEAKY_SLOPE: f32 = 0.01;

/// Widest layer a network may have: 2^24 units, far above any real input (CIFAR-10 has 3072
/// features), so that a mistyped or hostile width is an error rather than an allocation.
pub const MAX_WIDTH: usize = 1 << 24;
/// Most hidden layers a network may have.
pub const MAX_HIDDEN_LAYERS: usize = 64;
/// Most parameters (weights and biases, encoder and decoder) a network may have: 2^30, 4 GiB
/// of `f32`, thousands of times the paper's largest network. Each width below [`MAX_WIDTH`] is
/// not enough: two adjacent layers of 10^7 units would ask for 10^14 weights, an allocation
/// that aborts the process.
pub const MAX_PARAMETERS: usize = 1 << 30;

/// Architecture of the fully connected autoencoder.
///
/// The encoder maps `input_dim` through `hidden` to `latent`; the decoder mirrors it
/// (`latent`, reversed `hidden`, `input_dim`). Every hidden layer and the code layer are followed
/// by a leaky ReLU (slope 0.01); the output layer by `output_activation`. All layers have biases.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AutoencoderConfig {
    /// Features per sample: the width of the input and of the reconstruction.
    pub input_dim: usize,
    /// Widths of the encoder's hidden layers, from the input side.
    pub hidden: Vec<usize>,
    /// Width of the code z (and of the centre c).
    pub latent: usize,
    /// Activation of the decoder's output layer.
    pub output_activation: Activation,
}

/// The network presets of the paper: the networks of the 2021 code that produced its Table 2
/// (REFERENCE.md). Section 4.3's text describes them with one layer of the code's width fewer
/// (and PIMA's as 8-10-10-4); docs/fidelity.md, "The network", measures the difference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    /// MNIST and Fashion-MNIST: 784-1024-256-256, sigmoid output.
    Mnist,
    /// CIFAR-10: 3072-1024-512-256-256, leaky ReLU output.
    Cifar10,
    /// ODDS Speech: 400-1024-512-256-256, linear output.
    Speech,
    /// ODDS PIMA: 8-10-4-4, linear output.
    Pima,
}

impl Preset {
    /// Parses a preset name (`fmnist` and `fashion-mnist` are accepted for `mnist`).
    pub fn parse(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "mnist" | "fmnist" | "fashion-mnist" | "fashion_mnist" => Ok(Preset::Mnist),
            "cifar10" | "cifar-10" => Ok(Preset::Cifar10),
            "speech" => Ok(Preset::Speech),
            "pima" => Ok(Preset::Pima),
            other => Err(CoreError::param(
                "preset",
                format!("unknown preset `{other}` (expected mnist, cifar10, speech or pima)"),
            )),
        }
    }

    /// The preset's architecture.
    pub fn autoencoder(self) -> AutoencoderConfig {
        let (input_dim, hidden, latent, output_activation) = match self {
            Preset::Mnist => (784, vec![1024, 256], 256, Activation::Sigmoid),
            Preset::Cifar10 => (3072, vec![1024, 512, 256], 256, Activation::LeakyRelu),
            Preset::Speech => (400, vec![1024, 512, 256], 256, Activation::Identity),
            Preset::Pima => (8, vec![10, 4], 4, Activation::Identity),
        };
        AutoencoderConfig {
            input_dim,
            hidden,
            latent,
            output_activation,
        }
    }
}

impl AutoencoderConfig {
    /// Sizes a network for `input_dim` features when no preset or config is given: the preset
    /// of the same width when there is one (784 -> `mnist`, ...), otherwise one hidden layer
    /// that halves the width twice, with a linear output.
    pub fn for_input(input_dim: usize) -> Self {
        for p in [Preset::Mnist, Preset::Cifar10, Preset::Speech, Preset::Pima] {
            if p.autoencoder().input_dim == input_dim {
                return p.autoencoder();
            }
        }
        let h1 = (input_dim / 2).max(4);
        let latent = (h1 / 2).max(2);
        AutoencoderConfig {
            input_dim,
            hidden: vec![h1, latent],
            latent,
            output_activation: Activation::Identity,
        }
    }

    /// Layer widths of the encoder, from input to code.
    pub fn encoder_widths(&self) -> Vec<usize> {
        let mut w = vec![self.input_dim];
        w.extend(&self.hidden);
        w.push(self.latent);
        w
    }

    /// Layer widths of the decoder, from code to output.
    pub fn decoder_widths(&self) -> Vec<usize> {
        let mut w = self.encoder_widths();
        w.reverse();
        w
    }

    /// Checks every width is positive and at most [`MAX_WIDTH`], and that there are at most
    /// [`MAX_HIDDEN_LAYERS`] hidden layers.
    pub fn validate(&self) -> Result<()> {
        for (name, w) in [("input_dim", self.input_dim), ("latent", self.latent)] {
            if w == 0 || w > MAX_WIDTH {
                return Err(CoreError::param(
                    name,
                    format!("{w} is not in 1..={MAX_WIDTH}"),
                ));
            }
        }
        if let Some(w) = self.hidden.iter().find(|w| **w == 0 || **w > MAX_WIDTH) {
            return Err(CoreError::param(
                "hidden",
                format!("width {w} is not in 1..={MAX_WIDTH}"),
            ));
        }
        if self.hidden.len() > MAX_HIDDEN_LAYERS {
            return Err(CoreError::param(
                "hidden",
                format!(
                    "{} hidden layers; at most {MAX_HIDDEN_LAYERS} are allowed",
                    self.hidden.len()
                ),
            ));
        }
        Ok(())
    }

    /// [`validate`](Self::validate), and at most [`MAX_PARAMETERS`] parameters: what a network
    /// about to be initialised (allocated) must satisfy. A network read from a model file is
    /// checked against the file's size instead.
    pub fn validate_for_init(&self) -> Result<()> {
        self.validate()?;
        match crate::autoencoder::Autoencoder::parameter_count(self) {
            Some(n) if n <= MAX_PARAMETERS => Ok(()),
            n => Err(CoreError::param(
                "hidden",
                format!(
                    "the network {:?} has {} parameters; at most {MAX_PARAMETERS} are allowed",
                    self.encoder_widths(),
                    n.map_or_else(|| "more than usize::MAX".to_string(), |n| n.to_string())
                ),
            )),
        }
    }
}
