//! Fuzz target: the IDX reader (MNIST, Fashion-MNIST), gzipped or not, as images and as
//! labels, and as a user's file of any value type (the command line's `--data`).
#![no_main]

use dasvdd_data::idx::{parse_idx, parse_idx_matrix, read_idx_images, read_idx_labels};
use std::path::Path;
use libfuzzer_sys::fuzz_target;

#[global_allocator]
static ALLOC: dasvdd_fuzz::Guard = dasvdd_fuzz::Guard;

fuzz_target!(|data: &[u8]| {
    dasvdd_fuzz::guarded(data, dasvdd_fuzz::BASE, || {
        let _ = parse_idx(Path::new("fuzz.idx"), data, 3);
        let _ = parse_idx_matrix(Path::new("fuzz.idx"), data);
        let p = dasvdd_fuzz::scratch_file("fuzz-idx3-ubyte", data);
        let _ = read_idx_images(&p);
        let _ = read_idx_labels(&p, 10);
    });
});
