//! Fuzz target: the TOML config parser (`[model]`, `[train]`, typed `[baselines.*]` tables) and
//! its resolution into every method's parameters, as `dasvdd train --config` and `bench-all`
//! read a config file.
#![no_main]

use dasvdd_baselines::{Config, Method};
use libfuzzer_sys::fuzz_target;

#[global_allocator]
static ALLOC: dasvdd_fuzz::Guard = dasvdd_fuzz::Guard;

fuzz_target!(|data: &[u8]| {
    dasvdd_fuzz::guarded(data, dasvdd_fuzz::BASE, || {
        let Ok(text) = std::str::from_utf8(data) else {
            return;
        };
        if let Ok(c) = Config::parse("fuzz.toml", text) {
            let _ = c.file.resolve(None);
            for m in Method::ALL {
                let _ = c.method_params(m, 8, None, Some(1));
            }
        }
    });
});
