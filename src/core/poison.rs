//! The threat model: which training clips are poisoned and how.
//!
//! - **Poisoned-label** (default): ⌊ρ·N⌋ training clips (N = all training clips) are chosen with
//!   the seed from the clips whose class is *not* the target; the attack is applied and they are
//!   relabelled to the target class.
//! - **Clean-label**: ⌊ρ·N⌋ clips are chosen from the target class itself; the attack is applied
//!   and labels stay (as SIG is usually run).
//! - **WaNet cross samples** (optional): a further ⌊ρ_cross·N⌋ clips get WaNet's noise-mode warp
//!   and keep their labels, so the model does not learn "any warp means target".
//! - **Modality**: `video`, `audio` or `both` says which parts of the attack are applied.
//!
//! The chosen indices, their SHA-256 and the seed go into the results, so a run can be repeated
//! exactly.
//!
//! **Per-clip draws**: applied to a dataset, an attack draws its random choices per clip —
//! `random {k}` / `fraction {p}` frames, a dynamic trigger's per-frame positions, grids or noise,
//! shake — from [`clip_seed`]`(attack seed, clip index)` ([`spec_for_clip`], [`apply_for_clip`]).
//! What makes the trigger recognisable stays the attack's own: a noise patch, a blend noise
//! pattern and WaNet's warp grid are drawn from the attack seed (unless the dynamic variation is
//! to redraw them per frame), and so is the audio trigger. A single clip (`apply`) uses the
//! spec's seed as is.

use super::assets::AssetLoader;
use super::attack::{ApplyError, AttackSpec, Poisoned, apply_clip};
use super::clip::Clip;
use super::placement::{Mode, Variation};
pub use super::rng::clip_seed;
use super::rng::{Stream, rng_for};
use super::spec_error::{SpecError, check_range};
use super::trigger::VisualTrigger;
use rand::seq::index::sample;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PoisonMode {
    #[default]
    PoisonedLabel,
    CleanLabel,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Modality {
    #[default]
    Video,
    Audio,
    Both,
}

impl Modality {
    pub fn video(self) -> bool {
        matches!(self, Modality::Video | Modality::Both)
    }
    pub fn audio(self) -> bool {
        matches!(self, Modality::Audio | Modality::Both)
    }
}

/// The target class, by index or by name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TargetClass {
    Index(usize),
    Name(String),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoisonSpec {
    pub target: TargetClass,
    /// ρ: the poisoned fraction of the training set.
    pub ratio: f64,
    #[serde(default)]
    pub mode: PoisonMode,
    #[serde(default)]
    pub modality: Modality,
    /// WaNet cross samples (noise mode, labels kept), as a fraction of the training set.
    #[serde(default)]
    pub cross_ratio: f64,
}

/// The concrete choice for one training set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PoisonPlan {
    pub target: usize,
    /// Training indices that get the attack (sorted).
    pub indices: Vec<usize>,
    /// Training indices that get WaNet's noise-mode warp with their own labels (sorted).
    pub cross: Vec<usize>,
    pub mode: PoisonMode,
    pub modality: Modality,
    pub seed: u64,
}

impl PoisonSpec {
    /// Resolves the target class against `classes`.
    pub fn target_index(&self, classes: &[String]) -> Result<usize, SpecError> {
        match &self.target {
            TargetClass::Index(i) if *i < classes.len() => Ok(*i),
            TargetClass::Index(i) => Err(SpecError::new(
                "poison.target",
                format!("class {i} does not exist ({} classes)", classes.len()),
            )),
            TargetClass::Name(n) => classes.iter().position(|c| c == n).ok_or_else(|| {
                SpecError::new(
                    "poison.target",
                    format!("no class named `{n}` (classes: {})", classes.join(", ")),
                )
            }),
        }
    }

    /// Chooses the clips to poison among training clips with `labels`.
    pub fn plan(
        &self,
        labels: &[usize],
        classes: &[String],
        seed: u64,
    ) -> Result<PoisonPlan, SpecError> {
        check_range("poison.ratio", self.ratio, 0.0, 1.0)?;
        check_range("poison.cross_ratio", self.cross_ratio, 0.0, 1.0)?;
        let target = self.target_index(classes)?;
        let n = labels.len();
        let candidates: Vec<usize> = (0..n)
            .filter(|&i| match self.mode {
                PoisonMode::PoisonedLabel => labels[i] != target,
                PoisonMode::CleanLabel => labels[i] == target,
            })
            .collect();
        let want = ((self.ratio * n as f64).floor() as usize).min(candidates.len());
        let mut rng = rng_for(seed, Stream::Poison, 0);
        let mut indices: Vec<usize> = sample(&mut rng, candidates.len(), want)
            .into_iter()
            .map(|k| candidates[k])
            .collect();
        indices.sort_unstable();
        let rest: Vec<usize> = (0..n)
            .filter(|i| indices.binary_search(i).is_err())
            .collect();
        let cross_n = ((self.cross_ratio * n as f64).floor() as usize).min(rest.len());
        let mut cross: Vec<usize> = sample(&mut rng, rest.len(), cross_n)
            .into_iter()
            .map(|k| rest[k])
            .collect();
        cross.sort_unstable();
        Ok(PoisonPlan {
            target,
            indices,
            cross,
            mode: self.mode,
            modality: self.modality,
            seed,
        })
    }
}

impl PoisonPlan {
    /// SHA-256 of the poisoned indices written as `i,j,k` (to check two runs poisoned the same).
    pub fn indices_sha256(&self) -> String {
        let text = self
            .indices
            .iter()
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(",");
        hex::encode(Sha256::digest(text.as_bytes()))
    }

    /// The label a training clip is trained with.
    pub fn label_of(&self, index: usize, label: usize) -> usize {
        match self.mode {
            PoisonMode::PoisonedLabel if self.indices.binary_search(&index).is_ok() => self.target,
            _ => label,
        }
    }

    pub fn is_poisoned(&self, index: usize) -> bool {
        self.indices.binary_search(&index).is_ok()
    }
}

/// Where a dataset's clips sit in the per-clip seed's index space: training clip `i` is index
/// `i`, test clip `j` is `TEST_CLIP_INDEX_BASE + j` (so a test clip never repeats a training
/// clip's draws, whatever the training set's size).
pub const TEST_CLIP_INDEX_BASE: u64 = 1 << 40;

/// The copy of `spec` that clip `clip_index` of a dataset gets: its seed is
/// [`clip_seed`]`(spec.seed, clip_index)`, so frame selection and dynamic variations differ per
/// clip; seeds that make the trigger's identity (noise patch, blend noise, WaNet grid) and default
/// to the attack seed are pinned to `spec.seed`, unless the dynamic variation redraws that very
/// thing per frame (`noise_reseed`, `noise`, `grid`), which then draws per clip too.
pub fn spec_for_clip(spec: &AttackSpec, clip_index: u64) -> AttackSpec {
    let mut s = spec.clone();
    s.seed = clip_seed(spec.seed, clip_index);
    let variation = match spec.temporal.mode {
        Mode::Static => None,
        Mode::Dynamic => spec.temporal.variation.clone().or_else(|| {
            spec.visual
                .as_ref()
                .and_then(VisualTrigger::default_variation)
        }),
    };
    let redraws = |v: &Variation| variation.as_ref() == Some(v);
    match s.visual.as_mut() {
        Some(VisualTrigger::Badnets(b)) if !redraws(&Variation::NoiseReseed) => {
            if let Some(n) = b.noise.as_mut() {
                n.seed.get_or_insert(spec.seed);
            }
        }
        Some(VisualTrigger::Blend(b)) if !redraws(&Variation::Noise) => {
            if let super::trigger::blend::BlendPattern::Noise(n) = &mut b.pattern {
                n.seed.get_or_insert(spec.seed);
            }
        }
        Some(VisualTrigger::Wanet(w)) if !redraws(&Variation::Grid) => {
            w.seed.get_or_insert(spec.seed);
        }
        _ => {}
    }
    s
}

/// Applies `spec` to clip `clip_index` of a dataset with per-clip draws ([`spec_for_clip`]); the
/// audio trigger keeps the attack's seed (its noise and seeded start are one draw for the whole
/// set: `core::audio_trigger` takes a single seed for both).
pub fn apply_for_clip(
    spec: &AttackSpec,
    clip: &Clip,
    clip_index: u64,
    assets: &dyn AssetLoader,
) -> Result<Poisoned, ApplyError> {
    if spec.visual.is_none() {
        return apply_clip(spec, clip, assets);
    }
    let mut visual = spec_for_clip(spec, clip_index);
    let audio = visual.audio.take();
    let done = apply_clip(&visual, clip, assets)?;
    if audio.is_none() {
        return Ok(done);
    }
    let sound = AttackSpec {
        visual: None,
        temporal: Default::default(),
        ..spec.clone()
    };
    let heard = apply_clip(&sound, &done.clip, assets)?;
    Ok(Poisoned {
        clip: heard.clip,
        selected: done.selected,
        audio: heard.audio,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classes() -> Vec<String> {
        ["a", "b", "c"].iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn poisoned_label_picks_non_target_clips_deterministically() {
        let labels: Vec<usize> = (0..30).map(|i| i % 3).collect();
        let spec = PoisonSpec {
            target: TargetClass::Name("b".into()),
            ratio: 0.2,
            mode: PoisonMode::PoisonedLabel,
            modality: Modality::Video,
            cross_ratio: 0.1,
        };
        let p = spec.plan(&labels, &classes(), 7).expect("plan");
        assert_eq!(p.target, 1);
        assert_eq!(p.indices.len(), 6);
        assert!(p.indices.iter().all(|&i| labels[i] != 1));
        assert_eq!(p.cross.len(), 3);
        assert!(p.cross.iter().all(|i| !p.indices.contains(i)));
        assert_eq!(
            p,
            spec.plan(&labels, &classes(), 7).expect("again"),
            "seeded"
        );
        assert_ne!(
            p.indices,
            spec.plan(&labels, &classes(), 8)
                .expect("other seed")
                .indices
        );
        assert_eq!(p.label_of(p.indices[0], labels[p.indices[0]]), 1);
        assert_eq!(p.indices_sha256().len(), 64);
    }

    #[test]
    fn clean_label_and_errors() {
        let labels: Vec<usize> = (0..30).map(|i| i % 3).collect();
        let spec = PoisonSpec {
            target: TargetClass::Index(2),
            ratio: 0.5,
            mode: PoisonMode::CleanLabel,
            modality: Modality::Audio,
            cross_ratio: 0.0,
        };
        let p = spec.plan(&labels, &classes(), 0).expect("plan");
        assert_eq!(p.indices.len(), 10, "capped at the 10 target-class clips");
        assert!(
            p.indices
                .iter()
                .all(|&i| labels[i] == 2 && p.label_of(i, 2) == 2)
        );
        let bad = PoisonSpec {
            target: TargetClass::Name("zebra".into()),
            ..spec.clone()
        };
        assert_eq!(
            bad.plan(&labels, &classes(), 0)
                .expect_err("no class")
                .field,
            "poison.target"
        );
        let bad = PoisonSpec { ratio: 1.5, ..spec };
        assert_eq!(
            bad.plan(&labels, &classes(), 0).expect_err("ratio").field,
            "poison.ratio"
        );
    }

    mod per_clip {
        use super::super::*;
        use crate::core::assets::NoAssets;
        use crate::core::placement::FrameSelection;
        use crate::core::time::Rational;
        use crate::core::trigger::badnets::BadnetsSpec;
        use crate::core::trigger::patch::{NoiseOpts, PatchSize};
        use crate::core::{AudioBuffer, Frame};

        fn grey(frames: usize) -> Clip {
            let f = Frame::new(16, 16, vec![128u8; 16 * 16 * 3]).expect("frame");
            let tone = (0..frames * 125)
                .map(|i| 0.3 * (i as f32 * 0.3).sin())
                .collect();
            let audio = AudioBuffer::new(1000, 1, tone).expect("audio");
            Clip::new(
                vec![f; frames],
                Rational::new(8, 1).expect("fps"),
                Some(audio),
            )
            .expect("clip")
        }

        fn noise_patch_on_random_frames() -> AttackSpec {
            let mut a = AttackSpec::visual(VisualTrigger::Badnets(BadnetsSpec {
                noise: Some(NoiseOpts::default()),
                size: PatchSize::Square(4),
                ..BadnetsSpec::default()
            }));
            a.temporal.frames = FrameSelection::Random { k: 3 };
            a.seed = 5;
            a
        }

        #[test]
        fn clips_draw_their_own_frames_but_share_the_trigger() {
            let spec = noise_patch_on_random_frames();
            let clip = grey(16);
            let runs: Vec<Poisoned> = (0..6)
                .map(|i| apply_for_clip(&spec, &clip, i, &NoAssets).expect("applies"))
                .collect();
            let picks: Vec<&Vec<usize>> = runs.iter().map(|p| &p.selected).collect();
            assert_ne!(picks[0], picks[1], "{picks:?}");
            let mut distinct = picks.clone();
            distinct.sort();
            distinct.dedup();
            assert!(distinct.len() >= 4, "{picks:?}");
            let again = apply_for_clip(&spec, &clip, 1, &NoAssets).expect("applies");
            assert_eq!(&again.selected, picks[1], "same clip index, same frames");
            // The noise patch is the attack's, the same on every clip.
            let frame = |p: &Poisoned| p.clip.frames()[p.selected[0]].rgb().to_vec();
            assert!(runs.iter().all(|p| frame(p) == frame(&runs[0])));
            // A single clip keeps the spec's seed as is.
            let single = apply_clip(&spec, &clip, &NoAssets).expect("applies");
            let plain = spec
                .temporal
                .frames
                .select(16, spec.seed, "f")
                .expect("select");
            assert_eq!(single.selected, plain);
        }

        #[test]
        fn a_redrawn_variation_draws_per_clip_and_the_audio_keeps_the_attack_seed() {
            let mut spec = noise_patch_on_random_frames();
            spec.temporal.frames = FrameSelection::All;
            spec.temporal.mode = Mode::Dynamic;
            spec.temporal.variation = Some(Variation::NoiseReseed);
            let a = spec_for_clip(&spec, 0);
            let b = spec_for_clip(&spec, 1);
            let noise_seed = |s: &AttackSpec| match &s.visual {
                Some(VisualTrigger::Badnets(b)) => b.noise.as_ref().and_then(|n| n.seed),
                _ => None,
            };
            assert_eq!(
                noise_seed(&a),
                None,
                "reseeded per frame from the clip's seed"
            );
            assert_ne!(a.seed, b.seed);
            let pinned = spec_for_clip(&noise_patch_on_random_frames(), 3);
            assert_eq!(noise_seed(&pinned), Some(5), "static: the attack's noise");

            spec.audio = Some(
                serde_json::from_str(
                    r#"{"kind":"noise_burst","placement":"random","duration_secs":0.2}"#,
                )
                .expect("audio trigger"),
            );
            let clip = grey(16);
            let sound = |i| {
                apply_for_clip(&spec, &clip, i, &NoAssets)
                    .expect("applies")
                    .clip
                    .audio()
                    .expect("audio")
                    .samples()
                    .to_vec()
            };
            let clean = clip.audio().expect("audio").samples().to_vec();
            assert_ne!(sound(0), clean, "the burst is there");
            assert_eq!(
                sound(0),
                sound(1),
                "the audio trigger is one draw for the set"
            );
        }
    }
}
