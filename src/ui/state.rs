//! What the studio shows and edits, separate from how it is drawn.

use crate::core::{Clip, Frame};
use crate::media::probe::MediaInfo;
use std::path::PathBuf;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Tab {
    #[default]
    Studio,
    Experiments,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ClipSource {
    /// A clip of the procedural SynthMotion dataset, made in memory.
    Synth { class: String, index: usize },
    /// The orbiting-disc demo clip.
    Demo,
    /// A video file, streamed from disk as it plays.
    File(PathBuf),
}

#[derive(Clone, Debug, PartialEq)]
pub enum LoadState {
    Loading,
    Ready,
    Failed(String),
}

/// A streamed file's format, known once its decoder opened it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StreamMeta {
    pub fps: crate::core::Rational,
    pub width: u32,
    pub height: u32,
    pub duration_secs: f64,
}

/// A clip in the library.
pub struct ClipEntry {
    /// Distinguishes clips in texture keys, so a new clip never shows a stale upload.
    pub id: u32,
    pub name: String,
    pub source: ClipSource,
    /// In-memory clips (SynthMotion, demo).
    pub clip: Option<Clip>,
    /// Streamed files: the format, the frame on screen and its time.
    pub stream: Option<StreamMeta>,
    pub shown: Option<(f64, Frame)>,
    pub info: Option<MediaInfo>,
    pub load: LoadState,
    /// Waveform overview for the timeline, computed once when the audio arrives.
    pub envelope: Vec<(f32, f32)>,
    /// A problem found after loading (e.g. a truncated file that still plays).
    pub warning: Option<String>,
}

impl ClipEntry {
    pub fn duration_secs(&self) -> f64 {
        match (&self.clip, &self.stream) {
            (Some(c), _) => c.duration().to_f64(),
            (None, Some(m)) => m.duration_secs,
            _ => 0.0,
        }
    }

    pub fn fps(&self) -> Option<crate::core::Rational> {
        self.clip
            .as_ref()
            .map(|c| c.fps())
            .or(self.stream.map(|m| m.fps))
    }

    /// (width, height) of what the canvas shows.
    pub fn size(&self) -> Option<(u32, u32)> {
        self.clip
            .as_ref()
            .and_then(|c| c.size())
            .or(self.stream.map(|m| (m.width, m.height)))
    }
}

/// Requests from panels to the app, carried out after drawing.
#[derive(Clone, Debug, PartialEq)]
pub enum UiCommand {
    OpenVideoDialog,
    OpenVideo(PathBuf),
    Play,
    Pause,
    Seek(f64),
    SetLooping(bool),
    SetVolume(f32),
    /// Parse `experiments.spec_text` and start the run on a worker thread.
    StartRun,
    /// Ask the running experiment to stop after its current step.
    CancelRun,
}

/// How the canvas draws frames: through our wgpu pipeline, or (no wgpu, e.g. in UI tests) an
/// egui texture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CanvasBackend {
    Wgpu,
    EguiTexture,
}

#[derive(Default)]
pub struct StatusInfo {
    pub renderer: String,
    pub compute: String,
    pub audio: String,
    /// The latest message for the user, and whether it is an error.
    pub message: Option<(String, bool)>,
}

/// The transport as the panels see it; the app keeps it in step with the player (whose clock,
/// the audio actually played, is the master).
pub struct Playback {
    pub playing: bool,
    pub position_secs: f64,
    pub looping: bool,
    pub volume: f32,
}

pub struct StudioState {
    pub tab: Tab,
    pub clips: Vec<ClipEntry>,
    pub selected: Option<usize>,
    pub playback: Playback,
    pub status: StatusInfo,
    pub commands: Vec<UiCommand>,
    pub canvas_backend: CanvasBackend,
    pub experiments: super::ExperimentsState,
    pub(crate) texture: Option<(egui::TextureHandle, u64)>,
    /// Where the canvas drew the frame this frame, in points (`None`: no frame drawn).
    pub canvas_rect: Option<egui::Rect>,
    next_id: u32,
}

impl StudioState {
    pub fn new(canvas_backend: CanvasBackend) -> Self {
        StudioState {
            tab: Tab::Studio,
            clips: Vec::new(),
            selected: None,
            playback: Playback {
                playing: true,
                position_secs: 0.0,
                looping: true,
                volume: 1.0,
            },
            status: StatusInfo::default(),
            commands: Vec::new(),
            canvas_backend,
            experiments: super::ExperimentsState::new(crate::jobs::experiment::examples()),
            texture: None,
            canvas_rect: None,
            next_id: 0,
        }
    }

    /// Adds a library entry (loading); returns its index.
    pub fn add_clip(&mut self, name: String, source: ClipSource) -> usize {
        self.next_id += 1;
        self.clips.push(ClipEntry {
            id: self.next_id,
            name,
            source,
            clip: None,
            stream: None,
            shown: None,
            info: None,
            load: LoadState::Loading,
            envelope: Vec::new(),
            warning: None,
        });
        self.clips.len() - 1
    }

    pub fn select(&mut self, idx: usize) {
        if idx < self.clips.len() && self.selected != Some(idx) {
            self.selected = Some(idx);
            self.playback.position_secs = 0.0;
        }
    }

    pub fn selected_entry(&self) -> Option<&ClipEntry> {
        self.selected.and_then(|i| self.clips.get(i))
    }

    /// The frame at the playhead of the selected clip, and a key identifying it.
    pub fn current_frame(&self) -> Option<(Frame, u64)> {
        let e = self.selected_entry()?;
        if let Some(clip) = &e.clip {
            let i = self.current_frame_index()?;
            return Some((clip.frames()[i].clone(), (u64::from(e.id) << 32) | i as u64));
        }
        let (t, f) = e.shown.as_ref()?;
        Some((
            f.clone(),
            (u64::from(e.id) << 32) | ((t * 1000.0) as u64 & 0xffff_ffff),
        ))
    }

    /// The key of the frame last uploaded to the canvas texture (egui-texture backend only).
    pub fn canvas_texture_key(&self) -> Option<u64> {
        self.texture.as_ref().map(|(_, k)| *k)
    }

    /// Index of the frame at the playhead: exact for in-memory clips, estimated from the frame
    /// rate for streamed files.
    pub fn current_frame_index(&self) -> Option<usize> {
        let e = self.selected_entry()?;
        let fps = e.fps()?;
        let i = fps.frame_at_secs(self.playback.position_secs)? as usize;
        match &e.clip {
            Some(c) if !c.frames().is_empty() => Some(i.min(c.frames().len() - 1)),
            Some(_) => None,
            None => e.shown.as_ref().map(|_| i),
        }
    }

    pub fn info(&mut self, msg: impl Into<String>) {
        self.status.message = Some((msg.into(), false));
    }

    pub fn error(&mut self, msg: impl Into<String>) {
        self.status.message = Some((msg.into(), true));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::{Frame, Rational};

    #[test]
    fn playhead_maps_to_frames() {
        let mut s = StudioState::new(CanvasBackend::EguiTexture);
        let i = s.add_clip("x".into(), ClipSource::Demo);
        s.select(i);
        let f = Frame::new(2, 2, vec![0u8; 12]).expect("sized");
        s.clips[i].clip = Some(Clip::new(vec![f; 10], Rational::from_int(10), None).expect("ok"));
        assert_eq!(s.current_frame_index(), Some(0));
        s.playback.position_secs = 0.35;
        assert_eq!(s.current_frame_index(), Some(3));
        s.playback.position_secs = 5.0;
        assert_eq!(
            s.current_frame_index(),
            Some(9),
            "clamped to the last frame"
        );
        assert_eq!(s.clips[i].duration_secs(), 1.0);
    }
}
