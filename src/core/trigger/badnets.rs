//! BadNets (Gu et al. 2017): a patch pasted at an anchor.
//!
//! Static: the same patch at the same place on every selected frame. Dynamic: the patch jumps to
//! a seeded random position per frame (`position_random`, the default), glides once around an
//! ellipse across the frame (`position_path`), or, for a noise patch, is re-seeded per frame
//! (`noise_reseed`).

use super::patch::{Anchor, Patch, PatchSize, SourceFields, SourceKind};
use crate::core::assets::AssetLoader;
use crate::core::placement::{FrameCtx, Variation};
use crate::core::rng::{Stream, rng_for};
use crate::core::spec_error::{SpecError, check_range};
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BadnetsSpec {
    #[serde(default = "default_size")]
    pub size: PatchSize,
    #[serde(default)]
    pub anchor: Anchor,
    /// Pixels between the patch and the frame edges (corner and centre anchors).
    #[serde(default)]
    pub margin: u32,
    /// 1 replaces the pixels; below 1 blends the patch over them.
    #[serde(default = "one")]
    pub opacity: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color: Option<[u8; 3]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkerboard: Option<super::patch::Checkerboard>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noise: Option<super::patch::NoiseOpts>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<std::path::PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub painted: Option<super::patch::Painted>,
}

fn default_size() -> PatchSize {
    PatchSize::Square(16)
}

fn one() -> f64 {
    1.0
}

impl Default for BadnetsSpec {
    fn default() -> Self {
        BadnetsSpec {
            size: default_size(),
            anchor: Anchor::default(),
            margin: 0,
            opacity: 1.0,
            color: None,
            checkerboard: None,
            noise: None,
            image: None,
            painted: None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Prepared {
    patch: Patch,
    pos: (usize, usize),
    frame: (usize, usize),
    kind: SourceKind,
    opacity: f32,
    seed: u64,
    variation: Option<Variation>,
}

impl BadnetsSpec {
    fn source(&self) -> SourceFields {
        SourceFields {
            color: self.color,
            checkerboard: self.checkerboard.clone(),
            noise: self.noise.clone(),
            image: self.image.clone(),
            painted: self.painted.clone(),
        }
    }

    /// Top-left corner of the patch in a `fw`×`fh` frame, or why it does not fit.
    pub fn position(&self, field: &str, fw: usize, fh: usize) -> Result<(usize, usize), SpecError> {
        let (w, h) = self.size.wh();
        let (w, h) = (w as usize, h as usize);
        if w == 0 || h == 0 {
            return Err(SpecError::new(
                format!("{field}.size"),
                "must be at least 1 pixel",
            ));
        }
        if w > fw || h > fh {
            return Err(SpecError::new(
                format!("{field}.size"),
                format!("a {w}×{h} patch is larger than the {fw}×{fh} frame"),
            ));
        }
        let m = self.margin as usize;
        let too_far = || {
            SpecError::new(
                format!("{field}.margin"),
                format!("a {w}×{h} patch {m} px from the edges does not fit a {fw}×{fh} frame"),
            )
        };
        let right = fw.checked_sub(w + m).ok_or_else(too_far)?;
        let bottom = fh.checked_sub(h + m).ok_or_else(too_far)?;
        Ok(match self.anchor {
            Anchor::BottomRight => (right, bottom),
            Anchor::BottomLeft => (m, bottom),
            Anchor::TopRight => (right, m),
            Anchor::TopLeft => (m, m),
            Anchor::Center => ((fw - w) / 2, (fh - h) / 2),
            Anchor::At { x, y } => {
                let (x, y) = (x as usize, y as usize);
                if x + w > fw || y + h > fh {
                    return Err(SpecError::new(
                        format!("{field}.anchor"),
                        format!("a {w}×{h} patch at ({x}, {y}) leaves the {fw}×{fh} frame"),
                    ));
                }
                (x, y)
            }
        })
    }

    pub fn prepare(
        &self,
        field: &str,
        fw: usize,
        fh: usize,
        seed: u64,
        variation: Option<Variation>,
        assets: &dyn AssetLoader,
    ) -> Result<Prepared, SpecError> {
        check_range(&format!("{field}.opacity"), self.opacity, 0.0, 1.0)?;
        let pos = self.position(field, fw, fh)?;
        let (w, h) = self.size.wh();
        let opacity = self.opacity as f32;
        let (patch, kind) = self
            .source()
            .build(field, w as usize, h as usize, opacity, seed, assets)?;
        match (&variation, kind) {
            (None | Some(Variation::PositionRandom | Variation::PositionPath), _) => {}
            (Some(Variation::PositionKeyframes { keyframes, .. }), _) => {
                crate::core::placement::check_keyframes(keyframes, w as usize, h as usize, fw, fh)?;
            }
            (Some(Variation::NoiseReseed), SourceKind::Noise { .. }) => {}
            (Some(Variation::NoiseReseed), _) => {
                return Err(SpecError::new(
                    "temporal.variation",
                    "noise_reseed needs a noise patch (`noise: {}`)",
                ));
            }
            (Some(v), _) => return Err(unsupported(v)),
        }
        Ok(Prepared {
            patch,
            pos,
            frame: (fw, fh),
            kind,
            opacity,
            seed,
            variation,
        })
    }
}

fn unsupported(v: &Variation) -> SpecError {
    SpecError::new(
        "temporal.variation",
        format!(
            "{v:?} does not apply to badnets (use position_random, position_path, position_keyframes or noise_reseed)"
        ),
    )
}

impl Prepared {
    /// Where the patch goes on this frame.
    pub fn position_at(&self, ctx: &FrameCtx) -> (usize, usize) {
        let (fw, fh) = self.frame;
        let (free_x, free_y) = (fw - self.patch.w, fh - self.patch.h);
        match self.variation {
            Some(Variation::PositionRandom) => {
                let mut rng = rng_for(self.seed, Stream::PatchPosition, ctx.index as u64);
                (rng.random_range(0..=free_x), rng.random_range(0..=free_y))
            }
            Some(Variation::PositionPath) => {
                let a = std::f64::consts::TAU * ctx.progress();
                let x = free_x as f64 * (0.5 + 0.45 * a.cos());
                let y = free_y as f64 * (0.5 + 0.45 * a.sin());
                (x.round() as usize, y.round() as usize)
            }
            Some(Variation::PositionKeyframes {
                ref keyframes,
                easing,
            }) => crate::core::placement::keyframe_position(keyframes, easing, ctx.index)
                .unwrap_or(self.pos),
            _ => self.pos,
        }
    }

    /// The patch pasted on this frame: the prepared one, or for `noise_reseed` a noise patch
    /// drawn for this frame. [`Prepared::apply`] and the GPU preview both take it from here.
    pub fn patch_at(&self, ctx: &FrameCtx) -> Cow<'_, Patch> {
        match (&self.variation, self.kind) {
            (Some(Variation::NoiseReseed), SourceKind::Noise { seed }) => Cow::Owned(Patch::noise(
                self.patch.w,
                self.patch.h,
                seed,
                ctx.index as u64 + 1,
                self.opacity,
            )),
            _ => Cow::Borrowed(&self.patch),
        }
    }

    /// Pastes in place: only the patch's pixels are touched.
    pub fn apply(&self, px: &mut [u8], ctx: &FrameCtx) {
        let (x, y) = self.position_at(ctx);
        self.patch_at(ctx).paste(px, self.frame.0, x, y);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::assets::NoAssets;

    fn ctx(i: usize) -> FrameCtx {
        FrameCtx {
            index: i,
            ordinal: i,
            count: 8,
        }
    }

    #[test]
    fn anchors_and_margins() {
        let spec = |anchor, margin| BadnetsSpec {
            size: PatchSize::Rect([4, 2]),
            anchor,
            margin,
            ..Default::default()
        };
        assert_eq!(
            spec(Anchor::BottomRight, 1)
                .position("v", 10, 8)
                .expect("fits"),
            (5, 5)
        );
        assert_eq!(
            spec(Anchor::TopLeft, 2).position("v", 10, 8).expect("fits"),
            (2, 2)
        );
        assert_eq!(
            spec(Anchor::Center, 0).position("v", 10, 8).expect("fits"),
            (3, 3)
        );
        assert_eq!(
            spec(Anchor::At { x: 6, y: 6 }, 0)
                .position("v", 10, 8)
                .expect("fits"),
            (6, 6)
        );
        assert_eq!(
            spec(Anchor::At { x: 7, y: 0 }, 0)
                .position("v", 10, 8)
                .expect_err("out")
                .field,
            "v.anchor"
        );
        assert_eq!(
            spec(Anchor::TopLeft, 7)
                .position("v", 10, 8)
                .expect_err("margin")
                .field,
            "v.margin"
        );
        let big = BadnetsSpec {
            size: PatchSize::Square(11),
            ..Default::default()
        };
        assert_eq!(big.position("v", 10, 8).expect_err("big").field, "v.size");
    }

    #[test]
    fn static_paste_touches_only_the_patch() {
        let spec = BadnetsSpec {
            size: PatchSize::Square(3),
            color: Some([255, 0, 0]),
            ..Default::default()
        };
        let p = spec.prepare("v", 8, 8, 0, None, &NoAssets).expect("ok");
        let mut px = vec![7u8; 8 * 8 * 3];
        p.apply(&mut px, &ctx(0));
        for y in 0..8 {
            for x in 0..8 {
                let i = (y * 8 + x) * 3;
                let want: [u8; 3] = if x >= 5 && y >= 5 {
                    [255, 0, 0]
                } else {
                    [7, 7, 7]
                };
                assert_eq!(&px[i..i + 3], &want, "({x},{y})");
            }
        }
    }

    #[test]
    fn dynamic_positions_move_and_stay_inside() {
        for v in [Variation::PositionRandom, Variation::PositionPath] {
            let spec = BadnetsSpec {
                size: PatchSize::Square(4),
                ..Default::default()
            };
            let p = spec
                .prepare("v", 32, 24, 9, Some(v.clone()), &NoAssets)
                .expect("ok");
            let pos: Vec<_> = (0..8).map(|i| p.position_at(&ctx(i))).collect();
            assert!(pos.iter().all(|&(x, y)| x + 4 <= 32 && y + 4 <= 24));
            assert!(pos.windows(2).any(|w| w[0] != w[1]), "{v:?} moves: {pos:?}");
        }
    }

    #[test]
    fn noise_reseed_needs_a_noise_patch() {
        let e = BadnetsSpec::default()
            .prepare("v", 32, 32, 0, Some(Variation::NoiseReseed), &NoAssets)
            .expect_err("white patch");
        assert_eq!(e.field, "temporal.variation");
    }

    fn at(index: usize) -> FrameCtx {
        FrameCtx {
            index,
            ordinal: index,
            count: 16,
        }
    }

    /// The spec form the issue names parses, and the patch follows the keyframes: exact at
    /// them, interpolated between (linear and smooth), held before the first and after the last.
    #[test]
    fn keyframes_place_the_patch() {
        let toml = r#"
            version = 1
            [visual]
            kind = "badnets"
            size = 4
            [temporal]
            mode = "dynamic"
            variation = { kind = "position_keyframes", keyframes = [{ frame = 2, x = 4, y = 4 }, { frame = 12, x = 24, y = 14 }], easing = "linear" }
        "#;
        let spec = crate::core::attack::parse_toml(toml).expect("parses");
        let Some(crate::core::trigger::VisualTrigger::Badnets(b)) = &spec.visual else {
            panic!("badnets");
        };
        let variation = spec.temporal.variation.clone();
        assert!(matches!(
            &variation,
            Some(Variation::PositionKeyframes { keyframes, easing: crate::core::placement::Easing::Linear }) if keyframes.len() == 2
        ));
        let p = b
            .prepare("visual", 32, 32, 0, variation, &NoAssets)
            .expect("fits");
        assert_eq!(p.position_at(&at(0)), (4, 4), "held before the first");
        assert_eq!(p.position_at(&at(2)), (4, 4));
        assert_eq!(p.position_at(&at(7)), (14, 9), "halfway");
        assert_eq!(p.position_at(&at(12)), (24, 14));
        assert_eq!(p.position_at(&at(15)), (24, 14), "held after the last");
        let smooth = Variation::PositionKeyframes {
            keyframes: vec![
                crate::core::placement::Keyframe {
                    frame: 0,
                    x: 0,
                    y: 0,
                },
                crate::core::placement::Keyframe {
                    frame: 10,
                    x: 20,
                    y: 0,
                },
            ],
            easing: crate::core::placement::Easing::Smooth,
        };
        let p = b
            .prepare("visual", 32, 32, 0, Some(smooth), &NoAssets)
            .expect("fits");
        // smoothstep(0.2) = 0.104 → 2.08 → 2; smoothstep(0.5) = 0.5 → 10.
        assert_eq!(p.position_at(&at(2)), (2, 0));
        assert_eq!(p.position_at(&at(5)), (10, 0));
    }

    #[test]
    fn bad_keyframes_name_their_field() {
        let b = BadnetsSpec {
            size: PatchSize::Square(4),
            ..Default::default()
        };
        let k = |frame, x, y| crate::core::placement::Keyframe { frame, x, y };
        let err = |keyframes| {
            b.prepare(
                "v",
                32,
                32,
                0,
                Some(Variation::PositionKeyframes {
                    keyframes,
                    easing: Default::default(),
                }),
                &NoAssets,
            )
            .expect_err("refused")
            .field
        };
        assert_eq!(err(vec![]), "temporal.variation.keyframes");
        assert_eq!(
            err(vec![k(3, 0, 0), k(3, 1, 1)]),
            "temporal.variation.keyframes[1].frame"
        );
        assert_eq!(err(vec![k(0, 29, 0)]), "temporal.variation.keyframes[0].x");
        assert_eq!(
            err(vec![k(0, usize::MAX, 0)]),
            "temporal.variation.keyframes[0].x"
        );
        assert_eq!(
            err(vec![k(0, 0, 0), k(5, 0, 28 + 1)]),
            "temporal.variation.keyframes[1].y"
        );
    }
}
