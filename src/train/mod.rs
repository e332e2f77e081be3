//! Learning: candle models, batching `core` clips into tensors, the trainer, the evaluator and
//! checkpoints (safetensors). Depends only on `core`; runs on worker threads started by `jobs`, its
//! parallel work on its own rayon pool ([`pool`]).
//!
//! CPU by default; the `cuda` cargo feature adds candle's CUDA backend, and a CUDA request on a
//! machine without one falls back to the CPU with a reason instead of failing.

pub mod data;
pub mod dataset;
pub mod device;
pub mod features;
pub mod gemm;
pub mod models;
pub mod ops;
pub mod optim;
pub mod pool;
pub mod predict;
pub mod report;
pub mod trainer;
