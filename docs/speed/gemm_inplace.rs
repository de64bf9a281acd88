//! The weight side of the step's products read in place by `gemm` (no packing) against packed,
//! with the weights' row stride as the network has it and padded by 16 values: the measurement
//! behind docs/speed.md, "The Intel Xeon, afternoon". Not part of the workspace; to run it:
//!
//! ```sh
//! cargo new /tmp/padexp && cp docs/speed/gemm_inplace.rs /tmp/padexp/src/main.rs
//! cd /tmp/padexp && cargo add gemm@0.19 --features x86-v4 && cargo run --release
//! ```
//!
//! Each product is the forward one of a layer (`dst (200 x n) = a (200 x k) @ w (k x n)`, all
//! row-major, `w`'s rows `ld` values apart), one thread, the same operands 200 times after 3
//! warm-up calls; "in place" lifts gemm's LHS packing threshold to 64 microkernel widths, so
//! the batch of 200 never packs the weights.
use std::time::Instant;
fn bench(m: usize, k: usize, n: usize, ld: usize, thr: usize, reps: usize) -> f64 {
    // dst (m x n) row-major = a (m x k) row-major @ w (k x n) row-major with row stride ld
    let a: Vec<f32> = (0..m * k).map(|i| ((i * 7919) % 1000) as f32 / 1000.0).collect();
    let w: Vec<f32> = (0..k * ld).map(|i| ((i * 104729) % 997) as f32 / 997.0).collect();
    let mut dst = vec![0f32; m * n];
    gemm::set_lhs_packing_threshold_single_thread(thr);
    let run = |dst: &mut [f32]| unsafe {
        gemm::gemm(m, n, k, dst.as_mut_ptr(), 1, n as isize, false, a.as_ptr(), 1, k as isize,
            w.as_ptr(), 1, ld as isize, 0.0, 1.0, false, false, false, gemm::Parallelism::None);
    };
    for _ in 0..3 { run(&mut dst); }
    let t = Instant::now();
    for _ in 0..reps { run(&mut dst); }
    let s = t.elapsed().as_secs_f64();
    2.0 * (m * n * k * reps) as f64 / s / 1e9
}
fn main() {
    let def = gemm::get_lhs_packing_threshold_single_thread();
    println!("default threshold {def}");
    for &(k, n) in &[(784usize, 1024usize), (1024, 256), (256, 256), (256, 1024), (1024, 784)] {
        for round in 0..2 {
            let p = bench(200, k, n, n, def, 200);
            let u = bench(200, k, n, n, 64, 200);
            let pp = bench(200, k, n, n + 16, def, 200);
            let up = bench(200, k, n, n + 16, 64, 200);
            println!("k={k} n={n} r{round}: packed {p:.0}  inplace {u:.0}  packed+pad {pp:.0}  inplace+pad {up:.0} GFLOP/s");
        }
    }
}
