//! The temporal shift of TSM (Lin et al. 2019) on channels-last video `[B, T, S, C]`: the first
//! `C/8` channels move one frame forward in time, the next `C/8` one frame back, the rest stay;
//! frames shifted in from outside the clip are zero. Its gradient is the opposite shift.

use super::contiguous_slice;
use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

pub struct TemporalShift {
    /// +1 shifts the first block forward (the forward op), −1 undoes it (the gradient).
    pub direction: i32,
}

pub fn temporal_shift(x: &Tensor) -> Result<Tensor> {
    x.contiguous()?.apply_op1(TemporalShift { direction: 1 })
}

/// Shifts `x` (`[B,T,S,C]`) in place into `out`.
pub fn shift(x: &[f32], out: &mut [f32], [_, t, s, c]: [usize; 4], direction: i32) {
    let fold = c / 8;
    out.par_chunks_mut(s * c).enumerate().for_each(|(bt, of)| {
        let (bi, ti) = (bt / t, bt % t);
        let frame = |d: isize| -> Option<&[f32]> {
            let src = ti as isize - d;
            (src >= 0 && (src as usize) < t).then(|| {
                &x[((bi * t + src as usize) * s) * c..((bi * t + src as usize + 1) * s) * c]
            })
        };
        let d = direction as isize;
        let (fwd, back, still) = (frame(d), frame(-d), frame(0));
        for p in 0..s {
            let o = &mut of[p * c..(p + 1) * c];
            for ch in 0..c {
                let srcf = if ch < fold {
                    fwd
                } else if ch < 2 * fold {
                    back
                } else {
                    still
                };
                o[ch] = srcf.map_or(0.0, |f| f[p * c + ch]);
            }
        }
    });
}

impl CustomOp1 for TemporalShift {
    fn name(&self) -> &'static str {
        "temporal-shift"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = contiguous_slice(s, l)?;
        let &[nb, t, sp, c] = l.dims() else {
            candle_core::bail!("temporal shift input must be [B,T,S,C], got {:?}", l.dims())
        };
        let mut out = vec![0f32; x.len()];
        shift(x, &mut out, [nb, t, sp, c], self.direction);
        Ok((CpuStorage::F32(out), l.shape().clone()))
    }

    fn bwd(&self, _arg: &Tensor, _res: &Tensor, g: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(g.contiguous()?.apply_op1(TemporalShift {
            direction: -self.direction,
        })?))
    }
}
