//! TriggerLab: a desktop studio for backdoor triggers on video action recognition.
//!
//! Layers, lowest first (`tests/architecture.rs` enforces that dependencies only point down):
//! `core` ← `media`, `train`, `gpu` ← `jobs` ← `ui` ← `app`; `cli` uses `core`, `media`,
//! `train` and `jobs`.

pub mod app;
pub mod cli;
pub mod core;
pub mod gpu;
pub mod jobs;
pub mod media;
pub mod train;
pub mod ui;
