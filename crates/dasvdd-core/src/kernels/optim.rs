//! The fused Adam pass: one sweep that updates a parameter and its moments and rewrites the
//! parameter's row-major transposed copy.

use std::sync::Mutex;
use std::time::Instant;

use rayon::prelude::*;

use super::{SharedMut, ELEM_CHUNK};
use crate::step_profile;

/// The transpose `(cols, rows)` of a 2-D parameter `(rows, cols)` (or one per model of a stack
/// `(models, rows, cols)`), rewritten by every update of the parameter. The backward pass reads it for the input-gradient products, whose right
/// operand is the transposed weight: `gemm` is much faster on a row-major copy than on a
/// column-major view.
pub struct TransposedCopy {
    /// The `(cols, rows)` copy, row-major (one after the other for a stack), locked while an
    /// update rewrites it.
    pub data: Mutex<Vec<f32>>,
    /// Models of the stack (1 for a plain matrix).
    pub models: usize,
    /// Rows of the parameter (columns of the copy).
    pub rows: usize,
    /// Columns of the parameter (rows of the copy).
    pub cols: usize,
}

/// One step of PyTorch's Adam (with L2 weight decay added to the gradient, as
/// `torch.optim.Adam(weight_decay=...)`), updating the parameter in place from its gradient and,
/// when one is kept, rewriting its transposed copy in the same pass.
pub struct AdamKernel<'a> {
    /// Learning rate.
    pub lr: f32,
    /// Decay of the first moment.
    pub beta1: f32,
    /// Decay of the second moment.
    pub beta2: f32,
    /// Added to the denominator.
    pub eps: f32,
    /// L2 penalty: `weight_decay * parameter` is added to the gradient.
    pub weight_decay: f32,
    /// 1 - beta1^t for the current step t.
    pub bias_correction1: f32,
    /// 1 - beta2^t for the current step t.
    pub bias_correction2: f32,
    /// First and second moment estimates of this parameter.
    pub moments: &'a Mutex<(Vec<f32>, Vec<f32>)>,
    /// The parameter's transposed copy, rewritten in the same pass; `None` when none is kept.
    pub transposed: Option<&'a TransposedCopy>,
}

cpu_op!(AdamKernel<'_>, "adam-step", |op, mut p, g| {
    let _timer = step_profile::timer(step_profile::Phase::AdamUpdate);
    let profiling = step_profile::enabled();
    let g = g.values("gradient")?;
    let p = p.values_mut("parameter")?;
    let mut guard = op.moments.lock().expect("adam state lock poisoned");
    let (m, v) = &mut *guard;
    if g.len() != p.len() || m.len() != p.len() || v.len() != p.len() {
        candle_core::bail!("adam-step: parameter, gradient and state sizes differ");
    }
    let mut t_guard = match op.transposed {
        Some(t) => {
            let data = t.data.lock().expect("transposed copy lock poisoned");
            if t.models * t.rows * t.cols != p.len() || data.len() != p.len() || t.cols == 0 {
                candle_core::bail!("adam-step: transposed copy does not match the parameter");
            }
            Some((data, t.rows, t.cols))
        }
        None => None,
    };
    // Chunks hold whole rows when a transposed copy is kept, so that each chunk writes a
    // block of whole columns of the copy.
    // Whole tiles of rows too, where a chunk holds more than one: a chunk that ended inside a
    // tile would transpose its last rows element by element.
    let chunk = match &t_guard {
        Some((_, _, cols)) => {
            let rows = ELEM_CHUNK / cols;
            let rows = if rows >= TRANSPOSE_TILE {
                rows / TRANSPOSE_TILE * TRANSPOSE_TILE
            } else {
                rows.max(1)
            };
            rows * cols
        }
        None => ELEM_CHUNK,
    };
    let t_out = t_guard
        .as_mut()
        .map(|(d, rows, cols)| (SharedMut(d.as_mut_ptr()), *rows, *cols));
    let consts = AdamConsts {
        b1: op.beta1,
        b2: op.beta2,
        wd: op.weight_decay,
        eps: op.eps,
        step: op.lr / op.bias_correction1,
        inv_sqrt_bc2: 1.0 / op.bias_correction2.sqrt(),
    };
    type Chunk<'a> = (
        usize,
        ((&'a mut [f32], &'a [f32]), (&'a mut [f32], &'a mut [f32])),
    );
    let update = |(ci, ((p, g), (m, v))): Chunk<'_>| {
        let started = profiling.then(Instant::now);
        adam_update(p, g, m, v, consts);
        if let Some(t) = started {
            step_profile::add_adam_thread_time(false, t);
        }
        if let Some((out, rows, cols)) = t_out {
            let started = profiling.then(Instant::now);
            // The chunk's rows, split where one model's matrix ends and the next begins.
            let mut row = ci * chunk / cols;
            let mut block = &*p;
            while !block.is_empty() {
                let (model, r0) = (row / rows, row % rows);
                let n = (rows - r0).min(block.len() / cols);
                let (head, rest) = block.split_at(n * cols);
                // SAFETY: model < models, so the model's copy starts inside the locked
                // buffer of models * rows * cols values.
                let model_out = SharedMut(unsafe { out.get().add(model * rows * cols) });
                write_transposed_rows(head, r0, rows, cols, model_out);
                block = rest;
                row += n;
            }
            if let Some(t) = started {
                step_profile::add_adam_thread_time(true, t);
            }
        }
    };
    if super::parallel(p.len(), chunk) {
        p.par_chunks_mut(chunk)
            .zip(g.par_chunks(chunk))
            .zip(m.par_chunks_mut(chunk).zip(v.par_chunks_mut(chunk)))
            .enumerate()
            .for_each(update);
    } else {
        update((0, ((p, g), (&mut m[..], &mut v[..]))));
    }
    Ok(())
});

/// The scalars of one Adam step.
#[derive(Clone, Copy)]
struct AdamConsts {
    b1: f32,
    b2: f32,
    wd: f32,
    eps: f32,
    /// lr / (1 - beta1^t).
    step: f32,
    /// 1 / sqrt(1 - beta2^t).
    inv_sqrt_bc2: f32,
}

widest_simd! {
    /// The Adam update of one chunk ([`adam_update_body`] for the widest vector unit the CPU
    /// has: the square root and the division make the update compute-bound at SSE2's four
    /// lanes); bit-identical whichever runs.
    fn adam_update(p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], c: AdamConsts) = adam_update_body;
}

/// PyTorch's Adam with L2 weight decay on one chunk, in place.
#[inline(always)]
fn adam_update_body(p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], c: AdamConsts) {
    let AdamConsts {
        b1,
        b2,
        wd,
        eps,
        step,
        inv_sqrt_bc2,
    } = c;
    // Iterators rather than indices: no bounds checks, so the loop vectorises.
    for (((pi, gi), mi), vi) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
        let gi = gi + wd * *pi;
        let m_new = b1 * *mi + (1.0 - b1) * gi;
        let v_new = b2 * *vi + (1.0 - b2) * gi * gi;
        *mi = m_new;
        *vi = v_new;
        *pi -= step * m_new / (v_new.sqrt() * inv_sqrt_bc2 + eps);
    }
}

/// Side of the square tiles of [`write_transposed_rows`]: 8 x 8 f32 is one AVX register per
/// row, and the tile's rows and columns stay in L1 while it is transposed.
const TRANSPOSE_TILE: usize = 8;

/// Writes the rows `r0..r0 + block.len() / cols` of a `(rows, cols)` row-major matrix, given in
/// `block`, into the `(cols, rows)` row-major transposed copy at `out`, tile by tile, so that
/// both the reads and the writes touch few cache lines at a time. Full 8 x 8 tiles are
/// transposed in AVX registers where the CPU has AVX; the edges element by element.
fn write_transposed_rows(block: &[f32], r0: usize, rows: usize, cols: usize, out: SharedMut) {
    let nr = block.len() / cols;
    let out = out.get();
    #[cfg(target_arch = "x86_64")]
    let avx = std::arch::is_x86_feature_detected!("avx");
    #[cfg(not(target_arch = "x86_64"))]
    let avx = false;
    // Column tiles outside, row tiles inside: the block's rows are few (one chunk's), so each
    // column tile writes one contiguous run of every destination row it touches, while its
    // source lines stay in L1 from one column tile to the next. (The other order writes 8
    // values per destination row and moves on, 8 rows of the copy and 8 pages apart each time.)
    for ct in (0..cols).step_by(TRANSPOSE_TILE) {
        let c_end = (ct + TRANSPOSE_TILE).min(cols);
        for rt in (0..nr).step_by(TRANSPOSE_TILE) {
            let r_end = (rt + TRANSPOSE_TILE).min(nr);
            if avx && r_end - rt == TRANSPOSE_TILE && c_end - ct == TRANSPOSE_TILE {
                #[cfg(target_arch = "x86_64")]
                // SAFETY: AVX is present; the tile's 8 rows of 8 values starting at
                // block[rt * cols + ct] lie inside `block` (r_end <= nr, c_end <= cols), and its
                // 8 destination rows of 8 values starting at out[ct * rows + r0 + rt] are
                // elements (r0 + rt.., ct..) of this block's rows, written by this block only,
                // inside the rows * cols copy, which is locked for the whole update.
                unsafe {
                    transpose_8x8_avx(
                        block.as_ptr().add(rt * cols + ct),
                        cols,
                        out.add(ct * rows + r0 + rt),
                        rows,
                    )
                };
                continue;
            }
            for c in ct..c_end {
                let dst = c * rows + r0;
                for r in rt..r_end {
                    // SAFETY: (r0 + r, c) is an element of this block's rows, so index
                    // c * rows + r0 + r < rows * cols is written by this block only; the copy
                    // is locked for the whole update.
                    unsafe { *out.add(dst + r) = block[r * cols + c] };
                }
            }
        }
    }
}

/// Transposes the 8 x 8 tile at `src` (row stride `src_stride`) into `dst` (row stride
/// `dst_stride`) through AVX registers: unpack pairs of rows, shuffle pairs of pairs, then swap
/// 128-bit halves.
///
/// # Safety
/// The CPU must have AVX; `src` must be valid for reads and `dst` for writes of 8 rows of 8
/// values at their strides.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn transpose_8x8_avx(src: *const f32, src_stride: usize, dst: *mut f32, dst_stride: usize) {
    use std::arch::x86_64::*;
    // SAFETY: the caller guarantees 8 readable rows of 8 values at `src_stride`.
    let r: [__m256; 8] =
        std::array::from_fn(|i| unsafe { _mm256_loadu_ps(src.add(i * src_stride)) });
    let t0 = _mm256_unpacklo_ps(r[0], r[1]);
    let t1 = _mm256_unpackhi_ps(r[0], r[1]);
    let t2 = _mm256_unpacklo_ps(r[2], r[3]);
    let t3 = _mm256_unpackhi_ps(r[2], r[3]);
    let t4 = _mm256_unpacklo_ps(r[4], r[5]);
    let t5 = _mm256_unpackhi_ps(r[4], r[5]);
    let t6 = _mm256_unpacklo_ps(r[6], r[7]);
    let t7 = _mm256_unpackhi_ps(r[6], r[7]);
    let u0 = _mm256_shuffle_ps::<0x44>(t0, t2);
    let u1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
    let u2 = _mm256_shuffle_ps::<0x44>(t1, t3);
    let u3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
    let u4 = _mm256_shuffle_ps::<0x44>(t4, t6);
    let u5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
    let u6 = _mm256_shuffle_ps::<0x44>(t5, t7);
    let u7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
    let o = [
        _mm256_permute2f128_ps::<0x20>(u0, u4),
        _mm256_permute2f128_ps::<0x20>(u1, u5),
        _mm256_permute2f128_ps::<0x20>(u2, u6),
        _mm256_permute2f128_ps::<0x20>(u3, u7),
        _mm256_permute2f128_ps::<0x31>(u0, u4),
        _mm256_permute2f128_ps::<0x31>(u1, u5),
        _mm256_permute2f128_ps::<0x31>(u2, u6),
        _mm256_permute2f128_ps::<0x31>(u3, u7),
    ];
    for (i, v) in o.iter().enumerate() {
        // SAFETY: the caller guarantees 8 writable rows of 8 values at `dst_stride`.
        unsafe { _mm256_storeu_ps(dst.add(i * dst_stride), *v) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_widest_adam_update_is_bit_identical_to_the_baseline_loop() {
        let n = 1037; // not a multiple of any vector width
        let val = |i: usize, k: usize| (((i * 7919 + k * 104_729) % 2001) as f32 - 1000.0) / 997.0;
        let g: Vec<f32> = (0..n).map(|i| val(i, 1)).collect();
        let c = AdamConsts {
            b1: 0.9,
            b2: 0.999,
            wd: 1e-3,
            eps: 1e-8,
            step: 1e-3 / 0.1,
            inv_sqrt_bc2: 1.0 / 0.001f32.sqrt(),
        };
        let start = || {
            let p: Vec<f32> = (0..n).map(|i| val(i, 2)).collect();
            let m: Vec<f32> = (0..n).map(|i| 0.1 * val(i, 3)).collect();
            let v: Vec<f32> = (0..n).map(|i| 0.01 * val(i, 4).abs()).collect();
            (p, m, v)
        };
        let (mut p1, mut m1, mut v1) = start();
        let (mut p2, mut m2, mut v2) = start();
        adam_update(&mut p1, &g, &mut m1, &mut v1, c);
        adam_update_body(&mut p2, &g, &mut m2, &mut v2, c);
        let bits = |x: &[f32]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&p1), bits(&p2));
        assert_eq!(bits(&m1), bits(&m2));
        assert_eq!(bits(&v1), bits(&v2));
        assert_ne!(bits(&p1), bits(&start().0), "the update changed nothing");
    }

    #[test]
    fn tiled_transpose_matches_the_definition() {
        // Shapes with full tiles, edges in both directions, and blocks starting mid-matrix.
        for (rows, cols) in [(16, 8), (41, 784), (9, 17), (3, 5), (64, 256)] {
            let m: Vec<f32> = (0..rows * cols).map(|i| i as f32 * 0.5 - 7.0).collect();
            let mut out = vec![f32::NAN; rows * cols];
            let split = rows / 2;
            let ptr = SharedMut(out.as_mut_ptr());
            write_transposed_rows(&m[..split * cols], 0, rows, cols, ptr);
            write_transposed_rows(&m[split * cols..], split, rows, cols, ptr);
            for r in 0..rows {
                for c in 0..cols {
                    assert_eq!(
                        out[c * rows + r],
                        m[r * cols + c],
                        "({r}, {c}) of {rows}x{cols}"
                    );
                }
            }
        }
    }
}
