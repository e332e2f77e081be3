//! `triggerlab synth --out DIR [--classes 10 --per-class 100 --frames 16 --size 64 --fps 8 --seed 0]`.

use crate::core::synth::{SynthAudio, SynthSpec};
use crate::media::dataset::write_synth;
use clap::Args;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Debug, Args)]
pub struct SynthArgs {
    /// Output folder (created; must not exist or be empty).
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, default_value_t = 10)]
    pub classes: usize,
    #[arg(long, default_value_t = 100)]
    pub per_class: usize,
    #[arg(long, default_value_t = 16)]
    pub frames: usize,
    #[arg(long, default_value_t = 64)]
    pub size: u32,
    #[arg(long, default_value_t = 8)]
    pub fps: u32,
    #[arg(long, default_value_t = 16000)]
    pub sample_rate_hz: u32,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Give every clip the sound of a random class, so audio carries no label.
    #[arg(long)]
    pub uninformative_audio: bool,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: &SynthArgs) -> anyhow::Result<()> {
    let spec = SynthSpec {
        classes: a.classes,
        per_class: a.per_class,
        frames: a.frames,
        size: a.size,
        fps: a.fps,
        sample_rate_hz: a.sample_rate_hz,
        audio: if a.uninformative_audio {
            SynthAudio::Uninformative
        } else {
            SynthAudio::Informative
        },
        seed: a.seed,
    };
    spec.validate().map_err(|e| anyhow::anyhow!("synth: {e}"))?;
    let t = Instant::now();
    let report = write_synth(&spec, &a.out)?;
    let secs = t.elapsed().as_secs_f64();
    if a.json {
        let mut v = serde_json::to_value(&report)?;
        v["wall_secs"] = serde_json::json!(secs);
        println!("{v}");
    } else {
        println!(
            "SynthMotion: {} clips ({} train, {} test) of {} classes, {} frames at {}×{}, in {} ({secs:.1} s)",
            report.clips,
            report.train,
            report.test,
            spec.classes,
            spec.frames,
            spec.size,
            spec.size,
            a.out.display()
        );
    }
    Ok(())
}
