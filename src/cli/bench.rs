//! `triggerlab bench triggers [--json]`: trigger throughput on a batch of clips, in frames per
//! second, with the machine's memory-copy bandwidth on the same buffer as the yardstick.

use crate::core::Clip;
use crate::core::assets::NoAssets;
use crate::core::attack::{AttackSpec, apply_clip};
use crate::core::placement::{FrameCtx, FrameSelection, TemporalSpec};
use crate::core::trigger::{ClipLevel, KINDS, VisualTrigger};
use crate::core::{Frame, Rational};
use anyhow::Context;
use clap::{Args, Subcommand};
use rand::{RngCore, SeedableRng};
use rayon::prelude::*;
use serde::Serialize;
use std::time::{Duration, Instant};

#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub what: BenchWhat,
}

#[derive(Debug, Subcommand)]
pub enum BenchWhat {
    /// Every visual and natural trigger at each frame size.
    Triggers(TriggerBenchArgs),
    /// Decoding + resizing a file, next to the ffmpeg CLI doing the same job on it.
    Decode(DecodeBenchArgs),
    /// Training and inference throughput of the video models (random data).
    Train(TrainBenchArgs),
    /// The studio's export (a worker, MP4 + codec survival) next to `apply` on the same file.
    Export(ExportBenchArgs),
}

#[derive(Debug, Args)]
pub struct ExportBenchArgs {
    /// The video to poison.
    pub file: std::path::PathBuf,
    /// The attack spec (a file, or inline JSON as `apply --trigger` takes).
    #[arg(long, default_value = r#"{"kind":"badnets","size":32}"#)]
    pub trigger: String,
    /// Runs of each (the best is kept).
    #[arg(long, default_value_t = 2)]
    pub runs: usize,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct ExportReport {
    file: std::path::PathBuf,
    frames: usize,
    export_secs: f64,
    apply_secs: f64,
    /// Export over `apply` (≤ 1 means the export is no slower).
    ratio: f64,
}

/// Times the export job (MP4 with codec survival, events drained as the studio would) and
/// `apply`'s own pipeline on the same file and spec, each writing into a temp folder.
pub fn run_export(a: &ExportBenchArgs) -> anyhow::Result<()> {
    use crate::jobs::export::{ExportEvent, ExportRequest, ExportSource, ExportTarget};
    let (spec, base) = super::apply::load_spec(&a.trigger)?;
    let dir = tempfile::tempdir()?;
    let (mut export_secs, mut apply_secs) = (f64::INFINITY, f64::INFINITY);
    let mut frames = 0;
    for run in 0..a.runs.max(1) {
        let out = dir.path().join(format!("export-{run}.mp4"));
        let req = ExportRequest {
            source: ExportSource::File(a.file.clone()),
            spec: spec.clone(),
            assets_base: base.clone(),
            target: ExportTarget::Mp4 {
                path: out,
                options: crate::media::encode::EncodeOptions::default(),
                survival: true,
            },
        };
        let t = Instant::now();
        let (job, _cancel) = crate::jobs::export::start_export(req, crate::jobs::no_repaint())?;
        let mut outcome = None;
        while let Some(ev) = job.recv() {
            match ev {
                ExportEvent::Progress { total, .. } => frames = frames.max(total / 4),
                other => outcome = Some(other),
            }
        }
        match outcome {
            Some(ExportEvent::Done { .. }) => {}
            Some(ExportEvent::Failed(e)) => anyhow::bail!("export: {e}"),
            other => anyhow::bail!("export ended with {other:?}"),
        }
        export_secs = export_secs.min(t.elapsed().as_secs_f64());

        let out = dir.path().join(format!("apply-{run}.mp4"));
        let t = Instant::now();
        super::apply::apply_video(&a.file, &out, &spec, &base)?;
        apply_secs = apply_secs.min(t.elapsed().as_secs_f64());
    }
    let r = ExportReport {
        file: a.file.clone(),
        frames,
        export_secs,
        apply_secs,
        ratio: export_secs / apply_secs,
    };
    if a.json {
        println!("{}", serde_json::to_string(&r)?);
    } else {
        println!(
            "{}: {} frames · export {:.2} s ({:.1} frames/s) · apply {:.2} s ({:.1} frames/s) · export/apply {:.2}",
            r.file.display(),
            r.frames,
            r.export_secs,
            r.frames as f64 / r.export_secs,
            r.apply_secs,
            r.frames as f64 / r.apply_secs,
            r.ratio
        );
    }
    Ok(())
}

#[derive(Debug, Args)]
pub struct TrainBenchArgs {
    #[arg(long)]
    pub json: bool,
    #[arg(long, default_value_t = 8)]
    pub batch: usize,
    #[arg(long, default_value_t = 16)]
    pub frames: usize,
    #[arg(long, value_delimiter = ',', default_value = "112,64")]
    pub sizes: Vec<usize>,
    /// Models to measure.
    #[arg(long, value_delimiter = ',', default_value = "r2plus1d_tiny")]
    pub models: Vec<String>,
    /// Minimum measuring time per case (after one warm-up step).
    #[arg(long, default_value_t = 3.0)]
    pub min_secs: f64,
    #[arg(long, default_value = "cpu")]
    pub device: String,
}

#[derive(Serialize)]
struct TrainRow {
    model: String,
    batch: usize,
    frames: usize,
    size: usize,
    train_clips_per_sec: f64,
    infer_clips_per_sec: f64,
    device: String,
}

pub fn run_train(a: &TrainBenchArgs) -> anyhow::Result<()> {
    use crate::train::device::{DevicePref, select_device};
    use crate::train::models::{FusionConfig, Model, ModelKind, builder};
    use crate::train::optim::{OptKind, Optimizer};
    let pref = match a.device.as_str() {
        "cpu" => DevicePref::Cpu,
        "cuda" => DevicePref::Cuda,
        other => anyhow::bail!("--device {other}: use cpu or cuda"),
    };
    let choice = select_device(pref);
    if let Some(why) = &choice.fallback_reason {
        eprintln!("triggerlab: {why}; measuring on the CPU");
    }
    let dev = choice.device.clone();
    let mut rows = Vec::new();
    for name in &a.models {
        let kind: ModelKind = serde_json::from_value(serde_json::json!(name))
            .with_context(|| format!("unknown model {name}"))?;
        for &size in &a.sizes {
            let vm = candle_nn::VarMap::new();
            let model = Model::new(kind, FusionConfig::default(), 10, builder(&vm, &dev))?;
            // The trainer's own AdamW (the step it takes in real runs).
            let vars = vm
                .data()
                .lock()
                .map_err(|_| anyhow::anyhow!("variable map poisoned"))?
                .clone();
            let mut opt = Optimizer::new(
                OptKind::AdamW {
                    beta1: 0.9,
                    beta2: 0.999,
                    eps: 1e-8,
                },
                0.01,
                &vars,
            )?;
            let video =
                candle_core::Tensor::randn(0f32, 1.0, (a.batch, a.frames, size, size, 3), &dev)?;
            let audio = candle_core::Tensor::randn(0f32, 1.0, (a.batch, 198, 64, 1), &dev)?;
            let labels = candle_core::Tensor::new(
                (0..a.batch as u32).map(|i| i % 10).collect::<Vec<_>>(),
                &dev,
            )?;
            let mut step = || -> anyhow::Result<()> {
                let out = model.forward(Some(&video), Some(&audio))?;
                let loss = candle_nn::loss::cross_entropy(&out.logits, &labels)?;
                opt.step(&loss.backward()?, 1e-3)?;
                dev.synchronize()?;
                Ok(())
            };
            let train = timed_rate(a.min_secs, a.batch, &mut step)?;
            let mut infer = || -> anyhow::Result<()> {
                let out = model.forward(Some(&video), Some(&audio))?;
                std::hint::black_box(out.logits.to_vec2::<f32>()?);
                Ok(())
            };
            let inf = timed_rate(a.min_secs, a.batch, &mut infer)?;
            rows.push(TrainRow {
                model: name.clone(),
                batch: a.batch,
                frames: a.frames,
                size,
                train_clips_per_sec: train,
                infer_clips_per_sec: inf,
                device: choice.label(),
            });
        }
    }
    if a.json {
        println!("{}", serde_json::json!({ "results": rows }));
    } else {
        for r in &rows {
            println!(
                "{} batch {} {}×{}×{} on {}: train {:.1} clips/s, inference {:.1} clips/s",
                r.model,
                r.batch,
                r.frames,
                r.size,
                r.size,
                r.device,
                r.train_clips_per_sec,
                r.infer_clips_per_sec
            );
        }
    }
    Ok(())
}

/// Clips per second of `f` (one batch per call): one warm-up call, then calls for `min_secs`.
fn timed_rate(
    min_secs: f64,
    batch: usize,
    f: &mut dyn FnMut() -> anyhow::Result<()>,
) -> anyhow::Result<f64> {
    f()?;
    let start = Instant::now();
    let mut n = 0usize;
    while n == 0 || start.elapsed().as_secs_f64() < min_secs {
        f()?;
        n += 1;
    }
    Ok((n * batch) as f64 / start.elapsed().as_secs_f64())
}

#[derive(Debug, Args)]
pub struct DecodeBenchArgs {
    /// The video to decode.
    pub file: std::path::PathBuf,
    /// Output frames are SIZE×SIZE (stretched, like `-vf scale=SIZE:SIZE`).
    #[arg(long, default_value_t = 112)]
    pub size: u32,
    /// Runs of each (the best is kept).
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct DecodeReport {
    file: std::path::PathBuf,
    size: u32,
    frames: u64,
    triggerlab_frames_per_sec: f64,
    ffmpeg_frames_per_sec: f64,
    /// TriggerLab over the ffmpeg CLI (≥ 1 means faster).
    ratio: f64,
    ffmpeg_command: String,
}

/// Decodes `file` to SIZE×SIZE RGB frames with both TriggerLab and the ffmpeg CLI.
pub fn run_decode(a: &DecodeBenchArgs) -> anyhow::Result<()> {
    use crate::media::reader::{SizeMode, VideoReader};
    let size = SizeMode::Stretch {
        width: a.size,
        height: a.size,
    };
    let mut ours = 0f64;
    let mut frames = 0u64;
    for _ in 0..a.runs.max(1) {
        let t = Instant::now();
        let mut r = VideoReader::open(&a.file, size)?;
        let mut n = 0u64;
        while let Some((_, f)) = r.next_frame()? {
            std::hint::black_box(f);
            n += 1;
        }
        ours = ours.max(n as f64 / t.elapsed().as_secs_f64());
        frames = n;
    }
    let args = [
        "-v".to_string(),
        "error".into(),
        "-nostdin".into(),
        "-i".into(),
        a.file.display().to_string(),
        "-vf".into(),
        format!("scale={0}:{0}", a.size),
        "-f".into(),
        "rawvideo".into(),
        "-pix_fmt".into(),
        "rgb24".into(),
        "-y".into(),
        "/dev/null".into(),
    ];
    let mut theirs = 0f64;
    for _ in 0..a.runs.max(1) {
        let t = Instant::now();
        let st = std::process::Command::new("ffmpeg")
            .args(&args)
            .status()
            .context("cannot run the ffmpeg CLI (install it with scripts/setup.sh)")?;
        anyhow::ensure!(
            st.success(),
            "the ffmpeg CLI failed on {}",
            a.file.display()
        );
        theirs = theirs.max(frames as f64 / t.elapsed().as_secs_f64());
    }
    let report = DecodeReport {
        file: a.file.clone(),
        size: a.size,
        frames,
        triggerlab_frames_per_sec: ours,
        ffmpeg_frames_per_sec: theirs,
        ratio: ours / theirs,
        ffmpeg_command: format!("ffmpeg {}", args.join(" ")),
    };
    if a.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!(
            "{}: {} frames to {}×{}\nTriggerLab {:.0} frames/s · ffmpeg CLI {:.0} frames/s · ratio {:.2}",
            a.file.display(),
            frames,
            a.size,
            a.size,
            ours,
            theirs,
            report.ratio
        );
    }
    Ok(())
}

#[derive(Debug, Args)]
pub struct TriggerBenchArgs {
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Square frame sizes to measure.
    #[arg(long, value_delimiter = ',', default_value = "112,224")]
    pub sizes: Vec<usize>,
    #[arg(long, default_value_t = 8)]
    pub clips: usize,
    #[arg(long, default_value_t = 16)]
    pub frames: usize,
    /// Minimum measuring time per trigger and size (the best of 3 such runs is kept).
    #[arg(long, default_value_t = 0.1)]
    pub min_secs: f64,
}

#[derive(Serialize)]
struct Row {
    trigger: &'static str,
    size: usize,
    frames_per_sec: f64,
    /// Frame bytes read + written per second.
    gbytes_per_sec: f64,
    /// How the frames were processed: in place on the batch buffer, or through `apply_clip`.
    path: &'static str,
}

#[derive(Serialize)]
struct Report {
    results: Vec<Row>,
    /// Copying the batch frame by frame on the same threads, bytes read + written per second.
    memcpy_gbytes_per_sec: Vec<(usize, f64)>,
    threads: usize,
    clips: usize,
    frames_per_clip: usize,
    wall_secs: f64,
}

/// Runs `f` (which processes `frames` frames) repeatedly for at least `min` — three times — and
/// returns the best rate in frames per second.
fn measure(
    min: Duration,
    frames: usize,
    mut f: impl FnMut() -> anyhow::Result<()>,
) -> anyhow::Result<f64> {
    f()?; // warm caches and lazy tables
    let mut best = 0f64;
    for _ in 0..3 {
        let start = Instant::now();
        let mut iters = 0usize;
        while start.elapsed() < min || iters == 0 {
            f()?;
            iters += 1;
        }
        best = best.max((iters * frames) as f64 / start.elapsed().as_secs_f64());
    }
    Ok(best)
}

/// The trigger measured for `kind` at `size`: its defaults, except FTrojan's window, which is
/// 16 at 112 px and 32 above (as the reference figures were taken).
pub fn bench_trigger(kind: &str, size: usize) -> Option<VisualTrigger> {
    let mut t = VisualTrigger::default_of(kind)?;
    if let VisualTrigger::Ftrojan(f) = &mut t {
        f.window = if size <= 112 { 16 } else { 32 };
    }
    Some(t)
}

pub fn run(args: &TriggerBenchArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let min = Duration::from_secs_f64(args.min_secs.max(0.001));
    let n = args.clips * args.frames;
    let mut rows = Vec::new();
    let mut memcpy = Vec::new();
    for &size in &args.sizes {
        let len = size * size * 3;
        let mut batch = vec![0u8; n * len];
        rand_chacha::ChaCha8Rng::seed_from_u64(0).fill_bytes(&mut batch);
        let pristine = batch.clone();

        // The yardstick runs like the triggers: frame by frame on the same threads.
        let mut dst = vec![0u8; batch.len()];
        let copy_fps = measure(min, n, || {
            dst.par_chunks_mut(len)
                .zip(batch.par_chunks(len))
                .for_each(|(d, s)| d.copy_from_slice(s));
            Ok(())
        })?;
        let copy_gbs = copy_fps * 2.0 * len as f64 / 1e9;
        memcpy.push((size, copy_gbs));

        // The same clips as `Clip`s, for the clip-level triggers.
        let clips: Vec<Clip> = pristine
            .chunks_exact(len * args.frames)
            .map(|c| {
                let frames = c
                    .chunks_exact(len)
                    .map(|f| Frame::new(size as u32, size as u32, f.to_vec()))
                    .collect::<Result<Vec<_>, _>>()?;
                Clip::new(frames, Rational::from_int(25), None)
            })
            .collect::<Result<_, _>>()?;

        for kind in KINDS {
            let trigger = bench_trigger(kind, size).context("every kind has defaults")?;
            let temporal = TemporalSpec::default();
            let prepared = trigger.prepare("visual", size, size, &temporal, 0, &NoAssets)?;
            let frames = args.frames;
            let (fps, path) = match prepared.clip_level() {
                ClipLevel::PerFrame => {
                    batch.copy_from_slice(&pristine);
                    let fps = measure(min, n, || {
                        prepared
                            .apply_batch(&mut batch, |i| FrameCtx {
                                index: i % frames,
                                ordinal: i % frames,
                                count: frames,
                            })
                            .map_err(anyhow::Error::msg)
                    })?;
                    (fps, "batch_in_place")
                }
                ClipLevel::Tdba => {
                    let weights = prepared.tdba_profile(frames)?.unwrap_or_default();
                    let fps = measure(min, n, || {
                        batch.par_chunks_mut(len).enumerate().for_each(|(i, px)| {
                            prepared.apply_tdba(px, weights[i % frames]);
                        });
                        Ok(())
                    })?;
                    (fps, "batch_in_place")
                }
                ClipLevel::Lag(_) => {
                    // Frames are re-ordered, not recomputed: apply_clip shares them.
                    let mut spec = AttackSpec::visual(trigger.clone());
                    spec.temporal.frames = FrameSelection::Range {
                        start: frames / 4,
                        len: (frames / 2).max(1),
                    };
                    let fps = measure(min, n, || {
                        for c in &clips {
                            std::hint::black_box(apply_clip(&spec, c, &NoAssets)?);
                        }
                        Ok(())
                    })?;
                    (fps, "apply_clip")
                }
            };
            rows.push(Row {
                trigger: kind,
                size,
                frames_per_sec: fps,
                gbytes_per_sec: fps * 2.0 * len as f64 / 1e9,
                path,
            });
        }
    }
    let report = Report {
        results: rows,
        memcpy_gbytes_per_sec: memcpy,
        threads: rayon::current_num_threads(),
        clips: args.clips,
        frames_per_clip: args.frames,
        wall_secs: started.elapsed().as_secs_f64(),
    };
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!(
            "{} clips × {} frames, {} threads, {:.1} s",
            report.clips, report.frames_per_clip, report.threads, report.wall_secs
        );
        for (size, g) in &report.memcpy_gbytes_per_sec {
            println!("memcpy at {size}×{size}: {g:.2} GB/s (read + write)");
        }
        println!(
            "{:<12} {:>5} {:>14} {:>10}",
            "trigger", "size", "frames/s", "GB/s"
        );
        for r in &report.results {
            println!(
                "{:<12} {:>5} {:>14.0} {:>10.2}",
                r.trigger, r.size, r.frames_per_sec, r.gbytes_per_sec
            );
        }
    }
    Ok(())
}
