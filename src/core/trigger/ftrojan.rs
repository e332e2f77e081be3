//! FTrojan (Wang et al. 2022): a trigger in the frequency domain of the chroma (by default).
//!
//! RGB → YCrCb (Y = 0.299R + 0.587G + 0.114B, Cr = 0.713(R − Y) + 128, Cb = 0.564(B − Y) + 128);
//! each chosen channel is split into `window`×`window` blocks; in every block's orthonormal 2-D
//! DCT-II, `magnitude` is added at each `[row, col]` of `positions`; inverse DCT; back to RGB
//! (R = Y + 1.403(Cr − 128), G = Y − 0.714(Cr − 128) − 0.344(Cb − 128), B = Y + 1.773(Cb − 128));
//! rounded once, clipped. All in floating point: no 8-bit YCrCb round trip in between.
//!
//! When a frame side is not a multiple of `window`, the remainder (right columns, bottom rows
//! that do not fill a block) is left untouched.
//!
//! Dynamic: frame t uses only `positions[t mod n]` (`positions_cycle`, the default).

use super::dct::basis;
use crate::core::placement::{FrameCtx, Variation};
use crate::core::spec_error::{SpecError, check_finite};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum YcrcbChannel {
    Y,
    Cr,
    Cb,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FtrojanSpec {
    #[serde(default = "default_window")]
    pub window: usize,
    #[serde(default = "default_magnitude")]
    pub magnitude: f64,
    /// `[row, col]` inside the block; default: a mid and the highest frequency,
    /// `[[n/2 − 1, n/2 − 1], [n − 1, n − 1]]` (`[[15,15],[31,31]]` for the default window 32).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub positions: Option<Vec<[usize; 2]>>,
    #[serde(default = "default_channels")]
    pub channels: Vec<YcrcbChannel>,
}

fn default_window() -> usize {
    32
}
fn default_magnitude() -> f64 {
    30.0
}
fn default_positions(window: usize) -> Vec<[usize; 2]> {
    let mid = (window / 2).saturating_sub(1);
    let last = window.saturating_sub(1);
    vec![[mid, mid], [last, last]]
}
fn default_channels() -> Vec<YcrcbChannel> {
    vec![YcrcbChannel::Cr, YcrcbChannel::Cb]
}

impl Default for FtrojanSpec {
    fn default() -> Self {
        FtrojanSpec {
            window: default_window(),
            magnitude: default_magnitude(),
            positions: None,
            channels: default_channels(),
        }
    }
}

/// RGB → YCrCb as FTrojan defines it.
pub fn rgb_to_ycrcb([r, g, b]: [f64; 3]) -> [f64; 3] {
    let y = 0.299 * r + 0.587 * g + 0.114 * b;
    [y, 0.713 * (r - y) + 128.0, 0.564 * (b - y) + 128.0]
}

/// YCrCb → RGB as FTrojan defines it.
pub fn ycrcb_to_rgb([y, cr, cb]: [f64; 3]) -> [f64; 3] {
    [
        y + 1.403 * (cr - 128.0),
        y - 0.714 * (cr - 128.0) - 0.344 * (cb - 128.0),
        y + 1.773 * (cb - 128.0),
    ]
}

/// The pixel-domain delta of one block: `Σ magnitude · bᵣ(i) · b꜀(j)` over `positions`.
pub fn block_delta(window: usize, magnitude: f64, positions: &[[usize; 2]]) -> Vec<f64> {
    let mut d = vec![0.0; window * window];
    for &[r, c] in positions {
        for i in 0..window {
            let bi = magnitude * basis(window, r, i);
            for j in 0..window {
                d[i * window + j] += bi * basis(window, c, j);
            }
        }
    }
    d
}

/// The per-pixel affine map of a block pixel: `rgb' = M·rgb + offset + delta[i, j]`.
#[derive(Clone, Debug)]
struct BlockMap {
    m: [[f32; 3]; 3],
    offset: [f32; 3],
    /// Per block pixel, the RGB delta.
    delta: Vec<[f32; 3]>,
}

impl BlockMap {
    fn new(window: usize, d: &[f64], channels: &[YcrcbChannel]) -> BlockMap {
        // The colour round trip is affine: read its matrix and offset off the two functions.
        let origin = ycrcb_to_rgb(rgb_to_ycrcb([0.0; 3]));
        let mut m = [[0f32; 3]; 3];
        for col in 0..3 {
            let mut e = [0.0; 3];
            e[col] = 1.0;
            let v = ycrcb_to_rgb(rgb_to_ycrcb(e));
            for row in 0..3 {
                m[row][col] = (v[row] - origin[row]) as f32;
            }
        }
        // How a unit change of Y, Cr, Cb moves R, G, B (the inverse's linear part).
        let base = ycrcb_to_rgb([0.0, 128.0, 128.0]);
        let unit: Vec<[f64; 3]> = (0..3)
            .map(|k| {
                let mut y = [0.0, 128.0, 128.0];
                y[k] += 1.0;
                let v = ycrcb_to_rgb(y);
                [v[0] - base[0], v[1] - base[1], v[2] - base[2]]
            })
            .collect();
        let delta = (0..window * window)
            .map(|p| {
                let mut out = [0f32; 3];
                for ch in channels {
                    let u = unit[*ch as usize];
                    for c in 0..3 {
                        out[c] += (u[c] * d[p]) as f32;
                    }
                }
                out
            })
            .collect();
        BlockMap {
            m,
            offset: origin.map(|v| v as f32),
            delta,
        }
    }

    fn apply(&self, px: &mut [u8], w: usize, h: usize, window: usize) {
        self.apply_rows(px, w, h, window, 0);
    }

    /// [`BlockMap::apply`] on rows `y0..` of the frame (as many as `px` holds): each row is
    /// changed on its own, so row bands can run in parallel.
    fn apply_rows(&self, px: &mut [u8], w: usize, h: usize, window: usize, y0: usize) {
        let (bw, bh) = (w / window * window, h / window * window);
        let rows = px.len() / (w * 3).max(1);
        for (r, y) in (y0..(y0 + rows).min(bh)).enumerate() {
            let row = &mut px[r * w * 3..(r * w + bw) * 3];
            let drow = &self.delta[(y % window) * window..(y % window + 1) * window];
            for (x, p) in row.chunks_exact_mut(3).enumerate() {
                let d = drow[x % window];
                let v = [f32::from(p[0]), f32::from(p[1]), f32::from(p[2])];
                for c in 0..3 {
                    let m = self.m[c];
                    let out = m[0] * v[0] + m[1] * v[1] + m[2] * v[2] + self.offset[c] + d[c];
                    p[c] = super::to_u8(out);
                }
            }
        }
    }
}

#[derive(Clone, Debug)]
pub struct Prepared {
    window: usize,
    w: usize,
    h: usize,
    /// The static map, then (dynamic) one map per position.
    all: BlockMap,
    each: Vec<BlockMap>,
    variation: Option<Variation>,
}

impl FtrojanSpec {
    pub fn prepare(
        &self,
        field: &str,
        fw: usize,
        fh: usize,
        variation: Option<Variation>,
    ) -> Result<Prepared, SpecError> {
        let n = self.window;
        if n == 0 || n > fw.min(fh) {
            return Err(SpecError::new(
                format!("{field}.window"),
                format!(
                    "{n} does not fit the {fw}×{fh} frame (1 ..= {})",
                    fw.min(fh)
                ),
            ));
        }
        check_finite(&format!("{field}.magnitude"), self.magnitude)?;
        let positions = self
            .positions
            .clone()
            .unwrap_or_else(|| default_positions(n));
        if positions.is_empty() {
            return Err(SpecError::new(
                format!("{field}.positions"),
                "needs at least one [row, col]",
            ));
        }
        if let Some(p) = positions.iter().find(|p| p[0] >= n || p[1] >= n) {
            return Err(SpecError::new(
                format!("{field}.positions"),
                format!("[{}, {}] is outside a {n}×{n} block", p[0], p[1]),
            ));
        }
        if self.channels.is_empty() {
            return Err(SpecError::new(
                format!("{field}.channels"),
                "needs at least one of y, cr, cb",
            ));
        }
        match &variation {
            None | Some(Variation::PositionsCycle) => {}
            Some(v) => {
                return Err(SpecError::new(
                    "temporal.variation",
                    format!("{v:?} does not apply to ftrojan (use positions_cycle)"),
                ));
            }
        }
        let map = |pos: &[[usize; 2]]| {
            BlockMap::new(n, &block_delta(n, self.magnitude, pos), &self.channels)
        };
        let each = match variation {
            Some(Variation::PositionsCycle) => positions.iter().map(|p| map(&[*p])).collect(),
            _ => Vec::new(),
        };
        Ok(Prepared {
            window: n,
            w: fw,
            h: fh,
            all: map(&positions),
            each,
            variation,
        })
    }
}

/// The affine map FTrojan applies to every pixel inside the whole blocks of a frame, as plain
/// data (for the GPU preview): `rgb' = m·rgb + offset + delta[(y mod window)·window + x mod window]`
/// for `x < w − w mod window`, `y < h − h mod window`, rounded once.
#[derive(Clone, Copy, Debug)]
pub struct BlockAffine<'a> {
    pub window: usize,
    pub m: [[f32; 3]; 3],
    pub offset: [f32; 3],
    pub delta: &'a [[f32; 3]],
}

impl Prepared {
    fn map_at(&self, ctx: &FrameCtx) -> &BlockMap {
        match self.variation {
            Some(Variation::PositionsCycle) => &self.each[ctx.ordinal % self.each.len()],
            _ => &self.all,
        }
    }

    /// The map this frame gets, as plain data.
    pub fn affine_at(&self, ctx: &FrameCtx) -> BlockAffine<'_> {
        let map = self.map_at(ctx);
        BlockAffine {
            window: self.window,
            m: map.m,
            offset: map.offset,
            delta: &map.delta,
        }
    }

    pub fn apply(&self, px: &mut [u8], ctx: &FrameCtx) {
        self.map_at(ctx).apply(px, self.w, self.h, self.window);
    }

    /// [`Prepared::apply`] on the band of rows from `y0` that `px` holds.
    pub fn apply_rows(&self, px: &mut [u8], ctx: &FrameCtx, y0: usize) {
        self.map_at(ctx)
            .apply_rows(px, self.w, self.h, self.window, y0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_block_delta_row_0() {
        let d = block_delta(32, 30.0, &default_positions(32));
        assert_eq!(default_positions(32), vec![[15, 15], [31, 31]]);
        let want = [
            1.0339, -0.8411, -1.1693, 0.5630, 1.3474, -0.3849, -1.3194, 0.0064,
        ];
        for (j, w) in want.iter().enumerate() {
            assert!((d[j] - w).abs() < 5e-5, "col {j}: {} vs {w}", d[j]);
        }
    }

    #[test]
    fn remainder_is_untouched_and_window_is_checked() {
        let p = FtrojanSpec {
            window: 4,
            ..Default::default()
        };
        let e = p.prepare("visual", 3, 8, None).expect_err("too big");
        assert_eq!(e.field, "visual.window");
        let spec = FtrojanSpec {
            window: 4,
            positions: Some(vec![[1, 2], [3, 3]]),
            magnitude: 60.0,
            ..Default::default()
        };
        let p = spec.prepare("visual", 6, 5, None).expect("ok");
        let src: Vec<u8> = (0..6 * 5 * 3).map(|v| (v * 7 % 251) as u8).collect();
        let mut px = src.clone();
        p.apply(
            &mut px,
            &FrameCtx {
                index: 0,
                ordinal: 0,
                count: 1,
            },
        );
        for y in 0..5 {
            for x in 0..6 {
                let i = (y * 6 + x) * 3;
                if x >= 4 || y >= 4 {
                    assert_eq!(px[i..i + 3], src[i..i + 3], "remainder ({x},{y}) changed");
                }
            }
        }
        assert_ne!(px[..12], src[..12], "block pixels change");
    }
}
