//! `triggerlab apply --trigger SPEC --input IN --output OUT [--seed N] [--json]`.

use crate::core::Clip;
use crate::core::attack::{AttackSpec, Poisoned, apply_clip, apply_image, parse_json, parse_toml};
use crate::core::metrics::stealth;
use crate::jobs::export::decode_whole;
use crate::media::assets::{FileAssets, spec_folder};
use crate::media::encode::{EncodeOptions, write_mp4, write_png_sequence};
use crate::media::image_io::{load_rgb, save_rgb};
use crate::media::survival::{Survival, codec_survival};
use anyhow::{Context, bail};
use clap::Args;
use serde::Serialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// The attack spec: a .json or .toml file, or inline JSON (a full spec or a bare trigger
    /// object such as '{"kind":"sig","delta":40,"freq":6}').
    #[arg(long, value_name = "SPEC")]
    pub trigger: String,
    /// Input: an image (.png, .jpg) or any video FFmpeg reads.
    #[arg(long, value_name = "IN")]
    pub input: PathBuf,
    /// Output: an image (.png, .jpg) for an image input; for a video input an .mp4 (H.264 + AAC)
    /// or a folder for a PNG sequence. Written atomically.
    #[arg(long, value_name = "OUT")]
    pub output: PathBuf,
    /// Overrides the spec's seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Reads a spec from a file (by extension) or inline JSON; returns it with the folder that its
/// relative paths are resolved against. Errors name the spec and the field.
pub fn load_spec(arg: &str) -> anyhow::Result<(AttackSpec, PathBuf)> {
    let trimmed = arg.trim_start();
    if trimmed.starts_with('{') {
        let spec = parse_json(trimmed).with_context(|| "--trigger (inline JSON)".to_string())?;
        return Ok((spec, PathBuf::from(".")));
    }
    let path = Path::new(arg);
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read the spec", path.display()))?;
    let is_toml = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("toml"));
    let spec = if is_toml {
        parse_toml(&text)
    } else {
        parse_json(&text)
    }
    .with_context(|| path.display().to_string())?;
    Ok((spec, spec_folder(path)))
}

fn is_image(p: &Path) -> bool {
    p.extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .is_some_and(|e| matches!(e.as_str(), "png" | "jpg" | "jpeg"))
}

#[derive(Serialize)]
struct ApplyReport<'a> {
    input: &'a Path,
    output: &'a Path,
    trigger: Option<&'a str>,
    audio_trigger: Option<&'a str>,
    seed: u64,
    width: u32,
    height: u32,
    frames: usize,
    triggered_frames: Vec<usize>,
    stealth: crate::core::metrics::StealthReport,
    audio_mix: Option<crate::core::audio_trigger::MixReport>,
    /// For video output: how much of the trigger survived encoding.
    codec_survival: Option<Survival>,
}

fn is_video_out(p: &Path) -> bool {
    p.extension().is_some_and(|e| e.eq_ignore_ascii_case("mp4"))
}

/// `apply` on a video, without the report: decodes `input` whole, applies `spec` (files
/// relative to `base`), writes `output` (.mp4, or PNG frames for a path without extension) and,
/// for MP4, measures codec survival. Returns the clean clip, the result and the survival.
pub fn apply_video(
    input: &Path,
    output: &Path,
    spec: &AttackSpec,
    base: &Path,
) -> anyhow::Result<(Clip, Poisoned, Option<Survival>)> {
    let (png_dir, mp4) = (output.extension().is_none(), is_video_out(output));
    if !png_dir && !mp4 {
        bail!(
            "{}: a video is written as .mp4, or as PNG frames into a folder (a path without extension)",
            output.display()
        );
    }
    let clean = decode_whole(input)?;
    let out = apply_clip(spec, &clean, &FileAssets::new(base))
        .with_context(|| input.display().to_string())?;
    let opts = EncodeOptions::default();
    let survival = if mp4 {
        write_mp4(&out.clip, output, &opts)?;
        Some(codec_survival(&clean, &out.clip, output, &opts)?)
    } else {
        write_png_sequence(&out.clip, output)?;
        None
    };
    Ok((clean, out, survival))
}

fn run_video(args: &ApplyArgs, spec: &AttackSpec, base: PathBuf) -> anyhow::Result<()> {
    let (clean, out, survival) = apply_video(&args.input, &args.output, spec, &base)?;
    let audio = match (clean.audio(), out.clip.audio()) {
        (Some(a), Some(b)) => Some((a.samples(), b.samples())),
        _ => None,
    };
    let (w, h) = clean.size().unwrap_or((0, 0));
    let report = ApplyReport {
        input: &args.input,
        output: &args.output,
        trigger: spec.visual.as_ref().map(|v| v.kind()),
        audio_trigger: spec.audio.as_ref().map(|a| a.kind()),
        seed: spec.seed,
        width: w,
        height: h,
        frames: clean.frames().len(),
        triggered_frames: out.selected.clone(),
        stealth: stealth(clean.frames(), out.clip.frames(), audio),
        audio_mix: out.audio.clone(),
        codec_survival: survival,
    };
    print_report(args, &report)
}

fn print_report(args: &ApplyArgs, report: &ApplyReport) -> anyhow::Result<()> {
    if args.json {
        println!("{}", serde_json::to_string(report)?);
        return Ok(());
    }
    let s = &report.stealth;
    let psnr = s
        .psnr_db_mean
        .map_or("∞ (unchanged)".into(), |p| format!("{p:.2} dB"));
    let ssim = s.ssim_mean.map_or("—".into(), |v| format!("{v:.4}"));
    println!(
        "applied {} to {} → {} ({} of {} frames)\nPSNR {psnr} · SSIM {ssim} · L∞ {}",
        report.trigger.or(report.audio_trigger).unwrap_or("nothing"),
        args.input.display(),
        args.output.display(),
        report.triggered_frames.len(),
        report.frames,
        s.linf
    );
    if let Some(f) = s.temporal_flicker {
        println!("temporal flicker {f:.3}");
    }
    if let Some(m) = &report.audio_mix {
        println!(
            "audio: {:.3} s at {:.3} s, SNR {} dB, {} samples clipped",
            m.duration_secs,
            m.start_secs,
            m.snr_db.map_or("∞".into(), |v| format!("{v:.1}")),
            m.clipped_samples
        );
    }
    if let Some(sv) = &report.codec_survival {
        let f = |v: Option<f64>| v.map_or("—".into(), |v| format!("{v:.3}"));
        println!(
            "after encoding: PSNR {} → {} dB, trigger delta correlation {}, energy kept {}",
            f(sv.psnr_before_db),
            f(sv.psnr_after_db),
            f(sv.delta_correlation),
            f(sv.delta_energy_ratio)
        );
    }
    if args
        .output
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("jpg") || e.eq_ignore_ascii_case("jpeg"))
    {
        println!("note: JPEG output is lossy; the figures are for the image before encoding");
    }
    Ok(())
}

pub fn run(args: &ApplyArgs) -> anyhow::Result<()> {
    let (mut spec, base) = load_spec(&args.trigger)?;
    if let Some(seed) = args.seed {
        spec.seed = seed;
    }
    if !is_image(&args.input) {
        return run_video(args, &spec, base);
    }
    if !is_image(&args.output) {
        bail!(
            "{}: an image input is written as .png or .jpg",
            args.output.display()
        );
    }
    let clean = load_rgb(&args.input)?;
    let poisoned = apply_image(&spec, &clean, &FileAssets::new(base))
        .with_context(|| format!("{}", args.input.display()))?;
    save_rgb(&args.output, &poisoned)?;
    let report = ApplyReport {
        input: &args.input,
        output: &args.output,
        trigger: spec.visual.as_ref().map(|v| v.kind()),
        audio_trigger: None,
        seed: spec.seed,
        width: clean.width(),
        height: clean.height(),
        frames: 1,
        triggered_frames: vec![0],
        stealth: stealth(
            std::slice::from_ref(&clean),
            std::slice::from_ref(&poisoned),
            None,
        ),
        audio_mix: None,
        codec_survival: None,
    };
    print_report(args, &report)
}
