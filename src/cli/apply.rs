//! `triggerlab apply --trigger SPEC --input IN --output OUT [--seed N] [--json]`.

use crate::core::attack::{AttackSpec, apply_image, parse_json, parse_toml};
use crate::core::metrics::stealth;
use crate::media::assets::FileAssets;
use crate::media::image_io::{load_rgb, save_rgb};
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
    /// Input image (.png, .jpg). Video input arrives with the media layer's encoder.
    #[arg(long, value_name = "IN")]
    pub input: PathBuf,
    /// Output image (.png, .jpg); written atomically.
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
    let base = path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    Ok((spec, base))
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
    seed: u64,
    width: u32,
    height: u32,
    stealth: crate::core::metrics::StealthReport,
}

pub fn run(args: &ApplyArgs) -> anyhow::Result<()> {
    let (mut spec, base) = load_spec(&args.trigger)?;
    if let Some(seed) = args.seed {
        spec.seed = seed;
    }
    for p in [&args.input, &args.output] {
        if !is_image(p) {
            bail!(
                "{}: `apply` reads and writes images (.png, .jpg) for now; video arrives with the media layer's encoder",
                p.display()
            );
        }
    }
    let clean = load_rgb(&args.input)?;
    let poisoned = apply_image(&spec, &clean, &FileAssets::new(base))
        .with_context(|| format!("{}", args.input.display()))?;
    save_rgb(&args.output, &poisoned)?;
    let report = ApplyReport {
        input: &args.input,
        output: &args.output,
        trigger: spec.visual.as_ref().map(|v| v.kind()),
        seed: spec.seed,
        width: clean.width(),
        height: clean.height(),
        stealth: stealth(
            std::slice::from_ref(&clean),
            std::slice::from_ref(&poisoned),
            None,
        ),
    };
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        let s = &report.stealth;
        let psnr = s
            .psnr_db_mean
            .map_or("∞ (unchanged)".into(), |p| format!("{p:.2} dB"));
        let ssim = s.ssim_mean.map_or("—".into(), |v| format!("{v:.4}"));
        println!(
            "applied {} to {} → {}\nPSNR {psnr} · SSIM {ssim} · L∞ {}",
            report.trigger.unwrap_or("nothing"),
            args.input.display(),
            args.output.display(),
            s.linf
        );
        if !args
            .output
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("png"))
        {
            println!("note: JPEG output is lossy; the figures are for the image before encoding");
        }
    }
    Ok(())
}
