//! `triggerlab run EXP.toml [--out DIR] [--device cpu|cuda] [--seed N] [--resume] [--threads N]`.

use crate::core::assets::AssetLoader;
use crate::core::experiment::parse_experiment;
use crate::jobs::experiment::{MediaClips, versions};
use crate::media::assets::FileAssets;
use crate::train::dataset::{ClipSource, Folder};
use crate::train::trainer::{RunOptions, TrainEvent, run_experiment};
use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The experiment spec (TOML).
    pub spec: PathBuf,
    /// Output folder (default: runs/<spec name>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Overrides the spec's device: cpu, cuda or auto.
    #[arg(long)]
    pub device: Option<String>,
    /// Overrides the spec's seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Continue from the last checkpoint in the output folder.
    #[arg(long)]
    pub resume: bool,
    /// Threads for training (default: one per core).
    #[arg(long)]
    pub threads: Option<NonZeroUsize>,
    /// Print events as JSON lines instead of progress bars.
    #[arg(long)]
    pub json: bool,
}

/// Dataset folders read through the media layer, and the files the attack names read relative
/// to the experiment spec's own folder.
pub struct SpecClips {
    media: MediaClips,
    assets: FileAssets,
}

impl SpecClips {
    /// For the experiment spec at `spec_path`.
    pub fn for_spec_file(spec_path: &Path) -> Self {
        SpecClips {
            media: MediaClips,
            assets: FileAssets::for_spec_file(spec_path),
        }
    }
}

impl ClipSource for SpecClips {
    fn open(&self, root: &Path, split: u32) -> anyhow::Result<Folder<'_>> {
        self.media.open(root, split)
    }

    fn assets(&self) -> &dyn AssetLoader {
        &self.assets
    }
}

pub fn run(a: &RunArgs) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&a.spec)
        .with_context(|| format!("{}: cannot read the spec", a.spec.display()))?;
    let mut spec = parse_experiment(&text).with_context(|| a.spec.display().to_string())?;
    if let Some(seed) = a.seed {
        spec.seed = seed;
        spec.attack.seed = seed;
    }
    if let Some(d) = &a.device {
        spec.device = d.clone();
    }
    spec.validate()
        .with_context(|| a.spec.display().to_string())?;
    let name = if spec.name.is_empty() {
        a.spec
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "run".into())
    } else {
        spec.name.clone()
    };
    let out = a
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("runs").join(&name));
    let cancel = Arc::new(AtomicBool::new(false));
    let c = cancel.clone();
    // Ctrl-C asks the trainer to stop after the current step; partial results are kept.
    if let Err(e) = ctrlc::set_handler(move || c.store(true, Ordering::Relaxed)) {
        tracing::warn!("Ctrl-C will not stop the run cleanly: {e}");
    }
    let mut bar: Option<ProgressBar> = None;
    let style = ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg} ETA {eta}")
        .map(|s| s.progress_chars("=> "))
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    let json = a.json;
    let mut emit = |ev: TrainEvent| {
        if json {
            if !matches!(ev, TrainEvent::Finished(_)) {
                println!("{}", serde_json::to_string(&ev).unwrap_or_default());
            }
            return;
        }
        match &ev {
            TrainEvent::Loading { done, total } => {
                let b = bar.get_or_insert_with(|| {
                    ProgressBar::new(*total as u64)
                        .with_style(style.clone())
                        .with_prefix("loading data")
                });
                b.set_position(*done as u64);
                if done == total {
                    b.finish_and_clear();
                    bar = None;
                }
            }
            TrainEvent::Started {
                train,
                test,
                poisoned,
                parameters,
                device,
                classes,
                skipped,
                ..
            } => {
                println!(
                    "{} classes · {train} training clips ({poisoned} poisoned) · {test} test clips · {parameters} parameters · {device}{}",
                    classes.len(),
                    if *skipped > 0 {
                        format!(" · {skipped} files skipped (see results.json)")
                    } else {
                        String::new()
                    }
                );
            }
            TrainEvent::Step {
                epoch,
                step,
                steps,
                loss,
                clips_per_sec,
            } => {
                let b = bar.get_or_insert_with(|| {
                    ProgressBar::new(*steps as u64)
                        .with_style(style.clone())
                        .with_prefix(format!("epoch {}", epoch + 1))
                });
                b.set_position(*step as u64 + 1);
                b.set_message(format!("loss {loss:.3} · {clips_per_sec:.1} clips/s"));
            }
            TrainEvent::Epoch(m) => {
                if let Some(b) = bar.take() {
                    b.finish_and_clear();
                }
                println!(
                    "epoch {:>3}: loss {:.4} · CA {:.3} · ASR {:.3} · robust {:.3} · lr {:.2e} · {:.0} s",
                    m.epoch + 1,
                    m.train_loss,
                    m.ca,
                    m.asr,
                    m.robust_acc,
                    m.lr,
                    m.wall_secs
                );
            }
            TrainEvent::Checkpoint { .. } | TrainEvent::Finished(_) | TrainEvent::Failed { .. } => {
            }
        }
    };
    let opts = RunOptions {
        resume: a.resume,
        threads: a.threads.map(NonZeroUsize::get),
    };
    let results = run_experiment(
        &spec,
        &out,
        &opts,
        &SpecClips::for_spec_file(&a.spec),
        versions(),
        &cancel,
        &mut emit,
    )?;
    if json {
        println!(
            "{}",
            serde_json::json!({"finished": true, "final": results.final_metrics, "out": out, "wall_secs": results.wall_secs})
        );
        return Ok(());
    }
    println!("\n{:<22} {:>8}", "", "final");
    println!(
        "{:<22} {:>8.3}",
        "clean accuracy (CA)", results.final_metrics.ca
    );
    println!(
        "{:<22} {:>8.3}",
        "attack success (ASR)", results.final_metrics.asr
    );
    println!(
        "{:<22} {:>8.3}",
        "robust accuracy", results.final_metrics.robust_acc
    );
    if let Some(w) = results
        .epochs
        .last()
        .and_then(crate::core::report::asr_warning)
    {
        println!("note: {w}");
    }
    if !results.asr_by_triggered_frames.is_empty() {
        let curve: Vec<String> = results
            .asr_by_triggered_frames
            .iter()
            .map(|(k, a)| format!("{k}:{a:.2}"))
            .collect();
        println!("ASR by triggered frames  {}", curve.join(" "));
    }
    println!(
        "{}{} in {:.1} s → {} (results.json, metrics.csv, curves.png, model.safetensors)",
        if results.cancelled {
            "cancelled: partial results "
        } else {
            ""
        },
        results.epochs.len(),
        results.wall_secs,
        out.display()
    );
    if results.cancelled {
        anyhow::bail!(
            "cancelled by Ctrl-C after {} epochs; --resume continues",
            results.epochs.len()
        );
    }
    Ok(())
}
