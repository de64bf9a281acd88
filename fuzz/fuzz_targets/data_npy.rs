//! Fuzz target: the NumPy `.npy` reader, as an array, a feature matrix and labels.
#![no_main]

use dasvdd_data::npy::{parse_npy, read_npy_labels, read_npy_matrix};
use std::path::Path;
use libfuzzer_sys::fuzz_target;

#[global_allocator]
static ALLOC: dasvdd_fuzz::Guard = dasvdd_fuzz::Guard;

fuzz_target!(|data: &[u8]| {
    dasvdd_fuzz::guarded(data, dasvdd_fuzz::BASE, || {
        let _ = parse_npy(Path::new("fuzz.npy"), data);
        let p = dasvdd_fuzz::scratch_file("fuzz.npy", data);
        let _ = read_npy_matrix(&p);
        let _ = read_npy_labels(&p);
    });
});
