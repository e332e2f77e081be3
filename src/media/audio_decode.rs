//! A file's whole audio track at its own sample rate and channel count.

use super::error::{MediaCause, MediaError};
use super::probe::probe_audio;
use super::reader::AudioReader;
use crate::core::AudioBuffer;
use std::path::Path;

pub fn decode_audio(path: &Path) -> Result<AudioBuffer, MediaError> {
    let none = || MediaError::new(path, MediaCause::Decode("no audio stream".into()));
    let (rate, channels) = probe_audio(path)?.ok_or_else(none)?;
    let mut reader = AudioReader::open(path, rate, channels)?.ok_or_else(none)?;
    let samples = reader.read_all()?;
    AudioBuffer::new(rate, channels, samples)
        .map_err(|e| MediaError::new(path, MediaCause::Decode(e.to_string())))
}
