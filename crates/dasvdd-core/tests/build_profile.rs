//! The build settings every user path compiles with: the dependencies (candle, gemm) of this
//! test build, which shares its profile with `cargo xtask` and the README's commands, carry no
//! debug assertions and are optimised. gemm built with debug assertions runs 2-3x slower, and a
//! speed ratio measured inside one binary would not notice, since both sides slow down together.

use dasvdd_core::build_probe;

#[test]
fn dependencies_are_built_without_debug_assertions() {
    assert!(
        !std::hint::black_box(build_probe::DEBUG_ASSERTIONS),
        "the dev/test profile builds dependencies with debug assertions: {}",
        build_probe::describe()
    );
}

#[test]
fn core_kernels_are_built_without_debug_assertions() {
    assert!(
        !std::hint::black_box(dasvdd_core::kernels::DEBUG_ASSERTIONS),
        "dasvdd-core's kernels are built with debug assertions in the dev/test profile"
    );
}

#[test]
fn dependencies_are_optimised() {
    assert!(
        build_probe::dependencies_fast(),
        "slow dependency build: {}",
        build_probe::describe()
    );
    assert_eq!(build_probe::slow_build_warning(), None);
}

#[test]
fn cargo_aliases_use_the_checked_profile() {
    // `cargo xtask` must build in the profile this test checks (dev), or in release; a custom
    // profile added to the alias would escape the check above.
    let config = include_str!("../../../.cargo/config.toml");
    let alias = config
        .lines()
        .find(|l| l.trim_start().starts_with("xtask"))
        .expect("no xtask alias in .cargo/config.toml");
    assert!(
        !alias.contains("--profile") || alias.contains("--profile release"),
        "the xtask alias builds in an unchecked profile: {alias}"
    );
}
