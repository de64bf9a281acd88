//! Register-blocked inner loops of the direct convolutions ([`super::Geometry::direct`]): a
//! block of output positions (32 with AVX-512F) of up to [`GROUP`] planes is summed in
//! registers over every kernel tap, then stored once. The former loops made each tap one
//! multiply-add over a whole plane in memory (a load, a load and a store per value), bound by
//! the store port; here an input value loaded once serves every plane of the group.
//!
//! Each output value gets the same products in the same order as in those loops, starting from
//! zero, so the results are the same to the bit (tested against those loops, kept as references
//! in the tests of `conv.rs`). The weight gradient keeps its dot products: bound by the
//! multiply-adds rather than by stores, it measured slower blocked.

// The block of output positions summed in registers at once is two vectors of the widest the
// CPU has: 32 positions with AVX-512F, 16 with AVX2, 8 otherwise, so that a group's sums take
// 8 of the 32 or 16 vector registers. (32 positions with AVX2 spilled them to the stack: the
// quick Fashion-MNIST Deep SVDD cells then took 11.6-12.8 s of fit against 9.8-10.8 s with the
// former loops.) Every output's sum is the same for any block.

/// The most planes summed side by side (each input value loaded once for all of them).
pub(super) const GROUP: usize = 4;

widest_simd! {
    /// The direct convolution of one image for a group of `wg.len() / offsets.len()` (at most
    /// [`GROUP`]) output planes: `out[o][p] = sum_t wg[t][o] * x[offsets[t] + p]` for `p` in
    /// `0..span`, the taps `t` in order, each plane written to `out[o * span..][..span]`.
    /// `x` must hold `offsets[t] + span` values for every tap.
    pub(super) fn forward_group(
        x: &[f32],
        offsets: &[usize],
        wg: &[f32],
        span: usize,
        out: &mut [f32],
    ) = forward_group_body::<32, 16, 8>;
}

#[inline(always)]
fn forward_group_body<const B: usize>(
    x: &[f32],
    offsets: &[usize],
    wg: &[f32],
    span: usize,
    out: &mut [f32],
) {
    match wg.len().checked_div(offsets.len()).unwrap_or(0) {
        1 => forward_planes::<1, B>(x, offsets, wg, span, out),
        2 => forward_planes::<2, B>(x, offsets, wg, span, out),
        3 => forward_planes::<3, B>(x, offsets, wg, span, out),
        4 => forward_planes::<4, B>(x, offsets, wg, span, out),
        g => unreachable!("a group of {g} planes"),
    }
}

#[inline(always)]
fn forward_planes<const G: usize, const B: usize>(
    x: &[f32],
    offsets: &[usize],
    wg: &[f32],
    span: usize,
    out: &mut [f32],
) {
    if span < B {
        for p in 0..span {
            for o in 0..G {
                let mut acc = 0f32;
                for (t, &off) in offsets.iter().enumerate() {
                    acc += wg[t * G + o] * x[off + p];
                }
                out[o * span + p] = acc;
            }
        }
        return;
    }
    // Blocks from the start; the last one ends at `span` (overlapping the one before it, whose
    // values it recomputes identically).
    let mut p0 = 0;
    loop {
        let p = p0.min(span - B);
        let mut acc = [[0f32; B]; G];
        for (t, &off) in offsets.iter().enumerate() {
            let xs: &[f32; B] = x[off + p..][..B].try_into().expect("a block");
            let w: &[f32; G] = wg[t * G..][..G].try_into().expect("a group");
            for o in 0..G {
                for j in 0..B {
                    acc[o][j] += w[o] * xs[j];
                }
            }
        }
        for (o, acc) in acc.iter().enumerate() {
            out[o * span + p..][..B].copy_from_slice(acc);
        }
        p0 += B;
        if p0 >= span {
            break;
        }
    }
}

widest_simd! {
    /// The direct convolution's input gradient of one image for a group of `wg.len() /
    /// shifts.len()` (at most [`GROUP`]) input planes, at the positions `first..first + len`
    /// of the padded plane, where `range` is `(first, len, stride)`: `out[o][q] = sum_t
    /// wg[t][o] * g[t][q - shifts[t].1]` over the taps `t` in order, where tap `t` reads the
    /// `span` values of `g` from `shifts[t].0` and contributes only where `q - shifts[t].1`
    /// lies in `0..span`; each plane is written to `out[o * stride + q]`.
    pub(super) fn backward_input_group(
        g: &[f32],
        shifts: &[(usize, usize)],
        wg: &[f32],
        span: usize,
        range: (usize, usize, usize),
        out: &mut [f32],
    ) = backward_input_group_body::<32, 16, 8>;
}

#[inline(always)]
fn backward_input_group_body<const B: usize>(
    g: &[f32],
    shifts: &[(usize, usize)],
    wg: &[f32],
    span: usize,
    range: (usize, usize, usize),
    out: &mut [f32],
) {
    match wg.len().checked_div(shifts.len()).unwrap_or(0) {
        1 => backward_input_planes::<1, B>(g, shifts, wg, span, range, out),
        2 => backward_input_planes::<2, B>(g, shifts, wg, span, range, out),
        3 => backward_input_planes::<3, B>(g, shifts, wg, span, range, out),
        4 => backward_input_planes::<4, B>(g, shifts, wg, span, range, out),
        n => unreachable!("a group of {n} planes"),
    }
}

#[inline(always)]
fn backward_input_planes<const G: usize, const B: usize>(
    g: &[f32],
    shifts: &[(usize, usize)],
    wg: &[f32],
    span: usize,
    (first, len, stride): (usize, usize, usize),
    out: &mut [f32],
) {
    let mut q0 = 0;
    while q0 < len {
        // Blocks from `first`; the last one ends at `first + len` (overlapping the one before
        // it), or is shorter when the range is.
        let (q, n) = if len < B {
            (first, len)
        } else {
            (first + q0.min(len - B), B)
        };
        let mut acc = [[0f32; B]; G];
        for (t, &(src, s)) in shifts.iter().enumerate() {
            let w: &[f32; G] = wg[t * G..][..G].try_into().expect("a group");
            // Positions q + j that tap t reaches: s <= q + j < s + span.
            let lo = s.saturating_sub(q).min(n);
            let hi = (s + span).saturating_sub(q).min(n);
            if lo == 0 && hi == B {
                let gs: &[f32; B] = g[src + q - s..][..B].try_into().expect("a block");
                for o in 0..G {
                    for j in 0..B {
                        acc[o][j] += w[o] * gs[j];
                    }
                }
            } else if lo < hi {
                // Near the plane's first and last rows: the tap's values copied into a block,
                // added to the positions it reaches only (the others keep their sums as they
                // are, whatever the weight).
                let mut gs = [0f32; B];
                gs[lo..hi].copy_from_slice(&g[src + q + lo - s..][..hi - lo]);
                for o in 0..G {
                    for j in 0..B {
                        let sum = acc[o][j] + w[o] * gs[j];
                        acc[o][j] = if j >= lo && j < hi { sum } else { acc[o][j] };
                    }
                }
            }
        }
        for (o, acc) in acc.iter().enumerate() {
            out[o * stride + q..][..n].copy_from_slice(&acc[..n]);
        }
        q0 += B;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::super::tests::{awkward_values as values, bits};

    /// A forward kernel of one block size.
    type Forward = fn(&[f32], &[usize], &[f32], usize, &mut [f32]);
    /// An input-gradient kernel of one block size.
    type Input = fn(&[f32], &[(usize, usize)], &[f32], usize, (usize, usize, usize), &mut [f32]);

    #[test]
    fn every_block_size_gives_the_same_sums() {
        // Spans and ranges shorter than each block, equal to it and with a short last block;
        // tap shifts that leave blocks partly reached; groups of one to four planes.
        for (span, taps, planes) in [(5, 3, 1), (8, 7, 2), (37, 25, 3), (100, 75, 4), (64, 9, 4)] {
            let offsets: Vec<usize> = (0..taps).map(|t| (t * 7) % 23).collect();
            let x = values(span + 23, span as u64);
            let wg = values(taps * planes, taps as u64);
            let forward = |f: Forward| {
                let mut out = vec![f32::NAN; planes * span];
                f(&x, &offsets, &wg, span, &mut out);
                bits(&out)
            };
            let want = forward(forward_group_body::<32>);
            for f in [forward_group_body::<16> as Forward, forward_group_body::<8>] {
                assert_eq!(forward(f), want, "forward, span {span}");
            }

            let shifts: Vec<(usize, usize)> = (0..taps).map(|t| ((t % 2) * span, t % 13)).collect();
            let g = values(2 * span, 3 + span as u64);
            let (first, len, stride) = (2, span + 9, span + 12);
            let input = |f: Input| {
                let mut out = vec![f32::NAN; planes * stride];
                f(&g, &shifts, &wg, span, (first, len, stride), &mut out);
                bits(&out)
            };
            let want = input(backward_input_group_body::<32>);
            for f in [
                backward_input_group_body::<16> as Input,
                backward_input_group_body::<8>,
            ] {
                assert_eq!(input(f), want, "input gradient, span {span}");
            }
        }
    }
}
