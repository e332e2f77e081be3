//! Decoding a file's audio track to interleaved f32 at its own sample rate and channel count.
//! (Resampling to a requested rate and layout arrives with the full media layer.)

use super::error::{MediaCause, MediaError};
use super::probe::open_input;
use crate::core::AudioBuffer;
use ffmpeg::format::Sample;
use ffmpeg::format::sample::Type;
use ffmpeg::media;
use ffmpeg_next as ffmpeg;
use std::path::Path;

/// Appends the samples of one decoded frame, interleaved, as f32 in [−1, 1].
fn append_f32(frame: &ffmpeg::frame::Audio, out: &mut Vec<f32>) -> Result<(), String> {
    let ch = usize::from(frame.channels());
    let n = frame.samples();
    let fmt = frame.format();
    let (bytes, planar) = match fmt {
        Sample::U8(t) => (1, t == Type::Planar),
        Sample::I16(t) => (2, t == Type::Planar),
        Sample::I32(t) | Sample::F32(t) => (4, t == Type::Planar),
        Sample::F64(t) | Sample::I64(t) => (8, t == Type::Planar),
        Sample::None => return Err("the decoder produced no sample format".into()),
    };
    let read = |b: &[u8]| -> f32 {
        match fmt {
            Sample::U8(_) => (f32::from(b[0]) - 128.0) / 128.0,
            Sample::I16(_) => f32::from(i16::from_ne_bytes([b[0], b[1]])) / 32768.0,
            Sample::I32(_) => i32::from_ne_bytes([b[0], b[1], b[2], b[3]]) as f32 / 2_147_483_648.0,
            Sample::F32(_) => f32::from_ne_bytes([b[0], b[1], b[2], b[3]]),
            Sample::F64(_) => {
                f64::from_ne_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f32
            }
            Sample::I64(_) => {
                i64::from_ne_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f32
                    / 9.223_372e18
            }
            Sample::None => 0.0,
        }
    };
    out.reserve(n * ch);
    if planar {
        let planes: Vec<&[u8]> = (0..ch).map(|c| frame.data(c)).collect();
        for i in 0..n {
            for p in &planes {
                out.push(read(&p[i * bytes..(i + 1) * bytes]));
            }
        }
    } else {
        let data = frame.data(0);
        for i in 0..n * ch {
            out.push(read(&data[i * bytes..(i + 1) * bytes]));
        }
    }
    Ok(())
}

/// The whole audio track of `path` (the best audio stream).
pub fn decode_audio(path: &Path) -> Result<AudioBuffer, MediaError> {
    let mut ictx = open_input(path)?;
    let err = |m: String| MediaError::new(path, MediaCause::Decode(m));
    let stream = ictx
        .streams()
        .best(media::Type::Audio)
        .ok_or_else(|| MediaError::new(path, MediaCause::Decode("no audio stream".into())))?;
    let idx = stream.index();
    let mut decoder = ffmpeg::codec::context::Context::from_parameters(stream.parameters())
        .and_then(|c| c.decoder().audio())
        .map_err(|e| err(e.to_string()))?;
    let (rate, channels) = (decoder.rate(), decoder.channels());
    let mut samples = Vec::new();
    let mut frame = ffmpeg::frame::Audio::empty();
    let mut packet = ffmpeg::Packet::empty();
    loop {
        match packet.read(&mut ictx) {
            Ok(()) => {}
            Err(ffmpeg::Error::Eof) => break,
            Err(ffmpeg::Error::InvalidData) => continue,
            Err(e) => return Err(err(e.to_string())),
        }
        if packet.stream() != idx || decoder.send_packet(&packet).is_err() {
            continue;
        }
        while decoder.receive_frame(&mut frame).is_ok() {
            append_f32(&frame, &mut samples).map_err(err)?;
        }
    }
    if decoder.send_eof().is_ok() {
        while decoder.receive_frame(&mut frame).is_ok() {
            append_f32(&frame, &mut samples).map_err(err)?;
        }
    }
    AudioBuffer::new(rate, channels, samples).map_err(|e| err(e.to_string()))
}
