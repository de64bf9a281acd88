//! Fuzz target: the 16-bit PCM wav reader of MIMII clips (one channel and the mean).
#![no_main]

use dasvdd_data::mimii::{read_wav, ChannelMode};
use libfuzzer_sys::fuzz_target;

#[global_allocator]
static ALLOC: dasvdd_fuzz::Guard = dasvdd_fuzz::Guard;

fuzz_target!(|data: &[u8]| {
    dasvdd_fuzz::guarded(data, dasvdd_fuzz::BASE, || {
        let p = dasvdd_fuzz::scratch_file("fuzz.wav", data);
        let _ = read_wav(&p, ChannelMode::Average, 16_000);
        let _ = read_wav(&p, ChannelMode::Channel(1), 16_000);
    });
});
