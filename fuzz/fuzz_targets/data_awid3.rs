//! Fuzz target: the AWID3 CSV reader (header-named traffic fields, mixed types, labels).
#![no_main]

use dasvdd_data::awid3::{load, Awid3Options};
use libfuzzer_sys::fuzz_target;

#[global_allocator]
static ALLOC: dasvdd_fuzz::Guard = dasvdd_fuzz::Guard;

fuzz_target!(|data: &[u8]| {
    dasvdd_fuzz::guarded(data, dasvdd_fuzz::BASE, || {
        let p = dasvdd_fuzz::scratch_file("fuzz.csv", data);
        let _ = load(&p, &Awid3Options::default());
    });
});
