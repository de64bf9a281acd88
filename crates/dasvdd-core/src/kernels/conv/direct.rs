//! Register-blocked inner loops of the direct convolutions ([`super::Geometry::direct`]): a
//! block of [`BLOCK`] output positions of up to [`GROUP`] planes is summed in registers over
//! every kernel tap, then stored once. The former loops made each tap one multiply-add over a
//! whole plane in memory (a load, a load and a store per value), bound by the store port; here
//! an input value loaded once serves every plane of the group.
//!
//! Each output value gets the same products in the same order as in those loops, starting from
//! zero, so the results are the same to the bit (tested against those loops, kept as references
//! in the tests of `conv.rs`). The weight gradient keeps its dot products: bound by the
//! multiply-adds rather than by stores, it measured slower blocked.

/// Output positions summed in registers at once (two 16-lane vectors).
pub(super) const BLOCK: usize = 32;

/// The most planes summed side by side (each input value loaded once for all of them).
pub(super) const GROUP: usize = 4;

widest_simd! {
    /// The direct convolution of one image for a group of `wg.len() / offsets.len()` (at most
    /// [`GROUP`]) output planes: `out[o][p] = sum_t wg[t][o] * x[offsets[t] + p]` for `p` in
    /// `0..span`, the taps `t` in order, each plane written to `out[o * span..][..span]`.
    /// `x` must hold `offsets[t] + span` values for every tap.
    pub(super) fn forward_group(x: &[f32], offsets: &[usize], wg: &[f32], span: usize, out: &mut [f32])
        = forward_group_body;
}

#[inline(always)]
fn forward_group_body(x: &[f32], offsets: &[usize], wg: &[f32], span: usize, out: &mut [f32]) {
    match wg.len().checked_div(offsets.len()).unwrap_or(0) {
        1 => forward_planes::<1>(x, offsets, wg, span, out),
        2 => forward_planes::<2>(x, offsets, wg, span, out),
        3 => forward_planes::<3>(x, offsets, wg, span, out),
        4 => forward_planes::<4>(x, offsets, wg, span, out),
        g => unreachable!("a group of {g} planes"),
    }
}

#[inline(always)]
fn forward_planes<const G: usize>(
    x: &[f32],
    offsets: &[usize],
    wg: &[f32],
    span: usize,
    out: &mut [f32],
) {
    if span < BLOCK {
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
        let p = p0.min(span - BLOCK);
        let mut acc = [[0f32; BLOCK]; G];
        for (t, &off) in offsets.iter().enumerate() {
            let xs: &[f32; BLOCK] = x[off + p..][..BLOCK].try_into().expect("a block");
            let w: &[f32; G] = wg[t * G..][..G].try_into().expect("a group");
            for o in 0..G {
                for j in 0..BLOCK {
                    acc[o][j] += w[o] * xs[j];
                }
            }
        }
        for (o, acc) in acc.iter().enumerate() {
            out[o * span + p..][..BLOCK].copy_from_slice(acc);
        }
        p0 += BLOCK;
        if p0 >= span {
            break;
        }
    }
}

widest_simd! {
    /// The direct convolution's input gradient of one image for a group of `wg.len() /
    /// shifts.len()` (at most [`GROUP`]) input planes, at the positions `first..first + len`
    /// (`range` is `(first, len, stride)`)
    /// of the padded plane: `out[o][q] = sum_t wg[t][o] * g[t][q - shifts[t].1]` over the taps
    /// `t` in order, where tap `t` reads the `span` values of `g` from `shifts[t].0` and
    /// contributes only where `q - shifts[t].1` lies in `0..span`; each plane is written to
    /// `out[o * stride + q]`.
    pub(super) fn backward_input_group(
        g: &[f32],
        shifts: &[(usize, usize)],
        wg: &[f32],
        span: usize,
        range: (usize, usize, usize),
        out: &mut [f32],
    ) = backward_input_group_body;
}

#[inline(always)]
fn backward_input_group_body(
    g: &[f32],
    shifts: &[(usize, usize)],
    wg: &[f32],
    span: usize,
    range: (usize, usize, usize),
    out: &mut [f32],
) {
    match wg.len().checked_div(shifts.len()).unwrap_or(0) {
        1 => backward_input_planes::<1>(g, shifts, wg, span, range, out),
        2 => backward_input_planes::<2>(g, shifts, wg, span, range, out),
        3 => backward_input_planes::<3>(g, shifts, wg, span, range, out),
        4 => backward_input_planes::<4>(g, shifts, wg, span, range, out),
        n => unreachable!("a group of {n} planes"),
    }
}

#[inline(always)]
fn backward_input_planes<const G: usize>(
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
        let (q, n) = if len < BLOCK {
            (first, len)
        } else {
            (first + q0.min(len - BLOCK), BLOCK)
        };
        let mut acc = [[0f32; BLOCK]; G];
        for (t, &(src, s)) in shifts.iter().enumerate() {
            let w: &[f32; G] = wg[t * G..][..G].try_into().expect("a group");
            // Positions q + j that tap t reaches: s <= q + j < s + span.
            let lo = s.saturating_sub(q).min(n);
            let hi = (s + span).saturating_sub(q).min(n);
            if lo == 0 && hi == BLOCK {
                let gs: &[f32; BLOCK] = g[src + q - s..][..BLOCK].try_into().expect("a block");
                for o in 0..G {
                    for j in 0..BLOCK {
                        acc[o][j] += w[o] * gs[j];
                    }
                }
            } else if lo < hi {
                // Near the plane's first and last rows: the tap's values copied into a block,
                // added to the positions it reaches only (the others keep their sums as they
                // are, whatever the weight).
                let mut gs = [0f32; BLOCK];
                gs[lo..hi].copy_from_slice(&g[src + q + lo - s..][..hi - lo]);
                for o in 0..G {
                    for j in 0..BLOCK {
                        let sum = acc[o][j] + w[o] * gs[j];
                        acc[o][j] = if j >= lo && j < hi { sum } else { acc[o][j] };
                    }
                }
            }
        }
        for (o, acc) in acc.iter().enumerate() {
            out[o * stride + q..][..n].copy_from_slice(&acc[..n]);
        }
        q0 += BLOCK;
    }
}
