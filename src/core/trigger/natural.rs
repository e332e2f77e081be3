//! Natural video triggers: the footage itself misbehaves, as real video does. They are temporal
//! already, so static/dynamic does not apply; they act on the selected frames only.
//!
//! - `frame_lag`: `freeze` shows, on each selected frame, the last unselected frame before it (a
//!   freeze for the length of the run); `drop` removes the selected frames and stretches the rest
//!   over the clip (nearest frame in time).
//! - `motion_blur`: the mean of `length` bilinear samples along a line at `angle_deg` through
//!   each pixel (edges replicated).
//! - `jpeg`: each frame as a baseline JPEG encode and decode at `quality` leave it (4:4:4, the
//!   IJG tables): the lossy DCT quantisation without the lossless entropy coding (see
//!   [`super::jpeg`]); large frames in bands of whole block rows in parallel, which gives the
//!   same pixels (tested).
//! - `flicker`: brightness gain `1 + amplitude·sin(2π·frame/period_frames)`.
//! - `shake`: a seeded translation per frame, uniform in ±`amplitude_px` on each axis, sub-pixel
//!   (bilinear), edges replicated.
//! - `color_cast`: white-balance gains per R, G, B channel.

use crate::core::rng::{Stream, rng_for};
use crate::core::spec_error::{SpecError, check_range};
use rand::Rng;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LagMode {
    #[default]
    Freeze,
    Drop,
}

#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FrameLagSpec {
    pub mode: LagMode,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MotionBlurSpec {
    /// Kernel length in pixels.
    pub length: f64,
    /// Direction of motion, degrees anticlockwise from the +x axis.
    pub angle_deg: f64,
}

impl Default for MotionBlurSpec {
    fn default() -> Self {
        MotionBlurSpec {
            length: 9.0,
            angle_deg: 0.0,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JpegSpec {
    pub quality: u8,
}

impl Default for JpegSpec {
    fn default() -> Self {
        JpegSpec { quality: 20 }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FlickerSpec {
    /// Relative gain swing, 0..1.
    pub amplitude: f64,
    pub period_frames: f64,
}

impl Default for FlickerSpec {
    fn default() -> Self {
        FlickerSpec {
            amplitude: 0.15,
            period_frames: 4.0,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ShakeSpec {
    pub amplitude_px: f64,
}

impl Default for ShakeSpec {
    fn default() -> Self {
        ShakeSpec { amplitude_px: 4.0 }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ColorCastSpec {
    pub gains: [f64; 3],
}

impl Default for ColorCastSpec {
    fn default() -> Self {
        ColorCastSpec {
            gains: [1.15, 1.0, 0.85],
        }
    }
}

/// Which source frame each output frame shows, for `frame_lag` (`selected` ascending).
pub fn lag_sources(
    mode: LagMode,
    total: usize,
    selected: &[usize],
) -> Result<Vec<usize>, SpecError> {
    let mut is_sel = vec![false; total];
    for &s in selected {
        is_sel[s] = true;
    }
    match mode {
        LagMode::Freeze => {
            let mut out = Vec::with_capacity(total);
            let mut last_clean: Option<usize> = None;
            let mut run_start = 0;
            for t in 0..total {
                if is_sel[t] {
                    if t == 0 || !is_sel[t - 1] {
                        run_start = t;
                    }
                    out.push(last_clean.unwrap_or(run_start));
                } else {
                    last_clean = Some(t);
                    out.push(t);
                }
            }
            Ok(out)
        }
        LagMode::Drop => {
            let kept: Vec<usize> = (0..total).filter(|&t| !is_sel[t]).collect();
            if kept.is_empty() {
                return Err(SpecError::new(
                    "temporal.frames",
                    "frame_lag drop needs at least one unselected frame to stretch",
                ));
            }
            Ok((0..total).map(|t| kept[t * kept.len() / total]).collect())
        }
    }
}

/// A sparse filter: output pixel = Σ w · input pixel at (x + dx, y + dy), edges replicated.
/// Motion blur and camera shake are both this, with taps computed once per frame or trigger.
#[derive(Clone, Debug, PartialEq)]
pub struct SparseFilter {
    taps: Vec<(isize, isize, f32)>,
}

impl SparseFilter {
    /// Bilinear sampling at each (fractional) offset, weighted by `weight`, merged per integer
    /// tap; zero-weight taps are dropped.
    pub fn from_offsets(offsets: &[(f32, f32)], weight: f32) -> SparseFilter {
        let mut taps: Vec<(isize, isize, f32)> = Vec::new();
        let mut add = |dx: isize, dy: isize, w: f32| {
            if w == 0.0 {
                return;
            }
            match taps.iter_mut().find(|t| (t.0, t.1) == (dx, dy)) {
                Some(t) => t.2 += w,
                None => taps.push((dx, dy, w)),
            }
        };
        for &(ox, oy) in offsets {
            let (fx0, fy0) = (ox.floor(), oy.floor());
            let (fx, fy) = (ox - fx0, oy - fy0);
            let (x0, y0) = (fx0 as isize, fy0 as isize);
            add(x0, y0, weight * (1.0 - fx) * (1.0 - fy));
            add(x0 + 1, y0, weight * fx * (1.0 - fy));
            add(x0, y0 + 1, weight * (1.0 - fx) * fy);
            add(x0 + 1, y0 + 1, weight * fx * fy);
        }
        SparseFilter { taps }
    }

    pub fn apply(&self, src: &[u8], dst: &mut [u8], w: usize, h: usize, acc: &mut Vec<f32>) {
        self.apply_rows(src, dst, w, h, 0, acc);
    }

    /// [`SparseFilter::apply`] for output rows `y0..` (as many as `dst` holds) of the `w`×`h`
    /// frame `src`: a row band, so bands can run in parallel.
    pub fn apply_rows(
        &self,
        src: &[u8],
        dst: &mut [u8],
        w: usize,
        h: usize,
        y0: usize,
        acc: &mut Vec<f32>,
    ) {
        let clamp = |v: isize, n: usize| v.clamp(0, n as isize - 1) as usize;
        acc.resize(w * 3, 0.0);
        let rows = dst.len() / (w * 3).max(1);
        for (r, y) in (y0..(y0 + rows).min(h)).enumerate() {
            acc.iter_mut().for_each(|a| *a = 0.0);
            for &(dx, dy, wt) in &self.taps {
                let row = &src[clamp(y as isize + dy, h) * w * 3..][..w * 3];
                // Columns x whose x + dx lies inside the row read a contiguous run of it (a
                // slice op that vectorises); the columns left and right of them read the
                // replicated edge pixel. Every sample gets the same `acc += wt·v` in tap order,
                // so the result is what one loop over clamped columns gives.
                let lo = (-dx).clamp(0, w as isize) as usize;
                let hi = (w as isize - dx).clamp(lo as isize, w as isize) as usize;
                if hi > lo {
                    let from = ((lo as isize + dx) * 3) as usize;
                    add_weighted(&mut acc[lo * 3..hi * 3], &row[from..][..(hi - lo) * 3], wt);
                }
                for (x, edge) in (0..lo).map(|x| (x, 0)).chain((hi..w).map(|x| (x, w - 1))) {
                    let a = &mut acc[x * 3..x * 3 + 3];
                    a[0] += wt * f32::from(row[edge * 3]);
                    a[1] += wt * f32::from(row[edge * 3 + 1]);
                    a[2] += wt * f32::from(row[edge * 3 + 2]);
                }
            }
            store_rounded(&mut dst[r * w * 3..(r + 1) * w * 3], acc);
        }
    }
}

super::simd_kernel! {
/// `acc[i] += wt · src[i]`: one tap of a [`SparseFilter`] over a run of columns.
fn add_weighted(acc: &mut [f32], src: &[u8], wt: f32) {
    for (a, &v) in acc.iter_mut().zip(src) {
        *a += wt * f32::from(v);
    }
}
}

super::simd_kernel! {
/// `dst[i] = round(clip(acc[i]))`.
fn store_rounded(dst: &mut [u8], acc: &[f32]) {
    for (d, &a) in dst.iter_mut().zip(acc) {
        *d = super::to_u8(a);
    }
}
}

/// Translates `src` by (`dx`, `dy`) into `dst` (content moves right/down for positive values),
/// sub-pixel (bilinear), edges replicated.
pub fn translate(src: &[u8], dst: &mut [u8], w: usize, h: usize, dx: f32, dy: f32) {
    SparseFilter::from_offsets(&[(-dx, -dy)], 1.0).apply(src, dst, w, h, &mut Vec::new());
}

impl MotionBlurSpec {
    pub fn validate(&self, field: &str) -> Result<(), SpecError> {
        check_range(&format!("{field}.length"), self.length, 1.0, 256.0)?;
        check_range(&format!("{field}.angle_deg"), self.angle_deg, -360.0, 360.0)
    }

    /// Sample offsets along the blur line.
    fn offsets(&self) -> Vec<(f32, f32)> {
        let n = self.length.round().max(1.0) as usize;
        let (s, c) = self.angle_deg.to_radians().sin_cos();
        let half = (self.length - 1.0) / 2.0;
        (0..n)
            .map(|k| {
                let t = if n > 1 {
                    -half + 2.0 * half * k as f64 / (n - 1) as f64
                } else {
                    0.0
                };
                // Image y grows downwards: anticlockwise on screen is −y.
                ((t * c) as f32, (-t * s) as f32)
            })
            .collect()
    }

    /// The blur as a sparse filter: the mean of bilinear samples along the line.
    pub fn filter(&self) -> SparseFilter {
        let offs = self.offsets();
        SparseFilter::from_offsets(&offs, 1.0 / offs.len() as f32)
    }
}

impl JpegSpec {
    pub fn validate(&self, field: &str) -> Result<(), SpecError> {
        if !(1..=100).contains(&self.quality) {
            return Err(SpecError::new(
                format!("{field}.quality"),
                "must be 1..=100",
            ));
        }
        Ok(())
    }

    /// The frame as a JPEG encode and decode at this quality leave it (see [`super::jpeg`]).
    pub fn apply(&self, px: &mut [u8], w: usize, h: usize) {
        super::jpeg::round_trip(px, w, h, &super::jpeg::Tables::new(self.quality));
    }
}

impl FlickerSpec {
    pub fn validate(&self, field: &str) -> Result<(), SpecError> {
        check_range(&format!("{field}.amplitude"), self.amplitude, 0.0, 1.0)?;
        check_range(
            &format!("{field}.period_frames"),
            self.period_frames,
            1e-3,
            1e9,
        )
    }

    pub fn gain(&self, index: usize) -> f64 {
        1.0 + self.amplitude * (std::f64::consts::TAU * index as f64 / self.period_frames).sin()
    }
}

impl ShakeSpec {
    pub fn validate(&self, field: &str) -> Result<(), SpecError> {
        check_range(
            &format!("{field}.amplitude_px"),
            self.amplitude_px,
            0.0,
            1e4,
        )
    }

    /// The seeded (dx, dy) of frame `index`.
    pub fn offset(&self, seed: u64, index: usize) -> (f32, f32) {
        let a = self.amplitude_px;
        if a == 0.0 {
            return (0.0, 0.0);
        }
        let mut rng = rng_for(seed, Stream::Shake, index as u64);
        (
            rng.random_range(-a..=a) as f32,
            rng.random_range(-a..=a) as f32,
        )
    }
}

impl ColorCastSpec {
    pub fn validate(&self, field: &str) -> Result<(), SpecError> {
        for (c, g) in self.gains.iter().enumerate() {
            check_range(&format!("{field}.gains[{c}]"), *g, 0.0, 16.0)?;
        }
        Ok(())
    }
}

/// Per-channel lookup tables `v ↦ round(clip(v·gain))` (ties to even).
pub fn gain_luts(gains: [f64; 3]) -> [[u8; 256]; 3] {
    gains.map(|g| std::array::from_fn(|v| super::to_u8((v as f64 * g) as f32)))
}

/// Applies three per-channel lookup tables in place.
pub fn apply_luts(px: &mut [u8], luts: &[[u8; 256]; 3]) {
    for p in px.chunks_exact_mut(3) {
        p[0] = luts[0][p[0] as usize];
        p[1] = luts[1][p[1] as usize];
        p[2] = luts[2][p[2] as usize];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freeze_and_drop_sources() {
        assert_eq!(
            lag_sources(LagMode::Freeze, 8, &[2, 3, 4]).expect("ok"),
            vec![0, 1, 1, 1, 1, 5, 6, 7]
        );
        assert_eq!(
            lag_sources(LagMode::Freeze, 4, &[0, 1]).expect("ok"),
            vec![0, 0, 2, 3]
        );
        // Drop 2 of 8 and stretch the remaining 6 over 8 slots.
        assert_eq!(
            lag_sources(LagMode::Drop, 8, &[2, 3]).expect("ok"),
            vec![0, 0, 1, 4, 5, 5, 6, 7]
        );
        assert!(lag_sources(LagMode::Drop, 3, &[0, 1, 2]).is_err());
    }

    #[test]
    fn horizontal_blur_of_a_vertical_edge() {
        // 5×1 frame, left half black, right white; a 3-tap horizontal blur softens the edge.
        let src = [
            0u8, 0, 0, 0, 0, 0, 255, 255, 255, 255, 255, 255, 255, 255, 255,
        ];
        let mut dst = [0u8; 15];
        MotionBlurSpec {
            length: 3.0,
            angle_deg: 0.0,
        }
        .filter()
        .apply(&src, &mut dst, 5, 1, &mut Vec::new());
        let r: Vec<u8> = dst.chunks(3).map(|p| p[0]).collect();
        assert_eq!(r, vec![0, 85, 170, 255, 255]);
    }

    /// The filter as one loop over clamped columns (what `apply` splits into runs).
    fn apply_reference(f: &SparseFilter, src: &[u8], w: usize, h: usize) -> Vec<u8> {
        let clamp = |v: isize, n: usize| v.clamp(0, n as isize - 1) as usize;
        let mut dst = vec![0u8; src.len()];
        let mut acc = vec![0f32; w * 3];
        for y in 0..h {
            acc.iter_mut().for_each(|a| *a = 0.0);
            for &(dx, dy, wt) in &f.taps {
                let row = &src[clamp(y as isize + dy, h) * w * 3..][..w * 3];
                for x in 0..w {
                    let sx = clamp(x as isize + dx, w) * 3;
                    for c in 0..3 {
                        acc[x * 3 + c] += wt * f32::from(row[sx + c]);
                    }
                }
            }
            for (d, &a) in dst[y * w * 3..(y + 1) * w * 3].iter_mut().zip(&acc) {
                *d = super::super::to_u8(a);
            }
        }
        dst
    }

    #[test]
    fn runs_and_edges_match_one_clamped_loop() {
        let (w, h) = (23, 7);
        let src: Vec<u8> = (0..w * h * 3).map(|i| (i * 7919 % 251) as u8).collect();
        let offsets: Vec<(f32, f32)> = [
            -40.3, -23.0, -22.5, -5.25, -0.4, 0.0, 0.7, 3.5, 22.2, 23.0, 31.9,
        ]
        .iter()
        .zip([0.0f32, 1.5, -2.25, 9.0, -8.0, 0.3, 0.0, -0.6, 2.0, 0.0, 0.4])
        .map(|(&x, y)| (x, y))
        .collect();
        let mut acc = Vec::new();
        for k in 0..offsets.len() {
            // One offset at a time (shake) and all of them together (a blur).
            for f in [
                SparseFilter::from_offsets(&offsets[k..=k], 1.0),
                SparseFilter::from_offsets(&offsets[..=k], 1.0 / (k + 1) as f32),
            ] {
                let mut dst = vec![0u8; src.len()];
                f.apply(&src, &mut dst, w, h, &mut acc);
                assert_eq!(dst, apply_reference(&f, &src, w, h), "{f:?}");
            }
        }
        let blur = MotionBlurSpec {
            length: 9.0,
            angle_deg: 30.0,
        }
        .filter();
        let mut dst = vec![0u8; src.len()];
        blur.apply(&src, &mut dst, w, h, &mut acc);
        assert_eq!(dst, apply_reference(&blur, &src, w, h));
    }

    #[test]
    fn translate_and_luts() {
        let src: Vec<u8> = (0..4u8).flat_map(|v| [v * 10; 3]).collect();
        let mut dst = vec![0u8; 12];
        translate(&src, &mut dst, 4, 1, 1.0, 0.0);
        let r: Vec<u8> = dst.chunks(3).map(|p| p[0]).collect();
        assert_eq!(r, vec![0, 0, 10, 20]); // content moved right; left edge replicated
        let luts = gain_luts([2.0, 1.0, 0.5]);
        let mut px = vec![100u8, 100, 101, 200, 7, 3];
        apply_luts(&mut px, &luts);
        assert_eq!(px, vec![200, 100, 50, 255, 7, 2]); // 50.5 → 50, 1.5 → 2 (ties to even)
    }

    /// Smooth content plus noise, like a video frame, `w`×`h` RGB.
    fn natural_frame(w: usize, h: usize, seed: u32) -> Vec<u8> {
        let mut state = seed;
        (0..w * h * 3)
            .map(|i| {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let (x, y, c) = (i / 3 % w, i / 3 / w, i % 3);
                let smooth =
                    128.0 + 90.0 * ((x as f32 / 9.0 + c as f32).sin() * (y as f32 / 13.0).cos());
                (smooth as u32 + (state >> 27)).min(255) as u8
            })
            .collect()
    }

    /// In bands of whole block rows a frame gives the same pixels as at once (4:4:4: every
    /// 8×8 block on its own), so the parallel path changes nothing.
    #[test]
    fn jpeg_in_bands_equals_jpeg_whole() {
        let (w, h) = (45, 150);
        let src = natural_frame(w, h, 7);
        for quality in [5u8, 20, 75, 100] {
            let t = super::super::jpeg::Tables::new(quality);
            let mut whole = src.clone();
            JpegSpec { quality }.apply(&mut whole, w, h);
            let mut banded = src.clone();
            for band in banded.chunks_mut(w * 3 * 16) {
                let rows = band.len() / (w * 3);
                super::super::jpeg::round_trip(band, w, rows, &t);
            }
            assert_eq!(whole, banded, "quality {quality}");
            assert_ne!(whole, src);
        }
        assert!(JpegSpec { quality: 0 }.validate("v").is_err());
    }

    /// A real JPEG encode (`jpeg-encoder`, 4:4:4) and decode (zune-jpeg, through image).
    fn codec(px: &[u8], w: usize, h: usize, quality: u8) -> Vec<u8> {
        let mut buf = Vec::new();
        let mut e = jpeg_encoder::Encoder::new(&mut buf, quality);
        e.set_sampling_factor(jpeg_encoder::SamplingFactor::F_1_1);
        e.encode(px, w as u16, h as u16, jpeg_encoder::ColorType::Rgb)
            .expect("encode");
        image::load_from_memory_with_format(&buf, image::ImageFormat::Jpeg)
            .expect("decode")
            .to_rgb8()
            .into_raw()
    }

    /// The trigger is what a JPEG codec does to the frame: against a real encode and decode,
    /// odd sizes (padded edges) included, on a frame of smooth content and strong noise, the
    /// same damage (PSNR to the source within 0.1 dB; measured ≤ 0.01) and on average under a
    /// level apart (measured 0.05–0.9). Codecs approximate the DCT in integers, so coefficients
    /// near a rounding boundary land a quantisation step apart: with the fine steps of high
    /// quality that is many small differences (up to 10 % of values off by more than 2 at
    /// q95), with the coarse steps of low quality a few whole blocks (max 55 at q5).
    #[test]
    fn jpeg_matches_a_real_codec() {
        let psnr = |a: &[u8], b: &[u8]| {
            let mse = a
                .iter()
                .zip(b)
                .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
                .sum::<f64>()
                / a.len() as f64;
            10.0 * (255.0f64 * 255.0 / mse.max(1e-12)).log10()
        };
        for (w, h) in [(64usize, 48usize), (45, 37)] {
            let src = natural_frame(w, h, 3);
            for quality in [5u8, 20, 50, 75, 95] {
                let mut ours = src.clone();
                JpegSpec { quality }.apply(&mut ours, w, h);
                let theirs = codec(&src, w, h, quality);
                let d: Vec<u8> = ours
                    .iter()
                    .zip(&theirs)
                    .map(|(a, b)| a.abs_diff(*b))
                    .collect();
                let mean = d.iter().map(|&v| f64::from(v)).sum::<f64>() / d.len() as f64;
                let far = d.iter().filter(|&&v| v > 2).count() as f64 / d.len() as f64;
                let (p_ours, p_theirs) = (psnr(&ours, &src), psnr(&theirs, &src));
                eprintln!(
                    "{w}×{h} q{quality}: mean |Δ| {mean:.3}, >2: {:.2} %, max {}, PSNR {p_ours:.2} vs {p_theirs:.2} dB",
                    far * 100.0,
                    d.iter().max().copied().unwrap_or(0)
                );
                assert!(mean < 1.0, "{w}×{h} q{quality}: mean |Δ| {mean}");
                assert!(far < 0.12, "{w}×{h} q{quality}: {far} of values off by > 2");
                assert!(
                    (p_ours - p_theirs).abs() < 0.1,
                    "{w}×{h} q{quality}: PSNR {p_ours} vs {p_theirs}"
                );
            }
        }
    }
}
