//! `r2plus1d_tiny`, exactly: four (2+1)D blocks, each a 3×3 spatial conv (stride (ss, ss),
//! padding 1, + bias, ReLU) per frame then a 3-tap temporal conv (stride st, padding 1, + bias,
//! ReLU); channels/strides (3→16, ss 2, st 1), (16→32, 2, 2), (32→64, 2, 2), (64→128, 2, 2);
//! global average pool over T, H, W; linear 128 → classes. 164,250 parameters for 10 classes.
//!
//! Weights are stored channels-last: spatial `[Co, 3, 3, Ci]`, temporal `[Co, 3, Ci]`.

use super::{Dense, fused, kaiming};
use crate::train::ops::trunk::{Layer, LayerKind, trunk};
use candle_core::{D, Result, Tensor};
use candle_nn::VarBuilder;

pub const BLOCKS: [(usize, usize, usize, usize); 4] = [
    (3, 16, 2, 1),
    (16, 32, 2, 2),
    (32, 64, 2, 2),
    (64, 128, 2, 2),
];

pub struct Block {
    pub sw: Tensor,
    pub sb: Tensor,
    pub tw: Tensor,
    pub tb: Tensor,
    pub ss: usize,
    pub st: usize,
}

pub struct R2Plus1dTiny {
    pub blocks: Vec<Block>,
    pub fc: Dense,
}

impl R2Plus1dTiny {
    pub fn new(vb: VarBuilder, classes: usize) -> Result<Self> {
        let blocks = BLOCKS
            .iter()
            .enumerate()
            .map(|(i, &(ci, co, ss, st))| {
                let b = vb.pp(format!("blocks.{i}"));
                Ok(Block {
                    sw: b.pp("spatial").get_with_hints(
                        (co, 3, 3, ci),
                        "weight",
                        kaiming(9 * ci),
                    )?,
                    sb: b
                        .pp("spatial")
                        .get_with_hints(co, "bias", kaiming(9 * ci))?,
                    tw: b
                        .pp("temporal")
                        .get_with_hints((co, 3, co), "weight", kaiming(3 * co))?,
                    tb: b
                        .pp("temporal")
                        .get_with_hints(co, "bias", kaiming(3 * co))?,
                    ss,
                    st,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(R2Plus1dTiny {
            blocks,
            fc: Dense::new(&vb.pp("fc"), 128, classes)?,
        })
    }

    /// `x [B, T, H, W, 3]` → logits `[B, classes]`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        if fused(x.device()) {
            self.forward_fused(x)
        } else {
            self.forward_reference(x)
        }
    }

    /// The fused CPU path: the whole convolution stack and the pool as one op (see
    /// `ops::trunk`), fed the per-layer parameters concatenated.
    fn forward_fused(&self, x: &Tensor) -> Result<Tensor> {
        let mut ws = Vec::with_capacity(8);
        let mut bs = Vec::with_capacity(8);
        let mut layers = Vec::with_capacity(8);
        for blk in &self.blocks {
            let (co, ci) = (blk.sw.dims()[0], blk.sw.dims()[3]);
            ws.extend([blk.sw.flatten_all()?, blk.tw.flatten_all()?]);
            bs.extend([blk.sb.clone(), blk.tb.clone()]);
            layers.extend([
                Layer {
                    kind: LayerKind::Spatial,
                    stride: blk.ss,
                    ci,
                    co,
                },
                Layer {
                    kind: LayerKind::Temporal,
                    stride: blk.st,
                    ci: co,
                    co,
                },
            ]);
        }
        let pooled = trunk(x, &Tensor::cat(&ws, 0)?, &Tensor::cat(&bs, 0)?, &layers)?;
        self.fc.forward(&pooled)
    }

    /// The same network with candle's own convolutions (NCHW); any device.
    pub fn forward_reference(&self, x: &Tensor) -> Result<Tensor> {
        let (b, t, h, w, c) = x.dims5()?;
        // [B·T, C, H, W]
        let mut cur = x
            .reshape((b * t, h, w, c))?
            .permute((0, 3, 1, 2))?
            .contiguous()?;
        let mut t = t;
        for blk in &self.blocks {
            let ws = blk.sw.permute((0, 3, 1, 2))?.contiguous()?;
            cur = cur
                .conv2d(&ws, 1, blk.ss, 1, 1)?
                .broadcast_add(&blk.sb.reshape((1, (), 1, 1))?)?
                .relu()?;
            let (_, co, ho, wo) = cur.dims4()?;
            // [B, T, Co, S] → [B·S, Co, T]
            let seq = cur
                .reshape((b, t, co, ho * wo))?
                .permute((0, 3, 2, 1))?
                .reshape((b * ho * wo, co, t))?
                .contiguous()?;
            let wt = blk.tw.permute((0, 2, 1))?.contiguous()?;
            let y = seq
                .conv1d(&wt, 1, blk.st, 1, 1)?
                .broadcast_add(&blk.tb.reshape((1, (), 1))?)?
                .relu()?;
            t = y.dim(D::Minus1)?;
            cur = y
                .reshape((b, ho * wo, co, t))?
                .permute((0, 3, 2, 1))?
                .reshape((b * t, co, ho, wo))?
                .contiguous()?;
        }
        let (_, co, ho, wo) = cur.dims4()?;
        let pooled = cur.reshape((b, t, co, ho * wo))?.mean(3)?.mean(1)?;
        self.fc.forward(&pooled)
    }
}
