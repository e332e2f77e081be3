//! WaNet (Nguyen & Tran 2021): an imperceptible warp.
//!
//! A 2×k×k control grid `ins` (uniform in [−1, 1] from the seed, normalised `ins / mean|ins|`,
//! or given as `control_grid`; channel 0 = x displacement, 1 = y) is upsampled to H×W with
//! PyTorch's bicubic (A = −0.75, align_corners = true, border taps clamped);
//! `grid = clip((identity + s·noise/H)·grid_rescale, −1, 1)` with `identity[i,j] = (lin(j), lin(i))`;
//! the frame is sampled at `grid` like `grid_sample(bilinear, align_corners = true, zeros)`.
//! `noise_mode` adds WaNet's cross-sample noise `U(−1, 1)/H` to the grid (clipped).
//!
//! Dynamic: a new control grid per frame (`grid`, the default).

use crate::core::placement::{FrameCtx, Variation};
use crate::core::rng::{Stream, rng_for};
use crate::core::spec_error::{SpecError, check_finite, check_range};
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WanetSpec {
    #[serde(default = "default_k")]
    pub k: usize,
    #[serde(default = "default_s")]
    pub s: f64,
    #[serde(default = "one")]
    pub grid_rescale: f64,
    /// `[2][k][k]`; drawn from `seed` (or the attack's seed) when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control_grid: Option<Vec<Vec<Vec<f64>>>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Use WaNet's "noise mode" grid (its cross samples) instead of the attack grid.
    #[serde(default)]
    pub noise_mode: bool,
}

fn default_k() -> usize {
    4
}
fn default_s() -> f64 {
    0.5
}
fn one() -> f64 {
    1.0
}

impl Default for WanetSpec {
    fn default() -> Self {
        WanetSpec {
            k: default_k(),
            s: default_s(),
            grid_rescale: 1.0,
            control_grid: None,
            seed: None,
            noise_mode: false,
        }
    }
}

/// Keys's cubic convolution weights for the 4 taps around `t` in [0, 1) (PyTorch, A = −0.75).
pub fn cubic_weights(t: f64) -> [f64; 4] {
    const A: f64 = -0.75;
    let near = |x: f64| ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0;
    let far = |x: f64| ((A * x - 5.0 * A) * x + 8.0 * A) * x - 4.0 * A;
    [far(t + 1.0), near(t), near(1.0 - t), far(2.0 - t)]
}

/// For output coordinate `o` of `n_out` on an axis of `n_in`: the 4 clamped source taps and
/// their weights (align_corners = true).
fn bicubic_axis(o: usize, n_in: usize, n_out: usize) -> ([usize; 4], [f64; 4]) {
    let scale = if n_out > 1 {
        (n_in - 1) as f64 / (n_out - 1) as f64
    } else {
        0.0
    };
    let real = scale * o as f64;
    let i0 = real.floor() as isize;
    let w = cubic_weights(real - i0 as f64);
    let idx: [usize; 4] =
        std::array::from_fn(|k| (i0 - 1 + k as isize).clamp(0, n_in as isize - 1) as usize);
    (idx, w)
}

/// Bicubic upsampling done separably, a row at a time: each source row interpolated along x
/// once, then each output row combines 4 of those. Each output value is the same sums in the
/// same order as the direct 4×4 form, `Σₐ yw[a]·(Σ_b xw[b]·src[yi[a]][xi[b]])` (both from 0.0),
/// so the result is bit-identical, at a quarter of the work and without a full-size plane.
#[derive(Clone, Debug)]
struct Bicubic {
    ow: usize,
    /// Per source row, the row interpolated to `ow` columns.
    rows_x: Vec<f64>,
    ys: Vec<([usize; 4], [f64; 4])>,
}

impl Bicubic {
    fn new(src: &[f64], ih: usize, iw: usize, oh: usize, ow: usize) -> Bicubic {
        let xs: Vec<_> = (0..ow).map(|o| bicubic_axis(o, iw, ow)).collect();
        let mut rows_x = Vec::with_capacity(ih * ow);
        for j in 0..ih {
            let row = &src[j * iw..(j + 1) * iw];
            rows_x.extend(xs.iter().map(|(xi, xw)| {
                let mut r = 0.0;
                for b in 0..4 {
                    r += xw[b] * row[xi[b]];
                }
                r
            }));
        }
        Bicubic {
            ow,
            rows_x,
            ys: (0..oh).map(|o| bicubic_axis(o, ih, oh)).collect(),
        }
    }

    /// Output row `y` into `out` (`ow` values).
    fn row(&self, y: usize, out: &mut [f64]) {
        let (yi, yw) = &self.ys[y];
        let r: [&[f64]; 4] = std::array::from_fn(|a| &self.rows_x[yi[a] * self.ow..][..self.ow]);
        combine_rows(r, yw, &mut out[..self.ow]);
    }
}

super::simd_kernel! {
/// `out[x] = Σₐ yw[a]·r[a][x]` from 0.0 in order, compiled for AVX2.
fn combine_rows(r: [&[f64]; 4], yw: &[f64; 4], out: &mut [f64]) {
    let n = out.len().min(r[0].len()).min(r[1].len()).min(r[2].len()).min(r[3].len());
    for x in 0..n {
        let mut v = 0.0;
        for a in 0..4 {
            v += yw[a] * r[a][x];
        }
        out[x] = v;
    }
}
}

/// Bicubic upsampling of an `ih`×`iw` plane to `oh`×`ow`, align_corners = true, clamped taps.
pub fn upsample_bicubic(src: &[f64], ih: usize, iw: usize, oh: usize, ow: usize) -> Vec<f64> {
    let up = Bicubic::new(src, ih, iw, oh, ow);
    let mut out = vec![0.0; oh * ow];
    for (y, row) in out.chunks_exact_mut(ow.max(1)).enumerate() {
        up.row(y, row);
    }
    out
}

/// The normalised random control grid WaNet draws: U(−1, 1), divided by its mean |value|.
pub fn random_control_grid(k: usize, seed: u64, index: u64) -> Vec<f64> {
    let mut rng = rng_for(seed, Stream::WanetGrid, index);
    let ins: Vec<f64> = (0..2 * k * k)
        .map(|_| rng.random_range(-1.0..1.0))
        .collect();
    let mean_abs = ins.iter().map(|v| v.abs()).sum::<f64>() / ins.len() as f64;
    ins.iter()
        .map(|v| v / mean_abs.max(f64::MIN_POSITIVE))
        .collect()
}

/// The sampling grid, a row at a time: `lin(j) + s·noise/H`, rescaled and clipped, per pixel.
/// Immutable and shared by the threads that sample a frame; each brings its own [`RowBufs`].
#[derive(Clone, Debug)]
pub struct WarpRows {
    nx: Bicubic,
    ny: Bicubic,
    /// `lin(j)` per column.
    lx: Vec<f64>,
    s: f64,
    rescale: f64,
    h: usize,
    w: usize,
}

/// `−1 + 2i/(n − 1)`: the identity grid's coordinate of index `i` of `n` (align_corners).
fn lin(i: usize, n: usize) -> f64 {
    if n > 1 {
        -1.0 + 2.0 * i as f64 / (n - 1) as f64
    } else {
        -1.0
    }
}

/// One thread's row buffers for [`WarpRows`]: the grid's two channels, per tap (corners in
/// [`Taps::tap`]'s order) a source index and a weight per pixel (one array each, so the
/// kernels vectorise), and the channel sums.
#[derive(Default)]
struct RowBufs {
    x: Vec<f64>,
    y: Vec<f64>,
    tap_idx: [Vec<u32>; 4],
    tap_wt: [Vec<f32>; 4],
    acc: [Vec<f32>; 3],
}

impl WarpRows {
    fn new(ins: &[f64], k: usize, s: f64, rescale: f64, h: usize, w: usize) -> WarpRows {
        WarpRows {
            nx: Bicubic::new(&ins[..k * k], k, k, h, w),
            ny: Bicubic::new(&ins[k * k..], k, k, h, w),
            lx: (0..w).map(|j| lin(j, w)).collect(),
            s,
            rescale,
            h,
            w,
        }
    }

    /// The noise's scale `s/H`: the displacement is `noise·(s/H)`, one multiply per pixel
    /// where `s·noise/H` took a division.
    fn c(&self) -> f64 {
        self.s / self.h as f64
    }

    fn grid_rows(&self, i: usize, b: &mut RowBufs) {
        b.x.resize(self.w, 0.0);
        b.y.resize(self.w, 0.0);
        self.nx.row(i, &mut b.x);
        self.ny.row(i, &mut b.y);
    }

    /// Row `i`'s taps into `b.tap_idx` and `b.tap_wt`: what [`WarpRows::row`] and
    /// [`Taps::tap`] compute, through one kernel that vectorises.
    fn row_taps(&self, i: usize, b: &mut RowBufs) {
        self.grid_rows(i, b);
        let w = self.w;
        for t in 0..4 {
            b.tap_idx[t].resize(w, 0);
            b.tap_wt[t].resize(w, 0.0);
        }
        let k = RowConsts {
            gy: lin(i, self.h),
            c: self.c(),
            rescale: self.rescale,
            h: self.h,
            w,
        };
        let [i0, i1, i2, i3] = &mut b.tap_idx;
        let [w0, w1, w2, w3] = &mut b.tap_wt;
        grid_taps(&self.lx, &b.x, &b.y, &k, [i0, i1, i2, i3], [w0, w1, w2, w3]);
    }

    /// Calls `f` with the grid point of each pixel of row `i`, left to right.
    fn row(&self, i: usize, b: &mut RowBufs, mut f: impl FnMut([f64; 2])) {
        self.grid_rows(i, b);
        let (c, rescale) = (self.c(), self.rescale);
        let gy = lin(i, self.h);
        for (j, (&nx, &ny)) in b.x.iter().zip(&b.y).enumerate() {
            f([
                ((lin(j, self.w) + nx * c) * rescale).clamp(-1.0, 1.0),
                ((gy + ny * c) * rescale).clamp(-1.0, 1.0),
            ]);
        }
    }

    /// The whole frame's taps as a table (for the GPU's warp texture): rows are independent,
    /// so bands of rows across threads, each with its own buffers.
    fn table(&self) -> Taps {
        use rayon::prelude::*;
        let (h, w) = (self.h, self.w);
        let mut idx = vec![[0u32; 4]; h * w];
        let mut wt = vec![[0f32; 4]; h * w];
        const BAND: usize = 16;
        idx.par_chunks_mut(w * BAND)
            .zip(wt.par_chunks_mut(w * BAND))
            .enumerate()
            .for_each_init(RowBufs::default, |b, (n, (bi, bw))| {
                for (r, (ri, rw)) in bi.chunks_mut(w).zip(bw.chunks_mut(w)).enumerate() {
                    self.row_taps(n * BAND + r, b);
                    for (j, (i, wgt)) in ri.iter_mut().zip(rw.iter_mut()).enumerate() {
                        *i = std::array::from_fn(|t| b.tap_idx[t][j]);
                        *wgt = std::array::from_fn(|t| b.tap_wt[t][j]);
                    }
                }
            });
        Taps { idx, wt }
    }

    /// Warps whole output rows `first_row..` into `dst` from the whole frame `src`, computing
    /// each row's taps as it goes: no frame-sized table is written or read, which at 720p was
    /// 29 MB faulted in per revision and most of the preview's time. The same weights and sums
    /// as [`Taps::sample_span`] over the reference taps, so the same bytes (tested).
    fn sample_rows(&self, src: &[u8], dst: &mut [u8], first_row: usize) {
        let mut b = RowBufs::default();
        let (w, h) = (self.w, self.h);
        // The gathers read a 4-byte word per pixel: the frame with a byte after it.
        let padded;
        let src = if src.len() > w * h * 3 {
            src
        } else {
            padded = [src, &[0]].concat();
            &padded[..]
        };
        for (r, out) in dst.chunks_exact_mut(w * 3).enumerate() {
            self.row_taps(first_row + r, &mut b);
            sample_row(src, out, &b.tap_idx, &b.tap_wt, &mut b.acc);
        }
    }
}

super::simd_kernel! {
/// One row of taps: the grid point `((lin(j) + nx·s/H)·rescale, (gy + ny·s/H)·rescale)`,
/// clipped, as in [`WarpRows::row`], then [`Taps::tap`]'s corners and weights: the same
/// operations in the same order, so the same weights (tested). One array per output and 32-bit
/// integers, so it compiles to AVX2 vector code; written per pixel as `[u32; 4]` and with
/// branches it stayed scalar (40 ns a pixel).
///
/// [`Taps::tap`]'s bounds test is not needed: the grid lies in [−1, 1], so a corner past the
/// right or bottom edge only ever comes with a zero fraction, i.e. a zero weight, which is what
/// the test gives it; its index is clamped to the edge so the read stays in the frame. (A NaN
/// grid point gives corner 0 and NaN weights here as there.)
fn grid_taps(lxs: &[f64], nx: &[f64], ny: &[f64], k: &RowConsts, idx: [&mut [u32]; 4], wt: [&mut [f32]; 4]) {
    let (w, h) = (k.w, k.h);
    let (wm1, hm1, wf) = ((w - 1) as f64, (h - 1) as f64, w as f64);
    let wu = w as u32;
    let [i0, i1, i2, i3] = idx;
    let [w0, w1, w2, w3] = wt;
    let n = w.min(lxs.len()).min(nx.len()).min(ny.len()).min(i0.len()).min(i1.len()).min(i2.len())
        .min(i3.len()).min(w0.len()).min(w1.len()).min(w2.len()).min(w3.len());
    for j in 0..n {
        let gx = ((lxs[j] + nx[j] * k.c) * k.rescale).clamp(-1.0, 1.0);
        let gy = ((k.gy + ny[j] * k.c) * k.rescale).clamp(-1.0, 1.0);
        let ix = (gx + 1.0) / 2.0 * wm1;
        let iy = (gy + 1.0) / 2.0 * hm1;
        let (x0f, y0f) = (ix.floor(), iy.floor());
        let (fx, fy) = (ix - x0f, iy - y0f);
        // The top-left corner's index, exact in f64 (one conversion per pixel); the others
        // one column and one row on, except past the last ones. (A NaN point reads pixel 0.)
        let top_left = (y0f * wf + x0f) as u32;
        let dx = u32::from(x0f < wm1);
        let dy = if y0f < hm1 { wu } else { 0 };
        i0[j] = top_left;
        i1[j] = top_left + dx;
        i2[j] = top_left + dy;
        i3[j] = top_left + dy + dx;
        w0[j] = ((1.0 - fx) * (1.0 - fy)) as f32;
        w1[j] = (fx * (1.0 - fy)) as f32;
        w2[j] = ((1.0 - fx) * fy) as f32;
        w3[j] = (fx * fy) as f32;
    }
}
}

super::simd_kernel! {
/// One output row from its taps: per channel, `Σₖ wₖ · src[tapₖ]` from 0 in tap order as
/// [`gather_px`] adds it, but tap by tap over the whole row, each tap's pixel read as one 4-byte
/// word, so the loads become AVX2 gathers and the arithmetic runs 8 pixels at a time (3× faster
/// than pixel by pixel). `src` holds at least one byte past the frame, so the word of the last
/// pixel is in it.
fn sample_row(src: &[u8], out: &mut [u8], idx: &[Vec<u32>; 4], wt: &[Vec<f32>; 4], acc: &mut [Vec<f32>; 3]) {
    let n = out.len() / 3;
    let [ar, ag, ab] = acc;
    for a in [&mut *ar, &mut *ag, &mut *ab] {
        a.clear();
        a.resize(n, 0.0);
    }
    let Some(last) = src.len().checked_sub(4) else {
        return;
    };
    for k in 0..4 {
        let (ii, ww) = (&idx[k][..n], &wt[k][..n]);
        let (r, g, b) = (&mut ar[..n], &mut ag[..n], &mut ab[..n]);
        for j in 0..n {
            // `min` only proves the read in bounds: every tap's word lies within `src`.
            let o = (ii[j] as usize * 3).min(last);
            let v = u32::from_le_bytes([src[o], src[o + 1], src[o + 2], src[o + 3]]);
            let w = ww[j];
            r[j] += w * (v & 0xFF) as f32;
            g[j] += w * ((v >> 8) & 0xFF) as f32;
            b[j] += w * ((v >> 16) & 0xFF) as f32;
        }
    }
    for (j, px) in out.chunks_exact_mut(3).enumerate() {
        px[0] = super::to_u8(ar[j]);
        px[1] = super::to_u8(ag[j]);
        px[2] = super::to_u8(ab[j]);
    }
}
}

/// How a frame's taps are had: computed row by row from the grid, or read from a table (noise
/// mode, whose draws run in pixel order over the whole frame).
pub enum Sampler<'a> {
    Rows(Cow<'a, WarpRows>),
    Table(Cow<'a, Taps>),
}

impl Sampler<'_> {
    /// Output rows `first_row..first_row + dst.len() / (3·w)` of a `w`-wide frame from `src`.
    pub fn sample_rows(&self, src: &[u8], dst: &mut [u8], first_row: usize, w: usize) {
        match self {
            Sampler::Rows(r) => r.sample_rows(src, dst, first_row),
            Sampler::Table(t) => t.sample_span(src, dst, first_row * w),
        }
    }
}

struct RowConsts {
    gy: f64,
    c: f64,
    rescale: f64,
    h: usize,
    w: usize,
}

/// The sampling grid (x, y in [−1, 1]) for an `h`×`w` frame, as pairs per pixel.
pub fn warp_grid(ins: &[f64], k: usize, s: f64, rescale: f64, h: usize, w: usize) -> Vec<[f64; 2]> {
    let rows = WarpRows::new(ins, k, s, rescale, h, w);
    let (mut out, mut b) = (Vec::with_capacity(h * w), RowBufs::default());
    for i in 0..h {
        rows.row(i, &mut b, |g| out.push(g));
    }
    out
}

/// One point of WaNet's noise-mode grid: `clip(g + U(−1, 1)/H, −1, 1)`, two draws per point.
fn noise_point(g: [f64; 2], h: usize, rng: &mut impl Rng) -> [f64; 2] {
    let dx: f64 = rng.random_range(-1.0..1.0);
    let dy: f64 = rng.random_range(-1.0..1.0);
    [
        (g[0] + dx / h as f64).clamp(-1.0, 1.0),
        (g[1] + dy / h as f64).clamp(-1.0, 1.0),
    ]
}

/// WaNet's noise-mode grid: `clip(grid + U(−1, 1)/H, −1, 1)`.
pub fn noise_mode_grid(grid: &[[f64; 2]], h: usize, seed: u64, index: u64) -> Vec<[f64; 2]> {
    let mut rng = rng_for(seed, Stream::WanetNoiseMode, index);
    grid.iter().map(|&g| noise_point(g, h, &mut rng)).collect()
}

/// Bilinear taps of a grid: per output pixel, 4 source pixel indices and weights, with taps
/// outside the frame given weight 0 (grid_sample's zero padding).
#[derive(Clone, Debug)]
pub struct Taps {
    idx: Vec<[u32; 4]>,
    wt: Vec<[f32; 4]>,
}

impl Taps {
    pub fn from_grid(grid: &[[f64; 2]], h: usize, w: usize) -> Taps {
        let mut taps = Taps::with_capacity(grid.len());
        for &g in grid {
            taps.push(g, h, w);
        }
        taps
    }

    fn with_capacity(n: usize) -> Taps {
        Taps {
            idx: Vec::with_capacity(n),
            wt: Vec::with_capacity(n),
        }
    }

    /// Appends the taps of grid point `g`.
    #[inline]
    fn push(&mut self, g: [f64; 2], h: usize, w: usize) {
        let (ii, ww) = Taps::tap(g, h, w);
        self.idx.push(ii);
        self.wt.push(ww);
    }

    /// The 4 taps (indices, weights) of grid point `g`.
    #[inline(always)]
    fn tap(g: [f64; 2], h: usize, w: usize) -> ([u32; 4], [f32; 4]) {
        let ix = (g[0] + 1.0) / 2.0 * (w - 1) as f64;
        let iy = (g[1] + 1.0) / 2.0 * (h - 1) as f64;
        let (x0, y0) = (ix.floor(), iy.floor());
        let (fx, fy) = (ix - x0, iy - y0);
        let (x0, y0) = (x0 as isize, y0 as isize);
        let corners = [(x0, y0), (x0 + 1, y0), (x0, y0 + 1), (x0 + 1, y0 + 1)];
        let weights = [
            (1.0 - fx) * (1.0 - fy),
            fx * (1.0 - fy),
            (1.0 - fx) * fy,
            fx * fy,
        ];
        let mut ii = [0u32; 4];
        let mut ww = [0f32; 4];
        for k in 0..4 {
            let (x, y) = corners[k];
            if x >= 0 && y >= 0 && (x as usize) < w && (y as usize) < h {
                ii[k] = (y as usize * w + x as usize) as u32;
                ww[k] = weights[k] as f32;
            }
        }
        (ii, ww)
    }

    /// Per output pixel, the 4 source pixel indices (row-major, `y·w + x`).
    pub fn indices(&self) -> &[[u32; 4]] {
        &self.idx
    }

    /// Per output pixel, the 4 tap weights (0 for taps outside the frame).
    pub fn weights(&self) -> &[[f32; 4]] {
        &self.wt
    }

    /// `dst[p] = Σ wₖ · src[tapₖ]`, rounded, clipped.
    pub fn sample(&self, src: &[u8], dst: &mut [u8]) {
        self.sample_span(src, dst, 0);
    }

    /// [`Taps::sample`] for the output pixels `first..first + dst.len() / 3` (a row band).
    pub fn sample_span(&self, src: &[u8], dst: &mut [u8], first: usize) {
        let n = dst.len() / 3;
        gather(
            src,
            dst,
            &self.idx[first..first + n],
            &self.wt[first..first + n],
        );
    }
}

/// `dst[p] = Σ wₖ · src[tapₖ]`, rounded, clipped: per channel the same sum from 0 in tap order;
/// each tap's pixel is read once.
#[inline]
fn gather(src: &[u8], dst: &mut [u8], idx: &[[u32; 4]], wt: &[[f32; 4]]) {
    for ((out, ii), ww) in dst.chunks_exact_mut(3).zip(idx).zip(wt) {
        gather_px(src, out, ii, ww);
    }
}

#[inline(always)]
fn gather_px(src: &[u8], out: &mut [u8], ii: &[u32; 4], ww: &[f32; 4]) {
    let mut v = [0f32; 3];
    for k in 0..4 {
        let p = &src[ii[k] as usize * 3..][..3];
        for c in 0..3 {
            v[c] += ww[k] * f32::from(p[c]);
        }
    }
    for c in 0..3 {
        out[c] = super::to_u8(v[c]);
    }
}

#[derive(Clone, Debug)]
pub struct Prepared {
    spec: WanetSpec,
    seed: u64,
    h: usize,
    w: usize,
    /// The grid, sampled row by row; or, in noise mode, its taps as a table.
    rows: WarpRows,
    noise: Option<Taps>,
    variation: Option<Variation>,
}

impl WanetSpec {
    fn control(&self, field: &str, seed: u64) -> Result<Vec<f64>, SpecError> {
        let k = self.k;
        match &self.control_grid {
            None => Ok(random_control_grid(k, seed, 0)),
            Some(g) => {
                let f = format!("{field}.control_grid");
                let ok = g.len() == 2
                    && g.iter()
                        .all(|c| c.len() == k && c.iter().all(|r| r.len() == k));
                if !ok {
                    return Err(SpecError::new(
                        f,
                        format!("must be 2×{k}×{k} (2 channels of k×k)"),
                    ));
                }
                let flat: Vec<f64> = g.iter().flatten().flatten().copied().collect();
                if let Some(bad) = flat.iter().find(|v| !v.is_finite()) {
                    return Err(SpecError::new(f, format!("{bad} is not a finite number")));
                }
                Ok(flat)
            }
        }
    }

    /// The taps of the warp grid (noise mode applied), built a row at a time: the same values
    /// as `Taps::from_grid(noise_mode_grid(warp_grid(…)))` without the two full-size grids.
    fn taps(&self, ins: &[f64], h: usize, w: usize, seed: u64, index: u64) -> Taps {
        let rows = self.rows(ins, h, w);
        if !self.noise_mode {
            return rows.table();
        }
        // Noise mode draws from one stream in pixel order: sequential.
        let mut rng = rng_for(seed, Stream::WanetNoiseMode, index);
        let (mut taps, mut b) = (Taps::with_capacity(h * w), RowBufs::default());
        for i in 0..h {
            rows.row(i, &mut b, |g| taps.push(noise_point(g, h, &mut rng), h, w));
        }
        taps
    }

    fn rows(&self, ins: &[f64], h: usize, w: usize) -> WarpRows {
        WarpRows::new(ins, self.k, self.s, self.grid_rescale, h, w)
    }

    pub fn prepare(
        &self,
        field: &str,
        fw: usize,
        fh: usize,
        seed: u64,
        variation: Option<Variation>,
    ) -> Result<Prepared, SpecError> {
        if self.k < 2 || self.k > fw.min(fh) {
            return Err(SpecError::new(
                format!("{field}.k"),
                format!(
                    "must be between 2 and the frame's smaller side ({})",
                    fw.min(fh)
                ),
            ));
        }
        check_range(&format!("{field}.s"), self.s, 0.0, 1e3)?;
        check_finite(&format!("{field}.grid_rescale"), self.grid_rescale)?;
        match &variation {
            None | Some(Variation::Grid) => {}
            Some(v) => {
                return Err(SpecError::new(
                    "temporal.variation",
                    format!("{v:?} does not apply to wanet (use grid)"),
                ));
            }
        }
        let seed = self.seed.unwrap_or(seed);
        let ins = self.control(field, seed)?;
        // Without noise nothing frame-sized is built here: each frame's rows compute their taps.
        let noise = self.noise_mode.then(|| self.taps(&ins, fh, fw, seed, 0));
        Ok(Prepared {
            spec: self.clone(),
            seed,
            h: fh,
            w: fw,
            rows: self.rows(&ins, fh, fw),
            noise,
            variation,
        })
    }
}

impl Prepared {
    /// Whether each frame has its own grid (`grid` variation) rather than the prepared one.
    pub fn varies_per_frame(&self) -> bool {
        matches!(self.variation, Some(Variation::Grid))
    }

    /// How this frame is sampled: the prepared grid, or for `grid` a new control grid drawn for
    /// this frame.
    pub fn sampler_at(&self, ctx: &FrameCtx) -> Sampler<'_> {
        if !self.varies_per_frame() {
            return match &self.noise {
                Some(t) => Sampler::Table(Cow::Borrowed(t)),
                None => Sampler::Rows(Cow::Borrowed(&self.rows)),
            };
        }
        let index = ctx.index as u64 + 1;
        let ins = random_control_grid(self.spec.k, self.seed, index);
        if self.spec.noise_mode {
            let taps = self.spec.taps(&ins, self.h, self.w, self.seed, index);
            Sampler::Table(Cow::Owned(taps))
        } else {
            Sampler::Rows(Cow::Owned(self.spec.rows(&ins, self.h, self.w)))
        }
    }

    /// The taps this frame is sampled with, as a table: what the GPU preview uploads.
    pub fn taps_at(&self, ctx: &FrameCtx) -> Cow<'_, Taps> {
        match self.sampler_at(ctx) {
            Sampler::Table(t) => t,
            Sampler::Rows(r) => Cow::Owned(r.table()),
        }
    }

    /// Warps in place through `scratch` (a copy of the source frame).
    pub fn apply(&self, px: &mut [u8], ctx: &FrameCtx, scratch: &mut Vec<u8>) {
        scratch.clear();
        scratch.extend_from_slice(px);
        // A byte past the frame, which the row gathers read (see `sample_row`).
        scratch.push(0);
        self.sampler_at(ctx).sample_rows(scratch, px, 0, self.w);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_bicubic_weights() {
        assert_eq!(cubic_weights(0.5), [-0.09375, 0.59375, 0.59375, -0.09375]);
        let w = cubic_weights(0.0);
        assert_eq!(w, [0.0, 1.0, 0.0, 0.0]);
        for t in [0.1, 0.37, 0.9] {
            assert!((cubic_weights(t).iter().sum::<f64>() - 1.0).abs() < 1e-12);
        }
    }

    #[test]
    fn upsampling_keeps_corners_and_constants() {
        let src = [1.0, 2.0, 3.0, 4.0];
        let up = upsample_bicubic(&src, 2, 2, 5, 7);
        assert_eq!(up[0], 1.0);
        assert_eq!(up[6], 2.0);
        assert_eq!(up[28], 3.0);
        assert_eq!(up[34], 4.0);
        let flat = upsample_bicubic(&[3.0; 9], 3, 3, 4, 4);
        assert!(flat.iter().all(|v| (v - 3.0).abs() < 1e-12));
    }

    /// The direct 4×4 form the separable upsampling replaced.
    fn upsample_direct(src: &[f64], ih: usize, iw: usize, oh: usize, ow: usize) -> Vec<f64> {
        let ys: Vec<_> = (0..oh).map(|o| bicubic_axis(o, ih, oh)).collect();
        let xs: Vec<_> = (0..ow).map(|o| bicubic_axis(o, iw, ow)).collect();
        let mut out = Vec::new();
        for (yi, yw) in &ys {
            for (xi, xw) in &xs {
                let mut v = 0.0;
                for a in 0..4 {
                    let mut r = 0.0;
                    for b in 0..4 {
                        r += xw[b] * src[yi[a] * iw + xi[b]];
                    }
                    v += yw[a] * r;
                }
                out.push(v);
            }
        }
        out
    }

    #[test]
    fn separable_upsampling_and_streamed_taps_are_bit_identical() {
        let ins = random_control_grid(5, 9, 0);
        let (h, w) = (37, 53);
        let up = upsample_bicubic(&ins[..25], 5, 5, h, w);
        let want = upsample_direct(&ins[..25], 5, 5, h, w);
        assert!(
            up.iter()
                .zip(&want)
                .all(|(a, b)| a.to_bits() == b.to_bits())
        );
        for noise_mode in [false, true] {
            let spec = WanetSpec {
                k: 5,
                noise_mode,
                ..Default::default()
            };
            let grid = warp_grid(&ins, 5, spec.s, spec.grid_rescale, h, w);
            let grid = if noise_mode {
                noise_mode_grid(&grid, h, 3, 2)
            } else {
                grid
            };
            let want = Taps::from_grid(&grid, h, w);
            assert_same_taps(&spec.taps(&ins, h, w, 3, 2), &want);
        }
    }

    /// The reference's weights exactly, and its indices wherever a tap has weight: a weightless
    /// tap past the right or bottom edge points at the edge instead of at pixel 0.
    fn assert_same_taps(got: &Taps, want: &Taps) {
        assert!(got.weights() == want.weights(), "weights differ");
        let same = got
            .indices()
            .iter()
            .zip(want.indices())
            .zip(want.weights())
            .all(|((a, b), wt)| (0..4).all(|t| wt[t] == 0.0 || a[t] == b[t]));
        assert!(same, "indices of weighted taps differ");
        assert!(got.indices().len() == want.indices().len());
    }

    /// Sampling row by row (no table) gives the bytes of the reference: the grid built point by
    /// point, its taps, then the table's gather; for the prepared grid and a per-frame one, with
    /// and without noise, through `apply` and through the banded path.
    #[test]
    fn rows_sample_as_the_reference_table_does() {
        let (h, w) = (37, 53);
        let src: Vec<u8> = (0..h * w * 3).map(|i| (i * 31 % 251) as u8).collect();
        for noise_mode in [false, true] {
            for variation in [None, Some(Variation::Grid)] {
                let spec = WanetSpec {
                    k: 5,
                    s: 3.0,
                    noise_mode,
                    ..Default::default()
                };
                let p = spec.prepare("v", w, h, 11, variation.clone()).expect("ok");
                for index in [0usize, 4] {
                    let ctx = FrameCtx {
                        index,
                        ordinal: 0,
                        count: 1,
                    };
                    let at = if variation.is_some() {
                        index as u64 + 1
                    } else {
                        0
                    };
                    let ins = random_control_grid(5, 11, at);
                    let grid = warp_grid(&ins, 5, spec.s, spec.grid_rescale, h, w);
                    let grid = if noise_mode {
                        noise_mode_grid(&grid, h, 11, at)
                    } else {
                        grid
                    };
                    let mut want = vec![0; src.len()];
                    Taps::from_grid(&grid, h, w).sample(&src, &mut want);
                    let mut got = src.clone();
                    p.apply(&mut got, &ctx, &mut Vec::new());
                    assert_eq!(
                        got, want,
                        "noise {noise_mode}, {variation:?}, frame {index}"
                    );
                    assert_ne!(got, src);
                    let mut banded = vec![0; src.len()];
                    let sampler = p.sampler_at(&ctx);
                    for (b, band) in banded.chunks_mut(w * 3 * 8).enumerate() {
                        sampler.sample_rows(&src, band, b * 8, w);
                    }
                    assert_eq!(banded, want);
                    // The GPU's table: the reference weights, and its indices wherever a tap
                    // has weight (a weightless tap past the edge points at the edge instead).
                    assert_same_taps(&p.taps_at(&ctx), &Taps::from_grid(&grid, h, w));
                }
            }
        }
    }

    #[test]
    fn zero_displacement_is_identity() {
        let spec = WanetSpec {
            k: 2,
            control_grid: Some(vec![vec![vec![0.0; 2]; 2]; 2]),
            ..Default::default()
        };
        let p = spec.prepare("v", 5, 3, 0, None).expect("ok");
        let src: Vec<u8> = (0..45).map(|v| (v * 5) as u8).collect();
        let mut px = src.clone();
        p.apply(
            &mut px,
            &FrameCtx {
                index: 0,
                ordinal: 0,
                count: 1,
            },
            &mut Vec::new(),
        );
        assert_eq!(px, src);
    }

    #[test]
    fn control_grid_shape_is_checked() {
        let spec = WanetSpec {
            k: 4,
            control_grid: Some(vec![vec![vec![0.0; 4]; 4]]),
            ..Default::default()
        };
        assert_eq!(
            spec.prepare("visual", 16, 16, 0, None)
                .expect_err("1 channel")
                .field,
            "visual.control_grid"
        );
    }

    #[test]
    fn random_grid_is_normalised() {
        let g = random_control_grid(4, 1, 0);
        let mean_abs = g.iter().map(|v| v.abs()).sum::<f64>() / g.len() as f64;
        assert!((mean_abs - 1.0).abs() < 1e-12);
    }
}
