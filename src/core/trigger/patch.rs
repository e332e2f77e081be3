//! Patches: the pixels a patch-like trigger pastes (a solid colour, a checkerboard, seeded noise,
//! an image file, or an RGBA patch painted in the studio) and where they go.

use crate::core::assets::AssetLoader;
use crate::core::rng::{Stream, rng_for};
use crate::core::spec_error::SpecError;
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// A square side in pixels (`16`) or `[width, height]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PatchSize {
    Square(u32),
    Rect([u32; 2]),
}

impl PatchSize {
    pub fn wh(self) -> (u32, u32) {
        match self {
            PatchSize::Square(s) => (s, s),
            PatchSize::Rect([w, h]) => (w, h),
        }
    }
}

/// Where the patch goes: a corner or the centre (with `margin` pixels from the edges), or an
/// explicit top-left corner `{"x": …, "y": …}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Anchor {
    #[default]
    BottomRight,
    BottomLeft,
    TopRight,
    TopLeft,
    Center,
    #[serde(untagged)]
    At {
        x: u32,
        y: u32,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Checkerboard {
    /// Side of one square cell in pixels.
    pub cell: u32,
    pub colors: [[u8; 3]; 2],
}

impl Default for Checkerboard {
    fn default() -> Self {
        Checkerboard {
            cell: 1,
            colors: [[0, 0, 0], [255, 255, 255]],
        }
    }
}

#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NoiseOpts {
    /// Defaults to the attack's seed.
    pub seed: Option<u64>,
}

/// An RGBA patch as the studio's paint tool produces it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Painted {
    pub width: u32,
    pub height: u32,
    /// `width × height × 4` bytes, rows top to bottom.
    pub rgba: Vec<u8>,
}

/// The patch source fields shared by patch-like triggers; at most one may be given, and a solid
/// white patch is the default.
#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
pub struct SourceFields {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color: Option<[u8; 3]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkerboard: Option<Checkerboard>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noise: Option<NoiseOpts>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub painted: Option<Painted>,
}

/// A patch ready to paste: RGB pixels and per-pixel coverage in [0, 1] (alpha × opacity).
#[derive(Clone, Debug, PartialEq)]
pub struct Patch {
    pub w: usize,
    pub h: usize,
    pub rgb: Vec<u8>,
    pub cover: Vec<f32>,
    /// Every pixel fully covers: pasting is a plain copy.
    pub opaque: bool,
}

impl Patch {
    fn from_rgba(w: usize, h: usize, rgba: &[u8], opacity: f32) -> Patch {
        let rgb = rgba
            .chunks_exact(4)
            .flat_map(|p| [p[0], p[1], p[2]])
            .collect();
        let cover: Vec<f32> = rgba
            .chunks_exact(4)
            .map(|p| f32::from(p[3]) / 255.0 * opacity)
            .collect();
        let opaque = cover.iter().all(|&c| c >= 1.0);
        Patch {
            w,
            h,
            rgb,
            cover,
            opaque,
        }
    }

    /// Seeded uniform noise in 0..=255 per channel, drawn for `index` (0 for a static patch).
    pub fn noise(w: usize, h: usize, seed: u64, index: u64, opacity: f32) -> Patch {
        let mut rng = rng_for(seed, Stream::PatchNoise, index);
        let rgba: Vec<u8> = (0..w * h)
            .flat_map(|_| {
                let [r, g, b]: [u8; 3] = rng.random();
                [r, g, b, 255]
            })
            .collect();
        Patch::from_rgba(w, h, &rgba, opacity)
    }

    /// Pastes the patch with its top-left corner at (`x0`, `y0`); the caller checked it fits.
    pub fn paste(&self, px: &mut [u8], frame_w: usize, x0: usize, y0: usize) {
        let row_len = self.w * 3;
        for py in 0..self.h {
            let dst = (y0 + py) * frame_w * 3 + x0 * 3;
            let dst = &mut px[dst..dst + row_len];
            let src = &self.rgb[py * row_len..(py + 1) * row_len];
            if self.opaque {
                dst.copy_from_slice(src);
                continue;
            }
            let cover = &self.cover[py * self.w..(py + 1) * self.w];
            for ((d, s), &a) in dst.chunks_exact_mut(3).zip(src.chunks_exact(3)).zip(cover) {
                for c in 0..3 {
                    let v = (1.0 - a) * f32::from(d[c]) + a * f32::from(s[c]);
                    d[c] = super::to_u8(v);
                }
            }
        }
    }
}

/// What kind of source was chosen, for triggers that vary it per frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceKind {
    Color,
    Checkerboard,
    Noise { seed: u64 },
    Image,
    Painted,
}

impl SourceFields {
    /// Builds the patch at `w`×`h`. `field` is the spec path of the trigger (e.g. `visual`).
    pub fn build(
        &self,
        field: &str,
        w: usize,
        h: usize,
        opacity: f32,
        seed: u64,
        assets: &dyn AssetLoader,
    ) -> Result<(Patch, SourceKind), SpecError> {
        let given: Vec<&str> = [
            ("color", self.color.is_some()),
            ("checkerboard", self.checkerboard.is_some()),
            ("noise", self.noise.is_some()),
            ("image", self.image.is_some()),
            ("painted", self.painted.is_some()),
        ]
        .iter()
        .filter(|(_, set)| *set)
        .map(|(n, _)| *n)
        .collect();
        if given.len() > 1 {
            return Err(SpecError::new(
                field,
                format!("give one patch source, not {}", given.join(" and ")),
            ));
        }
        if let Some(cb) = &self.checkerboard {
            if cb.cell == 0 {
                return Err(SpecError::new(
                    format!("{field}.checkerboard.cell"),
                    "must be at least 1",
                ));
            }
            let cell = cb.cell as usize;
            let rgba: Vec<u8> = (0..h)
                .flat_map(|y| (0..w).map(move |x| (x / cell + y / cell) % 2))
                .flat_map(|k| {
                    let [r, g, b] = cb.colors[k];
                    [r, g, b, 255]
                })
                .collect();
            return Ok((
                Patch::from_rgba(w, h, &rgba, opacity),
                SourceKind::Checkerboard,
            ));
        }
        if let Some(n) = &self.noise {
            let seed = n.seed.unwrap_or(seed);
            return Ok((
                Patch::noise(w, h, seed, 0, opacity),
                SourceKind::Noise { seed },
            ));
        }
        if let Some(path) = &self.image {
            let img = assets
                .load_image(path)
                .map_err(|e| SpecError::new(format!("{field}.image"), e))?;
            if img.width == 0 || img.height == 0 {
                return Err(SpecError::new(
                    format!("{field}.image"),
                    "the image is empty",
                ));
            }
            let img = img.resize_bilinear(w as u32, h as u32);
            return Ok((
                Patch::from_rgba(w, h, &img.rgba, opacity),
                SourceKind::Image,
            ));
        }
        if let Some(p) = &self.painted {
            let (pw, ph) = (p.width as usize, p.height as usize);
            if pw == 0 || ph == 0 || p.rgba.len() != pw * ph * 4 {
                return Err(SpecError::new(
                    format!("{field}.painted.rgba"),
                    format!(
                        "{} bytes is not a {pw}×{ph} RGBA image ({} expected)",
                        p.rgba.len(),
                        pw * ph * 4
                    ),
                ));
            }
            let img = crate::core::assets::RgbaImage {
                width: p.width,
                height: p.height,
                rgba: p.rgba.clone(),
            }
            .resize_bilinear(w as u32, h as u32);
            return Ok((
                Patch::from_rgba(w, h, &img.rgba, opacity),
                SourceKind::Painted,
            ));
        }
        let [r, g, b] = self.color.unwrap_or([255, 255, 255]);
        let rgba: Vec<u8> = (0..w * h).flat_map(|_| [r, g, b, 255]).collect();
        Ok((Patch::from_rgba(w, h, &rgba, opacity), SourceKind::Color))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::assets::NoAssets;

    #[test]
    fn checkerboard_and_alpha_paste() {
        let src = SourceFields {
            checkerboard: Some(Checkerboard {
                cell: 1,
                colors: [[0, 0, 0], [255, 255, 255]],
            }),
            ..Default::default()
        };
        let (p, kind) = src.build("v", 2, 2, 1.0, 0, &NoAssets).expect("builds");
        assert_eq!(kind, SourceKind::Checkerboard);
        assert_eq!(p.rgb, vec![0, 0, 0, 255, 255, 255, 255, 255, 255, 0, 0, 0]);
        assert!(p.opaque);

        let half = SourceFields::default()
            .build("v", 1, 1, 0.5, 0, &NoAssets)
            .expect("white");
        let mut px = vec![100u8; 3 * 3 * 3];
        half.0.paste(&mut px, 3, 1, 1);
        assert_eq!(&px[12..15], &[178, 178, 178]); // (100 + 255) / 2 = 177.5 → 178 (ties to even)
        assert_eq!(px[0], 100);
    }

    #[test]
    fn two_sources_or_a_missing_file_are_errors_naming_the_field() {
        let both = SourceFields {
            color: Some([1, 2, 3]),
            noise: Some(NoiseOpts::default()),
            ..Default::default()
        };
        let e = both
            .build("visual", 2, 2, 1.0, 0, &NoAssets)
            .expect_err("two");
        assert_eq!(e.field, "visual");
        let img = SourceFields {
            image: Some("nope.png".into()),
            ..Default::default()
        };
        let e = img
            .build("visual", 2, 2, 1.0, 0, &NoAssets)
            .expect_err("no file");
        assert_eq!(e.field, "visual.image");
        assert!(e.message.contains("nope.png"));
    }
}
