//! What the studio shows and edits, separate from how it is drawn.

use crate::core::design::{DesignCommand, Document};
use crate::core::media_info::MediaInfo;
use crate::core::{Clip, Frame, SpecError};
use crate::jobs::preview::{ClipStealth, PreviewFrame, PreviewKey};
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
    /// What the design document calls this clip.
    pub fn clip_ref(&self) -> crate::core::design::ClipRef {
        use crate::core::design::ClipRef;
        match &self.source {
            ClipSource::Demo => ClipRef::Demo,
            ClipSource::Synth { class, index } => ClipRef::Synth {
                class: class.clone(),
                index: *index,
            },
            ClipSource::File(p) => ClipRef::File { path: p.clone() },
        }
    }

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
// A handful are sent per frame; boxing the design variant would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum UiCommand {
    /// An edit of the design document (applied by `Document::apply`, the one place that does).
    Design(DesignCommand),
    Undo,
    Redo,
    NewProject,
    OpenProjectDialog,
    OpenProject(PathBuf),
    SaveProject,
    SaveProjectAs,
    /// Accept or decline the autosave of a session that did not exit cleanly.
    RestoreAutosave(bool),
    CopySpecToml,
    SaveSpecDialog,
    LoadSpecDialog,
    /// Put the design's attack into the Experiments tab's spec.
    UseInExperiment,
    /// Choose a PNG for the patch editor.
    ImportPatchDialog,
    /// Read a PNG (on a worker) into the patch editor.
    ImportPatch(PathBuf),
    /// Choose a run folder for the model lens.
    LoadModelDialog,
    /// Load a run's model (on a worker) into the model lens.
    LoadModel(PathBuf),
    Export(ExportKind),
    CancelExport,
    OpenVideoDialog,
    OpenVideo(PathBuf),
    OpenDatasetDialog,
    /// Read a dataset folder (on a worker) into the library.
    OpenDataset(PathBuf),
    /// Close an open (or loading) dataset folder.
    CloseDataset(PathBuf),
    /// Files dropped on the window: folders open as datasets, files as videos.
    OpenDropped(Vec<PathBuf>),
    Play,
    Pause,
    Seek(f64),
    /// Move the playhead by this many frames (paused), or to a frame.
    Step(i64),
    SeekFrame(usize),
    SetLooping(bool),
    SetVolume(f32),
    /// Playback speed (one of `app::prefs::SPEEDS`).
    SetSpeed(f32),
    /// Draw the canvas's poisoned frame on the GPU (or from the CPU result).
    SetGpuPreview(bool),
    SetMonitor(crate::jobs::player::Monitor),
    /// Parse `experiments.spec_text` and start the run on a worker thread.
    StartRun,
    /// Ask the running experiment to stop after its current step.
    CancelRun,
    /// Add the tab's spec to the run queue (it starts when the runs before it end).
    QueueRun,
    /// Drop queued run `i`.
    Unqueue(usize),
    /// The guided demo: the quick demo trained and narrated, then opened in the model lens.
    RunDemo,
    /// Rescan the run history's output root (on a worker).
    ScanRuns,
    /// Write the compared runs' table (CSV) or curves (PNG) into the output root.
    ExportRuns {
        png: bool,
    },
    /// Show a folder in the system's file manager.
    OpenFolder(PathBuf),
    /// Run the model lens's sensitivity sweep (its settings in `lens.sweep`) on a worker.
    StartSweep,
    CancelSweep,
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
    /// Playback speed; the sound plays only at 1× (no time-stretch).
    pub speed: f32,
    /// A/B of the audio trigger: clean, triggered, or the trigger alone.
    pub monitor: crate::jobs::player::Monitor,
}

/// What the preview worker last sent, and the canvas textures made from it.
#[derive(Default)]
pub struct PreviewView {
    /// The latest successful preview (shown until a newer one arrives, so a slider drag never
    /// blanks the canvas and a refused value keeps the last valid design on screen).
    pub latest: Option<(PreviewKey, Box<PreviewFrame>)>,
    /// Core's refusal of the current revision for this clip.
    pub error: Option<(PreviewKey, SpecError)>,
    /// The key last asked of the worker.
    pub requested: Option<PreviewKey>,
    pub clip_stealth: Option<(u32, u64, ClipStealth)>,
    pub(crate) textures: std::collections::HashMap<&'static str, (u64, bool, egui::TextureHandle)>,
    /// Whether the canvas draws the poisoned frame on the GPU (the app decides from the adapter
    /// and the user's choice); the CPU result still comes for the figures and the readout.
    pub gpu: GpuPreview,
    /// Whether the canvas drew the poisoned frame on the GPU this frame.
    pub gpu_drawn: bool,
}

/// The GPU preview's state: whether it can and should run, and the latest program to draw.
#[derive(Default)]
pub struct GpuPreview {
    /// eframe renders with wgpu, so the paint callback can run.
    pub available: bool,
    /// The canvas draws through it (on by default on a real GPU, off on a CPU rasteriser).
    pub on: bool,
    /// The latest program from the worker: (key, clean frame, program). Dropped when the
    /// trigger has no shader, so the CPU result draws.
    pub latest: Option<(PreviewKey, Frame, crate::core::trigger::GpuProgram)>,
    /// The key (the canvas's hash of clip, frame, revision) and message of the last error the
    /// GPU preview reported; the canvas draws the CPU result for that key.
    pub error: Option<(u64, String)>,
}

impl GpuPreview {
    /// The program to draw for `clip`, when the GPU preview is on.
    pub fn program_for(
        &self,
        clip: u32,
    ) -> Option<&(PreviewKey, Frame, crate::core::trigger::GpuProgram)> {
        self.latest
            .as_ref()
            .filter(|(k, _, _)| self.on && self.available && k.clip == clip)
    }
}

impl PreviewView {
    /// The preview of exactly this key, if it has arrived.
    pub fn exact(&self, key: PreviewKey) -> Option<&PreviewFrame> {
        self.latest
            .as_ref()
            .filter(|(k, _)| *k == key)
            .map(|(_, p)| p.as_ref())
    }
}

/// The timeline's thumbnails (made on a worker per revision) and their textures.
#[derive(Default)]
pub struct ThumbStrip {
    /// How many fit the timeline's width (the timeline sets it; the app asks for that many).
    pub wanted: usize,
    /// The latest strip that arrived (kept on screen until a newer one replaces it).
    pub shown: Option<(
        crate::jobs::thumbs::ThumbKey,
        Vec<crate::jobs::thumbs::Thumb>,
    )>,
    pub(crate) textures: Option<(crate::jobs::thumbs::ThumbKey, Vec<egui::TextureHandle>)>,
}

/// What an export writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportKind {
    /// The poisoned clip as MP4 with its audio.
    Mp4,
    /// The poisoned clip as PNG frames in a folder.
    Frames,
    /// The trigger alone: its patch as PNG.
    Patch,
    /// The trigger alone: the spec (TOML or JSON).
    Spec,
}

/// An export in progress and the last one's outcome.
#[derive(Default)]
pub struct ExportView {
    /// (stage, done, total) of the running export.
    pub progress: Option<(String, usize, usize)>,
    /// The last export's outcome (what was written, the codec-survival figure), and whether it
    /// failed.
    pub last: Option<(String, bool)>,
}

/// A project file's place and the recent ones.
#[derive(Default)]
pub struct ProjectInfo {
    pub path: Option<PathBuf>,
    pub recent: Vec<PathBuf>,
    /// An autosave from a session that crashed, offered for restore.
    pub restore_offer: Option<PathBuf>,
}

pub struct StudioState {
    pub tab: Tab,
    /// The design document: what the user made. Panels read it and send [`UiCommand::Design`].
    pub doc: Document,
    pub preview: PreviewView,
    pub thumbs: ThumbStrip,
    /// The last edit core refused (shown under its field until the next accepted edit).
    pub edit_error: Option<SpecError>,
    pub project: ProjectInfo,
    pub export: ExportView,
    pub clips: Vec<ClipEntry>,
    pub selected: Option<usize>,
    /// Datasets on disk, thumbnails, recent files and folders.
    pub library: super::LibraryView,
    pub playback: Playback,
    pub status: StatusInfo,
    pub commands: Vec<UiCommand>,
    pub experiments: super::ExperimentsState,
    /// The timeline's audio view: its choices and the latest pictures.
    pub audio_view: super::audio_view::AudioViewState,
    /// Where the canvas drew the frame this frame, in points (`None`: no frame drawn).
    pub canvas_rect: Option<egui::Rect>,
    /// Where the timeline drew its frame strip and thumbnail row (tests read the pixels there).
    pub strip_rect: Option<egui::Rect>,
    pub thumbs_rect: Option<egui::Rect>,
    /// The patch editor's tools and colours (not part of the design).
    pub patch_editor: super::patch_editor::PatchEditorState,
    /// Moving, resizing and picking on the canvas.
    pub canvas_tools: super::canvas_tools::CanvasToolsState,
    /// The model lens: the model on show and its latest answer.
    pub lens: super::lens::LensState,
    next_id: u32,
}

impl Default for StudioState {
    fn default() -> Self {
        Self::new()
    }
}

impl StudioState {
    pub fn new() -> Self {
        StudioState {
            tab: Tab::Studio,
            doc: Document::default(),
            preview: PreviewView::default(),
            thumbs: ThumbStrip::default(),
            edit_error: None,
            project: ProjectInfo::default(),
            export: ExportView::default(),
            clips: Vec::new(),
            selected: None,
            library: super::LibraryView::default(),
            playback: Playback {
                playing: true,
                position_secs: 0.0,
                looping: true,
                volume: 1.0,
                speed: 1.0,
                monitor: crate::jobs::player::Monitor::Triggered,
            },
            status: StatusInfo::default(),
            commands: Vec::new(),
            experiments: super::ExperimentsState::new(crate::jobs::experiment::examples()),
            audio_view: Default::default(),
            canvas_rect: None,
            strip_rect: None,
            thumbs_rect: None,
            patch_editor: Default::default(),
            canvas_tools: Default::default(),
            lens: Default::default(),
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
            let id = self.clips[idx].clip_ref().id();
            self.commands
                .push(UiCommand::Design(DesignCommand::Select(Some(id))));
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

    /// The key of the clean frame last uploaded to the canvas texture.
    pub fn canvas_texture_key(&self) -> Option<u64> {
        self.preview.textures.get("clean").map(|(k, _, _)| *k)
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

    /// The key the canvas wants on screen now: the selected clip's frame at the playhead under
    /// the current revision.
    pub fn preview_key(&self) -> Option<PreviewKey> {
        Some(PreviewKey {
            clip: self.selected_entry()?.id,
            frame: self.current_frame_index()?,
            revision: self.doc.revision(),
        })
    }

    /// Core's objections to the design: the last refused edit, and the preview's refusal of the
    /// current revision for the selected clip.
    pub fn spec_errors(&self) -> Vec<SpecError> {
        let mut v: Vec<SpecError> = self.edit_error.iter().cloned().collect();
        if let Some((k, e)) = &self.preview.error
            && k.revision == self.doc.revision()
            && Some(k.clip) == self.selected_entry().map(|e| e.id)
        {
            v.push(e.clone());
        }
        v
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
        let mut s = StudioState::new();
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
