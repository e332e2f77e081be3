//! `triggerlab info FILE [--json]`.

use crate::media::probe::{FrameCountSource, MediaInfo, probe};
use clap::Args;
use serde::Serialize;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct InfoArgs {
    /// The video file to describe.
    pub file: PathBuf,
    /// Print exactly one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// The `--json` schema: exactly these keys. `fps` is a float here; the text output also gives
/// the exact rational.
#[derive(Serialize)]
struct InfoJson<'a> {
    width: u32,
    height: u32,
    fps: f64,
    frames: u64,
    duration_secs: f64,
    video_codec: &'a str,
    audio: Option<&'a crate::media::probe::AudioInfo>,
}

pub fn run(args: &InfoArgs) -> anyhow::Result<()> {
    let info = probe(&args.file)?;
    if args.json {
        println!("{}", to_json(&info)?);
    } else {
        print!("{}", to_text(&args.file, &info));
    }
    Ok(())
}

pub fn to_json(info: &MediaInfo) -> serde_json::Result<String> {
    serde_json::to_string(&InfoJson {
        width: info.width,
        height: info.height,
        fps: info.fps.to_f64(),
        frames: info.frames,
        duration_secs: info.duration_secs,
        video_codec: &info.video_codec,
        audio: info.audio.as_ref(),
    })
}

pub fn to_text(path: &std::path::Path, info: &MediaInfo) -> String {
    let source = match info.frames_source {
        FrameCountSource::Container => "from the container".to_string(),
        FrameCountSource::Counted => "counted by decoding".to_string(),
        FrameCountSource::CountedContainerDisagrees { declared } => {
            format!("counted by decoding; the container declares {declared}")
        }
    };
    let audio = info.audio.as_ref().map_or("none".to_string(), |a| {
        format!(
            "{}, {} Hz, {} channel(s)",
            a.codec, a.sample_rate_hz, a.channels
        )
    });
    format!(
        "file:        {}\n\
         video:       {} ({}), {}x{}\n\
         frame rate:  {} ({:.3} fps)\n\
         frames:      {} ({source})\n\
         duration:    {:.3} s\n\
         audio:       {audio}\n",
        path.display(),
        info.video_codec,
        info.video_codec_long,
        info.width,
        info.height,
        info.fps,
        info.fps.to_f64(),
        info.frames,
        info.duration_secs,
    )
}
