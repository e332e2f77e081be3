//! A whole stack of fused convolutions plus the global average pool as one op, so candle's
//! autograd sees a single node: `clips [B,T,H,W,C]` → `features [B,C']`.
//!
//! Chaining the per-layer ops through candle costs, in the backward pass, a zero tensor and an
//! addition the size of every activation (candle accumulates each input gradient into a fresh
//! zero tensor), which measured as much time as the convolutions themselves at 112×112. Here
//! the activations live in reused buffers and each layer's gradient feeds the next directly.
//! The weights and biases of all layers come in as two flat tensors (the model concatenates its
//! per-layer parameters, which keeps their names and lets their gradients flow back through
//! candle's cheap `cat` backward). The input is data: it gets no gradient.

use super::{contiguous_slice, recycle, scratch, spatial, temporal, with_data};
use candle_core::{CpuStorage, CustomOp3, Layout, Result, Shape, Tensor};
use rayon::prelude::*;
use std::sync::Mutex;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayerKind {
    /// 3×3 spatial convolution, stride (s, s), padding 1.
    Spatial,
    /// 3-tap temporal convolution, stride s, padding 1.
    Temporal,
}

/// One fused convolution + bias + ReLU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layer {
    pub kind: LayerKind,
    pub stride: usize,
    pub ci: usize,
    pub co: usize,
}

impl Layer {
    pub fn weight_len(&self) -> usize {
        match self.kind {
            LayerKind::Spatial => self.co * 9 * self.ci,
            LayerKind::Temporal => self.co * 3 * self.ci,
        }
    }

    fn output_dims(&self, dims: &[usize]) -> Vec<usize> {
        match self.kind {
            LayerKind::Spatial => spatial::output_dims(dims, self.co, self.stride),
            LayerKind::Temporal => temporal::output_dims(dims, self.co, self.stride),
        }
    }
}

/// Activations kept from the forward pass: the input shape of each layer and its output.
struct Saved {
    dims: Vec<Vec<usize>>,
    acts: Vec<Vec<f32>>,
}

pub struct Trunk {
    layers: Vec<Layer>,
    saved: Mutex<Option<Saved>>,
}

impl Drop for Trunk {
    /// A forward pass without a backward one (inference) leaves its activations: keep the
    /// buffers for reuse.
    fn drop(&mut self) {
        if let Some(s) = self.saved.get_mut().ok().and_then(Option::take) {
            s.acts.into_iter().for_each(recycle);
        }
    }
}

/// Runs `layers` over `x [B,T,H,W,C]` and averages the last activation over T, H and W:
/// `[B, C_last]`. `w` and `b` hold the layers' weights and biases, concatenated in order.
pub fn trunk(x: &Tensor, w: &Tensor, b: &Tensor, layers: &[Layer]) -> Result<Tensor> {
    x.contiguous()?.apply_op3(
        w,
        b,
        Trunk {
            layers: layers.to_vec(),
            saved: Mutex::new(None),
        },
    )
}

impl Trunk {
    /// Offsets of each layer's weights and biases in the flat tensors.
    fn offsets(&self) -> Vec<(usize, usize)> {
        let (mut wo, mut bo) = (0, 0);
        self.layers
            .iter()
            .map(|l| {
                let o = (wo, bo);
                wo += l.weight_len();
                bo += l.co;
                o
            })
            .collect()
    }

    fn check(&self, dims: &[usize], wlen: usize, blen: usize) -> Result<()> {
        let wl: usize = self.layers.iter().map(Layer::weight_len).sum();
        let bl: usize = self.layers.iter().map(|l| l.co).sum();
        if dims.len() != 5 || wlen != wl || blen != bl {
            candle_core::bail!(
                "trunk: input {dims:?} (want [B,T,H,W,C]), {wlen} weights (want {wl}), {blen} biases (want {bl})"
            );
        }
        let mut c = dims[4];
        for (i, l) in self.layers.iter().enumerate() {
            if l.ci != c {
                candle_core::bail!("trunk: layer {i} takes {} channels but gets {c}", l.ci);
            }
            c = l.co;
        }
        Ok(())
    }
}

impl CustomOp3 for Trunk {
    fn name(&self) -> &'static str {
        "conv-trunk"
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
        self.check(xl.dims(), w.len(), b.len())?;
        let mut dims = vec![xl.dims().to_vec()];
        let mut acts: Vec<Vec<f32>> = Vec::with_capacity(self.layers.len());
        for (l, &(wo, bo)) in self.layers.iter().zip(&self.offsets()) {
            let d_in = dims.last().cloned().unwrap_or_default();
            let d_out = l.output_dims(&d_in);
            let mut y = scratch(d_out.iter().product());
            let input = acts.last().map_or(x, Vec::as_slice);
            let (lw, lb) = (&w[wo..wo + l.weight_len()], &b[bo..bo + l.co]);
            match l.kind {
                LayerKind::Spatial => spatial::forward(input, &d_in, lw, lb, l.stride, &mut y)?,
                LayerKind::Temporal => temporal::forward(input, &d_in, lw, lb, l.stride, &mut y)?,
            }
            acts.push(y);
            dims.push(d_out);
        }
        let last = dims.last().cloned().unwrap_or_default();
        let (nb, c) = (last[0], last[4]);
        let per = last[1] * last[2] * last[3];
        let feats = acts.last().map_or(&[][..], Vec::as_slice);
        let pooled: Vec<f32> = (0..nb)
            .into_par_iter()
            .flat_map_iter(|bi| {
                let mut s = vec![0f32; c];
                for row in feats[bi * per * c..(bi + 1) * per * c].chunks_exact(c) {
                    s.iter_mut().zip(row).for_each(|(a, v)| *a += v);
                }
                s.into_iter().map(move |v| v / per as f32)
            })
            .collect();
        dims.pop();
        if let Ok(mut s) = self.saved.lock()
            && let Some(old) = s.replace(Saved { dims, acts })
        {
            old.acts.into_iter().for_each(recycle);
        }
        Ok((CpuStorage::F32(pooled), Shape::from((nb, c))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        b: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let Some(Saved { dims, acts }) = self.saved.lock().ok().and_then(|mut s| s.take()) else {
            candle_core::bail!("trunk: backward called twice or without a forward pass")
        };
        let dev = grad.device().clone();
        let mut dw_all = vec![0f32; w.elem_count()];
        let mut db_all = vec![0f32; b.elem_count()];
        let offsets = self.offsets();
        with_data(x, |xv| {
            with_data(w, |wv| {
                // The pool's gradient, spread evenly over T, H and W.
                let last = self.layers.last().map_or(0, |l| l.co);
                let out_len = acts.last().map_or(0, Vec::len);
                let nb = dims[0][0];
                let per = out_len / (nb * last.max(1)).max(1);
                let mut g = scratch(out_len);
                with_data(grad, |gv| {
                    g.par_chunks_mut(per * last)
                        .enumerate()
                        .for_each(|(bi, gb)| {
                            let src = &gv[bi * last..(bi + 1) * last];
                            for row in gb.chunks_exact_mut(last) {
                                for (o, s) in row.iter_mut().zip(src) {
                                    *o = s / per as f32;
                                }
                            }
                        });
                    Ok(())
                })?;
                for i in (0..self.layers.len()).rev() {
                    let l = self.layers[i];
                    let (wo, bo) = offsets[i];
                    let input = if i == 0 { xv } else { acts[i - 1].as_slice() };
                    let mut dx = (i > 0).then(|| scratch(input.len()));
                    let lw = &wv[wo..wo + l.weight_len()];
                    let (dw, db) = match l.kind {
                        LayerKind::Spatial => spatial::backward(
                            input,
                            &dims[i],
                            lw,
                            &acts[i],
                            &g,
                            l.co,
                            l.stride,
                            dx.as_deref_mut(),
                        )?,
                        LayerKind::Temporal => temporal::backward(
                            input,
                            &dims[i],
                            lw,
                            &acts[i],
                            &g,
                            l.co,
                            l.stride,
                            dx.as_deref_mut(),
                        )?,
                    };
                    dw_all[wo..wo + dw.len()].copy_from_slice(&dw);
                    db_all[bo..bo + db.len()].copy_from_slice(&db);
                    recycle(std::mem::replace(&mut g, dx.unwrap_or_default()));
                }
                recycle(g);
                Ok(())
            })
        })?;
        acts.into_iter().for_each(recycle);
        Ok((
            None,
            Some(Tensor::from_vec(dw_all, w.shape(), &dev)?),
            Some(Tensor::from_vec(db_all, b.shape(), &dev)?),
        ))
    }
}
