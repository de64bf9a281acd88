//! DASVDD (Deep Autoencoding Support Vector Data Descriptor) in candle: the autoencoder, the
//! losses, the AdaGrad centre optimiser, the trainer of Algorithm 1, the gamma heuristic,
//! scoring, checkpoints, and the detector interface shared with the baselines.
//!
//! Architecture invariants: this crate depends on candle but on no other project crate; it never
//! prints (it emits `tracing` events) and never panics on user input (it returns [`CoreError`]).
//! The training step does not use candle's autograd: [`mlp`] writes the backward pass by hand
//! around the matrix products and fused kernels of [`kernels`], all candle custom ops with a
//! plain candle fallback on other devices.

#![warn(missing_docs)]

pub mod adagrad;
pub mod adam;
pub mod autoencoder;
pub mod checkpoint;
pub mod config;
pub mod dasvdd;
pub mod detector;
pub mod device;
pub mod epochs;
pub mod error;
pub mod heap;
pub mod kernels;
pub mod mlp;
pub mod stack;
pub mod step_profile;

pub use adagrad::{AdaGrad, ParamsAdaGrad};
pub use adam::{Adam, AdamConfig, AdamStep};
pub use autoencoder::Autoencoder;
pub use config::{
    Activation, AutoencoderConfig, CenterMode, ConfigFile, DasvddConfig, DasvddParams, GammaChoice,
    Preset, TrainConfig,
};
pub use dasvdd::{
    estimate_gamma, estimate_gamma_until, fit, fit_stacked, fit_until, fit_until_polled,
    DasvddModel, EpochRecord, GammaEstimate,
};
/// How this build's dependencies were compiled (debug assertions, opt-level), for start-up
/// warnings and `cargo xtask perf`.
pub use dasvdd_build_probe as build_probe;
pub use detector::{Detector, DetectorParams, EpochProgress, SampleView, ScoreTerm};
pub use device::{device_name, parse_device, pin_cpu_threads};
pub use error::{CoreError, Result};
