//! The convolution layers of the video and audio models as candle custom ops, channels-last and
//! fused with bias and ReLU, with their own backward passes on im2col + GEMM. candle's CPU conv
//! backward is slow (it goes through conv_transpose) and its conv1d weight gradient is wrong in
//! 0.11.1, so the CPU path uses these; other devices use candle's own convolutions (see
//! `models`), which also serve as the reference these are tested against.

pub mod shift;
pub mod spatial;
pub mod temporal;

use candle_core::{CpuStorage, Layout, Result, Storage, Tensor};

/// The f32 data of a contiguous CPU tensor, copied out.
pub(crate) fn cpu_vec(t: &Tensor) -> Result<Vec<f32>> {
    let t = t.contiguous()?;
    let (storage, layout) = t.storage_and_layout();
    match &*storage {
        Storage::Cpu(cpu) => Ok(contiguous_slice(cpu, layout)?.to_vec()),
        _ => candle_core::bail!("the fused CPU ops need CPU tensors"),
    }
}

/// The contiguous f32 slice a layout addresses.
pub(crate) fn contiguous_slice<'a>(s: &'a CpuStorage, l: &Layout) -> Result<&'a [f32]> {
    let data = s.as_slice::<f32>()?;
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&data[a..b]),
        None => candle_core::bail!("the fused CPU ops need contiguous inputs"),
    }
}

/// Threads for one large GEMM.
pub(crate) fn threads() -> usize {
    rayon::current_num_threads()
}

/// `g ⊙ (y > 0)`: the gradient through a fused ReLU, given the op's output.
pub(crate) fn relu_mask(g: &mut [f32], y: &[f32]) {
    for (gv, &yv) in g.iter_mut().zip(y) {
        if yv <= 0.0 {
            *gv = 0.0;
        }
    }
}

/// Column sums of a row-major `rows`×`cols` matrix (the bias gradient).
pub(crate) fn col_sums(g: &[f32], cols: usize) -> Vec<f32> {
    use rayon::prelude::*;
    let rows = g.len() / cols.max(1);
    let chunk = rows.div_ceil(threads().max(1) * 4).max(1) * cols;
    g.par_chunks(chunk)
        .map(|c| {
            let mut s = vec![0f32; cols];
            for row in c.chunks_exact(cols) {
                for (a, b) in s.iter_mut().zip(row) {
                    *a += b;
                }
            }
            s
        })
        .reduce(
            || vec![0f32; cols],
            |mut a, b| {
                a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
                a
            },
        )
}
