//! Evaluation of anomaly scores: ROC curves, AUROC, average precision and F1.
//!
//! Architecture invariant: this crate works on plain `f64` slices and depends on no other
//! project crate and on no tensor library.
