//! How the dependencies of this build were compiled, read at run time.
//!
//! This crate is a path dependency outside the workspace, so Cargo compiles it with the settings
//! of `[profile.<name>.package."*"]`, the same as candle and gemm. Its constants therefore say
//! whether the hot dependencies of the running binary kept debug assertions (which cost 2-3x in
//! gemm's matrix products on some CPUs) and at what optimisation level they were built.

/// Whether the dependencies were compiled with debug assertions.
pub const DEBUG_ASSERTIONS: bool = cfg!(debug_assertions);

/// The `opt-level` the dependencies were compiled with (`"0"` to `"3"`, `"s"`, `"z"`).
pub const OPT_LEVEL: &str = env!("DASVDD_PROBE_OPT_LEVEL");

/// The Cargo profile the binary was built in as Cargo reports it to build scripts: `"debug"`
/// for `dev`/`test` and profiles inheriting from them, `"release"` for `release`/`bench` and
/// profiles inheriting from those.
pub const PROFILE: &str = env!("DASVDD_PROBE_PROFILE");

/// Whether the dependencies were built for speed: no debug assertions and `opt-level` 2 or 3.
pub fn dependencies_fast() -> bool {
    !DEBUG_ASSERTIONS && matches!(OPT_LEVEL, "2" | "3")
}

/// One line describing the dependencies' build, e.g. `dependencies: opt-level 3, no debug
/// assertions (profile debug)`.
pub fn describe() -> String {
    format!(
        "dependencies: opt-level {OPT_LEVEL}, {} (profile {PROFILE})",
        if DEBUG_ASSERTIONS {
            "debug assertions ON"
        } else {
            "no debug assertions"
        }
    )
}

/// A one-line warning with the fix when the dependencies were built slow, `None` otherwise.
pub fn slow_build_warning() -> Option<String> {
    (!dependencies_fast()).then(|| {
        format!(
            "this binary's dependencies were built slow ({}): training runs 2-3x slower; build \
             with `--release`, or set `debug-assertions = false` and `opt-level = 3` under \
             `[profile.dev.package.\"*\"]` in the workspace Cargo.toml",
            describe()
        )
    })
}
