//! The weights kept in `gemm`'s packed layout between steps (as a GEMM of our own would keep
//! them) against `gemm` packing them on every call: the measurement behind docs/speed.md, "The
//! weights kept packed: measured (2026-12-05, third session)". Not part of the workspace; to
//! run it:
//!
//! ```sh
//! cargo new /tmp/tiled && cp docs/speed/gemm_tiled.rs /tmp/tiled/src/main.rs
//! cd /tmp/tiled && cargo add gemm@0.19 --features x86-v4 && cargo add gemm-f32@0.19 gemm-common@0.19
//! cargo run --release            # MC=256 or KC=... to change the blocking
//! ```
//!
//! Each product is the forward one of a Fashion-MNIST layer (`dst (200 x n) = a (200 x k) @ w (k
//! x n)`, row-major), on one thread: `gemm::gemm` as the step calls it (it packs `w` into
//! panels of 64 output columns on every call), against a loop of our own that calls `gemm`'s
//! AVX-512 microkernels on `w` stored already in that packed layout (depth chunks of `gemm`'s
//! own `kc`, rows blocked by its `mc`), so the values are the same to the bit (checked). "Warm"
//! repeats the product on the same operands; "cold" first rewrites a 64 MB buffer and the
//! weights, as Adam's update does between two steps, so the weights come from L3. Needs
//! AVX-512.
use std::hint::black_box;
use std::time::Instant;

const MR: usize = 64; // avx512 f32: 4 x 16
const NR: usize = 6;

fn flush(buf: &mut [f32]) {
    for x in buf.iter_mut() {
        *x = black_box(*x) * 1.000001;
    }
}

/// w (k x n) row-major -> tiles: for each depth chunk [d0, d0+kc), for each panel p of MR
/// output columns: kc x MR contiguous (row-major inside, panel zero-padded).
fn tile(w: &[f32], k: usize, n: usize, kc: usize) -> Vec<f32> {
    let panels = n.div_ceil(MR);
    let mut t = vec![0f32; k * panels * MR];
    let mut off = 0;
    let mut d0 = 0;
    while d0 < k {
        let kb = kc.min(k - d0);
        for p in 0..panels {
            for d in 0..kb {
                for c in 0..MR {
                    let col = p * MR + c;
                    t[off + d * MR + c] = if col < n { w[(d0 + d) * n + col] } else { 0.0 };
                }
            }
            off += kb * MR;
        }
        d0 += kb;
    }
    t
}

/// dst (m x n) row-major = a (m x k) row-major @ W (tiled).
unsafe fn tiled_gemm(
    m: usize,
    n: usize,
    k: usize,
    kc: usize,
    mc: usize,
    dst: *mut f32,
    a: *const f32,
    t: *const f32,
) {
    use gemm_f32::microkernel::avx512f::f32::UKR;
    let panels = n.div_ceil(MR);
    let mut off = 0usize;
    let mut d0 = 0;
    while d0 < k {
        let kb = kc.min(k - d0);
        let alpha_status = if d0 == 0 { 0u8 } else { 1u8 };
        let group = (mc / MR).max(1);
        let mut p0 = 0;
        while p0 < panels {
            let p1 = (p0 + group).min(panels);
            let mut j = 0;
            while j < m {
                let nb = NR.min(m - j);
                for p in p0..p1 {
                    let mb = MR.min(n - p * MR);
                    let f = UKR[mb.div_ceil(16) - 1][nb - 1];
                    // gemm's view: dst^T (n x m) col-major: rows = out (rs 1), cols = batch (cs n)
                    f(
                        mb,
                        nb,
                        kb,
                        dst.add(j * n + p * MR),
                        t.add(off + p * kb * MR),
                        a.add(j * k + d0),
                        n as isize,  // dst_cs
                        1,           // dst_rs
                        MR as isize, // lhs_cs
                        1,           // rhs_rs
                        k as isize,  // rhs_cs
                        if d0 == 0 { 0.0 } else { 1.0 },
                        1.0,
                        alpha_status,
                        false,
                        false,
                        false,
                        core::ptr::null(),
                    );
                }
                j += nb;
            }
            p0 = p1;
        }
        off += kb * panels * MR;
        d0 += kb;
    }
}

fn main() {
    let m = 200;
    let reps = 60;
    let mut big = vec![1f32; 16 << 20];
    let kc_env: usize = std::env::var("KC")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    for &(k, n) in &[
        (784usize, 1024usize),
        (1024, 256),
        (256, 256),
        (256, 1024),
        (1024, 784),
    ] {
        let a: Vec<f32> = (0..m * k)
            .map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5)
            .collect();
        let mut w: Vec<f32> = (0..k * n)
            .map(|i| ((i * 104729) % 997) as f32 / 997.0 - 0.5)
            .collect();
        let kp = gemm_common::cache::kernel_params(n, m, k, MR, NR, 4);
        let mc: usize = std::env::var("MC")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(kp.mc);
        let kc = if kc_env > 0 { kc_env.min(k) } else { kp.kc };
        let mut t = tile(&w, k, n, kc);
        let mut d1 = vec![0f32; m * n];
        let mut d2 = vec![0f32; m * n];
        let run_gemm = |d: &mut [f32], w: &[f32]| unsafe {
            gemm::gemm(
                m,
                n,
                k,
                d.as_mut_ptr(),
                1,
                n as isize,
                false,
                a.as_ptr(),
                1,
                k as isize,
                w.as_ptr(),
                1,
                n as isize,
                0.0,
                1.0,
                false,
                false,
                false,
                gemm::Parallelism::None,
            );
        };
        run_gemm(&mut d1, &w);
        unsafe { tiled_gemm(m, n, k, kc, mc, d2.as_mut_ptr(), a.as_ptr(), t.as_ptr()) };
        let same = d1.iter().zip(&d2).all(|(x, y)| x.to_bits() == y.to_bits());
        let maxdiff = d1
            .iter()
            .zip(&d2)
            .map(|(x, y)| (x - y).abs())
            .fold(0f32, f32::max);
        let mut tg = [0f64; 2];
        let mut tt = [0f64; 2];
        for cold in 0..2 {
            for _ in 0..reps {
                if cold == 1 {
                    flush(&mut big);
                    flush(&mut w);
                }
                let s = Instant::now();
                run_gemm(&mut d1, &w);
                tg[cold] += s.elapsed().as_secs_f64();
                if cold == 1 {
                    flush(&mut big);
                    flush(&mut t);
                }
                let s = Instant::now();
                unsafe { tiled_gemm(m, n, k, kc, mc, d2.as_mut_ptr(), a.as_ptr(), t.as_ptr()) };
                tt[cold] += s.elapsed().as_secs_f64();
            }
        }
        let gf = |s: f64| 2.0 * (m * n * k * reps) as f64 / s / 1e9;
        println!("{k:5} x {n:5} kc {kc:4} (gemm kc {} mc {} nc {}): warm gemm {:6.1} tiled {:6.1} | cold gemm {:6.1} tiled {:6.1} GFLOP/s; same bits {same} maxdiff {maxdiff:e}",
            kp.kc, kp.mc, kp.nc, gf(tg[0]), gf(tt[0]), gf(tg[1]), gf(tt[1]));
    }
}
