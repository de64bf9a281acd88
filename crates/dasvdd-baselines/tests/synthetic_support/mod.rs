//! Small synthetic data and network shared by the AE and Deep SVDD tests.

use dasvdd_core::{Activation, AutoencoderConfig};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub const D: usize = 20;

/// Normal samples near a 3-dimensional subspace of R^20 (values in [0, 1]); anomalies are
/// uniform noise.
pub fn synthetic(n_normal: usize, n_anomal: usize, seed: u64) -> (Vec<f32>, Vec<f32>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    // The subspace is the same for every seed, so train and test share it.
    let mut basis_rng = ChaCha8Rng::seed_from_u64(99);
    let basis: Vec<f32> = (0..3 * D)
        .map(|_| basis_rng.random_range(-1.0..1.0))
        .collect();
    let mut normal = Vec::new();
    for _ in 0..n_normal {
        let w: Vec<f32> = (0..3).map(|_| rng.random_range(-1.0..1.0)).collect();
        for j in 0..D {
            let v: f32 = (0..3).map(|k| w[k] * basis[k * D + j]).sum::<f32>();
            normal.push(0.5 + 0.15 * v + rng.random_range(-0.01..0.01));
        }
    }
    let anomal = (0..n_anomal * D)
        .map(|_| rng.random_range(0.0..1.0))
        .collect();
    (normal, anomal)
}

/// A small autoencoder for `D` features.
pub fn network() -> AutoencoderConfig {
    AutoencoderConfig {
        input_dim: D,
        hidden: vec![32],
        latent: 8,
        output_activation: Activation::Sigmoid,
    }
}
