//! Running an experiment on a named worker thread: the trainer
//! (`train::trainer::run_experiment`, which loads the dataset too) with the media layer as its
//! clip source, its events back through a bounded channel. Cancelling stops the run within one
//! step; its partial results and last checkpoint stay on disk.

use super::{CancelFlag, Job, Repaint, start};
use crate::core::experiment::ExperimentSpec;
use crate::media::cache::ClipCache;
use crate::media::dataset::{Split, read_any};
use crate::media::decode::{AudioRequest, DecodeRequest, Sampling};
use crate::media::reader::SizeMode;
use crate::train::dataset::{ClipRequest, ClipSource, Folder, FolderItem};
use crate::train::pool::studio_threads;
use crate::train::report::{RunResults, Versions};
use crate::train::trainer::{RunOptions, TrainEvent};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// Dataset folders read through the media layer: indexed by `read_any`, clips decoded once and
/// then served from the clip cache.
pub struct MediaClips;

impl ClipSource for MediaClips {
    fn open(&self, root: &Path, split: u32) -> anyhow::Result<Folder<'_>> {
        let index = read_any(root, split)?;
        // Opened here, not up front: synthetic datasets never touch the cache folder.
        let cache = ClipCache::new(ClipCache::default_dir())?;
        Ok(Folder {
            classes: index.classes,
            items: index
                .items
                .into_iter()
                .map(|it| FolderItem {
                    train: it.split == Split::Train,
                    path: it.path,
                    label: it.label,
                })
                .collect(),
            skipped: index
                .skipped
                .iter()
                .map(|s| (s.path.display().to_string(), s.reason.clone()))
                .collect(),
            decode: Box::new(move |path, req: &ClipRequest| {
                let req = decode_request(req);
                cache
                    .get_or_decode(path, &req)
                    .map(|(c, _)| c)
                    .map_err(|e| e.cause.to_string())
            }),
        })
    }
}

/// How a dataset file is decoded for training and evaluation (and for `predict`): fitted into
/// the side (cover, then centre crop), frames sampled uniformly, mono audio at the rate asked.
pub fn decode_request(req: &ClipRequest) -> DecodeRequest {
    DecodeRequest {
        size: SizeMode::Fit {
            width: req.side,
            height: req.side,
        },
        sampling: Sampling::Uniform {
            frames: req.frames as u32,
        },
        audio: req.audio_rate_hz.map(|rate| AudioRequest {
            sample_rate_hz: rate,
            channels: 1,
        }),
        max_frames: None,
    }
}

/// The versions a run's results record (FFmpeg's as linked at run time).
pub fn versions() -> Versions {
    let v = ffmpeg_next::codec::version();
    let mut out = crate::train::report::build_versions();
    out.add("ffmpeg-next", env!("TL_FFMPEG_NEXT_VERSION"));
    out.add(
        "libavcodec",
        format!("{}.{}.{}", v >> 16, (v >> 8) & 0xff, v & 0xff),
    );
    out
}

/// Loads the data and trains, in the calling thread and a pool of one thread per core.
pub fn run_experiment(
    spec: &ExperimentSpec,
    out: &Path,
    resume: bool,
    cancel: &AtomicBool,
    emit: &mut dyn FnMut(TrainEvent),
) -> anyhow::Result<RunResults> {
    let opts = RunOptions {
        resume,
        threads: None,
    };
    crate::train::trainer::run_experiment(spec, out, &opts, &MediaClips, versions(), cancel, emit)
}

/// Starts a run on a named worker thread. Training gets all cores but one, which the studio's
/// UI and preview keep.
pub fn start_run(
    spec: ExperimentSpec,
    out: PathBuf,
    resume: bool,
    repaint: Repaint,
) -> std::io::Result<(Job<TrainEvent>, CancelFlag)> {
    let flag = Arc::new(AtomicBool::new(false));
    let cancel = CancelFlag::from_shared(flag.clone());
    let opts = RunOptions {
        resume,
        threads: Some(studio_threads()),
    };
    let job = start(
        format!("experiment:{}", spec.name),
        64,
        repaint,
        move |tx| {
            // `Job::cancel` (or a dropped handle) makes `send` fail: pass that on to the trainer.
            // The returned flag stops the trainer while the channel stays open for its last events.
            let mut emit = |ev: TrainEvent| {
                if !tx.send(ev) {
                    flag.store(true, std::sync::atomic::Ordering::Relaxed);
                }
            };
            let run = crate::train::trainer::run_experiment(
                &spec,
                &out,
                &opts,
                &MediaClips,
                versions(),
                &flag,
                &mut emit,
            );
            if let Err(e) = run {
                tx.send(TrainEvent::Failed {
                    error: format!("{e:#}"),
                });
            }
        },
    )?;
    Ok((job, cancel))
}

/// The shipped example specs (`examples/*.toml`), compiled in so the studio offers them
/// wherever it runs; the quick demo first.
pub fn examples() -> Vec<(String, String)> {
    macro_rules! ex {
        ($($name:literal),*) => {
            vec![$(($name.to_string(), include_str!(concat!("../../examples/", $name, ".toml")).to_string())),*]
        };
    }
    ex!(
        "quick",
        "clean",
        "badnets_static",
        "badnets_dynamic",
        "blend_static",
        "blend_dynamic",
        "sig_static",
        "sig_dynamic",
        "wanet_static",
        "wanet_dynamic",
        "ftrojan_static",
        "ftrojan_dynamic",
        "natural_frame_lag",
        "av_audio_only"
    )
}
