//! An experiment's dataset: SynthMotion generated in memory, or a folder of video files. Which
//! clips to use, how many per class, what to skip and why are decided here; reading files is
//! the media layer's, which `train` may not use (tests/architecture.rs), so the caller passes
//! it in as a [`ClipSource`].

use super::data::{AUDIO_RATE, Dataset, Sample, load_size};
use crate::core::Clip;
use crate::core::assets::{AssetLoader, NoAssets};
use crate::core::experiment::{ExperimentSpec, ModelName};
use crate::core::synth::{SynthSpec, is_test_clip, synth_clip};
use anyhow::Context;
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// How clips are to be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClipRequest {
    /// Fitted into `side`×`side`.
    pub side: u32,
    /// Sampled uniformly over the file.
    pub frames: usize,
    /// Mono audio at this rate, or none.
    pub audio_rate_hz: Option<u32>,
}

/// One video file of a dataset folder.
#[derive(Clone, Debug)]
pub struct FolderItem {
    pub path: PathBuf,
    pub label: usize,
    /// In the training split (else the test split).
    pub train: bool,
}

/// Decodes one file as asked; the error is the reason the file is skipped.
pub type DecodeFn<'a> = Box<dyn Fn(&Path, &ClipRequest) -> Result<Clip, String> + Sync + 'a>;

/// An opened dataset folder: its index and a way to decode its files.
pub struct Folder<'a> {
    pub classes: Vec<String>,
    pub items: Vec<FolderItem>,
    /// Files the index could not use: (path, why).
    pub skipped: Vec<(String, String)>,
    pub decode: DecodeFn<'a>,
}

/// Reads dataset folders (the media layer implements this).
pub trait ClipSource: Sync {
    /// Indexes `root` (split number `split` of split-list layouts).
    fn open(&self, root: &Path, split: u32) -> anyhow::Result<Folder<'_>>;

    /// Reads the files the attack spec names (patch images, overlay audio), relative to the
    /// spec's folder. The default reads none: a spec that names a file fails with that name.
    fn assets(&self) -> &dyn AssetLoader {
        &NoAssets
    }
}

/// Whether a run needs the clips' audio: an audio trigger or a model that listens.
pub fn needs_audio(spec: &ExperimentSpec) -> bool {
    spec.attack.audio.is_some()
        || matches!(spec.model.kind, ModelName::AudioCnn | ModelName::AvFusion)
}

/// Loads (or generates) the dataset of an experiment; `progress(done, total)` as clips arrive.
/// The work runs on the current rayon pool.
pub fn load(
    spec: &ExperimentSpec,
    source: &dyn ClipSource,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> anyhow::Result<Dataset> {
    if let Some(synth) = &spec.dataset.synth {
        return generate(spec, synth, progress);
    }
    let root = spec
        .dataset
        .path
        .as_ref()
        .context("dataset: no path or synth")?;
    read_folder(spec, root, source, progress)
}

fn generate(
    spec: &ExperimentSpec,
    synth: &SynthSpec,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> anyhow::Result<Dataset> {
    let s = SynthSpec {
        frames: spec.dataset.frames,
        size: load_size(spec),
        sample_rate_hz: AUDIO_RATE,
        ..synth.clone()
    };
    let classes: Vec<String> = s.motions().iter().map(|m| m.name().to_string()).collect();
    let jobs: Vec<(usize, usize)> = (0..s.classes)
        .flat_map(|c| (0..s.per_class).map(move |i| (c, i)))
        .collect();
    let done = AtomicUsize::new(0);
    let made: Vec<(usize, usize, Clip)> = jobs
        .par_iter()
        .map(|&(c, i)| {
            let clip = synth_clip(&s, c, i).map_err(|e| anyhow::anyhow!("dataset.synth: {e}"))?;
            progress(done.fetch_add(1, Ordering::Relaxed) + 1, jobs.len());
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
    Ok(ds)
}

fn read_folder(
    spec: &ExperimentSpec,
    root: &Path,
    source: &dyn ClipSource,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> anyhow::Result<Dataset> {
    let frames = spec.dataset.frames;
    let folder = source.open(root, spec.dataset.split)?;
    // At most `max_per_class` per class and split, in index order (0 = all).
    let mut items: Vec<&FolderItem> = Vec::new();
    let mut seen = std::collections::HashMap::new();
    for it in &folder.items {
        let n = seen.entry((it.label, it.train)).or_insert(0usize);
        if spec.dataset.max_per_class == 0 || *n < spec.dataset.max_per_class {
            *n += 1;
            items.push(it);
        }
    }
    let req = ClipRequest {
        side: load_size(spec),
        frames,
        audio_rate_hz: needs_audio(spec).then_some(AUDIO_RATE),
    };
    let done = AtomicUsize::new(0);
    let decoded: Vec<Result<Clip, String>> = items
        .par_iter()
        .map(|it| {
            // Short files come back with fewer frames; a batch needs them all alike.
            let r = (folder.decode)(&it.path, &req).and_then(|c| {
                if c.frames().len() == frames {
                    Ok(c)
                } else {
                    Err(format!("only {} frames", c.frames().len()))
                }
            });
            progress(done.fetch_add(1, Ordering::Relaxed) + 1, items.len());
            r
        })
        .collect();
    let mut ds = Dataset {
        classes: folder.classes.clone(),
        train: Vec::new(),
        test: Vec::new(),
        skipped: folder.skipped.clone(),
    };
    for (it, r) in items.iter().zip(decoded) {
        match r {
            Ok(clip) => {
                let s = Sample {
                    clip,
                    label: it.label,
                    source: it.path.display().to_string(),
                };
                if it.train {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::experiment::parse_experiment;
    use crate::core::time::Rational;
    use crate::core::{Clip, Frame};

    /// Two classes, three train and one test file each; `short.mp4` decodes too short.
    struct Fake;

    impl ClipSource for Fake {
        fn open(&self, root: &Path, split: u32) -> anyhow::Result<Folder<'_>> {
            assert_eq!((root, split), (Path::new("/data"), 2));
            let mut items = Vec::new();
            for label in 0..2 {
                for k in 0..4 {
                    let name = if (label, k) == (1, 0) {
                        "short".to_string()
                    } else {
                        format!("{label}-{k}")
                    };
                    items.push(FolderItem {
                        path: PathBuf::from(format!("/data/{name}.mp4")),
                        label,
                        train: k < 3,
                    });
                }
            }
            Ok(Folder {
                classes: vec!["a".into(), "b".into()],
                items,
                skipped: vec![("/data/x.txt".into(), "not a video".into())],
                decode: Box::new(|path, req| {
                    assert_eq!((req.side, req.audio_rate_hz), (16, None));
                    let n = if path.ends_with("short.mp4") {
                        2
                    } else {
                        req.frames
                    };
                    let s = req.side;
                    let frames = (0..n)
                        .map(|_| Frame::new(s, s, vec![0u8; (s * s * 3) as usize]))
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|e| e.to_string())?;
                    Clip::new(frames, Rational::from_int(25), None).map_err(|e| e.to_string())
                }),
            })
        }
    }

    #[test]
    fn a_folder_keeps_max_per_class_and_skips_short_clips_with_the_reason() {
        let spec = parse_experiment(
            r#"
version = 1
name = "folder"
seed = 1
epochs = 1
batch_size = 2
[dataset]
path = "/data"
split = 2
frames = 4
size = 16
max_per_class = 2
[model]
kind = "r2plus1d_tiny"
[augment]
random_crop = false
[attack]
visual = { kind = "badnets", size = 2 }
[poison]
target = "a"
ratio = 0.0
"#,
        )
        .expect("spec");
        let calls = AtomicUsize::new(0);
        let ds = load(&spec, &Fake, &|_, total| {
            calls.fetch_add(1, Ordering::Relaxed);
            assert_eq!(total, 6, "two train and one test file per class");
        })
        .expect("loads");
        assert_eq!(calls.load(Ordering::Relaxed), 6);
        let sources = |v: &[Sample]| v.iter().map(|s| s.source.clone()).collect::<Vec<_>>();
        assert_eq!(
            sources(&ds.train),
            ["/data/0-0.mp4", "/data/0-1.mp4", "/data/1-1.mp4"]
        );
        assert_eq!(sources(&ds.test), ["/data/0-3.mp4", "/data/1-3.mp4"]);
        assert_eq!(
            ds.skipped,
            [
                ("/data/x.txt".to_string(), "not a video".to_string()),
                ("/data/short.mp4".to_string(), "only 2 frames".to_string())
            ]
        );
        assert!(ds.train.iter().all(|s| s.clip.frames().len() == 4));
    }
}
