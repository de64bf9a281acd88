//! Baseline anomaly detectors of the DASVDD paper (Section 4.2), behind the detector interface
//! of `dasvdd-core`: one-class SVM, kernel density estimation, Isolation Forest, autoencoder
//! and Deep SVDD.
//!
//! Architecture invariant: this crate depends on `dasvdd-core` only among project crates and
//! reuses its networks and trainers rather than copying them.
//!
//! Every method has a params struct (hand-written, documented `Default`) whose `fit` validates
//! the hyperparameters and returns a fitted model, a fitted model that implements
//! [`dasvdd_core::Detector`] (scores: higher = more anomalous), and a `load` that reads the one
//! safetensors file `save` writes.

#![warn(missing_docs)]

pub mod ae;
mod common;
pub mod config;
pub mod deep_svdd;
pub mod iforest;
pub mod kde;
pub mod lenet;
pub mod ocsvm;
pub mod registry;

pub use ae::{AeModel, AeParams, EpochLoss};
pub use config::Config;
pub use deep_svdd::{DeepSvddModel, DeepSvddNetwork, DeepSvddParams};
pub use iforest::{IsolationForest, IsolationForestParams};
pub use kde::{Bandwidth, Kde, KdeParams};
pub use ocsvm::{Gamma, OneClassSvm, OneClassSvmParams};
pub use registry::settings::{self, BaselineSettings};
pub use registry::{
    default_detector_params, default_params, fit_stacked, load_detector, load_detector_from,
    method_of, Method, MethodInfo, MethodParams, METHODS,
};
