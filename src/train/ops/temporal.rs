//! Temporal convolution, 3 taps, padding 1, stride st, on channels-last video
//! `[B, T, S, Ci]` (or `[B, T, H, W, Ci]`, S = H·W), fused with bias and ReLU. Weights are
//! `[Co, 3, Ci]`.
//!
//! Each output frame is three accumulating GEMMs on the input frames directly (no im2col copy):
//! `y[b,t] = Σₖ x[b, t·st + k − 1] · Wₖᵀ`. Backward mirrors it: `dWₖ += gᵀ·x` (one partial per
//! clip, added in clip order, so results do not depend on the thread count) and `dx`, gathered
//! per input frame from the output frames that read it.

use super::{add_bias_relu, contiguous_slice, recycle, scratch, sum_in_order, with_data};
use crate::train::gemm::{MatMut, MatRef, matmul};
use candle_core::{CpuStorage, CustomOp3, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

pub struct TemporalConv {
    pub stride: usize,
}

/// Applies the fused op: `x [B,T,S,Ci]` (or `[B,T,H,W,Ci]`), `w [Co,3,Ci]`, `b [Co]` →
/// `[B,To,S,Co]` (or `[B,To,H,W,Co]`).
pub fn temporal_conv(x: &Tensor, w: &Tensor, b: &Tensor, stride: usize) -> Result<Tensor> {
    x.contiguous()?.apply_op3(w, b, TemporalConv { stride })
}

/// (B, T, S, C) of a `[B,T,S,C]` or `[B,T,H,W,C]` shape (S = H·W).
pub(crate) fn split_dims(d: &[usize]) -> Option<(usize, usize, usize, usize)> {
    match *d {
        [b, t, s, c] => Some((b, t, s, c)),
        [b, t, h, w, c] => Some((b, t, h * w, c)),
        _ => None,
    }
}

/// Output frames for `t` input frames.
pub(crate) fn out_frames(t: usize, stride: usize) -> usize {
    (t - 1) / stride + 1
}

/// Output shape: T becomes To and the channels become `co`.
pub(crate) fn output_dims(dims: &[usize], co: usize, stride: usize) -> Vec<usize> {
    let mut out = dims.to_vec();
    out[1] = out_frames(dims[1], stride);
    if let Some(last) = out.last_mut() {
        *last = co;
    }
    out
}

/// The input frame that tap `k` of output frame `to` reads, if inside the clip.
fn tap(to: usize, k: usize, stride: usize, t: usize) -> Option<usize> {
    let ti = (to * stride + k) as isize - 1;
    (ti >= 0 && (ti as usize) < t).then_some(ti as usize)
}

/// Forward kernel (every element of `y` written).
pub(crate) fn forward(
    x: &[f32],
    dims: &[usize],
    w: &[f32],
    b: &[f32],
    st: usize,
    y: &mut [f32],
) -> Result<()> {
    let Some((nb, t, s, ci)) = split_dims(dims) else {
        candle_core::bail!("temporal conv input must be [B,T,S,C] or [B,T,H,W,C], got {dims:?}")
    };
    let co = b.len();
    let to_n = out_frames(t, st);
    if w.len() != co * 3 * ci || x.len() != nb * t * s * ci || y.len() != nb * to_n * s * co {
        candle_core::bail!("temporal conv: sizes do not match the shape {dims:?} and {co} outputs");
    }
    y.par_chunks_mut(s * co).enumerate().for_each(|(bt, yf)| {
        let (bi, to) = (bt / to_n, bt % to_n);
        let mut first = true;
        for k in 0..3 {
            let Some(ti) = tap(to, k, st, t) else {
                continue;
            };
            let xf = &x[((bi * t + ti) * s) * ci..((bi * t + ti + 1) * s) * ci];
            // Wₖ is [Co, Ci] with row stride 3·Ci inside w; we need Wₖᵀ.
            let wk = MatRef::strided(&w[k * ci..], co, ci, 3 * ci, 1).t();
            matmul(
                MatMut::row_major(yf, s, co),
                !first,
                MatRef::row_major(xf, s, ci),
                wk,
                1,
            );
            first = false;
        }
        if first {
            yf.fill(0.0);
        }
        add_bias_relu(yf, b);
    });
    Ok(())
}

/// Backward kernel: returns (dW, db); writes dx into `dx` when given (every element written).
#[allow(clippy::too_many_arguments)]
pub(crate) fn backward(
    x: &[f32],
    dims: &[usize],
    w: &[f32],
    y: &[f32],
    grad: &[f32],
    co: usize,
    st: usize,
    dx: Option<&mut [f32]>,
) -> Result<(Vec<f32>, Vec<f32>)> {
    let Some((nb, t, s, ci)) = split_dims(dims) else {
        candle_core::bail!("temporal conv backward: bad input shape {dims:?}")
    };
    let to_n = out_frames(t, st);
    let out_len = nb * to_n * s * co;
    if w.len() != co * 3 * ci
        || x.len() != nb * t * s * ci
        || y.len() != out_len
        || grad.len() != out_len
    {
        candle_core::bail!("temporal conv backward: sizes do not match the shape {dims:?}");
    }
    // g ⊙ (y > 0), and db, per output frame; db partials are added in frame order.
    let mut gm = scratch(out_len);
    let dbs: Vec<Vec<f32>> = gm
        .par_chunks_mut(s * co)
        .zip(grad.par_chunks(s * co).zip(y.par_chunks(s * co)))
        .map(|(m, (gf, yf))| {
            let mut db = vec![0f32; co];
            for ((mr, gr), yr) in m
                .chunks_exact_mut(co)
                .zip(gf.chunks_exact(co))
                .zip(yf.chunks_exact(co))
            {
                for (((mv, &gv), &yv), d) in mr.iter_mut().zip(gr).zip(yr).zip(db.iter_mut()) {
                    *mv = if yv > 0.0 { gv } else { 0.0 };
                    *d += *mv;
                }
            }
            db
        })
        .collect();
    let db = sum_in_order(dbs, co);
    // dW: one partial per clip.
    let partials: Vec<Vec<f32>> = (0..nb)
        .into_par_iter()
        .map(|bi| {
            let mut dwb = vec![0f32; co * 3 * ci];
            for to in 0..to_n {
                let gf = &gm[((bi * to_n + to) * s) * co..((bi * to_n + to + 1) * s) * co];
                for k in 0..3 {
                    let Some(ti) = tap(to, k, st, t) else {
                        continue;
                    };
                    let xf = &x[((bi * t + ti) * s) * ci..((bi * t + ti + 1) * s) * ci];
                    // dWₖ (Co×Ci, row stride 3·Ci) += gᵀ (Co×S) · x (S×Ci)
                    let dwk = MatMut::strided(&mut dwb[k * ci..], co, ci, 3 * ci, 1);
                    matmul(
                        dwk,
                        true,
                        MatRef::row_major(gf, s, co).t(),
                        MatRef::row_major(xf, s, ci),
                        1,
                    );
                }
            }
            dwb
        })
        .collect();
    let dw = sum_in_order(partials, co * 3 * ci);
    if let Some(dx) = dx {
        if dx.len() != x.len() {
            candle_core::bail!("temporal conv backward: dx has the wrong size");
        }
        dx.par_chunks_mut(s * ci).enumerate().for_each(|(bt, dxf)| {
            let (bi, ti) = (bt / t, bt % t);
            let mut first = true;
            for k in 0..3 {
                let a = ti as isize + 1 - k as isize;
                if a < 0 || !(a as usize).is_multiple_of(st) || a as usize / st >= to_n {
                    continue;
                }
                let to = a as usize / st;
                let gf = &gm[((bi * to_n + to) * s) * co..((bi * to_n + to + 1) * s) * co];
                let wk = MatRef::strided(&w[k * ci..], co, ci, 3 * ci, 1);
                matmul(
                    MatMut::row_major(dxf, s, ci),
                    !first,
                    MatRef::row_major(gf, s, co),
                    wk,
                    1,
                );
                first = false;
            }
            if first {
                dxf.fill(0.0);
            }
        });
    }
    recycle(gm);
    Ok((dw, db))
}

impl CustomOp3 for TemporalConv {
    fn name(&self) -> &'static str {
        "temporal-conv3-bias-relu"
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
        let dims = xl.dims();
        let &[co, 3, wci] = wl.dims() else {
            candle_core::bail!(
                "temporal conv weight must be [Co,3,Ci], got {:?}",
                wl.dims()
            )
        };
        if split_dims(dims).is_none_or(|d| d.3 != wci) || b.len() != co {
            candle_core::bail!(
                "temporal conv: input {dims:?}, weight {:?}, bias {}",
                wl.dims(),
                b.len()
            );
        }
        let out = output_dims(dims, co, self.stride);
        let mut y = vec![0f32; out.iter().product()];
        forward(x, dims, w, b, self.stride, &mut y)?;
        Ok((CpuStorage::F32(y), Shape::from(out)))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _b: &Tensor,
        y: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let dev = grad.device().clone();
        let co = w.dims()[0];
        let mut dx = vec![0f32; x.elem_count()];
        let (dw, db) = with_data(x, |xv| {
            with_data(w, |wv| {
                with_data(y, |yv| {
                    with_data(grad, |gv| {
                        backward(xv, x.dims(), wv, yv, gv, co, self.stride, Some(&mut dx))
                    })
                })
            })
        })?;
        Ok((
            Some(Tensor::from_vec(dx, x.shape(), &dev)?),
            Some(Tensor::from_vec(dw, w.dims().to_vec(), &dev)?),
            Some(Tensor::from_vec(db, co, &dev)?),
        ))
    }
}
