//! Clips: RGB frames at a rational frame rate, with optional audio aligned to frame 0.

use super::time::Rational;
use std::sync::Arc;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ClipError {
    #[error("frame is {width}x{height} but holds {got} bytes (expected {expected} for RGB8)")]
    FrameSize {
        width: u32,
        height: u32,
        got: usize,
        expected: usize,
    },
    #[error("frame {index} is {got_w}x{got_h}, the clip is {want_w}x{want_h}")]
    MixedSizes {
        index: usize,
        got_w: u32,
        got_h: u32,
        want_w: u32,
        want_h: u32,
    },
    #[error("frame rate {0} is not positive")]
    BadFps(Rational),
    #[error("audio has {samples} samples, not a multiple of {channels} channels")]
    AudioLayout { samples: usize, channels: u16 },
    #[error("audio sample rate is 0 Hz or it has 0 channels")]
    AudioFormat,
}

/// One RGB8 frame, rows top to bottom, no padding. The pixels are shared (`Arc`) so a frame
/// can be handed to the preview or a worker without copying.
#[derive(Clone, Debug, PartialEq)]
pub struct Frame {
    width: u32,
    height: u32,
    rgb: Arc<[u8]>,
}

impl Frame {
    pub fn new(width: u32, height: u32, rgb: impl Into<Arc<[u8]>>) -> Result<Self, ClipError> {
        let rgb = rgb.into();
        let expected = width as usize * height as usize * 3;
        if rgb.len() != expected || width == 0 || height == 0 {
            return Err(ClipError::FrameSize {
                width,
                height,
                got: rgb.len(),
                expected,
            });
        }
        Ok(Frame { width, height, rgb })
    }

    pub fn width(&self) -> u32 {
        self.width
    }

    pub fn height(&self) -> u32 {
        self.height
    }

    pub fn rgb(&self) -> &[u8] {
        &self.rgb
    }

    /// The frame as RGBA8 (opaque), the layout GPU textures and images want.
    pub fn to_rgba(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.rgb.len() / 3 * 4);
        for px in self.rgb.chunks_exact(3) {
            out.extend_from_slice(&[px[0], px[1], px[2], 255]);
        }
        out
    }
}

/// Interleaved f32 samples in [-1, 1].
#[derive(Clone, Debug, PartialEq)]
pub struct AudioBuffer {
    sample_rate_hz: u32,
    channels: u16,
    samples: Vec<f32>,
}

impl AudioBuffer {
    pub fn new(sample_rate_hz: u32, channels: u16, samples: Vec<f32>) -> Result<Self, ClipError> {
        if sample_rate_hz == 0 || channels == 0 {
            return Err(ClipError::AudioFormat);
        }
        if !samples.len().is_multiple_of(channels as usize) {
            return Err(ClipError::AudioLayout {
                samples: samples.len(),
                channels,
            });
        }
        Ok(AudioBuffer {
            sample_rate_hz,
            channels,
            samples,
        })
    }

    pub fn sample_rate_hz(&self) -> u32 {
        self.sample_rate_hz
    }

    pub fn channels(&self) -> u16 {
        self.channels
    }

    pub fn samples(&self) -> &[f32] {
        &self.samples
    }

    /// Number of sample frames (one sample per channel).
    pub fn len_frames(&self) -> usize {
        self.samples.len() / self.channels as usize
    }

    pub fn duration(&self) -> Rational {
        Rational::new(self.len_frames() as i64, i64::from(self.sample_rate_hz))
            .unwrap_or(Rational::ZERO)
    }

    /// Per-bucket (min, max) of the first channel: a waveform overview that stays cheap to draw
    /// however long the audio is.
    pub fn envelope(&self, buckets: usize) -> Vec<(f32, f32)> {
        let n = self.len_frames();
        if n == 0 || buckets == 0 {
            return Vec::new();
        }
        let buckets = buckets.min(n);
        let ch = self.channels as usize;
        (0..buckets)
            .map(|b| {
                let (start, end) = (
                    b * n / buckets,
                    ((b + 1) * n / buckets).max(b * n / buckets + 1),
                );
                (start..end).fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), i| {
                    let s = self.samples[i * ch];
                    (lo.min(s), hi.max(s))
                })
            })
            .collect()
    }
}

/// A video clip: same-sized frames at `fps`, and audio that starts with frame 0.
#[derive(Clone, Debug, PartialEq)]
pub struct Clip {
    frames: Vec<Frame>,
    fps: Rational,
    audio: Option<AudioBuffer>,
}

impl Clip {
    pub fn new(
        frames: Vec<Frame>,
        fps: Rational,
        audio: Option<AudioBuffer>,
    ) -> Result<Self, ClipError> {
        if !fps.is_positive() {
            return Err(ClipError::BadFps(fps));
        }
        let mut clip = Clip {
            frames: Vec::with_capacity(frames.len()),
            fps,
            audio,
        };
        for f in frames {
            clip.push_frame(f)?;
        }
        Ok(clip)
    }

    /// Appends a frame, refusing one whose size differs from the first.
    pub fn push_frame(&mut self, frame: Frame) -> Result<(), ClipError> {
        if let Some(first) = self.frames.first()
            && (first.width, first.height) != (frame.width, frame.height)
        {
            return Err(ClipError::MixedSizes {
                index: self.frames.len(),
                got_w: frame.width,
                got_h: frame.height,
                want_w: first.width,
                want_h: first.height,
            });
        }
        self.frames.push(frame);
        Ok(())
    }

    pub fn frames(&self) -> &[Frame] {
        &self.frames
    }

    pub fn fps(&self) -> Rational {
        self.fps
    }

    pub fn audio(&self) -> Option<&AudioBuffer> {
        self.audio.as_ref()
    }

    /// (width, height) of the frames, `None` while the clip is empty.
    pub fn size(&self) -> Option<(u32, u32)> {
        self.frames.first().map(|f| (f.width, f.height))
    }

    /// Length of the video track: frames / fps.
    pub fn duration(&self) -> Rational {
        self.fps
            .frame_start(self.frames.len() as u64)
            .unwrap_or(Rational::ZERO)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(w: u32, h: u32, v: u8) -> Frame {
        Frame::new(w, h, vec![v; (w * h * 3) as usize]).expect("sized")
    }

    #[test]
    fn frame_checks_its_size() {
        assert!(matches!(
            Frame::new(4, 2, vec![0u8; 23]),
            Err(ClipError::FrameSize { expected: 24, .. })
        ));
        assert!(Frame::new(0, 2, Vec::<u8>::new()).is_err());
        assert_eq!(frame(1, 1, 7).to_rgba(), vec![7, 7, 7, 255]);
    }

    #[test]
    fn clip_refuses_mixed_sizes_and_bad_fps() {
        let fps = Rational::from_int(8);
        let err = Clip::new(vec![frame(4, 4, 0), frame(4, 2, 0)], fps, None);
        assert!(matches!(err, Err(ClipError::MixedSizes { index: 1, .. })));
        assert!(matches!(
            Clip::new(vec![], Rational::ZERO, None),
            Err(ClipError::BadFps(_))
        ));
        let clip = Clip::new(vec![frame(4, 4, 0); 12], fps, None).expect("valid");
        assert_eq!(clip.duration(), Rational::new(3, 2).expect("valid"));
    }

    #[test]
    fn audio_layout_and_envelope() {
        assert!(AudioBuffer::new(16000, 2, vec![0.0; 3]).is_err());
        assert!(AudioBuffer::new(0, 1, vec![]).is_err());
        // Stereo, first channel ramps -1..1; the envelope reads channel 0 only.
        let samples: Vec<f32> = (0..8).flat_map(|i| [i as f32 / 3.5 - 1.0, 9.0]).collect();
        let a = AudioBuffer::new(8, 2, samples).expect("valid");
        assert_eq!(a.len_frames(), 8);
        assert_eq!(a.duration(), Rational::from_int(1));
        let env = a.envelope(2);
        assert_eq!(env.len(), 2);
        assert_eq!(env[0].0, -1.0);
        assert!((env[1].1 - 1.0).abs() < 1e-6);
        assert!(env.iter().all(|(lo, hi)| lo <= hi && *hi < 9.0));
    }
}
