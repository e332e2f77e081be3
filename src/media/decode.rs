//! Decoding video frames into `core::Frame`s for the studio's canvas.
//!
//! This is the first, simple decoder: frames in stream order, scaled to fit a size limit, handed
//! to a callback one at a time so the caller (a worker thread) can stream them out and stop early.

use super::error::{MediaCause, MediaError};
use super::probe::{open_input, rational, video_stream_index};
use crate::core::{Frame, Rational};
use ffmpeg::format::Pixel;
use ffmpeg::software::scaling;
use ffmpeg_next as ffmpeg;
use std::path::Path;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodeOptions {
    /// Frames are scaled down (keeping aspect) so neither side exceeds this.
    pub max_side: u32,
    /// Stop after this many frames.
    pub max_frames: usize,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            max_side: 640,
            max_frames: 240,
        }
    }
}

/// Output size for a `w`×`h` source under `max_side`: aspect kept, sides even (what most
/// encoders and chroma-subsampled formats want), never below 2.
pub fn fit_size(w: u32, h: u32, max_side: u32) -> (u32, u32) {
    let scale = (f64::from(max_side) / f64::from(w.max(h))).min(1.0);
    let even = |v: f64| ((v.round() as u32) & !1).max(2);
    (even(f64::from(w) * scale), even(f64::from(h) * scale))
}

/// What a decode found before the callback stopped it or the stream ended.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DecodeSummary {
    pub fps: Rational,
    pub frames: usize,
    pub width: u32,
    pub height: u32,
}

/// Decodes up to `opts.max_frames` frames, calling `on_frame` with each; `on_frame` returns
/// `false` to stop. `on_start` gets the frame rate and output size before the first frame.
pub fn decode_frames(
    path: &Path,
    opts: DecodeOptions,
    mut on_start: impl FnMut(DecodeSummary),
    mut on_frame: impl FnMut(Frame) -> bool,
) -> Result<DecodeSummary, MediaError> {
    let mut ictx = open_input(path)?;
    let vidx = video_stream_index(path, &ictx)?;
    let err = |e: ffmpeg::Error| MediaError::new(path, MediaCause::Decode(e.to_string()));
    let (fps, mut decoder) = {
        let stream = ictx
            .stream(vidx)
            .ok_or_else(|| MediaError::new(path, MediaCause::Decode("stream vanished".into())))?;
        let fps = rational(stream.avg_frame_rate())
            .or_else(|| rational(stream.rate()))
            .ok_or_else(|| MediaError::new(path, MediaCause::NoFrameRate))?;
        let ctx =
            ffmpeg::codec::context::Context::from_parameters(stream.parameters()).map_err(err)?;
        (fps, ctx.decoder().video().map_err(err)?)
    };
    let (out_w, out_h) = fit_size(decoder.width(), decoder.height(), opts.max_side.max(2));
    let mut summary = DecodeSummary {
        fps,
        frames: 0,
        width: out_w,
        height: out_h,
    };
    on_start(summary);

    // The scaler is made from the first decoded frame: the stream's format can differ from
    // what the codec parameters said, and may change mid-stream.
    let mut scaler: Option<(scaling::Context, Pixel, u32, u32)> = None;
    let mut decoded = ffmpeg::frame::Video::empty();
    let mut rgb = ffmpeg::frame::Video::empty();
    let mut keep_going = true;

    let mut drain = |decoder: &mut ffmpeg::decoder::Video,
                     summary: &mut DecodeSummary,
                     keep_going: &mut bool|
     -> Result<(), MediaError> {
        while *keep_going && decoder.receive_frame(&mut decoded).is_ok() {
            let key = (decoded.format(), decoded.width(), decoded.height());
            if scaler.as_ref().map(|s| (s.1, s.2, s.3)) != Some(key) {
                let ctx = scaling::Context::get(
                    key.0,
                    key.1,
                    key.2,
                    Pixel::RGB24,
                    out_w,
                    out_h,
                    scaling::Flags::BILINEAR,
                )
                .map_err(err)?;
                scaler = Some((ctx, key.0, key.1, key.2));
            }
            if let Some((ctx, ..)) = scaler.as_mut() {
                ctx.run(&decoded, &mut rgb).map_err(err)?;
            }
            let frame = copy_rgb(&rgb, out_w, out_h)
                .map_err(|e| MediaError::new(path, MediaCause::Decode(e.to_string())))?;
            summary.frames += 1;
            *keep_going = on_frame(frame) && summary.frames < opts.max_frames;
        }
        Ok(())
    };

    let mut packet = ffmpeg::Packet::empty();
    while keep_going {
        match packet.read(&mut ictx) {
            Ok(()) => {}
            Err(ffmpeg::Error::Eof) => break,
            Err(ffmpeg::Error::InvalidData) => continue,
            Err(e) => {
                tracing::warn!("{}: reading stopped early: {e}", path.display());
                break;
            }
        }
        if packet.stream() != vidx {
            continue;
        }
        if let Err(e) = decoder.send_packet(&packet) {
            tracing::debug!(
                "{}: skipped a packet the decoder refused: {e}",
                path.display()
            );
            continue;
        }
        drain(&mut decoder, &mut summary, &mut keep_going)?;
    }
    if keep_going && decoder.send_eof().is_ok() {
        drain(&mut decoder, &mut summary, &mut keep_going)?;
    }
    if summary.frames == 0 {
        return Err(MediaError::new(
            path,
            MediaCause::Decode("no frame could be decoded".into()),
        ));
    }
    Ok(summary)
}

/// Copies an RGB24 FFmpeg frame (rows padded to its stride) into a tight `core::Frame`.
fn copy_rgb(rgb: &ffmpeg::frame::Video, w: u32, h: u32) -> Result<Frame, crate::core::ClipError> {
    let stride = rgb.stride(0);
    let row = w as usize * 3;
    let data = rgb.data(0);
    let mut out = Vec::with_capacity(row * h as usize);
    for y in 0..h as usize {
        out.extend_from_slice(&data[y * stride..y * stride + row]);
    }
    Frame::new(w, h, out)
}

#[cfg(test)]
mod tests {
    use super::fit_size;

    #[test]
    fn fit_keeps_aspect_and_even_sides() {
        assert_eq!(fit_size(1280, 720, 640), (640, 360));
        assert_eq!(fit_size(720, 1280, 640), (360, 640));
        assert_eq!(fit_size(321, 241, 640), (320, 240)); // never upscales, evens odd sides
        assert_eq!(fit_size(1, 1, 640), (2, 2));
    }
}
