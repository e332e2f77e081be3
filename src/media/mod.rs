//! Files and devices: everything that turns bytes on disk or sound hardware into `core` types.
//!
//! Belongs here: FFmpeg (ffmpeg-next) probing, decoding and encoding to and from `core::Clip`,
//! dataset folders, the on-disk clip cache, the procedural demo dataset writer, image files,
//! and cpal audio output. Depends only on `core`.
//!
//! Errors name the file and the cause in one line ([`MediaError`]); nothing here panics on bad
//! input, and files are written atomically (temp name, then rename).

pub mod assets;
pub mod audio_decode;
pub mod audio_out;
pub mod cache;
pub mod dataset;
pub mod decode;
pub mod encode;
mod error;
mod ffmpeg_log;
pub mod image_io;
pub mod probe;
pub mod reader;
pub mod survival;

pub use error::{MediaCause, MediaError};

use std::sync::Once;

/// Initialises FFmpeg once per process and routes its log into `tracing`.
pub fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        if let Err(e) = ffmpeg_next::init() {
            tracing::error!("FFmpeg failed to initialise: {e}");
        }
        ffmpeg_log::route_to_tracing();
    });
}
