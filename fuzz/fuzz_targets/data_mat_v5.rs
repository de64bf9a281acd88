//! Fuzz target: the `.mat` reader from MAT v5 (ODDS `.mat`, zlib-compressed elements, both byte orders) seeds;
//! the reader picks the version from the header, so mutations reach both.
#![no_main]

use dasvdd_data::mat::read_mat_bytes;
use std::path::Path;
use libfuzzer_sys::fuzz_target;

#[global_allocator]
static ALLOC: dasvdd_fuzz::Guard = dasvdd_fuzz::Guard;

fuzz_target!(|data: &[u8]| {
    dasvdd_fuzz::guarded(data, dasvdd_fuzz::BASE, || {
        let _ = read_mat_bytes(Path::new("fuzz.mat"), data);
    });
});
