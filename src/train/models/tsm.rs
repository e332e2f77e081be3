//! `tsm_tiny`: a small 2-D CNN over frames with a temporal shift (1/8 of the channels shifted
//! forward, 1/8 backward) before each block that has at least 8 input channels; blocks are 3×3
//! convs, stride 2, + bias, ReLU: (3→16), (16→32), (32→64), (64→128); global average pool over
//! time and space; linear 128 → classes.

use super::{Dense, conv3x3_params, fused};
use crate::train::ops::shift::temporal_shift;
use crate::train::ops::spatial::{SpatialConv, spatial_conv};
use candle_core::{Result, Tensor};
use candle_nn::VarBuilder;

pub const BLOCKS: [(usize, usize); 4] = [(3, 16), (16, 32), (32, 64), (64, 128)];

pub struct TsmTiny {
    pub convs: Vec<(Tensor, Tensor)>,
    pub fc: Dense,
}

impl TsmTiny {
    pub fn new(vb: VarBuilder, classes: usize) -> Result<Self> {
        let convs = conv3x3_params(&vb, &BLOCKS)?;
        Ok(TsmTiny {
            convs,
            fc: Dense::new(&vb.pp("fc"), 128, classes)?,
        })
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (b, t, h, w, c) = x.dims5()?;
        let (mut h, mut w, mut c) = (h, w, c);
        let mut cur = x.reshape((b * t, h, w, c))?;
        for (i, (wt, bias)) in self.convs.iter().enumerate() {
            if c >= 8 {
                cur = temporal_shift(&cur.reshape((b, t, h * w, c))?)?.reshape((b * t, h, w, c))?;
            }
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
            (h, w) = SpatialConv::output_hw(2, h, w);
            c = wt.dims()[0];
        }
        let pooled = cur.reshape((b, t * h * w, c))?.mean(1)?;
        self.fc.forward(&pooled)
    }
}
