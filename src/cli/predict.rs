//! `triggerlab predict --model RUN_DIR --input CLIP [--attack SPEC] [--top K] [--json]`: a
//! trained model's top classes for a clip, clean and (with `--attack`) triggered, computed as
//! the run's evaluation computes them (`train::predict`).

use crate::media::assets::FileAssets;
use crate::media::decode::decode_clip;
use crate::train::predict::{ClassProb, Predictor};
use anyhow::Context;
use clap::Args;
use serde::Serialize;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct PredictArgs {
    /// A run's output folder (results.json, model.json, model.safetensors).
    #[arg(long, value_name = "RUN_DIR")]
    pub model: PathBuf,
    /// The clip: any video FFmpeg reads (decoded as the run decoded its dataset).
    #[arg(long, value_name = "CLIP")]
    pub input: PathBuf,
    /// Also predict the clip with this attack applied: a .json or .toml spec, or inline JSON.
    #[arg(long, value_name = "SPEC")]
    pub attack: Option<String>,
    /// How many classes to list.
    #[arg(long, default_value_t = 5, value_name = "K")]
    pub top: usize,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct ModelJson {
    path: String,
    kind: serde_json::Value,
    classes: usize,
    frames: usize,
    size: u32,
    ca: f64,
    asr: f64,
    target: String,
}

#[derive(Serialize)]
struct TopJson {
    top: Vec<ClassProb>,
}

#[derive(Serialize)]
struct PredictJson {
    model: ModelJson,
    clean: TopJson,
    #[serde(skip_serializing_if = "Option::is_none")]
    triggered: Option<TopJson>,
}

pub fn run(args: &PredictArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.top >= 1, "--top: must be at least 1");
    let attack = args
        .attack
        .as_deref()
        .map(super::apply::load_spec)
        .transpose()
        .context("--attack")?;
    let p = Predictor::load(&args.model, &candle_core::Device::Cpu)?;
    let req = crate::jobs::experiment::decode_request(&p.request());
    let clip = decode_clip(&args.input, &req)?.clip;
    p.check(&clip)
        .with_context(|| args.input.display().to_string())?;
    let clean = p.probabilities(&clip, 0, None, &crate::core::assets::NoAssets)?;
    let triggered = match &attack {
        Some((spec, base)) => Some(
            p.probabilities(&clip, 0, Some(spec), &FileAssets::new(base))
                .context("--attack")?,
        ),
        None => None,
    };
    let spec = p.spec();
    let out = PredictJson {
        model: ModelJson {
            path: args.model.display().to_string(),
            kind: serde_json::to_value(spec.model.kind).unwrap_or_default(),
            classes: p.classes.len(),
            frames: spec.dataset.frames,
            size: spec.dataset.size,
            ca: p.run.final_metrics.ca,
            asr: p.run.final_metrics.asr,
            target: p.run.target_name.clone(),
        },
        clean: TopJson {
            top: p.top(&clean, args.top),
        },
        triggered: triggered.map(|t| TopJson {
            top: p.top(&t, args.top),
        }),
    };
    if args.json {
        println!("{}", serde_json::to_string(&out)?);
        return Ok(());
    }
    let m = &out.model;
    println!(
        "model      {}: {}, {} classes, {} frames at {}×{} · CA {:.3} · ASR {:.3} · target {}",
        m.path,
        m.kind.as_str().unwrap_or("?"),
        m.classes,
        m.frames,
        m.size,
        m.size,
        m.ca,
        m.asr,
        m.target
    );
    let line = |top: &[ClassProb]| {
        top.iter()
            .map(|c| format!("{} {:.3}", c.class, c.prob))
            .collect::<Vec<_>>()
            .join(" · ")
    };
    println!("clean      {}", line(&out.clean.top));
    if let Some(t) = &out.triggered {
        println!("triggered  {}", line(&t.top));
    }
    Ok(())
}
