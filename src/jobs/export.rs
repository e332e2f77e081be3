//! Export on a named worker: the poisoned clip as MP4 with its audio (and the codec-survival
//! figure) or as PNG frames, or the trigger alone (its patch as PNG, the spec as TOML or JSON).
//!
//! Every output is written under a temporary name in its destination folder and renamed when
//! complete, so a failure or a cancel leaves nothing behind. Cancel is checked after every frame
//! of the encode and the survival pass (decoding the source and applying the trigger are one
//! step each, not interrupted).

use super::{CancelFlag, Job, Repaint, start};
use crate::core::Clip;
use crate::core::Frame;
use crate::core::assets::AssetLoader;
use crate::core::attack::{AttackSpec, apply_clip, apply_image};
use crate::core::trigger::VisualTrigger;
use crate::core::trigger::blend::BlendSpec;
use crate::core::trigger::patch::SourceFields;
use crate::media::assets::FileAssets;
use crate::media::decode::{AudioRequest, DecodeRequest, Sampling, decode_clip};
use crate::media::encode::{
    EncodeOptions, PendingFile, WriteStop, check_png_target, write_mp4_pending,
    write_png_sequence_with,
};
use crate::media::image_io::save_png_rgba;
use crate::media::probe::probe;
use crate::media::reader::{SizeMode, VideoReader};
use crate::media::survival::{Survival, codec_survival_with};
use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The clip to export.
#[derive(Clone, Debug)]
pub enum ExportSource {
    /// Already in memory (the studio's clip).
    Clip(Clip),
    /// A video file, decoded whole at its own size, frame rate and audio format.
    File(PathBuf),
}

/// What to write.
#[derive(Clone, Debug)]
pub enum ExportTarget {
    /// The poisoned clip as MP4 with its audio; with `survival`, also how much of the trigger
    /// the encode kept (the clean clip is encoded the same way to compare).
    Mp4 {
        path: PathBuf,
        options: EncodeOptions,
        survival: bool,
    },
    /// The poisoned frames as `frame_00000.png`, … in a new (or empty) folder.
    Frames { dir: PathBuf },
    /// The trigger's patch as an RGBA PNG: a BadNets patch at its own size (alpha = coverage),
    /// a Blend pattern at the clip's frame size. Other triggers have no patch.
    Patch { path: PathBuf },
    /// The attack spec as TOML (`.toml`) or JSON (anything else). Relative file paths in it are
    /// made absolute unless the spec goes into the folder they were written against.
    Spec { path: PathBuf },
}

impl ExportTarget {
    /// Where the result goes.
    pub fn path(&self) -> &Path {
        match self {
            ExportTarget::Mp4 { path, .. }
            | ExportTarget::Patch { path }
            | ExportTarget::Spec { path } => path,
            ExportTarget::Frames { dir } => dir,
        }
    }
}

#[derive(Clone, Debug)]
pub struct ExportRequest {
    pub source: ExportSource,
    pub spec: AttackSpec,
    /// The folder the spec's relative file paths resolve against (the spec file's own).
    pub assets_base: PathBuf,
    pub target: ExportTarget,
}

/// The step an export is in, for the progress bar's label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportStage {
    Decoding,
    Applying,
    Encoding,
    /// Encoding the clean clip and comparing both files frame by frame.
    Survival,
    Writing,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ExportEvent {
    /// `done` of `total` units (frames through a step) over the whole export; `total` is 0
    /// while it is not known yet (decoding a file).
    Progress {
        stage: ExportStage,
        done: usize,
        total: usize,
    },
    Done {
        path: PathBuf,
        survival: Option<Survival>,
    },
    /// One line, naming the file and the problem.
    Failed(String),
    Cancelled,
}

/// A finished export.
#[derive(Clone, Debug, PartialEq)]
pub struct Exported {
    pub path: PathBuf,
    pub survival: Option<Survival>,
}

/// Above this many bytes of decoded frames a file is refused: exports hold whole clips.
pub const MAX_CLIP_BYTES: u64 = 4 << 30;

/// Decodes a video file whole: its own size, every frame, its audio at its own rate and
/// channel count. Refuses clips that would not fit [`MAX_CLIP_BYTES`].
pub fn decode_whole(path: &Path) -> anyhow::Result<Clip> {
    let info = probe(path)?;
    let bytes = u64::from(info.width) * u64::from(info.height) * 3 * info.frames;
    if bytes > MAX_CLIP_BYTES {
        bail!(
            "{}: {} frames of {}×{} need {:.1} GB in memory; whole clips are held in memory (cut the video first)",
            path.display(),
            info.frames,
            info.width,
            info.height,
            bytes as f64 / 1e9
        );
    }
    let req = DecodeRequest {
        size: SizeMode::Native,
        sampling: Sampling::All,
        audio: info.audio.as_ref().map(|a| AudioRequest {
            sample_rate_hz: a.sample_rate_hz,
            channels: a.channels,
        }),
        max_frames: None,
    };
    Ok(decode_clip(path, &req)?.clip)
}

/// Progress as the worker reports it: `(stage, done, total)`.
pub type Progress<'a> = &'a mut dyn FnMut(ExportStage, usize, usize);

/// Runs an export in the calling thread. `Ok(None)`: `cancel` was set before it finished, and
/// nothing was written.
pub fn export(
    req: &ExportRequest,
    cancel: &dyn Fn() -> bool,
    progress: Progress,
) -> anyhow::Result<Option<Exported>> {
    req.spec
        .validate()
        .with_context(|| format!("{}: the attack spec", req.target.path().display()))?;
    let assets = FileAssets::new(&req.assets_base);
    match &req.target {
        ExportTarget::Spec { path } => {
            progress(ExportStage::Writing, 0, 1);
            super::project::write_spec(&req.spec, &req.assets_base, path)?;
            progress(ExportStage::Writing, 1, 1);
            Ok(Some(Exported {
                path: path.clone(),
                survival: None,
            }))
        }
        ExportTarget::Patch { path } => {
            progress(ExportStage::Writing, 0, 1);
            // Fail on the folder before any decoding.
            drop(PendingFile::new(path, ".png")?);
            let (w, h, rgba) = trigger_patch(&req.spec, &req.source, &assets)
                .with_context(|| path.display().to_string())?;
            save_png_rgba(path, w, h, &rgba)?;
            progress(ExportStage::Writing, 1, 1);
            Ok(Some(Exported {
                path: path.clone(),
                survival: None,
            }))
        }
        ExportTarget::Mp4 {
            path,
            options,
            survival,
        } => {
            drop(PendingFile::new(path, ".mp4")?);
            export_mp4(req, &assets, path, options, *survival, cancel, progress)
        }
        ExportTarget::Frames { dir } => {
            check_png_target(dir)?;
            let Some((clean, poisoned)) = poison(req, &assets, cancel, progress, 2)? else {
                return Ok(None);
            };
            let n = clean.frames().len();
            let mut report = |d: usize, _| {
                progress(ExportStage::Encoding, n + d, 2 * n);
                !cancel()
            };
            match write_png_sequence_with(&poisoned, dir, &mut report) {
                Ok(dir) => Ok(Some(Exported {
                    path: dir,
                    survival: None,
                })),
                Err(WriteStop::Stopped) => Ok(None),
                Err(WriteStop::Failed(e)) => Err(e.into()),
            }
        }
    }
}

/// The clean clip and the poisoned one; `None` when cancelled. `passes` is how many frame-sized
/// steps the whole export has (for the progress total), the trigger being the first.
fn poison(
    req: &ExportRequest,
    assets: &dyn AssetLoader,
    cancel: &dyn Fn() -> bool,
    progress: Progress,
    passes: usize,
) -> anyhow::Result<Option<(Clip, Clip)>> {
    let clean = match &req.source {
        ExportSource::Clip(c) => c.clone(),
        ExportSource::File(p) => {
            progress(ExportStage::Decoding, 0, 0);
            decode_whole(p)?
        }
    };
    let n = clean.frames().len();
    if cancel() {
        return Ok(None);
    }
    progress(ExportStage::Applying, 0, passes * n);
    let out = apply_clip(&req.spec, &clean, assets).with_context(|| match &req.source {
        ExportSource::File(p) => p.display().to_string(),
        ExportSource::Clip(_) => "the clip".into(),
    })?;
    progress(ExportStage::Applying, n, passes * n);
    if cancel() {
        return Ok(None);
    }
    Ok(Some((clean, out.clip)))
}

fn export_mp4(
    req: &ExportRequest,
    assets: &dyn AssetLoader,
    path: &Path,
    options: &EncodeOptions,
    survival: bool,
    cancel: &dyn Fn() -> bool,
    progress: Progress,
) -> anyhow::Result<Option<Exported>> {
    let passes = if survival { 4 } else { 2 };
    let Some((clean, poisoned)) = poison(req, assets, cancel, progress, passes)? else {
        return Ok(None);
    };
    let n = clean.frames().len();
    let total = passes * n;
    let pending = {
        let mut report = |d: usize, _| {
            progress(ExportStage::Encoding, n + d, total);
            !cancel()
        };
        match write_mp4_pending(&poisoned, path, options, &mut report) {
            Ok(p) => p,
            Err(WriteStop::Stopped) => return Ok(None),
            Err(WriteStop::Failed(e)) => return Err(e.into()),
        }
    };
    // Measured on the file before it is renamed into place: a cancel here leaves nothing.
    let figure = if survival {
        let mut report = |d: usize, _| {
            progress(ExportStage::Survival, 2 * n + d, total);
            !cancel()
        };
        match codec_survival_with(&clean, &poisoned, pending.temp_path(), options, &mut report) {
            Ok(s) => Some(s),
            Err(WriteStop::Stopped) => return Ok(None),
            Err(WriteStop::Failed(e)) => {
                // The error names the temporary file; the user knows the destination.
                bail!("{}: measuring codec survival: {}", path.display(), e.cause)
            }
        }
    } else {
        None
    };
    if cancel() {
        return Ok(None);
    }
    let path = pending.persist()?;
    Ok(Some(Exported {
        path,
        survival: figure,
    }))
}

/// The frame size of the source, without decoding a file whole.
fn source_size(source: &ExportSource) -> anyhow::Result<(u32, u32)> {
    match source {
        ExportSource::Clip(c) => c.size().context("the clip has no frames"),
        ExportSource::File(p) => Ok(VideoReader::open(p, SizeMode::Native)?.output_size()),
    }
}

/// The trigger's patch as RGBA: (width, height, pixels). Built by core's own code, so it is the
/// patch `apply` pastes (for a dynamic trigger, its base patch).
pub fn trigger_patch(
    spec: &AttackSpec,
    source: &ExportSource,
    assets: &dyn AssetLoader,
) -> anyhow::Result<(u32, u32, Vec<u8>)> {
    match &spec.visual {
        Some(VisualTrigger::Badnets(b)) => {
            let (w, h) = b.size.wh();
            let fields = SourceFields {
                color: b.color,
                checkerboard: b.checkerboard.clone(),
                noise: b.noise.clone(),
                image: b.image.clone(),
                painted: b.painted.clone(),
            };
            let (patch, _) = fields.build(
                "visual",
                w as usize,
                h as usize,
                b.opacity as f32,
                spec.seed,
                assets,
            )?;
            let rgba = patch
                .rgb
                .chunks_exact(3)
                .zip(&patch.cover)
                .flat_map(|(p, &a)| [p[0], p[1], p[2], (a * 255.0).round() as u8])
                .collect();
            Ok((w, h, rgba))
        }
        Some(VisualTrigger::Blend(b)) => {
            // Blending with α = 1 over any frame gives the pattern itself, through the same
            // code that builds it for `apply`.
            let (w, h) = source_size(source)?;
            let mut full = spec.clone();
            full.visual = Some(VisualTrigger::Blend(BlendSpec {
                alpha: 1.0,
                pattern: b.pattern.clone(),
            }));
            full.temporal = Default::default();
            full.audio = None;
            let black = Frame::new(w, h, vec![0u8; w as usize * h as usize * 3])?;
            let t = apply_image(&full, &black, assets)?;
            let rgba = t
                .rgb()
                .chunks_exact(3)
                .flat_map(|p| [p[0], p[1], p[2], 255])
                .collect();
            Ok((w, h, rgba))
        }
        Some(other) => bail!(
            "a {} trigger has no patch image (only badnets and blend have one); export the spec instead",
            other.kind()
        ),
        None => bail!("the spec has no visual trigger, so no patch image; export the spec instead"),
    }
}

/// Writes `spec` as TOML or JSON by `path`'s extension, atomically.
/// How often the worker reports progress at most; cancel is still checked after every frame.
const PROGRESS_EVERY: Duration = Duration::from_millis(50);

/// Starts an export on a named worker. The returned flag cancels it: the worker stops within a
/// frame or so, removes what it had written and sends `Cancelled`. (`Job::cancel` stops it too,
/// but then no last event can arrive.)
pub fn start_export(
    req: ExportRequest,
    repaint: Repaint,
) -> std::io::Result<(Job<ExportEvent>, CancelFlag)> {
    let cancel = CancelFlag::default();
    let flag = cancel.clone();
    let name = format!("export:{}", req.target.path().display());
    let job = start(name, 16, repaint, move |tx| {
        let stop = || flag.is_cancelled() || tx.is_cancelled();
        let mut last: Option<(ExportStage, Instant)> = None;
        let mut progress = |stage: ExportStage, done: usize, total: usize| {
            // The first event of a stage and the last of the export always go; others at most
            // every PROGRESS_EVERY, so a fast encode does not flood a slow UI.
            let due = match last {
                Some((s, t)) => s != stage || t.elapsed() >= PROGRESS_EVERY || done == total,
                None => true,
            };
            if due {
                last = Some((stage, Instant::now()));
                tx.send(ExportEvent::Progress { stage, done, total });
            }
        };
        let result = export(&req, &stop, &mut progress);
        tx.send(match result {
            Ok(Some(e)) => ExportEvent::Done {
                path: e.path,
                survival: e.survival,
            },
            Ok(None) => ExportEvent::Cancelled,
            Err(e) => ExportEvent::Failed(one_line(&format!("{e:#}"))),
        });
    })?;
    Ok((job, cancel))
}

/// Library errors sometimes carry newlines; a failure is shown as one line.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
