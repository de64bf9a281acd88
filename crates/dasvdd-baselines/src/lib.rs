//! Baseline anomaly detectors of the DASVDD paper (Section 4.2), behind the detector interface
//! of `dasvdd-core`: one-class SVM, kernel density estimation, Isolation Forest, autoencoder
//! and Deep SVDD.
//!
//! Architecture invariant: this crate depends on `dasvdd-core` only among project crates and
//! reuses its networks and trainers rather than copying them.
