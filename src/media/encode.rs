//! Writing clips: MP4 (H.264 through libx264 when FFmpeg has it, else MPEG-4 Part 2) with AAC
//! audio at the clip's frame rate, or a folder of PNG frames. Always written to a temporary name
//! in the destination folder and renamed on success, so a failure leaves nothing behind.

use super::error::{MediaCause, MediaError};
use crate::core::{AudioBuffer, Clip, Frame};
use ffmpeg::format::Pixel;
use ffmpeg::software::scaling;
use ffmpeg::{ChannelLayout, Dictionary, codec, encoder, format};
use ffmpeg_next as ffmpeg;
use std::path::{Path, PathBuf};

/// Called after each frame is written with (frames done, frames in all); returning `false`
/// stops the write, and nothing is left behind.
pub type FrameProgress<'a> = &'a mut dyn FnMut(usize, usize) -> bool;

/// Why a write did not finish: it failed, or the progress callback stopped it.
#[derive(Debug, thiserror::Error)]
pub enum WriteStop {
    #[error(transparent)]
    Failed(#[from] MediaError),
    #[error("stopped before the end")]
    Stopped,
}

impl WriteStop {
    /// As a media error about `path` (a stop becomes one too).
    pub fn into_media(self, path: &Path) -> MediaError {
        match self {
            WriteStop::Failed(e) => e,
            WriteStop::Stopped => {
                MediaError::new(path, MediaCause::Write("stopped before the end".into()))
            }
        }
    }
}

/// Video quality settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EncodeOptions {
    /// x264 constant rate factor (lower = better; 18 is visually lossless).
    pub crf: u8,
    /// x264 preset name.
    pub preset: &'static str,
    /// AAC bit rate per channel.
    pub audio_bps_per_channel: usize,
    /// Encoder threads (`None`: the encoder decides). Many small files encode faster one thread
    /// each, in parallel.
    pub threads: Option<u32>,
}

impl Default for EncodeOptions {
    fn default() -> Self {
        EncodeOptions {
            crf: 18,
            preset: "medium",
            audio_bps_per_channel: 64_000,
            threads: None,
        }
    }
}

/// Which video encoder this FFmpeg build offers for MP4.
pub fn video_encoder_name() -> &'static str {
    super::init();
    if encoder::find_by_name("libx264").is_some() {
        "libx264"
    } else {
        "mpeg4"
    }
}

fn ff_rational(r: crate::core::Rational) -> Result<ffmpeg::Rational, String> {
    let n = i32::try_from(r.num()).map_err(|_| format!("frame rate {r} is out of range"))?;
    let d = i32::try_from(r.den()).map_err(|_| format!("frame rate {r} is out of range"))?;
    Ok(ffmpeg::Rational::new(n, d))
}

/// The folder `path` will be written into (`.` for a bare name).
fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Why nothing can be written into `dir`, in words (the OS's own for anything unusual).
fn folder_problem(dir: &Path, e: &std::io::Error) -> String {
    match std::fs::metadata(dir) {
        Err(_) => format!("the folder {} does not exist", dir.display()),
        Ok(m) if !m.is_dir() => format!("{} is not a folder", dir.display()),
        Ok(_) => format!("cannot create a file in {}: {e}", dir.display()),
    }
}

fn tmp_in(path: &Path, suffix: &str) -> Result<tempfile::TempPath, MediaError> {
    let dir = parent_of(path);
    tempfile::Builder::new()
        .prefix(".triggerlab-")
        .suffix(suffix)
        .tempfile_in(dir)
        .map(|f| f.into_temp_path())
        .map_err(|e| MediaError::new(path, MediaCause::Write(folder_problem(dir, &e))))
}

/// A file written under a temporary name beside its destination, not yet in place. Dropping it
/// removes it; [`PendingFile::persist`] renames it into place.
#[derive(Debug)]
pub struct PendingFile {
    tmp: tempfile::TempPath,
    path: PathBuf,
}

impl PendingFile {
    /// Reserves a temporary file in `path`'s folder (so the final rename cannot cross file
    /// systems). Fails at once, naming `path`, when that folder cannot be written.
    pub fn new(path: &Path, suffix: &str) -> Result<PendingFile, MediaError> {
        Ok(PendingFile {
            tmp: tmp_in(path, suffix)?,
            path: path.to_path_buf(),
        })
    }

    /// Where the contents are now.
    pub fn temp_path(&self) -> &Path {
        &self.tmp
    }

    /// Where they will go.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Renames the file into place (replacing what was there).
    pub fn persist(self) -> Result<PathBuf, MediaError> {
        let path = self.path;
        self.tmp
            .persist(&path)
            .map_err(|e| MediaError::new(&path, MediaCause::Write(e.error.to_string())))?;
        Ok(path)
    }
}

struct VideoOut {
    enc: encoder::Video,
    scaler: scaling::Context,
    rgb: ffmpeg::frame::Video,
    yuv: ffmpeg::frame::Video,
    stream: usize,
    time_base: ffmpeg::Rational,
}

struct AudioOut {
    enc: encoder::Audio,
    stream: usize,
    time_base: ffmpeg::Rational,
    frame_size: usize,
}

fn drain_video(v: &mut VideoOut, octx: &mut format::context::Output) -> Result<(), String> {
    let mut pkt = ffmpeg::Packet::empty();
    while v.enc.receive_packet(&mut pkt).is_ok() {
        pkt.set_stream(v.stream);
        // One packet is one frame; without a duration the muxer does not count the last one.
        pkt.set_duration(1);
        let ost_tb = octx
            .stream(v.stream)
            .map(|s| s.time_base())
            .unwrap_or(v.time_base);
        pkt.rescale_ts(v.time_base, ost_tb);
        pkt.write_interleaved(octx)
            .map_err(|e| format!("writing video: {e}"))?;
    }
    Ok(())
}

fn drain_audio(a: &mut AudioOut, octx: &mut format::context::Output) -> Result<(), String> {
    let mut pkt = ffmpeg::Packet::empty();
    while a.enc.receive_packet(&mut pkt).is_ok() {
        pkt.set_stream(a.stream);
        if pkt.duration() == 0 {
            pkt.set_duration(a.frame_size as i64);
        }
        let ost_tb = octx
            .stream(a.stream)
            .map(|s| s.time_base())
            .unwrap_or(a.time_base);
        pkt.rescale_ts(a.time_base, ost_tb);
        pkt.write_interleaved(octx)
            .map_err(|e| format!("writing audio: {e}"))?;
    }
    Ok(())
}

/// `Ok(false)`: stopped by `progress` (the caller removes the file).
fn encode_mp4_into(
    clip: &Clip,
    tmp: &Path,
    opts: &EncodeOptions,
    progress: FrameProgress,
) -> Result<bool, String> {
    let (w, h) = clip.size().ok_or("the clip has no frames")?;
    let mut octx =
        format::output_as(tmp, "mp4").map_err(|e| format!("cannot create the file: {e}"))?;
    let global_header = octx.format().flags().contains(format::Flags::GLOBAL_HEADER);
    let fps = ff_rational(clip.fps())?;
    let frame_tb = ff_rational(clip.fps().recip().ok_or("zero frame rate")?)?;

    // Video.
    let x264 = video_encoder_name() == "libx264";
    let vcodec = if x264 {
        encoder::find_by_name("libx264")
    } else {
        encoder::find(codec::Id::MPEG4)
    }
    .ok_or("FFmpeg has neither libx264 nor an MPEG-4 encoder")?;
    let odd = w % 2 == 1 || h % 2 == 1;
    if odd && !x264 {
        return Err(format!(
            "MPEG-4 Part 2 needs even sides; the clip is {w}×{h}"
        ));
    }
    // 4:2:0 halves the chroma resolution, so odd sides use 4:4:4 (x264 supports it).
    let pix = if odd { Pixel::YUV444P } else { Pixel::YUV420P };
    let vstream = octx.add_stream(vcodec).map_err(|e| e.to_string())?.index();
    let mut venc = codec::context::Context::new_with_codec(vcodec)
        .encoder()
        .video()
        .map_err(|e| e.to_string())?;
    venc.set_width(w);
    venc.set_height(h);
    venc.set_format(pix);
    venc.set_time_base(frame_tb);
    venc.set_frame_rate(Some(fps));
    if global_header {
        venc.set_flags(codec::Flags::GLOBAL_HEADER);
    }
    let mut vopts = Dictionary::new();
    if x264 {
        vopts.set("crf", &opts.crf.to_string());
        vopts.set("preset", opts.preset);
    }
    if let Some(t) = opts.threads {
        vopts.set("threads", &t.to_string());
    } else {
        // ~0.5 bit per pixel keeps MPEG-4 Part 2 close to transparent at these sizes.
        venc.set_bit_rate((f64::from(w * h) * clip.fps().to_f64() * 0.5) as usize);
    }
    let venc = venc
        .open_with(vopts)
        .map_err(|e| format!("cannot open the video encoder: {e}"))?;
    if let Some(mut s) = octx.stream_mut(vstream) {
        s.set_parameters(&venc);
        s.set_time_base(frame_tb);
    }
    let scaler = scaling::Context::get(Pixel::RGB24, w, h, pix, w, h, scaling::Flags::BILINEAR)
        .map_err(|e| format!("cannot convert to {pix:?}: {e}"))?;
    // FFmpeg does not clear new frames: zero the row padding so no uninitialised byte can
    // reach the encoder (same clip, same bytes).
    let mut rgb = ffmpeg::frame::Video::new(Pixel::RGB24, w, h);
    rgb.data_mut(0).fill(0);
    let mut video = VideoOut {
        enc: venc,
        scaler,
        rgb,
        yuv: ffmpeg::frame::Video::empty(),
        stream: vstream,
        time_base: frame_tb,
    };

    // Audio.
    let mut audio = match clip.audio() {
        None => None,
        Some(a) => Some(open_aac(&mut octx, a, global_header, opts)?),
    };

    octx.write_header()
        .map_err(|e| format!("writing the header: {e}"))?;

    let total = clip.frames().len();
    for (i, f) in clip.frames().iter().enumerate() {
        fill_rgb(&mut video.rgb, f);
        video
            .scaler
            .run(&video.rgb, &mut video.yuv)
            .map_err(|e| format!("colour conversion: {e}"))?;
        video.yuv.set_pts(Some(i as i64));
        video
            .enc
            .send_frame(&video.yuv)
            .map_err(|e| format!("encoding frame {i}: {e}"))?;
        drain_video(&mut video, &mut octx)?;
        if !progress(i + 1, total) {
            return Ok(false);
        }
    }
    video.enc.send_eof().map_err(|e| e.to_string())?;
    drain_video(&mut video, &mut octx)?;

    if let (Some(a), Some(buf)) = (audio.as_mut(), clip.audio()) {
        write_audio(a, buf, &mut octx)?;
    }
    octx.write_trailer()
        .map_err(|e| format!("finishing the file: {e}"))?;
    Ok(true)
}

fn open_aac(
    octx: &mut format::context::Output,
    a: &AudioBuffer,
    global_header: bool,
    opts: &EncodeOptions,
) -> Result<AudioOut, String> {
    let acodec = encoder::find(codec::Id::AAC).ok_or("FFmpeg has no AAC encoder")?;
    let stream = octx.add_stream(acodec).map_err(|e| e.to_string())?.index();
    let mut aenc = codec::context::Context::new_with_codec(acodec)
        .encoder()
        .audio()
        .map_err(|e| e.to_string())?;
    let rate = i32::try_from(a.sample_rate_hz()).map_err(|_| "sample rate out of range")?;
    let layout = ChannelLayout::default(i32::from(a.channels()));
    aenc.set_rate(rate);
    aenc.set_channel_layout(layout);
    aenc.set_channels(i32::from(a.channels()));
    aenc.set_format(format::Sample::F32(format::sample::Type::Planar));
    aenc.set_bit_rate(opts.audio_bps_per_channel * usize::from(a.channels()));
    let tb = ffmpeg::Rational::new(1, rate);
    aenc.set_time_base(tb);
    if global_header {
        aenc.set_flags(codec::Flags::GLOBAL_HEADER);
    }
    let aenc = aenc
        .open()
        .map_err(|e| format!("cannot open the AAC encoder: {e}"))?;
    if let Some(mut s) = octx.stream_mut(stream) {
        s.set_parameters(&aenc);
        s.set_time_base(tb);
    }
    let frame_size = (aenc.frame_size() as usize).max(1);
    Ok(AudioOut {
        enc: aenc,
        stream,
        time_base: tb,
        frame_size,
    })
}

fn write_audio(
    a: &mut AudioOut,
    buf: &AudioBuffer,
    octx: &mut format::context::Output,
) -> Result<(), String> {
    let ch = usize::from(buf.channels());
    let layout = ChannelLayout::default(ch as i32);
    let total = buf.len_frames();
    let mut start = 0;
    while start < total {
        // Fixed-size frames; FFmpeg's AAC encoder takes a short last one, so the track ends
        // with the clip instead of being padded.
        let n = a.frame_size.min(total - start);
        let mut fr =
            ffmpeg::frame::Audio::new(format::Sample::F32(format::sample::Type::Planar), n, layout);
        fr.set_rate(buf.sample_rate_hz());
        for c in 0..ch {
            let plane = fr.plane_mut::<f32>(c);
            for (k, v) in plane.iter_mut().enumerate() {
                let i = start + k;
                *v = if i < total {
                    buf.samples()[i * ch + c]
                } else {
                    0.0
                };
            }
        }
        fr.set_pts(Some(start as i64));
        a.enc
            .send_frame(&fr)
            .map_err(|e| format!("encoding audio: {e}"))?;
        drain_audio(a, octx)?;
        start += n;
    }
    a.enc.send_eof().map_err(|e| e.to_string())?;
    drain_audio(a, octx)
}

fn fill_rgb(dst: &mut ffmpeg::frame::Video, f: &Frame) {
    let w = f.width() as usize * 3;
    let stride = dst.stride(0);
    let data = dst.data_mut(0);
    for (y, row) in f.rgb().chunks_exact(w).enumerate() {
        data[y * stride..y * stride + w].copy_from_slice(row);
    }
}

/// Writes `clip` as an MP4 file at `path`, atomically.
pub fn write_mp4(clip: &Clip, path: &Path, opts: &EncodeOptions) -> Result<(), MediaError> {
    write_mp4_pending(clip, path, opts, &mut |_, _| true)
        .map_err(|e| e.into_media(path))?
        .persist()
        .map(|_| ())
}

/// Encodes `clip` as MP4 into a temporary file beside `path`, reporting each frame to
/// `progress`; the caller renames it into place with [`PendingFile::persist`] (after measuring
/// it, say) or drops it. A stop or a failure leaves nothing behind.
pub fn write_mp4_pending(
    clip: &Clip,
    path: &Path,
    opts: &EncodeOptions,
    progress: FrameProgress,
) -> Result<PendingFile, WriteStop> {
    super::init();
    let pending = PendingFile::new(path, ".mp4")?;
    let finished = encode_mp4_into(clip, pending.temp_path(), opts, progress)
        .map_err(|e| MediaError::new(path, MediaCause::Write(e)))?;
    if finished {
        Ok(pending)
    } else {
        Err(WriteStop::Stopped)
    }
}

/// Writes the frames as `frame_00000.png`, … into the folder `dir` (which must not exist yet or
/// be empty); the folder appears complete or not at all.
pub fn write_png_sequence(clip: &Clip, dir: &Path) -> Result<(), MediaError> {
    write_png_sequence_with(clip, dir, &mut |_, _| true)
        .map(|_| ())
        .map_err(|e| e.into_media(dir))
}

/// Whether a PNG sequence can go to `dir`: it is absent or an empty folder, and its parent is a
/// folder. Cheap, so callers can fail before any slow work.
pub fn check_png_target(dir: &Path) -> Result<(), MediaError> {
    let werr = |m: String| MediaError::new(dir, MediaCause::Write(m));
    if dir.exists() {
        if !dir.is_dir() {
            return Err(werr("exists and is not a folder".into()));
        }
        let empty = std::fs::read_dir(dir)
            .map_err(|e| werr(e.to_string()))?
            .next()
            .is_none();
        if !empty {
            return Err(werr("the folder exists and is not empty".into()));
        }
        return Ok(());
    }
    let parent = parent_of(dir);
    match std::fs::metadata(parent) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(werr(format!("{} is not a folder", parent.display()))),
        Err(_) => Err(werr(format!(
            "the folder {} does not exist",
            parent.display()
        ))),
    }
}

/// [`write_png_sequence`], reporting progress a few frames at a time (frames are encoded in
/// parallel, one batch per round of the thread pool); a stop removes what was written.
/// Returns the folder.
pub fn write_png_sequence_with(
    clip: &Clip,
    dir: &Path,
    progress: FrameProgress,
) -> Result<PathBuf, WriteStop> {
    use rayon::prelude::*;
    let werr = |m: String| MediaError::new(dir, MediaCause::Write(m));
    check_png_target(dir)?;
    let parent = parent_of(dir);
    // Dropped (and removed with what is in it) on any early return.
    let tmp = tempfile::Builder::new()
        .prefix(".triggerlab-frames-")
        .tempdir_in(parent)
        .map_err(|e| werr(folder_problem(parent, &e)))?;
    let total = clip.frames().len();
    let batch = rayon::current_num_threads().max(1);
    for (b, frames) in clip.frames().chunks(batch).enumerate() {
        frames.par_iter().enumerate().try_for_each(|(k, f)| {
            let i = b * batch + k;
            super::image_io::save_rgb(&tmp.path().join(format!("frame_{i:05}.png")), f)
        })?;
        if !progress((b * batch + frames.len()).min(total), total) {
            return Err(WriteStop::Stopped);
        }
    }
    if dir.exists() {
        // Empty (checked above); a rename cannot replace a folder on every platform.
        std::fs::remove_dir(dir).map_err(|e| werr(e.to_string()))?;
    }
    let kept = tmp.keep();
    std::fs::rename(&kept, dir).map_err(|e| {
        let _ = std::fs::remove_dir_all(&kept); // best effort: do not leave the temp folder behind
        werr(e.to_string())
    })?;
    Ok(dir.to_path_buf())
}
