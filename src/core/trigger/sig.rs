//! SIG (Barni et al. 2019): a horizontal sinusoid, `x'[i,j,c] = x[i,j,c] + δ·sin(2π·j·f/W)`
//! (j = column, W = frame width).
//!
//! Dynamic: the stripes move (`phase`, the default: the phase advances `cycles_per_frame` of a
//! period per frame) or the frequency changes (`frequency`, linear over the selected frames).

use crate::core::placement::{FrameCtx, Variation};
use crate::core::spec_error::{SpecError, check_range};
use serde::{Deserialize, Serialize};
use std::f64::consts::TAU;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SigSpec {
    #[serde(default = "default_delta")]
    pub delta: f64,
    #[serde(default = "default_freq")]
    pub freq: f64,
}

fn default_delta() -> f64 {
    40.0
}

fn default_freq() -> f64 {
    6.0
}

impl Default for SigSpec {
    fn default() -> Self {
        SigSpec {
            delta: default_delta(),
            freq: default_freq(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Prepared {
    /// Per byte of a row (column j, channel c): `δ·sin(2π·j·f/W)`.
    row: Vec<f32>,
    delta: f64,
    freq: f64,
    width: usize,
    variation: Option<Variation>,
}

/// The row table for one phase and frequency.
fn row_table(width: usize, delta: f64, freq: f64, phase: f64, out: &mut Vec<f32>) {
    out.clear();
    for j in 0..width {
        let v = (delta * (TAU * j as f64 * freq / width as f64 + phase).sin()) as f32;
        out.extend_from_slice(&[v, v, v]);
    }
}

super::simd_kernel! {
/// `x ← x + s` per byte, rounded, clipped.
fn add_rows(px: &mut [u8], row: &[f32]) {
    for line in px.chunks_exact_mut(row.len()) {
        for (x, &s) in line.iter_mut().zip(row) {
            *x = super::to_u8(f32::from(*x) + s);
        }
    }
}
}

impl SigSpec {
    pub fn prepare(
        &self,
        field: &str,
        fw: usize,
        variation: Option<Variation>,
    ) -> Result<Prepared, SpecError> {
        check_range(&format!("{field}.delta"), self.delta, 0.0, 255.0)?;
        check_range(&format!("{field}.freq"), self.freq, 0.0, fw as f64)?;
        match &variation {
            None | Some(Variation::Phase { .. }) => {}
            Some(Variation::Frequency { from, to }) => {
                check_range("temporal.variation.from", *from, 0.0, fw as f64)?;
                check_range("temporal.variation.to", *to, 0.0, fw as f64)?;
            }
            Some(v) => {
                return Err(SpecError::new(
                    "temporal.variation",
                    format!("{v:?} does not apply to sig (use phase or frequency)"),
                ));
            }
        }
        if let Some(Variation::Phase { cycles_per_frame }) = &variation {
            check_range(
                "temporal.variation.cycles_per_frame",
                *cycles_per_frame,
                -1e6,
                1e6,
            )?;
        }
        let mut row = Vec::new();
        row_table(fw, self.delta, self.freq, 0.0, &mut row);
        Ok(Prepared {
            row,
            delta: self.delta,
            freq: self.freq,
            width: fw,
            variation,
        })
    }
}

impl Prepared {
    /// The row table this frame uses (static, or recomputed for a dynamic variation).
    pub fn row_for<'a>(&'a self, ctx: &FrameCtx, scratch: &'a mut Vec<f32>) -> &'a [f32] {
        match self.variation {
            Some(Variation::Phase { cycles_per_frame }) => {
                let phase = TAU * cycles_per_frame * ctx.ordinal as f64;
                row_table(self.width, self.delta, self.freq, phase, scratch);
                scratch
            }
            Some(Variation::Frequency { from, to }) => {
                let f = from + (to - from) * ctx.progress();
                row_table(self.width, self.delta, f, 0.0, scratch);
                scratch
            }
            _ => &self.row,
        }
    }

    /// Adds a row table to whole rows (a band of a frame).
    pub fn add_to_rows(px: &mut [u8], row: &[f32]) {
        add_rows(px, row);
    }

    pub fn apply(&self, px: &mut [u8], ctx: &FrameCtx, scratch: &mut Vec<f32>) {
        match self.variation {
            None => add_rows(px, &self.row),
            Some(Variation::Phase { cycles_per_frame }) => {
                let phase = TAU * cycles_per_frame * ctx.ordinal as f64;
                row_table(self.width, self.delta, self.freq, phase, scratch);
                add_rows(px, scratch);
            }
            Some(Variation::Frequency { from, to }) => {
                let f = from + (to - from) * ctx.progress();
                row_table(self.width, self.delta, f, 0.0, scratch);
                add_rows(px, scratch);
            }
            _ => add_rows(px, &self.row),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_first_row_on_grey_32() {
        let p = SigSpec::default().prepare("v", 32, None).expect("ok");
        let mut px = vec![128u8; 32 * 32 * 3];
        p.apply(
            &mut px,
            &FrameCtx {
                index: 0,
                ordinal: 0,
                count: 1,
            },
            &mut Vec::new(),
        );
        let row: Vec<u8> = px[..32 * 3].chunks(3).map(|c| c[0]).collect();
        assert_eq!(
            &row[..17],
            &[
                128, 165, 156, 113, 88, 113, 156, 165, 128, 91, 100, 143, 168, 143, 100, 91, 128
            ]
        );
        // Every row and channel is the same.
        assert!(px.chunks(32 * 3).all(|r| r == &px[..32 * 3]));
    }

    #[test]
    fn clips_at_both_ends() {
        let p = SigSpec {
            delta: 100.0,
            freq: 1.0,
        }
        .prepare("v", 4, None)
        .expect("ok");
        let mut px = vec![250, 250, 250, 250, 250, 250, 10, 10, 10, 10, 10, 10];
        p.apply(
            &mut px,
            &FrameCtx {
                index: 0,
                ordinal: 0,
                count: 1,
            },
            &mut Vec::new(),
        );
        // sin at j = 0, 1, 2, 3 of one period: 0, 1, 0, -1
        assert_eq!(px, vec![250, 250, 250, 255, 255, 255, 10, 10, 10, 0, 0, 0]);
    }

    #[test]
    fn out_of_range_is_named() {
        let e = SigSpec {
            delta: f64::NAN,
            freq: 6.0,
        }
        .prepare("visual", 32, None)
        .expect_err("nan");
        assert_eq!(e.field, "visual.delta");
    }
}
