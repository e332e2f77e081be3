//! Jobs that read media: opening a video for the canvas, probing the audio device.

use super::{Job, Repaint, start};
use crate::core::{Frame, Rational};
use crate::media::audio_out::{AudioOutputStatus, probe_output};
use crate::media::decode::{DecodeOptions, decode_frames};
use crate::media::probe::{MediaInfo, probe};
use std::path::PathBuf;

#[derive(Debug)]
pub enum LoadEvent {
    /// What the file holds (from `media::probe`).
    Info(Box<MediaInfo>),
    /// Decoding began: frames will be `width`×`height` at `fps`.
    Started {
        fps: Rational,
        width: u32,
        height: u32,
    },
    Frame(Frame),
    /// All frames sent; `hit_limit` when decoding stopped at `max_frames`; `warning` when the
    /// file decoded but is damaged (e.g. truncated).
    Finished {
        frames: usize,
        hit_limit: bool,
        warning: Option<String>,
    },
    /// One line naming the file and the cause.
    Failed(String),
}

/// Decodes then probes `path` on a worker thread named after the file, streaming frames back.
pub fn load_video(
    path: PathBuf,
    opts: DecodeOptions,
    repaint: Repaint,
) -> std::io::Result<Job<LoadEvent>> {
    let name = format!(
        "decode:{}",
        path.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default()
    );
    // A few frames of slack: enough to keep the UI fed, small enough to bound memory.
    start(name, 8, repaint, move |tx| {
        // Frames first, so the canvas fills at once; the probe can take as long as a full decode
        // (containers without a frame count are counted frame by frame).
        let result = decode_frames(
            &path,
            opts,
            |s| {
                tx.send(LoadEvent::Started {
                    fps: s.fps,
                    width: s.width,
                    height: s.height,
                });
            },
            |frame| tx.send(LoadEvent::Frame(frame)),
        );
        let summary = match result {
            Ok(s) => s,
            Err(e) => {
                tx.send(LoadEvent::Failed(e.to_string()));
                return;
            }
        };
        if tx.is_cancelled() {
            return;
        }
        // A file can decode yet fail the probe (a truncated MP4 shows its surviving frames):
        // keep the frames and pass the probe's finding on as a warning.
        let warning = match probe(&path) {
            Ok(info) => {
                tx.send(LoadEvent::Info(Box::new(info)));
                None
            }
            Err(e) => Some(e.to_string()),
        };
        tx.send(LoadEvent::Finished {
            frames: summary.frames,
            hit_limit: summary.frames >= opts.max_frames,
            warning,
        });
    })
}

/// Asks cpal for the default output device on a worker (ALSA can stall while it probes).
pub fn probe_audio_device(repaint: Repaint) -> std::io::Result<Job<AudioOutputStatus>> {
    start("audio-probe", 1, repaint, |tx| {
        tx.send(probe_output());
    })
}
