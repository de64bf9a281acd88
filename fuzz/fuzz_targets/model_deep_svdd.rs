//! Fuzz target: the Deep SVDD model loader on arbitrary bytes as a model file; a model that
//! loads is also used to score two rows.
#![no_main]

use candle_core::Device;
use dasvdd_baselines::DeepSvddModel;
use libfuzzer_sys::fuzz_target;

#[global_allocator]
static ALLOC: dasvdd_fuzz::Guard = dasvdd_fuzz::Guard;

fuzz_target!(|data: &[u8]| {
    dasvdd_fuzz::guarded(data, dasvdd_fuzz::BASE, || {
        let p = dasvdd_fuzz::scratch_file("model.safetensors", data);
        if let Ok(m) = DeepSvddModel::load(&p, &Device::Cpu) {
            dasvdd_fuzz::score_a_little(&m);
        }
    });
});
