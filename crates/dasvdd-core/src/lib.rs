//! DASVDD (Deep Autoencoding Support Vector Data Descriptor) in candle: the autoencoder, the
//! losses, the AdaGrad centre optimiser, the trainer of Algorithm 1, the gamma heuristic,
//! scoring, checkpoints, and the detector interface shared with the baselines.
//!
//! Architecture invariants: this crate depends on candle but on no other project crate; it never
//! prints (it emits `tracing` events) and never panics on user input (it returns [`CoreError`]).

pub mod detector;
pub mod device;
pub mod error;

pub use detector::{Detector, DetectorParams, SampleView};
pub use device::{device_name, parse_device};
pub use error::{CoreError, Result};
