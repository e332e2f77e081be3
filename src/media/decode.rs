//! Whole clips: frames sized and sampled as asked, with audio at a requested rate and channel
//! count, aligned so that audio sample 0 is at the time of frame 0.

use super::error::{MediaCause, MediaError};
use super::reader::{AudioReader, Rotation, SizeMode, VideoReader};
use crate::core::{AudioBuffer, Clip, Frame, Rational};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Which frames of the stream make the clip.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sampling {
    All,
    /// Every n-th frame (frame rate divided by n).
    Every {
        n: u32,
    },
    /// `frames` frames spread evenly over the clip (the frame nearest each slot centre).
    Uniform {
        frames: u32,
    },
    /// A constant rate: frames are dropped or repeated as FFmpeg's `fps` filter does, which also
    /// makes variable-frame-rate video regular.
    Fps {
        num: i64,
        den: i64,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AudioRequest {
    pub sample_rate_hz: u32,
    pub channels: u16,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DecodeRequest {
    pub size: SizeMode,
    pub sampling: Sampling,
    /// `None`: no audio decoded.
    pub audio: Option<AudioRequest>,
    /// Stop after this many output frames.
    pub max_frames: Option<u32>,
}

impl Default for DecodeRequest {
    fn default() -> Self {
        DecodeRequest {
            size: SizeMode::Native,
            sampling: Sampling::All,
            audio: None,
            max_frames: None,
        }
    }
}

/// A decoded clip and how it was read.
#[derive(Clone, Debug)]
pub struct Decoded {
    pub clip: Clip,
    /// Source time of each frame (seconds from the stream start).
    pub times: Vec<Rational>,
    pub rotation: Rotation,
    /// Set when the file ended early with a read error (damaged or truncated).
    pub warning: Option<String>,
}

/// Approximates `x` as a rational with a millisecond-scale denominator.
fn approx(x: f64) -> Option<Rational> {
    Rational::new((x * 1_000_000.0).round() as i64, 1_000_000)
}

/// Decodes `path` into a clip.
pub fn decode_clip(path: &Path, req: &DecodeRequest) -> Result<Decoded, MediaError> {
    let bad = |m: String| MediaError::new(path, MediaCause::Decode(m));
    let mut reader = VideoReader::open(path, req.size)?;
    let src_fps = reader.fps();
    let max = req.max_frames.map_or(usize::MAX, |m| m as usize);
    let mut frames: Vec<Frame> = Vec::new();
    let mut times: Vec<Rational> = Vec::new();

    let fps = match req.sampling {
        Sampling::All | Sampling::Every { .. } => {
            let n = match req.sampling {
                Sampling::Every { n: 0 } => return Err(bad("sampling every 0 frames".into())),
                Sampling::Every { n } => n as usize,
                _ => 1,
            };
            let mut i = 0usize;
            while frames.len() < max {
                let Some((t, f)) = reader.next_frame()? else {
                    break;
                };
                if i.is_multiple_of(n) {
                    frames.push(f);
                    times.push(t);
                }
                i += 1;
            }
            Rational::new(src_fps.num(), src_fps.den() * n as i64)
                .ok_or_else(|| bad("frame rate overflow".into()))?
        }
        Sampling::Fps { num, den } => {
            let target = Rational::new(num, den)
                .filter(|r| r.is_positive())
                .ok_or_else(|| bad(format!("target rate {num}/{den} is not positive")))?;
            let rate = target.to_f64();
            // Slot k covers [k/rate, (k+1)/rate); each slot shows the last frame that started by then.
            let mut last: Option<(Rational, Frame)> = None;
            let mut t0: Option<f64> = None;
            while frames.len() < max {
                let Some((t, f)) = reader.next_frame()? else {
                    break;
                };
                let rel = t.to_f64() - *t0.get_or_insert(t.to_f64());
                let slot = (rel * rate + 1e-6).floor() as usize;
                while frames.len() < slot.min(max) {
                    let (pt, pf) = last.clone().unwrap_or((t, f.clone()));
                    frames.push(pf);
                    times.push(pt);
                }
                last = Some((t, f));
            }
            if frames.len() < max
                && let Some((t, f)) = last
            {
                frames.push(f);
                times.push(t);
            }
            target
        }
        Sampling::Uniform { frames: 0 } => return Err(bad("uniform sampling of 0 frames".into())),
        Sampling::Uniform { frames: want } => {
            let want = (want as usize).min(max);
            let duration = match reader.duration_secs() {
                Some(d) => d,
                None => {
                    // No stated duration: one pass for the timestamps, then read again.
                    let mut probe = VideoReader::open(path, req.size)?;
                    let mut end = 0.0f64;
                    while let Some((t, _)) = probe.next_frame()? {
                        end = t.to_f64();
                    }
                    end + 1.0 / src_fps.to_f64()
                }
            };
            let slot_t = |k: usize| (k as f64 + 0.5) * duration / want as f64;
            let mut prev: Option<(Rational, Frame)> = None;
            let mut k = 0;
            while k < want {
                let Some((t, f)) = reader.next_frame()? else {
                    break;
                };
                while k < want && t.to_f64() >= slot_t(k) {
                    // The nearer of this frame and the one before it.
                    let pick = match &prev {
                        Some((pt, pf)) if slot_t(k) - pt.to_f64() < t.to_f64() - slot_t(k) => {
                            (*pt, pf.clone())
                        }
                        _ => (t, f.clone()),
                    };
                    times.push(pick.0);
                    frames.push(pick.1);
                    k += 1;
                }
                prev = Some((t, f));
            }
            while frames.len() < want {
                let Some((pt, pf)) = prev.clone() else { break };
                times.push(pt);
                frames.push(pf);
            }
            approx(want as f64 / duration)
                .filter(|r| r.is_positive())
                .ok_or_else(|| bad("no duration".into()))?
        }
    };
    if frames.is_empty() {
        return Err(MediaError::new(
            path,
            MediaCause::Decode(
                reader
                    .warning()
                    .map_or("no frame could be decoded".into(), str::to_string),
            ),
        ));
    }

    let audio = match req.audio {
        None => None,
        Some(a) => {
            // Audio sample 0 must be at the time of frame 0: the reader is aligned there (the
            // same alignment the player's streamed audio uses).
            let v0 = reader.start_secs() + times[0].to_f64();
            match AudioReader::open_aligned(path, a.sample_rate_hz, a.channels, v0)? {
                None => None,
                Some(mut ar) => {
                    let ch = usize::from(a.channels);
                    let sr = f64::from(a.sample_rate_hz);
                    let want = (frames.len() as f64 / fps.to_f64() * sr).round() as usize * ch;
                    // Only as much as the frames cover (a long film cut by `max_frames`).
                    let mut samples = Vec::with_capacity(want);
                    while samples.len() < want {
                        let Some(c) = ar.next_chunk()? else { break };
                        samples.extend_from_slice(&c);
                    }
                    samples.resize(want, 0.0);
                    Some(
                        AudioBuffer::new(a.sample_rate_hz, a.channels, samples)
                            .map_err(|e| bad(e.to_string()))?,
                    )
                }
            }
        }
    };
    let clip = Clip::new(frames, fps, audio).map_err(|e| bad(e.to_string()))?;
    Ok(Decoded {
        clip,
        times,
        rotation: reader.rotation(),
        warning: reader.warning().map(str::to_string),
    })
}
