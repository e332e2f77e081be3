//! The convolution layers of the video and audio models as candle custom ops, channels-last and
//! fused with bias and ReLU, with their own backward passes on im2col + GEMM. candle's CPU conv
//! backward is slow (it goes through conv_transpose) and its conv1d weight gradient is wrong in
//! 0.11.1, so the CPU path uses these; other devices use candle's own convolutions (see
//! `models`), which also serve as the reference these are tested against.

pub mod shift;
pub mod spatial;
pub mod temporal;
pub mod trunk;

use candle_core::{CpuStorage, Layout, Result, Storage, Tensor};
use std::sync::Mutex;

/// Runs `f` on the f32 data of a CPU tensor in place (no copy; made contiguous first if it is not).
pub(crate) fn with_data<R>(t: &Tensor, f: impl FnOnce(&[f32]) -> Result<R>) -> Result<R> {
    let t = t.contiguous()?;
    let (storage, layout) = t.storage_and_layout();
    match &*storage {
        Storage::Cpu(cpu) => f(contiguous_slice(cpu, layout)?),
        _ => candle_core::bail!("the fused CPU ops need CPU tensors"),
    }
}

/// Large temporaries (im2col matrices, masked gradients) kept between training steps: the shapes
/// repeat every step, and fresh allocations of this size cost a page fault per 4 KiB each time.
static SCRATCH: Mutex<Vec<Vec<f32>>> = Mutex::new(Vec::new());
/// At most this many buffers are kept (a step of the largest model uses about a dozen).
const SCRATCH_KEEP: usize = 24;

/// A buffer of exactly `len` elements with unspecified contents (callers overwrite all of it).
pub(crate) fn scratch(len: usize) -> Vec<f32> {
    let found = SCRATCH.lock().ok().and_then(|mut pool| {
        let i = pool.iter().position(|v| v.len() == len)?;
        Some(pool.swap_remove(i))
    });
    found.unwrap_or_else(|| vec![0f32; len])
}

/// Gives a buffer back for reuse.
pub(crate) fn recycle(v: Vec<f32>) {
    if v.is_empty() {
        return;
    }
    if let Ok(mut pool) = SCRATCH.lock() {
        pool.push(v);
        if pool.len() > SCRATCH_KEEP {
            pool.remove(0);
        }
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

/// Adds equally long vectors in the order given.
pub(crate) fn sum_in_order(parts: Vec<Vec<f32>>, len: usize) -> Vec<f32> {
    let mut total = vec![0f32; len];
    for p in parts {
        total.iter_mut().zip(&p).for_each(|(x, y)| *x += y);
    }
    total
}

/// `y = max(y + b, 0)` over channels-last rows of `b.len()` channels.
pub(crate) fn add_bias_relu(y: &mut [f32], b: &[f32]) {
    for row in y.chunks_exact_mut(b.len()) {
        for (v, bb) in row.iter_mut().zip(b) {
            *v = (*v + bb).max(0.0);
        }
    }
}
