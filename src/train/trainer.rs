//! The training run, in stages: prepare the data (`load_data`), plan the poison
//! (`plan_poison`, `poison_train_set`, `test_set`), build the model (`build_model`,
//! `resume_from`), train the epochs (`train_epochs`, `train_epoch`), evaluate
//! (`evaluate`, `asr_by_triggered_frames`) and write the results (`results`). Events go to
//! a callback (the CLI draws progress bars from them, the studio live plots); a cancel flag
//! stops the run within one step. Parallel work runs on training's own pool (`train::pool`).
//! Everything random derives from the experiment seed, so a run — and a resumed run — is
//! reproducible.

use super::data::{Batch, Dataset, Sample, View, centre, load_size, make_batch};
use super::dataset::{self, ClipSource};
use super::device::{DeviceChoice, DevicePref, select_device};
use super::features::MelConfig;
use super::models::{FusionConfig, Model, ModelKind, VideoBackbone, builder, parameter_count};
use super::optim::{OptKind, Optimizer};
use super::pool::training_pool;
use super::report::{EpochMetrics, FinalMetrics, RunResults, Versions, write_outputs};
use crate::core::Clip;
use crate::core::assets::{AssetLoader, NoAssets};
use crate::core::attack::AttackSpec;
use crate::core::experiment::{
    ExperimentSpec, FusionVideo, InitScheme, ModelName, OptimizerKind, TriggerStage,
};
use crate::core::metrics::classify;
use crate::core::placement::FrameSelection;
use crate::core::poison::PoisonPlan;
use crate::core::poison::{TEST_CLIP_INDEX_BASE, apply_for_clip};
use crate::core::rng::{Stream, rng_for};
use crate::core::trigger::VisualTrigger;
use anyhow::Context;
use candle_core::{Device, Tensor};
use candle_nn::VarMap;
use rand::Rng;
use rand::seq::SliceRandom;
use rayon::ThreadPool;
use serde::Serialize;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

pub use crate::core::report::TrainEvent;

/// Checkpoint contents besides the tensors.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
struct CheckpointState {
    /// Epochs completed.
    epochs_done: usize,
    step_t: u64,
    seed: u64,
    /// Metrics so far, to carry into the resumed run's results.
    history: Vec<EpochMetrics>,
    train_wall_secs: f64,
}

fn model_kind(spec: &ExperimentSpec) -> (ModelKind, FusionConfig) {
    model_config(&spec.model)
}

/// The model kind and fusion settings a spec's `[model]` asks for.
pub fn model_config(spec_model: &crate::core::experiment::ModelSpec) -> (ModelKind, FusionConfig) {
    let kind = match spec_model.kind {
        ModelName::R2plus1dTiny => ModelKind::R2plus1dTiny,
        ModelName::TsmTiny => ModelKind::TsmTiny,
        ModelName::AudioCnn => ModelKind::AudioCnn,
        ModelName::AvFusion => ModelKind::AvFusion,
    };
    let fusion = FusionConfig {
        video_weight: spec_model.fusion_video_weight,
        joint: spec_model.fusion_joint,
        video: match spec_model.fusion_video {
            FusionVideo::R2plus1dTiny => VideoBackbone::R2plus1dTiny,
            FusionVideo::TsmTiny => VideoBackbone::TsmTiny,
        },
    };
    (kind, fusion)
}

/// A saved model: the network and its class names, from `model.json` + `model.safetensors` in
/// `dir` (a run's output folder).
pub fn load_model(dir: &Path, dev: &Device) -> anyhow::Result<(Model, Vec<String>)> {
    #[derive(serde::Deserialize)]
    struct Card {
        model: crate::core::experiment::ModelSpec,
        classes: Vec<String>,
    }
    let card_path = dir.join("model.json");
    let card: Card = serde_json::from_str(
        &std::fs::read_to_string(&card_path)
            .with_context(|| format!("{}: cannot read", card_path.display()))?,
    )
    .with_context(|| format!("{}: not a TriggerLab model card", card_path.display()))?;
    let (kind, fusion) = model_config(&card.model);
    let mut vm = VarMap::new();
    let model = Model::new(kind, fusion, card.classes.len(), builder(&vm, dev))?;
    let weights = dir.join("model.safetensors");
    vm.load(&weights)
        .with_context(|| format!("{}: weights do not fit the model card", weights.display()))?;
    Ok((model, card.classes))
}

/// Seeded initial weights (candle's own init draws from an unseeded generator), uniform, with
/// fan_in from the weight's shape (a bias uses its weight's). `Pytorch`: every tensor in
/// ±1/√fan_in. `He`: conv weights in ±√(6/fan_in) and conv biases zero (each conv feeds a ReLU);
/// the linear heads (`fc`) as PyTorch's, so the first logits stay small.
fn init_weights(
    vm: &VarMap,
    seed: u64,
    scheme: InitScheme,
    dev: &Device,
) -> candle_core::Result<()> {
    let data = vm
        .data()
        .lock()
        .map_err(|_| candle_core::Error::Msg("variable map poisoned".into()))?;
    let mut names: Vec<&String> = data.keys().collect();
    names.sort();
    for (k, name) in names.iter().enumerate() {
        let var = &data[*name];
        let is_bias = name.ends_with(".bias");
        let fan_in = if is_bias {
            let w = name.trim_end_matches(".bias").to_string() + ".weight";
            data.get(&w).map_or(1, |w| w.dims()[1..].iter().product())
        } else {
            var.dims()[1..].iter().product()
        };
        let head = name.contains(".fc.") || name.starts_with("fc.");
        let fan = fan_in.max(1) as f32;
        let bound = match scheme {
            InitScheme::Pytorch => 1.0 / fan.sqrt(),
            InitScheme::He if head => 1.0 / fan.sqrt(),
            InitScheme::He if is_bias => 0.0,
            InitScheme::He => (6.0 / fan).sqrt(),
        };
        let v: Vec<f32> = if bound == 0.0 {
            vec![0.0; var.elem_count()]
        } else {
            let mut rng = rng_for(seed, Stream::Init, k as u64);
            (0..var.elem_count())
                .map(|_| rng.random_range(-bound..bound))
                .collect()
        };
        var.set(&Tensor::from_vec(v, var.shape(), dev)?)?;
    }
    Ok(())
}

/// The attack restricted to the poisoned modality.
pub fn attack_for(spec: &ExperimentSpec) -> AttackSpec {
    let m = spec.poison.modality;
    let mut a = spec.attack.clone();
    a.seed = spec.seed;
    if !m.video() {
        a.visual = None;
    }
    if !m.audio() {
        a.audio = None;
    }
    a
}

/// WaNet's noise-mode variant of the attack (cross samples), if the attack is WaNet.
fn cross_attack(a: &AttackSpec) -> Option<AttackSpec> {
    match &a.visual {
        Some(VisualTrigger::Wanet(w)) => {
            let mut a = a.clone();
            let mut w = w.clone();
            w.noise_mode = true;
            a.visual = Some(VisualTrigger::Wanet(w));
            a.audio = None;
            Some(a)
        }
        _ => None,
    }
}

/// Crops `clip` (loaded at `load`) to `size` at `view`, as a new clip (for triggers applied after
/// augmentation).
fn cropped(clip: &Clip, view: View, size: usize) -> anyhow::Result<Clip> {
    let load = clip.size().map_or(0, |s| s.0 as usize);
    let frames = clip
        .frames()
        .iter()
        .map(|f| {
            let mut px = Vec::with_capacity(size * size * 3);
            for y in view.y0..view.y0 + size {
                let row = &f.rgb()[(y * load + view.x0) * 3..(y * load + view.x0 + size) * 3];
                if view.flip {
                    for x in (0..size).rev() {
                        px.extend_from_slice(&row[x * 3..x * 3 + 3]);
                    }
                } else {
                    px.extend_from_slice(row);
                }
            }
            crate::core::Frame::new(size as u32, size as u32, px)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Clip::new(frames, clip.fps(), clip.audio().cloned())?)
}

/// How to run: from scratch or from the last checkpoint, and how many threads training takes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunOptions {
    /// Continue from the last checkpoint in the output folder, when there is one.
    pub resume: bool,
    /// Size of training's own thread pool; `None`: one thread per core.
    pub threads: Option<usize>,
}

/// Where a run's work and events go. Only the calling thread emits (the callback is not `Send`);
/// parallel work goes to `pool`.
struct Session<'a> {
    pool: &'a ThreadPool,
    cancel: &'a AtomicBool,
    emit: &'a mut dyn FnMut(TrainEvent),
    /// Reads the files the attack names (relative to the spec's folder).
    assets: &'a dyn AssetLoader,
    /// When the run started: results' and metrics' wall times count from here.
    started: Instant,
}

/// Loads the experiment's dataset through `source`, then trains on it as [`run`] does, in the
/// calling thread and a pool of `opts.threads` named threads. `Loading` events come first.
pub fn run_experiment(
    spec: &ExperimentSpec,
    out: &Path,
    opts: &RunOptions,
    source: &dyn ClipSource,
    versions: Versions,
    cancel: &AtomicBool,
    emit: &mut dyn FnMut(TrainEvent),
) -> anyhow::Result<RunResults> {
    spec.validate()
        .map_err(|e| anyhow::anyhow!("experiment: {e}"))?;
    let pool = training_pool(opts.threads)?;
    let data = load_data(&pool, spec, source, emit)?;
    let assets = source.assets();
    train_on(
        &pool,
        spec,
        data,
        out,
        opts.resume,
        cancel,
        versions,
        assets,
        emit,
    )
}

/// Trains on `data` into `out` (results.json, metrics.csv, curves.png, model and checkpoint
/// files). With `opts.resume`, continues from the last checkpoint in `out`. The attack may name
/// no files (use [`run_experiment`] with a source whose `assets` reads them).
pub fn run(
    spec: &ExperimentSpec,
    data: Dataset,
    out: &Path,
    opts: &RunOptions,
    cancel: &AtomicBool,
    versions: Versions,
    emit: &mut dyn FnMut(TrainEvent),
) -> anyhow::Result<RunResults> {
    let pool = training_pool(opts.threads)?;
    train_on(
        &pool,
        spec,
        data,
        out,
        opts.resume,
        cancel,
        versions,
        &NoAssets,
        emit,
    )
}

/// The training stages on `pool`; the wall clock starts here, after any loading.
#[allow(clippy::too_many_arguments)] // the two entry points' inputs, passed straight through
fn train_on(
    pool: &ThreadPool,
    spec: &ExperimentSpec,
    data: Dataset,
    out: &Path,
    resume: bool,
    cancel: &AtomicBool,
    versions: Versions,
    assets: &dyn AssetLoader,
    emit: &mut dyn FnMut(TrainEvent),
) -> anyhow::Result<RunResults> {
    let mut s = Session {
        pool,
        cancel,
        emit,
        assets,
        started: Instant::now(),
    };
    train(&mut s, spec, data, out, resume, versions)
}

/// Stage 1, prepare the data: loads on a named thread, inside the pool, while this thread turns
/// its progress into `Loading` events.
fn load_data(
    pool: &ThreadPool,
    spec: &ExperimentSpec,
    source: &dyn ClipSource,
    emit: &mut dyn FnMut(TrainEvent),
) -> anyhow::Result<Dataset> {
    let (tx, rx) = std::sync::mpsc::channel::<(usize, usize)>();
    std::thread::scope(|s| -> anyhow::Result<Dataset> {
        let loader = std::thread::Builder::new()
            .name("dataset-loader".into())
            .spawn_scoped(s, move || {
                pool.install(|| {
                    dataset::load(spec, source, &|d, t| {
                        let _ = tx.send((d, t)); // the receiver below outlives the loader
                    })
                })
            })?;
        while let Ok((d, t)) = rx.recv() {
            (emit)(TrainEvent::Loading { done: d, total: t });
        }
        loader
            .join()
            .map_err(|_| anyhow::anyhow!("the dataset loader panicked"))?
    })
}

/// Stages 2–6 on loaded data: poison, model, epochs, evaluation, results.
fn train(
    s: &mut Session,
    spec: &ExperimentSpec,
    data: Dataset,
    out: &Path,
    resume: bool,
    versions: Versions,
) -> anyhow::Result<RunResults> {
    spec.validate()
        .map_err(|e| anyhow::anyhow!("experiment: {e}"))?;
    std::fs::create_dir_all(out)
        .with_context(|| format!("{}: cannot create the output folder", out.display()))?;
    super::report::mark_running(out, spec)?;
    let result = train_stages(s, spec, data, out, resume, versions);
    if let Err(e) = &result {
        super::report::mark_failed(out, &format!("{e:#}"));
    }
    result
}

fn train_stages(
    s: &mut Session,
    spec: &ExperimentSpec,
    data: Dataset,
    out: &Path,
    resume: bool,
    versions: Versions,
) -> anyhow::Result<RunResults> {
    let choice = pick_device(spec);
    let load = load_size(spec) as usize;
    let poison = plan_poison(spec, &data, s.assets)?;
    let train_set = s
        .pool
        .install(|| poison_train_set(&poison, &data.train, load))?;
    let test = s.pool.install(|| {
        test_set(
            &poison,
            &data.test,
            load,
            spec.dataset.size as usize,
            data.classes.len(),
        )
    })?;
    let mut net = s
        .pool
        .install(|| build_model(spec, data.classes.len(), &choice.device))?;
    let ckpt = out.join("checkpoint");
    let progress = if resume && ckpt.join("state.json").is_file() {
        resume_from(&ckpt, spec.seed, &mut net)?
    } else {
        Progress::default()
    };
    (s.emit)(TrainEvent::Started {
        spec: Box::new(spec.clone()),
        name: spec.name.clone(),
        classes: data.classes.clone(),
        train: train_set.clips.len(),
        test: data.test.len(),
        poisoned: poison.plan.indices.len(),
        parameters: parameter_count(&net.vm),
        device: choice.label(),
        steps_per_epoch: train_set.clips.len().div_ceil(spec.batch_size),
        epochs: spec.epochs,
        skipped: data.skipped.len(),
    });
    let data_set = Poisoned {
        poison,
        train: train_set,
        test,
    };
    let (progress, cancelled) = train_epochs(s, spec, &mut net, &data_set, out, progress)?;
    let asr_by_frames = if !cancelled
        && spec.eval.frame_fraction_curve
        && data_set.poison.attack.visual.is_some()
    {
        s.pool.install(|| {
            asr_by_triggered_frames(
                spec.dataset.frames,
                spec.eval.include_target_in_asr,
                &net.learner,
                &data_set.poison,
                &data_set.test,
            )
        })?
    } else {
        Vec::new()
    };
    let outcome = Outcome {
        history: progress.history,
        train_wall_secs: progress.train_wall_secs,
        cancelled,
        asr_by_frames,
        confusion: progress.confusion,
    };
    let results = results(
        spec,
        &data,
        &data_set.poison.plan,
        outcome,
        &choice,
        versions,
        s.started.elapsed().as_secs_f64(),
    );
    write_outputs(out, &results, &net.vm, &data.classes, spec)?;
    (s.emit)(TrainEvent::Finished(Box::new(results.clone())));
    Ok(results)
}

/// The spec's device, or the CPU with a reason when it is not there.
fn pick_device(spec: &ExperimentSpec) -> DeviceChoice {
    let pref = match spec.device.as_str() {
        "cuda" => DevicePref::Cuda,
        "auto" => DevicePref::Auto,
        _ => DevicePref::Cpu,
    };
    let choice = select_device(pref);
    if let Some(why) = &choice.fallback_reason {
        tracing::warn!("{why}; training on the CPU");
    }
    choice
}

/// The poisoning as planned: which training clips, the attack restricted to the poisoned
/// modality (and WaNet's noise-mode variant for cross samples), and when triggers go on.
struct Poison<'a> {
    plan: PoisonPlan,
    attack: AttackSpec,
    cross: Option<AttackSpec>,
    stage: TriggerStage,
    /// Reads the files the attack names.
    assets: &'a dyn AssetLoader,
}

/// Stage 2, plan the poison (from the training labels and the seed).
fn plan_poison<'a>(
    spec: &ExperimentSpec,
    data: &Dataset,
    assets: &'a dyn AssetLoader,
) -> anyhow::Result<Poison<'a>> {
    let labels: Vec<usize> = data.train.iter().map(|s| s.label).collect();
    let plan = spec
        .poison
        .plan(&labels, &data.classes, spec.seed)
        .map_err(|e| anyhow::anyhow!("experiment: {e}"))?;
    let attack = attack_for(spec);
    let cross = cross_attack(&attack);
    Ok(Poison {
        plan,
        attack,
        cross,
        stage: spec.augment.trigger,
        assets,
    })
}

/// The training clips as the loader reads them, at side `load`, with their (poisoned) labels.
struct TrainSet {
    clips: Vec<Clip>,
    labels: Vec<usize>,
    load: usize,
}

/// Poisons the training set: triggers once, here, when they go on stored clips (else the loader
/// applies them after augmentation); poisoned clips relabelled.
fn poison_train_set(poison: &Poison, train: &[Sample], load: usize) -> anyhow::Result<TrainSet> {
    let mut clips: Vec<Clip> = train.iter().map(|s| s.clip.clone()).collect();
    if poison.stage == TriggerStage::Before {
        for &i in &poison.plan.indices {
            clips[i] = apply_for_clip(&poison.attack, &clips[i], i as u64, poison.assets)?.clip;
        }
        if let Some(c) = &poison.cross {
            for &i in &poison.plan.cross {
                clips[i] = apply_for_clip(c, &clips[i], i as u64, poison.assets)?.clip;
            }
        }
    }
    let labels = train
        .iter()
        .enumerate()
        .map(|(i, s)| poison.plan.label_of(i, s.label))
        .collect();
    Ok(TrainSet {
        clips,
        labels,
        load,
    })
}

/// The test clips clean and triggered (all of them; the ASR leaves the target class out).
struct TestSet<'a> {
    clean: Vec<&'a Clip>,
    triggered: Vec<Clip>,
    labels: Vec<usize>,
    /// Side of the clean clips.
    load: usize,
    classes: usize,
}

fn test_set<'a>(
    poison: &Poison,
    test: &'a [Sample],
    load: usize,
    size: usize,
    classes: usize,
) -> anyhow::Result<TestSet<'a>> {
    let clean: Vec<&Clip> = test.iter().map(|s| &s.clip).collect();
    let triggered = trigger_test(
        &poison.attack,
        poison.assets,
        &clean,
        0,
        poison.stage,
        load,
        size,
    )?;
    Ok(TestSet {
        clean,
        triggered,
        labels: test.iter().map(|s| s.label).collect(),
        load,
        classes,
    })
}

/// What the epochs train and test on.
struct Poisoned<'a> {
    poison: Poison<'a>,
    train: TrainSet,
    test: TestSet<'a>,
}

/// Triggered copies of `clips` (at side `load`; cut to `size` first when the trigger goes on
/// after augmentation).
/// The test clips with the trigger, as evaluation sees them; `clips[j]` is test clip
/// `first + j` (its index seeds its own draws: random frames, dynamic variations).
#[allow(clippy::too_many_arguments)]
pub(super) fn trigger_test(
    attack: &AttackSpec,
    assets: &dyn AssetLoader,
    clips: &[&Clip],
    first: usize,
    stage: TriggerStage,
    load: usize,
    size: usize,
) -> anyhow::Result<Vec<Clip>> {
    use rayon::prelude::*;
    clips
        .par_iter()
        .enumerate()
        .map(|(j, c)| {
            let base = match stage {
                TriggerStage::Before => (*c).clone(),
                TriggerStage::After => cropped(c, centre(load, size), size)?,
            };
            let index = TEST_CLIP_INDEX_BASE + (first + j) as u64;
            Ok(apply_for_clip(attack, &base, index, assets)?.clip)
        })
        .collect()
}

/// The model and what feeding it needs.
pub(super) struct Learner {
    pub(super) dev: Device,
    pub(super) model: Model,
    pub(super) mel: MelConfig,
    /// The model's input side.
    pub(super) size: usize,
}

impl Learner {
    fn batch(&self, items: &[(&Clip, View, usize)]) -> candle_core::Result<Batch> {
        make_batch(
            items,
            self.size,
            self.model.uses_video(),
            self.model.uses_audio(),
            &self.mel,
            &self.dev,
        )
    }

    /// The logits of clips (already at model size, or cut at their centre), one row per clip:
    /// what evaluation and the model lens (`train::predict`) both read.
    pub(super) fn logits(&self, clips: &[&Clip]) -> anyhow::Result<Vec<Vec<f32>>> {
        let mut out = Vec::with_capacity(clips.len());
        for chunk in clips.chunks(16) {
            let items: Vec<(&Clip, View, usize)> = chunk
                .iter()
                .map(|c| {
                    let side = c.size().map_or(self.size, |s| s.0 as usize);
                    (*c, centre(side, self.size), 0)
                })
                .collect();
            let b = self.batch(&items)?;
            let logits = self
                .model
                .forward(b.video.as_ref(), b.audio.as_ref())?
                .logits
                .to_dtype(candle_core::DType::F32)?;
            out.extend(logits.to_vec2::<f32>()?);
        }
        Ok(out)
    }

    /// An `av_fusion` model's (video branch, audio branch, fused) logits of clips prepared as
    /// [`Learner::logits`] prepares them; `None` for other models.
    pub(super) fn branch_logits(
        &self,
        clips: &[&Clip],
    ) -> anyhow::Result<Option<Vec<[Vec<f32>; 3]>>> {
        let mut out = Vec::with_capacity(clips.len());
        for chunk in clips.chunks(16) {
            let items: Vec<(&Clip, View, usize)> = chunk
                .iter()
                .map(|c| {
                    let side = c.size().map_or(self.size, |s| s.0 as usize);
                    (*c, centre(side, self.size), 0)
                })
                .collect();
            let b = self.batch(&items)?;
            let Some((lv, la, fused)) = self
                .model
                .branch_logits(b.video.as_ref(), b.audio.as_ref())?
            else {
                return Ok(None);
            };
            let rows = |t: Tensor| -> anyhow::Result<Vec<Vec<f32>>> {
                Ok(t.to_dtype(candle_core::DType::F32)?.to_vec2::<f32>()?)
            };
            let (v, a, f) = (rows(lv)?, rows(la)?, rows(fused)?);
            for ((v, a), f) in v.into_iter().zip(a).zip(f) {
                out.push([v, a, f]);
            }
        }
        Ok(Some(out))
    }

    /// Predicted classes of clips: the first largest logit of each.
    fn predict(&self, clips: &[&Clip]) -> anyhow::Result<Vec<usize>> {
        Ok(self.logits(clips)?.iter().map(|row| argmax(row)).collect())
    }

    fn loss(&self, b: &Batch) -> candle_core::Result<Tensor> {
        let out = self.model.forward(b.video.as_ref(), b.audio.as_ref())?;
        match &out.parts {
            Some((lv, la)) => {
                candle_nn::loss::cross_entropy(lv, &b.labels)?
                    + candle_nn::loss::cross_entropy(la, &b.labels)?
            }
            None => candle_nn::loss::cross_entropy(&out.logits, &b.labels),
        }
    }

    /// One optimiser step on `b`; its loss.
    fn step(&self, opt: &mut Optimizer, b: &Batch, lr: f64) -> anyhow::Result<f64> {
        let loss = self.loss(b)?;
        let grads = loss.backward()?;
        opt.step(&grads, lr)?;
        Ok(f64::from(
            loss.to_dtype(candle_core::DType::F32)?.to_scalar::<f32>()?,
        ))
    }
}

/// The index of the first largest value (0 for an empty row; NaN never wins).
pub(super) fn argmax(row: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in row.iter().enumerate() {
        if v > row[best] || row[best].is_nan() {
            best = i;
        }
    }
    best
}

/// The network under training: its variables, the model over them, and the optimiser.
struct Net {
    vm: VarMap,
    learner: Learner,
    opt: Optimizer,
}

/// Stage 3, build the model: seeded initial weights and a fresh optimiser.
fn build_model(spec: &ExperimentSpec, classes: usize, dev: &Device) -> anyhow::Result<Net> {
    let (kind, fusion) = model_kind(spec);
    let vm = VarMap::new();
    let model = Model::new(kind, fusion, classes, builder(&vm, dev))?;
    init_weights(&vm, spec.seed, spec.model.init, dev)?;
    let opt_kind = match spec.optimizer.kind {
        OptimizerKind::Adamw => OptKind::AdamW {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        },
        OptimizerKind::Sgd => OptKind::Sgd {
            momentum: spec.optimizer.momentum,
        },
    };
    let vars = vm
        .data()
        .lock()
        .map_err(|_| anyhow::anyhow!("variable map poisoned"))?
        .clone();
    let opt = Optimizer::new(opt_kind, spec.optimizer.weight_decay, &vars)?;
    Ok(Net {
        vm,
        learner: Learner {
            dev: dev.clone(),
            model,
            mel: MelConfig::default(),
            size: spec.dataset.size as usize,
        },
        opt,
    })
}

/// Where training stands: what a checkpoint restores.
#[derive(Default)]
struct Progress {
    epochs_done: usize,
    history: Vec<EpochMetrics>,
    train_wall_secs: f64,
    /// The latest epoch's confusion matrices, clean and triggered (not checkpointed).
    confusion: (Vec<Vec<usize>>, Vec<Vec<usize>>),
}

/// Restores weights and optimiser state from the checkpoint in `dir`; where it stopped.
fn resume_from(dir: &Path, seed: u64, net: &mut Net) -> anyhow::Result<Progress> {
    let state: CheckpointState =
        serde_json::from_str(&std::fs::read_to_string(dir.join("state.json"))?)
            .with_context(|| format!("{}: unreadable checkpoint state", dir.display()))?;
    anyhow::ensure!(
        state.seed == seed,
        "the checkpoint was made with seed {}, this run uses {}",
        state.seed,
        seed
    );
    net.vm
        .load(dir.join("weights.safetensors"))
        .context("checkpoint weights")?;
    let opt_state =
        candle_core::safetensors::load(dir.join("optimizer.safetensors"), &net.learner.dev)
            .context("checkpoint optimiser")?;
    net.opt.load_state(&opt_state, state.step_t)?;
    Ok(Progress {
        epochs_done: state.epochs_done,
        history: state.history,
        train_wall_secs: state.train_wall_secs,
        confusion: Default::default(),
    })
}

/// Writes the checkpoint: weights, optimiser, where we are; each file replaced atomically.
fn save_checkpoint(dir: &Path, net: &Net, seed: u64, progress: &Progress) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let state = CheckpointState {
        epochs_done: progress.epochs_done,
        step_t: net.opt.step_t,
        seed,
        history: progress.history.clone(),
        train_wall_secs: progress.train_wall_secs,
    };
    super::report::save_checkpoint(
        dir,
        &net.vm,
        &net.opt.state(),
        &serde_json::to_string_pretty(&state)?,
    )
}

/// Stage 4, train the epochs left after `progress`, each evaluated, checkpointed and appended to
/// metrics.csv. Returns where training stopped and whether it was cancelled.
fn train_epochs(
    s: &mut Session,
    spec: &ExperimentSpec,
    net: &mut Net,
    data: &Poisoned,
    out: &Path,
    mut progress: Progress,
) -> anyhow::Result<(Progress, bool)> {
    let ckpt = out.join("checkpoint");
    for epoch in progress.epochs_done..spec.epochs {
        let lr = spec.lr_at(epoch);
        let epoch_start = Instant::now();
        let train_loss = train_epoch(s, spec, net, data, epoch, lr)?;
        progress.train_wall_secs += epoch_start.elapsed().as_secs_f64();
        if s.cancel.load(Ordering::Relaxed) {
            return Ok((progress, true));
        }
        let scores = s.pool.install(|| {
            evaluate(
                &net.learner,
                &data.test,
                data.poison.plan.target,
                spec.eval.include_target_in_asr,
            )
        })?;
        let m = EpochMetrics {
            epoch,
            train_loss,
            ca: scores.ca,
            asr: scores.asr,
            robust_acc: scores.robust_acc,
            per_class_asr: scores.per_class_asr,
            clean_target_rate: scores.clean_target_rate,
            lr,
            wall_secs: s.started.elapsed().as_secs_f64(),
        };
        progress.history.push(m.clone());
        progress.confusion = scores.confusion;
        progress.epochs_done = epoch + 1;
        (s.emit)(TrainEvent::Epoch(m));
        save_checkpoint(&ckpt, net, spec.seed, &progress)?;
        (s.emit)(TrainEvent::Checkpoint { path: ckpt.clone() });
        super::report::append_metrics(out, &progress.history)?;
    }
    Ok((progress, false))
}

/// One epoch's steps, in the seed's shuffled order; the mean training loss. Stops before the
/// next step once `cancel` is set.
fn train_epoch(
    s: &mut Session,
    spec: &ExperimentSpec,
    net: &mut Net,
    data: &Poisoned,
    epoch: usize,
    lr: f64,
) -> anyhow::Result<f64> {
    let n = data.train.clips.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut rng_for(spec.seed, Stream::Shuffle, epoch as u64));
    let steps = n.div_ceil(spec.batch_size);
    let (pool, cancel) = (s.pool, s.cancel);
    let learner = &net.learner;
    let opt = &mut net.opt;
    let mut loss_sum = 0.0;
    let mut seen = 0usize;
    std::thread::scope(|sc| -> anyhow::Result<()> {
        // Batches are built on a named loader thread (its work in the pool), two ahead of the
        // model. The receiver lives in this closure: returning early (cancel, error) drops it,
        // which unblocks the loader before the scope joins it. The loader sends outside
        // `install`, so a full channel never blocks a pool thread.
        let (btx, brx) = std::sync::mpsc::sync_channel::<anyhow::Result<Batch>>(2);
        let order = &order;
        std::thread::Builder::new()
            .name("batch-loader".into())
            .spawn_scoped(sc, move || {
                for (step, idx) in order.chunks(spec.batch_size).enumerate() {
                    let b = pool.install(|| train_batch(spec, learner, data, epoch, step, idx));
                    let failed = b.is_err(); // the trainer reports it
                    if btx.send(b).is_err() || failed {
                        return;
                    }
                }
            })?;
        let t0 = Instant::now();
        for step in 0..steps {
            if cancel.load(Ordering::Relaxed) {
                return Ok(());
            }
            let b = brx.recv().context("the batch loader stopped")??;
            let l = pool.install(|| learner.step(opt, &b, lr))?;
            anyhow::ensure!(
                l.is_finite(),
                "the loss became {l} at epoch {epoch}, step {step} (lower the learning rate)"
            );
            loss_sum += l * b.len as f64;
            seen += b.len;
            (s.emit)(TrainEvent::Step {
                epoch,
                step,
                steps,
                loss: l,
                clips_per_sec: seen as f64 / t0.elapsed().as_secs_f64(),
            });
        }
        Ok(())
    })?;
    Ok(loss_sum / seen.max(1) as f64)
}

/// The batch of training clips `idx` (step `step` of `epoch`): each clip's crop and flip from the
/// augment stream; a poisoned clip whose trigger goes on after augmentation is cropped first and
/// then triggered, so the trigger lands whole and in place.
fn train_batch(
    spec: &ExperimentSpec,
    learner: &Learner,
    data: &Poisoned,
    epoch: usize,
    step: usize,
    idx: &[usize],
) -> anyhow::Result<Batch> {
    let (train, poison) = (&data.train, &data.poison);
    let (load, size) = (train.load, learner.size);
    let mut owned: Vec<Clip> = Vec::new();
    let mut views = Vec::with_capacity(idx.len());
    for (k, &i) in idx.iter().enumerate() {
        let mut r = rng_for(
            spec.seed,
            Stream::Augment,
            (epoch * train.clips.len() + step * spec.batch_size + k) as u64,
        );
        let view = if spec.augment.random_crop {
            View {
                x0: r.random_range(0..=load - size),
                y0: r.random_range(0..=load - size),
                flip: false,
            }
        } else {
            centre(load, size)
        };
        let view = View {
            flip: spec.augment.hflip && r.random_bool(0.5),
            ..view
        };
        if poison.stage == TriggerStage::After && poison.plan.is_poisoned(i) {
            let c = cropped(&train.clips[i], view, size)?;
            // The clip's own draws, the same every epoch (as when triggered before the crop).
            owned.push(apply_for_clip(&poison.attack, &c, i as u64, poison.assets)?.clip);
            views.push(None);
        } else {
            views.push(Some(view));
        }
    }
    let mut own = owned.iter();
    let whole = View {
        x0: 0,
        y0: 0,
        flip: false,
    };
    let items: Vec<(&Clip, View, usize)> = idx
        .iter()
        .zip(&views)
        .filter_map(|(&i, v)| match v {
            Some(v) => Some((&train.clips[i], *v, train.labels[i])),
            None => own.next().map(|c| (c, whole, train.labels[i])),
        })
        .collect();
    Ok(learner.batch(&items)?)
}

/// Test scores of one epoch.
struct Scores {
    ca: f64,
    asr: f64,
    robust_acc: f64,
    per_class_asr: Vec<Option<f64>>,
    clean_target_rate: f64,
    confusion: (Vec<Vec<usize>>, Vec<Vec<usize>>),
}

/// Stage 5, evaluate: clean accuracy on the clean test clips; attack success and robust accuracy
/// on the triggered ones.
fn evaluate(
    learner: &Learner,
    test: &TestSet,
    target: usize,
    include_target: bool,
) -> anyhow::Result<Scores> {
    let clean_pred = learner.predict(&test.clean)?;
    let trig_refs: Vec<&Clip> = test.triggered.iter().collect();
    let trig_pred = learner.predict(&trig_refs)?;
    let labels = &test.labels;
    Ok(Scores {
        ca: classify::accuracy(&clean_pred, labels).unwrap_or(0.0),
        asr: classify::attack_success_rate(&trig_pred, labels, target, include_target)
            .unwrap_or(0.0),
        robust_acc: classify::robust_accuracy(&trig_pred, labels, target).unwrap_or(0.0),
        per_class_asr: classify::per_class_asr(&trig_pred, labels, target, test.classes),
        clean_target_rate: classify::clean_target_rate(&clean_pred, labels, target).unwrap_or(0.0),
        confusion: (
            classify::confusion(&clean_pred, labels, test.classes),
            classify::confusion(&trig_pred, labels, test.classes),
        ),
    })
}

/// ASR against how many of the `frames` frames carry the (visual) trigger: 1, 2, 4, …, all.
fn asr_by_triggered_frames(
    frames: usize,
    include_target: bool,
    learner: &Learner,
    poison: &Poison,
    test: &TestSet,
) -> anyhow::Result<Vec<(usize, f64)>> {
    let mut curve = Vec::new();
    let mut k = 1;
    while k <= frames {
        let mut a = poison.attack.clone();
        a.temporal.frames = if k == frames {
            FrameSelection::All
        } else {
            FrameSelection::Random { k }
        };
        a.audio = None;
        let clips = trigger_test(
            &a,
            poison.assets,
            &test.clean,
            0,
            poison.stage,
            test.load,
            learner.size,
        )?;
        let refs: Vec<&Clip> = clips.iter().collect();
        let pred = learner.predict(&refs)?;
        let asr =
            classify::attack_success_rate(&pred, &test.labels, poison.plan.target, include_target)
                .unwrap_or(0.0);
        curve.push((k, asr));
        k = if k == frames {
            frames + 1
        } else {
            (k * 2).min(frames)
        };
    }
    Ok(curve)
}

/// How per-clip draws derive from the run's seed, as `results.json` states it.
const CLIP_SEEDS: &str = "per clip: core::rng::clip_seed(seed, i) for training clip i, \
clip_seed(seed, 2^40 + j) for test clip j (random/fraction frames, dynamic variations); the \
trigger's noise, blend pattern, WaNet grid and the audio trigger use seed itself";

/// What training and evaluation produced.
struct Outcome {
    confusion: (Vec<Vec<usize>>, Vec<Vec<usize>>),
    history: Vec<EpochMetrics>,
    train_wall_secs: f64,
    cancelled: bool,
    asr_by_frames: Vec<(usize, f64)>,
}

/// Stage 6, the results (written to `out` by the caller with the model).
fn results(
    spec: &ExperimentSpec,
    data: &Dataset,
    plan: &PoisonPlan,
    outcome: Outcome,
    device: &DeviceChoice,
    versions: Versions,
    wall_secs: f64,
) -> RunResults {
    let last = outcome.history.last().cloned();
    RunResults {
        final_metrics: FinalMetrics {
            ca: last.as_ref().map_or(0.0, |m| m.ca),
            asr: last.as_ref().map_or(0.0, |m| m.asr),
            robust_acc: last.as_ref().map_or(0.0, |m| m.robust_acc),
        },
        epochs: outcome.history,
        seed: spec.seed,
        poison_indices_sha256: plan.indices_sha256(),
        poison_indices: plan.indices.clone(),
        wanet_cross_indices: plan.cross.clone(),
        target: plan.target,
        target_name: data.classes[plan.target].clone(),
        classes: data.classes.clone(),
        asr_convention: if spec.eval.include_target_in_asr {
            "all triggered test clips, target class included".into()
        } else {
            "triggered test clips whose true class is not the target".into()
        },
        asr_meaningful: last
            .as_ref()
            .is_some_and(crate::core::report::asr_meaningful),
        asr_rule: crate::core::report::ASR_RULE.into(),
        clip_seeds: CLIP_SEEDS.into(),
        asr_by_triggered_frames: outcome.asr_by_frames,
        confusion_clean: outcome.confusion.0,
        confusion_triggered: outcome.confusion.1,
        wall_secs,
        train_wall_secs: outcome.train_wall_secs,
        cancelled: outcome.cancelled,
        device: device.label(),
        device_note: device.fallback_reason.clone(),
        skipped: data.skipped.clone(),
        spec: spec.clone(),
        versions,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::Frame;
    use crate::core::placement::FrameSelection;
    use crate::core::poison::{Modality, PoisonMode};
    use crate::core::time::Rational;
    use crate::core::trigger::badnets::BadnetsSpec;

    fn grey(frames: usize) -> Clip {
        let f = Frame::new(16, 16, vec![128u8; 16 * 16 * 3]).expect("frame");
        Clip::new(vec![f; frames], Rational::new(8, 1).expect("fps"), None).expect("clip")
    }

    /// The frames `apply` changed.
    fn changed(clean: &Clip, poisoned: &Clip) -> Vec<usize> {
        (0..clean.frames().len())
            .filter(|&i| clean.frames()[i].rgb() != poisoned.frames()[i].rgb())
            .collect()
    }

    fn random_frames_attack(k: usize) -> AttackSpec {
        let mut a = AttackSpec::visual(VisualTrigger::Badnets(BadnetsSpec {
            color: Some([255, 0, 0]),
            size: crate::core::trigger::patch::PatchSize::Square(4),
            ..BadnetsSpec::default()
        }));
        a.temporal.frames = FrameSelection::Random { k };
        a.seed = 11;
        a
    }

    #[test]
    fn each_poisoned_and_each_test_clip_gets_its_own_random_frames() {
        let train: Vec<Sample> = (0..8)
            .map(|i| Sample {
                clip: grey(16),
                label: i % 2,
                source: format!("clip{i}"),
            })
            .collect();
        let poison = Poison {
            plan: PoisonPlan {
                target: 0,
                indices: (0..8).collect(),
                cross: vec![],
                mode: PoisonMode::CleanLabel,
                modality: Modality::Video,
                seed: 11,
            },
            attack: random_frames_attack(3),
            cross: None,
            stage: TriggerStage::Before,
            assets: &NoAssets,
        };
        let set = poison_train_set(&poison, &train, 16).expect("poisons");
        let picks: Vec<Vec<usize>> = set
            .clips
            .iter()
            .zip(&train)
            .map(|(p, s)| changed(&s.clip, p))
            .collect();
        assert!(picks.iter().all(|p| p.len() == 3), "{picks:?}");
        let mut distinct = picks.clone();
        distinct.sort();
        distinct.dedup();
        assert!(
            distinct.len() >= 6,
            "8 clips, 560 ways to pick 3 of 16 frames: not all alike ({picks:?})"
        );
        assert_ne!(picks[0], picks[1]);
        let again = poison_train_set(&poison, &train, 16).expect("poisons");
        assert!(
            again.clips.iter().zip(&set.clips).all(|(a, b)| a == b),
            "the same clip index draws the same frames in every run"
        );

        // Test clips (and so ASR by triggered frames, which goes through trigger_test) too, in
        // their own index space: test clip 0 does not repeat training clip 0's frames.
        let clean: Vec<&Clip> = train.iter().map(|s| &s.clip).collect();
        let test = trigger_test(
            &poison.attack,
            &NoAssets,
            &clean,
            0,
            TriggerStage::Before,
            16,
            16,
        )
        .expect("triggers");
        let test_picks: Vec<Vec<usize>> = test
            .iter()
            .zip(&clean)
            .map(|(p, c)| changed(c, p))
            .collect();
        assert_ne!(test_picks[0], test_picks[1]);
        assert_ne!(
            test_picks, picks,
            "test clips draw apart from training clips"
        );
    }
}
