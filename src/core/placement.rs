//! Temporal placement: which frames of a clip carry the trigger, and whether the trigger is the
//! same on each of them (static) or changes from frame to frame (dynamic).

use super::rng::{Stream, rng_for};
use super::spec_error::{SpecError, check_range};
use rand::seq::index::sample;
use serde::{Deserialize, Serialize};

/// Which frames are triggered. JSON: `"all"`, `{"range":{"start":0,"len":8}}`,
/// `{"every":{"n":2,"offset":1}}`, `{"random":{"k":4}}`, `{"fraction":{"p":0.25}}`.
#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum FrameSelection {
    #[default]
    All,
    /// `len` frames from `start`.
    Range { start: usize, len: usize },
    /// Frames `offset`, `offset + n`, `offset + 2n`, …
    Every {
        n: usize,
        #[serde(default)]
        offset: usize,
    },
    /// `k` distinct frames chosen with the seed.
    Random { k: usize },
    /// `round(p · frames)` distinct frames chosen with the seed.
    Fraction { p: f64 },
}

impl FrameSelection {
    /// Checks what can be checked without knowing the clip length.
    pub fn validate(&self, field: &str) -> Result<(), SpecError> {
        match self {
            FrameSelection::Every { n: 0, .. } => Err(SpecError::new(
                format!("{field}.every.n"),
                "must be at least 1",
            )),
            FrameSelection::Fraction { p } => {
                check_range(&format!("{field}.fraction.p"), *p, 0.0, 1.0)
            }
            _ => Ok(()),
        }
    }

    /// The selected frame indices of a clip of `frames` frames, ascending.
    pub fn select(&self, frames: usize, seed: u64, field: &str) -> Result<Vec<usize>, SpecError> {
        self.validate(field)?;
        let chosen = |k: usize| {
            let mut rng = rng_for(seed, Stream::FrameSelection, frames as u64);
            let mut v = sample(&mut rng, frames, k).into_vec();
            v.sort_unstable();
            v
        };
        Ok(match *self {
            FrameSelection::All => (0..frames).collect(),
            FrameSelection::Range { start, len } => {
                if len == 0 || start + len > frames {
                    return Err(SpecError::new(
                        format!("{field}.range"),
                        format!(
                            "frames {start}..{} do not fit a clip of {frames} frames",
                            start + len
                        ),
                    ));
                }
                (start..start + len).collect()
            }
            FrameSelection::Every { n, offset } => {
                if offset >= frames {
                    return Err(SpecError::new(
                        format!("{field}.every.offset"),
                        format!("{offset} is past the last frame of a {frames}-frame clip"),
                    ));
                }
                (offset..frames).step_by(n).collect()
            }
            FrameSelection::Random { k } => {
                if k == 0 || k > frames {
                    return Err(SpecError::new(
                        format!("{field}.random.k"),
                        format!("{k} frames cannot be chosen from a {frames}-frame clip"),
                    ));
                }
                chosen(k)
            }
            FrameSelection::Fraction { p } => {
                chosen(((p * frames as f64).round() as usize).min(frames))
            }
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// The identical trigger on every selected frame.
    #[default]
    Static,
    /// The trigger changes from frame to frame, as a function of (seed, frame index).
    Dynamic,
}

/// How a dynamic trigger changes from frame to frame. Each trigger has a default; see
/// [`super::trigger::VisualTrigger::default_variation`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Variation {
    /// BadNets: the patch jumps to a seeded random position on each frame.
    PositionRandom,
    /// BadNets: the patch glides once around an ellipse across the frame over the selected frames.
    PositionPath,
    /// BadNets with a noise patch: the patch is re-seeded on each frame.
    NoiseReseed,
    /// Blend with a noise pattern: a new pattern on each frame.
    Noise,
    /// Blend: α moves linearly from `from` to `to` over the selected frames.
    AlphaRamp { from: f64, to: f64 },
    /// Blend: α = mid + amp·sin(2π·frame/period), with mid/amp from `min`/`max`.
    AlphaSine {
        min: f64,
        max: f64,
        period_frames: f64,
    },
    /// SIG: the stripes move: the phase advances by `cycles_per_frame` of a period per frame.
    Phase {
        #[serde(default = "default_phase_step")]
        cycles_per_frame: f64,
    },
    /// SIG: the frequency moves linearly from `from` to `to` over the selected frames.
    Frequency { from: f64, to: f64 },
    /// WaNet: a new control grid on each frame.
    Grid,
    /// FTrojan: frame t uses only `positions[t mod n]`.
    PositionsCycle,
    /// BadNets: the patch's top-left corner follows keyframes placed by hand, `{frame, x, y}`
    /// in frame pixels at clip frame indices (strictly increasing). Between two keyframes the
    /// position interpolates (`linear`, or `smooth`: smoothstep `t²(3 − 2t)`) and rounds to the
    /// nearest pixel (halves away from zero); before the first and after the last keyframe it
    /// holds. Each keyframe must fit the patch in the frame, so every position between does.
    PositionKeyframes {
        keyframes: Vec<Keyframe>,
        #[serde(default)]
        easing: Easing,
    },
}

/// One keyframe of [`Variation::PositionKeyframes`]: the patch's top-left corner at a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Keyframe {
    pub frame: usize,
    pub x: usize,
    pub y: usize,
}

/// How positions move between keyframes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Easing {
    #[default]
    Linear,
    /// Smoothstep: starts and stops gently.
    Smooth,
}

/// The position at clip frame `frame` on a keyframe path (see [`Variation::PositionKeyframes`]);
/// `None` without keyframes.
pub fn keyframe_position(
    keys: &[Keyframe],
    easing: Easing,
    frame: usize,
) -> Option<(usize, usize)> {
    let first = keys.first()?;
    let last = keys.last()?;
    if frame <= first.frame {
        return Some((first.x, first.y));
    }
    if frame >= last.frame {
        return Some((last.x, last.y));
    }
    // The pair around `frame`: keys[i].frame <= frame < keys[i + 1].frame.
    let i = keys.partition_point(|k| k.frame <= frame) - 1;
    let (a, b) = (keys[i], keys[i + 1]);
    let t = (frame - a.frame) as f64 / (b.frame - a.frame) as f64;
    let t = match easing {
        Easing::Linear => t,
        Easing::Smooth => t * t * (3.0 - 2.0 * t),
    };
    let lerp = |p: usize, q: usize| (p as f64 + (q as f64 - p as f64) * t).round() as usize;
    Some((lerp(a.x, b.x), lerp(a.y, b.y)))
}

/// Checks a keyframe path for a `pw`×`ph` patch in an `fw`×`fh` frame: at least one keyframe,
/// frames strictly increasing, the patch inside the frame at every keyframe.
pub fn check_keyframes(
    keys: &[Keyframe],
    pw: usize,
    ph: usize,
    fw: usize,
    fh: usize,
) -> Result<(), crate::core::spec_error::SpecError> {
    use crate::core::spec_error::SpecError;
    let field = "temporal.variation.keyframes";
    if keys.is_empty() {
        return Err(SpecError::new(field, "needs at least one keyframe"));
    }
    for (i, k) in keys.iter().enumerate() {
        if i > 0 && k.frame <= keys[i - 1].frame {
            return Err(SpecError::new(
                format!("{field}[{i}].frame"),
                format!(
                    "{} is not after the previous keyframe's frame {} (frames must increase)",
                    k.frame,
                    keys[i - 1].frame
                ),
            ));
        }
        // Compared without adding: `x` comes from the user's spec and may be huge.
        if k.x > fw.saturating_sub(pw) {
            return Err(SpecError::new(
                format!("{field}[{i}].x"),
                format!(
                    "{} puts the {pw}-px-wide patch past the frame's width {fw}",
                    k.x
                ),
            ));
        }
        if k.y > fh.saturating_sub(ph) {
            return Err(SpecError::new(
                format!("{field}[{i}].y"),
                format!(
                    "{} puts the {ph}-px-tall patch past the frame's height {fh}",
                    k.y
                ),
            ));
        }
    }
    Ok(())
}

fn default_phase_step() -> f64 {
    0.125
}

/// The temporal part of an attack spec.
#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TemporalSpec {
    pub frames: FrameSelection,
    pub mode: Mode,
    /// Only for `mode = "dynamic"`; each trigger has a sensible default.
    pub variation: Option<Variation>,
}

/// Where a frame sits in the clip and among the triggered frames; dynamic triggers are a
/// function of this and the seed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameCtx {
    /// Index of the frame in the clip.
    pub index: usize,
    /// Position among the selected frames (0 for the first triggered frame).
    pub ordinal: usize,
    /// Number of selected frames.
    pub count: usize,
}

impl FrameCtx {
    /// Progress through the selected frames in [0, 1].
    pub fn progress(&self) -> f64 {
        if self.count <= 1 {
            0.0
        } else {
            self.ordinal as f64 / (self.count - 1) as f64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selections() {
        let s = |sel: FrameSelection| sel.select(10, 1, "t.frames");
        assert_eq!(s(FrameSelection::All).expect("ok").len(), 10);
        assert_eq!(
            s(FrameSelection::Range { start: 2, len: 3 }).expect("ok"),
            vec![2, 3, 4]
        );
        assert_eq!(
            s(FrameSelection::Every { n: 4, offset: 1 }).expect("ok"),
            vec![1, 5, 9]
        );
        let r = s(FrameSelection::Random { k: 4 }).expect("ok");
        assert_eq!(r.len(), 4);
        assert!(r.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(r, s(FrameSelection::Random { k: 4 }).expect("ok"), "seeded");
        assert_eq!(
            s(FrameSelection::Fraction { p: 0.25 }).expect("ok").len(),
            3
        );
    }

    #[test]
    fn bad_selections_name_the_field() {
        let e = FrameSelection::Range { start: 8, len: 4 }
            .select(10, 0, "temporal.frames")
            .expect_err("too long");
        assert_eq!(e.field, "temporal.frames.range");
        let e = FrameSelection::Fraction { p: f64::NAN }
            .select(10, 0, "temporal.frames")
            .expect_err("nan");
        assert_eq!(e.field, "temporal.frames.fraction.p");
        assert!(
            FrameSelection::Every { n: 0, offset: 0 }
                .validate("f")
                .is_err()
        );
        assert!(FrameSelection::Random { k: 11 }.select(10, 0, "f").is_err());
    }

    #[test]
    fn json_forms() {
        let t: TemporalSpec = serde_json::from_str(
            r#"{"frames":{"every":{"n":2}},"mode":"dynamic","variation":{"kind":"phase"}}"#,
        )
        .expect("parses");
        assert_eq!(t.frames, FrameSelection::Every { n: 2, offset: 0 });
        assert_eq!(
            t.variation,
            Some(Variation::Phase {
                cycles_per_frame: 0.125
            })
        );
        let all: TemporalSpec = serde_json::from_str(r#"{"frames":"all"}"#).expect("parses");
        assert_eq!(all, TemporalSpec::default());
        assert!(serde_json::from_str::<TemporalSpec>(r#"{"frame":"all"}"#).is_err());
    }
}
