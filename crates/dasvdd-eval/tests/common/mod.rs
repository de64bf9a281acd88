//! Test helpers shared by the integration tests: a tiny deterministic generator whose output
//! the Python script in `sklearn.rs` reproduces bit for bit, so inputs need not be embedded.

#![allow(dead_code)] // Each test binary uses a different subset of these helpers.

/// 64-bit linear congruential generator (Knuth's MMIX constants); output = state >> 33.
pub struct Lcg(pub u64);

impl Lcg {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    /// A value in `[0, 1)` on a grid of 2^31 steps.
    pub fn next_f64(&mut self) -> f64 {
        self.next_u64() as f64 / (1u64 << 31) as f64
    }
}

/// Labels ~ Bernoulli(`pos_percent` / 100); score = (uniform level in `0..levels`
/// + `shift` * label - `offset`) / 10. Mirrors `make_case` of the Python script.
pub fn make_case(
    seed: u64,
    n: usize,
    levels: u64,
    shift: u64,
    offset: i64,
    pos_percent: u64,
) -> (Vec<f64>, Vec<u8>) {
    let mut rng = Lcg(seed);
    let mut scores = Vec::with_capacity(n);
    let mut labels = Vec::with_capacity(n);
    for _ in 0..n {
        let y = u8::from(rng.next_u64() % 100 < pos_percent);
        let level = rng.next_u64() % levels + shift * u64::from(y);
        scores.push((level as i64 - offset) as f64 / 10.0);
        labels.push(y);
    }
    (scores, labels)
}

/// Asserts `|a - b| <= tol` with a readable message.
pub fn assert_close(a: f64, b: f64, tol: f64, what: &str) {
    assert!(
        (a - b).abs() <= tol,
        "{what}: got {a}, expected {b} (tol {tol})"
    );
}
