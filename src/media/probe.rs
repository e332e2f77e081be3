//! `probe`: what a video file holds (size, rate, frame count, codecs, audio), checked by reading it.

use super::error::{MediaCause, MediaError, check_input_file};
use super::ffmpeg_log;
use crate::core::Rational;
use ffmpeg::format::stream::Disposition;
use ffmpeg::media::Type;
use ffmpeg_next as ffmpeg;
use std::path::Path;

pub use crate::core::media_info::{AudioInfo, FrameCountSource, MediaInfo};

pub(crate) fn rational(r: ffmpeg::Rational) -> Option<Rational> {
    if r.numerator() <= 0 || r.denominator() <= 0 {
        return None;
    }
    Rational::new(i64::from(r.numerator()), i64::from(r.denominator()))
}

fn open_error(path: &Path, e: ffmpeg::Error) -> MediaError {
    // FFmpeg's return code is generic ("Invalid data found…"); its last log line usually says
    // what was actually wrong ("moov atom not found"), so both go into the message.
    let cause = match ffmpeg_log::take_last_error() {
        Some(detail) if !detail.is_empty() => format!("{e}: {detail}"),
        _ => e.to_string(),
    };
    MediaError::new(path, MediaCause::Open(cause))
}

/// The stream's frame rate: the average rate, else the container's rate guess.
pub(crate) fn stream_fps(stream: &ffmpeg::format::stream::Stream) -> Option<Rational> {
    rational(stream.avg_frame_rate()).or_else(|| rational(stream.rate()))
}

/// A decoder context for a stream, tagged so FFmpeg's frame threads report errors to the
/// thread that opens it (see `ffmpeg_log`).
pub(crate) fn decoder_context(
    params: ffmpeg::codec::Parameters,
) -> Result<ffmpeg::codec::context::Context, ffmpeg::Error> {
    let mut ctx = ffmpeg::codec::context::Context::from_parameters(params)?;
    ffmpeg_log::tag_decoder(&mut ctx);
    Ok(ctx)
}

pub(crate) fn open_input(path: &Path) -> Result<ffmpeg::format::context::Input, MediaError> {
    super::init();
    check_input_file(path)?;
    ffmpeg_log::take_last_error();
    ffmpeg::format::input(path).map_err(|e| open_error(path, e))
}

/// The index of the best real video stream (cover art in audio files does not count).
pub(crate) fn video_stream_index(
    path: &Path,
    ictx: &ffmpeg::format::context::Input,
) -> Result<usize, MediaError> {
    let is_video = |s: &ffmpeg::format::stream::Stream| {
        s.parameters().medium() == Type::Video
            && !s.disposition().contains(Disposition::ATTACHED_PIC)
    };
    if let Some(best) = ictx.streams().best(Type::Video)
        && is_video(&best)
    {
        return Ok(best.index());
    }
    if let Some(s) = ictx.streams().find(is_video) {
        return Ok(s.index());
    }
    let kinds: Vec<String> = ictx
        .streams()
        .map(|s| format!("{:?}", s.parameters().medium()).to_lowercase())
        .collect();
    let what = if kinds.is_empty() {
        "no streams".to_string()
    } else {
        format!("only {} stream(s)", kinds.join(", "))
    };
    Err(MediaError::new(path, MediaCause::NoVideoStream(what)))
}

fn codec_names(id: ffmpeg::codec::Id) -> (String, String) {
    let short = id.name().to_string();
    let long = ffmpeg::decoder::find(id)
        .map(|c| c.description().to_string())
        .unwrap_or_else(|| short.clone());
    (short, long)
}

/// The native sample rate and channel count of the best audio stream (works for audio-only
/// files too), or `None` when there is none.
pub fn probe_audio(path: &Path) -> Result<Option<(u32, u16)>, MediaError> {
    let ictx = open_input(path)?;
    let Some(s) = ictx.streams().best(Type::Audio) else {
        return Ok(None);
    };
    let dec = decoder_context(s.parameters())
        .and_then(|c| c.decoder().audio())
        .map_err(|e| MediaError::new(path, MediaCause::Decode(e.to_string())))?;
    Ok(Some((dec.rate(), dec.channels())))
}

/// Decodes every frame of stream `vidx` from the start and counts them.
fn count_decoded_frames(path: &Path, vidx: usize) -> Result<u64, MediaError> {
    let mut ictx = open_input(path)?;
    let decode_err = |e: ffmpeg::Error| MediaError::new(path, MediaCause::Decode(e.to_string()));
    let stream = ictx
        .stream(vidx)
        .ok_or_else(|| MediaError::new(path, MediaCause::Decode("stream vanished".into())))?;
    let mut decoder = decoder_context(stream.parameters())
        .map_err(decode_err)?
        .decoder()
        .video()
        .map_err(decode_err)?;
    let mut frame = ffmpeg::frame::Video::empty();
    let mut count = 0u64;
    for (stream, packet) in ictx.packets() {
        if stream.index() == vidx && decoder.send_packet(&packet).is_ok() {
            while decoder.receive_frame(&mut frame).is_ok() {
                count += 1;
            }
        }
    }
    if decoder.send_eof().is_ok() {
        while decoder.receive_frame(&mut frame).is_ok() {
            count += 1;
        }
    }
    Ok(count)
}

/// Reads a file's streams. Frame counts are exact: taken from the container when every frame it
/// declares is present; a shortfall with read errors is reported as truncation; otherwise (no
/// count, or one that disagrees) every frame is decoded and counted. The first frame is always decoded, so a file that only looks right is caught.
pub fn probe(path: &Path) -> Result<MediaInfo, MediaError> {
    let mut ictx = open_input(path)?;
    let vidx = video_stream_index(path, &ictx)?;
    let decode_err = |e: ffmpeg::Error| MediaError::new(path, MediaCause::Decode(e.to_string()));

    let (width, height, fps, declared, stream_duration_secs, mut decoder, codec) = {
        let stream = ictx
            .stream(vidx)
            .ok_or_else(|| MediaError::new(path, MediaCause::Decode("stream vanished".into())))?;
        let fps =
            stream_fps(&stream).ok_or_else(|| MediaError::new(path, MediaCause::NoFrameRate))?;
        let stream_duration_secs = rational(stream.time_base())
            .filter(|_| stream.duration() > 0)
            .map(|tb| stream.duration() as f64 * tb.to_f64());
        let ctx = decoder_context(stream.parameters()).map_err(decode_err)?;
        let decoder = ctx.decoder().video().map_err(decode_err)?;
        let codec = codec_names(decoder.id());
        (
            decoder.width(),
            decoder.height(),
            fps,
            u64::try_from(stream.frames()).unwrap_or(0),
            stream_duration_secs,
            decoder,
            codec,
        )
    };
    if width == 0 || height == 0 {
        return Err(MediaError::new(
            path,
            MediaCause::Decode("the stream declares a 0-pixel frame size".into()),
        ));
    }

    let audio = match ictx.streams().best(Type::Audio) {
        Some(s) => {
            let ctx = decoder_context(s.parameters()).map_err(decode_err)?;
            let dec = ctx.decoder().audio().map_err(decode_err)?;
            Some(AudioInfo {
                sample_rate_hz: dec.rate(),
                channels: dec.channels(),
                codec: codec_names(dec.id()).0,
            })
        }
        None => None,
    };

    // Walk the video packets. Decoding stops after the first frame unless we must count.
    let count_by_decoding = declared == 0;
    let mut packets = 0u64;
    let mut decoded = 0u64;
    let mut read_error: Option<String> = None;
    let errors_before = ffmpeg_log::errors_logged();
    let mut frame = ffmpeg::frame::Video::empty();
    loop {
        // A fresh packet per read: av_read_frame does not release what a reused one held.
        let mut packet = ffmpeg::Packet::empty();
        match packet.read(&mut ictx) {
            Ok(()) => {}
            Err(ffmpeg::Error::Eof) => break,
            // A demuxer can resync past one corrupt packet; remember why it was corrupt.
            Err(e @ ffmpeg::Error::InvalidData) => {
                read_error = Some(ffmpeg_log::take_last_error().unwrap_or_else(|| e.to_string()));
                continue;
            }
            Err(e) => {
                read_error = Some(ffmpeg_log::take_last_error().unwrap_or_else(|| e.to_string()));
                break;
            }
        }
        if packet.stream() != vidx {
            continue;
        }
        packets += 1;
        if count_by_decoding || decoded == 0 {
            // A corrupt packet costs its frame, not the whole count.
            if decoder.send_packet(&packet).is_ok() {
                while decoder.receive_frame(&mut frame).is_ok() {
                    decoded += 1;
                }
            }
        }
    }
    if read_error.is_none() && ffmpeg_log::errors_logged() > errors_before {
        read_error = ffmpeg_log::take_last_error();
    }
    if (count_by_decoding || decoded == 0) && decoder.send_eof().is_ok() {
        while decoder.receive_frame(&mut frame).is_ok() {
            decoded += 1;
        }
    }
    if decoded == 0 {
        let detail = ffmpeg_log::take_last_error()
            .unwrap_or_else(|| format!("{packets} video packets read, no frame decoded"));
        return Err(MediaError::new(path, MediaCause::Decode(detail)));
    }
    let (frames, frames_source) = if count_by_decoding {
        (decoded, FrameCountSource::Counted)
    } else if packets == declared {
        (declared, FrameCountSource::Container)
    } else if let (true, Some(detail)) = (packets < declared, read_error) {
        // The index promises frames whose bytes are missing or unreadable.
        return Err(MediaError::new(
            path,
            MediaCause::Truncated {
                declared,
                found: packets,
                detail,
            },
        ));
    } else {
        // The index disagrees with the packets but nothing failed to read: e.g. AVI pads its
        // index with empty "drop frame" chunks. Count what actually decodes.
        (
            count_decoded_frames(path, vidx)?,
            FrameCountSource::CountedContainerDisagrees { declared },
        )
    };

    let container_secs = (ictx.duration() > 0)
        .then(|| ictx.duration() as f64 / f64::from(ffmpeg::ffi::AV_TIME_BASE));
    let duration_secs = container_secs
        .or(stream_duration_secs)
        .unwrap_or_else(|| frames as f64 / fps.to_f64());

    Ok(MediaInfo {
        width,
        height,
        fps,
        frames,
        frames_source,
        duration_secs,
        video_codec: codec.0,
        video_codec_long: codec.1,
        audio,
    })
}
