//! TDBA (after Li et al., "Temporal-distributed backdoor attack against video based action
//! recognition", 2024): a perturbation spread over the whole clip in its 3-D frequency domain.
//!
//! Per chosen RGB channel, the clip (T×H×W, T = number of selected frames) gets `pert` added to
//! its orthonormal 3-D DCT-II at every combination of a temporal index in `temporal` and a
//! spatial `[row, col]` in `spatial`; then the inverse transform, rounding once and clipping.
//! Indices may be negative, counted from the highest frequency (−1 = T−1, H−1 or W−1).
//! Because the DCT is linear and separable, this equals adding
//! `pert · (Σₖ b_T(k, t)) · (Σ₍ᵤ,ᵥ₎ b_H(u, i)·b_W(v, j))` to every pixel: one temporal profile
//! times one spatial pattern. The trigger is temporal by construction, so static/dynamic does
//! not apply; it runs over the selected frames as one sub-clip.
//!
//! Defaults: temporal [−1] (the sign alternates from frame to frame), spatial [[8, 8]] (a
//! mid-low frequency that survives compression better than the highest ones), all channels,
//! pert 400 — about ±2.5 grey levels at 16×112×112, where a 3-D basis function peaks at
//! √(8/(T·H·W)) ≈ 0.0063.

use super::dct::basis;
use crate::core::spec_error::{SpecError, check_finite};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RgbChannel {
    R,
    G,
    B,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TdbaSpec {
    #[serde(default = "default_pert")]
    pub pert: f64,
    #[serde(default = "default_temporal")]
    pub temporal: Vec<i64>,
    #[serde(default = "default_spatial")]
    pub spatial: Vec<[i64; 2]>,
    #[serde(default = "default_channels")]
    pub channels: Vec<RgbChannel>,
}

fn default_pert() -> f64 {
    400.0
}
fn default_temporal() -> Vec<i64> {
    vec![-1]
}
fn default_spatial() -> Vec<[i64; 2]> {
    vec![[8, 8]]
}
fn default_channels() -> Vec<RgbChannel> {
    vec![RgbChannel::R, RgbChannel::G, RgbChannel::B]
}

impl Default for TdbaSpec {
    fn default() -> Self {
        TdbaSpec {
            pert: default_pert(),
            temporal: default_temporal(),
            spatial: default_spatial(),
            channels: default_channels(),
        }
    }
}

/// Resolves a possibly negative index against a length.
fn resolve(field: &str, i: i64, n: usize) -> Result<usize, SpecError> {
    let r = if i < 0 { n as i64 + i } else { i };
    if r < 0 || r >= n as i64 {
        return Err(SpecError::new(
            field,
            format!("index {i} is outside 0..{n} (or -{n}..-1 from the end)"),
        ));
    }
    Ok(r as usize)
}

#[derive(Clone, Debug)]
pub struct Prepared {
    /// Spatial pattern times `pert`, per byte (H×W×3), 0 for channels left alone (adding 0 and
    /// rounding leaves a byte exactly as it was).
    spatial: Vec<f32>,
    temporal: Vec<i64>,
}

super::simd_kernel! {
/// `x ← x + w·p` per byte, rounded, clipped.
fn add_scaled(px: &mut [u8], pattern: &[f32], w: f32) {
    for (x, &p) in px.iter_mut().zip(pattern) {
        *x = super::to_u8(f32::from(*x) + p * w);
    }
}
}

impl TdbaSpec {
    pub fn prepare(&self, field: &str, fw: usize, fh: usize) -> Result<Prepared, SpecError> {
        check_finite(&format!("{field}.pert"), self.pert)?;
        if self.temporal.is_empty() || self.spatial.is_empty() || self.channels.is_empty() {
            return Err(SpecError::new(
                field,
                "temporal, spatial and channels each need at least one entry",
            ));
        }
        let mut pattern = vec![0f64; fw * fh];
        for &[u, v] in &self.spatial {
            let u = resolve(&format!("{field}.spatial"), u, fh)?;
            let v = resolve(&format!("{field}.spatial"), v, fw)?;
            // The column basis once per entry, not per pixel (a cos each: 20 ms at 720p).
            let bv: Vec<f64> = (0..fw).map(|j| basis(fw, v, j)).collect();
            // Rows in parallel (rayon): each value gets the same adds in the same order.
            pattern
                .par_chunks_exact_mut(fw)
                .enumerate()
                .for_each(|(i, row)| {
                    let bu = self.pert * basis(fh, u, i);
                    for (p, &b) in row.iter_mut().zip(&bv) {
                        *p += bu * b;
                    }
                });
        }
        let mut channels = [false; 3];
        for c in &self.channels {
            channels[*c as usize] = true;
        }
        let mut spatial = vec![0f32; pattern.len() * 3];
        spatial
            .par_chunks_mut(fw * 3)
            .zip(pattern.par_chunks(fw))
            .for_each(|(out, row)| {
                for (o, &v) in out.chunks_exact_mut(3).zip(row) {
                    for c in 0..3 {
                        if channels[c] {
                            o[c] = v as f32;
                        }
                    }
                }
            });
        Ok(Prepared {
            spatial,
            temporal: self.temporal.clone(),
        })
    }
}

impl Prepared {
    /// The temporal profile `Σₖ b_T(k, t)` for a sub-clip of `t_len` frames.
    pub fn profile(&self, t_len: usize) -> Result<Vec<f64>, SpecError> {
        let ks = self
            .temporal
            .iter()
            .map(|&k| resolve("visual.temporal", k, t_len))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((0..t_len)
            .map(|t| ks.iter().map(|&k| basis(t_len, k, t)).sum())
            .collect())
    }

    /// The spatial pattern times `pert`, per byte (H×W×3): a frame gets `weight ×` this added.
    pub fn spatial(&self) -> &[f32] {
        &self.spatial
    }

    /// Adds the perturbation to one frame whose temporal weight is `weight`, in place.
    pub fn apply_frame(&self, px: &mut [u8], weight: f64) {
        add_scaled(px, &self.spatial, weight as f32);
    }

    /// The same on the bytes `offset..offset + px.len()` of a frame (a row band).
    pub fn apply_span(&self, px: &mut [u8], offset: usize, weight: f64) {
        add_scaled(px, &self.spatial[offset..offset + px.len()], weight as f32);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negative_indices_and_range_errors() {
        assert_eq!(resolve("f", -1, 16).expect("ok"), 15);
        assert_eq!(resolve("f", 3, 16).expect("ok"), 3);
        assert!(resolve("f", 16, 16).is_err());
        assert!(resolve("f", -17, 16).is_err());
        let spec = TdbaSpec {
            spatial: vec![[0, 40]],
            ..Default::default()
        };
        assert_eq!(
            spec.prepare("visual", 32, 32).expect_err("col 40").field,
            "visual.spatial"
        );
    }

    #[test]
    fn highest_temporal_frequency_alternates_sign() {
        let p = TdbaSpec::default().prepare("v", 16, 16).expect("ok");
        let prof = p.profile(8).expect("ok");
        assert!(prof.windows(2).all(|w| w[0].signum() != w[1].signum()));
    }
}
