//! The attack spec and its application: one trigger (visual or natural), where it goes in time,
//! an optional audio trigger, and the seed. This is the single code path the studio preview, the
//! poisoner and the trainer use.

use super::assets::AssetLoader;
use super::audio_trigger::{AudioTrigger, MixReport};
use super::clip::{Clip, Frame};
use super::placement::{FrameCtx, Mode, TemporalSpec};
use super::spec_error::SpecError;
use super::trigger::natural::lag_sources;
use super::trigger::{ClipLevel, GpuProgram, Scratch, VisualTrigger};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

pub const SPEC_VERSION: u32 = 1;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttackSpec {
    /// Format version; this build reads 1.
    pub version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visual: Option<VisualTrigger>,
    #[serde(default)]
    pub temporal: TemporalSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio: Option<AudioTrigger>,
    /// Every random choice derives from this.
    #[serde(default)]
    pub seed: u64,
}

impl AttackSpec {
    /// A static visual attack on all frames.
    pub fn visual(trigger: VisualTrigger) -> AttackSpec {
        AttackSpec {
            version: SPEC_VERSION,
            visual: Some(trigger),
            temporal: TemporalSpec::default(),
            audio: None,
            seed: 0,
        }
    }

    /// Checks what does not depend on the clip.
    pub fn validate(&self) -> Result<(), SpecError> {
        if self.version != SPEC_VERSION {
            return Err(SpecError::new(
                "version",
                format!(
                    "{} is not a version this build reads (it reads {SPEC_VERSION})",
                    self.version
                ),
            ));
        }
        if self.visual.is_none() && self.audio.is_none() {
            return Err(SpecError::new(
                "visual",
                "the spec has neither a visual nor an audio trigger",
            ));
        }
        self.temporal.frames.validate("temporal.frames")?;
        if self.visual.is_none()
            && (self.temporal.mode == Mode::Dynamic || self.temporal.variation.is_some())
        {
            return Err(SpecError::new(
                "temporal.mode",
                "static/dynamic applies to a visual trigger",
            ));
        }
        Ok(())
    }
}

/// Deserialises `v` as `T`, reporting errors with the dotted path of the field under `prefix`.
fn de<T: serde::de::DeserializeOwned>(v: serde_json::Value, prefix: &str) -> Result<T, SpecError> {
    serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        let field = match (prefix.is_empty(), path.as_str()) {
            (true, ".") => "spec".to_string(),
            (true, p) => p.to_string(),
            (false, ".") => prefix.to_string(),
            (false, p) if p.starts_with('[') => format!("{prefix}{p}"),
            (false, p) => format!("{prefix}.{p}"),
        };
        SpecError::new(field, e.into_inner().to_string())
    })
}

/// Splits a `{"kind": …, …}` object into its kind and the remaining fields.
fn split_kind(v: serde_json::Value, field: &str) -> Result<(String, serde_json::Value), SpecError> {
    let serde_json::Value::Object(mut map) = v else {
        return Err(SpecError::new(field, "must be an object with a `kind`"));
    };
    match map.remove("kind") {
        Some(serde_json::Value::String(k)) => Ok((k, serde_json::Value::Object(map))),
        Some(_) => Err(SpecError::new(format!("{field}.kind"), "must be a string")),
        None => Err(SpecError::new(format!("{field}.kind"), "missing")),
    }
}

/// Visual triggers are tagged by `kind`; parsing the inner struct directly keeps field paths in
/// errors (serde's tagged enums lose them).
fn visual_from_value(v: serde_json::Value, field: &str) -> Result<VisualTrigger, SpecError> {
    use VisualTrigger as V;
    let (kind, rest) = split_kind(v, field)?;
    Ok(match kind.as_str() {
        "badnets" => V::Badnets(de(rest, field)?),
        "blend" => V::Blend(de(rest, field)?),
        "sig" => V::Sig(de(rest, field)?),
        "wanet" => V::Wanet(de(rest, field)?),
        "ftrojan" => V::Ftrojan(de(rest, field)?),
        "tdba" => V::Tdba(de(rest, field)?),
        "frame_lag" => V::FrameLag(de(rest, field)?),
        "motion_blur" => V::MotionBlur(de(rest, field)?),
        "jpeg" | "compression" => V::Jpeg(de(rest, field)?),
        "flicker" => V::Flicker(de(rest, field)?),
        "shake" => V::Shake(de(rest, field)?),
        "color_cast" => V::ColorCast(de(rest, field)?),
        other => {
            return Err(SpecError::new(
                format!("{field}.kind"),
                format!(
                    "unknown trigger `{other}`; one of {}",
                    super::trigger::KINDS.join(", ")
                ),
            ));
        }
    })
}

fn audio_from_value(v: serde_json::Value, field: &str) -> Result<AudioTrigger, SpecError> {
    use AudioTrigger as A;
    let (kind, rest) = split_kind(v, field)?;
    Ok(match kind.as_str() {
        "tone" => A::Tone(de(rest, field)?),
        "noise_burst" => A::NoiseBurst(de(rest, field)?),
        "chirp" => A::Chirp(de(rest, field)?),
        "ultrasonic" => A::Ultrasonic(de(rest, field)?),
        "overlay" => A::Overlay(de(rest, field)?),
        other => {
            return Err(SpecError::new(
                format!("{field}.kind"),
                format!(
                    "unknown audio trigger `{other}`; one of tone, noise_burst, chirp, ultrasonic, overlay"
                ),
            ));
        }
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpec {
    version: u32,
    #[serde(default)]
    visual: Option<serde_json::Value>,
    #[serde(default)]
    temporal: Option<serde_json::Value>,
    #[serde(default)]
    audio: Option<serde_json::Value>,
    #[serde(default)]
    seed: u64,
}

/// Parses a spec from a JSON value: a full spec, or a bare trigger object (with `kind`), which is
/// a static visual spec on all frames.
pub fn parse_value(value: serde_json::Value) -> Result<AttackSpec, SpecError> {
    let spec = if value.get("kind").is_some() {
        AttackSpec::visual(visual_from_value(value, "")?)
    } else {
        let raw: RawSpec = de(value, "")?;
        AttackSpec {
            version: raw.version,
            visual: raw
                .visual
                .map(|v| visual_from_value(v, "visual"))
                .transpose()?,
            temporal: match raw.temporal {
                Some(t) => de(t, "temporal")?,
                None => TemporalSpec::default(),
            },
            audio: raw
                .audio
                .map(|v| audio_from_value(v, "audio"))
                .transpose()?,
            seed: raw.seed,
        }
    };
    spec.validate()?;
    Ok(spec)
}

/// Parses JSON (a full spec, or a bare trigger object).
pub fn parse_json(text: &str) -> Result<AttackSpec, SpecError> {
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| SpecError::new("spec", format!("not valid JSON: {e}")))?;
    parse_value(value)
}

/// Finds a NaN or infinite float in a TOML tree (JSON cannot hold one, so it is named here).
fn non_finite(v: &toml::Value, path: &str) -> Option<(String, f64)> {
    let join = |k: &str| {
        if path.is_empty() {
            k.to_string()
        } else {
            format!("{path}.{k}")
        }
    };
    match v {
        toml::Value::Float(f) if !f.is_finite() => Some((path.to_string(), *f)),
        toml::Value::Table(t) => t.iter().find_map(|(k, v)| non_finite(v, &join(k))),
        toml::Value::Array(a) => a
            .iter()
            .enumerate()
            .find_map(|(i, v)| non_finite(v, &format!("{path}[{i}]"))),
        _ => None,
    }
}

/// Parses TOML (a full spec, or a bare trigger table with `kind`).
pub fn parse_toml(text: &str) -> Result<AttackSpec, SpecError> {
    let value: toml::Value =
        toml::from_str(text).map_err(|e| SpecError::new("spec", format!("not valid TOML: {e}")))?;
    if let Some((field, f)) = non_finite(&value, "") {
        return Err(SpecError::new(field, format!("{f} is not a finite number")));
    }
    let json = serde_json::to_value(&value).map_err(|e| SpecError::new("spec", e.to_string()))?;
    parse_value(json)
}

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error("{0}")]
    Frame(String),
}

/// A poisoned clip and what was done to it.
#[derive(Clone, Debug)]
pub struct Poisoned {
    pub clip: Clip,
    /// The triggered frames.
    pub selected: Vec<usize>,
    pub audio: Option<MixReport>,
}

/// An attack prepared for clips of one shape (frame count and size): the trigger's patch,
/// pattern, warp grid or DCT deltas and the frame selection are computed once, then applied
/// frame by frame. The studio's preview, `apply`, the poisoner and the trainer all go through
/// this, so there is one code path.
#[derive(Clone, Debug)]
pub struct PreparedAttack {
    frames: usize,
    width: usize,
    height: usize,
    selected: Vec<usize>,
    /// For each frame, its position among the selected frames.
    ordinal: Vec<Option<usize>>,
    visual: Option<super::trigger::Prepared>,
    /// TDBA: the weight of each selected frame.
    weights: Option<Vec<f64>>,
    /// Frame-lag triggers: the clean frame each output frame shows.
    sources: Option<Vec<usize>>,
}

impl PreparedAttack {
    /// Prepares `spec` for clips of `frames` frames of `width`×`height`. Errors name the field.
    pub fn new(
        spec: &AttackSpec,
        frames: usize,
        width: usize,
        height: usize,
        assets: &dyn AssetLoader,
    ) -> Result<PreparedAttack, SpecError> {
        spec.validate()?;
        if frames == 0 {
            return Err(SpecError::new("input", "the clip has no frames"));
        }
        let selected = spec
            .temporal
            .frames
            .select(frames, spec.seed, "temporal.frames")?;
        let mut ordinal = vec![None; frames];
        for (o, &i) in selected.iter().enumerate() {
            ordinal[i] = Some(o);
        }
        let (mut weights, mut sources) = (None, None);
        let visual = match &spec.visual {
            None => None,
            Some(v) => {
                let p = v.prepare("visual", width, height, &spec.temporal, spec.seed, assets)?;
                match p.clip_level() {
                    ClipLevel::Lag(mode) => sources = Some(lag_sources(mode, frames, &selected)?),
                    ClipLevel::Tdba => weights = p.tdba_profile(selected.len())?,
                    ClipLevel::PerFrame => {}
                }
                Some(p)
            }
        };
        Ok(PreparedAttack {
            frames,
            width,
            height,
            selected,
            ordinal,
            visual,
            weights,
            sources,
        })
    }

    /// The shape this was prepared for: (frames, width, height).
    pub fn shape(&self) -> (usize, usize, usize) {
        (self.frames, self.width, self.height)
    }

    /// The triggered frames, ascending.
    pub fn selected(&self) -> &[usize] {
        &self.selected
    }

    pub fn is_triggered(&self, index: usize) -> bool {
        self.ordinal.get(index).is_some_and(Option::is_some)
    }

    /// The clean frame whose pixels frame `index` starts from: itself, except under a frame-lag
    /// trigger, which shows an earlier (or a repeated) frame instead.
    pub fn source_of(&self, index: usize) -> usize {
        self.sources
            .as_ref()
            .and_then(|s| s.get(index).copied())
            .unwrap_or(index)
    }

    /// Whether frame `index`'s pixels are computed (not only taken from [`Self::source_of`]).
    pub fn changes_pixels(&self, index: usize) -> bool {
        self.visual.is_some() && self.sources.is_none() && self.is_triggered(index)
    }

    /// The frame context a dynamic trigger sees on frame `index` (`None`: not triggered).
    pub fn frame_ctx(&self, index: usize) -> Option<FrameCtx> {
        let ordinal = (*self.ordinal.get(index)?)?;
        Some(FrameCtx {
            index,
            ordinal,
            count: self.selected.len(),
        })
    }

    /// The prepared visual trigger (e.g. for a GPU preview of the same parameters).
    pub fn visual(&self) -> Option<&super::trigger::Prepared> {
        self.visual.as_ref()
    }

    /// Applies frame `index`'s trigger in place to `px`, the RGB pixels of frame
    /// [`Self::source_of`]`(index)`. Frames that are not triggered are left as they are.
    pub fn apply_frame(
        &self,
        index: usize,
        px: &mut [u8],
        scratch: &mut Scratch,
    ) -> Result<(), String> {
        if px.len() != self.width * self.height * 3 {
            return Err(format!(
                "frame {index} has {} bytes, not the {}×{}×3 this attack was prepared for",
                px.len(),
                self.width,
                self.height
            ));
        }
        let (Some(visual), Some(ctx)) = (&self.visual, self.frame_ctx(index)) else {
            return Ok(());
        };
        if self.sources.is_some() {
            return Ok(());
        }
        match &self.weights {
            Some(w) => {
                visual.apply_tdba(px, w[ctx.ordinal]);
                Ok(())
            }
            // A large frame in row bands across threads (the preview's single frame; within a
            // clip, frames are already parallel and small ones are not split).
            None => visual.apply_frame_rows(px, &ctx, scratch),
        }
    }
}

impl PreparedAttack {
    /// Frame `index` as a program for the GPU preview, applied to clean frame `index`:
    /// [`GpuProgram::Identity`] for a frame the attack leaves alone, the visual trigger's
    /// program for a triggered one (TDBA with this frame's weight), `None` where the trigger
    /// stays on the CPU (frame lag re-orders frames; motion blur, shake and JPEG have no shader).
    pub fn gpu_program(&self, index: usize) -> Result<Option<GpuProgram>, SpecError> {
        let (Some(visual), Some(ctx)) = (&self.visual, self.frame_ctx(index)) else {
            return Ok(Some(GpuProgram::Identity));
        };
        if self.sources.is_some() {
            return Ok(None);
        }
        visual.gpu_program(&ctx)
    }
}

impl PreparedAttack {
    /// Output frame `index` of a clip whose frames are `frames`: shared with its source frame
    /// when this attack leaves its pixels alone, a poisoned copy otherwise.
    pub fn poisoned_frame(
        &self,
        index: usize,
        frames: &[Frame],
        scratch: &mut Scratch,
    ) -> Result<Frame, String> {
        let src = frames
            .get(self.source_of(index))
            .ok_or_else(|| format!("frame {index} is past the clip's end"))?;
        if !self.changes_pixels(index) {
            return Ok(src.clone());
        }
        // One copy, into the buffer the frame keeps (`Frame::new` of a `Vec` copies again).
        let mut rgb: std::sync::Arc<[u8]> = std::sync::Arc::from(src.rgb());
        let px = std::sync::Arc::get_mut(&mut rgb).ok_or("the frame's buffer is shared")?;
        self.apply_frame(index, px, scratch)?;
        Frame::new(src.width(), src.height(), rgb).map_err(|e| e.to_string())
    }
}

/// Applies `spec` to `clip`. Frames that are not triggered are shared with the input, not copied.
pub fn apply_clip(
    spec: &AttackSpec,
    clip: &Clip,
    assets: &dyn AssetLoader,
) -> Result<Poisoned, ApplyError> {
    spec.validate()?;
    let n = clip.frames().len();
    if n == 0 {
        return Err(SpecError::new("input", "the clip has no frames").into());
    }
    let (w, h) = clip
        .size()
        .map(|(w, h)| (w as usize, h as usize))
        .unwrap_or((0, 0));
    let prepared = if spec.visual.is_some() {
        PreparedAttack::new(spec, n, w, h, assets)?
    } else {
        // Audio only: the frame size does not matter.
        PreparedAttack::new(spec, n, w.max(1), h.max(1), assets)?
    };
    let mut frames: Vec<Frame> = clip.frames().to_vec();
    if spec.visual.is_some() {
        if prepared.sources.is_some() {
            frames = (0..n)
                .map(|i| clip.frames()[prepared.source_of(i)].clone())
                .collect();
        } else {
            let done: Vec<(usize, Frame)> = prepared
                .selected()
                .par_iter()
                .map_init(Scratch::default, |scratch, &index| {
                    Ok((
                        index,
                        prepared.poisoned_frame(index, clip.frames(), scratch)?,
                    ))
                })
                .collect::<Result<_, String>>()
                .map_err(ApplyError::Frame)?;
            for (i, f) in done {
                frames[i] = f;
            }
        }
    }
    let (audio, report) = match (&spec.audio, clip.audio()) {
        (Some(t), Some(a)) => {
            let (mixed, rep) = t.mix(a, spec.seed, assets)?;
            (Some(mixed), Some(rep))
        }
        (Some(_), None) => {
            return Err(SpecError::new(
                "audio",
                "the clip has no audio track to put the trigger in",
            )
            .into());
        }
        (None, a) => (a.cloned(), None),
    };
    let out = Clip::new(frames, clip.fps(), audio).map_err(|e| ApplyError::Frame(e.to_string()))?;
    Ok(Poisoned {
        clip: out,
        selected: prepared.selected,
        audio: report,
    })
}

/// Applies the visual trigger to a single image, as to frame 0 of a static placement.
pub fn apply_image(
    spec: &AttackSpec,
    image: &Frame,
    assets: &dyn AssetLoader,
) -> Result<Frame, ApplyError> {
    spec.validate()?;
    if spec.visual.is_none() {
        return Err(SpecError::new("visual", "an image needs a visual trigger").into());
    }
    let still = AttackSpec {
        temporal: TemporalSpec::default(),
        audio: None,
        ..spec.clone()
    };
    let (w, h) = (image.width() as usize, image.height() as usize);
    let prepared = PreparedAttack::new(&still, 1, w, h, assets)?;
    let mut px = image.rgb().to_vec();
    // Frame 0 frozen or dropped in a one-frame clip is frame 0 (frame-lag changes nothing).
    prepared
        .apply_frame(0, &mut px, &mut Scratch::default())
        .map_err(ApplyError::Frame)?;
    Frame::new(image.width(), image.height(), px).map_err(|e| ApplyError::Frame(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::Rational;
    use crate::core::assets::NoAssets;

    #[test]
    fn the_issue_inline_forms_parse_exactly_as_written() {
        let forms = [
            r#"{"kind":"badnets","size":3,"anchor":"bottom_right","margin":0,"color":[255,255,255]}"#,
            r#"{"kind":"blend","alpha":0.2,"pattern":{"image":"pattern.png"}}"#,
            r#"{"kind":"sig","delta":40,"freq":6}"#,
            r#"{"kind":"wanet","k":4,"s":0.5,"grid_rescale":1,"seed":3}"#,
            r#"{"kind":"ftrojan","window":32,"magnitude":30,"positions":[[15,15],[31,31]],"channels":["cr","cb"]}"#,
        ];
        for f in forms {
            let spec = parse_json(f).unwrap_or_else(|e| panic!("{f}: {e}"));
            assert_eq!(spec.temporal, TemporalSpec::default());
            assert!(spec.visual.is_some());
        }
        let grid: Vec<Vec<Vec<f64>>> = vec![vec![vec![0.1; 4]; 4]; 2];
        let g = serde_json::to_string(&grid).expect("json");
        let w = format!(r#"{{"kind":"wanet","k":4,"s":0.5,"grid_rescale":1,"control_grid":{g}}}"#);
        assert!(parse_json(&w).is_ok());
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            (r#"{"kind":"badnets","size":3,"colour":[1,2,3]}"#, "colour"),
            (r#"{"kind":"badnets","size":-3}"#, "size"),
            (r#"{"kind":"badnets","color":[300,0,0]}"#, "color[0]"),
            (
                r#"{"version":1,"visual":{"kind":"badnets","size":[4]}}"#,
                "visual.size",
            ),
            (r#"{"version":1,"visual":{"kind":"wobble"}}"#, "visual.kind"),
            (
                r#"{"version":1,"audio":{"kind":"tone","freq_hz":"high"}}"#,
                "audio.freq_hz",
            ),
            (
                r#"{"version":1,"visual":{"kind":"sig","delta":"x"}}"#,
                "visual.delta",
            ),
            (r#"{"version":2,"visual":{"kind":"sig"}}"#, "version"),
            (r#"{"version":1}"#, "visual"),
            (
                r#"{"version":1,"visual":{"kind":"sig"},"temporal":{"frames":{"fraction":{"p":1.5}}}}"#,
                "temporal.frames.fraction.p",
            ),
            (
                r#"{"version":1,"visual":{"kind":"sig"},"extra":1}"#,
                "extra",
            ),
        ];
        for (json, field) in cases {
            let e = parse_json(json).expect_err(json);
            assert!(
                e.field.contains(field) || e.message.contains(field),
                "{json}: expected `{field}` in {e}"
            );
        }
    }

    #[test]
    fn toml_spec() {
        let spec = parse_toml(
            r#"
version = 1
seed = 7
[visual]
kind = "badnets"
size = [4, 2]
anchor = { x = 1, y = 1 }
[temporal]
frames = { every = { n = 2 } }
mode = "dynamic"
variation = { kind = "position_path" }
[audio]
kind = "tone"
freq_hz = 1000.0
"#,
        )
        .expect("parses");
        assert_eq!(spec.seed, 7);
        assert_eq!(spec.temporal.mode, Mode::Dynamic);
        assert!(matches!(spec.audio, Some(AudioTrigger::Tone(_))));
        let e =
            parse_toml("version = 1\n[visual]\nkind = \"sig\"\ndelta = nan\n").expect_err("nan");
        assert_eq!(e.field, "visual.delta");
    }

    fn grey_clip(frames: usize) -> Clip {
        let f: Vec<Frame> = (0..frames)
            .map(|t| Frame::new(16, 16, vec![(100 + t) as u8; 16 * 16 * 3]).expect("frame"))
            .collect();
        Clip::new(f, Rational::from_int(8), None).expect("clip")
    }

    #[test]
    fn unselected_frames_are_shared_not_copied() {
        let clip = grey_clip(6);
        let mut spec = parse_json(r#"{"kind":"sig","delta":20,"freq":2}"#).expect("ok");
        spec.temporal.frames = crate::core::placement::FrameSelection::Every { n: 3, offset: 0 };
        let out = apply_clip(&spec, &clip, &NoAssets).expect("applies");
        assert_eq!(out.selected, vec![0, 3]);
        for t in 0..6 {
            let same = std::ptr::eq(
                out.clip.frames()[t].rgb().as_ptr(),
                clip.frames()[t].rgb().as_ptr(),
            );
            assert_eq!(same, t % 3 != 0, "frame {t}");
        }
    }

    #[test]
    fn audio_needs_an_audio_track() {
        let spec =
            parse_json(r#"{"version":1,"audio":{"kind":"tone","freq_hz":440}}"#).expect("ok");
        let e = apply_clip(&spec, &grey_clip(2), &NoAssets).expect_err("no audio");
        assert!(e.to_string().contains("audio"), "{e}");
    }
}
