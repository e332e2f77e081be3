//! The models (candle), with PyTorch's default initialisation (Kaiming-uniform, a = √5).
//! Parameters live in a `VarMap` and save as safetensors; names follow `blocks.N.spatial.weight`.
//! On the CPU the convolutions run as the fused channels-last ops of `train::ops`; on other
//! devices (CUDA) they run as candle's own convolutions. `forward_reference` runs the candle path
//! on any device, which tests use as an independent check.
//!
//! Inputs: video `[B, T, H, W, 3]` (normalised), audio log-mel `[B, frames, mels, 1]`.

pub mod audio;
pub mod r2plus1d;
pub mod tsm;

use candle_core::{DType, Device, Result, Tensor};
use candle_nn::{Init, VarBuilder};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    R2plus1dTiny,
    TsmTiny,
    AudioCnn,
    AvFusion,
}

/// How the audio-visual model combines its two halves.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FusionConfig {
    /// Weight of the video logits (1 − it for audio); 0.5 is the mean.
    pub video_weight: f64,
    /// Joint: one loss on the fused logits. Separate: each half is trained on its own logits.
    pub joint: bool,
    /// The video half.
    pub video: VideoBackbone,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VideoBackbone {
    R2plus1dTiny,
    TsmTiny,
}

impl Default for FusionConfig {
    fn default() -> Self {
        FusionConfig {
            video_weight: 0.5,
            joint: true,
            video: VideoBackbone::R2plus1dTiny,
        }
    }
}

/// PyTorch's default init for conv and linear layers: weight and bias uniform in ±1/√fan_in
/// (Kaiming-uniform with a = √5 for the weight).
pub fn kaiming(fan_in: usize) -> Init {
    let b = 1.0 / (fan_in as f64).sqrt();
    Init::Uniform { lo: -b, up: b }
}

/// Weights `[co, 3, 3, ci]` and biases of 3×3 conv blocks `(ci, co)`, named `blocks.{i}.conv`.
pub fn conv3x3_params(vb: &VarBuilder, blocks: &[(usize, usize)]) -> Result<Vec<(Tensor, Tensor)>> {
    blocks
        .iter()
        .enumerate()
        .map(|(i, &(ci, co))| {
            let b = vb.pp(format!("blocks.{i}.conv"));
            Ok((
                b.get_with_hints((co, 3, 3, ci), "weight", kaiming(9 * ci))?,
                b.get_with_hints(co, "bias", kaiming(9 * ci))?,
            ))
        })
        .collect()
}

/// A linear layer stored as `weight [out, in]`, `bias [out]`.
pub struct Dense {
    pub w: Tensor,
    pub b: Tensor,
}

impl Dense {
    pub fn new(vb: &VarBuilder, inp: usize, out: usize) -> Result<Dense> {
        Ok(Dense {
            w: vb.get_with_hints((out, inp), "weight", kaiming(inp))?,
            b: vb.get_with_hints(out, "bias", kaiming(inp))?,
        })
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.matmul(&self.w.t()?)?.broadcast_add(&self.b)
    }
}

/// Whether the fused CPU ops apply on this device.
pub fn fused(dev: &Device) -> bool {
    dev.is_cpu()
}

/// A model ready to run.
pub enum Model {
    R2plus1d(r2plus1d::R2Plus1dTiny),
    Tsm(tsm::TsmTiny),
    Audio(audio::AudioCnn),
    Fusion {
        video: Box<Model>,
        audio: audio::AudioCnn,
        config: FusionConfig,
    },
}

/// What the model returns: the logits it is judged by, and (separate fusion training) the
/// logits of each half.
pub struct Output {
    pub logits: Tensor,
    pub parts: Option<(Tensor, Tensor)>,
}

impl Model {
    pub fn new(
        kind: ModelKind,
        fusion: FusionConfig,
        classes: usize,
        vb: VarBuilder,
    ) -> Result<Model> {
        Ok(match kind {
            ModelKind::R2plus1dTiny => {
                Model::R2plus1d(r2plus1d::R2Plus1dTiny::new(vb.pp("video"), classes)?)
            }
            ModelKind::TsmTiny => Model::Tsm(tsm::TsmTiny::new(vb.pp("video"), classes)?),
            ModelKind::AudioCnn => Model::Audio(audio::AudioCnn::new(vb.pp("audio"), classes)?),
            ModelKind::AvFusion => {
                let video = match fusion.video {
                    VideoBackbone::R2plus1dTiny => {
                        Model::R2plus1d(r2plus1d::R2Plus1dTiny::new(vb.pp("video"), classes)?)
                    }
                    VideoBackbone::TsmTiny => {
                        Model::Tsm(tsm::TsmTiny::new(vb.pp("video"), classes)?)
                    }
                };
                Model::Fusion {
                    video: Box::new(video),
                    audio: audio::AudioCnn::new(vb.pp("audio"), classes)?,
                    config: fusion,
                }
            }
        })
    }

    pub fn uses_video(&self) -> bool {
        !matches!(self, Model::Audio(_))
    }

    pub fn uses_audio(&self) -> bool {
        matches!(self, Model::Audio(_) | Model::Fusion { .. })
    }

    /// Logits for a batch. `video`/`audio` must be given for the halves the model has.
    pub fn forward(&self, video: Option<&Tensor>, audio: Option<&Tensor>) -> Result<Output> {
        let need = |t: Option<&Tensor>, what: &str| -> Result<Tensor> {
            t.cloned()
                .ok_or_else(|| candle_core::Error::Msg(format!("the model needs {what} input")))
        };
        Ok(match self {
            Model::R2plus1d(m) => Output {
                logits: m.forward(&need(video, "video")?)?,
                parts: None,
            },
            Model::Tsm(m) => Output {
                logits: m.forward(&need(video, "video")?)?,
                parts: None,
            },
            Model::Audio(m) => Output {
                logits: m.forward(&need(audio, "audio")?)?,
                parts: None,
            },
            Model::Fusion {
                video: v,
                audio: a,
                config,
            } => {
                let lv = v.forward(video, None)?.logits;
                let la = a.forward(&need(audio, "audio")?)?;
                let w = config.video_weight;
                let fused = ((&lv * w)? + (&la * (1.0 - w))?)?;
                Output {
                    logits: fused,
                    parts: (!config.joint).then_some((lv, la)),
                }
            }
        })
    }
}

impl Model {
    /// An `av_fusion` model's three answers for a batch — (video branch, audio branch, fused)
    /// logits — whether it was trained jointly or not; `None` for a single-modality model.
    pub fn branch_logits(
        &self,
        video: Option<&Tensor>,
        audio: Option<&Tensor>,
    ) -> Result<Option<(Tensor, Tensor, Tensor)>> {
        let Model::Fusion {
            video: v,
            audio: a,
            config,
        } = self
        else {
            return Ok(None);
        };
        let audio =
            audio.ok_or_else(|| candle_core::Error::Msg("the model needs audio input".into()))?;
        let lv = v.forward(video, None)?.logits;
        let la = a.forward(audio)?;
        let w = config.video_weight;
        let fused = ((&lv * w)? + (&la * (1.0 - w))?)?;
        Ok(Some((lv, la, fused)))
    }
}

/// Parameter count of a VarMap.
pub fn parameter_count(vm: &candle_nn::VarMap) -> usize {
    vm.all_vars().iter().map(|v| v.elem_count()).sum()
}

/// A fresh VarBuilder over `vm` on `dev`.
pub fn builder(vm: &candle_nn::VarMap, dev: &Device) -> VarBuilder<'static> {
    VarBuilder::from_varmap(vm, DType::F32, dev)
}
