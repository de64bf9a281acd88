//! The built-in synthetic dataset: ten classes of 8x8 grey images in [0, 1], generated
//! deterministically in code, so that the quick benchmark runs on a fresh machine without any
//! download.
//!
//! Each class has a prototype made of two Gaussian blobs at class-specific places; a sample is
//! its class prototype with a random brightness, shifted by at most one pixel, plus Gaussian
//! noise, clipped to [0, 1]. The classes overlap enough that AUROCs are below 1.

use dasvdd_data::{LabeledData, Matrix, OneClassSplit};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The dataset's name on the command line and in results.
pub const NAME: &str = "synthetic";
/// Number of classes.
pub const CLASSES: u8 = 10;
/// Side of the square images.
pub const SIDE: usize = 8;
/// Training samples per class (official training split).
pub const TRAIN_PER_CLASS: usize = 400;
/// Test samples per class (official test split).
pub const TEST_PER_CLASS: usize = 100;
/// Standard deviation of the pixel noise.
const NOISE: f64 = 0.15;

/// The prototype image of class `class`.
fn prototype(class: u8) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(0xDA5D_0000 + u64::from(class));
    let blobs: Vec<(f64, f64, f64)> = (0..2)
        .map(|_| {
            (
                rng.random_range(1.0..(SIDE as f64 - 2.0)),
                rng.random_range(1.0..(SIDE as f64 - 2.0)),
                rng.random_range(0.9..2.0),
            )
        })
        .collect();
    let mut img = vec![0.0; SIDE * SIDE];
    for (r, row) in img.chunks_mut(SIDE).enumerate() {
        for (c, v) in row.iter_mut().enumerate() {
            for &(br, bc, w) in &blobs {
                let d2 = (r as f64 - br).powi(2) + (c as f64 - bc).powi(2);
                *v += (-d2 / (2.0 * w * w)).exp();
            }
        }
    }
    img.iter_mut().for_each(|v| *v = v.min(1.0));
    img
}

fn normal(rng: &mut ChaCha8Rng) -> f64 {
    // Box-Muller; 1 - u keeps the logarithm's argument in (0, 1].
    let u: f64 = rng.random();
    let v: f64 = rng.random();
    (-2.0 * (1.0 - u).ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

/// `per_class` samples of every class, drawn from stream `stream`: (pixels, labels).
fn draw(per_class: usize, stream: u64) -> (Vec<f32>, Vec<u8>) {
    let protos: Vec<Vec<f64>> = (0..CLASSES).map(prototype).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(0x5EED);
    rng.set_stream(stream);
    let mut x = Vec::with_capacity(per_class * CLASSES as usize * SIDE * SIDE);
    let mut y = Vec::with_capacity(per_class * CLASSES as usize);
    for i in 0..per_class * CLASSES as usize {
        let class = (i % CLASSES as usize) as u8;
        let p = &protos[class as usize];
        let bright: f64 = rng.random_range(0.6..1.0);
        let dr = rng.random_range(-1i32..=1) as isize;
        let dc = rng.random_range(-1i32..=1) as isize;
        for r in 0..SIDE as isize {
            for c in 0..SIDE as isize {
                let (sr, sc) = (r - dr, c - dc);
                let base = if (0..SIDE as isize).contains(&sr) && (0..SIDE as isize).contains(&sc) {
                    p[sr as usize * SIDE + sc as usize]
                } else {
                    0.0
                };
                let v = bright * base + NOISE * normal(&mut rng);
                x.push(v.clamp(0.0, 1.0) as f32);
            }
        }
        y.push(class);
    }
    (x, y)
}

/// The one-class split of normal class `class` under the image protocol: train on that class of
/// the training split, test on the whole test split (that class 0, others 1).
pub fn split(class: u8) -> anyhow::Result<OneClassSplit> {
    if class >= CLASSES {
        anyhow::bail!("synthetic: normal class {class} does not exist: the classes are 0..9");
    }
    let d = SIDE * SIDE;
    let (train_x, train_y) = draw(TRAIN_PER_CLASS, 1);
    let (test_x, test_y) = draw(TEST_PER_CLASS, 2);
    let mut train = Matrix::empty(d);
    for (row, &label) in train_x.chunks_exact(d).zip(&train_y) {
        if label == class {
            train.push_row(row);
        }
    }
    let rows = test_y.len();
    let test = LabeledData {
        x: Matrix::new(test_x, rows, d)
            .ok_or_else(|| anyhow::anyhow!("synthetic: test matrix has the wrong size"))?,
        y: test_y.iter().map(|&l| u8::from(l != class)).collect(),
        groups: None,
    };
    Ok(OneClassSplit::new(NAME, train, test)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_are_deterministic_and_sized() {
        let a = split(3).unwrap();
        let b = split(3).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.counts.train, TRAIN_PER_CLASS);
        assert_eq!(a.counts.test_normal, TEST_PER_CLASS);
        assert_eq!(a.counts.test_anomalous, 9 * TEST_PER_CLASS);
        assert!(a.train.data.iter().all(|v| (0.0..=1.0).contains(v)));
        assert_ne!(split(4).unwrap().train, a.train);
        assert!(split(10).is_err());
    }

    #[test]
    fn classes_differ_more_than_samples_within_a_class() {
        // Mean distance of class-0 test samples to the class-0 training mean must be smaller
        // than that of the other classes, or no detector could learn anything.
        let s = split(0).unwrap();
        let d = s.train.cols;
        let mut mean = vec![0.0f64; d];
        for row in s.train.row_iter() {
            for (m, v) in mean.iter_mut().zip(row) {
                *m += f64::from(*v) / s.train.rows as f64;
            }
        }
        let (mut dn, mut da, mut nn, mut na) = (0.0, 0.0, 0, 0);
        for (row, &y) in s.test.x.row_iter().zip(&s.test.y) {
            let dist: f64 = row
                .iter()
                .zip(&mean)
                .map(|(v, m)| (f64::from(*v) - m).powi(2))
                .sum();
            if y == 0 {
                dn += dist;
                nn += 1;
            } else {
                da += dist;
                na += 1;
            }
        }
        assert!(dn / nn as f64 * 1.2 < da / na as f64);
    }
}
