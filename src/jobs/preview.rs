//! The canvas preview: a latest-wins worker that applies the design's attack to the frame at the
//! playhead, off the UI thread. The UI posts a request per (clip, frame, revision) it wants on
//! screen; a newer request replaces one not yet started, so dragging a slider never queues work.
//! The attack is prepared once per (revision, clip shape) through core's [`PreparedAttack`], the
//! same code `apply`, the poisoner and the trainer run.

use super::{Job, Repaint, Sender, start};
use crate::core::attack::{AttackSpec, PreparedAttack};
use crate::core::metrics::{StealthAccumulator, diff_stats, psnr_from_sse, ssim_until};
use crate::core::trigger::{GpuProgram, Scratch};
use crate::core::{Clip, Frame, SpecError};
use crate::media::assets::FileAssets;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

/// What a preview is of: a frame of a clip under one design revision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PreviewKey {
    pub clip: u32,
    pub frame: usize,
    pub revision: u64,
}

/// The pixels to work from.
#[derive(Clone)]
pub enum FrameSource {
    /// An in-memory clip: every frame is at hand (frame-lag triggers, clip-wide metrics).
    Clip(Arc<Clip>),
    /// A streamed file: only the frame on screen, and the clip's frame count.
    Single { frame: Frame, frames: usize },
}

#[derive(Clone)]
pub struct PreviewRequest {
    pub key: PreviewKey,
    pub spec: Arc<AttackSpec>,
    pub source: FrameSource,
    /// Amplification of the difference image.
    pub diff_gain: f32,
    /// Where relative paths in the spec resolve (the project's or spec file's folder).
    pub assets_dir: PathBuf,
    /// Send the frame's [`GpuProgram`] as soon as the attack is prepared, before the CPU
    /// result (the canvas draws it on the GPU).
    pub gpu: bool,
}

/// The frame at the playhead, clean and poisoned, with this frame's stealth figures.
#[derive(Clone, Debug)]
pub struct PreviewFrame {
    pub clean: Frame,
    pub poisoned: Frame,
    /// |poisoned − clean| × gain, clipped to 255.
    pub diff: Frame,
    pub diff_gain: f32,
    pub triggered: bool,
    /// The clip's triggered frames, ascending.
    pub selected: Arc<Vec<usize>>,
    /// The clip's frame count the selection is for.
    pub frames: usize,
    pub psnr_db: Option<f64>,
    pub ssim: Option<f64>,
    /// The SSIM is on its way (a `PreviewEvent::Ssim` follows the frame).
    pub ssim_pending: bool,
    pub linf: u8,
    /// A note when the preview could not show the trigger exactly (e.g. frame lag on a stream).
    pub note: Option<String>,
    /// Milliseconds spent preparing the attack (0 when it was cached) and applying it.
    pub prepare_ms: f64,
    pub apply_ms: f64,
}

/// Clip-wide stealth figures (in-memory clips).
#[derive(Clone, Debug, PartialEq)]
pub struct ClipStealth {
    pub psnr_db_mean: Option<f64>,
    pub ssim_mean: Option<f64>,
    pub linf: u8,
    pub temporal_flicker: Option<f64>,
}

#[derive(Clone, Debug)]
pub enum PreviewEvent {
    Frame {
        key: PreviewKey,
        /// `Err`: core refused the spec for this clip (the field and its message).
        result: Result<Box<PreviewFrame>, SpecError>,
    },
    /// The frame's program for the GPU preview, sent before its [`PreviewEvent::Frame`] when the
    /// request asked for it. `program: None`: this trigger has no shader; draw the CPU result.
    Program {
        key: PreviewKey,
        /// The clean frame the program applies to.
        clean: Frame,
        program: Option<GpuProgram>,
        /// Milliseconds spent preparing the attack (0 when it was cached).
        prepare_ms: f64,
    },
    /// The SSIM of a frame already sent (`None`: it does not fit the 11-pixel window).
    Ssim { key: PreviewKey, ssim: Option<f64> },
    Clip {
        clip: u32,
        revision: u64,
        stealth: ClipStealth,
    },
}

struct Slot {
    request: Option<PreviewRequest>,
    closed: bool,
}

type Shared = Arc<(Mutex<Slot>, Condvar)>;

/// The UI's handle: post requests, take results. Dropping it stops the worker.
pub struct PreviewWorker {
    shared: Shared,
    pub job: Job<PreviewEvent>,
}

impl PreviewWorker {
    pub fn start(repaint: Repaint) -> std::io::Result<PreviewWorker> {
        let shared: Shared = Arc::new((
            Mutex::new(Slot {
                request: None,
                closed: false,
            }),
            Condvar::new(),
        ));
        let worker = shared.clone();
        let job = start("preview", 4, repaint, move |tx| run(worker, tx))?;
        Ok(PreviewWorker { shared, job })
    }

    /// Replaces any request not yet started with `req`.
    pub fn request(&self, req: PreviewRequest) {
        let (lock, cv) = &*self.shared;
        let mut slot = lock.lock().unwrap_or_else(|e| e.into_inner());
        slot.request = Some(req);
        cv.notify_one();
    }

    pub fn try_recv(&self) -> Option<PreviewEvent> {
        self.job.try_recv()
    }
}

impl Drop for PreviewWorker {
    fn drop(&mut self) {
        let (lock, cv) = &*self.shared;
        lock.lock().unwrap_or_else(|e| e.into_inner()).closed = true;
        cv.notify_all();
    }
}

/// The attack prepared for the last (revision, shape), reused while only the frame changes.
#[derive(Default)]
pub struct PreviewCache(Option<Cached>);

struct Cached {
    revision: u64,
    shape: (usize, usize, usize),
    assets_dir: PathBuf,
    prepared: Result<Arc<PreparedAttack>, SpecError>,
}

/// How long requests must pause before the worker turns to idle work (SSIM, clip figures).
const IDLE_GRACE: std::time::Duration = std::time::Duration::from_millis(120);

/// Work the worker does between requests, one step at a time, so a new request waits at most
/// for a slice of it (SSIM checks for newer requests every 32 rows).
enum Idle {
    /// The SSIM of the frame just sent (sent after the frame: pixels first).
    Ssim(PreviewKey, Frame, Frame),
    /// The next frame of the clip-wide pass.
    ClipStep,
}

/// The clip-wide pass under way, kept across interruptions.
struct ClipPass {
    clip: u32,
    revision: u64,
    acc: StealthAccumulator,
    /// The previous (clean, poisoned) frames, for flicker.
    before: Option<(Frame, Frame)>,
    done: bool,
}

fn run(shared: Shared, tx: Sender<PreviewEvent>) {
    let mut cache = PreviewCache::default();
    let mut scratch = Scratch::default();
    let mut pass: Option<ClipPass> = None;
    let mut ssim_due: Option<(PreviewKey, Frame, Frame)> = None;
    let mut last: Option<PreviewRequest> = None;
    let mut last_request = Instant::now();
    let waiting = |shared: &Shared| {
        shared
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .request
            .is_some()
            || shared.0.lock().unwrap_or_else(|e| e.into_inner()).closed
    };
    loop {
        let work = {
            let (lock, cv) = &*shared;
            let mut slot = lock.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                if slot.closed {
                    return;
                }
                if let Some(r) = slot.request.take() {
                    break Ok(r);
                }
                // Idle work waits until requests pause: during a drag or playback a new frame
                // is due every few milliseconds, and none of it may wait behind a clip-wide
                // step (a 720p WaNet frame) or an SSIM.
                let quiet = last_request.elapsed();
                if quiet < IDLE_GRACE && (ssim_due.is_some() || last.is_some()) {
                    slot = cv
                        .wait_timeout(slot, IDLE_GRACE - quiet)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                    continue;
                }
                if let Some((k, c, p)) = ssim_due.take() {
                    break Err(Idle::Ssim(k, c, p));
                }
                if let Some(l) = &last
                    && matches!(l.source, FrameSource::Clip(_))
                    && !pass.as_ref().is_some_and(|p| {
                        p.done && (p.clip, p.revision) == (l.key.clip, l.key.revision)
                    })
                {
                    break Err(Idle::ClipStep);
                }
                slot = cv.wait(slot).unwrap_or_else(|e| e.into_inner());
            }
        };
        match work {
            Ok(req) => {
                // A newer frame: the last one's SSIM is no longer wanted.
                ssim_due = None;
                if req.gpu
                    && let Some(ev) = program_event(&req, &mut cache)
                    && !tx.send(ev)
                {
                    return;
                }
                let event = preview_frame(&req, &mut cache, &mut scratch);
                if let PreviewEvent::Frame { key, result: Ok(f) } = &event
                    && f.ssim_pending
                {
                    ssim_due = Some((*key, f.clean.clone(), f.poisoned.clone()));
                }
                if !tx.send(event) {
                    return;
                }
                // The grace counts from when the frame went out, so a slow frame does not use
                // it up.
                last_request = Instant::now();
                last = Some(req);
            }
            Err(Idle::Ssim(key, clean, poisoned)) => {
                // `None`: a newer frame is wanted, and its own SSIM replaces this one.
                if let Some(ssim) = ssim_until(&clean, &poisoned, &mut || waiting(&shared))
                    && !tx.send(PreviewEvent::Ssim { key, ssim })
                {
                    return;
                }
            }
            Err(Idle::ClipStep) => {
                let Some(l) = &last else { continue };
                if pass
                    .as_ref()
                    .is_none_or(|p| (p.clip, p.revision) != (l.key.clip, l.key.revision))
                {
                    pass = Some(ClipPass {
                        clip: l.key.clip,
                        revision: l.key.revision,
                        acc: StealthAccumulator::default(),
                        before: None,
                        done: false,
                    });
                }
                let Some(p) = pass.as_mut() else { continue };
                match clip_step(l, &cache, p, &mut scratch, &mut || waiting(&shared)) {
                    Step::More | Step::Interrupted => {}
                    Step::Unavailable => {
                        // Say so (no figures), so nobody waits for them.
                        p.done = true;
                        let ev = PreviewEvent::Clip {
                            clip: p.clip,
                            revision: p.revision,
                            stealth: ClipStealth {
                                psnr_db_mean: None,
                                ssim_mean: None,
                                linf: 0,
                                temporal_flicker: None,
                            },
                        };
                        if !tx.send(ev) {
                            return;
                        }
                    }
                    Step::Done => {
                        p.done = true;
                        let r = std::mem::take(&mut p.acc).finish(None);
                        let ev = PreviewEvent::Clip {
                            clip: p.clip,
                            revision: p.revision,
                            stealth: ClipStealth {
                                psnr_db_mean: r.psnr_db_mean,
                                ssim_mean: r.ssim_mean,
                                linf: r.linf,
                                temporal_flicker: r.temporal_flicker,
                            },
                        };
                        if !tx.send(ev) {
                            return;
                        }
                    }
                }
            }
        }
    }
}

enum Step {
    More,
    Done,
    Interrupted,
    /// The attack for this revision is not prepared (refused, or a newer one is cached).
    Unavailable,
}

/// One more frame of the clip-wide figures of `req`'s clip under the cached attack.
fn clip_step(
    req: &PreviewRequest,
    cache: &PreviewCache,
    pass: &mut ClipPass,
    scratch: &mut Scratch,
    stop: &mut dyn FnMut() -> bool,
) -> Step {
    let FrameSource::Clip(clip) = &req.source else {
        return Step::Unavailable;
    };
    let prepared = match cache.0.as_ref() {
        Some(Cached {
            revision,
            prepared: Ok(p),
            ..
        }) if *revision == req.key.revision => p.clone(),
        _ => return Step::Unavailable,
    };
    let i = pass.acc.len();
    let Some(clean) = clip.frames().get(i) else {
        return Step::Done;
    };
    let Ok(poisoned) = prepared.poisoned_frame(i, clip.frames(), scratch) else {
        return Step::Unavailable;
    };
    let before = pass.before.as_ref().map(|(c, p)| (c, p));
    if !pass.acc.push(clean, &poisoned, before, stop) {
        return Step::Interrupted;
    }
    pass.before = Some((clean.clone(), poisoned));
    if pass.acc.len() == clip.frames().len() {
        Step::Done
    } else {
        Step::More
    }
}

/// Prepares (or reuses) the attack and applies it to the requested frame.
pub fn preview_frame(
    req: &PreviewRequest,
    cache: &mut PreviewCache,
    scratch: &mut Scratch,
) -> PreviewEvent {
    let key = req.key;
    let result = compute(req, cache, scratch).map(Box::new);
    PreviewEvent::Frame { key, result }
}

/// The frame's GPU program (preparing the attack into `cache` if needed); `None` when the attack
/// is refused, which the CPU path reports.
fn program_event(req: &PreviewRequest, cache: &mut PreviewCache) -> Option<PreviewEvent> {
    let (prepared, _, clean, prepare_ms) = prepared_for(req, cache).ok()?;
    let program = prepared.gpu_program(req.key.frame).ok()?;
    Some(PreviewEvent::Program {
        key: req.key,
        clean,
        program,
        prepare_ms,
    })
}

/// The attack prepared for `req`'s revision and clip shape (from `cache` when it is there), the
/// clip's frame count, the clean frame and the milliseconds spent preparing.
fn prepared_for(
    req: &PreviewRequest,
    cache: &mut PreviewCache,
) -> Result<(Arc<PreparedAttack>, usize, Frame, f64), SpecError> {
    let cache = &mut cache.0;
    let (frames, clean) = match &req.source {
        FrameSource::Clip(c) => {
            let f = c
                .frames()
                .get(req.key.frame)
                .ok_or_else(|| SpecError::new("input", "the frame is past the clip's end"))?;
            (c.frames().len(), f.clone())
        }
        FrameSource::Single { frame, frames } => ((*frames).max(req.key.frame + 1), frame.clone()),
    };
    let shape = (frames, clean.width() as usize, clean.height() as usize);
    let t0 = Instant::now();
    let fresh = !cache.as_ref().is_some_and(|c| {
        c.revision == req.key.revision && c.shape == shape && c.assets_dir == req.assets_dir
    });
    if fresh {
        let prepared = PreparedAttack::new(
            &req.spec,
            shape.0,
            shape.1,
            shape.2,
            &FileAssets::new(&req.assets_dir),
        )
        .map(Arc::new);
        *cache = Some(Cached {
            revision: req.key.revision,
            shape,
            assets_dir: req.assets_dir.clone(),
            prepared,
        });
    }
    let prepare_ms = if fresh {
        t0.elapsed().as_secs_f64() * 1e3
    } else {
        0.0
    };
    match cache.as_ref().map(|c| &c.prepared) {
        Some(Ok(p)) => Ok((p.clone(), frames, clean, prepare_ms)),
        Some(Err(e)) => Err(e.clone()),
        None => Err(SpecError::new("spec", "not prepared")),
    }
}

fn compute(
    req: &PreviewRequest,
    cache: &mut PreviewCache,
    scratch: &mut Scratch,
) -> Result<PreviewFrame, SpecError> {
    let (prepared, frames, clean, prepare_ms) = prepared_for(req, cache)?;
    let t1 = Instant::now();
    let i = req.key.frame;
    let src = prepared.source_of(i);
    let mut note = None;
    let base = if src == i {
        clean.clone()
    } else {
        match &req.source {
            FrameSource::Clip(c) => c.frames()[src].clone(),
            FrameSource::Single { .. } => {
                note = Some(format!(
                    "frame {i} shows frame {src} under this trigger; a streamed file previews only the frame on screen"
                ));
                clean.clone()
            }
        }
    };
    // One copy of the frame, into the buffer the poisoned frame keeps; an untouched frame is
    // shared.
    let poisoned = if prepared.changes_pixels(i) {
        let mut rgb: Arc<[u8]> = Arc::from(base.rgb());
        let px = Arc::get_mut(&mut rgb).ok_or_else(|| SpecError::new("input", "frame buffer"))?;
        prepared
            .apply_frame(i, px, scratch)
            .map_err(|m| SpecError::new("input", m))?;
        Frame::new(clean.width(), clean.height(), rgb)
            .map_err(|e| SpecError::new("input", e.to_string()))?
    } else {
        base.clone()
    };
    let gain = if req.diff_gain.is_finite() && req.diff_gain > 0.0 {
        req.diff_gain
    } else {
        1.0
    };
    // PSNR and L∞ from the same pass as the difference image: at 720p three passes cost more
    // than most triggers. It is written straight into the frame's buffer (a new `Arc`, so
    // `get_mut` succeeds): `Frame::new` of a `Vec` would copy it.
    let mut diff_px: Arc<[u8]> = std::iter::repeat_n(0, clean.rgb().len()).collect();
    let buf = Arc::get_mut(&mut diff_px).ok_or_else(|| SpecError::new("input", "diff buffer"))?;
    let (sse, linf_v) = diff_stats(clean.rgb(), poisoned.rgb(), gain, buf);
    let diff = Frame::new(clean.width(), clean.height(), diff_px)
        .map_err(|e| SpecError::new("input", e.to_string()))?;
    let psnr = psnr_from_sse(sse, clean.rgb().len());
    let apply_ms = t1.elapsed().as_secs_f64() * 1e3;
    Ok(PreviewFrame {
        triggered: prepared.is_triggered(i),
        selected: Arc::new(prepared.selected().to_vec()),
        frames,
        linf: linf_v,
        clean,
        poisoned,
        diff,
        diff_gain: gain,
        psnr_db: psnr,
        // Follows in a `PreviewEvent::Ssim`: a 720p SSIM costs more than the frame itself.
        ssim: None,
        ssim_pending: psnr.is_some(),
        note,
        prepare_ms,
        apply_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::Rational;
    use crate::core::trigger::VisualTrigger;
    use std::time::Duration;

    fn clip() -> Arc<Clip> {
        let f = Frame::new(32, 24, vec![60u8; 32 * 24 * 3]).expect("frame");
        Arc::new(Clip::new(vec![f; 6], Rational::from_int(6), None).expect("clip"))
    }

    fn req(frame: usize, revision: u64, spec: AttackSpec) -> PreviewRequest {
        PreviewRequest {
            key: PreviewKey {
                clip: 1,
                frame,
                revision,
            },
            spec: Arc::new(spec),
            source: FrameSource::Clip(clip()),
            diff_gain: 4.0,
            assets_dir: PathBuf::from("."),
            gpu: false,
        }
    }

    fn next_frame(w: &PreviewWorker) -> (PreviewKey, Result<Box<PreviewFrame>, SpecError>) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            match w.try_recv() {
                Some(PreviewEvent::Frame { key, result }) => return (key, result),
                Some(
                    PreviewEvent::Clip { .. }
                    | PreviewEvent::Ssim { .. }
                    | PreviewEvent::Program { .. },
                ) => {}
                None => std::thread::sleep(Duration::from_millis(2)),
            }
        }
        panic!("no preview in 20 s");
    }

    #[test]
    fn the_preview_is_core_apply_of_that_frame() {
        let spec = crate::core::design::default_spec();
        let w = PreviewWorker::start(crate::jobs::no_repaint()).expect("starts");
        w.request(req(2, 1, spec.clone()));
        let (key, r) = next_frame(&w);
        assert_eq!(key.frame, 2);
        let p = r.expect("previews");
        let want = crate::core::apply_clip(&spec, &clip(), &crate::core::assets::NoAssets)
            .expect("applies");
        assert_eq!(p.poisoned.rgb(), want.clip.frames()[2].rgb());
        assert!(p.triggered && p.linf > 0);
        // The difference image is the amplified change, zero where nothing changed.
        assert_eq!(p.diff.rgb()[0], 0);
        assert!(p.diff.rgb().iter().any(|&v| v > 0));
    }

    /// The SSIM follows its frame, and the clip-wide pass (a frame at a time, while idle)
    /// gives exactly core's `stealth` of the whole clip.
    #[test]
    fn ssim_and_clip_figures_follow_and_match_core() {
        let spec = crate::core::design::default_spec();
        let w = PreviewWorker::start(crate::jobs::no_repaint()).expect("starts");
        w.request(req(2, 1, spec.clone()));
        let want = crate::core::apply_clip(&spec, &clip(), &crate::core::assets::NoAssets)
            .expect("applies");
        let report = crate::core::metrics::stealth(clip().frames(), want.clip.frames(), None);
        let (mut ssim, mut clip_fig) = (None, None);
        let deadline = Instant::now() + Duration::from_secs(20);
        while (ssim.is_none() || clip_fig.is_none()) && Instant::now() < deadline {
            match w.try_recv() {
                Some(PreviewEvent::Frame { result, .. }) => {
                    let f = result.expect("previews");
                    assert!(f.ssim_pending && f.ssim.is_none(), "pixels come first");
                }
                Some(PreviewEvent::Ssim { key, ssim: s }) => {
                    assert_eq!(key.frame, 2);
                    ssim = Some(s);
                }
                Some(PreviewEvent::Clip { stealth, .. }) => clip_fig = Some(stealth),
                Some(PreviewEvent::Program { .. }) => panic!("no GPU program was asked for"),
                None => std::thread::sleep(Duration::from_millis(2)),
            }
        }
        let frame_ssim = crate::core::metrics::ssim(&clip().frames()[2], &want.clip.frames()[2]);
        assert_eq!(ssim, Some(frame_ssim));
        let c = clip_fig.expect("clip figures");
        assert_eq!(c.psnr_db_mean, report.psnr_db_mean);
        assert_eq!(c.ssim_mean, report.ssim_mean);
        assert_eq!(c.linf, report.linf);
        assert_eq!(c.temporal_flicker, report.temporal_flicker);
    }

    /// Asked for, the GPU program comes first, for the clean frame of the key; a trigger
    /// without a shader says so, and an untriggered frame is the identity.
    #[test]
    fn the_gpu_program_comes_before_the_cpu_frame() {
        let w = PreviewWorker::start(crate::jobs::no_repaint()).expect("starts");
        let first = |r: PreviewRequest| {
            let key = r.key;
            w.request(r);
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                assert!(Instant::now() < deadline, "no event in 20 s");
                match w.try_recv() {
                    Some(PreviewEvent::Program {
                        key: k,
                        clean,
                        program,
                        ..
                    }) => {
                        assert_eq!(k, key);
                        assert_eq!(clean.rgb(), clip().frames()[key.frame].rgb());
                        return program;
                    }
                    Some(PreviewEvent::Frame { key: k, .. }) if k == key => {
                        panic!("the CPU frame came first")
                    }
                    Some(_) => {}
                    None => std::thread::sleep(Duration::from_millis(2)),
                }
            }
        };
        let spec = crate::core::design::default_spec();
        let p = first(PreviewRequest {
            gpu: true,
            ..req(2, 1, spec.clone())
        });
        assert_eq!(p.map(|p| p.name()), Some("patch"));
        let mut jpeg = spec.clone();
        jpeg.visual = VisualTrigger::default_of("jpeg");
        let p = first(PreviewRequest {
            gpu: true,
            ..req(2, 2, jpeg)
        });
        assert!(p.is_none(), "JPEG has no shader");
        let mut few = spec;
        few.temporal.frames = crate::core::placement::FrameSelection::Range { start: 0, len: 1 };
        let p = first(PreviewRequest {
            gpu: true,
            ..req(2, 3, few)
        });
        assert_eq!(
            p.map(|p| p.name()),
            Some("identity"),
            "frame 2 is not triggered"
        );
    }

    #[test]
    fn a_refused_spec_names_its_field() {
        let mut spec = crate::core::design::default_spec();
        if let Some(VisualTrigger::Badnets(b)) = &mut spec.visual {
            b.size = crate::core::trigger::patch::PatchSize::Square(500);
        }
        let w = PreviewWorker::start(crate::jobs::no_repaint()).expect("starts");
        w.request(req(0, 7, spec));
        let (_, r) = next_frame(&w);
        let e = r.expect_err("a 500-pixel patch does not fit 32×24");
        assert!(e.field.starts_with("visual"), "{e}");
    }
}
