//! Fuzz target: the TOML config parser and its resolution into a DASVDD config.
#![no_main]

use dasvdd_core::ConfigFile;
use libfuzzer_sys::fuzz_target;

#[global_allocator]
static ALLOC: dasvdd_fuzz::Guard = dasvdd_fuzz::Guard;

fuzz_target!(|data: &[u8]| {
    dasvdd_fuzz::guarded(data, dasvdd_fuzz::BASE, || {
        let Ok(text) = std::str::from_utf8(data) else {
            return;
        };
        if let Ok(f) = ConfigFile::parse(text, "fuzz.toml") {
            let _ = f.resolve(Some(8));
            let _ = f.resolve(None);
        }
    });
});
