//! Passes the optimisation level and profile this crate is compiled with to its source.

fn main() {
    for var in ["OPT_LEVEL", "PROFILE"] {
        let value = std::env::var(var).unwrap_or_else(|_| "unknown".to_owned());
        println!("cargo:rustc-env=DASVDD_PROBE_{var}={value}");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
