//! The studio: `eframe::App` glue. Each frame drains worker events under a small time budget,
//! advances playback, draws the panels and carries out what they asked for. Nothing here blocks:
//! decoding, dialogs, device probes and screenshot saving run on named worker threads.

use crate::core::Clip;
use crate::core::demo::{DemoParams, demo_clip};
use crate::jobs::load::{LoadEvent, load_video, probe_audio_device};
use crate::jobs::{self, Job, Repaint};
use crate::media::audio_out::AudioOutputStatus;
use crate::media::decode::DecodeOptions;
use crate::train::device::{DevicePref, select_device};
use crate::ui::state::CanvasBackend;
use crate::ui::{ClipSource, LoadState, StudioState, UiCommand};
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long one UI frame may spend draining worker events: keeps the UI responsive even when a
/// decoder floods its channel.
const DRAIN_BUDGET: Duration = Duration::from_millis(10);
/// Waveform buckets for the timeline.
const ENVELOPE_BUCKETS: usize = 1200;
/// `--exit-after-frames` gives up waiting for startup work after this long.
const EXIT_DEADLINE: Duration = Duration::from_secs(60);

/// Command-line options of the studio (used by tests and scripted screenshots).
#[derive(Clone, Debug, Default)]
pub struct StudioOptions {
    /// Render this many frames once startup work is done, then exit.
    pub exit_after_frames: Option<u64>,
    /// Save a screenshot of the window here before exiting (needs `exit_after_frames`).
    pub screenshot: Option<PathBuf>,
    /// Open this video at startup, as "Open video…" would.
    pub open: Option<PathBuf>,
}

/// What the run ended with; an error makes the process exit non-zero.
pub type ExitReport = Arc<Mutex<Option<String>>>;

enum Work {
    Load {
        clip: usize,
        job: Job<LoadEvent>,
    },
    Demo {
        clip: usize,
        job: Job<Result<Clip, String>>,
    },
}

pub struct TriggerLabApp {
    state: StudioState,
    work: Vec<Work>,
    audio_probe: Option<Job<AudioOutputStatus>>,
    dialog: Option<Receiver<Option<PathBuf>>>,
    repaint: Repaint,
    opts: StudioOptions,
    frames_rendered: u64,
    started: Instant,
    screenshot: ScreenshotState,
    exit_report: ExitReport,
}

enum ScreenshotState {
    NotYet,
    Saving(Receiver<Result<PathBuf, String>>),
    Done,
}

impl TriggerLabApp {
    pub fn new(
        cc: &eframe::CreationContext<'_>,
        opts: StudioOptions,
        exit_report: ExitReport,
    ) -> Self {
        let (backend, renderer) = match cc.wgpu_render_state.as_ref() {
            Some(rs) => (CanvasBackend::Wgpu, crate::gpu::canvas::install(rs)),
            None => (
                CanvasBackend::EguiTexture,
                "egui texture (no wgpu)".to_string(),
            ),
        };
        let ctx = cc.egui_ctx.clone();
        let repaint: Repaint = Arc::new(move || ctx.request_repaint());
        let mut state = StudioState::new(backend);
        state.status.renderer = renderer;
        let device = select_device(DevicePref::Auto);
        state.status.compute = match &device.fallback_reason {
            Some(why) => format!("{} (candle; {why})", device.label()),
            None => format!("{} (candle)", device.label()),
        };
        state.status.audio = "probing…".into();

        let mut app = TriggerLabApp {
            state,
            work: Vec::new(),
            audio_probe: None,
            dialog: None,
            repaint: repaint.clone(),
            opts,
            frames_rendered: 0,
            started: Instant::now(),
            screenshot: ScreenshotState::NotYet,
            exit_report,
        };
        match probe_audio_device(repaint.clone()) {
            Ok(job) => app.audio_probe = Some(job),
            Err(e) => app.state.status.audio = format!("unknown ({e})"),
        }
        app.start_demo();
        if let Some(path) = app.opts.open.clone() {
            app.open_video(path);
        }
        app
    }

    pub fn state(&self) -> &StudioState {
        &self.state
    }

    pub fn state_mut(&mut self) -> &mut StudioState {
        &mut self.state
    }

    /// True while a clip is still loading (tests and `--exit-after-frames` wait for this).
    pub fn busy(&self) -> bool {
        !self.work.is_empty() || self.audio_probe.is_some() || self.dialog.is_some()
    }

    fn start_demo(&mut self) {
        let clip = self
            .state
            .add_clip("Orbiting disc".into(), ClipSource::Demo);
        let job = jobs::start("demo-clip", 1, self.repaint.clone(), |tx| {
            tx.send(demo_clip(&DemoParams::default()).map_err(|e| e.to_string()));
        });
        match job {
            Ok(job) => self.work.push(Work::Demo { clip, job }),
            Err(e) => self.state.clips[clip].load = LoadState::Failed(e.to_string()),
        }
    }

    fn open_video(&mut self, path: PathBuf) {
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let clip = self.state.add_clip(name, ClipSource::File(path.clone()));
        match load_video(path, DecodeOptions::default(), self.repaint.clone()) {
            Ok(job) => self.work.push(Work::Load { clip, job }),
            Err(e) => {
                let msg = format!("could not start the decoder: {e}");
                self.state.error(msg.clone());
                self.state.clips[clip].load = LoadState::Failed(msg);
            }
        }
    }

    fn open_dialog(&mut self) {
        if self.dialog.is_some() {
            return;
        }
        let (tx, rx) = channel();
        let repaint = self.repaint.clone();
        // The native dialog blocks its thread until the user answers, so it gets its own.
        let spawned = jobs::spawn_named("file-dialog", move || {
            let picked = rfd::FileDialog::new()
                .set_title("Open video")
                .add_filter(
                    "Video",
                    &[
                        "mp4", "avi", "mkv", "mov", "webm", "mpg", "mpeg", "ogv", "ogg", "m4v",
                    ],
                )
                .add_filter("All files", &["*"])
                .pick_file();
            let _ = tx.send(picked); // the app may have closed meanwhile; nothing to do then
            repaint();
        });
        match spawned {
            Ok(_) => self.dialog = Some(rx),
            Err(e) => self
                .state
                .error(format!("could not open the file dialog: {e}")),
        }
    }

    /// Applies worker events until the queues are empty or the frame's budget is spent.
    fn drain(&mut self) {
        let deadline = Instant::now() + DRAIN_BUDGET;
        if let Some(job) = &self.audio_probe
            && let Some(status) = job.try_recv()
        {
            self.state.status.audio = status.to_string();
            self.audio_probe = None;
        }
        if let Some(rx) = &self.dialog
            && let Ok(picked) = rx.try_recv()
        {
            self.dialog = None;
            match picked {
                Some(path) => self.open_video(path),
                None => self.state.info("no file chosen"),
            }
        }
        let mut finished = Vec::new();
        for (w, work) in self.work.iter().enumerate() {
            loop {
                if Instant::now() >= deadline {
                    break;
                }
                let done = match work {
                    Work::Demo { clip, job } => match job.try_recv() {
                        None => break,
                        Some(result) => {
                            apply_demo(&mut self.state, *clip, result);
                            true
                        }
                    },
                    Work::Load { clip, job } => match job.try_recv() {
                        None => break,
                        Some(ev) => apply_load_event(&mut self.state, *clip, ev),
                    },
                };
                if done {
                    finished.push(w);
                    break;
                }
            }
        }
        for w in finished.into_iter().rev() {
            self.work.remove(w);
        }
    }

    fn run_commands(&mut self) {
        for cmd in std::mem::take(&mut self.state.commands) {
            match cmd {
                UiCommand::OpenVideoDialog => self.open_dialog(),
                UiCommand::OpenVideo(path) => self.open_video(path),
            }
        }
    }

    /// `--exit-after-frames` / `--screenshot`: once startup work is done and N frames are drawn,
    /// take the screenshot (if asked) on the next frame, save it off-thread, then close.
    fn scripted_exit(&mut self, ctx: &egui::Context) {
        let Some(n) = self.opts.exit_after_frames else {
            return;
        };
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
        self.frames_rendered += 1;
        if self.frames_rendered < n {
            return;
        }
        let Some(path) = self.opts.screenshot.clone() else {
            ctx.send_viewport_cmd(egui::ViewportCommand::Close);
            return;
        };
        match &self.screenshot {
            ScreenshotState::NotYet => {
                let (tx, rx) = channel();
                let repaint = self.repaint.clone();
                ctx.request_screenshot(move |image| {
                    // Encoding and writing a PNG is file work: off the UI thread.
                    let saved = jobs::spawn_named("screenshot", move || {
                        let [w, h] = image.size;
                        let rgba: Vec<u8> =
                            image.pixels.iter().flat_map(|c| c.to_array()).collect();
                        let r =
                            crate::media::image_io::save_png_rgba(&path, w as u32, h as u32, &rgba)
                                .map(|()| path.clone())
                                .map_err(|e| e.to_string());
                        let _ = tx.send(r); // the app may be gone; the file is written either way
                        repaint();
                    });
                    if let Err(e) = saved {
                        tracing::error!("could not start the screenshot writer: {e}");
                    }
                });
                self.screenshot = ScreenshotState::Saving(rx);
            }
            ScreenshotState::Saving(rx) => match rx.try_recv() {
                Ok(Ok(p)) => {
                    tracing::info!("screenshot saved to {}", p.display());
                    self.screenshot = ScreenshotState::Done;
                    ctx.send_viewport_cmd(egui::ViewportCommand::Close);
                }
                Ok(Err(e)) => self.fail_exit(ctx, format!("screenshot: {e}")),
                Err(_) => {}
            },
            ScreenshotState::Done => ctx.send_viewport_cmd(egui::ViewportCommand::Close),
        }
    }

    fn fail_exit(&mut self, ctx: &egui::Context, msg: String) {
        if let Ok(mut r) = self.exit_report.lock() {
            r.get_or_insert(msg);
        }
        ctx.send_viewport_cmd(egui::ViewportCommand::Close);
    }
}

fn apply_demo(state: &mut StudioState, clip: usize, result: Result<Clip, String>) {
    let Some(entry) = state.clips.get_mut(clip) else {
        return;
    };
    match result {
        Ok(c) => {
            entry.envelope = c
                .audio()
                .map(|a| a.envelope(ENVELOPE_BUCKETS))
                .unwrap_or_default();
            entry.clip = Some(c);
            entry.load = LoadState::Ready { hit_limit: false };
        }
        Err(e) => entry.load = LoadState::Failed(e),
    }
}

/// Applies one decoder event; returns true when the job is over.
fn apply_load_event(state: &mut StudioState, clip: usize, ev: LoadEvent) -> bool {
    let Some(entry) = state.clips.get_mut(clip) else {
        return true;
    };
    match ev {
        LoadEvent::Info(info) => entry.info = Some(*info),
        LoadEvent::Started { fps, .. } => {
            entry.clip = Clip::new(Vec::new(), fps, None).ok();
            if entry.clip.is_none() {
                entry.load = LoadState::Failed(format!("unusable frame rate {fps}"));
                return true;
            }
        }
        LoadEvent::Frame(frame) => {
            if let Some(c) = entry.clip.as_mut()
                && let Err(e) = c.push_frame(frame)
            {
                entry.load = LoadState::Failed(e.to_string());
                return true;
            }
        }
        LoadEvent::Finished {
            frames,
            hit_limit,
            warning,
        } => {
            entry.load = LoadState::Ready { hit_limit };
            let name = entry.name.clone();
            match warning {
                Some(w) => state.error(format!("loaded {frames} frames, but {w}")),
                None => {
                    let note = if hit_limit { " (preview limit)" } else { "" };
                    state.info(format!("loaded {frames} frames of {name}{note}"));
                }
            }
            return true;
        }
        LoadEvent::Failed(msg) => {
            entry.load = LoadState::Failed(msg.clone());
            state.error(msg);
            return true;
        }
    }
    false
}

impl eframe::App for TriggerLabApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let ctx = ui.ctx().clone();
        self.drain();
        let dt = ctx.input(|i| f64::from(i.stable_dt));
        self.state.advance(dt.min(0.25));
        crate::ui::studio_ui(&mut self.state, ui);
        self.run_commands();
        if self.state.playback.playing || self.busy() {
            ctx.request_repaint();
        }
        self.scripted_exit(&ctx);
    }
}

/// The window icon, decoded from the PNG in `assets/` (compiled in).
fn app_icon() -> Option<egui::IconData> {
    let img = image::load_from_memory(include_bytes!("../assets/icon.png")).ok()?;
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
    if opts.screenshot.is_some() && opts.exit_after_frames.is_none() {
        return Err("--screenshot needs --exit-after-frames N".into());
    }
    let mut viewport = egui::ViewportBuilder::default()
        .with_title("TriggerLab")
        .with_inner_size([1280.0, 800.0])
        .with_min_inner_size([800.0, 500.0]);
    if let Some(icon) = app_icon() {
        viewport = viewport.with_icon(icon);
    }
    let native = eframe::NativeOptions {
        viewport,
        renderer: eframe::Renderer::Wgpu,
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
