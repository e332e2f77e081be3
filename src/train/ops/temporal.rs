//! Temporal convolution, 3 taps, padding 1, stride st, on channels-last video
//! `[B, T, S, Ci]` (S = H·W), fused with bias and ReLU. Weights are `[Co, 3, Ci]`.
//!
//! Each output frame is three accumulating GEMMs on the input frames directly (no im2col copy):
//! `y[b,t] = Σₖ x[b, t·st + k − 1] · Wₖᵀ`. Backward mirrors it: `dWₖ += gᵀ·x`, `dx += g·Wₖ`.

use super::{col_sums, contiguous_slice, cpu_vec, relu_mask};
use crate::train::gemm::{MatMut, MatRef, matmul};
use candle_core::{CpuStorage, CustomOp3, Layout, Result, Shape, Tensor};
use rayon::prelude::*;
use std::sync::Mutex;

pub struct TemporalConv {
    pub stride: usize,
    saved: Mutex<Option<Vec<f32>>>,
}

/// Applies the fused op: `x [B,T,S,Ci]`, `w [Co,3,Ci]`, `b [Co]` → `[B,To,S,Co]`.
pub fn temporal_conv(x: &Tensor, w: &Tensor, b: &Tensor, stride: usize) -> Result<Tensor> {
    x.contiguous()?.apply_op3(
        w,
        b,
        TemporalConv {
            stride,
            saved: Mutex::new(None),
        },
    )
}

/// The input frame that tap `k` of output frame `to` reads, if inside the clip.
fn tap(to: usize, k: usize, stride: usize, t: usize) -> Option<usize> {
    let ti = (to * stride + k) as isize - 1;
    (ti >= 0 && (ti as usize) < t).then_some(ti as usize)
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
        let &[nb, t, s, ci] = xl.dims() else {
            candle_core::bail!("temporal conv input must be [B,T,S,C], got {:?}", xl.dims())
        };
        let &[co, 3, wci] = wl.dims() else {
            candle_core::bail!(
                "temporal conv weight must be [Co,3,Ci], got {:?}",
                wl.dims()
            )
        };
        if wci != ci || b.len() != co {
            candle_core::bail!(
                "temporal conv: input has {ci} channels, weight {wci}, bias {}",
                b.len()
            );
        }
        let st = self.stride;
        let to_n = (t - 1) / st + 1;
        let mut y = vec![0f32; nb * to_n * s * co];
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
            for row in yf.chunks_exact_mut(co) {
                for (v, bb) in row.iter_mut().zip(b) {
                    *v = (*v + bb).max(0.0);
                }
            }
        });
        if let Ok(mut sv) = self.saved.lock() {
            *sv = Some(x.to_vec());
        }
        Ok((CpuStorage::F32(y), Shape::from((nb, to_n, s, co))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _b: &Tensor,
        y: &Tensor,
        g: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let Some(xv) = self.saved.lock().ok().and_then(|mut s| s.take()) else {
            candle_core::bail!("temporal conv: backward called twice or without a forward pass")
        };
        let dev = g.device().clone();
        let &[nb, t, s, ci] = x.dims() else {
            candle_core::bail!("temporal conv: bad input shape")
        };
        let co = w.dims()[0];
        let st = self.stride;
        let to_n = (t - 1) / st + 1;
        let wv = cpu_vec(w)?;
        let yv = cpu_vec(y)?;
        let mut gv = cpu_vec(g)?;
        relu_mask(&mut gv, &yv);
        let db = col_sums(&gv, co);
        // dW: one partial per clip, summed.
        let dw = (0..nb)
            .into_par_iter()
            .map(|bi| {
                let mut dwb = vec![0f32; co * 3 * ci];
                for to in 0..to_n {
                    let gf = &gv[((bi * to_n + to) * s) * co..((bi * to_n + to + 1) * s) * co];
                    for k in 0..3 {
                        let Some(ti) = tap(to, k, st, t) else {
                            continue;
                        };
                        let xf = &xv[((bi * t + ti) * s) * ci..((bi * t + ti + 1) * s) * ci];
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
            .reduce(
                || vec![0f32; co * 3 * ci],
                |mut a, b| {
                    a.iter_mut().zip(&b).for_each(|(p, q)| *p += q);
                    a
                },
            );
        // dx: clips are independent; within a clip, output frames share input frames.
        let mut dx = vec![0f32; nb * t * s * ci];
        dx.par_chunks_mut(t * s * ci)
            .enumerate()
            .for_each(|(bi, dxb)| {
                for to in 0..to_n {
                    let gf = &gv[((bi * to_n + to) * s) * co..((bi * to_n + to + 1) * s) * co];
                    for k in 0..3 {
                        let Some(ti) = tap(to, k, st, t) else {
                            continue;
                        };
                        let dxf = &mut dxb[ti * s * ci..(ti + 1) * s * ci];
                        let wk = MatRef::strided(&wv[k * ci..], co, ci, 3 * ci, 1);
                        matmul(
                            MatMut::row_major(dxf, s, ci),
                            true,
                            MatRef::row_major(gf, s, co),
                            wk,
                            1,
                        );
                    }
                }
            });
        Ok((
            Some(Tensor::from_vec(dx, x.dims().to_vec(), &dev)?),
            Some(Tensor::from_vec(dw, w.dims().to_vec(), &dev)?),
            Some(Tensor::from_vec(db, co, &dev)?),
        ))
    }
}
