//! Pure domain logic, the single source of truth for everything TriggerLab computes.
//!
//! Belongs here: clip and frame types, rational time, trigger specs and their math (visual,
//! natural, audio), temporal placement, poisoning plans, metrics (CA, ASR, PSNR/SSIM),
//! experiment specs (serde), and procedural generators such as the demo clip.
//!
//! Never here: egui, wgpu, ffmpeg, cpal, candle, threads or file I/O. Those live in the layers
//! above and call into `core`; `tests/architecture.rs` enforces it.

pub mod clip;
pub mod demo;
pub mod time;

pub use clip::{AudioBuffer, Clip, ClipError, Frame};
pub use time::Rational;
