//! The studio: `eframe::App` glue. Each frame drains worker events under a small time budget,
//! keeps the player and the video stream in step with the audio clock, draws the panels and
//! carries out what they asked for. Nothing here blocks: decoding, dialogs, device probes, audio
//! and screenshot saving run on named worker threads.

mod audio_view;
pub mod prefs;
mod thumbs_ctl;

use crate::core::Rational;
use crate::core::attack::AttackSpec;
use crate::core::design::{ClipRef, Design, DesignCommand, ViewMode};
use crate::core::synth::SynthSpec;
use crate::jobs::export::{ExportEvent, ExportRequest, ExportSource, ExportTarget, start_export};
use crate::jobs::load::{SynthItem, generate_synth, probe_audio_device, probe_file};
use crate::jobs::player::{
    AudioSource, Player, SinkChoice, StartedPlayer, TriggerAudio, start_player,
};
use crate::jobs::preview::{FrameSource, PreviewEvent, PreviewRequest, PreviewWorker};
use crate::jobs::project::{self as project, ProjectEvent};
use crate::jobs::stream::{StreamEvent, VideoStream, open_stream};
use crate::jobs::{self, Job, Repaint};
use crate::media::audio_out::AudioOutputStatus;
use crate::media::probe::MediaInfo;
use crate::media::reader::SizeMode;
use crate::train::device::{DevicePref, select_device};
use crate::ui::state::ExportKind;
use crate::ui::state::StreamMeta;
use crate::ui::{ClipSource, LoadState, StudioState, UiCommand};

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod library_ctl;
mod runs_ctl;
mod sweep_ctl;
use crate::jobs::library::RecentKind;

/// How long one UI frame may spend draining worker events.
const DRAIN_BUDGET: Duration = Duration::from_millis(10);
/// Waveform buckets for the timeline.
const ENVELOPE_BUCKETS: usize = 1200;
/// `--exit-after-frames` gives up waiting for startup work after this long.
const EXIT_DEADLINE: Duration = Duration::from_secs(60);
/// Streamed files are decoded at most this large for the canvas.
const STREAM_MAX_SIDE: u32 = 960;

/// The in-memory SynthMotion library the studio starts with (every class, 3 clips each).
pub fn library_spec() -> SynthSpec {
    SynthSpec {
        per_class: 3,
        size: 128,
        ..SynthSpec::default()
    }
}

/// Command-line options of the studio (used by tests and scripted screenshots).
#[derive(Clone, Debug, Default)]
pub struct StudioOptions {
    /// Render this many frames once startup work is done, then exit.
    pub exit_after_frames: Option<u64>,
    /// Save screenshots of the window here before exiting (needs `exit_after_frames`), one
    /// every `screenshot_interval`. Each gets a `<name>.json` beside it saying where the canvas
    /// is and which frame it shows, so a script can check the picture.
    pub screenshots: Vec<PathBuf>,
    pub screenshot_interval: Duration,
    /// The SynthMotion library to start with instead of [`library_spec`] (tests use a small one).
    pub library: Option<SynthSpec>,
    /// Open this video at startup, as "Open video…" would.
    pub open: Option<PathBuf>,
    /// (file name, TOML text): show it in the Experiments tab and start the run.
    pub experiment: Option<(String, String)>,
    /// Start the design with this attack, and the folder its relative paths resolve against.
    pub attack: Option<(AttackSpec, PathBuf)>,
    pub view: Option<ViewMode>,
    /// Open paused at this frame of the selected clip.
    pub frame: Option<usize>,
    /// A project already read (the command line checks it before the window opens).
    pub project: Option<(PathBuf, Design)>,
    /// Where autosaves go; default [`project::autosave_dir`] (tests use a temp folder).
    pub autosave_dir: Option<PathBuf>,
    /// Answer every file dialog with this path instead of asking (tests drive the menus with
    /// it; the answer takes the same path through the app as the user's would).
    pub dialog_answer: Option<PathBuf>,
    /// Open this dataset folder in the library at startup.
    pub dataset: Option<PathBuf>,
    /// Draw the poisoned frame on the GPU (`Some(true)`), with the CPU result (`Some(false)`),
    /// or choose from the adapter (`None`: the GPU unless it is a CPU rasteriser).
    pub gpu_preview: Option<bool>,
    /// Open with the patch editor showing.
    pub patch_editor: bool,
    /// Load this run folder's model into the model lens at startup.
    pub model: Option<PathBuf>,
    /// The guided demo's spec instead of examples/quick.toml (tests use a tiny one).
    pub demo_spec: Option<String>,
    /// The run history's output root instead of `runs`.
    pub runs_root: Option<PathBuf>,
    /// Start the guided demo at startup, as its button would.
    pub demo: bool,
    /// Open the Experiments tab on the run history.
    pub history: bool,
    /// Tick these run folders in the run history (their curves overlaid).
    pub compare: Vec<PathBuf>,
    /// Once the lens's model is loaded, run its sensitivity sweep on this parameter (a spec
    /// path such as `visual.opacity`, or `temporal.frames`) over its default range.
    pub sweep: Option<String>,
}

type AudioMixJob = Job<Result<Option<TriggerAudio>, String>>;

/// What a file dialog was opened for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DialogPurpose {
    Export(ExportKind),
    Video,
    Dataset,
    OpenProject,
    SaveProjectAs,
    LoadSpec,
    SaveSpec,
    ImportPatch,
    LoadModel,
}

/// Autosave: the design last written, and when.
struct Autosave {
    dir: PathBuf,
    written: Option<Design>,
    last: Instant,
    in_flight: bool,
}

/// Seconds after a change before the autosave writes it.
const AUTOSAVE_AFTER: Duration = Duration::from_secs(3);

/// What the run ended with; an error makes the process exit non-zero.
pub type ExitReport = Arc<Mutex<Option<String>>>;

/// The stream of the selected file and the next frame it has sent.
struct ActiveStream {
    clip_id: u32,
    stream: VideoStream,
    pending: Option<(f64, crate::core::Frame)>,
    ended: bool,
}

pub struct TriggerLabApp {
    state: StudioState,
    synth: Option<Job<SynthItem>>,
    probes: Vec<(u32, Job<Result<MediaInfo, String>>)>,
    audio_probe: Option<Job<AudioOutputStatus>>,
    /// What the startup probe found, so players do not probe the device again.
    audio_device: Option<bool>,
    dialog: Option<(DialogPurpose, Receiver<Option<PathBuf>>)>,
    preview: Option<PreviewWorker>,
    /// The diff gain the last preview request used (not part of the key).
    requested_gain: f32,
    /// Whether the last request asked for the GPU program.
    requested_gpu: bool,
    /// The user's GPU-preview choice (kept in the preferences); `None`: from the adapter.
    gpu_choice: Option<bool>,
    project_jobs: Vec<Job<ProjectEvent>>,
    spec_load: Option<Job<Result<(AttackSpec, PathBuf), String>>>,
    /// The model lens: the model on show, its loading, and the answer being computed.
    lens_model: Option<std::sync::Arc<crate::train::predict::Predictor>>,
    /// The lens's sensitivity sweep on its worker.
    sweep: Option<Job<jobs::lens::SweepEvent>>,
    /// `--sweep` was started.
    sweep_started: bool,
    lens_load: Option<(
        PathBuf,
        Job<Result<crate::train::predict::Predictor, String>>,
    )>,
    lens_job: Option<(
        crate::ui::lens::LensKey,
        Job<Result<crate::jobs::lens::LensAnswer, String>>,
    )>,
    /// A PNG being read for the patch editor.
    patch_import: Option<(
        PathBuf,
        Job<Result<crate::media::image_io::PatchPng, String>>,
    )>,
    writes: Vec<Job<Result<PathBuf, String>>>,
    /// Where relative paths in the spec resolve: the project's or the spec file's folder.
    assets_dir: PathBuf,
    autosave: Autosave,
    /// A seek the clock has not caught up with yet: the playhead shows its target meanwhile,
    /// so it has one source of truth and never snaps back.
    pending_seek: Option<(f64, Instant)>,
    /// A frame to go to (paused) once the selected clip is ready: `--frame`, a project's cursor.
    pending_frame: Option<usize>,
    /// A clip a project selected that has not arrived yet (SynthMotion loads in the background).
    pending_select: Option<String>,
    ctx: egui::Context,
    /// Dataset folders, thumbnails and the recent files list.
    library: library_ctl::LibraryCtl,
    title: String,
    player: Option<(u32, Player)>,
    stream: Option<ActiveStream>,
    /// The Experiments tab's run, queue, demo and run history.
    runs: runs_ctl::RunsCtl,
    compute_probe: Option<Job<String>>,
    /// The player being built on a worker, for this clip.
    player_start: Option<(u32, Job<Result<StartedPlayer, String>>)>,
    /// The audio trigger's contribution being mixed on a worker, for (clip, revision).
    audio_mix: Option<((u32, u64), AudioMixJob)>,
    thumbs: thumbs_ctl::ThumbCtl,
    /// The session marker and recent projects, read at start-up.
    session: Option<Job<project::SessionStart>>,
    /// Playing at a speed other than 1×: (wall-clock anchor, playhead at the anchor). The
    /// player is paused meanwhile (no time-stretch: the sound is muted) and the playhead runs
    /// from the wall clock.
    varispeed: Option<(Instant, f64, u32)>,
    export: Option<(Job<ExportEvent>, jobs::CancelFlag)>,
    /// The (clip, revision) whose trigger audio the player has.
    audio_mixed: Option<(u32, u64)>,
    /// Whether the player was last given an audio trigger (not `None`).
    trigger_in_player: bool,
    /// The timeline's audio view: file audio decoding and the pictures' jobs.
    audio_ctl: audio_view::AudioViewCtl,
    repaint: Repaint,
    opts: StudioOptions,
    /// Seeks carried out so far (each flushes the audio queue; tests check none happen unasked).
    seeks: u64,
    frames_rendered: u64,
    started: Instant,
    screenshot: ScreenshotState,
    exit_report: ExitReport,
}

enum ScreenshotState {
    /// The next screenshot to take, not before the given time.
    Next(usize, Option<Instant>),
    Saving(usize, Receiver<Result<PathBuf, String>>),
}

/// What the canvas showed when a screenshot was taken (written next to it as JSON).
#[derive(serde::Serialize)]
struct ScreenshotInfo {
    /// The frame's rectangle in the screenshot, in pixels: [x0, y0, x1, y1].
    canvas_px: Option<[f32; 4]>,
    clip: Option<String>,
    frame_index: Option<usize>,
    position_secs: f64,
}

impl TriggerLabApp {
    pub fn new(
        cc: &eframe::CreationContext<'_>,
        opts: StudioOptions,
        exit_report: ExitReport,
    ) -> Self {
        // With wgpu the canvas can draw the poisoned frame on the GPU (the interactive view);
        // the CPU result, what exports and training use, still comes for the figures. On a CPU
        // rasteriser (llvmpipe) the GPU path only competes with the CPU one, so it starts off.
        let renderer = match cc.wgpu_render_state.as_ref() {
            Some(rs) => crate::gpu::adapter_summary(&rs.adapter.get_info()),
            None => "egui texture (no wgpu)".to_string(),
        };
        let gpu_auto = cc
            .wgpu_render_state
            .as_ref()
            .map(|rs| rs.adapter.get_info().device_type != wgpu::DeviceType::Cpu);
        if let Some(rs) = cc.wgpu_render_state.as_ref() {
            crate::gpu::preview_callback::install(rs);
        }
        let ctx = cc.egui_ctx.clone();
        let app_ctx = ctx.clone();
        let slow_ctx = ctx.clone();
        let repaint: Repaint = Arc::new(move || ctx.request_repaint());
        // At most ~4 repaints a second for training: it sends an event per step, and drawing
        // each one would take CPU from the run (software rendering especially).
        let repaint_slow: Repaint =
            Arc::new(move || slow_ctx.request_repaint_after(Duration::from_millis(250)));
        let mut state = StudioState::new();
        state.status.renderer = renderer;
        state.preview.gpu.available = gpu_auto.is_some();
        state.preview.gpu.on = gpu_auto.unwrap_or(false);
        // CUDA device selection can take seconds (driver start-up): on a worker.
        state.status.compute = "probing…".into();
        state.status.audio = "probing…".into();
        state.patch_editor.open = opts.patch_editor;
        if let Some(dir) = &opts.model {
            state.commands.push(UiCommand::LoadModel(dir.clone()));
        }
        if opts.history {
            state.tab = crate::ui::Tab::Experiments;
            state.experiments.view = crate::ui::experiment_state::ExperimentsView::History;
        }
        state.experiments.history.selected = opts
            .compare
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        state.lens.sweep.path = opts.sweep.clone().unwrap_or_default();
        state.lens.sweep.open = opts.sweep.is_some();
        let autosave_dir = opts
            .autosave_dir
            .clone()
            .unwrap_or_else(project::autosave_dir);
        // The session marker and the recent list are files: read and written on a worker.
        let session = project::start_session(autosave_dir.clone(), repaint.clone())
            .map_err(|e| tracing::warn!("session start: {e}"))
            .ok();
        let mut app = TriggerLabApp {
            state,
            session,
            synth: None,
            probes: Vec::new(),
            audio_probe: None,
            audio_device: None,
            dialog: None,
            preview: None,
            requested_gain: 0.0,
            requested_gpu: false,
            gpu_choice: None,
            project_jobs: Vec::new(),
            spec_load: None,
            patch_import: None,
            lens_model: None,
            sweep: None,
            sweep_started: false,
            lens_load: None,
            lens_job: None,
            writes: Vec::new(),
            assets_dir: PathBuf::from("."),
            autosave: Autosave {
                dir: autosave_dir.clone(),
                written: None,
                last: Instant::now(),
                in_flight: false,
            },
            pending_seek: None,
            pending_frame: None,
            pending_select: None,
            library: library_ctl::LibraryCtl::new(autosave_dir.clone(), repaint.clone()),
            ctx: app_ctx,
            title: String::new(),
            compute_probe: None,
            player_start: None,
            audio_mix: None,
            thumbs: Default::default(),
            varispeed: None,
            audio_mixed: None,
            trigger_in_player: false,
            audio_ctl: Default::default(),
            export: None,
            player: None,
            stream: None,
            runs: runs_ctl::RunsCtl::new(opts.demo_spec.clone(), repaint_slow.clone()),
            repaint: repaint.clone(),
            opts,
            seeks: 0,
            frames_rendered: 0,
            started: Instant::now(),
            screenshot: ScreenshotState::Next(0, None),
            exit_report,
        };
        // Scripted runs (checks, screenshots) neither read nor keep preferences: what they
        // show must not depend on an earlier run.
        if let Some(p) = cc
            .storage
            .filter(|_| app.opts.exit_after_frames.is_none())
            .and_then(|st| eframe::get_value::<prefs::Prefs>(st, prefs::KEY))
        {
            app.apply_prefs(p);
        }
        // The first launch (stored preferences that never offered it, or none at all) offers
        // the guided demo; scripted runs never do.
        app.state.experiments.offer_demo = app.opts.exit_after_frames.is_none()
            && cc.storage.is_some()
            && !cc
                .storage
                .and_then(|st| eframe::get_value::<prefs::Prefs>(st, prefs::KEY))
                .is_some_and(|p| p.demo_offered);
        if let Some(on) = app.opts.gpu_preview {
            app.state.preview.gpu.on = on;
        }
        match probe_audio_device(repaint.clone()) {
            Ok(job) => app.audio_probe = Some(job),
            Err(e) => app.state.status.audio = format!("unknown ({e})"),
        }
        match jobs::start("compute-probe", 1, repaint.clone(), |tx| {
            let device = select_device(DevicePref::Auto);
            tx.send(match &device.fallback_reason {
                Some(why) => format!("{} (candle; {why})", device.label()),
                None => format!("{} (candle)", device.label()),
            });
        }) {
            Ok(job) => app.compute_probe = Some(job),
            Err(e) => app.state.status.compute = format!("unknown ({e})"),
        }
        match PreviewWorker::start(repaint.clone()) {
            Ok(w) => app.preview = Some(w),
            Err(e) => app.state.error(format!("could not start the preview: {e}")),
        }
        if let Some((path, design)) = app.opts.project.clone() {
            app.apply_project(path, design);
        }
        if let Some((spec, base)) = app.opts.attack.clone() {
            app.assets_dir = base;
            app.design(DesignCommand::SetSpec(spec));
        }
        if let Some(mode) = app.opts.view {
            let mut view = app.state.doc.design().view.clone();
            view.mode = mode;
            app.design(DesignCommand::SetView(view));
        }
        if let Some(f) = app.opts.frame {
            app.pending_frame = Some(f);
            app.state.playback.playing = false;
        }
        let library = app.opts.library.clone().unwrap_or_else(library_spec);
        match generate_synth(library, repaint) {
            Ok(job) => app.synth = Some(job),
            Err(e) => app.state.error(format!("could not start SynthMotion: {e}")),
        }
        if let Some(path) = app.opts.open.clone() {
            app.open_video(path.clone());
            app.library
                .remember(&mut app.state, path, RecentKind::Video);
        }
        if let Some(dir) = app.opts.dataset.clone() {
            app.library.open(&mut app.state, dir);
        }
        if let Some(root) = app.opts.runs_root.clone() {
            app.state.experiments.history.root = root.display().to_string();
        }
        if let Some((_, text)) = app.opts.experiment.clone() {
            app.state.tab = crate::ui::Tab::Experiments;
            app.state.experiments.spec_text = text;
            app.runs.start(&mut app.state);
        }
        if app.opts.demo {
            app.runs.demo(&mut app.state);
        }
        app
    }

    pub fn state(&self) -> &StudioState {
        &self.state
    }

    /// The preferences to keep for the next session.
    pub fn prefs(&self) -> prefs::Prefs {
        let pb = &self.state.playback;
        prefs::Prefs {
            volume: pb.volume,
            looping: pb.looping,
            monitor: pb.monitor,
            view: self.state.doc.design().view.mode,
            speed: pb.speed,
            gpu_preview: self.gpu_choice,
            // Offered (and taken or dismissed) once is enough.
            demo_offered: true,
        }
    }

    /// Takes stored preferences: the transport's settings, and the view a new design opens in
    /// (a project or `--view`, applied after, override it).
    pub fn apply_prefs(&mut self, p: prefs::Prefs) {
        let p = p.sanitized();
        let pb = &mut self.state.playback;
        pb.volume = p.volume;
        pb.looping = p.looping;
        pb.monitor = p.monitor;
        pb.speed = p.speed;
        if let Some(on) = p.gpu_preview {
            self.gpu_choice = Some(on);
            self.state.preview.gpu.on = on;
        }
        // The view is not an undo step; a project or `--view` applied later replaces it.
        let mut view = self.state.doc.design().view.clone();
        view.mode = p.view;
        self.design(DesignCommand::SetView(view));
    }

    /// How many seeks the transport has carried out.
    pub fn seeks(&self) -> u64 {
        self.seeks
    }

    /// True once playback mixes the design's audio trigger into the selected clip's sound.
    pub fn playback_has_audio_trigger(&self) -> bool {
        let key = self
            .state
            .selected_entry()
            .map(|e| (e.id, self.state.doc.revision()));
        self.trigger_in_player
            && key.is_some()
            && self.audio_mixed == key
            && self.player.as_ref().is_some_and(|(_, p)| p.trigger_ready())
    }

    pub fn state_mut(&mut self) -> &mut StudioState {
        &mut self.state
    }

    /// True while startup work or the selected clip's loading is still going on (tests and
    /// `--exit-after-frames` wait for this).
    pub fn busy(&self) -> bool {
        // A run asked for on the command line is part of startup.
        let launch_run = (self.opts.experiment.is_some() || self.opts.demo) && self.runs.active();
        launch_run
            || self.loading()
            || self.patch_import.is_some()
            || self.lens_load.is_some()
            || self.lens_job.is_some()
            || self.sweep.is_some()
            || self.runs.scanning()
            || self.sweep_pending()
    }

    /// Startup work or the selected clip's loading (the workers doing it wake the UI).
    fn loading(&self) -> bool {
        let selected_loading = self.state.selected_entry().is_some_and(|e| {
            e.load == LoadState::Loading || (e.stream.is_some() && e.shown.is_none())
        });
        // The canvas's preview of the frame at the playhead has not arrived (or been refused).
        // Paused, the exact frame must be there; playing, the frames move on faster than a
        // preview may arrive, so this design's preview of this clip is what counts.
        let paused = !self.state.playback.playing;
        let preview_pending = self.preview.is_some()
            && self.state.preview_key().is_some_and(|k| {
                let same = |o: &crate::jobs::preview::PreviewKey| {
                    o.clip == k.clip && o.revision == k.revision && (!paused || o.frame == k.frame)
                };
                let pv = &self.state.preview;
                !pv.latest.as_ref().is_some_and(|(o, _)| same(o))
                    && !pv.error.as_ref().is_some_and(|(o, _)| same(o))
            });
        // Paused, the readout's figures too: this frame's SSIM and (in-memory clips) the
        // clip-wide pass, so a screenshot shows them rather than "…".
        let metrics_pending = paused
            && self.state.preview_key().is_some_and(|k| {
                let pv = &self.state.preview;
                let in_memory = self
                    .state
                    .selected_entry()
                    .is_some_and(|e| e.clip.is_some());
                pv.exact(k).is_some_and(|p| {
                    p.ssim_pending
                        || (in_memory
                            && pv
                                .clip_stealth
                                .as_ref()
                                .is_none_or(|(c, r, _)| (*c, *r) != (k.clip, k.revision)))
                })
            });
        // An open file dialog is not loading: the user may take minutes to answer, and its
        // thread wakes the UI when they do.
        self.synth.is_some()
            || self.session.is_some()
            || metrics_pending
            || self.thumbs.pending(&self.state)
            || !self.probes.is_empty()
            || self.audio_probe.is_some()
            || self.compute_probe.is_some()
            || self.player_start.is_some()
            || selected_loading
            || preview_pending
            || self.pending_frame.is_some()
            || !self.project_jobs.is_empty()
            || self.audio_ctl.busy()
            || self.library.busy()
    }

    fn open_video(&mut self, path: PathBuf) {
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let idx = match self
            .state
            .clips
            .iter()
            .position(|e| e.source == ClipSource::File(path.clone()))
        {
            Some(i) => {
                self.state.select(i);
                return;
            }
            None => self.state.add_clip(name, ClipSource::File(path.clone())),
        };
        self.design(DesignCommand::AddClip(ClipRef::File { path: path.clone() }));
        self.state.select(idx);
        let id = self.state.clips[idx].id;
        match probe_file(path, self.repaint.clone()) {
            Ok(job) => self.probes.push((id, job)),
            Err(e) => self.state.error(format!("could not start the probe: {e}")),
        }
    }

    fn open_dialog(&mut self, purpose: DialogPurpose) {
        if self.dialog.is_some() {
            return;
        }
        let (tx, rx) = channel();
        if let Some(answer) = self.opts.dialog_answer.clone() {
            let _ = tx.send(Some(answer)); // the receiver is right here
            self.dialog = Some((purpose, rx));
            return;
        }
        let repaint = self.repaint.clone();
        let project_name = self
            .state
            .project
            .path
            .as_ref()
            .and_then(|p| p.file_name())
            .map_or_else(
                || "untitled.tlab.json".into(),
                |n| n.to_string_lossy().into_owned(),
            );
        // The native dialog blocks its thread until the user answers, so it gets its own.
        let spawned = jobs::spawn_named("file-dialog", move || {
            let d = rfd::FileDialog::new();
            let picked = match purpose {
                DialogPurpose::Video => d
                    .set_title("Open video")
                    .add_filter(
                        "Video",
                        &[
                            "mp4", "avi", "mkv", "mov", "webm", "mpg", "mpeg", "ogv", "ogg", "m4v",
                        ],
                    )
                    .add_filter("All files", &["*"])
                    .pick_file(),
                DialogPurpose::Dataset => d
                    .set_title("Open dataset folder (UCF-101, HMDB-51, lists, class folders)")
                    .pick_folder(),
                DialogPurpose::OpenProject => d
                    .set_title("Open project")
                    .add_filter("TriggerLab project", &["json"])
                    .pick_file(),
                DialogPurpose::SaveProjectAs => d
                    .set_title("Save project as")
                    .set_file_name(project_name)
                    .add_filter("TriggerLab project", &["json"])
                    .save_file(),
                DialogPurpose::LoadSpec => d
                    .set_title("Load attack spec")
                    .add_filter("Attack spec", &["toml", "json"])
                    .pick_file(),
                DialogPurpose::SaveSpec | DialogPurpose::Export(ExportKind::Spec) => d
                    .set_title("Save attack spec")
                    .set_file_name("attack.toml")
                    .add_filter("Attack spec", &["toml", "json"])
                    .save_file(),
                DialogPurpose::LoadModel => d
                    .set_title("Load a trained model (a run folder)")
                    .pick_folder(),
                DialogPurpose::ImportPatch => d
                    .set_title("Start the patch from a PNG")
                    .add_filter("PNG", &["png"])
                    .pick_file(),
                DialogPurpose::Export(ExportKind::Mp4) => d
                    .set_title("Export the poisoned clip as MP4")
                    .set_file_name("poisoned.mp4")
                    .add_filter("MP4", &["mp4"])
                    .save_file(),
                DialogPurpose::Export(ExportKind::Frames) => d
                    .set_title("Export the poisoned frames into a folder (new or empty)")
                    .pick_folder(),
                DialogPurpose::Export(ExportKind::Patch) => d
                    .set_title("Export the trigger patch as PNG")
                    .set_file_name("patch.png")
                    .add_filter("PNG", &["png"])
                    .save_file(),
            };
            let _ = tx.send(picked); // the app may have closed meanwhile; nothing to do then
            repaint();
        });
        match spawned {
            Ok(_) => self.dialog = Some((purpose, rx)),
            Err(e) => self
                .state
                .error(format!("could not open the file dialog: {e}")),
        }
    }

    /// Exports the selected clip with the design's attack (or the trigger alone) on a worker.
    fn start_export(&mut self, kind: ExportKind, path: PathBuf) {
        if self.export.is_some() {
            return;
        }
        let Some(entry) = self.state.selected_entry() else {
            self.state.error("export: no clip selected");
            return;
        };
        let source = match (&entry.clip, &entry.source) {
            (Some(c), _) => ExportSource::Clip(c.clone()),
            (None, ClipSource::File(p)) => ExportSource::File(p.clone()),
            _ => {
                self.state.error("export: the clip has not loaded yet");
                return;
            }
        };
        let target = match kind {
            ExportKind::Mp4 => ExportTarget::Mp4 {
                path,
                options: crate::media::encode::EncodeOptions::default(),
                survival: true,
            },
            ExportKind::Frames => ExportTarget::Frames { dir: path },
            ExportKind::Patch => ExportTarget::Patch { path },
            ExportKind::Spec => ExportTarget::Spec { path },
        };
        let req = ExportRequest {
            source,
            spec: self.state.doc.design().spec.clone(),
            assets_base: self.assets_dir.clone(),
            target,
        };
        match start_export(req, self.repaint.clone()) {
            Ok(job) => {
                self.state.export.progress = Some(("starting".into(), 0, 0));
                self.export = Some(job);
            }
            Err(e) => self.state.error(format!("could not start the export: {e}")),
        }
    }

    fn drain_export(&mut self) {
        let Some((job, _)) = &self.export else { return };
        let done = job.worker_done();
        let mut finished = None;
        while let Some(ev) = job.try_recv() {
            match ev {
                ExportEvent::Progress { stage, done, total } => {
                    self.state.export.progress =
                        Some((format!("{stage:?}").to_lowercase(), done, total));
                }
                ExportEvent::Done { path, survival } => {
                    let figure = survival.map_or(String::new(), |s| {
                        format!(
                            " · codec survival: trigger correlation {}, PSNR {} -> {}",
                            s.delta_correlation
                                .map_or("—".into(), |v| format!("{v:.3}")),
                            s.psnr_before_db
                                .map_or("∞".into(), |v| format!("{v:.1} dB")),
                            s.psnr_after_db.map_or("∞".into(), |v| format!("{v:.1} dB")),
                        )
                    });
                    finished = Some((format!("exported {}{figure}", path.display()), false));
                }
                ExportEvent::Failed(e) => finished = Some((format!("export failed: {e}"), true)),
                ExportEvent::Cancelled => finished = Some(("export cancelled".into(), false)),
            }
        }
        if finished.is_none() && done && job.queued() == 0 {
            finished = Some(("the export stopped without a result".into(), true));
        }
        if let Some(f) = finished {
            self.state.export.progress = None;
            self.state.export.last = Some(f);
            self.export = None;
        }
    }

    /// The lens's model loads and answers; a new answer is asked for when the clip, the design
    /// or the model changed (one at a time: the newest wins when the one in flight ends).
    fn drain_lens(&mut self) {
        if let Some((dir, job)) = &self.lens_load {
            let r = match job.try_recv() {
                Some(r) => Some(r),
                None if job.worker_done() && job.queued() == 0 => {
                    Some(Err(format!("{}: the loader stopped", dir.display())))
                }
                None => None,
            };
            if let Some(r) = r {
                self.finish_lens_load(r);
            }
        }
        self.lens_answer();
    }

    fn finish_lens_load(&mut self, r: Result<crate::train::predict::Predictor, String>) {
        let Some((dir, _)) = self.lens_load.take() else {
            return;
        };
        self.state.lens.loading = None;
        match r {
            Ok(p) => {
                let generation = self
                    .state
                    .lens
                    .model
                    .as_ref()
                    .map_or(1, |m| m.generation + 1);
                let spec = p.spec();
                self.state.lens.model = Some(crate::ui::lens::LensModel {
                    dir,
                    kind: serde_json::to_value(spec.model.kind)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default(),
                    classes: p.classes.clone(),
                    frames: spec.dataset.frames,
                    size: spec.dataset.size,
                    ca: p.run.final_metrics.ca,
                    asr: p.run.final_metrics.asr,
                    target: p.run.target,
                    target_name: p.run.target_name.clone(),
                    generation,
                });
                self.state.lens.answer = None;
                self.lens_model = Some(std::sync::Arc::new(p));
            }
            Err(e) => self.state.lens.error = Some(e),
        }
    }

    /// Takes the lens's answer in flight and asks for the next one when it is needed.
    fn lens_answer(&mut self) {
        if let Some((key, job)) = &self.lens_job {
            let key = *key;
            let r = match job.try_recv() {
                Some(r) => r,
                // Stored as the answer for its key, so it is not asked again and again.
                None if job.worker_done() && job.queued() == 0 => {
                    Err("the lens worker stopped without an answer".into())
                }
                None => return,
            };
            self.state.lens.computing = None;
            self.lens_job = None;
            // An answer from a model since replaced is dropped: its classes are not these.
            if self.state.lens.model.as_ref().map(|m| m.generation) == Some(key.model) {
                self.state.lens.answer = Some((key, r));
            }
        }
        let Some(want) = self.state.lens.wanted(&self.state) else {
            return;
        };
        if self
            .state
            .lens
            .answer
            .as_ref()
            .is_some_and(|(k, _)| *k == want)
        {
            return;
        }
        let Some(p) = self.lens_model.clone() else {
            return;
        };
        let Some(entry) = self.state.selected_entry() else {
            return;
        };
        let clip = match &entry.source {
            ClipSource::Synth { class, index } => {
                let spec = self.opts.library.clone().unwrap_or_else(library_spec);
                match spec.motions().iter().position(|m| m.name() == class) {
                    Some(c) => jobs::lens::LensClip::Synth {
                        spec,
                        class: c,
                        index: *index,
                    },
                    None => {
                        self.state.lens.answer =
                            Some((want, Err(format!("{class} is not a SynthMotion class"))));
                        return;
                    }
                }
            }
            ClipSource::File(path) => jobs::lens::LensClip::File(path.clone()),
            ClipSource::Demo => {
                self.state.lens.answer = Some((
                    want,
                    Err(
                        "the lens reads SynthMotion clips and video files; pick one in the library"
                            .into(),
                    ),
                ));
                return;
            }
        };
        let attack = self.state.doc.design().spec.clone();
        match jobs::lens::predict_job(
            p,
            clip,
            attack,
            self.assets_dir.clone(),
            self.repaint.clone(),
        ) {
            Ok(job) => {
                self.state.lens.computing = Some(want);
                self.lens_job = Some((want, job));
            }
            Err(e) => {
                self.state.lens.answer = Some((want, Err(format!("could not start the lens: {e}"))))
            }
        }
    }

    /// A PNG read for the patch editor: it becomes the patch unless it is larger than the frame
    /// on screen (then the design is unchanged and the editor says why).
    fn drain_patch_import(&mut self) {
        let Some((path, job)) = &self.patch_import else {
            return;
        };
        let Some(result) = job.try_recv() else {
            if job.worker_done() && job.queued() == 0 {
                self.patch_import = None;
            }
            return;
        };
        let name = path.display().to_string();
        self.patch_import = None;
        let ed = &mut self.state.patch_editor;
        ed.open = true;
        ed.note = None;
        let png = match result {
            Ok(png) => png,
            Err(e) => {
                ed.error = Some(format!("{e}; the patch is unchanged"));
                return;
            }
        };
        if let Some((fw, fh)) = self.state.selected_entry().and_then(|e| e.size())
            && (png.width > fw || png.height > fh)
        {
            self.state.patch_editor.error = Some(format!(
                "{name}: a {}×{} PNG is larger than the {fw}×{fh} frame; the patch is unchanged",
                png.width, png.height
            ));
            return;
        }
        let patch = crate::core::trigger::patch::Painted {
            width: png.width,
            height: png.height,
            rgba: png.rgba,
        };
        crate::ui::patch_editor::send_patch(&mut self.state, patch, None, true, false);
        if self.state.patch_editor.error.is_none() {
            self.state.patch_editor.note = Some(match png.converted {
                Some(c) => format!("{name}: {c}"),
                None => format!("{name}: {}×{} RGBA", png.width, png.height),
            });
        }
    }

    /// Applies a design command: the one place the document changes.
    fn design(&mut self, cmd: DesignCommand) {
        match self.state.doc.apply(cmd) {
            Ok(_) => self.state.edit_error = None,
            Err(e) => self.state.edit_error = Some(e),
        }
    }

    /// Undo (or redo) one step; the dataset folders the design gained are opened again, those
    /// it lost are closed (the design is what the user made; the panels follow it).
    fn undo_redo(&mut self, redo: bool) {
        let before = self.state.doc.design().datasets.clone();
        let done = if redo {
            self.state.doc.redo()
        } else {
            self.state.doc.undo()
        };
        if !done {
            self.state.info(if redo {
                "nothing to redo"
            } else {
                "nothing to undo"
            });
        }
        self.state.edit_error = None;
        let now = self.state.doc.design().datasets.clone();
        for root in before.iter().filter(|r| !now.contains(r)) {
            self.library.close(&mut self.state, root);
        }
        for root in now.into_iter().filter(|r| !before.contains(r)) {
            self.library.open(&mut self.state, root);
        }
    }

    /// Replaces the design with an opened project, and opens what it refers to.
    fn apply_project(&mut self, path: PathBuf, design: Design) {
        self.assets_dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), std::path::Path::to_path_buf);
        let selected = design.selected.clone();
        let cursor = design.cursor;
        let library = design.library.clone();
        let datasets = design.datasets.clone();
        self.state.doc.replace(design);
        self.state.edit_error = None;
        for c in library {
            if let ClipRef::File { path } = c
                && !self
                    .state
                    .clips
                    .iter()
                    .any(|e| e.source == ClipSource::File(path.clone()))
            {
                self.open_video(path);
            }
        }
        for root in datasets {
            if !self
                .state
                .library
                .datasets
                .iter()
                .any(|d| d.data.root == root)
            {
                self.library.open(&mut self.state, root);
            }
        }
        self.state.project.path = Some(path.clone());
        self.remember_recent(path);
        if let Some(id) = selected {
            self.pending_select = Some(id);
            self.pending_frame = Some(cursor);
            self.state.playback.playing = false;
            self.try_pending_select();
        }
    }

    fn try_pending_select(&mut self) {
        let Some(id) = &self.pending_select else {
            return;
        };
        if let Some(i) = self
            .state
            .clips
            .iter()
            .position(|e| e.clip_ref().id() == *id)
        {
            self.pending_select = None;
            self.state.selected = None;
            self.state.select(i);
        }
    }

    fn remember_recent(&mut self, path: PathBuf) {
        let recent = &mut self.state.project.recent;
        recent.retain(|p| *p != path);
        recent.insert(0, path);
        recent.truncate(8);
        if self.session.is_none() {
            self.write_recent();
        }
    }

    /// Writes the recent projects (after start-up has read the stored list, so it is merged).
    fn write_recent(&mut self) {
        let text = self
            .state
            .project
            .recent
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join("\n");
        match project::write_text_job(
            self.autosave.dir.join("recent.txt"),
            text,
            jobs::no_repaint(),
        ) {
            Ok(job) => self.writes.push(job),
            Err(e) => tracing::warn!("recent projects: {e}"),
        }
    }

    /// The design as it should be saved: with the playhead's frame as the cursor.
    fn design_for_save(&mut self) -> Design {
        if let Some(i) = self.state.current_frame_index() {
            self.design(DesignCommand::SetCursor(i));
        }
        self.state.doc.design().clone()
    }

    fn save_project(&mut self, path: PathBuf) {
        let path = project::with_project_ext(path);
        let design = self.design_for_save();
        match project::save_project(path, design, false, self.repaint.clone()) {
            Ok(job) => self.project_jobs.push(job),
            Err(e) => self.state.error(format!("could not start saving: {e}")),
        }
    }

    /// Every few seconds after a change, the design goes to the autosave folder (on a worker).
    fn autosave_tick(&mut self) {
        if self.autosave.in_flight || self.autosave.last.elapsed() < AUTOSAVE_AFTER {
            return;
        }
        // Until start-up has said whether there is a crashed session's autosave, and until the
        // user has answered the offer to restore it, it must not be overwritten.
        if self.session.is_some() || self.state.project.restore_offer.is_some() {
            return;
        }
        if self.autosave.written.as_ref() == Some(self.state.doc.design()) {
            return;
        }
        if self.autosave.written.is_none() && !self.state.doc.dirty() {
            // Nothing made yet this session: keep the last session's autosave.
            return;
        }
        let design = self.state.doc.design().clone();
        let path = project::autosave_path(&self.autosave.dir);
        match project::save_project(path, design.clone(), true, self.repaint.clone()) {
            Ok(job) => {
                self.project_jobs.push(job);
                self.autosave.written = Some(design);
                self.autosave.in_flight = true;
                self.autosave.last = Instant::now();
            }
            Err(e) => tracing::warn!("autosave: {e}"),
        }
    }

    /// Asks the preview worker for the frame at the playhead, when that (or the design) changed.
    fn request_preview(&mut self) {
        let Some(worker) = &self.preview else { return };
        let Some(key) = self.state.preview_key() else {
            return;
        };
        let gain = self.state.doc.design().view.diff_gain;
        let g = &self.state.preview.gpu;
        let gpu = g.on && g.available;
        if self.state.preview.requested == Some(key)
            && self.requested_gain == gain
            && self.requested_gpu == gpu
        {
            return;
        }
        let Some(entry) = self.state.selected_entry() else {
            return;
        };
        let source = match &entry.clip {
            Some(c) => FrameSource::Clip(Arc::new(c.clone())),
            None => match &entry.shown {
                Some((_, f)) => FrameSource::Single {
                    frame: f.clone(),
                    frames: crate::ui::timeline::clip_frames(&self.state).unwrap_or(key.frame + 1),
                },
                None => return,
            },
        };
        worker.request(PreviewRequest {
            key,
            spec: Arc::new(self.state.doc.design().spec.clone()),
            source,
            diff_gain: gain,
            assets_dir: self.assets_dir.clone(),
            gpu,
        });
        self.state.preview.requested = Some(key);
        self.requested_gain = gain;
        self.requested_gpu = gpu;
    }

    /// Seeks the selected clip to frame `i` (the middle of the frame, so rounding never lands on
    /// its neighbour).
    fn seek_frame(&mut self, i: usize) {
        let Some(e) = self.state.selected_entry() else {
            return;
        };
        let Some(fps) = e.fps().map(|f| f.to_f64()).filter(|f| *f > 0.0) else {
            return;
        };
        let last = crate::ui::timeline::clip_frames(&self.state).map_or(i, |n| n.saturating_sub(1));
        let t = (i.min(last) as f64 + 0.5) / fps;
        self.seek(t);
    }

    fn seek(&mut self, t: f64) {
        self.seeks += 1;
        if let Some((_, p)) = &self.player {
            p.seek(t);
        }
        self.state.playback.position_secs = t;
        self.pending_seek = Some((t, Instant::now()));
        if let Some(v) = &mut self.varispeed {
            *v = (Instant::now(), t, v.2);
        }
    }

    fn pause(&mut self) {
        self.state.playback.playing = false;
        if let Some((_, p)) = &self.player {
            p.pause();
        }
        // Resume at 1x from where the wall clock got to (a seek, so the playhead holds there
        // until the player's clock has followed).
        if self.varispeed.take().is_some() {
            self.seek(self.state.playback.position_secs);
        }
    }

    fn entry_index(&self, id: u32) -> Option<usize> {
        self.state.clips.iter().position(|e| e.id == id)
    }

    /// Applies worker events until the queues are empty or the frame's budget is spent; `true`
    /// when the budget ran out with events left (draw again soon to take the rest).
    fn drain(&mut self) -> bool {
        let deadline = Instant::now() + DRAIN_BUDGET;
        if let Some(job) = &self.audio_probe
            && let Some(status) = job.try_recv()
        {
            self.audio_device = Some(matches!(status, AudioOutputStatus::Available { .. }));
            self.state.status.audio = status.to_string();
            self.audio_probe = None;
        }
        if let Some((purpose, rx)) = &self.dialog
            && let Ok(picked) = rx.try_recv()
        {
            let purpose = *purpose;
            self.dialog = None;
            match (picked, purpose) {
                (None, _) => self.state.info("no file chosen"),
                (Some(path), DialogPurpose::Video) => {
                    self.open_video(path.clone());
                    self.library
                        .remember(&mut self.state, path, RecentKind::Video);
                }
                (Some(path), DialogPurpose::Dataset) => self.library.open(&mut self.state, path),
                (Some(path), DialogPurpose::OpenProject) => {
                    self.run_command(UiCommand::OpenProject(path))
                }
                (Some(path), DialogPurpose::SaveProjectAs) => self.save_project(path),
                (Some(path), DialogPurpose::Export(kind)) => self.start_export(kind, path),
                (Some(path), DialogPurpose::LoadSpec) => {
                    match project::load_spec_job(path, self.repaint.clone()) {
                        Ok(job) => self.spec_load = Some(job),
                        Err(e) => self.state.error(format!("could not start loading: {e}")),
                    }
                }
                (Some(path), DialogPurpose::LoadModel) => {
                    self.run_command(UiCommand::LoadModel(path))
                }
                (Some(path), DialogPurpose::ImportPatch) => {
                    self.run_command(UiCommand::ImportPatch(path))
                }
                (Some(path), DialogPurpose::SaveSpec) => {
                    let spec = self.state.doc.design().spec.clone();
                    let base = self.assets_dir.clone();
                    match project::write_spec_job(spec, base, path, self.repaint.clone()) {
                        Ok(job) => self.writes.push(job),
                        Err(e) => self.state.error(format!("could not start saving: {e}")),
                    }
                }
            }
        }
        if let Some(job) = &self.compute_probe
            && let Some(line) = job.try_recv()
        {
            self.state.status.compute = line;
            self.compute_probe = None;
        }
        if let Some(job) = &self.spec_load
            && let Some(r) = job.try_recv()
        {
            self.spec_load = None;
            match r {
                Ok((spec, base)) => {
                    self.assets_dir = base;
                    self.design(DesignCommand::SetSpec(spec));
                    self.state.info("spec loaded");
                }
                Err(e) => self.state.error(e),
            }
        }
        self.drain_patch_import();
        self.drain_lens();
        self.drain_sweep();
        self.auto_sweep();
        let mut finished = Vec::new();
        for (k, job) in self.writes.iter().enumerate() {
            let done = job.worker_done();
            match job.try_recv() {
                Some(r) => finished.push((k, Some(r))),
                None if done => finished.push((k, None)),
                None => {}
            }
        }
        for (k, r) in finished.into_iter().rev() {
            self.writes.remove(k);
            match r {
                Some(Ok(p)) => self.state.info(format!("saved {}", p.display())),
                Some(Err(e)) => self.state.error(e),
                None => {}
            }
        }
        let mut events = Vec::new();
        for (k, job) in self.project_jobs.iter().enumerate() {
            let done = job.worker_done();
            match job.try_recv() {
                Some(ev) => events.push((k, Some(ev))),
                None if done => events.push((k, None)),
                None => {}
            }
        }
        for (k, ev) in events.into_iter().rev() {
            self.project_jobs.remove(k);
            match ev {
                Some(ProjectEvent::Opened(path, design)) => {
                    self.apply_project(path.clone(), *design);
                    self.state.info(format!("opened {}", path.display()));
                }
                Some(ProjectEvent::Saved { path, autosave }) => {
                    if autosave {
                        self.autosave.in_flight = false;
                    } else {
                        self.state.doc.mark_saved();
                        self.state.project.path = Some(path.clone());
                        self.state.info(format!("saved {}", path.display()));
                        self.remember_recent(path);
                    }
                }
                Some(ProjectEvent::Failed(e)) => {
                    self.autosave.in_flight = false;
                    self.state.error(e);
                }
                None => self.autosave.in_flight = false,
            }
        }
        self.drain_export();
        if let Some(job) = &self.session
            && let Some(start) = job.try_recv()
        {
            self.session = None;
            // A scripted run (screenshots, checks) is not where to ask; the autosave stays.
            self.state.project.restore_offer = match start.restore_offer {
                Some(p) if self.opts.exit_after_frames.is_some() => {
                    tracing::info!(
                        "an autosave from a crashed session is left at {}",
                        p.display()
                    );
                    None
                }
                other => other,
            };
            let mut recent = start.recent;
            // Projects opened meanwhile stay first, and the merged list is written.
            let early = std::mem::take(&mut self.state.project.recent);
            for p in early.iter().rev() {
                recent.retain(|r| r != p);
                recent.insert(0, p.clone());
            }
            recent.truncate(8);
            self.state.project.recent = recent;
            if !early.is_empty() {
                self.write_recent();
            }
        }
        // A folder read is recorded in the design, so a saved project reopens it.
        for root in self.library.drain(&mut self.state, &self.ctx) {
            self.design(DesignCommand::AddDataset(root));
        }
        if let Some(w) = &self.preview {
            while let Some(ev) = w.try_recv() {
                match ev {
                    PreviewEvent::Frame { key, result } => match result {
                        Ok(p) => {
                            let pv = &mut self.state.preview;
                            if pv.error.as_ref().is_some_and(|(k, _)| {
                                k.clip == key.clip && k.revision <= key.revision
                            }) {
                                pv.error = None;
                            }
                            pv.latest = Some((key, p));
                        }
                        Err(e) => self.state.preview.error = Some((key, e)),
                    },
                    PreviewEvent::Program {
                        key,
                        clean,
                        program,
                        ..
                    } => {
                        self.state.preview.gpu.latest = program.map(|p| (key, clean, p));
                    }
                    PreviewEvent::Ssim { key, ssim } => {
                        if let Some((k, p)) = &mut self.state.preview.latest
                            && *k == key
                        {
                            p.ssim = ssim;
                            p.ssim_pending = false;
                        }
                    }
                    PreviewEvent::Clip {
                        clip,
                        revision,
                        stealth,
                    } => self.state.preview.clip_stealth = Some((clip, revision, stealth)),
                }
            }
        }
        while Instant::now() < deadline {
            let Some(job) = &self.synth else { break };
            let done = job.worker_done();
            match job.try_recv() {
                Some(item) => self.add_synth(item),
                None => {
                    if done {
                        self.synth = None;
                    }
                    break;
                }
            }
        }
        if let Some(runs_ctl::RunOutcome::DemoDone {
            dir,
            attack,
            target,
        }) = self.runs.drain(&mut self.state, deadline)
        {
            self.show_demo(dir, attack, &target);
        }
        let mut done = Vec::new();
        for (k, (id, job)) in self.probes.iter().enumerate() {
            if let Some(result) = job.try_recv() {
                done.push((k, *id, result));
            }
        }
        for (k, id, result) in done.into_iter().rev() {
            self.probes.remove(k);
            let Some(i) = self.entry_index(id) else {
                continue;
            };
            match result {
                Ok(info) => self.state.clips[i].info = Some(info),
                Err(e) if self.state.clips[i].shown.is_some() => {
                    // It plays, but something is wrong with it (e.g. truncated).
                    self.state.clips[i].warning = Some(e.clone());
                    self.state.error(e);
                }
                Err(e) => {
                    self.state.clips[i].load = LoadState::Failed(e.clone());
                    self.state.error(e);
                }
            }
        }
        Instant::now() >= deadline
    }

    /// While a clip plays on the canvas: how long until the picture changes (the next frame of
    /// the clip, or of the stream's next decoded frame), so the UI sleeps until then instead of
    /// drawing at display rate. Workers wake it themselves when they send something new.
    fn next_change_in(&self) -> Option<Duration> {
        if !self.state.playback.playing || self.state.tab != crate::ui::Tab::Studio {
            return None;
        }
        // Also the longest sleep while playing, so a loop or the end is noticed.
        const MAX_WAIT: f64 = 0.25;
        let clock = self.state.playback.position_secs;
        let entry = self.state.selected_entry()?;
        let wait = match (&self.stream, &entry.clip) {
            (Some(active), None) => match &active.pending {
                Some((t, _)) => t - clock,
                None => MAX_WAIT,
            },
            _ => match entry.fps() {
                Some(fps) if fps.to_f64() > 0.0 => {
                    let fps = fps.to_f64();
                    ((clock * fps + 1e-9).floor() + 1.0) / fps - clock
                }
                _ => MAX_WAIT,
            },
        };
        let wait = wait / f64::from(self.state.playback.speed.max(0.25));
        // A little late rather than early, so the frame has changed when we draw: the clock
        // moves in steps of the sink's period (10 ms for the silent sink), and waking before
        // it has crossed the boundary costs a whole extra frame of drawing.
        Some(Duration::from_secs_f64(wait.clamp(0.0, MAX_WAIT) + 0.012))
    }

    fn add_synth(&mut self, item: SynthItem) {
        let idx = self.state.add_clip(
            format!("{} #{}", item.class, item.index + 1),
            ClipSource::Synth {
                class: item.class,
                index: item.index,
            },
        );
        let entry = &mut self.state.clips[idx];
        match item.clip {
            Ok(c) => {
                entry.envelope = c
                    .audio()
                    .map(|a| a.envelope(ENVELOPE_BUCKETS))
                    .unwrap_or_default();
                entry.clip = Some(c);
                entry.load = LoadState::Ready;
            }
            Err(e) => entry.load = LoadState::Failed(e),
        }
        if self.pending_select.is_some() {
            self.try_pending_select();
        } else if self.state.selected.is_none() {
            self.state.select(idx);
        }
    }

    /// Makes sure the selected clip has its player (and, for a file, its stream).
    fn sync_playback(&mut self) {
        let Some(sel) = self.state.selected else {
            return;
        };
        let entry = &self.state.clips[sel];
        let id = entry.id;
        // The stream of a selected file.
        if let ClipSource::File(path) = &entry.source {
            if self.stream.as_ref().map(|s| s.clip_id) != Some(id)
                && !matches!(entry.load, LoadState::Failed(_))
            {
                match open_stream(
                    path.clone(),
                    SizeMode::Within {
                        max_side: STREAM_MAX_SIDE,
                    },
                    self.repaint.clone(),
                ) {
                    Ok(stream) => {
                        self.stream = Some(ActiveStream {
                            clip_id: id,
                            stream,
                            pending: None,
                            ended: false,
                        })
                    }
                    Err(e) => self
                        .state
                        .error(format!("could not start the decoder: {e}")),
                }
            }
        } else {
            self.stream = None;
        }
        self.pull_stream_meta();
        let entry = &self.state.clips[sel];
        // The player of the selected clip, once its length is known.
        if self.player.as_ref().map(|p| p.0) != Some(id) && entry.load == LoadState::Ready {
            let duration = entry.duration_secs();
            let source = match (&entry.source, &entry.clip) {
                (_, Some(c)) => match c.audio() {
                    Some(a) => AudioSource::Buffer(a.clone()),
                    None => AudioSource::Silence {
                        duration_secs: duration,
                    },
                },
                (ClipSource::File(p), None) => AudioSource::File {
                    path: p.clone(),
                    duration_secs: duration,
                },
                _ => AudioSource::Silence {
                    duration_secs: duration,
                },
            };
            // Until the probe has answered, or when it found no device, play on the silent clock.
            let sink = if self.audio_device == Some(true) {
                SinkChoice::Device
            } else {
                SinkChoice::Silent
            };
            // Opening the file, the device and resampling take a while: built on a worker.
            if self.player_start.as_ref().map(|(i, _)| *i) != Some(id) {
                match start_player(source, sink, self.repaint.clone()) {
                    Ok(job) => self.player_start = Some((id, job)),
                    Err(e) => self.state.error(format!("could not start playback: {e}")),
                }
            }
        }
        if let Some((pid, job)) = &self.player_start
            && let Some(r) = job.try_recv()
        {
            let pid = *pid;
            self.player_start = None;
            match r {
                Ok(started) if pid == id => self.install_player(id, started.player),
                Ok(_) => {} // the user moved on to another clip meanwhile
                Err(e) => self.state.error(e),
            }
        }
        self.mix_trigger_audio();
        self.thumbs
            .tick(&mut self.state, &self.assets_dir, &self.repaint);
        if let Some((pid, p)) = &self.player
            && *pid == id
            && self.varispeed.is_none()
        {
            let clock = p.position_secs();
            match self.pending_seek {
                // Until the sink has flushed, the clock still says where it was: show the target.
                Some((t, at))
                    if (clock - t).abs() > 0.25 && at.elapsed() < Duration::from_secs(1) =>
                {
                    self.state.playback.position_secs = t;
                }
                _ => {
                    self.pending_seek = None;
                    self.state.playback.position_secs = clock;
                }
            }
            self.state.playback.playing = p.is_playing();
        }
        self.varispeed_tick();
        // `--frame` or a project's cursor: go there, paused, once the clip can show it.
        if let Some(f) = self.pending_frame
            && self
                .state
                .selected_entry()
                .is_some_and(|e| e.load == LoadState::Ready)
            && self.player.as_ref().is_some_and(|(pid, _)| *pid == id)
        {
            self.pending_frame = None;
            self.pause();
            self.seek_frame(f);
        }
        self.pull_stream_frames();
    }

    /// The playhead at a speed other than 1×: the wall clock times the speed, looping or
    /// stopping at the end as the player would.
    fn varispeed_tick(&mut self) {
        let Some((at, from, clip)) = self.varispeed else {
            return;
        };
        let Some((id, duration)) = self
            .state
            .selected_entry()
            .map(|e| (e.id, e.duration_secs()))
        else {
            return;
        };
        if id != clip {
            // Another clip: it starts where selecting it put the playhead.
            self.varispeed = Some((Instant::now(), self.state.playback.position_secs, id));
            return;
        }
        let mut t = from + at.elapsed().as_secs_f64() * f64::from(self.state.playback.speed);
        if duration > 0.0 && t >= duration {
            if self.state.playback.looping {
                t %= duration;
            } else {
                t = duration;
                self.varispeed = None;
                self.state.playback.playing = false;
                if let Some((_, p)) = &self.player {
                    p.pause();
                }
                self.seek(t);
            }
        }
        self.state.playback.position_secs = t;
    }

    /// Starts playing at the transport's speed (1×: the player and its sound; otherwise the
    /// wall clock, muted).
    fn play(&mut self) {
        // Play at the end (after a run with loop off) starts again from the beginning, as
        // media players do, instead of stopping at once.
        let at_end = self.state.selected_entry().is_some_and(|e| {
            let d = e.duration_secs();
            let frame = e.fps().map_or(0.0, |f| 0.25 / f.to_f64().max(1e-3));
            d > 0.0 && self.state.playback.position_secs >= d - frame
        });
        if at_end {
            self.seek(0.0);
        }
        self.state.playback.playing = true;
        if self.state.playback.speed == 1.0 {
            self.varispeed = None;
            if let Some((_, p)) = &self.player {
                p.play();
            }
        } else {
            if let Some((_, p)) = &self.player {
                p.pause();
            }
            let clip = self.state.selected_entry().map_or(0, |e| e.id);
            self.varispeed = Some((Instant::now(), self.state.playback.position_secs, clip));
        }
    }

    fn set_speed(&mut self, speed: f32) {
        if !prefs::SPEEDS.contains(&speed) || speed == self.state.playback.speed {
            return;
        }
        let playing = self.state.playback.playing;
        if playing {
            self.pause();
        }
        self.state.playback.speed = speed;
        if playing {
            self.play();
        }
    }

    fn install_player(&mut self, id: u32, p: Player) {
        p.set_looping(self.state.playback.looping);
        p.set_volume(self.state.playback.volume);
        p.set_monitor(self.state.playback.monitor);
        let resume = self.state.playback.playing && self.varispeed.is_none();
        let varispeed = resume && self.state.playback.speed != 1.0;
        if resume && !varispeed {
            p.play();
        }
        if let Some((t, _)) = self.pending_seek {
            p.seek(t);
        }
        if !p.has_device && self.audio_device == Some(true) {
            self.state.status.audio = p.output.clone();
        }
        self.audio_mixed = None;
        self.player = Some((id, p));
        if varispeed {
            // A stored speed other than 1x: the wall clock drives the playhead, muted.
            self.play();
        }
    }

    /// Keeps the player's trigger audio in step with the design: the audio trigger is mixed
    /// into the clip's sound on a worker (core's own mix), and the difference goes to the
    /// player's mix stage, which swaps it in without restarting playback.
    fn mix_trigger_audio(&mut self) {
        let Some((pid, _)) = &self.player else { return };
        let pid = *pid;
        let key = (pid, self.state.doc.revision());
        if let Some((k, job)) = &self.audio_mix
            && let Some(r) = job.try_recv()
        {
            let k = *k;
            self.audio_mix = None;
            match r {
                Ok(t) if k.0 == pid => {
                    self.trigger_in_player = t.is_some();
                    if let Some((_, p)) = &self.player {
                        p.set_trigger(t);
                    }
                    self.audio_mixed = Some(k);
                }
                Ok(_) => {}
                Err(e) => {
                    self.audio_mixed = Some(k);
                    self.state.error(format!("audio trigger: {e}"));
                }
            }
        }
        if self.audio_mixed == Some(key) || self.audio_mix.as_ref().is_some_and(|(k, _)| *k == key)
        {
            return;
        }
        let Some(entry) = self.state.clips.iter().find(|e| e.id == pid) else {
            return;
        };
        let spec = self.state.doc.design().spec.clone();
        // A file's sound comes from its (bounded) decode for the audio view.
        let clean = match entry.clip.as_ref() {
            Some(c) => c.audio().cloned().map(Arc::new),
            None => self.file_audio(pid),
        };
        let assets = crate::media::assets::FileAssets::new(&self.assets_dir);
        let job = jobs::start("audio-mix", 1, self.repaint.clone(), move |tx| {
            let r = match (&spec.audio, clean) {
                (None, _) | (_, None) => Ok(None),
                (Some(t), Some(a)) => t
                    .mix(&a, spec.seed, &assets)
                    .map_err(|e| e.to_string())
                    .and_then(|(mixed, _)| TriggerAudio::from_clean_and_triggered(&a, &mixed))
                    .map(Some),
            };
            tx.send(r);
        });
        match job {
            Ok(j) => self.audio_mix = Some((key, j)),
            Err(e) => self
                .state
                .error(format!("could not start the audio mix: {e}")),
        }
    }

    /// Takes the stream's `Opened` / `Failed` news into the entry.
    fn pull_stream_meta(&mut self) {
        let Some(active) = self.stream.as_mut() else {
            return;
        };
        let Some(i) = self.state.clips.iter().position(|e| e.id == active.clip_id) else {
            return;
        };
        if self.state.clips[i].stream.is_some() {
            return;
        }
        match active.stream.job.try_recv() {
            Some(StreamEvent::Opened {
                fps,
                width,
                height,
                duration_secs,
            }) => {
                let e = &mut self.state.clips[i];
                e.stream = Some(StreamMeta {
                    fps,
                    width,
                    height,
                    duration_secs: duration_secs.unwrap_or(0.0),
                });
                e.load = LoadState::Ready;
            }
            Some(StreamEvent::Failed(msg)) => {
                self.state.clips[i].load = LoadState::Failed(msg.clone());
                self.state.error(msg);
                self.stream = None;
            }
            Some(other) => tracing::debug!("stream event before Opened: {other:?}"),
            None => {}
        }
    }

    /// Shows the streamed frame that belongs at the clock's time, pulling only as far as that
    /// (the bounded channel then holds the decoder back).
    fn pull_stream_frames(&mut self) {
        let clock = self.state.playback.position_secs;
        let Some(active) = self.stream.as_mut() else {
            return;
        };
        let Some(i) = self.state.clips.iter().position(|e| e.id == active.clip_id) else {
            return;
        };
        let shown_t = self.state.clips[i].shown.as_ref().map(|(t, _)| *t);
        // A jump (seek, loop) the decoder has not followed: send it there.
        if let Some(t) = shown_t
            && (clock + 0.05 < t || clock > t + 1.0)
        {
            let target = Rational::new((clock * 1000.0) as i64, 1000).unwrap_or(Rational::ZERO);
            active.stream.seek(target);
            active.pending = None;
            active.ended = false;
            self.state.clips[i].shown = None;
        }
        loop {
            if let Some((t, _)) = &active.pending {
                if *t > clock + 1e-3 && self.state.clips[i].shown.is_some() {
                    break;
                }
                if let Some(p) = active.pending.take() {
                    self.state.clips[i].shown = Some(p);
                }
                continue;
            }
            if active.ended {
                break;
            }
            match active.stream.job.try_recv() {
                Some(StreamEvent::Frame { epoch, time, frame })
                    if epoch == active.stream.epoch() =>
                {
                    active.pending = Some((time.to_f64(), frame));
                }
                Some(StreamEvent::End { epoch }) if epoch == active.stream.epoch() => {
                    active.ended = true
                }
                Some(StreamEvent::Failed(msg)) => {
                    self.state.clips[i].warning = Some(msg.clone());
                    self.state.error(msg);
                    active.ended = true;
                }
                Some(_) => {} // stale epoch
                None => break,
            }
        }
    }

    /// The guided demo's end: its model in the lens, its attack on the canvas, side by side, on
    /// a clip of a class other than the target (so the flip shows).
    fn show_demo(&mut self, dir: PathBuf, attack: AttackSpec, target: &str) {
        self.state.commands.push(UiCommand::LoadModel(dir));
        self.design(DesignCommand::SetSpec(attack));
        let mut view = self.state.doc.design().view.clone();
        view.mode = ViewMode::SideBySide;
        self.design(DesignCommand::SetView(view));
        let pick =
            self.state.clips.iter().position(
                |c| matches!(&c.source, ClipSource::Synth { class, .. } if class != target),
            );
        if let Some(i) = pick {
            self.state.select(i);
        }
        self.state.tab = crate::ui::Tab::Studio;
        self.state
            .info("the demo's model is in the model lens: clean clip left, triggered twin right");
    }

    fn run_commands(&mut self) {
        for cmd in std::mem::take(&mut self.state.commands) {
            self.run_command(cmd);
        }
    }

    fn run_command(&mut self, cmd: UiCommand) {
        {
            let player = self.player.as_ref().map(|p| &p.1);
            match cmd {
                UiCommand::Design(c) => self.design(c),
                UiCommand::Undo => self.undo_redo(false),
                UiCommand::Redo => self.undo_redo(true),
                UiCommand::NewProject => {
                    self.state.doc.replace(Design::default());
                    self.state.project.path = None;
                    self.assets_dir = PathBuf::from(".");
                    self.state.info("new project");
                }
                UiCommand::OpenProjectDialog => self.open_dialog(DialogPurpose::OpenProject),
                UiCommand::OpenProject(path) => {
                    match project::open_project(path, self.repaint.clone()) {
                        Ok(job) => self.project_jobs.push(job),
                        Err(e) => self.state.error(format!("could not start opening: {e}")),
                    }
                }
                UiCommand::SaveProject => match self.state.project.path.clone() {
                    Some(p) => self.save_project(p),
                    None => self.open_dialog(DialogPurpose::SaveProjectAs),
                },
                UiCommand::SaveProjectAs => self.open_dialog(DialogPurpose::SaveProjectAs),
                UiCommand::RestoreAutosave(yes) => {
                    if let Some(p) = self.state.project.restore_offer.take()
                        && yes
                    {
                        match project::open_project(p, self.repaint.clone()) {
                            Ok(job) => self.project_jobs.push(job),
                            Err(e) => self.state.error(format!("could not start opening: {e}")),
                        }
                    }
                }
                UiCommand::CopySpecToml => match toml::to_string(&self.state.doc.design().spec) {
                    Ok(text) => {
                        self.ctx.copy_text(text);
                        self.state.info("spec copied as TOML");
                    }
                    Err(e) => self
                        .state
                        .error(format!("cannot write the spec as TOML: {e}")),
                },
                UiCommand::SaveSpecDialog => self.open_dialog(DialogPurpose::SaveSpec),
                UiCommand::Export(kind) => self.open_dialog(DialogPurpose::Export(kind)),
                UiCommand::CancelExport => {
                    if let Some((_, flag)) = &self.export {
                        flag.cancel();
                    }
                }
                UiCommand::LoadSpecDialog => self.open_dialog(DialogPurpose::LoadSpec),
                UiCommand::ImportPatchDialog => self.open_dialog(DialogPurpose::ImportPatch),
                UiCommand::LoadModelDialog => self.open_dialog(DialogPurpose::LoadModel),
                UiCommand::LoadModel(dir) => {
                    match jobs::lens::load_job(dir.clone(), self.repaint.clone()) {
                        Ok(job) => {
                            self.state.lens.loading = Some(dir.clone());
                            self.state.lens.error = None;
                            self.lens_load = Some((dir, job));
                        }
                        Err(e) => self.state.error(format!("could not start loading: {e}")),
                    }
                }
                UiCommand::ImportPatch(path) => {
                    let p = path.clone();
                    match jobs::start("patch-import", 1, self.repaint.clone(), move |tx| {
                        tx.send(crate::media::image_io::read_patch_png(&p));
                    }) {
                        Ok(job) => self.patch_import = Some((path, job)),
                        Err(e) => self.state.error(format!("could not start reading: {e}")),
                    }
                }
                UiCommand::UseInExperiment => {
                    let ex = &mut self.state.experiments;
                    match crate::core::design::experiment_with_attack(
                        &ex.spec_text,
                        &self.state.doc.design().spec,
                    ) {
                        Ok(text) => {
                            ex.spec_text = text;
                            ex.spec_error = None;
                            self.state.tab = crate::ui::Tab::Experiments;
                            self.state
                                .info("the experiment's attack is now the design's");
                        }
                        Err(e) => self.state.error(format!("use in experiment: {e}")),
                    }
                }
                UiCommand::Step(d) => {
                    self.pause();
                    let i = self.state.current_frame_index().unwrap_or(0) as i64;
                    self.seek_frame((i + d).max(0) as usize);
                }
                UiCommand::SeekFrame(i) => self.seek_frame(i),
                UiCommand::OpenVideoDialog => self.open_dialog(DialogPurpose::Video),
                UiCommand::OpenVideo(path) => self.open_video(path),
                UiCommand::OpenDatasetDialog => self.open_dialog(DialogPurpose::Dataset),
                UiCommand::OpenDataset(dir) => self.library.open(&mut self.state, dir),
                UiCommand::CloseDataset(dir) => {
                    self.library.close(&mut self.state, &dir);
                    self.design(DesignCommand::RemoveDataset(dir));
                }
                UiCommand::OpenDropped(paths) => {
                    for p in paths {
                        // One stat per dropped path, only when something is dropped.
                        if p.is_dir() {
                            self.library.open(&mut self.state, p);
                        } else {
                            self.open_video(p.clone());
                            self.library.remember(&mut self.state, p, RecentKind::Video);
                        }
                    }
                }
                UiCommand::Play => self.play(),
                UiCommand::Pause => self.pause(),
                UiCommand::SetSpeed(v) => self.set_speed(v),
                UiCommand::SetGpuPreview(on) => {
                    self.state.preview.gpu.on = on;
                    self.gpu_choice = Some(on);
                    if !on {
                        self.state.preview.gpu.latest = None;
                    }
                }
                UiCommand::Seek(t) => self.seek(t),
                UiCommand::SetLooping(on) => {
                    self.state.playback.looping = on;
                    if let Some(p) = player {
                        p.set_looping(on);
                    }
                }
                UiCommand::SetMonitor(m) => {
                    self.state.playback.monitor = m;
                    if let Some(p) = player {
                        p.set_monitor(m);
                    }
                }
                UiCommand::SetVolume(v) => {
                    self.state.playback.volume = v;
                    if let Some(p) = player {
                        p.set_volume(v);
                    }
                }
                UiCommand::StartRun => self.runs.start(&mut self.state),
                UiCommand::CancelRun => self.runs.cancel(&mut self.state),
                UiCommand::QueueRun => self.runs.queue(&mut self.state),
                UiCommand::Unqueue(i) => {
                    if i < self.state.experiments.queue.len() {
                        self.state.experiments.queue.remove(i);
                    }
                }
                UiCommand::RunDemo => self.runs.demo(&mut self.state),
                UiCommand::ScanRuns => self.runs.rescan(&mut self.state),
                UiCommand::ExportRuns { png } => self.runs.export(&mut self.state, png),
                UiCommand::OpenFolder(dir) => self.runs.open_folder(&mut self.state, dir),
                UiCommand::StartSweep => self.start_sweep(),
                UiCommand::CancelSweep => self.cancel_sweep(),
            }
        }
    }

    /// `--exit-after-frames` / `--screenshot`: once startup work is done and N frames are drawn,
    /// take the screenshot (if asked) on the next frame, save it off-thread, then close.
    fn scripted_exit(&mut self, ctx: &egui::Context) {
        let Some(n) = self.opts.exit_after_frames else {
            return;
        };

        // A run started from the command line takes as long as it takes (it has its own
        // cancel); the clock for the rest starts when it ends.
        if (self.opts.experiment.is_some() || self.opts.demo) && self.runs.active() {
            self.started = Instant::now();
        }
        if self.started.elapsed() > EXIT_DEADLINE {
            self.fail_exit(
                ctx,
                format!(
                    "gave up after {EXIT_DEADLINE:?}: startup work or the screenshot never finished"
                ),
            );
            return;
        }
        if self.busy() {
            return;
        }
        // Counting frames: keep drawing, as nothing else may wake an idle window (e.g. the
        // Experiments tab once its run has ended).
        ctx.request_repaint();
        self.frames_rendered += 1;
        if self.frames_rendered < n {
            return;
        }
        let ppp = ctx.pixels_per_point();
        match &self.screenshot {
            ScreenshotState::Next(k, _) if *k >= self.opts.screenshots.len() => {
                ctx.send_viewport_cmd(egui::ViewportCommand::Close);
            }
            ScreenshotState::Next(_, Some(at)) if Instant::now() < *at => {
                ctx.request_repaint_after(at.saturating_duration_since(Instant::now()));
            }
            ScreenshotState::Next(k, _) => {
                let k = *k;
                let path = self.opts.screenshots[k].clone();
                let info = ScreenshotInfo {
                    canvas_px: self
                        .state
                        .canvas_rect
                        .map(|r| [r.min.x * ppp, r.min.y * ppp, r.max.x * ppp, r.max.y * ppp]),
                    clip: self.state.selected_entry().map(|e| e.name.clone()),
                    frame_index: self.state.current_frame_index(),
                    position_secs: self.state.playback.position_secs,
                };
                let (tx, rx) = channel();
                let repaint = self.repaint.clone();
                ctx.request_screenshot(move |image| {
                    // Encoding and writing a PNG is file work: off the UI thread.
                    let saved = jobs::spawn_named("screenshot", move || {
                        let r = save_screenshot(&path, &image, &info).map(|()| path.clone());
                        let _ = tx.send(r); // the app may be gone; the file is written either way
                        repaint();
                    });
                    if let Err(e) = saved {
                        tracing::error!("could not start the screenshot writer: {e}");
                    }
                });
                self.screenshot = ScreenshotState::Saving(k, rx);
            }
            ScreenshotState::Saving(k, rx) => match rx.try_recv() {
                Ok(Ok(p)) => {
                    tracing::info!("screenshot saved to {}", p.display());
                    let next = Instant::now() + self.opts.screenshot_interval;
                    self.screenshot = ScreenshotState::Next(k + 1, Some(next));
                }
                Ok(Err(e)) => self.fail_exit(ctx, format!("screenshot: {e}")),
                Err(_) => {}
            },
        }
    }

    fn fail_exit(&mut self, ctx: &egui::Context, msg: String) {
        if let Ok(mut r) = self.exit_report.lock() {
            r.get_or_insert(msg);
        }
        ctx.send_viewport_cmd(egui::ViewportCommand::Close);
    }
}

impl eframe::App for TriggerLabApp {
    fn ui(&mut self, ui: &mut egui::Ui, frame: &mut eframe::Frame) {
        let ctx = ui.ctx().clone();
        // What the GPU preview's last render said (read here: the panels never see wgpu).
        if let Some(rs) = frame.wgpu_render_state() {
            self.state.preview.gpu.error = rs
                .renderer
                .read()
                .callback_resources
                .get::<crate::gpu::preview_callback::PreviewResources>()
                .and_then(|r| r.last_error.clone());
        }
        // `RUST_LOG=repaint=trace` says what woke each frame (for CPU use while playing).
        if tracing::enabled!(target: "repaint", tracing::Level::TRACE) {
            tracing::trace!(target: "repaint", "{:?}", ctx.repaint_causes());
        }
        let more_events = self.drain();
        // The integration captures a screenshot when it paints a later pass than the one that
        // asked; hold the picture still until then, so the shot shows the frame recorded for it.
        if !matches!(self.screenshot, ScreenshotState::Saving(..)) {
            self.sync_playback();
            self.sync_audio_view();
        }
        self.request_preview();
        crate::ui::studio_ui(&mut self.state, ui);
        // A command (seek, select, pause) changes what the panels show: draw once more.
        let commanded = !self.state.commands.is_empty();
        self.run_commands();
        // A released pointer ends a slider drag: the next edit is a new undo step.
        if !ctx.input(|i| i.pointer.any_down()) {
            self.state.doc.end_gesture();
        }
        self.request_preview();
        self.autosave_tick();
        let title = format!(
            "TriggerLab — {}{}",
            self.state
                .project
                .path
                .as_ref()
                .and_then(|p| p.file_name())
                .map_or_else(|| "untitled".into(), |n| n.to_string_lossy().into_owned()),
            if self.state.doc.edited_since_save() {
                " •"
            } else {
                ""
            }
        );
        if title != self.title {
            ctx.send_viewport_cmd(egui::ViewportCommand::Title(title.clone()));
            self.title = title;
        }
        // Draw only when something new is to be shown: the next video frame's time while
        // playing, events left over from the drain budget, and otherwise whatever wakes us
        // (input, a worker's send, a training run at most ~4 times a second).
        if more_events || commanded {
            ctx.request_repaint();
        } else if let Some(wait) = self.next_change_in() {
            ctx.request_repaint_after(wait);
        }
        self.scripted_exit(&ctx);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        if self.opts.exit_after_frames.is_none() {
            eframe::set_value(storage, prefs::KEY, &self.prefs());
        }
    }

    fn persist_egui_memory(&self) -> bool {
        self.opts.exit_after_frames.is_none()
    }

    fn on_exit(&mut self) {
        // The last autosave, then mark the session as ended cleanly (nothing will be offered).
        if self.state.doc.dirty() || self.autosave.written.is_some() {
            let path = project::autosave_path(&self.autosave.dir);
            if let Err(e) = project::write_project(&path, self.state.doc.design()) {
                tracing::warn!("autosave on exit: {e}");
            }
        }
        project::end_session(&self.autosave.dir);
    }
}

/// Writes a screenshot and its JSON description (on a worker thread).
fn save_screenshot(
    path: &std::path::Path,
    image: &egui::ColorImage,
    info: &ScreenshotInfo,
) -> Result<(), String> {
    let [w, h] = image.size;
    let rgba: Vec<u8> = image.pixels.iter().flat_map(|c| c.to_array()).collect();
    crate::media::image_io::save_png_rgba(path, w as u32, h as u32, &rgba)
        .map_err(|e| e.to_string())?;
    let json = serde_json::to_vec_pretty(info).map_err(|e| e.to_string())?;
    let mut side = path.as_os_str().to_owned();
    side.push(".json");
    crate::media::image_io::write_atomic(std::path::Path::new(&side), &json)
        .map_err(|e| e.to_string())
}

/// The window icon, decoded from the PNG in `assets/` (compiled in).
fn app_icon() -> Option<egui::IconData> {
    let img = image::load_from_memory(include_bytes!("../../assets/icon.png")).ok()?;
    let rgba = img.to_rgba8();
    Some(egui::IconData {
        width: rgba.width(),
        height: rgba.height(),
        rgba: rgba.into_raw(),
    })
}

/// Opens the studio window and runs until it is closed. `Err` carries one line for the user.
pub fn run(opts: StudioOptions) -> Result<(), String> {
    let has_display = std::env::var_os("DISPLAY").is_some_and(|v| !v.is_empty())
        || std::env::var_os("WAYLAND_DISPLAY").is_some_and(|v| !v.is_empty());
    if !has_display {
        return Err(
            "no display: neither DISPLAY nor WAYLAND_DISPLAY is set (run it in a desktop session, or under xvfb-run)"
                .into(),
        );
    }
    if !opts.screenshots.is_empty() && opts.exit_after_frames.is_none() {
        return Err("--screenshot needs --exit-after-frames N".into());
    }
    let mut viewport = egui::ViewportBuilder::default()
        .with_title("TriggerLab")
        .with_inner_size([1280.0, 800.0])
        .with_min_inner_size([800.0, 500.0]);
    if let Some(icon) = app_icon() {
        viewport = viewport.with_icon(icon);
    }
    // Scripted runs (checks, screenshots) neither read nor keep preferences (see `new` and
    // `save`); the window geometry eframe keeps goes beside their autosaves, not the user's.
    let persistence_path = opts.exit_after_frames.map(|_| {
        opts.autosave_dir
            .clone()
            .unwrap_or_else(project::autosave_dir)
            .join("prefs.ron")
    });
    let native = eframe::NativeOptions {
        viewport,
        renderer: eframe::Renderer::Wgpu,
        persist_window: opts.exit_after_frames.is_none(),
        persistence_path,
        ..Default::default()
    };
    let report: ExitReport = Arc::default();
    let app_report = report.clone();
    eframe::run_native(
        "TriggerLab",
        native,
        Box::new(move |cc| Ok(Box::new(TriggerLabApp::new(cc, opts, app_report)))),
    )
    .map_err(|e| format!("the window could not run: {e}"))?;
    match report.lock().ok().and_then(|mut r| r.take()) {
        Some(msg) => Err(msg),
        None => Ok(()),
    }
}
