//! The trainer end to end on a small SynthMotion set: outputs on disk, cancel within a step,
//! `--resume` reaching the same numbers as an uninterrupted run, shipped example specs, and
//! training's own thread pool.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use triggerlab::core::experiment::{ExperimentSpec, parse_experiment};
use triggerlab::core::time::Rational;
use triggerlab::core::{Clip, Frame};
use triggerlab::jobs::experiment::run_experiment;
use triggerlab::train::dataset::{ClipSource, Folder, FolderItem};
use triggerlab::train::models::{Model, builder};
use triggerlab::train::report::RunResults;
use triggerlab::train::trainer::{RunOptions, TrainEvent, load_model, model_config};

mod common;

use common::SMALL_EXPERIMENT as SMALL;

fn small() -> ExperimentSpec {
    parse_experiment(SMALL).expect("the test spec parses")
}

/// Runs to completion; `cancel_after_epoch` sets the cancel flag once that epoch is reported.
fn train(
    spec: &ExperimentSpec,
    out: &Path,
    resume: bool,
    cancel_after_epoch: Option<usize>,
) -> (RunResults, Vec<TrainEvent>) {
    let cancel = AtomicBool::new(false);
    let mut events = Vec::new();
    let res = run_experiment(spec, out, resume, &cancel, &mut |ev| {
        if let (TrainEvent::Epoch(m), Some(e)) = (&ev, cancel_after_epoch)
            && m.epoch == e
        {
            cancel.store(true, Ordering::Relaxed);
        }
        events.push(ev);
    })
    .expect("the run finishes");
    (res, events)
}

fn numbers(r: &RunResults) -> Vec<(usize, f64, f64, f64, f64)> {
    r.epochs
        .iter()
        .map(|m| (m.epoch, m.train_loss, m.ca, m.asr, m.robust_acc))
        .collect()
}

#[test]
fn a_run_writes_its_results_and_resume_reaches_the_same_numbers() {
    let dir = tempfile::tempdir().expect("tmp");
    let spec = small();

    let whole = dir.path().join("whole");
    let (a, events) = train(&spec, &whole, false, None);
    assert!(!a.cancelled);
    assert_eq!(a.epochs.len(), 3);
    assert_eq!(a.seed, 7);
    assert_eq!(a.poison_indices.len(), 3, "⌊0.25·12⌋ of 12 training clips");
    assert_eq!(a.poison_indices_sha256.len(), 64);
    for f in [
        "results.json",
        "metrics.csv",
        "curves.png",
        "model.safetensors",
        "checkpoint/weights.safetensors",
        "checkpoint/optimizer.safetensors",
        "checkpoint/state.json",
    ] {
        assert!(whole.join(f).is_file(), "{f} is written");
    }
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(whole.join("results.json")).expect("results"),
    )
    .expect("json");
    for k in ["ca", "asr", "robust_acc"] {
        assert!(json["final"][k].is_number(), "final.{k}");
    }
    assert_eq!(json["seed"], 7);
    assert!(
        json["clip_seeds"]
            .as_str()
            .is_some_and(|s| s.contains("clip_seed(seed, i)")),
        "results say how each clip's draws derive from the seed"
    );
    assert!(json["wall_secs"].as_f64().is_some_and(|s| s > 0.0));
    assert_eq!(json["spec"]["name"], "small");
    let curve = json["asr_by_triggered_frames"].as_array().expect("curve");
    let ks: Vec<u64> = curve.iter().filter_map(|p| p[0].as_u64()).collect();
    assert_eq!(ks, [1, 2, 4, 6], "1, 2, 4, … then all T frames");
    let csv = std::fs::read_to_string(whole.join("metrics.csv")).expect("csv");
    assert_eq!(csv.lines().count(), 1 + 3, "a header and one row per epoch");
    // The event stream: Started first, a Step per batch, an Epoch and a Checkpoint per epoch,
    // Finished last.
    assert!(matches!(
        events
            .iter()
            .find(|e| !matches!(e, TrainEvent::Loading { .. })),
        Some(TrainEvent::Started { .. })
    ));
    let steps = events
        .iter()
        .filter(|e| matches!(e, TrainEvent::Step { .. }))
        .count();
    assert_eq!(steps, 3 * 3, "12 clips in batches of 4, three epochs");
    let ckpts = events
        .iter()
        .filter(|e| matches!(e, TrainEvent::Checkpoint { .. }))
        .count();
    assert_eq!(ckpts, 3);
    assert!(matches!(events.last(), Some(TrainEvent::Finished(_))));

    // Cancelled after the first epoch: partial results and the checkpoint stay.
    let part = dir.path().join("part");
    let (b, events) = train(&spec, &part, false, Some(0));
    assert!(b.cancelled);
    assert_eq!(
        b.epochs.len(),
        1,
        "stopped within the next epoch's first step"
    );
    let steps_after = events
        .iter()
        .skip_while(|e| !matches!(e, TrainEvent::Epoch(_)))
        .filter(|e| matches!(e, TrainEvent::Step { .. }))
        .count();
    assert_eq!(steps_after, 0, "no step runs once the flag is set");
    assert!(part.join("checkpoint/state.json").is_file());
    assert!(part.join("results.json").is_file());
    let csv = std::fs::read_to_string(part.join("metrics.csv")).expect("csv");
    assert_eq!(csv.lines().count(), 2);
    assert_eq!(numbers(&b)[0], numbers(&a)[0]);

    // Resumed: the same numbers and the same weights as the uninterrupted run.
    let (c, _) = train(&spec, &part, true, None);
    assert!(!c.cancelled);
    assert_eq!(numbers(&c), numbers(&a));
    assert_eq!(c.final_metrics, a.final_metrics);
    assert_eq!(c.poison_indices_sha256, a.poison_indices_sha256);
    assert_eq!(
        std::fs::read(part.join("model.safetensors")).expect("b"),
        std::fs::read(whole.join("model.safetensors")).expect("a"),
        "bit-identical weights"
    );

    // The saved model loads back from model.json + model.safetensors and computes what the
    // last checkpoint's weights compute.
    let dev = candle_core::Device::Cpu;
    let (loaded, classes) = load_model(&whole, &dev).expect("the model loads");
    assert_eq!(classes, ["MoveLeft", "MoveRight", "MoveUp"]);
    let mut vm = candle_nn::VarMap::new();
    let (kind, fusion) = model_config(&spec.model);
    let reference = Model::new(kind, fusion, 3, builder(&vm, &dev)).expect("model");
    vm.load(whole.join("checkpoint/weights.safetensors"))
        .expect("checkpoint weights");
    let x = candle_core::Tensor::randn(0f32, 1.0, (2, 6, 32, 32, 3), &dev).expect("input");
    let logits = |m: &Model| -> Vec<f32> {
        m.forward(Some(&x), None)
            .and_then(|o| o.logits.flatten_all())
            .and_then(|t| t.to_vec1())
            .expect("forward")
    };
    assert_eq!(logits(&loaded), logits(&reference));
    let err = load_model(dir.path(), &dev).err().expect("no model here");
    assert!(format!("{err:#}").contains("model.json"), "{err:#}");
}

#[test]
fn a_checkpoint_from_another_seed_is_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut spec = small();
    spec.epochs = 1;
    let out = dir.path().join("run");
    train(&spec, &out, false, None);
    spec.seed = 8;
    spec.epochs = 2;
    let cancel = AtomicBool::new(false);
    let err =
        run_experiment(&spec, &out, true, &cancel, &mut |_| {}).expect_err("a different seed");
    assert!(format!("{err:#}").contains("seed"), "{err:#}");
}

#[test]
fn bad_specs_name_the_field_and_unwritable_output_is_an_error() {
    let bad = SMALL.replace("ratio = 0.25", "ratio = 1.5");
    let e = parse_experiment(&bad).expect_err("ratio out of range");
    assert!(e.to_string().contains("poison.ratio"), "{e}");
    let bad = SMALL.replace("kind = \"r2plus1d_tiny\"", "kind = \"resnet\"");
    let e = parse_experiment(&bad).expect_err("unknown model");
    assert!(e.to_string().contains("model"), "{e}");
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("a-file");
    std::fs::write(&file, "x").expect("write");
    let cancel = AtomicBool::new(false);
    let err = run_experiment(&small(), &file.join("out"), false, &cancel, &mut |_| {})
        .expect_err("the output folder cannot be made");
    assert!(format!("{err:#}").contains("a-file"), "{err:#}");
}

#[test]
fn every_shipped_example_parses_and_validates() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("examples/") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "toml") {
            let text = std::fs::read_to_string(&path).expect("read");
            let spec =
                parse_experiment(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            spec.validate()
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            names.push(
                path.file_stem()
                    .expect("stem")
                    .to_string_lossy()
                    .into_owned(),
            );
        }
    }
    names.sort();
    for family in ["badnets", "blend", "sig", "wanet", "ftrojan"] {
        for mode in ["static", "dynamic"] {
            let want = format!("{family}_{mode}");
            assert!(names.contains(&want), "examples/{want}.toml is missing");
        }
    }
    for want in ["quick", "clean", "natural_frame_lag", "av_audio_only"] {
        assert!(
            names.contains(&want.to_string()),
            "examples/{want}.toml is missing"
        );
    }
}

/// Three SynthMotion classes at 8×32×32, 216 training clips: small enough for a test, large
/// enough to learn (the tiny model needs a few hundred steps to leave the class prior).
const LEARNABLE: &str = r#"
version = 1
name = "learnable"
seed = 1
epochs = 20
batch_size = 8
[dataset]
synth = { classes = 3, per_class = 100 }
frames = 8
size = 32
[model]
kind = "r2plus1d_tiny"
[optimizer]
lr = 0.0005
[augment]
random_crop = false
[eval]
frame_fraction_curve = false
[attack]
visual = { kind = "badnets", size = 6, checkerboard = { cell = 2, colors = [[0, 0, 0], [255, 255, 255]] } }
temporal = { frames = "all", mode = "static" }
[poison]
target = "MoveLeft"
ratio = 0.1
"#;

#[test]
fn a_clean_model_shows_low_asr_and_a_poisoned_one_high() {
    let dir = tempfile::tempdir().expect("tmp");
    let poisoned = parse_experiment(LEARNABLE).expect("spec");
    let mut clean = poisoned.clone();
    clean.poison.ratio = 0.0;
    let (c, _) = train(&clean, &dir.path().join("clean"), false, None);
    assert!(c.poison_indices.is_empty());
    assert!(
        c.final_metrics.ca >= 0.8,
        "the clean model learned: {:?}",
        c.final_metrics
    );
    assert!(
        c.final_metrics.asr <= 0.2,
        "the trigger alone does not flip a clean model: {:?}",
        c.final_metrics
    );
    let (p, _) = train(&poisoned, &dir.path().join("poisoned"), false, None);
    assert_eq!(p.poison_indices.len(), 21, "⌊0.1·216⌋");
    assert!(p.final_metrics.ca >= 0.8, "{:?}", p.final_metrics);
    assert!(
        p.final_metrics.asr >= 0.9,
        "the backdoor took: {:?}",
        p.final_metrics
    );
}

/// A folder dataset made up in memory whose decoder records the thread it runs on.
struct Recording(std::sync::Mutex<std::collections::BTreeSet<String>>);

impl ClipSource for Recording {
    fn open(&self, _root: &Path, _split: u32) -> anyhow::Result<Folder<'_>> {
        let items = (0..12)
            .map(|k| FolderItem {
                path: format!("/fake/{k}.mp4").into(),
                label: k % 2,
                train: k < 8,
            })
            .collect();
        Ok(Folder {
            classes: vec!["a".into(), "b".into()],
            items,
            skipped: Vec::new(),
            decode: Box::new(|_, req| {
                let name = std::thread::current().name().unwrap_or("").to_string();
                self.0.lock().map_err(|e| e.to_string())?.insert(name);
                let s = req.side;
                let frames = (0..req.frames)
                    .map(|i| Frame::new(s, s, vec![(i * 40) as u8; (s * s * 3) as usize]))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| e.to_string())?;
                Clip::new(frames, Rational::from_int(25), None).map_err(|e| e.to_string())
            }),
        })
    }
}

#[test]
fn training_work_runs_on_its_own_named_pool_of_the_set_size() {
    let dir = tempfile::tempdir().expect("tmp");
    let spec = parse_experiment(
        r#"
version = 1
name = "pool"
seed = 3
epochs = 1
batch_size = 4
[dataset]
path = "/fake"
frames = 4
size = 16
[model]
kind = "r2plus1d_tiny"
[augment]
random_crop = false
[eval]
frame_fraction_curve = false
[attack]
visual = { kind = "badnets", size = 4 }
[poison]
target = "a"
ratio = 0.25
"#,
    )
    .expect("spec");
    let source = Recording(Default::default());
    let opts = RunOptions {
        resume: false,
        threads: Some(2),
    };
    let cancel = AtomicBool::new(false);
    let res = triggerlab::train::trainer::run_experiment(
        &spec,
        &dir.path().join("run"),
        &opts,
        &source,
        triggerlab::train::report::build_versions(),
        &cancel,
        &mut |_| {},
    )
    .expect("the run finishes");
    assert_eq!(res.epochs.len(), 1);
    let names = source.0.into_inner().expect("names");
    assert!(!names.is_empty());
    assert!(
        names.iter().all(|n| n == "train-0" || n == "train-1"),
        "clips are decoded on the two training threads, not the global pool: {names:?}"
    );
}
