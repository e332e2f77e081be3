//! A saved model's answer for one clip, exactly as its run's evaluation computed it: the model
//! from `model.json` + `model.safetensors` ([`load_model`]), the run's spec from `results.json`
//! (frames, size, the trigger stage), the clip at the run's load size, triggered by the
//! evaluation's own code (`trigger_test`, at a test clip index), cut at the centre and scored by the
//! evaluation's own `Learner::logits`. `triggerlab predict` and the studio's model lens use it.

use super::data::load_size;
use super::dataset::{ClipRequest, needs_audio};
use super::features::MelConfig;
use super::trainer::{Learner, load_model, trigger_test};
use crate::core::Clip;
use crate::core::assets::AssetLoader;
use crate::core::attack::AttackSpec;
use crate::core::experiment::ExperimentSpec;
use crate::core::report::FinalMetrics;
use anyhow::Context;
use candle_core::Device;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// What `results.json` says of the run that made the model.
#[derive(Clone, Debug, Deserialize)]
pub struct RunSummary {
    #[serde(rename = "final")]
    pub final_metrics: FinalMetrics,
    pub target: usize,
    pub target_name: String,
    pub spec: ExperimentSpec,
}

/// One class and its probability.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClassProb {
    pub class: String,
    pub prob: f64,
}

/// A loaded model and how its run fed clips to it.
/// An `av_fusion` model's three answers for one clip.
#[derive(Clone, Debug, PartialEq)]
pub struct Branches {
    pub video: Vec<f64>,
    pub audio: Vec<f64>,
    pub fused: Vec<f64>,
}

pub struct Predictor {
    learner: Learner,
    pub classes: Vec<String>,
    pub run: RunSummary,
}

impl Predictor {
    /// Loads the model of run folder `dir`. Errors name the file that is missing or wrong.
    pub fn load(dir: &Path, dev: &Device) -> anyhow::Result<Predictor> {
        anyhow::ensure!(dir.is_dir(), "{}: not a run folder", dir.display());
        let results = dir.join("results.json");
        let text = std::fs::read_to_string(&results).with_context(|| {
            format!(
                "{}: cannot read (a run folder has results.json, model.json and model.safetensors)",
                results.display()
            )
        })?;
        let run: RunSummary = serde_json::from_str(&text)
            .with_context(|| format!("{}: not a TriggerLab run's results", results.display()))?;
        let (model, classes) = load_model(dir, dev)?;
        anyhow::ensure!(
            run.target < classes.len(),
            "{}: target {} is not one of the model's {} classes",
            results.display(),
            run.target,
            classes.len()
        );
        Ok(Predictor {
            learner: Learner {
                dev: dev.clone(),
                model,
                mel: MelConfig::default(),
                size: run.spec.dataset.size as usize,
            },
            classes,
            run,
        })
    }

    pub fn spec(&self) -> &ExperimentSpec {
        &self.run.spec
    }

    /// How to decode a file for this model: the run's load size, frame count and audio.
    pub fn request(&self) -> ClipRequest {
        let spec = self.spec();
        ClipRequest {
            side: load_size(spec),
            frames: spec.dataset.frames,
            audio_rate_hz: needs_audio(spec).then_some(super::data::AUDIO_RATE),
        }
    }

    /// Whether `clip` is what the run's test clips were: `side`×`side` with its frame count.
    pub fn check(&self, clip: &Clip) -> anyhow::Result<()> {
        let req = self.request();
        let (w, h) = clip.size().unwrap_or((0, 0));
        let n = clip.frames().len();
        anyhow::ensure!(
            (w, h) == (req.side, req.side) && n == req.frames,
            "the clip is {w}×{h} with {n} frames; this model takes {s}×{s} with {f} frames \
             (decode it at that size, frames sampled uniformly)",
            s = req.side,
            f = req.frames
        );
        Ok(())
    }

    /// Class probabilities (softmax of the logits) of `clip`, clean or with `attack` applied as
    /// the run applied triggers to its test clips (at its trigger stage), the clip taking test
    /// clip index `test_index` (which seeds random frames and dynamic variations; the CLI and
    /// the lens use 0). `attack` is used as given: pass `trainer::attack_for(spec)` for the
    /// run's own (its seed, its poisoned modality only).
    pub fn probabilities(
        &self,
        clip: &Clip,
        test_index: usize,
        attack: Option<&AttackSpec>,
        assets: &dyn AssetLoader,
    ) -> anyhow::Result<Vec<f64>> {
        let input = self.input(clip, test_index, attack, assets)?;
        let logits = self.learner.logits(&[&input])?;
        Ok(softmax(logits.first().context("no logits")?))
    }

    /// For an `av_fusion` model, the video branch's, the audio branch's and the fused class
    /// probabilities of `clip` (clean or triggered as in [`Predictor::probabilities`]); `None`
    /// for a single-modality model.
    pub fn branches(
        &self,
        clip: &Clip,
        test_index: usize,
        attack: Option<&AttackSpec>,
        assets: &dyn AssetLoader,
    ) -> anyhow::Result<Option<Branches>> {
        let input = self.input(clip, test_index, attack, assets)?;
        let Some(rows) = self.learner.branch_logits(&[&input])? else {
            return Ok(None);
        };
        let [v, a, f] = rows.first().context("no logits")?;
        Ok(Some(Branches {
            video: softmax(v),
            audio: softmax(a),
            fused: softmax(f),
        }))
    }

    /// The clip the model is fed: `clip` itself, or triggered as the run's test clip
    /// `test_index` at its trigger stage.
    fn input(
        &self,
        clip: &Clip,
        test_index: usize,
        attack: Option<&AttackSpec>,
        assets: &dyn AssetLoader,
    ) -> anyhow::Result<Clip> {
        self.check(clip)?;
        let spec = self.spec();
        match attack {
            Some(a) => {
                let load = load_size(spec) as usize;
                let size = spec.dataset.size as usize;
                trigger_test(
                    a,
                    assets,
                    &[clip],
                    test_index,
                    spec.augment.trigger,
                    load,
                    size,
                )?
                .into_iter()
                .next()
                .context("no triggered clip")
            }
            None => Ok(clip.clone()),
        }
    }

    /// The `k` most probable classes, most probable first (ties in class order).
    pub fn top(&self, probs: &[f64], k: usize) -> Vec<ClassProb> {
        let mut idx: Vec<usize> = (0..probs.len()).collect();
        idx.sort_by(|&a, &b| probs[b].total_cmp(&probs[a]).then(a.cmp(&b)));
        idx.into_iter()
            .take(k)
            .map(|i| ClassProb {
                class: self.classes.get(i).cloned().unwrap_or_default(),
                prob: probs[i],
            })
            .collect()
    }

    /// The predicted class: the same rule as the run's evaluation (the first largest logit,
    /// which is the first largest probability).
    pub fn predicted(probs: &[f64]) -> usize {
        // exp is strictly increasing, so distinct f32 logits keep distinct f64 probabilities.
        let mut best = 0;
        for (i, &p) in probs.iter().enumerate() {
            if p > probs[best] {
                best = i;
            }
        }
        best
    }
}

/// Probabilities from logits, computed in f64 from the largest logit down (no overflow).
pub fn softmax(logits: &[f32]) -> Vec<f64> {
    let m = logits
        .iter()
        .copied()
        .fold(f32::NEG_INFINITY, f32::max)
        .max(f32::MIN);
    let e: Vec<f64> = logits
        .iter()
        .map(|&l| (f64::from(l) - f64::from(m)).exp())
        .collect();
    let sum: f64 = e.iter().sum();
    e.iter().map(|v| v / sum).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_sums_to_one_and_keeps_the_order() {
        let p = softmax(&[1.0, 3.0, 2.0, 1000.0]);
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!(p[3] > 0.999_999, "a huge logit does not overflow");
        let q = softmax(&[1.0, 3.0, 2.0]);
        assert!(q[1] > q[2] && q[2] > q[0]);
        assert_eq!(Predictor::predicted(&q), 1);
    }
}
