//! Times embedding 10,000 CIFAR-10-shaped images with Ruff's CIFAR-10 LeNet encoder
//! (`forward_eval`, as scoring and the centre run it) in batches of the given size, twice. Run
//! it as `cargo run --example lenet_score_batch -p dasvdd-baselines -- <batch>`; the README's
//! section "Freed memory kept for reuse" compares batches of 1,024 and 200 with it.

use candle_core::{Device, Tensor};
use dasvdd_baselines::lenet::{LenetEncoder, LenetKind};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::time::Instant;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

const IMAGES: usize = 10_000;

fn main() -> Result<()> {
    let batch: usize = match std::env::args().nth(1) {
        Some(b) => b.parse().map_err(|e| format!("batch {b:?}: {e}"))?,
        None => return Err("usage: lenet_score_batch <batch>".into()),
    };
    if batch == 0 {
        return Err("the batch must hold at least one image".into());
    }
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let encoder = LenetEncoder::init(LenetKind::Cifar10, &mut rng, &Device::Cpu)?;
    let x = Tensor::rand(0f32, 1.0, (IMAGES, 3072), &Device::Cpu)?;
    for _ in 0..2 {
        let start = Instant::now();
        let mut embedded = 0;
        for first in (0..IMAGES).step_by(batch) {
            let n = batch.min(IMAGES - first);
            embedded += encoder.forward_eval(&x.narrow(0, first, n)?)?.dims()[0];
        }
        println!(
            "batch {batch}: {embedded} images in {:.3} s",
            start.elapsed().as_secs_f64()
        );
    }
    Ok(())
}
