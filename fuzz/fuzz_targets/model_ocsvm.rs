//! Fuzz target: the OCSVM model loader on arbitrary bytes as a model file; a model that
//! loads is also used to score two rows.
#![no_main]

use dasvdd_baselines::OneClassSvm;
use libfuzzer_sys::fuzz_target;

#[global_allocator]
static ALLOC: dasvdd_fuzz::Guard = dasvdd_fuzz::Guard;

fuzz_target!(|data: &[u8]| {
    dasvdd_fuzz::guarded(data, dasvdd_fuzz::BASE, || {
        let p = dasvdd_fuzz::scratch_file("model.safetensors", data);
        if let Ok(m) = OneClassSvm::load(&p) {
            dasvdd_fuzz::score_a_little(&m);
        }
    });
});
