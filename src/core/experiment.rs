//! The experiment spec (TOML, versioned): dataset, clip shape, model, optimiser, schedule,
//! attack and poisoning. `triggerlab run` and the studio's Experiments tab read it.

use super::attack::AttackSpec;
use super::poison::PoisonSpec;
use super::spec_error::{SpecError, check_range};
use super::synth::SynthSpec;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

pub const EXPERIMENT_VERSION: u32 = 1;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetSpec {
    /// A folder in any layout the media layer reads (UCF-101, HMDB-51, class folders)…
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// …or SynthMotion, generated in memory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub synth: Option<SynthSpec>,
    /// Split number of split-list layouts (1, 2, 3).
    #[serde(default = "one")]
    pub split: u32,
    /// Frames per clip (sampled uniformly over each video).
    #[serde(default = "sixteen")]
    pub frames: usize,
    /// Square side the model sees.
    #[serde(default = "sixty_four")]
    pub size: u32,
    /// Use at most this many clips per class and split (0 = all): for quick runs on big sets.
    #[serde(default)]
    pub max_per_class: usize,
}

fn one() -> u32 {
    1
}
fn sixteen() -> usize {
    16
}
fn sixty_four() -> u32 {
    64
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OptimizerKind {
    #[default]
    Adamw,
    Sgd,
}

#[derive(Clone, Copy, Debug, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Schedule {
    #[default]
    Cosine,
    /// Multiply the rate by `gamma` every `every` epochs.
    Step {
        every: usize,
        gamma: f64,
    },
    Constant,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OptimizerSpec {
    pub kind: OptimizerKind,
    pub lr: f64,
    pub weight_decay: f64,
    /// SGD momentum.
    pub momentum: f64,
    pub schedule: Schedule,
}

impl Default for OptimizerSpec {
    fn default() -> Self {
        OptimizerSpec {
            kind: OptimizerKind::Adamw,
            lr: 2e-3,
            weight_decay: 1e-4,
            momentum: 0.9,
            schedule: Schedule::Cosine,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TriggerStage {
    /// The trigger goes on the stored clip, before augmentation (as a poisoner with data access
    /// would): a random crop may cut into it.
    #[default]
    Before,
    /// The trigger goes on after augmentation: always whole and in place.
    After,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AugmentSpec {
    /// Random crops of `size` from clips decoded 1/8 larger (test clips: the centre crop).
    pub random_crop: bool,
    /// Horizontal flips. Off by default: they move corner patches and turn "move left" into
    /// "move right".
    pub hflip: bool,
    pub trigger: TriggerStage,
}

impl Default for AugmentSpec {
    fn default() -> Self {
        AugmentSpec {
            random_crop: true,
            hflip: false,
            trigger: TriggerStage::Before,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EvalSpec {
    /// Count target-class clips in the ASR too (the default leaves them out).
    pub include_target_in_asr: bool,
    /// Also measure ASR with the trigger on 1, 2, 4, …, T frames (after the last epoch).
    pub frame_fraction_curve: bool,
}

impl Default for EvalSpec {
    fn default() -> Self {
        EvalSpec {
            include_target_in_asr: false,
            frame_fraction_curve: true,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    pub kind: crate::core::experiment::ModelName,
    #[serde(default = "half")]
    pub fusion_video_weight: f64,
    #[serde(default = "yes")]
    pub fusion_joint: bool,
    #[serde(default)]
    pub fusion_video: FusionVideo,
    /// How the seeded initial weights are drawn.
    #[serde(default)]
    pub init: InitScheme,
}

/// Initial weights. Both draw uniformly from the seed; they differ in the conv layers' scale.
/// The default stays PyTorch's so every spec written before `init` existed trains exactly as it
/// did (its recorded figures reproduce); new specs should say `init = "he"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InitScheme {
    /// PyTorch's default for every layer: weight and bias uniform in ±1/√fan_in (variance
    /// 1/(3·fan_in)). Each conv + ReLU shrinks the signal's variance about six-fold, so through
    /// r2plus1d_tiny's eight the logits start nearly constant and the model sits at the class
    /// prior for several epochs.
    #[default]
    Pytorch,
    /// He (Kaiming) for ReLU: conv weights uniform in ±√(6/fan_in) (variance 2/fan_in), conv
    /// biases zero; the linear head as PyTorch's. Each conv + ReLU keeps its input's scale, so
    /// a deep stack without normalisation layers starts learning at once.
    He,
}

fn half() -> f64 {
    0.5
}
fn yes() -> bool {
    true
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelName {
    R2plus1dTiny,
    TsmTiny,
    AudioCnn,
    AvFusion,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FusionVideo {
    #[default]
    R2plus1dTiny,
    TsmTiny,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentSpec {
    pub version: u32,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub seed: u64,
    /// "cpu", "cuda" or "auto".
    #[serde(default = "cpu")]
    pub device: String,
    pub dataset: DatasetSpec,
    pub model: ModelSpec,
    #[serde(default)]
    pub optimizer: OptimizerSpec,
    pub epochs: usize,
    #[serde(default = "eight")]
    pub batch_size: usize,
    #[serde(default)]
    pub augment: AugmentSpec,
    #[serde(default)]
    pub eval: EvalSpec,
    /// The attack (its `seed` is replaced by the experiment's).
    pub attack: AttackSpec,
    pub poison: PoisonSpec,
}

fn cpu() -> String {
    "cpu".into()
}
fn eight() -> usize {
    8
}

impl ExperimentSpec {
    pub fn validate(&self) -> Result<(), SpecError> {
        if self.version != EXPERIMENT_VERSION {
            return Err(SpecError::new(
                "version",
                format!(
                    "{} is not a version this build reads (it reads 1)",
                    self.version
                ),
            ));
        }
        match (&self.dataset.path, &self.dataset.synth) {
            (None, None) => {
                return Err(SpecError::new(
                    "dataset",
                    "give `path` (a folder) or `synth` (SynthMotion)",
                ));
            }
            (Some(_), Some(_)) => {
                return Err(SpecError::new(
                    "dataset",
                    "give `path` or `synth`, not both",
                ));
            }
            (None, Some(s)) => s
                .validate()
                .map_err(|e| SpecError::new(format!("dataset.synth.{}", e.field), e.message))?,
            _ => {}
        }
        if self.dataset.frames < 2 {
            return Err(SpecError::new("dataset.frames", "need at least 2 frames"));
        }
        if !(16..=512).contains(&self.dataset.size) {
            return Err(SpecError::new("dataset.size", "must be 16..=512"));
        }
        if self.epochs == 0 {
            return Err(SpecError::new("epochs", "must be at least 1"));
        }
        if self.batch_size == 0 {
            return Err(SpecError::new("batch_size", "must be at least 1"));
        }
        if !["cpu", "cuda", "auto"].contains(&self.device.as_str()) {
            return Err(SpecError::new(
                "device",
                format!("`{}`: use cpu, cuda or auto", self.device),
            ));
        }
        check_range("optimizer.lr", self.optimizer.lr, 1e-8, 10.0)?;
        check_range(
            "optimizer.weight_decay",
            self.optimizer.weight_decay,
            0.0,
            1.0,
        )?;
        check_range("optimizer.momentum", self.optimizer.momentum, 0.0, 0.999)?;
        if let Schedule::Step { every, gamma } = self.optimizer.schedule {
            if every == 0 {
                return Err(SpecError::new(
                    "optimizer.schedule.every",
                    "must be at least 1",
                ));
            }
            check_range("optimizer.schedule.gamma", gamma, 0.0, 1.0)?;
        }
        check_range(
            "model.fusion_video_weight",
            self.model.fusion_video_weight,
            0.0,
            1.0,
        )?;
        check_range("poison.ratio", self.poison.ratio, 0.0, 1.0)?;
        self.attack
            .validate()
            .map_err(|e| SpecError::new(format!("attack.{}", e.field), e.message))?;
        if self.poison.modality.video() && self.attack.visual.is_none() {
            return Err(SpecError::new(
                "poison.modality",
                "poisoning the video needs `attack.visual`",
            ));
        }
        if self.poison.modality.audio() && self.attack.audio.is_none() {
            return Err(SpecError::new(
                "poison.modality",
                "poisoning the audio needs `attack.audio`",
            ));
        }
        let audio_model = matches!(self.model.kind, ModelName::AudioCnn | ModelName::AvFusion);
        if self.poison.modality.audio() && !audio_model {
            return Err(SpecError::new(
                "poison.modality",
                "an audio trigger needs a model that hears (audio_cnn or av_fusion)",
            ));
        }
        Ok(())
    }

    /// The learning rate in `epoch` (0-based) of `epochs`.
    pub fn lr_at(&self, epoch: usize) -> f64 {
        let base = self.optimizer.lr;
        match self.optimizer.schedule {
            Schedule::Constant => base,
            Schedule::Cosine => {
                0.5 * base
                    * (1.0 + (std::f64::consts::PI * epoch as f64 / self.epochs as f64).cos())
            }
            Schedule::Step { every, gamma } => base * gamma.powi((epoch / every.max(1)) as i32),
        }
    }
}

/// Parses an experiment spec from TOML; errors name the field.
pub fn parse_experiment(text: &str) -> Result<ExperimentSpec, SpecError> {
    let value: toml::Value =
        toml::from_str(text).map_err(|e| SpecError::new("spec", format!("not valid TOML: {e}")))?;
    let mut json =
        serde_json::to_value(&value).map_err(|e| SpecError::new("spec", e.to_string()))?;
    // The attack has its own parser (tagged triggers keep their field paths there).
    let attack = json.as_object_mut().and_then(|o| o.remove("attack"));
    let mut attack_spec = match attack {
        Some(mut a) => {
            if let Some(o) = a.as_object_mut() {
                o.entry("version").or_insert(serde_json::json!(1));
            }
            super::attack::parse_value(a)
                .map_err(|e| SpecError::new(format!("attack.{}", e.field), e.message))?
        }
        None => return Err(SpecError::new("attack", "missing")),
    };
    if let Some(o) = json.as_object_mut() {
        o.insert(
            "attack".into(),
            serde_json::to_value(&attack_spec)
                .map_err(|e| SpecError::new("attack", e.to_string()))?,
        );
    }
    let mut spec: ExperimentSpec = serde_path_to_error::deserialize(json).map_err(|e| {
        let path = e.path().to_string();
        SpecError::new(
            if path == "." { "spec".into() } else { path },
            e.into_inner().to_string(),
        )
    })?;
    attack_spec.seed = spec.seed;
    spec.attack = attack_spec;
    spec.validate()?;
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUICK: &str = r#"
version = 1
name = "quick"
seed = 3
epochs = 4
[dataset]
synth = { classes = 10, per_class = 20 }
frames = 16
size = 64
[model]
kind = "r2plus1d_tiny"
[attack]
visual = { kind = "badnets", size = 8 }
[poison]
target = "MoveLeft"
ratio = 0.1
"#;

    #[test]
    fn parses_with_defaults_and_the_seed_flows_into_the_attack() {
        let s = parse_experiment(QUICK).expect("parses");
        assert_eq!(s.seed, 3);
        assert_eq!(s.attack.seed, 3);
        assert_eq!(s.batch_size, 8);
        assert_eq!(s.optimizer.kind, OptimizerKind::Adamw);
        assert!((s.lr_at(0) - s.optimizer.lr).abs() < 1e-12);
        assert!(s.lr_at(3) < s.lr_at(1));
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            (QUICK.replace("epochs = 4", "epochs = 0"), "epochs"),
            (QUICK.replace("ratio = 0.1", "ratio = 1.1"), "poison.ratio"),
            (QUICK.replace("size = 8", "size = -1"), "attack.visual.size"),
            (
                QUICK.replace("kind = \"r2plus1d_tiny\"", "kind = \"resnet\""),
                "model.kind",
            ),
            (
                QUICK.replace("frames = 16", "frames = 16\nframez = 2"),
                "dataset.framez",
            ),
            (QUICK.replace("version = 1", "version = 9"), "version"),
            (
                QUICK.replace("[poison]", "[poison]\nmodality = \"audio\""),
                "poison.modality",
            ),
        ];
        for (text, field) in cases {
            let e = parse_experiment(&text).expect_err(field);
            assert!(
                e.field.contains(field) || e.message.contains(field),
                "{field}: {e}"
            );
        }
    }
}
