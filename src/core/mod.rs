//! Pure domain logic, the single source of truth for everything TriggerLab computes.
//!
//! Belongs here: clip and frame types, rational time, trigger specs and their math (visual,
//! natural, audio), temporal placement, poisoning plans, metrics (CA, ASR, PSNR/SSIM),
//! experiment specs (serde), and procedural generators such as the demo clip.
//!
//! Never here: egui, wgpu, ffmpeg, cpal, candle, threads or file I/O. Those live in the layers
//! above and call into `core`; `tests/architecture.rs` enforces it. (Data parallelism with rayon
//! is used for speed; rayon's pool is not threads this layer manages.) Files a spec refers to
//! reach `core` through [`assets::AssetLoader`], implemented by `media`.

pub mod assets;
pub mod attack;
pub mod audio_trigger;
pub mod clip;
pub mod demo;
pub mod design;
pub mod experiment;
pub mod media_info;
pub mod metrics;
pub mod paint;
pub mod placement;
pub mod poison;
pub mod presets;
pub mod report;
pub mod rng;
pub mod run_form;
pub mod spec_error;
pub mod spectrogram;
pub mod sweep;
pub mod synth;
pub mod time;
pub mod trigger;

pub use attack::{AttackSpec, Poisoned, PreparedAttack, apply_clip, apply_image};
pub use clip::{AudioBuffer, Clip, ClipError, Frame};
pub use spec_error::SpecError;
pub use time::Rational;
