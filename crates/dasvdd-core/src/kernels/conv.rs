//! Kernels of convolutional networks on the CPU (Ruff's LeNet-type networks for Deep SVDD):
//! stride-1 square convolutions and transposed convolutions as im2col plus one `gemm` product
//! per image, batch normalisation in training mode, 2x2 max pooling and leaky ReLU, each with a
//! hand-written backward pass.
//!
//! candle's CPU backend runs the gradients of `conv2d` and the whole of `conv_transpose2d` as
//! direct loops, and batch normalisation and leaky ReLU as chains of broadcast operations that
//! each sweep memory once; together they made one epoch of Ruff's Fashion-MNIST autoencoder
//! about 20 times slower than the fully connected network. Here a convolution with many
//! channels copies every image's patches once into a reused buffer and multiplies them by the
//! weights in one product; one with few channels on both sides (Ruff's MNIST networks) runs
//! each kernel tap as one multiply-add over a zero-padded plane instead (`Padded`), since there
//! the patch copies cost more than the arithmetic (measured: 1.5x faster Deep SVDD cells). The
//! products are arranged so that `gemm` reads both operands along their rows (it gathers a
//! strided operand value by value). The images of a batch go to rayon in fixed chunks, and the
//! weight gradient is summed in fixed groups of images, added in group order, so results do not
//! depend on the thread count.
//!
//! Each public function falls back to candle's own operation when the fused kernels are off for
//! the tensor's device (other devices, or switched off to compare), so the networks call these
//! functions only.

use std::borrow::Cow;
use std::mem::MaybeUninit;

use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Shape, Tensor, D};
use rayon::prelude::*;

use super::activations::{activate, activation_grad, candle_activation};
use super::products::gemm_one_thread;
use super::{fused_on, Operand};
use crate::config::Activation;

mod direct;

/// Images per parallel task (fixed, so sums never depend on the thread count).
const IMAGE_CHUNK: usize = 4;

/// Groups of the batch whose weight gradients the product path sums separately, then adds in
/// group order (fixed, so the sum never depends on the thread count).
const WEIGHT_GROUPS: usize = 8;

/// Geometry of a stride-1 convolution with a square kernel and equal padding on every side.
#[derive(Debug, Clone, Copy)]
struct Geometry {
    batch: usize,
    c_in: usize,
    h: usize,
    w: usize,
    c_out: usize,
    k: usize,
    pad: usize,
    ho: usize,
    wo: usize,
}

impl Geometry {
    /// From an input `(batch, c_in, h, w)` and a weight `(c_out, c_in, k, k)`.
    fn new(x: &Shape, w: &Shape, pad: usize) -> candle_core::Result<Self> {
        let (batch, c_in, h, wd) = x.dims4()?;
        let (c_out, c_in2, k, k2) = w.dims4()?;
        if c_in != c_in2 || k != k2 || k == 0 || h + 2 * pad < k || wd + 2 * pad < k {
            candle_core::bail!("conv2d: input {x:?} and weight {w:?} (padding {pad}) disagree");
        }
        Ok(Geometry {
            batch,
            c_in,
            h,
            w: wd,
            c_out,
            k,
            pad,
            ho: h + 2 * pad - k + 1,
            wo: wd + 2 * pad - k + 1,
        })
    }

    fn patch(&self) -> usize {
        self.c_in * self.k * self.k
    }

    fn in_image(&self) -> usize {
        self.c_in * self.h * self.w
    }

    fn out_pixels(&self) -> usize {
        self.ho * self.wo
    }

    fn out_image(&self) -> usize {
        self.c_out * self.out_pixels()
    }

    /// The output positions `ox` whose input column `ox + c - pad` lies inside the image.
    #[cfg(test)]
    fn valid_cols(&self, c: usize) -> (usize, usize) {
        let lo = self.pad.saturating_sub(c);
        let hi = (self.w + self.pad).saturating_sub(c).min(self.wo);
        (lo, hi.max(lo))
    }

    /// The patches of one image, given as its padded planes `xp` ([`Geometry::pad_image`]), as
    /// columns `offset..offset + ho * wo` of a `(c_in * k * k)`-row matrix whose rows are
    /// `stride` values apart (several images' patches side by side). Each row is `ho` copies
    /// of `wo` values from the padded plane, with no bounds to work out per row: the former
    /// im2col from the unpadded image spent most of its time on that bookkeeping and a
    /// `memmove` call per row of 8 to 32 values.
    fn im2col_padded(&self, l: Padded, xp: &[f32], cols: &mut [f32], stride: usize, offset: usize) {
        let (k, p) = (self.k, self.out_pixels());
        for ci in 0..self.c_in {
            let plane = &xp[ci * l.plane..][..l.plane];
            for a in 0..k {
                for c in 0..k {
                    let row = &mut cols[((ci * k + a) * k + c) * stride + offset..][..p];
                    copy_rows(row, &plane[a * l.wp + c..], self.wo, l.wp);
                }
            }
        }
    }

    /// The patches of one image as a `(c_in * k * k, ho * wo)` matrix (zero outside).
    #[cfg(test)]
    fn im2col(&self, x: &[f32], cols: &mut [f32]) {
        let p = self.out_pixels();
        for ci in 0..self.c_in {
            for a in 0..self.k {
                for c in 0..self.k {
                    let row = &mut cols[((ci * self.k + a) * self.k + c) * p..][..p];
                    let (lo, hi) = self.valid_cols(c);
                    for oy in 0..self.ho {
                        let out = &mut row[oy * self.wo..(oy + 1) * self.wo];
                        let iy = (oy + a).wrapping_sub(self.pad);
                        if iy >= self.h || lo == hi {
                            out.fill(0.0);
                            continue;
                        }
                        out[..lo].fill(0.0);
                        out[hi..].fill(0.0);
                        let src = (ci * self.h + iy) * self.w + lo + c - self.pad;
                        out[lo..hi].copy_from_slice(&x[src..src + hi - lo]);
                    }
                }
            }
        }
    }

    /// Adds the patch matrix `cols` back onto one image's padded planes `dxp` (set to zero
    /// first; the adjoint of [`Geometry::im2col_padded`]): each row `ho` fixed-width additions
    /// with no bounds to work out, the padding collecting what falls outside the image. Each
    /// value inside the image gets the same additions in the same order as [`Geometry::col2im`]
    /// makes them, so the two agree to the bit.
    fn col2im_padded(&self, l: Padded, cols: &[f32], dxp: &mut [f32]) {
        let (k, p, wo) = (self.k, self.out_pixels(), self.wo);
        dxp.fill(0.0);
        for ci in 0..self.c_in {
            let plane = &mut dxp[ci * l.plane..][..l.plane];
            for a in 0..k {
                for c in 0..k {
                    let row = &cols[((ci * k + a) * k + c) * p..][..p];
                    for (oy, src) in row.chunks_exact(wo.max(1)).enumerate() {
                        let dst = &mut plane[(oy + a) * l.wp + c..][..wo];
                        for (d, s) in dst.iter_mut().zip(src) {
                            *d += s;
                        }
                    }
                }
            }
        }
    }

    /// Copies the image inside padded planes `xp` into `x` (`(c_in, h, w)`): the inverse of
    /// [`Geometry::pad_image`].
    fn crop(&self, l: Padded, xp: &[f32], x: &mut [f32]) {
        for ci in 0..self.c_in {
            for iy in 0..self.h {
                let src = ci * l.plane + (iy + self.pad) * l.wp + self.pad;
                let dst = (ci * self.h + iy) * self.w;
                x[dst..dst + self.w].copy_from_slice(&xp[src..src + self.w]);
            }
        }
    }

    /// Adds the patch matrix `cols` back onto one image `dx` (the adjoint of `im2col`).
    #[cfg(test)]
    fn col2im(&self, cols: &[f32], dx: &mut [f32]) {
        let p = self.out_pixels();
        for ci in 0..self.c_in {
            for a in 0..self.k {
                for c in 0..self.k {
                    let row = &cols[((ci * self.k + a) * self.k + c) * p..][..p];
                    let (lo, hi) = self.valid_cols(c);
                    for oy in 0..self.ho {
                        let iy = (oy + a).wrapping_sub(self.pad);
                        if iy >= self.h || lo == hi {
                            continue;
                        }
                        let dst = (ci * self.h + iy) * self.w + lo + c - self.pad;
                        let src = &row[oy * self.wo + lo..oy * self.wo + hi];
                        for (d, s) in dx[dst..dst + hi - lo].iter_mut().zip(src) {
                            *d += s;
                        }
                    }
                }
            }
        }
    }

    /// Errors unless the batch's input, output and weight hold the values this geometry needs.
    fn check(
        &self,
        x: Option<&[f32]>,
        y: Option<&[f32]>,
        w: Option<&[f32]>,
    ) -> candle_core::Result<()> {
        let ok = x.is_none_or(|x| x.len() == self.batch * self.in_image())
            && y.is_none_or(|y| y.len() == self.batch * self.out_image())
            && w.is_none_or(|w| w.len() == self.c_out * self.patch());
        if !ok {
            candle_core::bail!("convolution: operand sizes disagree with {self:?}");
        }
        Ok(())
    }

    /// Whether this convolution runs as direct loops over zero-padded planes ([`Padded`])
    /// rather than im2col and a product: with few channels on both sides (Ruff's MNIST
    /// networks) the product is a thin one, and copying every patch (25 values per input value)
    /// costs more than the multiply-adds themselves; and with few output channels (CIFAR-10's
    /// last transposed convolution, 32 -> 3) every patch value copied, or scattered back by
    /// col2im, serves only `c_out` multiply-adds per pass.
    fn direct(&self) -> bool {
        self.c_out <= DIRECT_MAX_OUT_CHANNELS || self.c_in * self.c_out <= DIRECT_MAX_CHANNEL_PAIRS
    }

    /// `y = conv(x, w)` for the whole batch.
    fn forward(&self, x: &[f32], w: &[f32]) -> candle_core::Result<Vec<f32>> {
        self.check(Some(x), None, Some(w))?;
        let mut y = super::zeros(self.batch * self.out_image());
        let (p, kk) = (self.out_pixels(), self.patch());
        if self.direct() {
            let l = self.padded();
            let (planes_in, spans_out) = (self.c_in * l.plane, self.c_out * l.span);
            let taps = self.forward_taps(l, w);
            let run = |scratch: &mut Vec<f32>, (i, y): (usize, &mut [f32])| {
                let (xp, yw) = scratch.split_at_mut(planes_in);
                for (j, y) in y.chunks_mut(self.out_image()).enumerate() {
                    let b = i * IMAGE_CHUNK + j;
                    self.pad_image(l, &x[b * self.in_image()..][..self.in_image()], xp);
                    self.direct_forward(l, &taps, xp, yw, y);
                }
                Ok(())
            };
            let size = IMAGE_CHUNK * self.out_image();
            chunks_with(&mut y, size, planes_in + spans_out, run)?;
            return Ok(y);
        }
        let l = self.padded();
        let run = |scratch: &mut Vec<f32>, (i, y): (usize, &mut [f32])| {
            let (cols, xp) = scratch.split_at_mut(kk * p);
            for (j, y) in y.chunks_mut(self.out_image()).enumerate() {
                let b = i * IMAGE_CHUNK + j;
                self.pad_image(l, &x[b * self.in_image()..][..self.in_image()], xp);
                self.im2col_padded(l, xp, cols, p, 0);
                gemm_one_thread(y, false, (self.c_out, p, kk), w, (kk, 1), cols, (p, 1))?;
            }
            Ok(())
        };
        let scratch = kk * p + self.c_in * l.plane;
        chunks_with(&mut y, IMAGE_CHUNK * self.out_image(), scratch, run)?;
        Ok(y)
    }

    /// The input gradient `dx` from the output gradient `dy`.
    fn backward_input(&self, dy: &[f32], w: &[f32]) -> candle_core::Result<Vec<f32>> {
        self.check(None, Some(dy), Some(w))?;
        let mut dx = super::zeros(self.batch * self.in_image());
        let (p, kk) = (self.out_pixels(), self.patch());
        if self.direct() {
            let l = self.padded();
            let spans_out = self.c_out * l.span;
            let taps = self.backward_input_taps(l, w);
            let run = |scratch: &mut Vec<f32>, (i, dx): (usize, &mut [f32])| {
                let (dyw, dxp) = scratch.split_at_mut(spans_out);
                for (j, dx) in dx.chunks_mut(self.in_image()).enumerate() {
                    let b = i * IMAGE_CHUNK + j;
                    self.widen(l, &dy[b * self.out_image()..][..self.out_image()], dyw);
                    self.direct_backward_input(l, &taps, dyw, dxp, dx);
                }
                Ok(())
            };
            let size = IMAGE_CHUNK * self.in_image();
            chunks_with(&mut dx, size, spans_out + self.c_in * l.plane, run)?;
            return Ok(dx);
        }
        // w^T as a row-major (kk x c_out) matrix, made once: `gemm` reads both operands of
        // `w^T @ dy` along their rows then, where a column-major view of `w` had it gather
        // the weights value by value for every image.
        let wt = transpose(w, self.c_out, kk);
        let l = self.padded();
        let run = |scratch: &mut Vec<f32>, (i, dx): (usize, &mut [f32])| {
            let (cols, dxp) = scratch.split_at_mut(kk * p);
            for (j, dx) in dx.chunks_mut(self.in_image()).enumerate() {
                let b = i * IMAGE_CHUNK + j;
                let dy = &dy[b * self.out_image()..][..self.out_image()];
                // w^T (kk x c_out) @ dy (c_out x p).
                gemm_one_thread(
                    cols,
                    false,
                    (kk, p, self.c_out),
                    &wt,
                    (self.c_out, 1),
                    dy,
                    (p, 1),
                )?;
                self.col2im_padded(l, cols, dxp);
                self.crop(l, dxp, dx);
            }
            Ok(())
        };
        let scratch = kk * p + self.c_in * l.plane;
        chunks_with(&mut dx, IMAGE_CHUNK * self.in_image(), scratch, run)?;
        Ok(dx)
    }

    /// The weight gradient `dw` (`(c_out, c_in * k * k)`), summed over the batch group by group
    /// in group order (groups of [`IMAGE_CHUNK`] images on the direct path, the batch in
    /// [`WEIGHT_GROUPS`] groups on the product path).
    fn backward_weight(&self, x: &[f32], dy: &[f32]) -> candle_core::Result<Vec<f32>> {
        self.check(Some(x), Some(dy), None)?;
        if !self.direct() {
            return self.backward_weight_product(x, dy);
        }
        let kk = self.patch();
        let n_chunks = self.batch.div_ceil(IMAGE_CHUNK);
        let mut partial = vec![0f32; n_chunks * self.c_out * kk];
        let l = self.padded();
        let planes_in = self.c_in * l.plane;
        let run = |scratch: &mut Vec<f32>, (i, dw): (usize, &mut [f32])| {
            let end = ((i + 1) * IMAGE_CHUNK).min(self.batch);
            let (xp, dyw) = scratch.split_at_mut(planes_in);
            // Each image's dot products added to the chunk's sum in image order.
            for b in i * IMAGE_CHUNK..end {
                self.pad_image(l, &x[b * self.in_image()..][..self.in_image()], xp);
                self.widen(l, &dy[b * self.out_image()..][..self.out_image()], dyw);
                self.direct_backward_weight(l, xp, dyw, dw);
            }
            Ok(())
        };
        chunks_with(
            &mut partial,
            self.c_out * kk,
            planes_in + self.c_out * l.span,
            run,
        )?;
        Ok(sum_blocks(&partial, self.c_out * kk))
    }

    /// The weight gradient through products: the batch in [`WEIGHT_GROUPS`] fixed groups of
    /// consecutive images (one rayon task each), each group's images [`IMAGE_CHUNK`] at a time
    /// as one product `cols (kk x n p) @ dy^T (n p x c_out)` of their patches side by side and
    /// their output gradients transposed, added to the group's `dw^T`; the groups' sums are
    /// added in group order and turned into `dw` once. Both operands are read along their rows,
    /// as `gemm` wants them: the former `dy @ cols^T` had it gather every patch value by value
    /// (its strided packing was a fifth of a CIFAR-10 LeNet step), and it read and wrote the
    /// whole `dw` once per image.
    fn backward_weight_product(&self, x: &[f32], dy: &[f32]) -> candle_core::Result<Vec<f32>> {
        let (p, kk, c_out) = (self.out_pixels(), self.patch(), self.c_out);
        let per_group = self.batch.div_ceil(WEIGHT_GROUPS).max(1);
        let groups = self.batch.div_ceil(per_group);
        let mut partial = vec![0f32; groups * kk * c_out];
        let sub = IMAGE_CHUNK.min(per_group);
        let run = |(g, dwt): (usize, &mut [f32])| -> candle_core::Result<()> {
            let (start, end) = (g * per_group, ((g + 1) * per_group).min(self.batch));
            let l = self.padded();
            let mut cols = vec![0f32; kk * sub * p];
            let mut dyt = vec![0f32; sub * p * c_out];
            let mut xp = vec![0f32; self.c_in * l.plane];
            for first in (start..end).step_by(sub) {
                let n = (end - first).min(sub);
                let width = n * p;
                for j in 0..n {
                    let b = first + j;
                    self.pad_image(l, &x[b * self.in_image()..][..self.in_image()], &mut xp);
                    self.im2col_padded(l, &xp, &mut cols, width, j * p);
                    let dy = &dy[b * self.out_image()..][..self.out_image()];
                    transpose_into(dy, c_out, p, &mut dyt[j * p * c_out..][..p * c_out]);
                }
                gemm_one_thread(
                    dwt,
                    true,
                    (kk, c_out, width),
                    &cols[..kk * width],
                    (width, 1),
                    &dyt[..width * c_out],
                    (c_out, 1),
                )?;
            }
            Ok(())
        };
        chunks(&mut partial, kk * c_out, run)?;
        Ok(transpose(&sum_blocks(&partial, kk * c_out), kk, c_out))
    }
}

/// The most `c_in * c_out` of a convolution that runs as direct loops ([`Geometry::direct`]):
/// every convolution of Ruff's MNIST networks (at most 32: 8 x 4 and 4 x 8), none of CIFAR-10's
/// (from 3 x 32).
const DIRECT_MAX_CHANNEL_PAIRS: usize = 64;

/// The most output channels of a convolution that runs as direct loops whatever its input
/// channels ([`Geometry::direct`]): CIFAR-10's last transposed convolution (32 -> 3); its
/// first convolution (3 -> 32) keeps the product. Measured on the CIFAR-10 autoencoder
/// (`xtask perf --lenet`, 2,000 images, AMD EPYC, 3 alternations): 4.75, 4.35 and 4.84 s per
/// pre-training epoch against 4.92, 5.94 and 5.38 with the product.
const DIRECT_MAX_OUT_CHANNELS: usize = 8;

/// The layout of the direct loops: every input plane zero-padded to `(h + 2 pad, w + 2 pad)`
/// and every output plane widened to that width (`ho` rows of `wp`), so that each kernel tap
/// is one multiply-add over a whole plane, the input read at the tap's offset. Output columns
/// from `wo` on are scratch (never read back; zero in gradients), and each padded plane has
/// `k` values of zero slack after it for the scratch columns' reads and writes.
#[derive(Clone, Copy)]
struct Padded {
    /// Padded row width.
    wp: usize,
    /// Stride between padded planes: `(h + 2 pad) * wp + k`.
    plane: usize,
    /// Values of a widened output plane: `ho * wp`.
    span: usize,
}

/// The taps of a direct loop, made once per batch: where each tap reads (`T`), and the
/// weights grouped by [`direct::GROUP`] planes (the first plane of each group, then the
/// group's weight of every tap in tap order, plane by plane).
struct DirectTaps<T> {
    taps: Vec<T>,
    groups: Vec<(usize, Vec<f32>)>,
}

impl Geometry {
    fn padded(&self) -> Padded {
        let wp = self.w + 2 * self.pad;
        Padded {
            wp,
            plane: (self.h + 2 * self.pad) * wp + self.k,
            span: self.ho * wp,
        }
    }

    /// Copies one image `(c_in, h, w)` into `xp`, its padded planes (zero around).
    fn pad_image(&self, l: Padded, x: &[f32], xp: &mut [f32]) {
        xp.fill(0.0);
        for ci in 0..self.c_in {
            for iy in 0..self.h {
                let dst = ci * l.plane + (iy + self.pad) * l.wp + self.pad;
                let src = (ci * self.h + iy) * self.w;
                xp[dst..dst + self.w].copy_from_slice(&x[src..src + self.w]);
            }
        }
    }

    /// Copies one image's output gradient `(c_out, ho, wo)` into widened planes, the scratch
    /// columns zero.
    fn widen(&self, l: Padded, dy: &[f32], dyw: &mut [f32]) {
        dyw.fill(0.0);
        for co in 0..self.c_out {
            for oy in 0..self.ho {
                let dst = co * l.span + oy * l.wp;
                let src = (co * self.ho + oy) * self.wo;
                dyw[dst..dst + self.wo].copy_from_slice(&dy[src..src + self.wo]);
            }
        }
    }

    /// The taps of a direct loop, made once per batch: `(o, a, c)` for `o` in `0..outer` and
    /// the kernel's rows `a` and columns `c`, in that order, each placed by `at(o, a, c)`; and
    /// the weights of the output planes `0..planes` in groups of [`direct::GROUP`], each tap's
    /// weight of plane `p` being `weight(o, p)` at kernel row `a`, column `c`.
    fn direct_taps<T>(
        &self,
        (outer, planes): (usize, usize),
        at: impl Fn(usize, usize, usize) -> T,
        weight: impl Fn(usize, usize) -> usize,
        w: &[f32],
    ) -> DirectTaps<T> {
        let k = self.k;
        let each = |o: usize| (0..k).flat_map(move |a| (0..k).map(move |c| (o, a, c)));
        let taps: Vec<T> = (0..outer)
            .flat_map(each)
            .map(|(o, a, c)| at(o, a, c))
            .collect();
        let groups = (0..planes)
            .step_by(direct::GROUP)
            .map(|first| {
                let n = direct::GROUP.min(planes - first);
                let mut wg = Vec::with_capacity(taps.len() * n);
                for (o, a, c) in (0..outer).flat_map(each) {
                    for p in first..first + n {
                        wg.push(w[(weight(o, p) * k + a) * k + c]);
                    }
                }
                (first, wg)
            })
            .collect();
        DirectTaps { taps, groups }
    }

    /// The tap offsets in the padded input and grouped weights of the direct forward pass:
    /// taps in `(c_in, kernel row, kernel column)` order, planes the output channels.
    fn forward_taps(&self, l: Padded, w: &[f32]) -> DirectTaps<usize> {
        self.direct_taps(
            (self.c_in, self.c_out),
            |ci, a, c| ci * l.plane + a * l.wp + c,
            |ci, co| co * self.c_in + ci,
            w,
        )
    }

    /// One image of the direct convolution: `y (c_out, ho, wo)` from the padded input `xp`;
    /// `yw` is scratch of `c_out` widened planes. Each output sums its taps in `(c_in, kernel
    /// row, kernel column)` order, a block of outputs of several planes at a time in registers
    /// ([`direct::forward_group`]).
    fn direct_forward(
        &self,
        l: Padded,
        taps: &DirectTaps<usize>,
        xp: &[f32],
        yw: &mut [f32],
        y: &mut [f32],
    ) {
        for (first, wg) in &taps.groups {
            direct::forward_group(xp, &taps.taps, wg, l.span, &mut yw[first * l.span..]);
        }
        for co in 0..self.c_out {
            let out = &yw[co * l.span..][..l.span];
            for oy in 0..self.ho {
                y[(co * self.ho + oy) * self.wo..][..self.wo]
                    .copy_from_slice(&out[oy * l.wp..][..self.wo]);
            }
        }
    }

    /// The taps (where each reads the widened output gradient, and its shift in the padded
    /// plane) and grouped weights of the direct input gradient: taps in `(c_out, kernel row,
    /// kernel column)` order, planes the input channels.
    fn backward_input_taps(&self, l: Padded, w: &[f32]) -> DirectTaps<(usize, usize)> {
        self.direct_taps(
            (self.c_out, self.c_in),
            |co, a, c| (co * l.span, a * l.wp + c),
            |co, ci| co * self.c_in + ci,
            w,
        )
    }

    /// One image of the direct convolution's input gradient: `dx (c_in, h, w)` from the
    /// widened output gradient `dyw`; `dxp` is scratch of `c_in` padded planes, of which the
    /// image's rows are written. Each input value sums its terms in `(c_out, kernel row,
    /// kernel column)` order, a block of several planes at a time in registers
    /// ([`direct::backward_input_group`]).
    fn direct_backward_input(
        &self,
        l: Padded,
        taps: &DirectTaps<(usize, usize)>,
        dyw: &[f32],
        dxp: &mut [f32],
        dx: &mut [f32],
    ) {
        let rows = (self.pad * l.wp, self.h * l.wp, l.plane);
        for (first, wg) in &taps.groups {
            let out = &mut dxp[first * l.plane..];
            direct::backward_input_group(dyw, &taps.taps, wg, l.span, rows, out);
        }
        self.crop(l, dxp, dx);
    }

    /// The former direct forward pass, one multiply-add over a whole plane per tap: the
    /// reference the blocked loops are tested against.
    #[cfg(test)]
    fn direct_forward_reference(&self, l: Padded, xp: &[f32], w: &[f32], y: &mut [f32]) {
        let k = self.k;
        let mut yw = vec![0f32; self.c_out * l.span];
        for co in 0..self.c_out {
            let out = &mut yw[co * l.span..][..l.span];
            for ci in 0..self.c_in {
                for a in 0..k {
                    for c in 0..k {
                        let wv = w[((co * self.c_in + ci) * k + a) * k + c];
                        axpy(out, wv, &xp[ci * l.plane + a * l.wp + c..][..l.span]);
                    }
                }
            }
            for oy in 0..self.ho {
                y[(co * self.ho + oy) * self.wo..][..self.wo]
                    .copy_from_slice(&out[oy * l.wp..][..self.wo]);
            }
        }
    }

    /// The former direct input gradient, as [`Geometry::direct_forward_reference`].
    #[cfg(test)]
    fn direct_backward_input_reference(&self, l: Padded, dyw: &[f32], w: &[f32], dx: &mut [f32]) {
        let k = self.k;
        let mut dxp = vec![0f32; self.c_in * l.plane];
        for ci in 0..self.c_in {
            let plane = &mut dxp[ci * l.plane..][..l.plane];
            for co in 0..self.c_out {
                let g = &dyw[co * l.span..][..l.span];
                for a in 0..k {
                    for c in 0..k {
                        let wv = w[((co * self.c_in + ci) * k + a) * k + c];
                        axpy(&mut plane[a * l.wp + c..][..l.span], wv, g);
                    }
                }
            }
        }
        self.crop(l, &dxp, dx);
    }

    /// One image of the direct convolution's weight gradient, added to `dw` (`(c_out, c_in,
    /// k, k)`): each weight's dot product of the widened output gradient with the padded input
    /// at its offset. (Unlike the other two direct loops, these are bound by the multiply-adds
    /// rather than by stores; summing several weights' dot products at once, each window
    /// loaded once for all of them, measured slower on the AMD EPYC.)
    fn direct_backward_weight(&self, l: Padded, xp: &[f32], dyw: &[f32], dw: &mut [f32]) {
        let k = self.k;
        for co in 0..self.c_out {
            let g = &dyw[co * l.span..][..l.span];
            for ci in 0..self.c_in {
                for a in 0..k {
                    for c in 0..k {
                        let i = ((co * self.c_in + ci) * k + a) * k + c;
                        dw[i] += dot(g, &xp[ci * l.plane + a * l.wp + c..][..l.span]);
                    }
                }
            }
        }
    }
}

/// `d += a * s`, element by element: the former direct loops' step, kept as their reference.
#[cfg(test)]
fn axpy(d: &mut [f32], a: f32, s: &[f32]) {
    for (d, &s) in d.iter_mut().zip(s) {
        *d += a * s;
    }
}

/// Lanes of [`dot`]'s running sums.
const DOT_LANES: usize = 16;

widest_simd! {
    /// `sum a_i b_i`: value `i` into running sum `i mod 16`, the sums then added in lane order
    /// and the tail after them, the same on every SIMD width.
    fn dot(a: &[f32], b: &[f32]) -> f32 = dot_body;
}

#[inline(always)]
fn dot_body(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0f32; DOT_LANES];
    let (ca, cb) = (a.chunks_exact(DOT_LANES), b.chunks_exact(DOT_LANES));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for l in 0..DOT_LANES {
            acc[l] += x[l] * y[l];
        }
    }
    let mut sum = acc.iter().fold(0f32, |s, v| s + v);
    for (x, y) in ra.iter().zip(rb) {
        sum += x * y;
    }
    sum
}

/// Runs `f` over the `size`-value chunks of `data` (with their index), on rayon when there are
/// enough of them.
fn chunks<F>(data: &mut [f32], size: usize, f: F) -> candle_core::Result<()>
where
    F: Fn((usize, &mut [f32])) -> candle_core::Result<()> + Sync + Send,
{
    let size = size.max(1);
    if super::parallel(data.len(), size) {
        data.par_chunks_mut(size).enumerate().try_for_each(f)
    } else {
        data.chunks_mut(size).enumerate().try_for_each(f)
    }
}

/// Fills `dst` (rows of `wo` values, one after the other) with rows of `src` that are `wp`
/// values apart; the usual widths as fixed-size copies the compiler keeps inline.
fn copy_rows(dst: &mut [f32], src: &[f32], wo: usize, wp: usize) {
    fn fixed<const N: usize>(dst: &mut [f32], src: &[f32], wp: usize) {
        for (oy, d) in dst.chunks_exact_mut(N).enumerate() {
            let s: &[f32; N] = src[oy * wp..][..N].try_into().expect("N values");
            let d: &mut [f32; N] = d.try_into().expect("N values");
            *d = *s;
        }
    }
    match wo {
        8 => fixed::<8>(dst, src, wp),
        16 => fixed::<16>(dst, src, wp),
        32 => fixed::<32>(dst, src, wp),
        _ => {
            for (oy, d) in dst.chunks_mut(wo.max(1)).enumerate() {
                d.copy_from_slice(&src[oy * wp..][..d.len()]);
            }
        }
    }
}

/// [`chunks`] with a scratch buffer of `scratch` values per rayon job (one allocation per job,
/// not per chunk), which `f` must write before it reads: the convolutions' padded planes,
/// widened planes and patch matrices.
fn chunks_with<F>(data: &mut [f32], size: usize, scratch: usize, f: F) -> candle_core::Result<()>
where
    F: Fn(&mut Vec<f32>, (usize, &mut [f32])) -> candle_core::Result<()> + Sync + Send,
{
    let size = size.max(1);
    let init = || vec![0f32; scratch];
    if super::parallel(data.len(), size) {
        data.par_chunks_mut(size)
            .enumerate()
            .try_for_each_init(init, |buf, c| f(buf, c))
    } else {
        let mut buf = init();
        data.chunks_mut(size)
            .enumerate()
            .try_for_each(|c| f(&mut buf, c))
    }
}

/// The `size`-value blocks of `blocks` added in order.
fn sum_blocks(blocks: &[f32], size: usize) -> Vec<f32> {
    let mut sum = vec![0f32; size];
    for block in blocks.chunks(size.max(1)) {
        for (d, s) in sum.iter_mut().zip(block) {
            *d += s;
        }
    }
    sum
}

/// The row-major `rows x cols` matrix `m` transposed, row-major `cols x rows`.
fn transpose(m: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut t = vec![0f32; m.len()];
    transpose_into(m, rows, cols, &mut t);
    t
}

/// Writes the row-major `rows x cols` matrix `m` transposed into `t` (row-major `cols x rows`).
fn transpose_into(m: &[f32], rows: usize, cols: usize, t: &mut [f32]) {
    for (r, row) in m.chunks(cols.max(1)).take(rows).enumerate() {
        for (c, &v) in row.iter().enumerate() {
            t[c * rows + r] = v;
        }
    }
}

/// Calls `f(index, out_plane, in_plane)` for every `out`-value plane of `dst` with the
/// matching `inp`-value plane of `src`, on rayon in groups of planes of about
/// [`super::ELEM_CHUNK`] values when there are enough of them. Each plane is computed alone, so
/// the values do not depend on the grouping.
fn planes<F>(dst: &mut [f32], out: usize, src: &[f32], inp: usize, f: F)
where
    F: Fn(usize, &mut [f32], &[f32]) + Sync + Send,
{
    let (out, inp) = (out.max(1), inp.max(1));
    let per_task = (super::ELEM_CHUNK / out).max(1);
    if super::parallel(dst.len(), per_task * out) {
        dst.par_chunks_mut(out)
            .zip(src.par_chunks(inp))
            .enumerate()
            .with_min_len(per_task)
            .for_each(|(i, (d, s))| f(i, d, s));
    } else {
        for (i, (d, s)) in dst.chunks_mut(out).zip(src.chunks(inp)).enumerate() {
            f(i, d, s);
        }
    }
}

/// A new vector of `len` values written `size` at a time by `f(index, chunk)` (the last chunk
/// may be shorter), on rayon in groups of chunks of about [`super::ELEM_CHUNK`] values when
/// there are enough of them. `f` must write every value of its chunk. The element-wise layers'
/// outputs are made this way in one pass: a zero-filled (or copied) vector written again
/// afterwards cost a second pass over tens of megabytes per layer of a CIFAR-10 LeNet, and
/// a copy made by `to_vec` ran on one thread.
fn filled_chunks<F>(len: usize, size: usize, f: F) -> Vec<f32>
where
    F: Fn(usize, &mut [MaybeUninit<f32>]) + Sync + Send,
{
    let size = size.max(1);
    let mut v: Vec<f32> = Vec::with_capacity(len);
    let spare = &mut v.spare_capacity_mut()[..len];
    let per_task = (super::ELEM_CHUNK / size).max(1);
    if super::parallel(len, per_task * size) {
        spare
            .par_chunks_mut(size)
            .enumerate()
            .with_min_len(per_task)
            .for_each(|(i, c)| f(i, c));
    } else {
        for (i, c) in spare.chunks_mut(size).enumerate() {
            f(i, c);
        }
    }
    // SAFETY: `f` wrote every value of every chunk, and the chunks cover all `len` values.
    unsafe { v.set_len(len) };
    v
}

/// Element-wise `out[i] = f(a[i])` into a new vector, in one pass ([`filled_chunks`]).
fn mapped(a: &[f32], f: impl Fn(f32) -> f32 + Sync + Send) -> Vec<f32> {
    filled_chunks(a.len(), super::ELEM_CHUNK, |i, c| {
        for (o, &v) in c.iter_mut().zip(&a[i * super::ELEM_CHUNK..]) {
            o.write(f(v));
        }
    })
}

/// Element-wise `out[i] = f(a[i], b[i])` into a new vector, in one pass ([`filled_chunks`]);
/// `a` and `b` have the same length.
fn mapped2(a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> f32 + Sync + Send) -> Vec<f32> {
    filled_chunks(a.len(), super::ELEM_CHUNK, |i, c| {
        let start = i * super::ELEM_CHUNK;
        let (a, b) = (&a[start..][..c.len()], &b[start..][..c.len()]);
        for ((o, &x), &y) in c.iter_mut().zip(a).zip(b) {
            o.write(f(x, y));
        }
    })
}

/// A `(d0, d1, k, k)` weight as `(d1, d0, k, k)` with both spatial axes reversed: a transposed
/// convolution's weight as the convolution that computes it (and back: it is an involution up
/// to the swap of `d0` and `d1`).
fn turn(w: &[f32], d0: usize, d1: usize, k: usize) -> Vec<f32> {
    let mut out = vec![0f32; w.len()];
    for i in 0..d0 {
        for o in 0..d1 {
            for a in 0..k {
                for c in 0..k {
                    out[((o * d0 + i) * k + (k - 1 - a)) * k + (k - 1 - c)] =
                        w[((i * d1 + o) * k + a) * k + c];
                }
            }
        }
    }
    out
}

/// Values of a contiguous f32 operand of a custom op.
fn values<'a>(s: &'a CpuStorage, l: &'a Layout, what: &str) -> candle_core::Result<&'a [f32]> {
    Operand {
        storage: s,
        layout: l,
    }
    .values(what)
}

/// Convolution (`transposed == false`: candle's `conv2d` with stride 1, weight `(out, in, k,
/// k)`) or transposed convolution (`conv_transpose2d` with stride 1 and no output padding,
/// weight `(in, out, k, k)`).
struct Conv {
    pad: usize,
    transposed: bool,
}

impl Conv {
    /// The plain convolution that computes this one.
    fn geometry(&self, x: &Shape, w: &Shape) -> candle_core::Result<Geometry> {
        if !self.transposed {
            return Geometry::new(x, w, self.pad);
        }
        let (d0, d1, k, _) = w.dims4()?;
        if self.pad + 1 > k {
            candle_core::bail!(
                "conv_transpose2d: padding {} too large for kernel {k}",
                self.pad
            );
        }
        Geometry::new(x, &Shape::from((d1, d0, k, k)), k - 1 - self.pad)
    }

    /// The weight of the plain convolution that computes this one (the weight itself, unless
    /// transposed).
    fn weight<'a>(&self, w: &Shape, wv: &'a [f32]) -> candle_core::Result<Cow<'a, [f32]>> {
        if !self.transposed {
            return Ok(Cow::Borrowed(wv));
        }
        let (d0, d1, k, _) = w.dims4()?;
        Ok(Cow::Owned(turn(wv, d0, d1, k)))
    }
}

impl CustomOp2 for Conv {
    fn name(&self) -> &'static str {
        if self.transposed {
            "conv_transpose2d"
        } else {
            "conv2d"
        }
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xl: &Layout,
        ws: &CpuStorage,
        wl: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let x = values(xs, xl, "convolution input")?;
        let w = values(ws, wl, "convolution weight")?;
        let g = self.geometry(xl.shape(), wl.shape())?;
        let y = g.forward(x, &self.weight(wl.shape(), w)?)?;
        Ok((
            CpuStorage::F32(y),
            Shape::from((g.batch, g.c_out, g.ho, g.wo)),
        ))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _res: &Tensor,
        dy: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        let dy = dy.contiguous()?;
        // The input of the first layer (the images) needs no gradient: its col2im is skipped.
        let dx = if x.track_op() {
            Some(self.input_grad(&dy, w, x.shape())?)
        } else {
            None
        };
        let dw = if w.track_op() {
            Some(self.weight_grad(x, &dy, w.shape())?)
        } else {
            None
        };
        Ok((dx, dw))
    }
}

impl Conv {
    /// The input's gradient (of shape `input_shape`) from the output's contiguous gradient `dy`:
    /// the one computation of both the custom op's backward pass and [`conv_backward`].
    fn input_grad(
        &self,
        dy: &Tensor,
        w: &Tensor,
        input_shape: &Shape,
    ) -> candle_core::Result<Tensor> {
        dy.apply_op2_no_bwd(
            w,
            &ConvGrad {
                pad: self.pad,
                transposed: self.transposed,
                input_shape: input_shape.clone(),
            },
        )
    }

    /// The weight's gradient (of shape `weight_shape`) from the input `x` and the output's
    /// contiguous gradient `dy`, for both backward passes as [`Conv::input_grad`].
    fn weight_grad(
        &self,
        x: &Tensor,
        dy: &Tensor,
        weight_shape: &Shape,
    ) -> candle_core::Result<Tensor> {
        x.apply_op2_no_bwd(
            dy,
            &ConvWeightGrad {
                pad: self.pad,
                transposed: self.transposed,
                weight_shape: weight_shape.clone(),
            },
        )
    }
}

/// The input gradient of a [`Conv`]: `(dy, w) -> dx`.
struct ConvGrad {
    pad: usize,
    transposed: bool,
    input_shape: Shape,
}

cpu_op!(ConvGrad, "conv-input-grad", |op, dy, w| {
    let conv = Conv {
        pad: op.pad,
        transposed: op.transposed,
    };
    let g = conv.geometry(&op.input_shape, w.layout.shape())?;
    let wv = conv.weight(w.layout.shape(), w.values("convolution weight")?)?;
    let dx = g.backward_input(dy.values("convolution output gradient")?, &wv)?;
    Ok((CpuStorage::F32(dx), op.input_shape.clone()))
});

/// The weight gradient of a [`Conv`]: `(x, dy) -> dw`.
struct ConvWeightGrad {
    pad: usize,
    transposed: bool,
    weight_shape: Shape,
}

cpu_op!(ConvWeightGrad, "conv-weight-grad", |op, x, dy| {
    let conv = Conv {
        pad: op.pad,
        transposed: op.transposed,
    };
    let g = conv.geometry(x.layout.shape(), &op.weight_shape)?;
    let dw = g.backward_weight(
        x.values("convolution input")?,
        dy.values("convolution output gradient")?,
    )?;
    let dw = if op.transposed {
        let (d0, d1, k, _) = op.weight_shape.dims4()?;
        turn(&dw, d1, d0, k)
    } else {
        dw
    };
    Ok((CpuStorage::F32(dw), op.weight_shape.clone()))
});

/// candle's `x.conv2d(w, pad, 1, 1, 1)`: stride 1, weight `(out, in, k, k)`.
pub fn conv2d(x: &Tensor, w: &Tensor, pad: usize) -> candle_core::Result<Tensor> {
    if fused_on(x.device()) {
        x.contiguous()?.apply_op2(
            &w.contiguous()?,
            Conv {
                pad,
                transposed: false,
            },
        )
    } else {
        x.conv2d(w, pad, 1, 1, 1)
    }
}

/// candle's `x.conv_transpose2d(w, pad, 0, 1, 1)`: stride 1, weight `(in, out, k, k)`.
pub fn conv_transpose2d(x: &Tensor, w: &Tensor, pad: usize) -> candle_core::Result<Tensor> {
    if fused_on(x.device()) {
        x.contiguous()?.apply_op2(
            &w.contiguous()?,
            Conv {
                pad,
                transposed: true,
            },
        )
    } else {
        x.conv_transpose2d(w, pad, 0, 1, 1)
    }
}

/// `(batch, channels, rest)` of a tensor whose axis 1 is the channel.
fn channel_dims(shape: &Shape) -> candle_core::Result<(usize, usize, usize)> {
    let dims = shape.dims();
    if dims.len() < 2 {
        candle_core::bail!("batch norm: expected (batch, channels, ...), got {shape:?}");
    }
    Ok((dims[0], dims[1], dims[2..].iter().product()))
}

/// Channels (or planes) whose f64 sums run side by side in [`channel_stats`] and the batch
/// norm's backward pass: each sum is still one chain in its own fixed order, so the values are
/// those of summing one channel at a time, but the chains no longer wait on each other's
/// additions (one channel at a time, the latency of each f64 addition set the pace: the batch
/// norm's two passes were about a tenth of a CIFAR-10 LeNet one-class step).
const SUM_LANES: usize = 8;

/// Per-channel mean and biased variance of `x` (`(batch, channels, ...)`), summed in f64 in a
/// fixed order: each channel's values image by image, position by position, from -0.0 (as
/// `Iterator::sum` starts), [`SUM_LANES`] channels side by side.
fn channel_stats(x: &[f32], (batch, ch, rest): (usize, usize, usize)) -> Vec<(f64, f64)> {
    let n = (batch * rest).max(1) as f64;
    let group = |g: usize| -> Vec<(f64, f64)> {
        let (c0, lanes) = (g * SUM_LANES, SUM_LANES.min(ch - g * SUM_LANES));
        let mut sum = [-0.0f64; SUM_LANES];
        for b in 0..batch {
            let block = &x[(b * ch + c0) * rest..][..lanes * rest];
            lane_sums(block, rest, lanes, &mut sum, None);
        }
        let mean: [f64; SUM_LANES] = std::array::from_fn(|j| sum[j] / n);
        let mut sq = [-0.0f64; SUM_LANES];
        for b in 0..batch {
            let block = &x[(b * ch + c0) * rest..][..lanes * rest];
            lane_sums(block, rest, lanes, &mut sq, Some(&mean));
        }
        (0..lanes).map(|j| (mean[j], sq[j] / n)).collect()
    };
    let groups = ch.div_ceil(SUM_LANES);
    let per: Vec<Vec<(f64, f64)>> = if super::parallel(batch * ch * rest, super::ELEM_CHUNK) {
        (0..groups).into_par_iter().map(group).collect()
    } else {
        (0..groups).map(group).collect()
    };
    per.into_iter().flatten().collect()
}

widest_simd! {
    /// Adds each value `v` of the `lanes` consecutive `rest`-value planes `j` of `block` (or,
    /// given `mean`, `(v - mean[j])^2`, in f64) to that plane's `sum`, position by position,
    /// the planes side by side.
    fn lane_sums(
        block: &[f32],
        rest: usize,
        lanes: usize,
        sum: &mut [f64; SUM_LANES],
        mean: Option<&[f64; SUM_LANES]>,
    ) = lane_sums_body;
}

#[inline(always)]
fn lane_sums_body(
    block: &[f32],
    rest: usize,
    lanes: usize,
    sum: &mut [f64; SUM_LANES],
    mean: Option<&[f64; SUM_LANES]>,
) {
    let f = |j: usize, v: f32| match mean {
        None => v as f64,
        Some(m) => (v as f64 - m[j]).powi(2),
    };
    if lanes == SUM_LANES {
        let planes: [&[f32]; SUM_LANES] = std::array::from_fn(|j| &block[j * rest..][..rest]);
        match mean {
            None => {
                for i in 0..rest {
                    for j in 0..SUM_LANES {
                        sum[j] += planes[j][i] as f64;
                    }
                }
            }
            Some(m) => {
                for i in 0..rest {
                    for j in 0..SUM_LANES {
                        sum[j] += (planes[j][i] as f64 - m[j]).powi(2);
                    }
                }
            }
        }
    } else {
        for i in 0..rest {
            for j in 0..lanes {
                sum[j] += f(j, block[j * rest + i]);
            }
        }
    }
}

/// Batch normalisation in training mode without affine parameters: each channel minus its
/// batch mean over its batch standard deviation (biased variance plus `eps`).
struct BatchNorm {
    eps: f64,
    /// Each channel's batch mean and biased variance, computed once by [`ChannelStats`].
    stats: Vec<(f64, f64)>,
}

impl CustomOp1 for BatchNorm {
    fn name(&self) -> &'static str {
        "batch-norm-train"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let x = values(s, l, "batch norm input")?;
        let dims = channel_dims(l.shape())?;
        let (_, ch, rest) = dims;
        if self.stats.len() != ch {
            candle_core::bail!(
                "batch norm: statistics for {} channels, input has {ch}",
                self.stats.len()
            );
        }
        let y = filled_chunks(x.len(), rest, |i, y| {
            let (mean, var) = self.stats[i % ch];
            let inv = 1.0 / (var + self.eps).sqrt();
            bn_normalise(y, &x[i * rest..][..y.len()], mean, inv);
        });
        Ok((CpuStorage::F32(y), l.shape().clone()))
    }

    fn bwd(&self, x: &Tensor, y: &Tensor, dy: &Tensor) -> candle_core::Result<Option<Tensor>> {
        let dy = dy.contiguous()?;
        let grad = BatchNormGrad {
            eps: self.eps,
            stats: self.stats.clone(),
        };
        let dx = dy.apply_op2_no_bwd(y, &grad)?;
        debug_assert_eq!(dx.dims(), x.dims());
        Ok(Some(dx))
    }
}

/// `(dy, y) -> dx` of [`BatchNorm`]: `(dy - mean(dy) - y mean(dy y)) / std` per channel.
struct BatchNormGrad {
    eps: f64,
    stats: Vec<(f64, f64)>,
}

cpu_op!(BatchNormGrad, "batch-norm-grad", |op, dy, y| {
    let (batch, ch, rest) = channel_dims(y.layout.shape())?;
    let (dyv, yv) = (
        dy.values("batch norm gradient")?,
        y.values("batch norm output")?,
    );
    if op.stats.len() != ch || dyv.len() != yv.len() {
        candle_core::bail!("batch norm gradient: shapes disagree");
    }
    let (n, rest) = ((batch * rest).max(1) as f64, rest.max(1));
    // Each plane's sums of dy and dy * y (from 0.0, position by position), [`SUM_LANES`]
    // planes side by side, then each channel's in plane order.
    let group = SUM_LANES * rest;
    let per_plane: Vec<(f64, f64)> = if super::parallel(dyv.len(), super::ELEM_CHUNK) {
        dyv.par_chunks(group)
            .zip(yv.par_chunks(group))
            .flat_map_iter(|(g, yy)| grad_sums(g, yy, rest))
            .collect()
    } else {
        dyv.chunks(group)
            .zip(yv.chunks(group))
            .flat_map(|(g, yy)| grad_sums(g, yy, rest))
            .collect()
    };
    let mut sums = vec![(0f64, 0f64); ch];
    for (i, p) in per_plane.iter().enumerate() {
        sums[i % ch].0 += p.0;
        sums[i % ch].1 += p.1;
    }
    let dx = filled_chunks(dyv.len(), rest, |i, dx| {
        let c = i % ch;
        let inv = 1.0 / (op.stats[c].1 + op.eps).sqrt();
        let (mg, mgy) = (sums[c].0 / n, sums[c].1 / n);
        let (g, yy) = (&dyv[i * rest..][..dx.len()], &yv[i * rest..][..dx.len()]);
        bn_grad_plane(dx, g, yy, (mg, mgy, inv));
    });
    Ok((CpuStorage::F32(dx), y.layout.shape().clone()))
});

widest_simd! {
    /// The sums of `g` and of `g * y` over each of the consecutive `rest`-value planes of `g`
    /// (at most [`SUM_LANES`] of them) and `y`, in f64 from 0.0, position by position, the
    /// planes side by side.
    fn grad_sums(g: &[f32], y: &[f32], rest: usize) -> Vec<(f64, f64)> = grad_sums_body;
}

#[inline(always)]
fn grad_sums_body(g: &[f32], y: &[f32], rest: usize) -> Vec<(f64, f64)> {
    let lanes = g.len() / rest.max(1);
    let (mut a, mut b) = ([0f64; SUM_LANES], [0f64; SUM_LANES]);
    if lanes == SUM_LANES {
        let gp: [&[f32]; SUM_LANES] = std::array::from_fn(|j| &g[j * rest..][..rest]);
        let yp: [&[f32]; SUM_LANES] = std::array::from_fn(|j| &y[j * rest..][..rest]);
        for i in 0..rest {
            for j in 0..SUM_LANES {
                let v = gp[j][i] as f64;
                a[j] += v;
                b[j] += v * yp[j][i] as f64;
            }
        }
    } else {
        for i in 0..rest {
            for j in 0..lanes {
                let v = g[j * rest + i] as f64;
                a[j] += v;
                b[j] += v * y[j * rest + i] as f64;
            }
        }
    }
    (0..lanes).map(|j| (a[j], b[j])).collect()
}

widest_simd! {
    /// `y = (x - mean) * inv` in f64, rounded to f32: one channel's plane of [`BatchNorm`].
    fn bn_normalise(y: &mut [MaybeUninit<f32>], x: &[f32], mean: f64, inv: f64) = bn_normalise_body;
}

#[inline(always)]
fn bn_normalise_body(y: &mut [MaybeUninit<f32>], x: &[f32], mean: f64, inv: f64) {
    for (y, &x) in y.iter_mut().zip(x) {
        y.write(((x as f64 - mean) * inv) as f32);
    }
}

widest_simd! {
    /// `dx = (g - mg - y mgy) * inv` in f64, rounded to f32: one channel's plane of
    /// [`BatchNormGrad`].
    fn bn_grad_plane(
        dx: &mut [MaybeUninit<f32>],
        g: &[f32],
        y: &[f32],
        k: (f64, f64, f64),
    ) = bn_grad_plane_body;
}

#[inline(always)]
fn bn_grad_plane_body(
    dx: &mut [MaybeUninit<f32>],
    g: &[f32],
    y: &[f32],
    (mg, mgy, inv): (f64, f64, f64),
) {
    for ((dx, &g), &yy) in dx.iter_mut().zip(g).zip(y) {
        dx.write(((g as f64 - mg - yy as f64 * mgy) * inv) as f32);
    }
}

/// Each channel's batch mean and biased variance as an f64 `(channels, 2)` tensor.
struct ChannelStats;

cpu_op!(ChannelStats, "channel-stats", |_op, x| {
    let dims = channel_dims(x.layout.shape())?;
    let stats = channel_stats(x.values("batch norm input")?, dims);
    let flat = stats.iter().flat_map(|&(m, v)| [m, v]).collect();
    Ok((CpuStorage::F64(flat), Shape::from((dims.1, 2))))
});

/// Each channel's batch mean and biased variance of a contiguous `(batch, channels, ...)` `x`.
fn batch_stats(x: &Tensor) -> candle_core::Result<Vec<(f64, f64)>> {
    Ok(x.apply_op1_no_bwd(&ChannelStats)?
        .to_vec2::<f64>()?
        .into_iter()
        .map(|s| (s[0], s[1]))
        .collect())
}

/// Batch normalisation in training mode without affine parameters over axis 1 of `x`
/// (`(batch, channels, ...)`): returns the normalised tensor and each channel's batch mean and
/// biased variance (for the running statistics; not part of the graph).
pub fn batch_norm_train(x: &Tensor, eps: f64) -> candle_core::Result<(Tensor, Tensor, Tensor)> {
    let (_, ch, _) = channel_dims(x.shape())?;
    if fused_on(x.device()) {
        let x = x.contiguous()?;
        let stats = batch_stats(&x)?;
        let mean: Vec<f32> = stats.iter().map(|s| s.0 as f32).collect();
        let var: Vec<f32> = stats.iter().map(|s| s.1 as f32).collect();
        let y = x.apply_op1(BatchNorm { eps, stats })?;
        return Ok((
            y,
            Tensor::new(mean, x.device())?,
            Tensor::new(var, x.device())?,
        ));
    }
    // (channels, everything else) so that one reduction gives each channel's statistics.
    let dims = x.dims().to_vec();
    let per_channel = x.transpose(0, 1)?.contiguous()?.reshape((ch, ()))?;
    let mean = per_channel.mean_keepdim(D::Minus1)?;
    let centred = per_channel.broadcast_sub(&mean)?;
    let var = centred.sqr()?.mean_keepdim(D::Minus1)?;
    let y = centred.broadcast_div(&(var.clone() + eps)?.sqrt()?)?;
    let mut moved = dims;
    moved.swap(0, 1);
    let y = y.reshape(moved.as_slice())?.transpose(0, 1)?.contiguous()?;
    Ok((y, mean.detach().flatten_all()?, var.detach().flatten_all()?))
}

/// 2x2 max pooling with stride 2 (odd sizes floored), the gradient going to the first maximum
/// of each window in row-major order, as PyTorch's `MaxPool2d` does.
struct MaxPool2;

/// `(batch * channels, h, w, ho, wo)` of a pooling input.
fn pool_dims(shape: &Shape) -> candle_core::Result<(usize, usize, usize, usize, usize)> {
    let (b, c, h, w) = shape.dims4()?;
    Ok((b * c, h, w, h / 2, w / 2))
}

/// Calls `f(j, index)` for every window `j` of output row `i` of a `w`-wide plane, with the
/// index within the plane of the window's first maximum in row-major order (a NaN wins and
/// stays, as in PyTorch). The reference that [`window_grads`] is tested against.
#[cfg(test)]
fn row_argmax(plane: &[f32], w: usize, wo: usize, i: usize, mut f: impl FnMut(usize, usize)) {
    let top = &plane[2 * i * w..][..w];
    let bottom = &plane[(2 * i + 1) * w..][..w];
    for j in 0..wo {
        let candidates = [
            (top[2 * j], 2 * i * w + 2 * j),
            (top[2 * j + 1], 2 * i * w + 2 * j + 1),
            (bottom[2 * j], (2 * i + 1) * w + 2 * j),
            (bottom[2 * j + 1], (2 * i + 1) * w + 2 * j + 1),
        ];
        let mut best = candidates[0];
        for c in &candidates[1..] {
            if c.0 > best.0 || (c.0.is_nan() && !best.0.is_nan()) {
                best = *c;
            }
        }
        f(j, best.1);
    }
}

/// Writes into `y` the value of every window of output row `i` that `row_argmax` picks (the
/// first maximum, a NaN winning): the same values, without the indices, in a loop the
/// compiler can keep branch-free.
fn row_max(plane: &[f32], w: usize, y: &mut [MaybeUninit<f32>], i: usize) {
    let top = &plane[2 * i * w..][..w];
    let bottom = &plane[(2 * i + 1) * w..][..w];
    let pick = |best: f32, c: f32| {
        if c > best || (c.is_nan() && !best.is_nan()) {
            c
        } else {
            best
        }
    };
    for ((y, t), b) in y
        .iter_mut()
        .zip(top.chunks_exact(2))
        .zip(bottom.chunks_exact(2))
    {
        y.write(pick(pick(pick(t[0], t[1]), b[0]), b[1]));
    }
}

widest_simd! {
    /// Writes the input gradient of a `h x w` plane's 2x2 windows into `d`: each window's gradient
    /// (from `g`, the `ho x wo` output's) at its first maximum in row-major order (a NaN winning,
    /// as `row_argmax` picks it), zero at its other three values and at the last row and column of
    /// an odd-sized plane, which are in no window. The gradient is written as `0.0 + g`, the value
    /// the former zero-filled plane plus `g` gave (a gradient of -0.0 becomes 0.0).
    ///
    /// The windows go through [`window_block`] 16 at a time: along each pair of rows where they are
    /// at least 16 wide, otherwise gathered across rows into a block and scattered back. A loop
    /// with a branch per comparison missed half the time on random data and was 2-7x slower.
    fn window_grads(
        plane: &[f32],
        dims: (usize, usize, usize),
        g: &[f32],
        d: &mut [MaybeUninit<f32>],
    ) = window_grads_body;
}

#[inline(always)]
fn window_grads_body(
    plane: &[f32],
    (w, ho, wo): (usize, usize, usize),
    g: &[f32],
    d: &mut [MaybeUninit<f32>],
) {
    if wo >= 16 {
        for i in 0..ho {
            let top = &plane[2 * i * w..][..w];
            let bottom = &plane[(2 * i + 1) * w..][..w];
            let g = &g[i * wo..][..wo];
            let (dt, db) = d[2 * i * w..][..2 * w].split_at_mut(w);
            let mut j = 0;
            while j < wo {
                // The last block overlaps the one before it when 16 does not divide the row:
                // each window's gradients depend on that window alone.
                let at = j.min(wo - 16);
                let (ot, ob) = window_block::<16, 32>(
                    top[2 * at..].first_chunk().expect("a whole block"),
                    bottom[2 * at..].first_chunk().expect("a whole block"),
                    g[at..].first_chunk().expect("a whole block"),
                );
                for (dv, &v) in dt[2 * at..][..32].iter_mut().zip(&ot) {
                    dv.write(v);
                }
                for (dv, &v) in db[2 * at..][..32].iter_mut().zip(&ob) {
                    dv.write(v);
                }
                j = at + 16;
            }
        }
    } else {
        let windows = ho * wo;
        let mut q = 0;
        while q < windows {
            let n = (windows - q).min(16);
            let (mut t, mut b, mut gb) = ([0f32; 32], [0f32; 32], [0f32; 16]);
            for l in 0..n {
                let (i, j) = ((q + l) / wo, (q + l) % wo);
                let (top, bottom) = (2 * i * w + 2 * j, (2 * i + 1) * w + 2 * j);
                t[2 * l..][..2].copy_from_slice(&plane[top..][..2]);
                b[2 * l..][..2].copy_from_slice(&plane[bottom..][..2]);
                gb[l] = g[q + l];
            }
            let (ot, ob) = window_block::<16, 32>(&t, &b, &gb);
            for l in 0..n {
                let (i, j) = ((q + l) / wo, (q + l) % wo);
                let (top, bottom) = (2 * i * w + 2 * j, (2 * i + 1) * w + 2 * j);
                d[top].write(ot[2 * l]);
                d[top + 1].write(ot[2 * l + 1]);
                d[bottom].write(ob[2 * l]);
                d[bottom + 1].write(ob[2 * l + 1]);
            }
            q += n;
        }
    }
    for v in &mut d[2 * ho * w..] {
        v.write(0.0);
    }
    if w % 2 == 1 {
        for r in 0..2 * ho {
            d[r * w + w - 1].write(0.0);
        }
    }
}

/// The gradients of `N` windows whose top rows are `t` and bottom rows `b` (`V = 2 N` values
/// each) given the windows' output gradients `g`: the values to write in place of `t` and `b`.
/// A closure per window inside a fixed-size loop, which the compiler turns into vector
/// selects.
#[inline(always)]
fn window_block<const N: usize, const V: usize>(
    t: &[f32; V],
    b: &[f32; V],
    g: &[f32; N],
) -> ([f32; V], [f32; V]) {
    // The window's maximum as [`row_max`] picks it, then the first of its values equal to it
    // (a NaN equal to a NaN): the position `row_argmax` gives, with selects, no branches.
    let pick = |best: f32, c: f32| {
        if (c > best) | (c.is_nan() & !best.is_nan()) {
            c
        } else {
            best
        }
    };
    let same = |v: f32, m: f32| (v == m) | (v.is_nan() & m.is_nan());
    let window = |t0: f32, t1: f32, b0: f32, b1: f32, g: f32| -> [f32; 4] {
        let m = pick(pick(pick(t0, t1), b0), b1);
        let (s0, s1, s2, s3) = (same(t0, m), same(t1, m), same(b0, m), same(b1, m));
        let gz = 0.0 + g;
        let at = |first: bool| if first { gz } else { 0.0 };
        [
            at(s0),
            at(s1 & !s0),
            at(s2 & !(s0 | s1)),
            at(s3 & !(s0 | s1 | s2)),
        ]
    };
    let (mut ot, mut ob) = ([0f32; V], [0f32; V]);
    for l in 0..N {
        let r = window(t[2 * l], t[2 * l + 1], b[2 * l], b[2 * l + 1], g[l]);
        ot[2 * l] = r[0];
        ot[2 * l + 1] = r[1];
        ob[2 * l] = r[2];
        ob[2 * l + 1] = r[3];
    }
    (ot, ob)
}

impl CustomOp1 for MaxPool2 {
    fn name(&self) -> &'static str {
        "max-pool-2"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let x = values(s, l, "max pool input")?;
        let (planes, h, w, ho, wo) = pool_dims(l.shape())?;
        let y = filled_chunks(planes * ho * wo, ho * wo, |p, y| {
            let plane = &x[p * h * w..][..h * w];
            for i in 0..ho {
                row_max(plane, w, &mut y[i * wo..][..wo], i);
            }
        });
        let (b, c, _, _) = l.shape().dims4()?;
        Ok((CpuStorage::F32(y), Shape::from((b, c, ho, wo))))
    }

    fn bwd(&self, x: &Tensor, _y: &Tensor, dy: &Tensor) -> candle_core::Result<Option<Tensor>> {
        Ok(Some(x.apply_op2_no_bwd(&dy.contiguous()?, &MaxPool2Grad)?))
    }
}

/// `(x, dy) -> dx` of [`MaxPool2`].
struct MaxPool2Grad;

cpu_op!(MaxPool2Grad, "max-pool-2-grad", |_op, x, dy| {
    let xv = x.values("max pool input")?;
    let dyv = dy.values("max pool gradient")?;
    let (planes, h, w, ho, wo) = pool_dims(x.layout.shape())?;
    if xv.len() < planes * h * w || dyv.len() != planes * ho * wo {
        candle_core::bail!("max pool gradient: shapes disagree");
    }
    let dx = filled_chunks(planes * h * w, h * w, |p, d| {
        let plane = &xv[p * h * w..][..h * w];
        window_grads(plane, (w, ho, wo), &dyv[p * ho * wo..][..ho * wo], d);
    });
    Ok((CpuStorage::F32(dx), x.layout.shape().clone()))
});

/// 2x2 max pooling with stride 2 of `(batch, channels, h, w)`.
///
/// Off the fused kernels this is a maximum over the windows' axes rather than candle's
/// `max_pool2d`: candle 0.11's backward pass of `max_pool2d` multiplies the gradient by the
/// share of maxima in the window (1/4 for a 2x2 window with one maximum) where it should divide
/// by their number, which shrank every gradient below a pooling layer fourfold.
pub fn max_pool2(x: &Tensor) -> candle_core::Result<Tensor> {
    if fused_on(x.device()) {
        x.contiguous()?.apply_op1(MaxPool2)
    } else {
        let (b, c, h, w) = x.dims4()?;
        let (ho, wo) = (h / 2, w / 2);
        x.narrow(2, 0, 2 * ho)?
            .narrow(3, 0, 2 * wo)?
            .reshape((b, c, ho, 2, wo, 2))?
            .max(5)?
            .max(3)
    }
}

/// Leaky ReLU with the networks' slope ([`LEAKY_SLOPE`](crate::config::LEAKY_SLOPE),
/// PyTorch's default, which Ruff's networks use) through the dense layers' activation kernels;
/// its backward pass goes through the output, whose sign is the input's (at 0 the slope, as
/// PyTorch's).
struct LeakyRelu;

impl CustomOp1 for LeakyRelu {
    fn name(&self) -> &'static str {
        "leaky-relu"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let x = values(s, l, "leaky ReLU input")?;
        let y = mapped(x, |v| activate(Activation::LeakyRelu, v));
        Ok((CpuStorage::F32(y), l.shape().clone()))
    }

    fn bwd(&self, _x: &Tensor, y: &Tensor, dy: &Tensor) -> candle_core::Result<Option<Tensor>> {
        Ok(Some(dy.contiguous()?.apply_op2_no_bwd(y, &LeakyReluGrad)?))
    }
}

/// `(dy, y) -> dx` of [`LeakyRelu`].
struct LeakyReluGrad;

cpu_op!(LeakyReluGrad, "leaky-relu-grad", |_op, dy, y| {
    let yv = y.values("leaky ReLU output")?;
    let dyv = dy.values("leaky ReLU gradient")?;
    if dyv.len() != yv.len() {
        candle_core::bail!("leaky ReLU gradient: shapes disagree");
    }
    let dx = mapped2(dyv, yv, |g, y| {
        g * activation_grad(Activation::LeakyRelu, y)
    });
    Ok((CpuStorage::F32(dx), y.layout.shape().clone()))
});

/// Leaky ReLU with slope [`LEAKY_SLOPE`](crate::config::LEAKY_SLOPE): `x` where it is
/// positive, `LEAKY_SLOPE * x` elsewhere.
pub fn leaky_relu(x: &Tensor) -> candle_core::Result<Tensor> {
    if fused_on(x.device()) {
        x.contiguous()?.apply_op1(LeakyRelu)
    } else {
        candle_activation(x, Activation::LeakyRelu)
    }
}

// ----- Explicit backward passes ----------------------------------------------------------------
//
// candle's autograd gives every node of the graph a zero-filled gradient and adds each incoming
// gradient to it, and runs those additions (like every element-wise operation on 64 Ki values
// or more) on a barrier pool of its own threads: for the LeNet networks, whose activations are
// large and whose products are small, that was a fifth of a step. A network on the fused CPU
// kernels can instead run its forward pass with the functions below (no graph is recorded) and
// its backward pass layer by layer with their `*_backward` partners, which call the same
// kernels as the custom ops' backward passes above, so the gradients are the same values.
// These functions need the fused kernels (`fused_on(device)`); elsewhere the networks use the
// functions above and candle's autograd.

/// Fails unless the fused kernels serve `t`'s device: the explicit passes have no other path.
fn explicit_only(t: &Tensor, what: &str) -> candle_core::Result<()> {
    if !fused_on(t.device()) {
        candle_core::bail!("{what}: explicit backward passes need the fused CPU kernels");
    }
    Ok(())
}

/// [`conv2d`] (or, with `transposed`, [`conv_transpose2d`]) without recording a graph.
pub fn conv_forward(
    x: &Tensor,
    w: &Tensor,
    pad: usize,
    transposed: bool,
) -> candle_core::Result<Tensor> {
    explicit_only(x, "conv_forward")?;
    x.contiguous()?
        .apply_op2_no_bwd(&w.contiguous()?, &Conv { pad, transposed })
}

/// The gradients of [`conv_forward`]`(x, w, pad, transposed)` given the output's gradient `dy`:
/// the input's (when `need_dx`; not for a network's first layer) and the weight's.
pub fn conv_backward(
    x: &Tensor,
    w: &Tensor,
    pad: usize,
    transposed: bool,
    dy: &Tensor,
    need_dx: bool,
) -> candle_core::Result<(Option<Tensor>, Tensor)> {
    explicit_only(x, "conv_backward")?;
    let (x, w, dy) = (x.contiguous()?, w.contiguous()?, dy.contiguous()?);
    let conv = Conv { pad, transposed };
    let dx = if need_dx {
        Some(conv.input_grad(&dy, &w, x.shape())?)
    } else {
        None
    };
    Ok((dx, conv.weight_grad(&x, &dy, w.shape())?))
}

/// [`batch_norm_train`] without recording a graph: the normalised tensor and each channel's
/// batch mean and biased variance (in f64, as [`batch_norm_backward`] takes them).
pub fn batch_norm_forward(x: &Tensor, eps: f64) -> candle_core::Result<(Tensor, Vec<(f64, f64)>)> {
    explicit_only(x, "batch_norm_forward")?;
    let x = x.contiguous()?;
    let stats = batch_stats(&x)?;
    let y = x.apply_op1_no_bwd(&BatchNorm {
        eps,
        stats: stats.clone(),
    })?;
    Ok((y, stats))
}

/// The input's gradient of [`batch_norm_forward`], from its output `y`, its statistics and the
/// output's gradient `dy`.
pub fn batch_norm_backward(
    dy: &Tensor,
    y: &Tensor,
    stats: &[(f64, f64)],
    eps: f64,
) -> candle_core::Result<Tensor> {
    explicit_only(y, "batch_norm_backward")?;
    dy.contiguous()?.apply_op2_no_bwd(
        &y.contiguous()?,
        &BatchNormGrad {
            eps,
            stats: stats.to_vec(),
        },
    )
}

/// [`leaky_relu`] without recording a graph.
pub fn leaky_relu_forward(x: &Tensor) -> candle_core::Result<Tensor> {
    explicit_only(x, "leaky_relu_forward")?;
    x.contiguous()?.apply_op1_no_bwd(&LeakyRelu)
}

/// The input's gradient of [`leaky_relu_forward`], from its output `y` and the output's
/// gradient `dy`.
pub fn leaky_relu_backward(dy: &Tensor, y: &Tensor) -> candle_core::Result<Tensor> {
    explicit_only(y, "leaky_relu_backward")?;
    dy.contiguous()?
        .apply_op2_no_bwd(&y.contiguous()?, &LeakyReluGrad)
}

/// [`max_pool2`] without recording a graph.
pub fn max_pool2_forward(x: &Tensor) -> candle_core::Result<Tensor> {
    explicit_only(x, "max_pool2_forward")?;
    x.contiguous()?.apply_op1_no_bwd(&MaxPool2)
}

/// The input's gradient of [`max_pool2_forward`], from its input `x` and the output's gradient
/// `dy`: each window's gradient goes to its first maximum.
pub fn max_pool2_backward(x: &Tensor, dy: &Tensor) -> candle_core::Result<Tensor> {
    explicit_only(x, "max_pool2_backward")?;
    x.contiguous()?
        .apply_op2_no_bwd(&dy.contiguous()?, &MaxPool2Grad)
}

/// Nearest upsampling by the whole factor `scale` in both directions (`(batch, channels, h,
/// w)` to `(batch, channels, h * scale, w * scale)`).
struct Upsample {
    scale: usize,
}

impl CustomOp1 for Upsample {
    fn name(&self) -> &'static str {
        "upsample-nearest"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let x = values(s, l, "upsampling input")?;
        let (b, c, h, w) = l.shape().dims4()?;
        let k = self.scale;
        let (hs, ws) = (h * k, w * k);
        let mut y = super::zeros(b * c * hs * ws);
        planes(&mut y, hs * ws, x, h * w, |_, y, x| {
            for (i, row) in x.chunks_exact(w.max(1)).enumerate() {
                let first = i * k * ws;
                for (j, &v) in row.iter().enumerate() {
                    y[first + j * k..][..k].fill(v);
                }
                for a in 1..k {
                    y.copy_within(first..first + ws, first + a * ws);
                }
            }
        });
        Ok((CpuStorage::F32(y), Shape::from((b, c, hs, ws))))
    }
}

/// candle's `upsample_nearest2d(h * scale, w * scale)` without recording a graph, its planes
/// written on the pool's threads (candle's runs on the calling thread, while the other thread
/// waited: a seventh of its waits in a CIFAR-10 step).
pub fn upsample_nearest2d_forward(x: &Tensor, scale: usize) -> candle_core::Result<Tensor> {
    explicit_only(x, "upsample_nearest2d_forward")?;
    if scale == 0 {
        candle_core::bail!("upsampling by 0");
    }
    x.contiguous()?.apply_op1_no_bwd(&Upsample { scale })
}

/// The input's gradient of [`Upsample`]: `dy -> dx`.
struct UpsampleGrad {
    scale: usize,
}

impl CustomOp1 for UpsampleGrad {
    fn name(&self) -> &'static str {
        "upsample-nearest-grad"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let src = values(s, l, "upsampling output gradient")?;
        let (b, c, hs, ws) = l.shape().dims4()?;
        let scale = self.scale;
        if scale == 0 || hs % scale != 0 || ws % scale != 0 {
            candle_core::bail!("upsample backward: {hs}x{ws} is not a multiple of {scale}");
        }
        let (h, w) = (hs / scale, ws / scale);
        let mut dx = super::zeros(b * c * h * w);
        planes(&mut dx, h * w, src, hs * ws, |_, d, g| {
            for i in 0..h {
                for a in 0..scale {
                    let row = &g[(i * scale + a) * ws..][..ws];
                    for (j, d) in d[i * w..][..w].iter_mut().enumerate() {
                        for v in &row[j * scale..][..scale] {
                            *d += v;
                        }
                    }
                }
            }
        });
        Ok((CpuStorage::F32(dx), Shape::from((b, c, h, w))))
    }
}

/// The input's gradient of candle's `upsample_nearest2d` by the whole factor `scale` in both
/// directions: each input pixel's gradient is the sum of its `scale x scale` block of `dy`
/// (`(batch, channels, h * scale, w * scale)`), added row by row in row-major order. It reads
/// `dy` in place (a copy of it first had the other thread wait).
pub fn upsample_nearest2d_backward(dy: &Tensor, scale: usize) -> candle_core::Result<Tensor> {
    explicit_only(dy, "upsample_nearest2d_backward")?;
    dy.contiguous()?.apply_op1_no_bwd(&UpsampleGrad { scale })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bit patterns of `v`, to compare values exactly (NaNs and signed zeros included).
    pub(super) fn bits(v: &[f32]) -> Vec<u32> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    /// Values with many ties, zeros of both signs and NaNs among random ones.
    pub(super) fn awkward_values(n: usize, seed: u64) -> Vec<f32> {
        let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                match state % 11 {
                    0 => 1.0,
                    1 => -0.0,
                    2 => 0.0,
                    3 if state % 7 == 0 => f32::NAN,
                    _ => (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5,
                }
            })
            .collect()
    }

    #[test]
    fn window_gradients_are_the_first_maximums_scatter_to_the_bit() {
        // Row widths on both paths (at least 16 windows, the last block overlapping, and fewer,
        // gathered across rows), odd sides, ties, signed zeros and NaNs.
        for (h, w) in [
            (2, 2),
            (4, 8),
            (8, 8),
            (7, 7),
            (16, 16),
            (6, 34),
            (3, 45),
            (32, 32),
            (14, 14),
            (5, 64),
        ] {
            let (ho, wo) = (h / 2, w / 2);
            let plane = awkward_values(h * w, (h * 100 + w) as u64);
            let g = awkward_values(ho * wo, (w * 100 + h) as u64);
            let mut want = vec![0f32; h * w];
            for i in 0..ho {
                row_argmax(&plane, w, wo, i, |j, idx| want[idx] += g[i * wo + j]);
            }
            let mut d = vec![MaybeUninit::new(f32::INFINITY); h * w];
            window_grads(&plane, (w, ho, wo), &g, &mut d);
            let got: Vec<u32> = d
                .iter()
                .map(|v| unsafe { v.assume_init() }.to_bits())
                .collect();
            let want: Vec<u32> = want.iter().map(|v| v.to_bits()).collect();
            assert_eq!(got, want, "{h} x {w}");
        }
    }

    #[test]
    fn batch_statistics_are_each_channels_sums_in_order_to_the_bit() {
        // Channel counts that fill the side-by-side lanes and that leave a short group.
        for (batch, ch, rest) in [(3, 8, 5), (2, 11, 7), (4, 1, 9), (5, 19, 4)] {
            let x = awkward_values(batch * ch * rest, (batch * ch + rest) as u64)
                .into_iter()
                .map(|v| if v.is_nan() { 2.5 } else { v })
                .collect::<Vec<_>>();
            let y = awkward_values(batch * ch * rest, 7 + rest as u64)
                .into_iter()
                .map(|v| if v.is_nan() { -1.5 } else { v })
                .collect::<Vec<_>>();
            let n = (batch * rest) as f64;
            let got = channel_stats(&x, (batch, ch, rest));
            for (c, &(mean, var)) in got.iter().enumerate() {
                let planes = || (0..batch).flat_map(|b| &x[(b * ch + c) * rest..][..rest]);
                let m = planes().map(|&v| v as f64).sum::<f64>() / n;
                let v = planes().map(|&v| (v as f64 - m).powi(2)).sum::<f64>() / n;
                assert_eq!((mean.to_bits(), var.to_bits()), (m.to_bits(), v.to_bits()));
            }
            for (p, (a, b)) in x
                .chunks(SUM_LANES * rest)
                .zip(y.chunks(SUM_LANES * rest))
                .flat_map(|(g, y)| grad_sums(g, y, rest))
                .enumerate()
            {
                let (g, yy) = (&x[p * rest..][..rest], &y[p * rest..][..rest]);
                let want = g.iter().zip(yy).fold((0f64, 0f64), |(a, b), (&g, &yy)| {
                    (a + g as f64, b + g as f64 * yy as f64)
                });
                assert_eq!(
                    (a.to_bits(), b.to_bits()),
                    (want.0.to_bits(), want.1.to_bits())
                );
            }
        }
    }

    #[test]
    fn blocked_direct_loops_give_the_former_loops_values_to_the_bit() {
        // Ruff's direct shapes (MNIST's few channels, CIFAR-10's 32 -> 3), planes shorter than a
        // register block, groups of planes that leave a short one, kernels of other sizes,
        // padding of 0 and of k - 1 (transposed), signed zeros and NaNs in the data.
        for (c_in, c_out, h, w, k, pad) in [
            (1, 8, 28, 28, 5, 2),
            (8, 4, 14, 14, 5, 2),
            (4, 8, 7, 7, 5, 2),
            (32, 3, 32, 32, 5, 2),
            (2, 5, 3, 4, 3, 1),
            (3, 6, 5, 5, 5, 4),
            (5, 7, 9, 6, 3, 0),
            (2, 1, 1, 1, 1, 0),
        ] {
            let g = Geometry::new(
                &Shape::from((1, c_in, h, w)),
                &Shape::from((c_out, c_in, k, k)),
                pad,
            )
            .unwrap();
            let l = g.padded();
            let seed = (c_in * 1000 + c_out * 100 + h) as u64;
            let x = awkward_values(g.in_image(), seed);
            let wv: Vec<f32> = awkward_values(c_out * g.patch(), seed + 1)
                .into_iter()
                .map(|v| if v.is_nan() { 0.25 } else { v })
                .collect();
            let dy = awkward_values(g.out_image(), seed + 2);
            let shape = format!("{c_in} -> {c_out}, {h} x {w}, k {k}, pad {pad}");

            let mut xp = vec![f32::NAN; c_in * l.plane];
            g.pad_image(l, &x, &mut xp);
            let mut want = vec![f32::NAN; g.out_image()];
            g.direct_forward_reference(l, &xp, &wv, &mut want);
            let mut got = vec![f32::NAN; g.out_image()];
            let mut yw = vec![f32::NAN; c_out * l.span];
            g.direct_forward(l, &g.forward_taps(l, &wv), &xp, &mut yw, &mut got);
            assert_eq!(bits(&got), bits(&want), "forward, {shape}");

            let mut dyw = vec![f32::NAN; c_out * l.span];
            g.widen(l, &dy, &mut dyw);
            let mut want = vec![f32::NAN; g.in_image()];
            g.direct_backward_input_reference(l, &dyw, &wv, &mut want);
            let mut got = vec![f32::NAN; g.in_image()];
            let mut dxp = vec![f32::NAN; c_in * l.plane];
            let taps = g.backward_input_taps(l, &wv);
            g.direct_backward_input(l, &taps, &dyw, &mut dxp, &mut got);
            assert_eq!(bits(&got), bits(&want), "input gradient, {shape}");
        }
    }

    #[test]
    fn patches_from_padded_planes_are_im2cols_and_back() {
        // The widths the copies special-case (8, 16, 32) and others, with and without padding,
        // several images side by side at an offset.
        for (c_in, h, w, k, pad) in [
            (3, 32, 32, 5, 2),
            (2, 16, 16, 5, 2),
            (4, 8, 8, 5, 2),
            (2, 7, 11, 5, 0),
            (1, 6, 5, 3, 1),
            (2, 5, 5, 5, 4),
        ] {
            let x_shape = Shape::from((1, c_in, h, w));
            let w_shape = Shape::from((3, c_in, k, k));
            let g = Geometry::new(&x_shape, &w_shape, pad).unwrap();
            let (p, kk) = (g.out_pixels(), g.patch());
            let x: Vec<f32> = (0..g.in_image()).map(|i| i as f32 + 1.0).collect();
            let mut want = vec![f32::NAN; kk * p];
            g.im2col(&x, &mut want);
            let l = g.padded();
            let mut xp = vec![f32::NAN; c_in * l.plane];
            g.pad_image(l, &x, &mut xp);
            let mut got = vec![f32::NAN; kk * 3 * p];
            g.im2col_padded(l, &xp, &mut got, 3 * p, p);
            for r in 0..kk {
                assert_eq!(
                    &got[r * 3 * p + p..][..p],
                    &want[r * p..][..p],
                    "row {r} of {c_in}x{h}x{w}, k {k}, pad {pad}"
                );
            }
            // And back: the padded col2im, cropped, adds to the bit what col2im adds.
            let cols: Vec<f32> = (0..kk * p)
                .map(|i| ((i * 7919) % 1000) as f32 * 1e-3 - 0.5)
                .collect();
            let mut want = vec![0f32; g.in_image()];
            g.col2im(&cols, &mut want);
            let mut dxp = vec![f32::NAN; c_in * l.plane];
            g.col2im_padded(l, &cols, &mut dxp);
            let mut got = vec![f32::NAN; g.in_image()];
            g.crop(l, &dxp, &mut got);
            assert_eq!(bits(&got), bits(&want), "{c_in}x{h}x{w}, k {k}, pad {pad}");
        }
    }
}
