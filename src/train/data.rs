//! Training data as the trainer sees it — labelled core clips (loaded by `train::dataset`, files
//! read through the media layer) — and batches of them as tensors: video `[B, T, S, S, 3]`
//! normalised with the Kinetics mean/std, audio as log-mel `[B, frames, mels, 1]`.

use super::features::MelConfig;
use crate::core::experiment::ExperimentSpec;
use crate::core::{AudioBuffer, Clip, Frame};
use candle_core::{Device, Result, Tensor};
use rayon::prelude::*;

/// Mean and standard deviation of Kinetics-400 frames (torchvision's video models).
pub const MEAN: [f32; 3] = [0.432_16, 0.394_666, 0.376_45];
pub const STD: [f32; 3] = [0.228_03, 0.221_45, 0.216_989];
/// Audio given to the audio model: this many seconds at 16 kHz mono (cut or zero-padded, not
/// stretched, so pitch contours stay as they are).
pub const AUDIO_SECS: f64 = 2.0;
pub const AUDIO_RATE: u32 = 16_000;

pub struct Sample {
    pub clip: Clip,
    pub label: usize,
    pub source: String,
}

pub struct Dataset {
    pub classes: Vec<String>,
    pub train: Vec<Sample>,
    pub test: Vec<Sample>,
    /// Files that could not be used, and why.
    pub skipped: Vec<(String, String)>,
}

/// Side of the clips as loaded: 1/8 larger than the model's input when random crops are on.
pub fn load_size(spec: &ExperimentSpec) -> u32 {
    let s = spec.dataset.size;
    if spec.augment.random_crop {
        s + s / 8
    } else {
        s
    }
}

/// `size`×`size` window of `frame` at (`x0`, `y0`) as normalised floats, appended to `out`.
fn push_crop(out: &mut Vec<f32>, frame: &Frame, x0: usize, y0: usize, size: usize, flip: bool) {
    let w = frame.width() as usize;
    let px = frame.rgb();
    for y in y0..y0 + size {
        for i in 0..size {
            let x = if flip { x0 + size - 1 - i } else { x0 + i };
            let p = &px[(y * w + x) * 3..(y * w + x) * 3 + 3];
            for c in 0..3 {
                out.push((f32::from(p[c]) / 255.0 - MEAN[c]) / STD[c]);
            }
        }
    }
}

/// Where to cut a clip: top-left corner and whether to flip.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct View {
    pub x0: usize,
    pub y0: usize,
    pub flip: bool,
}

/// The centre crop of a clip of side `load` down to `size`.
pub fn centre(load: usize, size: usize) -> View {
    let o = (load - size) / 2;
    View {
        x0: o,
        y0: o,
        flip: false,
    }
}

/// The audio the model hears: mono at 16 kHz, cut or zero-padded to [`AUDIO_SECS`].
pub fn audio_window(a: Option<&AudioBuffer>) -> Vec<f32> {
    let n = (AUDIO_SECS * f64::from(AUDIO_RATE)) as usize;
    let mut out = vec![0f32; n];
    if let Some(a) = a {
        let ch = usize::from(a.channels());
        let mono: Vec<f32> = a
            .samples()
            .chunks_exact(ch)
            .map(|f| f.iter().sum::<f32>() / ch as f32)
            .collect();
        let mono = if a.sample_rate_hz() == AUDIO_RATE {
            mono
        } else {
            crate::core::audio_trigger::resample_linear(&mono, a.sample_rate_hz(), AUDIO_RATE)
        };
        for (o, s) in out.iter_mut().zip(&mono) {
            *o = *s;
        }
    }
    out
}

/// A batch ready for the model.
pub struct Batch {
    pub video: Option<Tensor>,
    pub audio: Option<Tensor>,
    pub labels: Tensor,
    pub len: usize,
}

/// Builds a batch from clips, their views and labels.
pub fn make_batch(
    clips: &[(&Clip, View, usize)],
    size: usize,
    video: bool,
    audio: bool,
    mel: &MelConfig,
    dev: &Device,
) -> Result<Batch> {
    let b = clips.len();
    let t = clips.first().map_or(0, |c| c.0.frames().len());
    let v = if video {
        let parts: Vec<Vec<f32>> = clips
            .par_iter()
            .map(|(clip, view, _)| {
                let mut out = Vec::with_capacity(t * size * size * 3);
                for f in clip.frames() {
                    push_crop(&mut out, f, view.x0, view.y0, size, view.flip);
                }
                out
            })
            .collect();
        Some(Tensor::from_vec(
            parts.concat(),
            (b, t, size, size, 3),
            dev,
        )?)
    } else {
        None
    };
    let a = if audio {
        let frames = mel.frames((AUDIO_SECS * f64::from(AUDIO_RATE)) as usize);
        let parts: Vec<Vec<f32>> = clips
            .par_iter()
            .map(|(clip, _, _)| mel.log_mel(&audio_window(clip.audio())))
            .collect();
        Some(Tensor::from_vec(
            parts.concat(),
            (b, frames, mel.mels, 1),
            dev,
        )?)
    } else {
        None
    };
    let labels: Vec<u32> = clips.iter().map(|c| c.2 as u32).collect();
    Ok(Batch {
        video: v,
        audio: a,
        labels: Tensor::new(labels, dev)?,
        len: b,
    })
}
