//! 3×3 spatial convolution, padding 1, stride s, channels-last (`[N, H, W, Ci]`), fused with
//! bias and ReLU: `y = relu(conv(x, w) + b)`. Weights are `[Co, 3, 3, Ci]`.
//!
//! Forward: im2col (`P`, one row of 9·Ci values per output pixel) then `y = P · Wᵀ`.
//! Backward: `g ← g ⊙ (y > 0)`, `db = Σ g`, `dW = gᵀ · P`, and (unless the input is data)
//! `dP = g · W` scattered back into `dx` (col2im). `P` is kept from the forward pass.

use super::{col_sums, contiguous_slice, cpu_vec, relu_mask, threads};
use crate::train::gemm::{MatMut, MatRef, matmul};
use candle_core::{CpuStorage, CustomOp3, Layout, Result, Shape, Tensor};
use rayon::prelude::*;
use std::sync::Mutex;

pub struct SpatialConv {
    pub stride: usize,
    /// False for the first layer: its input is data and needs no gradient.
    pub input_grad: bool,
    /// (x shape, im2col matrix) kept for the backward pass.
    saved: Mutex<Option<([usize; 4], Vec<f32>)>>,
}

impl SpatialConv {
    pub fn new(stride: usize, input_grad: bool) -> Self {
        SpatialConv {
            stride,
            input_grad,
            saved: Mutex::new(None),
        }
    }

    fn out_hw(&self, h: usize, w: usize) -> (usize, usize) {
        ((h - 1) / self.stride + 1, (w - 1) / self.stride + 1)
    }
}

/// Applies the fused op: `x [N,H,W,Ci]`, `w [Co,3,3,Ci]`, `b [Co]` → `[N,Ho,Wo,Co]`.
pub fn spatial_conv(
    x: &Tensor,
    w: &Tensor,
    b: &Tensor,
    stride: usize,
    input_grad: bool,
) -> Result<Tensor> {
    x.contiguous()?
        .apply_op3(w, b, SpatialConv::new(stride, input_grad))
}

/// im2col for a batch: `P[(n, oh, ow), (kh, kw, ci)]`.
pub fn im2col(x: &[f32], [n, h, w, ci]: [usize; 4], stride: usize) -> (Vec<f32>, usize, usize) {
    let (ho, wo) = ((h - 1) / stride + 1, (w - 1) / stride + 1);
    let k = 9 * ci;
    let mut p = vec![0f32; n * ho * wo * k];
    p.par_chunks_mut(ho * wo * k)
        .enumerate()
        .for_each(|(img, pm)| {
            let xi = &x[img * h * w * ci..(img + 1) * h * w * ci];
            for oh in 0..ho {
                for ow in 0..wo {
                    let row = &mut pm[(oh * wo + ow) * k..(oh * wo + ow + 1) * k];
                    for kh in 0..3 {
                        let ih = (oh * stride + kh) as isize - 1;
                        if ih < 0 || ih >= h as isize {
                            continue;
                        }
                        for kw in 0..3 {
                            let iw = (ow * stride + kw) as isize - 1;
                            if iw < 0 || iw >= w as isize {
                                continue;
                            }
                            let src = (ih as usize * w + iw as usize) * ci;
                            row[(kh * 3 + kw) * ci..(kh * 3 + kw + 1) * ci]
                                .copy_from_slice(&xi[src..src + ci]);
                        }
                    }
                }
            }
        });
    (p, ho, wo)
}

/// col2im: adds `dP` back into `dx` (`[N,H,W,Ci]`).
fn col2im(dp: &[f32], [n, h, w, ci]: [usize; 4], stride: usize) -> Vec<f32> {
    let (ho, wo) = ((h - 1) / stride + 1, (w - 1) / stride + 1);
    let k = 9 * ci;
    let mut dx = vec![0f32; n * h * w * ci];
    dx.par_chunks_mut(h * w * ci)
        .enumerate()
        .for_each(|(img, dxi)| {
            let pm = &dp[img * ho * wo * k..(img + 1) * ho * wo * k];
            for oh in 0..ho {
                for ow in 0..wo {
                    let row = &pm[(oh * wo + ow) * k..(oh * wo + ow + 1) * k];
                    for kh in 0..3 {
                        let ih = (oh * stride + kh) as isize - 1;
                        if ih < 0 || ih >= h as isize {
                            continue;
                        }
                        for kw in 0..3 {
                            let iw = (ow * stride + kw) as isize - 1;
                            if iw < 0 || iw >= w as isize {
                                continue;
                            }
                            let dst = &mut dxi[(ih as usize * w + iw as usize) * ci..][..ci];
                            for (d, s) in dst
                                .iter_mut()
                                .zip(&row[(kh * 3 + kw) * ci..(kh * 3 + kw + 1) * ci])
                            {
                                *d += s;
                            }
                        }
                    }
                }
            }
        });
    dx
}

impl CustomOp3 for SpatialConv {
    fn name(&self) -> &'static str {
        "spatial-conv3x3-bias-relu"
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xl: &Layout,
        ws: &CpuStorage,
        wl: &Layout,
        bs: &CpuStorage,
        bl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let x = contiguous_slice(xs, xl)?;
        let w = contiguous_slice(ws, wl)?;
        let b = contiguous_slice(bs, bl)?;
        let &[n, h, wd, ci] = xl.dims() else {
            candle_core::bail!("spatial conv input must be [N,H,W,C], got {:?}", xl.dims())
        };
        let &[co, 3, 3, wci] = wl.dims() else {
            candle_core::bail!(
                "spatial conv weight must be [Co,3,3,Ci], got {:?}",
                wl.dims()
            )
        };
        if wci != ci || b.len() != co {
            candle_core::bail!(
                "spatial conv: input has {ci} channels, weight {wci}, bias {}",
                b.len()
            );
        }
        let (p, ho, wo) = im2col(x, [n, h, wd, ci], self.stride);
        let m = n * ho * wo;
        let k = 9 * ci;
        let mut y = vec![0f32; m * co];
        matmul(
            MatMut::row_major(&mut y, m, co),
            false,
            MatRef::row_major(&p, m, k),
            MatRef::row_major(w, co, k).t(),
            threads(),
        );
        y.par_chunks_mut(co * 64).for_each(|rows| {
            for row in rows.chunks_exact_mut(co) {
                for (v, bb) in row.iter_mut().zip(b) {
                    *v = (*v + bb).max(0.0);
                }
            }
        });
        if let Ok(mut s) = self.saved.lock() {
            *s = Some(([n, h, wd, ci], p));
        }
        Ok((CpuStorage::F32(y), Shape::from((n, ho, wo, co))))
    }

    fn bwd(
        &self,
        _x: &Tensor,
        w: &Tensor,
        _b: &Tensor,
        y: &Tensor,
        g: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let Some((xdims, p)) = self.saved.lock().ok().and_then(|mut s| s.take()) else {
            candle_core::bail!("spatial conv: backward called twice or without a forward pass")
        };
        let dev = g.device().clone();
        let co = w.dims()[0];
        let k = 9 * xdims[3];
        let wv = cpu_vec(w)?;
        let yv = cpu_vec(y)?;
        let mut gv = cpu_vec(g)?;
        relu_mask(&mut gv, &yv);
        let m = gv.len() / co;
        let db = col_sums(&gv, co);
        let mut dw = vec![0f32; co * k];
        matmul(
            MatMut::row_major(&mut dw, co, k),
            false,
            MatRef::row_major(&gv, m, co).t(),
            MatRef::row_major(&p, m, k),
            threads(),
        );
        let dx = if self.input_grad {
            let mut dp = p; // reuse the buffer: P is not needed any more
            matmul(
                MatMut::row_major(&mut dp, m, k),
                false,
                MatRef::row_major(&gv, m, co),
                MatRef::row_major(&wv, co, k),
                threads(),
            );
            Some(Tensor::from_vec(
                col2im(&dp, xdims, self.stride),
                xdims.to_vec(),
                &dev,
            )?)
        } else {
            None
        };
        Ok((
            dx,
            Some(Tensor::from_vec(dw, w.dims().to_vec(), &dev)?),
            Some(Tensor::from_vec(db, co, &dev)?),
        ))
    }
}

impl SpatialConv {
    /// Output spatial size for an input of `h`×`w` (for model bookkeeping).
    pub fn output_hw(stride: usize, h: usize, w: usize) -> (usize, usize) {
        SpatialConv::new(stride, false).out_hw(h, w)
    }
}
