//! Streaming readers: video frames (RGB, sized and rotated for display, with rational
//! timestamps) and audio (f32 at a requested rate and channel count, via swresample), one frame
//! or chunk at a time, with seeking. `decode_clip`, the player and the cache are built on these.

use super::error::{MediaCause, MediaError};
use super::probe::{decoder_context, open_input, stream_fps, video_stream_index};
use crate::core::{Frame, Rational};
use ffmpeg::format::Pixel;
use ffmpeg::software::scaling;
use ffmpeg_next as ffmpeg;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// How decoded frames are sized.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SizeMode {
    /// As stored (after rotation for display).
    Native,
    /// Resized keeping the aspect ratio until it covers `width`×`height`, then centre-cropped.
    Fit { width: u32, height: u32 },
    /// Resized to `width`×`height`, aspect ignored.
    Stretch { width: u32, height: u32 },
    /// Scaled down (never up) so neither side exceeds `max_side`, aspect kept, sides even.
    Within { max_side: u32 },
}

/// The rotation a player applies for display (clockwise degrees: 0, 90, 180 or 270).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rotation(pub u16);

/// Reads the stream's display matrix (phone videos) the way FFmpeg's CLI autorotates.
fn display_rotation(stream: &ffmpeg::format::stream::Stream) -> Rotation {
    for sd in stream.side_data() {
        if sd.kind() != ffmpeg::codec::packet::side_data::Type::DisplayMatrix
            || sd.data().len() < 36
        {
            continue;
        }
        let m: Vec<f64> = sd
            .data()
            .chunks_exact(4)
            .take(9)
            .map(|b| f64::from(i32::from_ne_bytes([b[0], b[1], b[2], b[3]])) / 65536.0)
            .collect();
        // As av_display_rotation_get (counter-clockwise degrees) followed by the CLI's
        // get_rotation, which negates it into the clockwise turn a player applies.
        let (s0, s1) = (m[0].hypot(m[3]), m[1].hypot(m[4]));
        if s0 == 0.0 || s1 == 0.0 {
            return Rotation(0);
        }
        let ccw = -(m[1] / s1).atan2(m[0] / s0).to_degrees();
        let theta = (-ccw).round().rem_euclid(360.0);
        let snapped = ((theta / 90.0).round() as u16 % 4) * 90;
        return Rotation(snapped);
    }
    Rotation(0)
}

/// Rotates a tight RGB buffer clockwise by `rot` degrees; returns the new (w, h).
fn rotate_rgb(src: &[u8], w: usize, h: usize, rot: Rotation, dst: &mut Vec<u8>) -> (usize, usize) {
    dst.clear();
    dst.resize(src.len(), 0);
    let px = |x: usize, y: usize| &src[(y * w + x) * 3..(y * w + x) * 3 + 3];
    match rot.0 {
        90 => {
            // out(x, y), out is h×w: comes from in(y, h − 1 − x)
            for y in 0..w {
                for x in 0..h {
                    dst[(y * h + x) * 3..][..3].copy_from_slice(px(y, h - 1 - x));
                }
            }
            (h, w)
        }
        180 => {
            for y in 0..h {
                for x in 0..w {
                    dst[(y * w + x) * 3..][..3].copy_from_slice(px(w - 1 - x, h - 1 - y));
                }
            }
            (w, h)
        }
        270 => {
            for y in 0..w {
                for x in 0..h {
                    dst[(y * h + x) * 3..][..3].copy_from_slice(px(w - 1 - y, x));
                }
            }
            (h, w)
        }
        _ => {
            dst.copy_from_slice(src);
            (w, h)
        }
    }
}

/// Size to scale to (before rotation) and the crop (after rotation) for a display size.
fn plan_size(mode: SizeMode, disp_w: u32, disp_h: u32, rot: Rotation) -> ((u32, u32), (u32, u32)) {
    let (scaled_disp, out) = match mode {
        SizeMode::Native => ((disp_w, disp_h), (disp_w, disp_h)),
        SizeMode::Within { max_side } => {
            let s = (f64::from(max_side.max(2)) / f64::from(disp_w.max(disp_h))).min(1.0);
            let even = |v: u32| ((f64::from(v) * s).round() as u32 & !1).max(2);
            let wh = (even(disp_w), even(disp_h));
            (wh, wh)
        }
        SizeMode::Stretch { width, height } => ((width, height), (width, height)),
        SizeMode::Fit { width, height } => {
            let s =
                (f64::from(width) / f64::from(disp_w)).max(f64::from(height) / f64::from(disp_h));
            let sw = ((f64::from(disp_w) * s).round() as u32).max(width);
            let sh = ((f64::from(disp_h) * s).round() as u32).max(height);
            ((sw, sh), (width, height))
        }
    };
    let scale = if rot.0 % 180 == 90 {
        (scaled_disp.1, scaled_disp.0)
    } else {
        scaled_disp
    };
    (scale, out)
}

pub struct VideoReader {
    path: PathBuf,
    ictx: ffmpeg::format::context::Input,
    vidx: usize,
    decoder: ffmpeg::decoder::Video,
    time_base: ffmpeg::Rational,
    start_pts: Option<i64>,
    fps: Rational,
    rotation: Rotation,
    scale: (u32, u32),
    out: (u32, u32),
    display: (u32, u32),
    scaler: Option<(scaling::Context, (Pixel, u32, u32))>,
    decoded: ffmpeg::frame::Video,
    rgb: ffmpeg::frame::Video,
    tight: Vec<u8>,
    rotated: Vec<u8>,
    eof_sent: bool,
    /// After a seek: frames before this time are decoded and dropped (accurate seeking).
    skip_until: Option<Rational>,
    frames_out: u64,
    read_warning: Option<String>,
}

impl VideoReader {
    pub fn open(path: &Path, size: SizeMode) -> Result<Self, MediaError> {
        let ictx = open_input(path)?;
        let vidx = video_stream_index(path, &ictx)?;
        let err = |e: ffmpeg::Error| MediaError::new(path, MediaCause::Decode(e.to_string()));
        let stream = ictx
            .stream(vidx)
            .ok_or_else(|| MediaError::new(path, MediaCause::Decode("stream vanished".into())))?;
        let fps =
            stream_fps(&stream).ok_or_else(|| MediaError::new(path, MediaCause::NoFrameRate))?;
        let rotation = display_rotation(&stream);
        let time_base = stream.time_base();
        let start = stream.start_time();
        let mut ctx = decoder_context(stream.parameters()).map_err(err)?;
        // Frame threads, as the ffmpeg CLI uses: decoding is most of the work.
        ctx.set_threading(ffmpeg::codec::threading::Config::kind(
            ffmpeg::codec::threading::Type::Frame,
        ));
        let decoder = ctx.decoder().video().map_err(err)?;
        let (w, h) = (decoder.width(), decoder.height());
        if w == 0 || h == 0 {
            return Err(MediaError::new(
                path,
                MediaCause::Decode("0-pixel frame size".into()),
            ));
        }
        if let SizeMode::Fit { width: 0, .. }
        | SizeMode::Fit { height: 0, .. }
        | SizeMode::Stretch { width: 0, .. }
        | SizeMode::Stretch { height: 0, .. } = size
        {
            return Err(MediaError::new(
                path,
                MediaCause::Decode("requested size has a 0 side".into()),
            ));
        }
        let display = if rotation.0 % 180 == 90 {
            (h, w)
        } else {
            (w, h)
        };
        let (scale, out) = plan_size(size, display.0, display.1, rotation);
        Ok(VideoReader {
            path: path.to_path_buf(),
            ictx,
            vidx,
            decoder,
            time_base,
            start_pts: (start != ffmpeg::ffi::AV_NOPTS_VALUE).then_some(start),
            fps,
            rotation,
            scale,
            out,
            display,
            scaler: None,
            decoded: ffmpeg::frame::Video::empty(),
            rgb: ffmpeg::frame::Video::empty(),
            tight: Vec::new(),
            rotated: Vec::new(),
            eof_sent: false,
            skip_until: None,
            frames_out: 0,
            read_warning: None,
        })
    }

    pub fn fps(&self) -> Rational {
        self.fps
    }

    /// Size of the frames this reader returns.
    pub fn output_size(&self) -> (u32, u32) {
        self.out
    }

    /// The stream's size as a player shows it (rotation applied).
    pub fn display_size(&self) -> (u32, u32) {
        self.display
    }

    pub fn rotation(&self) -> Rotation {
        self.rotation
    }

    /// The container's duration in seconds, if it states one.
    pub fn duration_secs(&self) -> Option<f64> {
        (self.ictx.duration() > 0)
            .then(|| self.ictx.duration() as f64 / f64::from(ffmpeg::ffi::AV_TIME_BASE))
    }

    /// Stream time in seconds at which this reader's timestamps are 0.
    pub fn start_secs(&self) -> f64 {
        self.start_pts.unwrap_or(0) as f64 * f64::from(self.time_base.numerator())
            / f64::from(self.time_base.denominator().max(1))
    }

    /// A read error that ended the stream early (a damaged file), if any.
    pub fn warning(&self) -> Option<&str> {
        self.read_warning.as_deref()
    }

    fn err(&self, m: impl Into<String>) -> MediaError {
        MediaError::new(&self.path, MediaCause::Decode(m.into()))
    }

    /// Timestamp of the current decoded frame in seconds from the stream's start.
    fn frame_time(&mut self) -> Rational {
        let fallback = self
            .fps
            .frame_start(self.frames_out)
            .unwrap_or(Rational::ZERO);
        let Some(pts) = self.decoded.timestamp() else {
            return fallback;
        };
        let start = *self.start_pts.get_or_insert(pts);
        let (num, den) = (
            i64::from(self.time_base.numerator()),
            i64::from(self.time_base.denominator()),
        );
        (pts - start)
            .checked_mul(num)
            .and_then(|n| Rational::new(n, den))
            .unwrap_or(fallback)
    }

    fn convert(&mut self) -> Result<Frame, MediaError> {
        let key = (
            self.decoded.format(),
            self.decoded.width(),
            self.decoded.height(),
        );
        if self.scaler.as_ref().map(|s| s.1) != Some(key) {
            let ctx = scaling::Context::get(
                key.0,
                key.1,
                key.2,
                Pixel::RGB24,
                self.scale.0,
                self.scale.1,
                scaling::Flags::BILINEAR,
            )
            .map_err(|e| self.err(format!("cannot convert {:?} frames: {e}", key.0)))?;
            self.scaler = Some((ctx, key));
        }
        if let Some((ctx, _)) = self.scaler.as_mut() {
            ctx.run(&self.decoded, &mut self.rgb)
                .map_err(|e| MediaError::new(&self.path, MediaCause::Decode(e.to_string())))?;
        }
        // Tight RGB rows (FFmpeg pads rows to its stride).
        let (sw, sh) = (self.scale.0 as usize, self.scale.1 as usize);
        let stride = self.rgb.stride(0);
        let data = self.rgb.data(0);
        self.tight.clear();
        for y in 0..sh {
            self.tight
                .extend_from_slice(&data[y * stride..y * stride + sw * 3]);
        }
        let (rw, rh) = rotate_rgb(&self.tight, sw, sh, self.rotation, &mut self.rotated);
        let (ow, oh) = (self.out.0 as usize, self.out.1 as usize);
        let pixels = if (rw, rh) == (ow, oh) {
            self.rotated.clone()
        } else {
            // Centre crop (Fit).
            let (x0, y0) = ((rw - ow) / 2, (rh - oh) / 2);
            let mut v = Vec::with_capacity(ow * oh * 3);
            for y in y0..y0 + oh {
                v.extend_from_slice(&self.rotated[(y * rw + x0) * 3..(y * rw + x0 + ow) * 3]);
            }
            v
        };
        Frame::new(self.out.0, self.out.1, pixels).map_err(|e| self.err(e.to_string()))
    }

    /// The next frame and its time in seconds from the start of the stream, or `None` at the end.
    pub fn next_frame(&mut self) -> Result<Option<(Rational, Frame)>, MediaError> {
        loop {
            if self.decoder.receive_frame(&mut self.decoded).is_ok() {
                let t = self.frame_time();
                if let Some(until) = self.skip_until {
                    if t.to_f64() + 1e-9 < until.to_f64() {
                        continue;
                    }
                    self.skip_until = None;
                }
                let frame = self.convert()?;
                self.frames_out += 1;
                return Ok(Some((t, frame)));
            }
            if self.eof_sent {
                return Ok(None);
            }
            // A fresh packet per read: av_read_frame does not release what a reused one held
            // (that leaked every compressed frame).
            let mut packet = ffmpeg::Packet::empty();
            match packet.read(&mut self.ictx) {
                Ok(()) => {
                    if packet.stream() == self.vidx {
                        // A corrupt packet costs its frame, not the stream.
                        let _ = self.decoder.send_packet(&packet);
                    }
                }
                Err(ffmpeg::Error::InvalidData) => continue,
                Err(e) => {
                    if e != ffmpeg::Error::Eof {
                        self.read_warning = Some(
                            super::ffmpeg_log::take_last_error().unwrap_or_else(|| e.to_string()),
                        );
                    }
                    self.eof_sent = true;
                    let _ = self.decoder.send_eof(); // already at the end if it fails
                }
            }
        }
    }

    /// Seeks so that the next frame is the first one at or after `secs` (accurate: decodes from
    /// the keyframe before and drops the frames in between).
    pub fn seek(&mut self, secs: Rational) -> Result<(), MediaError> {
        let target = secs.to_f64().max(0.0);
        let ts = (target * f64::from(ffmpeg::ffi::AV_TIME_BASE)) as i64;
        let start_offset = self
            .start_pts
            .map(|p| {
                p as f64 * f64::from(self.time_base.numerator())
                    / f64::from(self.time_base.denominator())
            })
            .unwrap_or(0.0);
        let abs = ts + (start_offset * f64::from(ffmpeg::ffi::AV_TIME_BASE)) as i64;
        self.ictx
            .seek(abs, ..abs)
            .map_err(|e| self.err(format!("cannot seek to {target:.3} s: {e}")))?;
        self.decoder.flush();
        self.eof_sent = false;
        self.skip_until = Some(secs);
        Ok(())
    }
}

/// Stream time in seconds at which a video reader of `path` puts its timestamp 0: the video
/// stream's start, or its first frame's time when the container states no start. This is what
/// [`AudioReader::open_aligned`] takes so that audio time and frame time agree.
pub fn video_origin_secs(path: &Path) -> Result<f64, MediaError> {
    let mut r = VideoReader::open(path, SizeMode::Within { max_side: 2 })?;
    if r.start_pts.is_none() {
        r.next_frame()?; // the first frame's timestamp becomes the start
    }
    Ok(r.start_secs())
}

/// The most silence a reader pads in front of audio that starts late (a damaged timestamp must
/// not allocate hours of zeros).
const MAX_LEAD_SECS: f64 = 600.0;

/// Audio as interleaved f32 at a fixed rate and channel count.
pub struct AudioReader {
    path: PathBuf,
    ictx: ffmpeg::format::context::Input,
    aidx: usize,
    decoder: ffmpeg::decoder::Audio,
    resampler: Option<ffmpeg::software::resampling::Context>,
    rate: u32,
    channels: u16,
    time_base: ffmpeg::Rational,
    /// Stream time (seconds) that this reader's time 0 is at: the aligned origin, else the
    /// audio stream's start (as the video reader uses its stream's start).
    origin_secs: f64,
    /// Stream time (seconds) of the first decoded sample.
    first_secs: Option<f64>,
    /// Stream time (seconds) of the next sample out; `None` until the first frame after an
    /// open or a seek tells it.
    next_secs: Option<f64>,
    decoded: ffmpeg::frame::Audio,
    eof: bool,
    flushed: bool,
    /// Output must start at this stream time (after a seek, or an aligned open): samples before
    /// it are dropped, a gap before the first decoded sample is filled with silence.
    skip_until: Option<f64>,
}

impl AudioReader {
    /// `None` when the file has no audio stream. The first sample returned is the first one
    /// decoded; [`Self::seek`] counts from the audio stream's start.
    pub fn open(
        path: &Path,
        sample_rate_hz: u32,
        channels: u16,
    ) -> Result<Option<Self>, MediaError> {
        Self::open_inner(path, sample_rate_hz, channels, None)
    }

    /// As [`Self::open`], but sample 0 is the sound at stream time `origin_secs` (usually
    /// [`video_origin_secs`], so that sample time = frame time): audio before it is dropped, and
    /// audio that starts later is preceded by silence. Seeks count from `origin_secs` too.
    pub fn open_aligned(
        path: &Path,
        sample_rate_hz: u32,
        channels: u16,
        origin_secs: f64,
    ) -> Result<Option<Self>, MediaError> {
        if !origin_secs.is_finite() {
            return Err(MediaError::new(
                path,
                MediaCause::Decode(format!("audio origin {origin_secs} s is not a time")),
            ));
        }
        Self::open_inner(path, sample_rate_hz, channels, Some(origin_secs))
    }

    fn open_inner(
        path: &Path,
        sample_rate_hz: u32,
        channels: u16,
        origin: Option<f64>,
    ) -> Result<Option<Self>, MediaError> {
        if sample_rate_hz == 0 || channels == 0 {
            return Err(MediaError::new(
                path,
                MediaCause::Decode("audio rate and channels must be > 0".into()),
            ));
        }
        let ictx = open_input(path)?;
        let Some(stream) = ictx.streams().best(ffmpeg::media::Type::Audio) else {
            return Ok(None);
        };
        let aidx = stream.index();
        let time_base = stream.time_base();
        let start = stream.start_time();
        let stream_start = if start == ffmpeg::ffi::AV_NOPTS_VALUE {
            0.0
        } else {
            start as f64 * f64::from(time_base.numerator())
                / f64::from(time_base.denominator().max(1))
        };
        let decoder = decoder_context(stream.parameters())
            .and_then(|c| c.decoder().audio())
            .map_err(|e| MediaError::new(path, MediaCause::Decode(e.to_string())))?;
        Ok(Some(AudioReader {
            path: path.to_path_buf(),
            ictx,
            aidx,
            decoder,
            resampler: None,
            rate: sample_rate_hz,
            channels,
            time_base,
            origin_secs: origin.unwrap_or(stream_start),
            first_secs: None,
            next_secs: None,
            decoded: ffmpeg::frame::Audio::empty(),
            eof: false,
            flushed: false,
            skip_until: origin,
        }))
    }

    /// Seeks so that the next sample is the one at `secs` from this reader's time 0 (the aligned
    /// origin, else the audio stream's start): the demuxer lands on a packet before it and the
    /// samples in between are dropped (or, past the audio's start, silence fills in).
    pub fn seek(&mut self, secs: f64) -> Result<(), MediaError> {
        let target = self.origin_secs + secs.max(0.0);
        let ts = (target * f64::from(ffmpeg::ffi::AV_TIME_BASE)) as i64;
        self.ictx
            .seek(ts, ..ts)
            .map_err(|e| self.err(format!("cannot seek the audio to {secs:.3} s: {e}")))?;
        self.decoder.flush();
        self.resampler = None;
        self.eof = false;
        self.flushed = false;
        self.next_secs = None;
        self.skip_until = Some(target);
        Ok(())
    }

    /// Stream time (seconds) of this reader's time 0.
    pub fn origin_secs(&self) -> f64 {
        self.origin_secs
    }

    pub fn sample_rate_hz(&self) -> u32 {
        self.rate
    }

    pub fn channels(&self) -> u16 {
        self.channels
    }

    /// Stream time in seconds of the first sample returned (known after the first chunk).
    pub fn first_secs(&self) -> Option<f64> {
        self.first_secs
    }

    fn err(&self, m: impl Into<String>) -> MediaError {
        MediaError::new(&self.path, MediaCause::Decode(m.into()))
    }

    fn resample(&mut self, out: &mut Vec<f32>, flush: bool) -> Result<(), MediaError> {
        use ffmpeg::ChannelLayout;
        use ffmpeg::format::Sample;
        use ffmpeg::format::sample::Type;
        let dst_layout = ChannelLayout::default(i32::from(self.channels));
        if !flush && self.resampler.is_none() {
            let mut src_layout = self.decoded.channel_layout();
            if src_layout.is_empty() {
                src_layout = ChannelLayout::default(i32::from(self.decoded.channels()));
            }
            let ctx = ffmpeg::software::resampling::Context::get(
                self.decoded.format(),
                src_layout,
                self.decoded.rate(),
                Sample::F32(Type::Packed),
                dst_layout,
                self.rate,
            )
            .map_err(|e| self.err(format!("cannot resample the audio: {e}")))?;
            self.resampler = Some(ctx);
        }
        let Some(ctx) = self.resampler.as_mut() else {
            return Ok(());
        };
        let in_rate = ctx.input().rate.max(1);
        let in_samples = if flush { 0 } else { self.decoded.samples() };
        // Room for this frame's samples after rate conversion plus what swresample holds back.
        let room = (in_samples as u64 * u64::from(self.rate) / u64::from(in_rate)) as usize + 256;
        loop {
            let mut o = ffmpeg::frame::Audio::new(Sample::F32(Type::Packed), room, dst_layout);
            let r = if flush {
                ctx.flush(&mut o)
            } else {
                if self.decoded.channel_layout().is_empty() {
                    self.decoded.set_channel_layout(ctx.input().channel_layout);
                }
                ctx.run(&self.decoded, &mut o)
            };
            let delay = r.map_err(|e| {
                MediaError::new(&self.path, MediaCause::Decode(format!("resampling: {e}")))
            })?;
            let n = o.samples() * usize::from(self.channels);
            if n > 0 {
                let bytes = &o.data(0)[..n * 4];
                out.extend(
                    bytes
                        .chunks_exact(4)
                        .map(|b| f32::from_ne_bytes([b[0], b[1], b[2], b[3]])),
                );
            }
            // Drain only while flushing; mid-stream the remainder comes out with the next frame.
            if !flush || delay.is_none() || o.samples() == 0 {
                return Ok(());
            }
        }
    }

    /// Applies a pending `skip_until` to `out`, the samples starting at `next_secs`: drops those
    /// before the target, or puts silence in front when the audio starts after it. Returns
    /// whether `out` now starts at the target (else all of it was before and is gone).
    fn trim_to_target(&mut self, out: &mut Vec<f32>) -> bool {
        let (Some(target), Some(at)) = (self.skip_until, self.next_secs) else {
            return true;
        };
        let ch = usize::from(self.channels);
        let rate = f64::from(self.rate);
        let lead = ((target - at) * rate).round();
        if lead > 0.0 {
            let have = out.len() / ch;
            let drop = (lead as usize).min(have);
            out.drain(..drop * ch);
            self.next_secs = Some(at + drop as f64 / rate);
            if drop == have {
                return false;
            }
        } else if lead < 0.0 {
            let pad = ((-lead).min(MAX_LEAD_SECS * rate)) as usize;
            out.splice(0..0, std::iter::repeat_n(0.0, pad * ch));
        }
        self.skip_until = None;
        self.next_secs = Some(target);
        true
    }

    /// The next chunk of samples (interleaved), or `None` at the end.
    pub fn next_chunk(&mut self) -> Result<Option<Vec<f32>>, MediaError> {
        let mut out = Vec::new();
        loop {
            if self.decoder.receive_frame(&mut self.decoded).is_ok() {
                let pts_secs = self.decoded.timestamp().map(|pts| {
                    pts as f64 * f64::from(self.time_base.numerator())
                        / f64::from(self.time_base.denominator().max(1))
                });
                if self.first_secs.is_none() {
                    self.first_secs = Some(pts_secs.unwrap_or(self.origin_secs));
                }
                if self.next_secs.is_none() {
                    // The first frame after an open or a seek: its timestamp places the output.
                    self.next_secs = Some(pts_secs.or(self.skip_until).unwrap_or(self.origin_secs));
                }
                self.resample(&mut out, false)?;
                if !out.is_empty() && self.emit(&mut out) {
                    return Ok(Some(out));
                }
                out.clear();
                continue;
            }
            if self.eof {
                if !self.flushed {
                    self.flushed = true;
                    self.resample(&mut out, true)?;
                    if !out.is_empty() && self.emit(&mut out) {
                        return Ok(Some(out));
                    }
                }
                return Ok(None);
            }
            let mut packet = ffmpeg::Packet::empty();
            match packet.read(&mut self.ictx) {
                Ok(()) => {
                    if packet.stream() == self.aidx {
                        let _ = self.decoder.send_packet(&packet); // a bad packet costs its samples
                    }
                }
                Err(ffmpeg::Error::InvalidData) => continue,
                Err(_) => {
                    self.eof = true;
                    let _ = self.decoder.send_eof(); // already at the end if it fails
                }
            }
        }
    }

    /// Trims `out` to a pending target and advances the output clock; false when nothing is left.
    fn emit(&mut self, out: &mut Vec<f32>) -> bool {
        if !self.trim_to_target(out) || out.is_empty() {
            return false;
        }
        let frames = out.len() / usize::from(self.channels);
        self.next_secs = self
            .next_secs
            .map(|t| t + frames as f64 / f64::from(self.rate));
        true
    }

    /// All remaining samples.
    pub fn read_all(&mut self) -> Result<Vec<f32>, MediaError> {
        let mut all = Vec::new();
        while let Some(c) = self.next_chunk()? {
            all.extend_from_slice(&c);
        }
        Ok(all)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotations_move_pixels_like_a_player() {
        // 3×2 image with distinct pixels (value = index).
        let src: Vec<u8> = (0..6u8).flat_map(|v| [v, v, v]).collect();
        let mut dst = Vec::new();
        let (w, h) = rotate_rgb(&src, 3, 2, Rotation(90), &mut dst);
        assert_eq!((w, h), (2, 3));
        let got: Vec<u8> = dst.chunks(3).map(|p| p[0]).collect();
        // Clockwise: the bottom-left (3) comes to the top-left.
        assert_eq!(got, vec![3, 0, 4, 1, 5, 2]);
        rotate_rgb(&src, 3, 2, Rotation(270), &mut dst);
        assert_eq!(
            dst.chunks(3).map(|p| p[0]).collect::<Vec<_>>(),
            vec![2, 5, 1, 4, 0, 3]
        );
        rotate_rgb(&src, 3, 2, Rotation(180), &mut dst);
        assert_eq!(
            dst.chunks(3).map(|p| p[0]).collect::<Vec<_>>(),
            vec![5, 4, 3, 2, 1, 0]
        );
    }

    #[test]
    fn fit_covers_then_crops() {
        let (scale, out) = plan_size(
            SizeMode::Fit {
                width: 112,
                height: 112,
            },
            1280,
            720,
            Rotation(0),
        );
        assert_eq!((scale, out), ((199, 112), (112, 112)));
        let (scale, _) = plan_size(
            SizeMode::Fit {
                width: 112,
                height: 112,
            },
            720,
            1280,
            Rotation(90),
        );
        assert_eq!(
            scale,
            (199, 112),
            "scaled before rotation, in stored orientation"
        );
        assert_eq!(
            plan_size(SizeMode::Native, 175, 99, Rotation(0)),
            ((175, 99), (175, 99))
        );
    }
}
