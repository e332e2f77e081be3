//! What a run leaves on disk: `metrics.csv` (a row per epoch, as they come), `results.json`
//! (written atomically at the end, also for a cancelled run), the checkpoint (weights, optimiser
//! state, where the run is; each file replaced atomically), the final model (`model.safetensors`
//! with `model.json`: config and class names) and `curves.png` (loss, CA and ASR per epoch).

use crate::core::experiment::ExperimentSpec;
use anyhow::Context;
use candle_core::Tensor;
use candle_nn::VarMap;
use serde::Serialize;
use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

pub use crate::core::report::{EpochMetrics, FinalMetrics, RunResults, Versions};

/// This crate's and candle's versions.
pub fn build_versions() -> Versions {
    let mut v = Versions::default();
    v.add("triggerlab", env!("CARGO_PKG_VERSION"));
    v.add("candle-core", env!("TL_CANDLE_VERSION"));
    v
}

fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("{}: cannot write", path.display()))?;
    tmp.write_all(bytes)
        .with_context(|| format!("{}: cannot write", path.display()))?;
    tmp.persist(path)
        .map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.error))?;
    Ok(())
}

/// Writes tensors to `path` as safetensors, atomically.
fn save_tensors(path: &Path, tensors: &HashMap<String, Tensor>) -> anyhow::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = tempfile::Builder::new()
        .suffix(".safetensors")
        .tempfile_in(dir)?
        .into_temp_path();
    candle_core::safetensors::save(tensors, &tmp)
        .with_context(|| format!("{}: cannot write", path.display()))?;
    tmp.persist(path)
        .map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.error))?;
    Ok(())
}

fn var_tensors(vm: &VarMap) -> anyhow::Result<HashMap<String, Tensor>> {
    let data = vm
        .data()
        .lock()
        .map_err(|_| anyhow::anyhow!("variable map poisoned"))?;
    Ok(data
        .iter()
        .map(|(k, v)| (k.clone(), v.as_tensor().clone()))
        .collect())
}

pub fn save_checkpoint(
    dir: &Path,
    vm: &VarMap,
    opt: &HashMap<String, Tensor>,
    state_json: &str,
) -> anyhow::Result<()> {
    save_tensors(&dir.join("weights.safetensors"), &var_tensors(vm)?)?;
    save_tensors(&dir.join("optimizer.safetensors"), opt)?;
    // The state goes last: a checkpoint is whole once state.json names its epoch.
    write_atomic(&dir.join("state.json"), state_json.as_bytes())
}

/// `status.json` in a run folder: what the run history reads for a run that has no
/// results.json yet (running, or stopped by a failure). results.json, once written, wins.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct StatusFile {
    /// `running` or `failed`.
    pub status: String,
    /// The process training it (a `running` run whose process is gone was interrupted).
    pub pid: u32,
    /// Seconds since the Unix epoch when the run started.
    pub started_unix: u64,
    #[serde(default)]
    pub error: Option<String>,
    pub spec: crate::core::experiment::ExperimentSpec,
}

pub const STATUS_FILE: &str = "status.json";

/// Marks `out` as being trained by this process.
pub fn mark_running(
    out: &Path,
    spec: &crate::core::experiment::ExperimentSpec,
) -> anyhow::Result<()> {
    let status = StatusFile {
        status: "running".into(),
        pid: std::process::id(),
        started_unix: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        error: None,
        spec: spec.clone(),
    };
    write_atomic(
        &out.join(STATUS_FILE),
        serde_json::to_string_pretty(&status)?.as_bytes(),
    )
}

/// Records why the run in `out` stopped (best effort: the error itself is what gets reported).
pub fn mark_failed(out: &Path, error: &str) {
    let path = out.join(STATUS_FILE);
    let Ok(text) = std::fs::read_to_string(&path) else {
        return;
    };
    let Ok(mut status) = serde_json::from_str::<StatusFile>(&text) else {
        return;
    };
    status.status = "failed".into();
    status.error = Some(error.to_string());
    if let Ok(json) = serde_json::to_string_pretty(&status) {
        let _ = write_atomic(&path, json.as_bytes());
    }
}

const CSV_HEADER: &str = "epoch,train_loss,ca,asr,robust_acc,lr,wall_secs";

fn csv_row(m: &EpochMetrics) -> String {
    format!(
        "{},{:.6},{:.6},{:.6},{:.6},{:.8},{:.3}",
        m.epoch, m.train_loss, m.ca, m.asr, m.robust_acc, m.lr, m.wall_secs
    )
}

/// Appends the newest epoch to `metrics.csv`; rebuilds the file (atomically) when it does not
/// match the history (first epoch, or a resumed run).
pub fn append_metrics(out: &Path, history: &[EpochMetrics]) -> anyhow::Result<()> {
    let path = out.join("metrics.csv");
    let existing = std::fs::read_to_string(&path).unwrap_or_default();
    let want_lines = history.len() + 1;
    if existing.lines().count() + 1 == want_lines && existing.starts_with(CSV_HEADER) {
        if let Some(m) = history.last() {
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .open(&path)
                .with_context(|| format!("{}", path.display()))?;
            writeln!(f, "{}", csv_row(m)).with_context(|| format!("{}", path.display()))?;
        }
        return Ok(());
    }
    let mut text = String::from(CSV_HEADER);
    text.push('\n');
    for m in history {
        text.push_str(&csv_row(m));
        text.push('\n');
    }
    write_atomic(&path, text.as_bytes())
}

#[derive(Serialize)]
struct ModelCard<'a> {
    model: &'a crate::core::experiment::ModelSpec,
    classes: &'a [String],
    input: serde_json::Value,
    layout: &'static str,
}

/// results.json, the model with its sidecar, curves.png.
pub fn write_outputs(
    out: &Path,
    results: &RunResults,
    vm: &VarMap,
    classes: &[String],
    spec: &ExperimentSpec,
) -> anyhow::Result<()> {
    write_atomic(
        &out.join("results.json"),
        serde_json::to_string_pretty(results)?.as_bytes(),
    )?;
    save_tensors(&out.join("model.safetensors"), &var_tensors(vm)?)?;
    let card = ModelCard {
        model: &spec.model,
        classes,
        input: serde_json::json!({
            "video": [spec.batch_size, spec.dataset.frames, spec.dataset.size, spec.dataset.size, 3],
            "video_normalisation": {"mean": super::data::MEAN, "std": super::data::STD},
            "audio": "log-mel, 16 kHz mono, 2 s, 64 mels (train::features::MelConfig::default)",
        }),
        layout: "channels-last: spatial conv weights [Co,3,3,Ci], temporal [Co,3,Ci], linear [out,in]",
    };
    write_atomic(
        &out.join("model.json"),
        serde_json::to_string_pretty(&card)?.as_bytes(),
    )?;
    if !results.epochs.is_empty() {
        draw_curves(&out.join("curves.png"), &results.epochs)?;
    }
    Ok(())
}

/// One curve of `curves.png`: label, axis maximum, value per epoch, colour.
type Series<'a> = (
    &'a str,
    f64,
    Box<dyn Fn(&EpochMetrics) -> f64>,
    plotters::style::RGBColor,
);

/// Loss, CA and ASR per epoch, side by side.
fn register_font() {
    use plotters::prelude::*;
    static FONT: std::sync::Once = std::sync::Once::new();
    FONT.call_once(|| {
        if plotters::style::register_font(
            "sans-serif",
            FontStyle::Normal,
            epaint_default_fonts::UBUNTU_LIGHT,
        )
        .is_err()
        {
            tracing::warn!("curves: could not register the font");
        }
    });
}

pub use crate::core::report::RUN_COLOURS;

/// One panel of the overlay: title, axis maximum, the value per epoch.
type Panel = (&'static str, f64, fn(&EpochMetrics) -> f64);

/// Several runs' loss, CA and ASR per epoch in three panels, one colour per run, with a legend
/// by run name: the run history's "export plot".
pub fn draw_overlay(path: &Path, runs: &[(String, Vec<EpochMetrics>)]) -> anyhow::Result<()> {
    use plotters::prelude::*;
    register_font();
    let e = |e: &dyn std::fmt::Display| anyhow::anyhow!("overlay plot: {e}");
    let tmp = tempfile::Builder::new()
        .suffix(".png")
        .tempfile_in(path.parent().unwrap_or(Path::new(".")))
        .with_context(|| format!("{}: cannot write", path.display()))?
        .into_temp_path();
    {
        let root = BitMapBackend::new(&tmp, (1500, 460)).into_drawing_area();
        root.fill(&WHITE).map_err(|x| e(&x))?;
        let panels = root.split_evenly((1, 3));
        let n = runs.iter().map(|r| r.1.len()).max().unwrap_or(0).max(2) as f64;
        let max_loss = runs
            .iter()
            .flat_map(|r| r.1.iter().map(|m| m.train_loss))
            .fold(0.0, f64::max)
            .max(1e-3)
            * 1.1;
        let metric: [Panel; 3] = [
            ("training loss", max_loss, |m| m.train_loss),
            ("clean accuracy (CA)", 1.0, |m| m.ca),
            ("attack success rate (ASR)", 1.0, |m| m.asr),
        ];
        for (area, (title, ymax, f)) in panels.iter().zip(metric) {
            let mut chart = ChartBuilder::on(area)
                .caption(title, ("sans-serif", 20))
                .margin(12)
                .x_label_area_size(32)
                .y_label_area_size(44)
                .build_cartesian_2d(1.0..n, 0.0..ymax)
                .map_err(|x| e(&x))?;
            chart
                .configure_mesh()
                .x_desc("epoch")
                .label_style(("sans-serif", 13))
                .draw()
                .map_err(|x| e(&x))?;
            for (i, (name, epochs)) in runs.iter().enumerate() {
                let (r, g, b) = RUN_COLOURS[i % RUN_COLOURS.len()];
                let colour = RGBColor(r, g, b);
                chart
                    .draw_series(LineSeries::new(
                        epochs.iter().map(|m| ((m.epoch + 1) as f64, f(m))),
                        colour.stroke_width(2),
                    ))
                    .map_err(|x| e(&x))?
                    .label(name.as_str())
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(3))
                    });
            }
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .label_font(("sans-serif", 13))
                .draw()
                .map_err(|x| e(&x))?;
        }
        root.present().map_err(|x| e(&x))?;
    }
    tmp.persist(path)
        .map_err(|x| anyhow::anyhow!("{}: {}", path.display(), x.error))?;
    Ok(())
}

pub fn draw_curves(path: &Path, epochs: &[EpochMetrics]) -> anyhow::Result<()> {
    use plotters::prelude::*;
    register_font();
    let tmp = tempfile::Builder::new()
        .suffix(".png")
        .tempfile_in(path.parent().unwrap_or(Path::new(".")))?
        .into_temp_path();
    {
        let root = BitMapBackend::new(&tmp, (1200, 400)).into_drawing_area();
        root.fill(&WHITE)
            .map_err(|e| anyhow::anyhow!("curves: {e}"))?;
        let panels = root.split_evenly((1, 3));
        let n = epochs.len().max(2) as f64;
        let max_loss = epochs
            .iter()
            .map(|m| m.train_loss)
            .fold(0.0, f64::max)
            .max(1e-3)
            * 1.1;
        let series: [Series; 3] = [
            (
                "training loss",
                max_loss,
                Box::new(|m| m.train_loss),
                RGBColor(70, 70, 200),
            ),
            (
                "clean accuracy (CA)",
                1.0,
                Box::new(|m| m.ca),
                RGBColor(30, 150, 60),
            ),
            (
                "attack success rate (ASR)",
                1.0,
                Box::new(|m| m.asr),
                RGBColor(200, 50, 40),
            ),
        ];
        for (area, (title, ymax, f, colour)) in panels.iter().zip(series) {
            let mut chart = ChartBuilder::on(area)
                .caption(title, ("sans-serif", 20))
                .margin(12)
                .x_label_area_size(32)
                .y_label_area_size(44)
                .build_cartesian_2d(1.0..n, 0.0..ymax)
                .map_err(|e| anyhow::anyhow!("curves: {e}"))?;
            chart
                .configure_mesh()
                .x_desc("epoch")
                .label_style(("sans-serif", 13))
                .draw()
                .map_err(|e| anyhow::anyhow!("curves: {e}"))?;
            chart
                .draw_series(LineSeries::new(
                    epochs.iter().map(|m| ((m.epoch + 1) as f64, f(m))),
                    colour.stroke_width(2),
                ))
                .map_err(|e| anyhow::anyhow!("curves: {e}"))?;
            chart
                .draw_series(
                    epochs
                        .iter()
                        .map(|m| Circle::new(((m.epoch + 1) as f64, f(m)), 3, colour.filled())),
                )
                .map_err(|e| anyhow::anyhow!("curves: {e}"))?;
        }
        root.present().map_err(|e| anyhow::anyhow!("curves: {e}"))?;
    }
    tmp.persist(path)
        .map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.error))?;
    Ok(())
}
