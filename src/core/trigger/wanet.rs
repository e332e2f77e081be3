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
#[derive(Clone)]
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
        for (x, o) in out[..self.ow].iter_mut().enumerate() {
            let mut v = 0.0;
            for a in 0..4 {
                v += yw[a] * r[a][x];
            }
            *o = v;
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
#[derive(Clone)]
struct WarpRows {
    nx: Bicubic,
    ny: Bicubic,
    s: f64,
    rescale: f64,
    h: usize,
    w: usize,
    row_x: Vec<f64>,
    row_y: Vec<f64>,
}

impl WarpRows {
    fn new(ins: &[f64], k: usize, s: f64, rescale: f64, h: usize, w: usize) -> WarpRows {
        WarpRows {
            nx: Bicubic::new(&ins[..k * k], k, k, h, w),
            ny: Bicubic::new(&ins[k * k..], k, k, h, w),
            s,
            rescale,
            h,
            w,
            row_x: vec![0.0; w],
            row_y: vec![0.0; w],
        }
    }

    /// The taps of row `i` into `idx` and `wt` (`w` each): what [`WarpRows::row`] and
    /// [`Taps::tap`] give, through one kernel that inlines and vectorises.
    fn row_taps(&mut self, i: usize, idx: &mut [[u32; 4]], wt: &mut [[f32; 4]]) {
        self.nx.row(i, &mut self.row_x);
        self.ny.row(i, &mut self.row_y);
        let gy = if self.h > 1 {
            -1.0 + 2.0 * i as f64 / (self.h - 1) as f64
        } else {
            -1.0
        };
        let k = RowConsts {
            gy,
            s: self.s,
            hf: self.h as f64,
            rescale: self.rescale,
            h: self.h,
            w: self.w,
        };
        taps_row(&self.row_x, &self.row_y, &k, idx, wt);
    }

    /// Calls `f` with the grid point of each pixel of row `i`, left to right.
    fn row(&mut self, i: usize, mut f: impl FnMut([f64; 2])) {
        let lin = |i: usize, n: usize| {
            if n > 1 {
                -1.0 + 2.0 * i as f64 / (n - 1) as f64
            } else {
                -1.0
            }
        };
        self.nx.row(i, &mut self.row_x);
        self.ny.row(i, &mut self.row_y);
        let (hf, s, rescale) = (self.h as f64, self.s, self.rescale);
        let gy = lin(i, self.h);
        for (j, (&nx, &ny)) in self.row_x.iter().zip(&self.row_y).enumerate() {
            f([
                ((lin(j, self.w) + s * nx / hf) * rescale).clamp(-1.0, 1.0),
                ((gy + s * ny / hf) * rescale).clamp(-1.0, 1.0),
            ]);
        }
    }
}

struct RowConsts {
    gy: f64,
    s: f64,
    hf: f64,
    rescale: f64,
    h: usize,
    w: usize,
}

super::simd_kernel! {
/// One row of taps: the grid point `((lin(j) + s·nx/H)·rescale, (gy + s·ny/H)·rescale)`,
/// clipped, as in [`WarpRows::row`], then [`Taps::tap`] — the same operations in the same order
/// (so the same bits), compiled for AVX2 so `floor` is an instruction, not a libm call.
fn taps_row(nx: &[f64], ny: &[f64], k: &RowConsts, idx: &mut [[u32; 4]], wt: &mut [[f32; 4]]) {
    let w = k.w;
    for j in 0..w {
        let lx = if w > 1 {
            -1.0 + 2.0 * j as f64 / (w - 1) as f64
        } else {
            -1.0
        };
        let g = [
            ((lx + k.s * nx[j] / k.hf) * k.rescale).clamp(-1.0, 1.0),
            ((k.gy + k.s * ny[j] / k.hf) * k.rescale).clamp(-1.0, 1.0),
        ];
        (idx[j], wt[j]) = Taps::tap(g, k.h, w);
    }
}
}

/// The sampling grid (x, y in [−1, 1]) for an `h`×`w` frame, as pairs per pixel.
pub fn warp_grid(ins: &[f64], k: usize, s: f64, rescale: f64, h: usize, w: usize) -> Vec<[f64; 2]> {
    let mut rows = WarpRows::new(ins, k, s, rescale, h, w);
    let mut out = Vec::with_capacity(h * w);
    for i in 0..h {
        rows.row(i, |g| out.push(g));
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
        let (idx, wt) = (&self.idx[first..first + n], &self.wt[first..first + n]);
        for ((out, ii), ww) in dst.chunks_exact_mut(3).zip(idx).zip(wt) {
            // Per channel the same sum from 0 in tap order; each tap's pixel is read once.
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
    }
}

#[derive(Clone, Debug)]
pub struct Prepared {
    spec: WanetSpec,
    seed: u64,
    h: usize,
    w: usize,
    taps: Taps,
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
        let mut rows = WarpRows::new(ins, self.k, self.s, self.grid_rescale, h, w);
        let mut noise = self
            .noise_mode
            .then(|| rng_for(seed, Stream::WanetNoiseMode, index));
        let Some(rng) = noise.as_mut() else {
            // Without noise the rows are independent: bands of rows across threads, each with
            // its own row buffers, writing the same values in place.
            use rayon::prelude::*;
            let mut idx = vec![[0u32; 4]; h * w];
            let mut wt = vec![[0f32; 4]; h * w];
            const BAND: usize = 16;
            idx.par_chunks_mut(w * BAND)
                .zip(wt.par_chunks_mut(w * BAND))
                .enumerate()
                .for_each_init(
                    || rows.clone(),
                    |rows, (b, (bi, bw))| {
                        for (r, (ri, rw)) in bi.chunks_mut(w).zip(bw.chunks_mut(w)).enumerate() {
                            rows.row_taps(b * BAND + r, ri, rw);
                        }
                    },
                );
            return Taps { idx, wt };
        };
        // Noise mode draws from one stream in pixel order: sequential.
        let mut taps = Taps::with_capacity(h * w);
        for i in 0..h {
            rows.row(i, |g| taps.push(noise_point(g, h, rng), h, w));
        }
        taps
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
        let taps = self.taps(&ins, fh, fw, seed, 0);
        Ok(Prepared {
            spec: self.clone(),
            seed,
            h: fh,
            w: fw,
            taps,
            variation,
        })
    }
}

impl Prepared {
    /// The taps this frame is sampled with: the prepared ones, or for `grid` a new control
    /// grid drawn for this frame. [`Prepared::apply`] and the GPU preview both take them here.
    pub fn taps_at(&self, ctx: &FrameCtx) -> Cow<'_, Taps> {
        match self.variation {
            Some(Variation::Grid) => {
                let index = ctx.index as u64 + 1;
                let ins = random_control_grid(self.spec.k, self.seed, index);
                Cow::Owned(self.spec.taps(&ins, self.h, self.w, self.seed, index))
            }
            _ => Cow::Borrowed(&self.taps),
        }
    }

    /// Warps in place through `scratch` (a copy of the source frame).
    pub fn apply(&self, px: &mut [u8], ctx: &FrameCtx, scratch: &mut Vec<u8>) {
        scratch.clear();
        scratch.extend_from_slice(px);
        self.taps_at(ctx).sample(scratch, px);
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
            let got = spec.taps(&ins, h, w, 3, 2);
            assert_eq!(got.indices(), want.indices());
            assert_eq!(got.weights(), want.weights());
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
