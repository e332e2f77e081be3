//! What the studio shows and edits, separate from how it is drawn.

use crate::core::Clip;
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
    Demo,
    File(PathBuf),
}

#[derive(Clone, Debug, PartialEq)]
pub enum LoadState {
    Loading,
    /// All frames in; `hit_limit` when only the first frames were loaded.
    Ready {
        hit_limit: bool,
    },
    Failed(String),
}

/// A clip in the library: where it came from, what has arrived so far.
pub struct ClipEntry {
    /// Distinguishes clips in texture keys, so a new clip never shows a stale upload.
    pub id: u32,
    pub name: String,
    pub source: ClipSource,
    pub clip: Option<Clip>,
    pub info: Option<MediaInfo>,
    pub load: LoadState,
    /// Waveform overview for the timeline, computed once when the audio arrives.
    pub envelope: Vec<(f32, f32)>,
}

/// Requests from panels to the app, carried out after drawing.
#[derive(Clone, Debug, PartialEq)]
pub enum UiCommand {
    OpenVideoDialog,
    OpenVideo(PathBuf),
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

pub struct Playback {
    pub playing: bool,
    /// Position in the clip, seconds from frame 0.
    pub position_secs: f64,
}

pub struct StudioState {
    pub tab: Tab,
    pub clips: Vec<ClipEntry>,
    pub selected: Option<usize>,
    pub playback: Playback,
    pub status: StatusInfo,
    pub commands: Vec<UiCommand>,
    pub canvas_backend: CanvasBackend,
    pub(crate) texture: Option<(egui::TextureHandle, u64)>,
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
            },
            status: StatusInfo::default(),
            commands: Vec::new(),
            canvas_backend,
            texture: None,
            next_id: 0,
        }
    }

    /// Adds a library entry (loading) and selects it; returns its index.
    pub fn add_clip(&mut self, name: String, source: ClipSource) -> usize {
        self.next_id += 1;
        self.clips.push(ClipEntry {
            id: self.next_id,
            name,
            source,
            clip: None,
            info: None,
            load: LoadState::Loading,
            envelope: Vec::new(),
        });
        let idx = self.clips.len() - 1;
        self.select(idx);
        idx
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

    /// Index of the frame at the playhead in the selected clip, if it has frames.
    pub fn current_frame_index(&self) -> Option<usize> {
        let clip = self.selected_entry()?.clip.as_ref()?;
        let n = clip.frames().len();
        if n == 0 {
            return None;
        }
        let i = clip.fps().frame_at_secs(self.playback.position_secs)?;
        Some((i as usize).min(n - 1))
    }

    /// Advances the playhead by `dt` seconds, looping over what has been loaded.
    pub fn advance(&mut self, dt_secs: f64) {
        if !self.playback.playing || !dt_secs.is_finite() || dt_secs <= 0.0 {
            return;
        }
        let Some(clip) = self.selected_entry().and_then(|e| e.clip.as_ref()) else {
            return;
        };
        let len = clip.duration().to_f64();
        if len <= 0.0 {
            return;
        }
        self.playback.position_secs = (self.playback.position_secs + dt_secs) % len;
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
    fn playhead_loops_and_maps_to_frames() {
        let mut s = StudioState::new(CanvasBackend::EguiTexture);
        let i = s.add_clip("x".into(), ClipSource::Demo);
        let f = Frame::new(2, 2, vec![0u8; 12]).expect("sized");
        s.clips[i].clip = Some(Clip::new(vec![f; 10], Rational::from_int(10), None).expect("ok"));
        assert_eq!(s.current_frame_index(), Some(0));
        s.advance(0.35);
        assert_eq!(s.current_frame_index(), Some(3));
        s.advance(0.7); // 1.05 s wraps to 0.05 s in a 1 s clip
        assert_eq!(s.current_frame_index(), Some(0));
        s.playback.playing = false;
        s.advance(0.5);
        assert_eq!(s.current_frame_index(), Some(0));
    }
}
