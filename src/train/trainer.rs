//! The training run: data, poisoning, model, optimiser, the epoch loop, evaluation, checkpoints
//! and results. Events go to a callback (the CLI draws progress bars from them, the studio live
//! plots); a cancel flag stops the run within one step. Everything random derives from the
//! experiment seed, so a run — and a resumed run — is reproducible.

use super::data::{Batch, Dataset, View, centre, load_size, make_batch};
use super::device::{DevicePref, select_device};
use super::features::MelConfig;
use super::models::{FusionConfig, Model, ModelKind, VideoBackbone, builder, parameter_count};
use super::optim::{OptKind, Optimizer};
use super::report::{EpochMetrics, FinalMetrics, RunResults, Versions, write_outputs};
use crate::core::Clip;
use crate::core::assets::NoAssets;
use crate::core::attack::{AttackSpec, apply_clip};
use crate::core::experiment::{
    ExperimentSpec, FusionVideo, ModelName, OptimizerKind, TriggerStage,
};
use crate::core::metrics::classify;
use crate::core::placement::FrameSelection;
use crate::core::poison::PoisonPlan;
use crate::core::rng::{Stream, rng_for};
use crate::core::trigger::VisualTrigger;
use anyhow::Context;
use candle_core::{Device, Tensor};
use candle_nn::VarMap;
use rand::Rng;
use rand::seq::SliceRandom;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

#[derive(Clone, Debug, Serialize)]
pub enum TrainEvent {
    /// Data and model are ready.
    Started {
        /// The spec as run (after `--seed` and other overrides).
        spec: Box<ExperimentSpec>,
        name: String,
        classes: Vec<String>,
        train: usize,
        test: usize,
        poisoned: usize,
        parameters: usize,
        device: String,
        steps_per_epoch: usize,
        epochs: usize,
        skipped: usize,
    },
    /// Decoding or generating the dataset: `done` of `total` clips.
    Loading {
        done: usize,
        total: usize,
    },
    Step {
        epoch: usize,
        step: usize,
        steps: usize,
        loss: f64,
        clips_per_sec: f64,
    },
    Epoch(EpochMetrics),
    Checkpoint {
        path: PathBuf,
    },
    Finished(Box<RunResults>),
    Failed {
        error: String,
    },
}

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

/// PyTorch-style initial weights from the seed (candle's own init draws from an unseeded
/// generator): uniform in ±1/√fan_in, fan_in from the weight's shape (a bias uses its weight's).
fn init_weights(vm: &VarMap, seed: u64, dev: &Device) -> candle_core::Result<()> {
    let data = vm
        .data()
        .lock()
        .map_err(|_| candle_core::Error::Msg("variable map poisoned".into()))?;
    let mut names: Vec<&String> = data.keys().collect();
    names.sort();
    for (k, name) in names.iter().enumerate() {
        let var = &data[*name];
        let fan_in = if name.ends_with(".bias") {
            let w = name.trim_end_matches(".bias").to_string() + ".weight";
            data.get(&w).map_or(1, |w| w.dims()[1..].iter().product())
        } else {
            var.dims()[1..].iter().product()
        };
        let bound = 1.0 / (fan_in.max(1) as f32).sqrt();
        let mut rng = rng_for(seed, Stream::Init, k as u64);
        let v: Vec<f32> = (0..var.elem_count())
            .map(|_| rng.random_range(-bound..bound))
            .collect();
        var.set(&Tensor::from_vec(v, var.shape(), dev)?)?;
    }
    Ok(())
}

/// The attack restricted to the poisoned modality.
fn attack_for(spec: &ExperimentSpec) -> AttackSpec {
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

struct Run<'a> {
    dev: Device,
    model: Model,
    mel: MelConfig,
    size: usize,
    load: usize,
    cancel: &'a AtomicBool,
}

impl Run<'_> {
    /// Predicted classes of clips (already at model size, or cut at their centre).
    fn predict(&self, clips: &[&Clip]) -> anyhow::Result<Vec<usize>> {
        let mut out = Vec::with_capacity(clips.len());
        for chunk in clips.chunks(16) {
            let items: Vec<(&Clip, View, usize)> = chunk
                .iter()
                .map(|c| {
                    let side = c.size().map_or(self.size, |s| s.0 as usize);
                    (*c, centre(side, self.size), 0)
                })
                .collect();
            let b = make_batch(
                &items,
                self.size,
                self.model.uses_video(),
                self.model.uses_audio(),
                &self.mel,
                &self.dev,
            )?;
            let logits = self
                .model
                .forward(b.video.as_ref(), b.audio.as_ref())?
                .logits;
            let p: Vec<u32> = logits.argmax(1)?.to_vec1()?;
            out.extend(p.into_iter().map(|v| v as usize));
        }
        Ok(out)
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
}

/// Triggered copies of the test clips (all of them; the ASR leaves the target class out).
fn trigger_test(
    attack: &AttackSpec,
    test: &[crate::train::data::Sample],
    stage: TriggerStage,
    load: usize,
    size: usize,
) -> anyhow::Result<Vec<Clip>> {
    use rayon::prelude::*;
    test.par_iter()
        .map(|s| {
            let base = match stage {
                TriggerStage::Before => s.clip.clone(),
                TriggerStage::After => cropped(&s.clip, centre(load, size), size)?,
            };
            Ok(apply_clip(attack, &base, &NoAssets)?.clip)
        })
        .collect()
}

/// Trains on `data` into `out` (results.json, metrics.csv, curves.png, model and checkpoint
/// files). With `resume`, continues from the last checkpoint in `out`.
pub fn run(
    spec: &ExperimentSpec,
    data: Dataset,
    out: &Path,
    resume: bool,
    cancel: &AtomicBool,
    versions: Versions,
    emit: &mut dyn FnMut(TrainEvent),
) -> anyhow::Result<RunResults> {
    spec.validate()
        .map_err(|e| anyhow::anyhow!("experiment: {e}"))?;
    let started = Instant::now();
    std::fs::create_dir_all(out)
        .with_context(|| format!("{}: cannot create the output folder", out.display()))?;
    let pref = match spec.device.as_str() {
        "cuda" => DevicePref::Cuda,
        "auto" => DevicePref::Auto,
        _ => DevicePref::Cpu,
    };
    let choice = select_device(pref);
    if let Some(why) = &choice.fallback_reason {
        tracing::warn!("{why}; training on the CPU");
    }
    let dev = choice.device.clone();
    let (kind, fusion) = model_kind(spec);
    let size = spec.dataset.size as usize;
    let load_side = load_size(spec) as usize;

    // Poisoning: once, before augmentation when the trigger goes on stored clips.
    let labels: Vec<usize> = data.train.iter().map(|s| s.label).collect();
    let plan: PoisonPlan = spec
        .poison
        .plan(&labels, &data.classes, spec.seed)
        .map_err(|e| anyhow::anyhow!("experiment: {e}"))?;
    let attack = attack_for(spec);
    let cross = cross_attack(&attack);
    let stage = spec.augment.trigger;
    let mut train_clips: Vec<Clip> = data.train.iter().map(|s| s.clip.clone()).collect();
    if stage == TriggerStage::Before {
        for &i in &plan.indices {
            train_clips[i] = apply_clip(&attack, &train_clips[i], &NoAssets)?.clip;
        }
        if let Some(c) = &cross {
            for &i in &plan.cross {
                train_clips[i] = apply_clip(c, &train_clips[i], &NoAssets)?.clip;
            }
        }
    }
    let train_labels: Vec<usize> = (0..labels.len())
        .map(|i| plan.label_of(i, labels[i]))
        .collect();
    let test_trig = trigger_test(&attack, &data.test, stage, load_side, size)?;

    // Model and optimiser.
    let vm = VarMap::new();
    let model = Model::new(kind, fusion, data.classes.len(), builder(&vm, &dev))?;
    init_weights(&vm, spec.seed, &dev)?;
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
    let mut opt = Optimizer::new(opt_kind, spec.optimizer.weight_decay, &vars)?;
    let ckpt_dir = out.join("checkpoint");
    let mut history: Vec<EpochMetrics> = Vec::new();
    let mut first_epoch = 0;
    let mut train_wall = 0.0;
    if resume && ckpt_dir.join("state.json").is_file() {
        let state: CheckpointState =
            serde_json::from_str(&std::fs::read_to_string(ckpt_dir.join("state.json"))?)
                .with_context(|| format!("{}: unreadable checkpoint state", ckpt_dir.display()))?;
        anyhow::ensure!(
            state.seed == spec.seed,
            "the checkpoint was made with seed {}, this run uses {}",
            state.seed,
            spec.seed
        );
        let mut vm_mut = vm.clone();
        vm_mut
            .load(ckpt_dir.join("weights.safetensors"))
            .context("checkpoint weights")?;
        let opt_state =
            candle_core::safetensors::load(ckpt_dir.join("optimizer.safetensors"), &dev)
                .context("checkpoint optimiser")?;
        opt.load_state(&opt_state, state.step_t)?;
        first_epoch = state.epochs_done;
        history = state.history;
        train_wall = state.train_wall_secs;
    }

    let steps = train_clips.len().div_ceil(spec.batch_size);
    emit(TrainEvent::Started {
        spec: Box::new(spec.clone()),
        name: spec.name.clone(),
        classes: data.classes.clone(),
        train: train_clips.len(),
        test: data.test.len(),
        poisoned: plan.indices.len(),
        parameters: parameter_count(&vm),
        device: choice.label(),
        steps_per_epoch: steps,
        epochs: spec.epochs,
        skipped: data.skipped.len(),
    });
    let run = Run {
        dev: dev.clone(),
        model,
        mel: MelConfig::default(),
        size,
        load: load_side,
        cancel,
    };
    let test_clean: Vec<&Clip> = data.test.iter().map(|s| &s.clip).collect();
    let test_labels: Vec<usize> = data.test.iter().map(|s| s.label).collect();
    let mut cancelled = false;

    for epoch in first_epoch..spec.epochs {
        let lr = spec.lr_at(epoch);
        let epoch_start = Instant::now();
        let mut order: Vec<usize> = (0..train_clips.len()).collect();
        order.shuffle(&mut rng_for(spec.seed, Stream::Shuffle, epoch as u64));
        let mut loss_sum = 0.0;
        let mut seen = 0usize;
        let result = std::thread::scope(|s| -> anyhow::Result<()> {
            // Batches are built on a named loader thread, two ahead of the model. The receiver
            // lives in this closure: returning early (cancel, error) drops it, which unblocks
            // the loader before the scope joins it.
            let (btx, brx) = std::sync::mpsc::sync_channel::<anyhow::Result<Batch>>(2);
            let (order, train_clips, train_labels, plan, attack) =
                (&order, &train_clips, &train_labels, &plan, &attack);
            let run_ref = &run;
            std::thread::Builder::new()
                .name("batch-loader".into())
                .spawn_scoped(s, move || {
                    for (step, idx) in order.chunks(spec.batch_size).enumerate() {
                        let mut owned: Vec<Clip> = Vec::new();
                        let mut views = Vec::new();
                        for (k, &i) in idx.iter().enumerate() {
                            let mut r = rng_for(
                                spec.seed,
                                Stream::Augment,
                                (epoch * order.len() + step * spec.batch_size + k) as u64,
                            );
                            let view = if spec.augment.random_crop {
                                View {
                                    x0: r.random_range(0..=run_ref.load - run_ref.size),
                                    y0: r.random_range(0..=run_ref.load - run_ref.size),
                                    flip: false,
                                }
                            } else {
                                centre(run_ref.load, run_ref.size)
                            };
                            let view = View {
                                flip: spec.augment.hflip && r.random_bool(0.5),
                                ..view
                            };
                            if stage == TriggerStage::After && plan.is_poisoned(i) {
                                // Crop first, then the trigger: it lands whole and in place.
                                let made = cropped(&train_clips[i], view, run_ref.size)
                                    .and_then(|c| Ok(apply_clip(attack, &c, &NoAssets)?.clip));
                                match made {
                                    Ok(c) => owned.push(c),
                                    Err(e) => {
                                        let _ = btx.send(Err(e)); // the trainer reports it
                                        return;
                                    }
                                }
                                views.push(None);
                            } else {
                                views.push(Some(view));
                            }
                        }
                        let mut own = owned.iter();
                        let items: Vec<(&Clip, View, usize)> = idx
                            .iter()
                            .zip(&views)
                            .filter_map(|(&i, v)| match v {
                                Some(v) => Some((&train_clips[i], *v, train_labels[i])),
                                None => own.next().map(|c| {
                                    (
                                        c,
                                        View {
                                            x0: 0,
                                            y0: 0,
                                            flip: false,
                                        },
                                        train_labels[i],
                                    )
                                }),
                            })
                            .collect();
                        let b = make_batch(
                            &items,
                            run_ref.size,
                            run_ref.model.uses_video(),
                            run_ref.model.uses_audio(),
                            &run_ref.mel,
                            &run_ref.dev,
                        )
                        .map_err(anyhow::Error::from);
                        if btx.send(b).is_err() {
                            return;
                        }
                    }
                })?;
            let t0 = Instant::now();
            for step in 0..steps {
                if run.cancel.load(Ordering::Relaxed) {
                    return Ok(());
                }
                let b = brx.recv().context("the batch loader stopped")??;
                let loss = run.loss(&b)?;
                let grads = loss.backward()?;
                opt.step(&grads, lr)?;
                let l = f64::from(loss.to_dtype(candle_core::DType::F32)?.to_scalar::<f32>()?);
                anyhow::ensure!(
                    l.is_finite(),
                    "the loss became {l} at epoch {epoch}, step {step} (lower the learning rate)"
                );
                loss_sum += l * b.len as f64;
                seen += b.len;
                emit(TrainEvent::Step {
                    epoch,
                    step,
                    steps,
                    loss: l,
                    clips_per_sec: seen as f64 / t0.elapsed().as_secs_f64(),
                });
            }
            Ok(())
        });
        result?;
        train_wall += epoch_start.elapsed().as_secs_f64();
        if cancel.load(Ordering::Relaxed) {
            cancelled = true;
            break;
        }
        // Evaluation.
        let clean_pred = run.predict(&test_clean)?;
        let trig_refs: Vec<&Clip> = test_trig.iter().collect();
        let trig_pred = run.predict(&trig_refs)?;
        let include = spec.eval.include_target_in_asr;
        let m = EpochMetrics {
            epoch,
            train_loss: loss_sum / seen.max(1) as f64,
            ca: classify::accuracy(&clean_pred, &test_labels).unwrap_or(0.0),
            asr: classify::attack_success_rate(&trig_pred, &test_labels, plan.target, include)
                .unwrap_or(0.0),
            robust_acc: classify::robust_accuracy(&trig_pred, &test_labels, plan.target)
                .unwrap_or(0.0),
            per_class_asr: classify::per_class_asr(
                &trig_pred,
                &test_labels,
                plan.target,
                data.classes.len(),
            ),
            lr,
            wall_secs: started.elapsed().as_secs_f64(),
        };
        history.push(m.clone());
        emit(TrainEvent::Epoch(m));
        // Checkpoint: weights, optimiser, where we are; each file replaced atomically.
        std::fs::create_dir_all(&ckpt_dir)?;
        let state = CheckpointState {
            epochs_done: epoch + 1,
            step_t: opt.step_t,
            seed: spec.seed,
            history: history.clone(),
            train_wall_secs: train_wall,
        };
        super::report::save_checkpoint(
            &ckpt_dir,
            &vm,
            &opt.state(),
            &serde_json::to_string_pretty(&state)?,
        )?;
        emit(TrainEvent::Checkpoint {
            path: ckpt_dir.clone(),
        });
        super::report::append_metrics(out, &history)?;
    }

    // ASR against how many frames carry the trigger (1, 2, 4, …, T).
    let mut asr_by_frames = Vec::new();
    if !cancelled && spec.eval.frame_fraction_curve && attack.visual.is_some() {
        let t = spec.dataset.frames;
        let mut k = 1;
        while k <= t {
            let mut a = attack.clone();
            a.temporal.frames = if k == t {
                FrameSelection::All
            } else {
                FrameSelection::Random { k }
            };
            a.audio = None;
            let clips = trigger_test(&a, &data.test, stage, load_side, size)?;
            let refs: Vec<&Clip> = clips.iter().collect();
            let pred = run.predict(&refs)?;
            let asr = classify::attack_success_rate(
                &pred,
                &test_labels,
                plan.target,
                spec.eval.include_target_in_asr,
            )
            .unwrap_or(0.0);
            asr_by_frames.push((k, asr));
            k = if k == t { t + 1 } else { (k * 2).min(t) };
        }
    }
    let last = history.last().cloned();
    let results = RunResults {
        final_metrics: FinalMetrics {
            ca: last.as_ref().map_or(0.0, |m| m.ca),
            asr: last.as_ref().map_or(0.0, |m| m.asr),
            robust_acc: last.as_ref().map_or(0.0, |m| m.robust_acc),
        },
        epochs: history,
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
        asr_by_triggered_frames: asr_by_frames,
        wall_secs: started.elapsed().as_secs_f64(),
        train_wall_secs: train_wall,
        cancelled,
        device: choice.label(),
        device_note: choice.fallback_reason.clone(),
        skipped: data.skipped.clone(),
        spec: spec.clone(),
        versions,
    };
    write_outputs(out, &results, &vm, &data.classes, spec)?;
    emit(TrainEvent::Finished(Box::new(results.clone())));
    Ok(results)
}
