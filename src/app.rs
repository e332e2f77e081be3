//! The studio: `eframe::App` glue. Each frame drains worker events under a small time budget,
//! keeps the player and the video stream in step with the audio clock, draws the panels and
//! carries out what they asked for. Nothing here blocks: decoding, dialogs, device probes, audio
//! and screenshot saving run on named worker threads.

use crate::core::Rational;
use crate::core::experiment::parse_experiment;
use crate::core::synth::SynthSpec;
use crate::jobs::experiment::start_run;
use crate::jobs::load::{SynthItem, generate_synth, probe_audio_device, probe_file};
use crate::jobs::player::{AudioSource, Player, SinkChoice};
use crate::jobs::stream::{StreamEvent, VideoStream, open_stream};
use crate::jobs::{self, Job, Repaint};
use crate::media::audio_out::AudioOutputStatus;
use crate::media::probe::MediaInfo;
use crate::media::reader::SizeMode;
use crate::train::device::{DevicePref, select_device};
use crate::train::trainer::TrainEvent;
use crate::ui::state::{CanvasBackend, StreamMeta};
use crate::ui::{ClipSource, LoadState, StudioState, UiCommand};
use crate::ui::{RunPhase, RunView};
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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
}

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
    dialog: Option<Receiver<Option<PathBuf>>>,
    player: Option<(u32, Player)>,
    stream: Option<ActiveStream>,
    /// The training run of the Experiments tab and the flag that stops it after a step (the
    /// channel stays open for its last events).
    experiment: Option<(Job<TrainEvent>, jobs::CancelFlag)>,
    repaint: Repaint,
    /// At most ~4 repaints a second: training sends an event per step, and drawing each one
    /// would take CPU from the run (software rendering especially).
    repaint_slow: Repaint,
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
        let (backend, renderer) = match cc.wgpu_render_state.as_ref() {
            Some(rs) => (CanvasBackend::Wgpu, crate::gpu::canvas::install(rs)),
            None => (
                CanvasBackend::EguiTexture,
                "egui texture (no wgpu)".to_string(),
            ),
        };
        let ctx = cc.egui_ctx.clone();
        let slow_ctx = ctx.clone();
        let repaint: Repaint = Arc::new(move || ctx.request_repaint());
        let repaint_slow: Repaint =
            Arc::new(move || slow_ctx.request_repaint_after(Duration::from_millis(250)));
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
            synth: None,
            probes: Vec::new(),
            audio_probe: None,
            audio_device: None,
            dialog: None,
            player: None,
            stream: None,
            experiment: None,
            repaint: repaint.clone(),
            repaint_slow,
            opts,
            seeks: 0,
            frames_rendered: 0,
            started: Instant::now(),
            screenshot: ScreenshotState::Next(0, None),
            exit_report,
        };
        match probe_audio_device(repaint.clone()) {
            Ok(job) => app.audio_probe = Some(job),
            Err(e) => app.state.status.audio = format!("unknown ({e})"),
        }
        let library = app.opts.library.clone().unwrap_or_else(library_spec);
        match generate_synth(library, repaint) {
            Ok(job) => app.synth = Some(job),
            Err(e) => app.state.error(format!("could not start SynthMotion: {e}")),
        }
        if let Some(path) = app.opts.open.clone() {
            app.open_video(path);
        }
        if let Some((_, text)) = app.opts.experiment.clone() {
            app.state.tab = crate::ui::Tab::Experiments;
            app.state.experiments.spec_text = text;
            app.start_experiment();
        }
        app
    }

    pub fn state(&self) -> &StudioState {
        &self.state
    }

    /// How many seeks the transport has carried out.
    pub fn seeks(&self) -> u64 {
        self.seeks
    }

    pub fn state_mut(&mut self) -> &mut StudioState {
        &mut self.state
    }

    /// True while startup work or the selected clip's loading is still going on (tests and
    /// `--exit-after-frames` wait for this).
    pub fn busy(&self) -> bool {
        // A run asked for on the command line is part of startup.
        let launch_run = self.opts.experiment.is_some() && self.experiment.is_some();
        launch_run || self.loading()
    }

    /// Startup work or the selected clip's loading (the workers doing it wake the UI).
    fn loading(&self) -> bool {
        let selected_loading = self.state.selected_entry().is_some_and(|e| {
            e.load == LoadState::Loading || (e.stream.is_some() && e.shown.is_none())
        });
        // An open file dialog is not loading: the user may take minutes to answer, and its
        // thread wakes the UI when they do.
        self.synth.is_some()
            || !self.probes.is_empty()
            || self.audio_probe.is_some()
            || selected_loading
    }

    fn open_video(&mut self, path: PathBuf) {
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let idx = self.state.add_clip(name, ClipSource::File(path.clone()));
        self.state.select(idx);
        let id = self.state.clips[idx].id;
        match probe_file(path, self.repaint.clone()) {
            Ok(job) => self.probes.push((id, job)),
            Err(e) => self.state.error(format!("could not start the probe: {e}")),
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
        if let Some(rx) = &self.dialog
            && let Ok(picked) = rx.try_recv()
        {
            self.dialog = None;
            match picked {
                Some(path) => self.open_video(path),
                None => self.state.info("no file chosen"),
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
        while Instant::now() < deadline {
            let Some((job, _)) = &self.experiment else {
                break;
            };
            let done = job.worker_done();
            match job.try_recv() {
                Some(ev) => {
                    if let Some(run) = &mut self.state.experiments.run {
                        run.apply(ev);
                        if !run.phase.is_active() {
                            // Finished, cancelled or failed: that was its last word.
                            self.experiment = None;
                            break;
                        }
                    }
                }
                None => {
                    if done {
                        self.experiment = None;
                        if let Some(run) = &mut self.state.experiments.run
                            && run.phase.is_active()
                        {
                            run.phase = RunPhase::Failed("the run stopped without a result".into());
                        }
                    }
                    break;
                }
            }
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
        if self.state.selected.is_none() {
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
            match Player::start(source, sink) {
                Ok((p, _)) => {
                    p.set_looping(self.state.playback.looping);
                    p.set_volume(self.state.playback.volume);
                    if self.state.playback.playing {
                        p.play();
                    }
                    if !p.has_device && self.audio_device == Some(true) {
                        self.state.status.audio = p.output.clone();
                    }
                    self.player = Some((id, p));
                }
                Err(e) => self.state.error(format!("could not start playback: {e}")),
            }
        }
        if let Some((pid, p)) = &self.player
            && *pid == id
        {
            self.state.playback.position_secs = p.position_secs();
            self.state.playback.playing = p.is_playing();
        }
        self.pull_stream_frames();
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

    /// Parses the tab's spec and starts the run on a worker thread; a bad spec is reported next
    /// to the editor, naming the field.
    fn start_experiment(&mut self) {
        let ex = &mut self.state.experiments;
        if ex.running() || self.experiment.is_some() {
            return;
        }
        let spec = match parse_experiment(&ex.spec_text) {
            Ok(s) => s,
            Err(e) => {
                ex.spec_error = Some(format!("spec: {e}"));
                return;
            }
        };
        ex.spec_error = None;
        let name = if spec.name.is_empty() {
            "run".to_string()
        } else {
            spec.name.clone()
        };
        let out = match ex.out_dir.trim() {
            "" => PathBuf::from("runs").join(&name),
            dir => PathBuf::from(dir),
        };
        match start_run(spec, out.clone(), ex.resume, self.repaint_slow.clone()) {
            Ok(job) => {
                ex.run = Some(RunView::new(name, out.display().to_string()));
                self.experiment = Some(job);
            }
            Err(e) => self.state.error(format!("could not start the run: {e}")),
        }
    }

    fn run_commands(&mut self) {
        for cmd in std::mem::take(&mut self.state.commands) {
            let player = self.player.as_ref().map(|p| &p.1);
            match cmd {
                UiCommand::OpenVideoDialog => self.open_dialog(),
                UiCommand::OpenVideo(path) => self.open_video(path),
                UiCommand::Play => {
                    self.state.playback.playing = true;
                    if let Some(p) = player {
                        p.play();
                    }
                }
                UiCommand::Pause => {
                    self.state.playback.playing = false;
                    if let Some(p) = player {
                        p.pause();
                    }
                }
                UiCommand::Seek(t) => {
                    self.seeks += 1;
                    if let Some(p) = player {
                        p.seek(t);
                    }
                    self.state.playback.position_secs = t;
                }
                UiCommand::SetLooping(on) => {
                    self.state.playback.looping = on;
                    if let Some(p) = player {
                        p.set_looping(on);
                    }
                }
                UiCommand::SetVolume(v) => {
                    self.state.playback.volume = v;
                    if let Some(p) = player {
                        p.set_volume(v);
                    }
                }
                UiCommand::StartRun => self.start_experiment(),
                UiCommand::CancelRun => {
                    if let Some((_, flag)) = &self.experiment {
                        flag.cancel();
                        if let Some(run) = &mut self.state.experiments.run {
                            run.cancel_requested = true;
                        }
                    }
                }
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
        if self.opts.experiment.is_some() && self.experiment.is_some() {
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
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let ctx = ui.ctx().clone();
        // `RUST_LOG=repaint=trace` says what woke each frame (for CPU use while playing).
        if tracing::enabled!(target: "repaint", tracing::Level::TRACE) {
            tracing::trace!(target: "repaint", "{:?}", ctx.repaint_causes());
        }
        let more_events = self.drain();
        // The integration captures a screenshot when it paints a later pass than the one that
        // asked; hold the picture still until then, so the shot shows the frame recorded for it.
        if !matches!(self.screenshot, ScreenshotState::Saving(..)) {
            self.sync_playback();
        }
        crate::ui::studio_ui(&mut self.state, ui);
        // A command (seek, select, pause) changes what the panels show: draw once more.
        let commanded = !self.state.commands.is_empty();
        self.run_commands();
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
