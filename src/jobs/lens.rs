//! The model lens's work, off the UI thread: loading a run's model, and a clip's class
//! probabilities clean and with the design's attack (`train::predict`, the evaluation's own
//! code). The clip is made as the run made its test clips: a SynthMotion clip regenerated at the
//! run's load size and frame count, a file decoded with the run's request.

use super::{Job, Repaint, start};
use crate::core::attack::AttackSpec;
use crate::core::synth::{SynthSpec, synth_clip};
use crate::media::assets::FileAssets;
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
            let triggered =
                p.probabilities(&c, 0, Some(&attack), &FileAssets::new(&assets_base))?;
            Ok(LensAnswer { clean, triggered })
        };
        tx.send(run().map_err(|e| format!("{e:#}")));
    })
}
