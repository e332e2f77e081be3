//! `audio_cnn`: the log-mel spectrogram (`train::features`) as a one-channel image
//! `[B, frames, mels, 1]` through four 3×3 convs, stride 2, + bias, ReLU (1→16→32→64→64), global
//! average pool, linear 64 → classes.

use super::{Dense, conv3x3_params, fused};
use crate::train::ops::spatial::spatial_conv;
use candle_core::{Result, Tensor};
use candle_nn::VarBuilder;

pub const BLOCKS: [(usize, usize); 4] = [(1, 16), (16, 32), (32, 64), (64, 64)];

pub struct AudioCnn {
    pub convs: Vec<(Tensor, Tensor)>,
    pub fc: Dense,
}

impl AudioCnn {
    pub fn new(vb: VarBuilder, classes: usize) -> Result<Self> {
        let convs = conv3x3_params(&vb, &BLOCKS)?;
        Ok(AudioCnn {
            convs,
            fc: Dense::new(&vb.pp("fc"), 64, classes)?,
        })
    }

    /// `x [B, frames, mels, 1]` → logits.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut cur = x.contiguous()?;
        for (i, (wt, bias)) in self.convs.iter().enumerate() {
            cur = if fused(x.device()) {
                spatial_conv(&cur, wt, bias, 2, i > 0)?
            } else {
                let ws = wt.permute((0, 3, 1, 2))?.contiguous()?;
                cur.permute((0, 3, 1, 2))?
                    .contiguous()?
                    .conv2d(&ws, 1, 2, 1, 1)?
                    .broadcast_add(&bias.reshape((1, (), 1, 1))?)?
                    .relu()?
                    .permute((0, 2, 3, 1))?
                    .contiguous()?
            };
        }
        let (b, h, w, c) = cur.dims4()?;
        let pooled = cur.reshape((b, h * w, c))?.mean(1)?;
        self.fc.forward(&pooled)
    }
}
