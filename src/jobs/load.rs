//! Small jobs that read media or devices: probing a file, probing the audio device, making the
//! in-memory SynthMotion clips the studio starts with.

use super::{Job, Repaint, start};
use crate::core::Clip;
use crate::core::synth::{SynthSpec, synth_clip};
use crate::media::audio_out::{AudioOutputStatus, probe_output};
use crate::media::probe::{MediaInfo, probe};
use std::path::PathBuf;

/// Probes a file (counts frames when the container does not know them) off the UI thread.
pub fn probe_file(
    path: PathBuf,
    repaint: Repaint,
) -> std::io::Result<Job<Result<MediaInfo, String>>> {
    let name = format!(
        "probe:{}",
        path.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default()
    );
    start(name, 1, repaint, move |tx| {
        tx.send(probe(&path).map_err(|e| e.to_string()));
    })
}

/// Asks cpal for the default output device on a worker (ALSA can stall while it probes).
pub fn probe_audio_device(repaint: Repaint) -> std::io::Result<Job<AudioOutputStatus>> {
    start("audio-probe", 1, repaint, |tx| {
        tx.send(probe_output());
    })
}

/// One SynthMotion clip for the library.
#[derive(Debug)]
pub struct SynthItem {
    pub class: String,
    pub index: usize,
    pub clip: Result<Clip, String>,
}

/// Generates `spec.per_class` clips of every class, streaming them back as they are made.
pub fn generate_synth(spec: SynthSpec, repaint: Repaint) -> std::io::Result<Job<SynthItem>> {
    start("synth-library", 4, repaint, move |tx| {
        for i in 0..spec.per_class {
            for (c, m) in spec.motions().iter().enumerate() {
                let item = SynthItem {
                    class: m.name().to_string(),
                    index: i,
                    clip: synth_clip(&spec, c, i).map_err(|e| e.to_string()),
                };
                if !tx.send(item) {
                    return;
                }
            }
        }
    })
}
