//! Fuzz target: the reader of CIFAR-10's Python version batches (a pickle reader that runs no
//! code).
#![no_main]

use dasvdd_data::cifar::parse_cifar_python_batch;
use std::path::Path;
use libfuzzer_sys::fuzz_target;

#[global_allocator]
static ALLOC: dasvdd_fuzz::Guard = dasvdd_fuzz::Guard;

fuzz_target!(|data: &[u8]| {
    dasvdd_fuzz::guarded(data, dasvdd_fuzz::BASE, || {
        if let Ok(set) = parse_cifar_python_batch(Path::new("data_batch_1"), data) {
            let _ = set.to_unit_matrix();
        }
    });
});
