//! The model lens's work, off the UI thread: loading a run's model, and a clip's class
//! probabilities clean and with the design's attack (`train::predict`, the evaluation's own
//! code). The clip is made as the run made its test clips: a SynthMotion clip regenerated at the
//! run's load size and frame count, a file decoded with the run's request.

use super::{Job, Repaint, start};
use crate::core::attack::AttackSpec;
use crate::core::synth::{SynthSpec, synth_clip};
use crate::media::assets::FileAssets;
pub use crate::train::predict::Branches;
use crate::train::predict::Predictor;
use std::path::PathBuf;
use std::sync::Arc;

/// Which clip the lens looks at.
#[derive(Clone, Debug, PartialEq)]
pub enum LensClip {
    /// Clip `index` of class `class` of the library's SynthMotion set.
    Synth {
        spec: SynthSpec,
        class: usize,
        index: usize,
    },
    File(PathBuf),
}

/// What the lens shows for one (clip, design revision, model).
#[derive(Clone, Debug, PartialEq)]
pub struct LensAnswer {
    pub clean: Vec<f64>,
    /// With the design's attack as it stands (its own seed and modalities), applied at the run's
    /// trigger stage as test clip 0.
    pub triggered: Vec<f64>,
    /// For an `av_fusion` model: its video branch's, audio branch's and fused answers with the
    /// trigger nowhere ("clean"), in the video only, in the audio only and in both (the rows the
    /// design's attack has).
    pub branches: Option<Vec<(String, Branches)>>,
}

/// The design's attack restricted to where the trigger goes: `clean` (none), `video`, `audio`,
/// `both` — the rows the attack can fill (a video-only attack has no audio row).
pub fn modality_rows(attack: &AttackSpec) -> Vec<(&'static str, Option<AttackSpec>)> {
    let mut rows = vec![("clean", None)];
    let (v, a) = (attack.visual.is_some(), attack.audio.is_some());
    if v {
        rows.push((
            "video",
            Some(AttackSpec {
                audio: None,
                ..attack.clone()
            }),
        ));
    }
    if a {
        rows.push((
            "audio",
            Some(AttackSpec {
                visual: None,
                ..attack.clone()
            }),
        ));
    }
    if v && a {
        rows.push(("both", Some(attack.clone())));
    }
    rows
}

/// Loads the model of a run folder on a worker.
pub fn load_job(dir: PathBuf, repaint: Repaint) -> std::io::Result<Job<Result<Predictor, String>>> {
    start("lens-load", 1, repaint, move |tx| {
        tx.send(Predictor::load(&dir, &candle_core::Device::Cpu).map_err(|e| format!("{e:#}")));
    })
}

/// The clip the run would have fed the model for `clip`.
pub fn lens_clip(p: &Predictor, clip: &LensClip) -> anyhow::Result<crate::core::Clip> {
    let req = p.request();
    match clip {
        LensClip::Synth { spec, class, index } => {
            let s = SynthSpec {
                frames: req.frames,
                size: req.side,
                sample_rate_hz: crate::train::data::AUDIO_RATE,
                ..spec.clone()
            };
            Ok(synth_clip(&s, *class, *index)?)
        }
        LensClip::File(path) => {
            let d =
                crate::media::decode::decode_clip(path, &super::experiment::decode_request(&req))?;
            Ok(d.clip)
        }
    }
}

/// Predicts `clip` clean and with `attack` on a worker.
pub fn predict_job(
    p: Arc<Predictor>,
    clip: LensClip,
    attack: AttackSpec,
    assets_base: PathBuf,
    repaint: Repaint,
) -> std::io::Result<Job<Result<LensAnswer, String>>> {
    start("lens-predict", 1, repaint, move |tx| {
        let run = || -> anyhow::Result<LensAnswer> {
            let c = lens_clip(&p, &clip)?;
            let clean = p.probabilities(&c, 0, None, &crate::core::assets::NoAssets)?;
            let assets = FileAssets::new(&assets_base);
            let triggered = p.probabilities(&c, 0, Some(&attack), &assets)?;
            let branches = if p.spec().model.kind == crate::core::experiment::ModelName::AvFusion {
                let mut rows = Vec::new();
                for (name, a) in modality_rows(&attack) {
                    if let Some(b) = p.branches(&c, 0, a.as_ref(), &assets)? {
                        rows.push((name.to_string(), b));
                    }
                }
                Some(rows)
            } else {
                None
            };
            Ok(LensAnswer {
                clean,
                triggered,
                branches,
            })
        };
        tx.send(run().map_err(|e| format!("{e:#}")));
    })
}

/// One value of a sensitivity sweep, over the clips the sweep looks at: those of classes other
/// than the target that the model does not already call the target when clean.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepPoint {
    pub value: f64,
    /// Mean probability of the target class with the trigger at this value.
    pub target_prob: f64,
    /// Fraction answered the target with the trigger at this value.
    pub flipped: f64,
    /// Clips counted.
    pub clips: usize,
}

pub enum SweepEvent {
    /// The clips are ready: this many are counted (the others are the target's own class or
    /// already called the target).
    Ready {
        clips: usize,
        total: usize,
    },
    Point(SweepPoint),
    Failed(String),
}

/// What a sweep runs over.
pub struct SweepRequest {
    pub predictor: Arc<Predictor>,
    /// The library's clips with their true class where known (a file's is not).
    pub clips: Vec<(LensClip, Option<usize>)>,
    pub attack: AttackSpec,
    /// The parameter (`core::sweep` path) and its values.
    pub path: String,
    pub values: Vec<f64>,
    pub assets_base: PathBuf,
}

/// Runs a sweep on a worker, one point per value as it is done; stops between clips when
/// cancelled.
pub fn sweep_job(req: SweepRequest, repaint: Repaint) -> std::io::Result<Job<SweepEvent>> {
    start("lens-sweep", 4, repaint, move |tx| {
        let p = &req.predictor;
        let target = p.run.target;
        let assets = FileAssets::new(&req.assets_base);
        // Each clip is made and answered clean once; only the triggered answer changes with the
        // value. Test indices are the clips' places, so random frames are each clip's own.
        let mut counted = Vec::new();
        for (i, (clip, class)) in req.clips.iter().enumerate() {
            if tx.is_cancelled() {
                return;
            }
            if *class == Some(target) {
                continue;
            }
            let c = match lens_clip(p, clip) {
                Ok(c) => c,
                Err(e) => {
                    tx.send(SweepEvent::Failed(format!("{e:#}")));
                    return;
                }
            };
            match p.probabilities(&c, i, None, &crate::core::assets::NoAssets) {
                Ok(clean) if Predictor::predicted(&clean) != target => counted.push((i, c)),
                Ok(_) => {}
                Err(e) => {
                    tx.send(SweepEvent::Failed(format!("{e:#}")));
                    return;
                }
            }
        }
        if counted.is_empty() {
            tx.send(SweepEvent::Failed(format!(
                "none of the library's {} clips can show a flip: each is of the target class or \
                 already called the target when clean",
                req.clips.len()
            )));
            return;
        }
        if !tx.send(SweepEvent::Ready {
            clips: counted.len(),
            total: req.clips.len(),
        }) {
            return;
        }
        for &v in &req.values {
            let attack = match crate::core::sweep::with_value(&req.attack, &req.path, v) {
                Ok(a) => a,
                Err(e) => {
                    tx.send(SweepEvent::Failed(format!("at {v}: {e}")));
                    return;
                }
            };
            let (mut prob, mut flipped) = (0.0, 0usize);
            for (i, c) in &counted {
                if tx.is_cancelled() {
                    return;
                }
                match p.probabilities(c, *i, Some(&attack), &assets) {
                    Ok(t) => {
                        prob += t.get(target).copied().unwrap_or(0.0);
                        flipped += usize::from(Predictor::predicted(&t) == target);
                    }
                    Err(e) => {
                        tx.send(SweepEvent::Failed(format!("at {v}: {e:#}")));
                        return;
                    }
                }
            }
            let n = counted.len().max(1) as f64;
            let point = SweepPoint {
                value: v,
                target_prob: prob / n,
                flipped: flipped as f64 / n,
                clips: counted.len(),
            };
            if !tx.send(SweepEvent::Point(point)) {
                return;
            }
        }
    })
}
