//! 3×3 spatial convolution, padding 1, stride s, channels-last (`[N, H, W, Ci]`, or clips
//! `[B, T, H, W, Ci]` whose frames count as images), fused with bias and ReLU:
//! `y = relu(conv(x, w) + b)`. Weights are `[Co, 3, 3, Ci]`.
//!
//! Work goes in tiles of whole images, each small enough to stay in cache: im2col of the tile
//! (`P`, one row of 9·Ci values per output pixel), `y = P · Wᵀ`, bias and ReLU. The full `P` is
//! never materialised; the backward pass rebuilds each tile's `P` from `x` (cheaper than
//! writing and re-reading it through memory): `g ← g ⊙ (y > 0)`, `db = Σ g`, `dW = gᵀ · P`, and
//! (unless the input is data) `dP = g · W`, gathered back into `dx` (col2im). Tiles depend only
//! on the shapes and their partial sums are added in tile order, so results are the same bit for
//! bit on every run and thread count.

use super::{add_bias_relu, contiguous_slice, sum_in_order, with_data};
use crate::train::gemm::{MatMut, MatRef, matmul};
use candle_core::{CpuStorage, CustomOp3, Layout, Result, Shape, Tensor};
use rayon::prelude::*;
use std::cell::RefCell;

pub struct SpatialConv {
    pub stride: usize,
    /// False for the first layer: its input is data and needs no gradient.
    pub input_grad: bool,
}

impl SpatialConv {
    pub fn new(stride: usize, input_grad: bool) -> Self {
        SpatialConv { stride, input_grad }
    }

    /// Output spatial size for an input of `h`×`w`.
    pub fn output_hw(stride: usize, h: usize, w: usize) -> (usize, usize) {
        ((h - 1) / stride + 1, (w - 1) / stride + 1)
    }
}

/// Applies the fused op: `x [N,H,W,Ci]` (or `[B,T,H,W,Ci]`), `w [Co,3,3,Ci]`, `b [Co]` →
/// `[N,Ho,Wo,Co]` (or `[B,T,Ho,Wo,Co]`).
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

/// The geometry of one call.
#[derive(Clone, Copy, Debug)]
struct Geom {
    n: usize,
    h: usize,
    w: usize,
    ci: usize,
    ho: usize,
    wo: usize,
    stride: usize,
    /// Images per tile.
    per_tile: usize,
}

impl Geom {
    fn new(dims: &[usize], _co: usize, stride: usize) -> Result<Geom> {
        if dims.len() < 4 {
            candle_core::bail!("spatial conv input must be [N,H,W,C] or [B,T,H,W,C], got {dims:?}")
        }
        let r = dims.len();
        let n: usize = dims[..r - 3].iter().product();
        let (h, w, ci) = (dims[r - 3], dims[r - 2], dims[r - 1]);
        let (ho, wo) = SpatialConv::output_hw(stride, h, w);
        // About 2048 rows per tile (P of a tile then fits in L2), but at least 8 tiles when the
        // batch allows, so both cores have work. A function of the shape only.
        let rows = n * ho * wo;
        let target = (rows / 8).clamp(256, 2048);
        let per_tile = (target / (ho * wo)).clamp(1, n.max(1));
        Ok(Geom {
            n,
            h,
            w,
            ci,
            ho,
            wo,
            stride,
            per_tile,
        })
    }

    fn k(&self) -> usize {
        9 * self.ci
    }

    fn tiles(&self) -> usize {
        self.n.div_ceil(self.per_tile)
    }

    /// Images of tile `t`.
    fn images(&self, t: usize) -> std::ops::Range<usize> {
        t * self.per_tile..((t + 1) * self.per_tile).min(self.n)
    }
}

thread_local! {
    /// Per-thread tile buffers (P or dP, and the masked gradient), reused across calls.
    static TILE_P: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
    static TILE_G: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with this thread's buffer `which`, at least `len` long (contents unspecified).
fn with_tile<R>(
    which: &'static std::thread::LocalKey<RefCell<Vec<f32>>>,
    len: usize,
    f: impl FnOnce(&mut [f32]) -> R,
) -> R {
    which.with(|cell| {
        let mut buf = cell.borrow_mut();
        if buf.len() < len {
            buf.resize(len, 0.0);
        }
        f(&mut buf[..len])
    })
}

/// Copies a short run; runs of the first layer (3 channels) get fixed sizes, which the compiler
/// turns into a few moves instead of a `memcpy` call.
#[inline(always)]
fn copy_run(dst: &mut [f32], src: &[f32]) {
    match src.len() {
        3 => dst[..3].copy_from_slice(&src[..3]),
        6 => dst[..6].copy_from_slice(&src[..6]),
        9 => dst[..9].copy_from_slice(&src[..9]),
        _ => dst.copy_from_slice(src),
    }
}

/// im2col of the images `xs` (consecutive, each `h·w·ci`) into `p` (every element written):
/// `P[(img, oh, ow), (kh, kw, ci)]`.
fn im2col_into(p: &mut [f32], xs: &[f32], g: &Geom) {
    let (h, w, ci, stride) = (g.h, g.w, g.ci, g.stride);
    let k = g.k();
    for (xi, pm) in xs
        .chunks_exact(h * w * ci)
        .zip(p.chunks_exact_mut(g.ho * g.wo * k))
    {
        for oh in 0..g.ho {
            for ow in 0..g.wo {
                let row = &mut pm[(oh * g.wo + ow) * k..(oh * g.wo + ow + 1) * k];
                // The three taps of a kernel row are neighbours in x: one run per row.
                let iw0 = (ow * stride) as isize - 1;
                let lo = (-iw0).max(0) as usize;
                let hi = (w as isize - iw0).min(3) as usize;
                for kh in 0..3 {
                    let ih = (oh * stride + kh) as isize - 1;
                    let dst = &mut row[kh * 3 * ci..(kh + 1) * 3 * ci];
                    if ih < 0 || ih >= h as isize {
                        dst.fill(0.0);
                        continue;
                    }
                    dst[..lo * ci].fill(0.0);
                    dst[hi * ci..].fill(0.0);
                    let src = (ih as usize * w + (iw0 + lo as isize) as usize) * ci;
                    copy_run(&mut dst[lo * ci..hi * ci], &xi[src..src + (hi - lo) * ci]);
                }
            }
        }
    }
}

/// col2im of the images of one tile: `dx[img, ih, iw] = Σ dP[img, oh, ow, (kh, kw)]` over the
/// taps that read (ih, iw). Gathers per input pixel, so each element of `dx` is written once.
fn col2im_into(dx: &mut [f32], dp: &[f32], g: &Geom) {
    let (h, w, ci, stride) = (g.h, g.w, g.ci, g.stride);
    let k = g.k();
    // The output index that reads input index i through tap t, if any: i = o·stride + t − 1.
    let src = |i: usize, t: usize, on: usize| -> Option<usize> {
        let a = i as isize + 1 - t as isize;
        (a >= 0 && (a as usize).is_multiple_of(stride) && (a as usize / stride) < on)
            .then(|| a as usize / stride)
    };
    for (dxi, pm) in dx
        .chunks_exact_mut(h * w * ci)
        .zip(dp.chunks_exact(g.ho * g.wo * k))
    {
        for ih in 0..h {
            for iw in 0..w {
                let dst = &mut dxi[(ih * w + iw) * ci..(ih * w + iw + 1) * ci];
                let mut first = true;
                for kh in 0..3 {
                    let Some(oh) = src(ih, kh, g.ho) else {
                        continue;
                    };
                    for kw in 0..3 {
                        let Some(ow) = src(iw, kw, g.wo) else {
                            continue;
                        };
                        let from = &pm[(oh * g.wo + ow) * k + (kh * 3 + kw) * ci..][..ci];
                        if first {
                            dst.copy_from_slice(from);
                            first = false;
                        } else {
                            for (d, s) in dst.iter_mut().zip(from) {
                                *d += s;
                            }
                        }
                    }
                }
                if first {
                    dst.fill(0.0);
                }
            }
        }
    }
}

/// Forward kernel: `x` (images per `dims`) → `y` (`[.., Ho, Wo, Co]`, every element written).
pub(crate) fn forward(
    x: &[f32],
    dims: &[usize],
    w: &[f32],
    b: &[f32],
    stride: usize,
    y: &mut [f32],
) -> Result<()> {
    let co = b.len();
    let g = Geom::new(dims, co, stride)?;
    let (k, rows_img, img_in) = (g.k(), g.ho * g.wo, g.h * g.w * g.ci);
    if w.len() != co * k || x.len() != g.n * img_in || y.len() != g.n * rows_img * co {
        candle_core::bail!("spatial conv: sizes do not match the shape {dims:?} and {co} outputs");
    }
    y.par_chunks_mut(g.per_tile * rows_img * co)
        .enumerate()
        .for_each(|(t, yt)| {
            let imgs = g.images(t);
            let rows = imgs.len() * rows_img;
            with_tile(&TILE_P, rows * k, |p| {
                im2col_into(p, &x[imgs.start * img_in..imgs.end * img_in], &g);
                matmul(
                    MatMut::row_major(yt, rows, co),
                    false,
                    MatRef::row_major(p, rows, k),
                    MatRef::row_major(w, co, k).t(),
                    1,
                );
            });
            add_bias_relu(yt, b);
        });
    Ok(())
}

/// Backward kernel: given the input `x`, the output `y` and its gradient `grad`, returns
/// (dW, db) and writes dx into `dx` when given (every element written).
#[allow(clippy::too_many_arguments)]
pub(crate) fn backward(
    x: &[f32],
    dims: &[usize],
    w: &[f32],
    y: &[f32],
    grad: &[f32],
    co: usize,
    stride: usize,
    dx: Option<&mut [f32]>,
) -> Result<(Vec<f32>, Vec<f32>)> {
    let g = Geom::new(dims, co, stride)?;
    let (k, rows_img, img_in) = (g.k(), g.ho * g.wo, g.h * g.w * g.ci);
    let out_len = g.n * rows_img * co;
    if w.len() != co * k || x.len() != g.n * img_in || y.len() != out_len || grad.len() != out_len {
        candle_core::bail!("spatial conv backward: sizes do not match the shape {dims:?}");
    }
    // (dW, db) of tile t; its dx if `dxt` is given.
    let work = |t: usize, dxt: Option<&mut [f32]>| -> (Vec<f32>, Vec<f32>) {
        let imgs = g.images(t);
        let rows = imgs.len() * rows_img;
        let out = imgs.start * rows_img * co..imgs.end * rows_img * co;
        let (yt, gt) = (&y[out.clone()], &grad[out]);
        let mut dw = vec![0f32; co * k];
        let mut db = vec![0f32; co];
        with_tile(&TILE_G, rows * co, |gm| {
            for ((m, &gg), &yy) in gm.iter_mut().zip(gt).zip(yt) {
                *m = if yy > 0.0 { gg } else { 0.0 };
            }
            for row in gm.chunks_exact(co) {
                for (a, b) in db.iter_mut().zip(row) {
                    *a += b;
                }
            }
            with_tile(&TILE_P, rows * k, |p| {
                im2col_into(p, &x[imgs.start * img_in..imgs.end * img_in], &g);
                matmul(
                    MatMut::row_major(&mut dw, co, k),
                    false,
                    MatRef::row_major(gm, rows, co).t(),
                    MatRef::row_major(p, rows, k),
                    1,
                );
                if let Some(dxt) = dxt {
                    // P is spent: the buffer takes dP.
                    matmul(
                        MatMut::row_major(p, rows, k),
                        false,
                        MatRef::row_major(gm, rows, co),
                        MatRef::row_major(w, co, k),
                        1,
                    );
                    col2im_into(dxt, p, &g);
                }
            });
        });
        (dw, db)
    };
    let parts: Vec<(Vec<f32>, Vec<f32>)> = match dx {
        Some(dx) => {
            if dx.len() != x.len() {
                candle_core::bail!("spatial conv backward: dx has the wrong size");
            }
            dx.par_chunks_mut(g.per_tile * img_in)
                .enumerate()
                .map(|(t, dxt)| work(t, Some(dxt)))
                .collect()
        }
        None => (0..g.tiles())
            .into_par_iter()
            .map(|t| work(t, None))
            .collect(),
    };
    let (dws, dbs): (Vec<Vec<f32>>, Vec<Vec<f32>>) = parts.into_iter().unzip();
    Ok((sum_in_order(dws, co * k), sum_in_order(dbs, co)))
}

/// Output shape for an input shape: the last three dimensions become (Ho, Wo, Co).
pub(crate) fn output_dims(dims: &[usize], co: usize, stride: usize) -> Vec<usize> {
    let r = dims.len();
    let (ho, wo) = SpatialConv::output_hw(stride, dims[r - 3], dims[r - 2]);
    let mut out = dims[..r - 3].to_vec();
    out.extend([ho, wo, co]);
    out
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
        let dims = xl.dims();
        let &[co, 3, 3, wci] = wl.dims() else {
            candle_core::bail!(
                "spatial conv weight must be [Co,3,3,Ci], got {:?}",
                wl.dims()
            )
        };
        if dims.len() < 4 || wci != dims[dims.len() - 1] || b.len() != co {
            candle_core::bail!(
                "spatial conv: input {dims:?}, weight {:?}, bias {}",
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
        let mut dx = if self.input_grad {
            vec![0f32; x.elem_count()]
        } else {
            Vec::new()
        };
        let (dw, db) = with_data(x, |xv| {
            with_data(w, |wv| {
                with_data(y, |yv| {
                    with_data(grad, |gv| {
                        let dxs = self.input_grad.then_some(dx.as_mut_slice());
                        backward(xv, x.dims(), wv, yv, gv, co, self.stride, dxs)
                    })
                })
            })
        })?;
        let dx = if self.input_grad {
            Some(Tensor::from_vec(dx, x.shape(), &dev)?)
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
