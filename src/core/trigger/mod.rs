//! Visual and natural triggers: specs (serde, tagged by `kind`), preparation for a frame size
//! (patterns, grids and tables computed once), and application to frames in place.
//!
//! Every trigger is written once, here; the poisoner, the trainer, `triggerlab apply` and the
//! studio all call this code.

pub mod badnets;
pub mod blend;
pub mod dct;
pub mod ftrojan;
pub mod gpu_program;
pub mod jpeg;
pub mod natural;
pub mod patch;
pub mod sig;
pub mod tdba;
pub mod wanet;

pub use gpu_program::GpuProgram;

use super::assets::AssetLoader;
use super::placement::{FrameCtx, Mode, TemporalSpec, Variation};
use super::spec_error::SpecError;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// The SIMD levels the hot pointwise kernels are compiled for; `multiversion` picks the best the
/// CPU has at run time (SSE2 otherwise). Results are identical on every level: Rust does not fuse
/// or reorder float operations, so only the lane width changes.
macro_rules! simd_kernel {
    ($item:item) => {
        #[multiversion::multiversion(targets(
            "x86_64+avx512f+avx512bw+avx2+fma",
            "x86_64+avx2+fma",
            "aarch64+neon"
        ))]
        $item
    };
}
pub(crate) use simd_kernel;

/// 1.5·2²³: adding it to a float in [0, 255] leaves round-half-to-even of the value in the low
/// bits of its representation.
const ROUND_MAGIC: f32 = 12_582_912.0;

/// Rounds to nearest (ties to even, as NumPy's `rint`) and clips to 0..=255. Written with
/// min/max and a bit pattern because that vectorises; a saturating `as u8` cast does not, and was
/// half the speed of this in the blend and SIG kernels.
#[inline(always)]
#[allow(clippy::manual_clamp)] // clamp keeps NaN, whose bits would become an arbitrary byte; max/min give 0
pub fn to_u8(v: f32) -> u8 {
    (v.max(0.0).min(255.0) + ROUND_MAGIC).to_bits() as u8
}

/// [`to_u8`] for a value already known to lie in [−0.5, 255.5] (e.g. a convex combination of
/// bytes): the clamp is skipped, which is 20 % faster in the blend kernel. No `debug_assert` of
/// the range: its branch kept the blend loop scalar (11 ms at 720p) in the dev profile, which the
/// tests and the preview bench run.
#[inline(always)]
pub fn to_u8_in_range(v: f32) -> u8 {
    (v + ROUND_MAGIC).to_bits() as u8
}

/// Declares the trigger enum, [`KINDS`] and [`VisualTrigger::kind`] from one table, so the three
/// cannot drift apart: each variant's serde name is the kind string itself.
macro_rules! visual_triggers {
    ($($(#[$attr:meta])* $variant:ident($spec:ty) = $kind:literal,)+) => {
        /// A visual or natural trigger. JSON: `{"kind": "badnets", "size": 3, …}`.
        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "kind")]
        pub enum VisualTrigger {
            $($(#[$attr])* #[serde(rename = $kind)] $variant($spec),)+
        }

        /// Every kind, for menus, benchmarks and tests.
        pub const KINDS: [&str; [$($kind),+].len()] = [$($kind),+];

        impl VisualTrigger {
            pub fn kind(&self) -> &'static str {
                match self {
                    $(VisualTrigger::$variant(_) => $kind,)+
                }
            }
        }
    };
}

visual_triggers! {
    Badnets(badnets::BadnetsSpec) = "badnets",
    Blend(blend::BlendSpec) = "blend",
    Sig(sig::SigSpec) = "sig",
    Wanet(wanet::WanetSpec) = "wanet",
    Ftrojan(ftrojan::FtrojanSpec) = "ftrojan",
    Tdba(tdba::TdbaSpec) = "tdba",
    FrameLag(natural::FrameLagSpec) = "frame_lag",
    MotionBlur(natural::MotionBlurSpec) = "motion_blur",
    #[serde(alias = "compression")]
    Jpeg(natural::JpegSpec) = "jpeg",
    Flicker(natural::FlickerSpec) = "flicker",
    Shake(natural::ShakeSpec) = "shake",
    ColorCast(natural::ColorCastSpec) = "color_cast",
}

impl VisualTrigger {
    /// The trigger with all defaults, by kind.
    pub fn default_of(kind: &str) -> Option<VisualTrigger> {
        serde_json::from_value(serde_json::json!({ "kind": kind })).ok()
    }

    /// Triggers that are temporal by construction: static/dynamic does not apply to them.
    pub fn is_temporal_already(&self) -> bool {
        !matches!(
            self,
            VisualTrigger::Badnets(_)
                | VisualTrigger::Blend(_)
                | VisualTrigger::Sig(_)
                | VisualTrigger::Wanet(_)
                | VisualTrigger::Ftrojan(_)
        )
    }

    /// What `mode = "dynamic"` does when no variation is given.
    pub fn default_variation(&self) -> Option<Variation> {
        match self {
            VisualTrigger::Badnets(_) => Some(Variation::PositionRandom),
            VisualTrigger::Blend(b) => Some(match b.pattern {
                blend::BlendPattern::Noise(_) => Variation::Noise,
                blend::BlendPattern::Image(_) => Variation::AlphaRamp {
                    from: 0.0,
                    to: b.alpha,
                },
            }),
            VisualTrigger::Sig(_) => Some(Variation::Phase {
                cycles_per_frame: 0.125,
            }),
            VisualTrigger::Wanet(_) => Some(Variation::Grid),
            VisualTrigger::Ftrojan(_) => Some(Variation::PositionsCycle),
            _ => None,
        }
    }

    /// The variation in force under `temporal`, or why the combination is invalid.
    fn variation(&self, temporal: &TemporalSpec) -> Result<Option<Variation>, SpecError> {
        match temporal.mode {
            Mode::Static => {
                if temporal.variation.is_some() {
                    return Err(SpecError::new(
                        "temporal.variation",
                        "a variation needs mode = \"dynamic\"",
                    ));
                }
                Ok(None)
            }
            Mode::Dynamic if self.is_temporal_already() => Err(SpecError::new(
                "temporal.mode",
                format!(
                    "{} is temporal already; use mode = \"static\" (it acts on the selected frames)",
                    self.kind()
                ),
            )),
            Mode::Dynamic => Ok(temporal
                .variation
                .clone()
                .or_else(|| self.default_variation())),
        }
    }

    /// Prepares the trigger for `w`×`h` frames. `field` is its spec path (e.g. `visual`).
    pub fn prepare(
        &self,
        field: &str,
        w: usize,
        h: usize,
        temporal: &TemporalSpec,
        seed: u64,
        assets: &dyn AssetLoader,
    ) -> Result<Prepared, SpecError> {
        if w == 0 || h == 0 {
            return Err(SpecError::new(field, "the frame is empty"));
        }
        let var = self.variation(temporal)?;
        let kernel = match self {
            VisualTrigger::Badnets(s) => {
                Kernel::Badnets(s.prepare(field, w, h, seed, var, assets)?)
            }
            VisualTrigger::Blend(s) => Kernel::Blend(s.prepare(field, w, h, seed, var, assets)?),
            VisualTrigger::Sig(s) => Kernel::Sig(s.prepare(field, w, var)?),
            VisualTrigger::Wanet(s) => Kernel::Wanet(s.prepare(field, w, h, seed, var)?),
            VisualTrigger::Ftrojan(s) => Kernel::Ftrojan(s.prepare(field, w, h, var)?),
            VisualTrigger::Tdba(s) => Kernel::Tdba(s.prepare(field, w, h)?),
            VisualTrigger::FrameLag(s) => Kernel::FrameLag(s.mode),
            VisualTrigger::MotionBlur(s) => {
                s.validate(field)?;
                Kernel::MotionBlur(s.filter())
            }
            VisualTrigger::Jpeg(s) => {
                s.validate(field)?;
                Kernel::Jpeg(Box::new(jpeg::Tables::new(s.quality)))
            }
            VisualTrigger::Flicker(s) => {
                s.validate(field)?;
                Kernel::Flicker(s.clone())
            }
            VisualTrigger::Shake(s) => {
                s.validate(field)?;
                Kernel::Shake(s.clone(), seed)
            }
            VisualTrigger::ColorCast(s) => {
                s.validate(field)?;
                Kernel::ColorCast(Box::new(natural::gain_luts(s.gains)))
            }
        };
        Ok(Prepared {
            w,
            h,
            kernel,
            gpu: Default::default(),
        })
    }
}

#[derive(Clone, Debug)]
enum Kernel {
    Badnets(badnets::Prepared),
    Blend(blend::Prepared),
    Sig(sig::Prepared),
    Wanet(wanet::Prepared),
    Ftrojan(ftrojan::Prepared),
    Tdba(tdba::Prepared),
    FrameLag(natural::LagMode),
    MotionBlur(natural::SparseFilter),
    Jpeg(Box<jpeg::Tables>),
    Flicker(natural::FlickerSpec),
    Shake(natural::ShakeSpec, u64),
    ColorCast(Box<[[u8; 256]; 3]>),
}

/// Frames at least this large (≈ 580×580 RGB) are split into row bands across threads.
const PAR_ROWS_MIN_BYTES: usize = 1 << 20;
const ROWS_PER_BAND: usize = 32;

/// Reusable per-worker buffers, so no frame allocates in the hot loop.
#[derive(Default)]
pub struct Scratch {
    bytes: Vec<u8>,
    floats: Vec<f32>,
}

/// How a prepared trigger is applied to a clip.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClipLevel {
    /// Frame by frame (most triggers).
    PerFrame,
    /// Frames are re-ordered (frame lag): output frame t shows source frame `sources[t]`.
    Lag(natural::LagMode),
    /// Each selected frame gets the perturbation times its weight in the temporal profile.
    Tdba,
}

/// A trigger ready for frames of one size.
#[derive(Clone, Debug)]
pub struct Prepared {
    w: usize,
    h: usize,
    kernel: Kernel,
    /// Tables for [`Prepared::gpu_program`], built on first use.
    gpu: gpu_program::GpuCache,
}

impl Prepared {
    pub fn frame_size(&self) -> (usize, usize) {
        (self.w, self.h)
    }

    pub fn clip_level(&self) -> ClipLevel {
        match self.kernel {
            Kernel::FrameLag(m) => ClipLevel::Lag(m),
            Kernel::Tdba(_) => ClipLevel::Tdba,
            _ => ClipLevel::PerFrame,
        }
    }

    /// TDBA's temporal weights for a sub-clip of `n` selected frames (`None` for other triggers).
    pub fn tdba_profile(&self, n: usize) -> Result<Option<Vec<f64>>, SpecError> {
        match &self.kernel {
            Kernel::Tdba(t) => t.profile(n).map(Some),
            _ => Ok(None),
        }
    }

    /// TDBA on one frame with its temporal weight (row bands in parallel for large frames).
    pub fn apply_tdba(&self, px: &mut [u8], weight: f64) {
        if let Kernel::Tdba(t) = &self.kernel {
            if px.len() < PAR_ROWS_MIN_BYTES {
                t.apply_frame(px, weight);
            } else {
                let band = self.band_bytes();
                px.par_chunks_mut(band)
                    .enumerate()
                    .for_each(|(i, c)| t.apply_span(c, i * band, weight));
            }
        }
    }

    /// A sparse filter of `src` into `px`, a band of rows per task.
    fn filter_bands(&self, f: &natural::SparseFilter, px: &mut [u8], src: &[u8]) {
        let (w, h, band) = (self.w, self.h, self.band_bytes());
        px.par_chunks_mut(band)
            .enumerate()
            .for_each_init(Vec::new, |acc, (i, c)| {
                f.apply_rows(src, c, w, h, i * ROWS_PER_BAND, acc)
            });
    }

    /// Bytes in a band of rows handed to one task when a frame is split across threads.
    fn band_bytes(&self) -> usize {
        self.w * 3 * ROWS_PER_BAND
    }

    /// Applies to one frame; large frames of the bandwidth-bound kernels are split into row
    /// bands across threads (batches are already parallel over frames, so small frames are not).
    pub fn apply_frame_rows(
        &self,
        px: &mut [u8],
        ctx: &FrameCtx,
        scratch: &mut Scratch,
    ) -> Result<(), String> {
        if px.len() < PAR_ROWS_MIN_BYTES || px.len() != self.w * self.h * 3 {
            return self.apply_frame(px, ctx, scratch);
        }
        let band = self.band_bytes();
        match &self.kernel {
            Kernel::Blend(p) if p.is_static() => {
                px.par_chunks_mut(band)
                    .enumerate()
                    .for_each(|(i, c)| p.apply_static_span(c, i * band));
            }
            Kernel::Sig(p) => {
                let row = p.row_for(ctx, &mut scratch.floats);
                px.par_chunks_mut(band)
                    .for_each(|c| sig::Prepared::add_to_rows(c, row));
            }
            Kernel::ColorCast(luts) => px
                .par_chunks_mut(band)
                .for_each(|c| natural::apply_luts(c, luts)),
            Kernel::Flicker(s) => {
                let g = s.gain(ctx.index);
                let luts = natural::gain_luts([g, g, g]);
                px.par_chunks_mut(band)
                    .for_each(|c| natural::apply_luts(c, &luts));
            }
            Kernel::Ftrojan(p) => px
                .par_chunks_mut(band)
                .enumerate()
                .for_each(|(i, c)| p.apply_rows(c, ctx, i * ROWS_PER_BAND)),
            // The gathering kernels read the whole source frame (a copy) and write their band.
            Kernel::Wanet(p) => {
                copy_into(&mut scratch.bytes, px);
                // A byte past the frame, which WaNet's row gathers read.
                scratch.bytes.push(0);
                let (sampler, src, w) = (p.sampler_at(ctx), &scratch.bytes, self.w);
                px.par_chunks_mut(band)
                    .enumerate()
                    .for_each(|(i, c)| sampler.sample_rows(src, c, i * ROWS_PER_BAND, w));
            }
            Kernel::MotionBlur(f) => {
                copy_into(&mut scratch.bytes, px);
                self.filter_bands(f, px, &scratch.bytes);
            }
            Kernel::Shake(s, seed) => {
                let (dx, dy) = s.offset(*seed, ctx.index);
                copy_into(&mut scratch.bytes, px);
                let f = natural::SparseFilter::from_offsets(&[(-dx, -dy)], 1.0);
                self.filter_bands(&f, px, &scratch.bytes);
            }
            // Bands of whole block rows code to the same pixels as the whole frame.
            // Bands of whole block rows give the same pixels as the whole frame.
            Kernel::Jpeg(t) => {
                let w = self.w;
                px.par_chunks_mut(w * 3 * ROWS_PER_BAND)
                    .for_each(|c| jpeg::round_trip(c, w, c.len() / (w * 3), t));
            }
            _ => return self.apply_frame(px, ctx, scratch),
        }
        Ok(())
    }

    /// Applies a per-frame trigger to one RGB frame in place. Frame lag and TDBA act on whole
    /// clips (see [`Prepared::clip_level`]); here they leave the frame as it is.
    pub fn apply_frame(
        &self,
        px: &mut [u8],
        ctx: &FrameCtx,
        scratch: &mut Scratch,
    ) -> Result<(), String> {
        let (w, h) = (self.w, self.h);
        if px.len() != w * h * 3 {
            return Err(format!(
                "frame holds {} bytes, the trigger was prepared for {w}×{h} RGB",
                px.len()
            ));
        }
        match &self.kernel {
            Kernel::Badnets(p) => p.apply(px, ctx),
            Kernel::Blend(p) => p.apply(px, ctx, &mut scratch.bytes),
            Kernel::Sig(p) => p.apply(px, ctx, &mut scratch.floats),
            Kernel::Wanet(p) => p.apply(px, ctx, &mut scratch.bytes),
            Kernel::Ftrojan(p) => p.apply(px, ctx),
            Kernel::Tdba(_) | Kernel::FrameLag(_) => {}
            Kernel::MotionBlur(f) => {
                copy_into(&mut scratch.bytes, px);
                f.apply(&scratch.bytes, px, w, h, &mut scratch.floats);
            }
            Kernel::Jpeg(t) => jpeg::round_trip(px, w, h, t),
            Kernel::Flicker(s) => {
                let g = s.gain(ctx.index);
                natural::apply_luts(px, &natural::gain_luts([g, g, g]));
            }
            Kernel::Shake(s, seed) => {
                let (dx, dy) = s.offset(*seed, ctx.index);
                copy_into(&mut scratch.bytes, px);
                natural::SparseFilter::from_offsets(&[(-dx, -dy)], 1.0).apply(
                    &scratch.bytes,
                    px,
                    w,
                    h,
                    &mut scratch.floats,
                );
            }
            Kernel::ColorCast(luts) => natural::apply_luts(px, luts),
        }
        Ok(())
    }

    /// Applies a per-frame trigger to a batch of frames stored back to back, in parallel
    /// (rayon, one scratch per worker). `ctx_of(i)` says where frame `i` sits.
    pub fn apply_batch(
        &self,
        frames: &mut [u8],
        ctx_of: impl Fn(usize) -> FrameCtx + Sync,
    ) -> Result<(), String> {
        let len = self.w * self.h * 3;
        if len == 0 || !frames.len().is_multiple_of(len) {
            return Err(format!(
                "{} bytes is not a whole number of {}×{} RGB frames",
                frames.len(),
                self.w,
                self.h
            ));
        }
        frames
            .par_chunks_mut(len)
            .enumerate()
            .try_for_each_init(Scratch::default, |scratch, (i, px)| {
                self.apply_frame_rows(px, &ctx_of(i), scratch)
            })
    }
}

fn copy_into(dst: &mut Vec<u8>, src: &[u8]) {
    dst.clear();
    dst.extend_from_slice(src);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_defaults_and_round_trips() {
        for kind in KINDS {
            let t = VisualTrigger::default_of(kind).unwrap_or_else(|| panic!("{kind} defaults"));
            assert_eq!(t.kind(), kind);
            let json = serde_json::to_string(&t).expect("serialises");
            let back: VisualTrigger = serde_json::from_str(&json).expect("parses");
            assert_eq!(back, t, "{json}");
        }
    }

    #[test]
    fn rounding_is_to_nearest_ties_even_and_clips() {
        let cases = [
            (0.49, 0),
            (0.5, 0),
            (0.51, 1),
            (1.5, 2),
            (2.5, 2),
            (254.5, 254),
            (254.51, 255),
            (300.0, 255),
            (-3.0, 0),
            (f32::NAN, 0),
            (f32::INFINITY, 255),
        ];
        for (v, want) in cases {
            assert_eq!(to_u8(v), want, "{v}");
        }
    }

    #[test]
    fn row_bands_give_the_same_result_as_one_pass() {
        use crate::core::assets::NoAssets;
        let (w, h) = (700, 520); // above the split threshold
        let src: Vec<u8> = (0..w * h * 3).map(|i| (i * 7919 % 251) as u8).collect();
        let dynamic = TemporalSpec {
            mode: crate::core::placement::Mode::Dynamic,
            ..TemporalSpec::default()
        };
        for (kind, temporal) in [
            ("blend", TemporalSpec::default()),
            ("sig", TemporalSpec::default()),
            ("color_cast", TemporalSpec::default()),
            ("flicker", TemporalSpec::default()),
            ("tdba", TemporalSpec::default()),
            ("wanet", TemporalSpec::default()),
            ("wanet", dynamic.clone()),
            ("motion_blur", TemporalSpec::default()),
            ("shake", TemporalSpec::default()),
            ("jpeg", TemporalSpec::default()),
            ("ftrojan", TemporalSpec::default()),
            ("ftrojan", dynamic.clone()),
        ] {
            let t = VisualTrigger::default_of(kind).expect("defaults");
            let p = t
                .prepare("v", w, h, &temporal, 1, &NoAssets)
                .expect("prepares");
            let ctx = FrameCtx {
                index: 3,
                ordinal: 3,
                count: 8,
            };
            let (mut a, mut b) = (src.clone(), src.clone());
            if kind == "tdba" {
                let t = match &p.kernel {
                    Kernel::Tdba(t) => t,
                    _ => unreachable!(),
                };
                t.apply_frame(&mut a, 0.7);
                p.apply_tdba(&mut b, 0.7);
            } else {
                p.apply_frame(&mut a, &ctx, &mut Scratch::default())
                    .expect("one pass");
                p.apply_frame_rows(&mut b, &ctx, &mut Scratch::default())
                    .expect("bands");
            }
            assert_eq!(a, b, "{kind}");
            assert_ne!(a, src, "{kind} changed the frame");
        }
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let e = serde_json::from_str::<VisualTrigger>(r#"{"kind":"sig","delta":40,"frequency":6}"#)
            .expect_err("typo");
        assert!(e.to_string().contains("frequency"), "{e}");
    }
}
