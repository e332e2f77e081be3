//! What a video file holds, as the probe found it: plain data the studio shows, filled by
//! `media::probe`.

use super::Rational;
use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AudioInfo {
    pub sample_rate_hz: u32,
    pub channels: u16,
    pub codec: String,
}

/// Where a frame count came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FrameCountSource {
    /// The container's index, checked against the packets actually present.
    Container,
    /// The container does not know; every frame was decoded and counted.
    Counted,
    /// The container declared `declared` frames, but its packets disagree without any read
    /// error (e.g. empty index entries); every frame was decoded and counted.
    CountedContainerDisagrees { declared: u64 },
}

#[derive(Clone, Debug, PartialEq)]
pub struct MediaInfo {
    pub width: u32,
    pub height: u32,
    pub fps: Rational,
    pub frames: u64,
    pub frames_source: FrameCountSource,
    pub duration_secs: f64,
    pub video_codec: String,
    pub video_codec_long: String,
    pub audio: Option<AudioInfo>,
}
