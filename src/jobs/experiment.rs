//! Running an experiment: loading its dataset (SynthMotion generated in memory, or a folder read
//! through the media layer's clip cache), then the trainer, on a named worker thread whose events
//! come back through a bounded channel. Cancelling stops the run within one step; its partial
//! results and last checkpoint stay on disk.

use super::{CancelFlag, Job, Repaint, start};
use crate::core::Clip;
use crate::core::experiment::ExperimentSpec;
use crate::core::synth::{SynthSpec, is_test_clip, synth_clip};
use crate::media::cache::ClipCache;
use crate::media::dataset::{Split, read_any};
use crate::media::decode::{AudioRequest, DecodeRequest, Sampling};
use crate::media::reader::SizeMode;
use crate::train::data::{AUDIO_RATE, Dataset, Sample, load_size};
use crate::train::report::Versions;
use crate::train::trainer::{TrainEvent, run};
use anyhow::Context;
use rayon::prelude::*;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// Loads (or generates) the dataset of an experiment; `progress(done, total)` as clips arrive.
pub fn load_dataset(
    spec: &ExperimentSpec,
    needs_audio: bool,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> anyhow::Result<Dataset> {
    let size = load_size(spec);
    let frames = spec.dataset.frames;
    if let Some(synth) = &spec.dataset.synth {
        let s = SynthSpec {
            frames,
            size,
            sample_rate_hz: AUDIO_RATE,
            ..synth.clone()
        };
        let classes: Vec<String> = s.motions().iter().map(|m| m.name().to_string()).collect();
        let jobs: Vec<(usize, usize)> = (0..s.classes)
            .flat_map(|c| (0..s.per_class).map(move |i| (c, i)))
            .collect();
        let done = std::sync::atomic::AtomicUsize::new(0);
        let made: Vec<(usize, usize, Clip)> = jobs
            .par_iter()
            .map(|&(c, i)| {
                let clip =
                    synth_clip(&s, c, i).map_err(|e| anyhow::anyhow!("dataset.synth: {e}"))?;
                progress(
                    done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1,
                    jobs.len(),
                );
                Ok((c, i, clip))
            })
            .collect::<anyhow::Result<_>>()?;
        let mut ds = Dataset {
            classes,
            train: Vec::new(),
            test: Vec::new(),
            skipped: Vec::new(),
        };
        for (c, i, clip) in made {
            let sample = Sample {
                clip,
                label: c,
                source: format!("synth:{}:{i}", s.motions()[c].name()),
            };
            if is_test_clip(s.per_class, i) {
                ds.test.push(sample);
            } else {
                ds.train.push(sample);
            }
        }
        return Ok(ds);
    }
    let root = spec
        .dataset
        .path
        .as_ref()
        .context("dataset: no path or synth")?;
    let index = read_any(root, spec.dataset.split)?;
    let mut items: Vec<&crate::media::dataset::Item> = Vec::new();
    let mut seen = std::collections::HashMap::new();
    for it in &index.items {
        let n = seen
            .entry((it.label, it.split == Split::Train))
            .or_insert(0usize);
        if spec.dataset.max_per_class == 0 || *n < spec.dataset.max_per_class {
            *n += 1;
            items.push(it);
        }
    }
    let cache = ClipCache::new(ClipCache::default_dir())?;
    let req = DecodeRequest {
        size: SizeMode::Fit {
            width: size,
            height: size,
        },
        sampling: Sampling::Uniform {
            frames: frames as u32,
        },
        audio: needs_audio.then_some(AudioRequest {
            sample_rate_hz: AUDIO_RATE,
            channels: 1,
        }),
        max_frames: None,
    };
    let done = std::sync::atomic::AtomicUsize::new(0);
    let decoded: Vec<(usize, Result<Clip, String>)> = items
        .par_iter()
        .enumerate()
        .map(|(k, it)| {
            let r = cache
                .get_or_decode(&it.path, &req)
                .map(|(c, _)| c)
                .map_err(|e| e.cause.to_string());
            let r = r.and_then(|c| {
                if c.frames().len() == frames {
                    Ok(c)
                } else {
                    Err(format!("only {} frames", c.frames().len()))
                }
            });
            progress(
                done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1,
                items.len(),
            );
            (k, r)
        })
        .collect();
    let mut ds = Dataset {
        classes: index.classes.clone(),
        train: Vec::new(),
        test: Vec::new(),
        skipped: index
            .skipped
            .iter()
            .map(|s| (s.path.display().to_string(), s.reason.clone()))
            .collect(),
    };
    for (k, r) in decoded {
        let it = items[k];
        match r {
            Ok(clip) => {
                let s = Sample {
                    clip,
                    label: it.label,
                    source: it.path.display().to_string(),
                };
                if it.split == Split::Train {
                    ds.train.push(s)
                } else {
                    ds.test.push(s)
                }
            }
            Err(e) => ds.skipped.push((it.path.display().to_string(), e)),
        }
    }
    anyhow::ensure!(
        !ds.train.is_empty(),
        "{}: no usable training clips",
        root.display()
    );
    anyhow::ensure!(
        !ds.test.is_empty(),
        "{}: no usable test clips (split {})",
        root.display(),
        spec.dataset.split
    );
    Ok(ds)
}

/// The versions a run's results record (FFmpeg's as linked at run time).
pub fn versions() -> Versions {
    let v = ffmpeg_next::codec::version();
    let mut out = Versions::of_build();
    out.add("ffmpeg-next", env!("TL_FFMPEG_NEXT_VERSION"));
    out.add(
        "libavcodec",
        format!("{}.{}.{}", v >> 16, (v >> 8) & 0xff, v & 0xff),
    );
    out
}

/// Loads the data and trains, in the calling thread (the CLI and the job both use it).
pub fn run_experiment(
    spec: &ExperimentSpec,
    out: &std::path::Path,
    resume: bool,
    cancel: &AtomicBool,
    emit: &mut dyn FnMut(TrainEvent),
) -> anyhow::Result<crate::train::report::RunResults> {
    spec.validate()
        .map_err(|e| anyhow::anyhow!("experiment: {e}"))?;
    let needs_audio = spec.attack.audio.is_some()
        || matches!(
            spec.model.kind,
            crate::core::experiment::ModelName::AudioCnn
                | crate::core::experiment::ModelName::AvFusion
        );
    let (tx, rx) = std::sync::mpsc::channel::<(usize, usize)>();
    let data = std::thread::scope(|s| -> anyhow::Result<Dataset> {
        let loader = std::thread::Builder::new()
            .name("dataset-loader".into())
            .spawn_scoped(s, move || {
                load_dataset(spec, needs_audio, &|d, t| {
                    let _ = tx.send((d, t)); // the receiver below outlives the loader
                })
            })?;
        while let Ok((d, t)) = rx.recv() {
            emit(TrainEvent::Loading { done: d, total: t });
        }
        loader
            .join()
            .map_err(|_| anyhow::anyhow!("the dataset loader panicked"))?
    })?;
    run(spec, data, out, resume, cancel, versions(), emit)
}

/// Starts a run on a named worker thread.
pub fn start_run(
    spec: ExperimentSpec,
    out: PathBuf,
    resume: bool,
    repaint: Repaint,
) -> std::io::Result<(Job<TrainEvent>, CancelFlag)> {
    let flag = Arc::new(AtomicBool::new(false));
    let cancel = CancelFlag::from_shared(flag.clone());
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
            if let Err(e) = run_experiment(&spec, &out, resume, &flag, &mut emit) {
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
