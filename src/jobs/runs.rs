//! The run history: every run folder under an output root (the studio's and the CLI's alike),
//! read from what the trainer writes there — results.json once a run ends, status.json and
//! metrics.csv while it trains or after it failed. Scanning runs on a worker; exporting the
//! compared runs writes CSV and PNG atomically.

use super::{Job, Repaint, start};
use crate::core::experiment::ExperimentSpec;
use crate::core::report::{EpochMetrics, FinalMetrics, RunRow, attack_summary, utc_minute};
use crate::train::report::{STATUS_FILE, StatusFile};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// What the history keeps of a results.json: read leniently (fields a later build added
/// default), so runs from older builds still list.
#[derive(Clone, Debug, Deserialize)]
pub struct RunRecord {
    #[serde(rename = "final")]
    pub final_metrics: FinalMetrics,
    pub epochs: Vec<EpochMetrics>,
    pub seed: u64,
    #[serde(default)]
    pub poison_indices_sha256: String,
    #[serde(default)]
    pub poison_indices: Vec<usize>,
    #[serde(default)]
    pub target_name: String,
    #[serde(default)]
    pub classes: Vec<String>,
    #[serde(default = "yes")]
    pub asr_meaningful: bool,
    #[serde(default)]
    pub asr_by_triggered_frames: Vec<(usize, f64)>,
    #[serde(default)]
    pub confusion_clean: Vec<Vec<usize>>,
    #[serde(default)]
    pub confusion_triggered: Vec<Vec<usize>>,
    #[serde(default)]
    pub wall_secs: f64,
    #[serde(default)]
    pub train_wall_secs: f64,
    #[serde(default)]
    pub cancelled: bool,
    #[serde(default)]
    pub device: String,
    pub spec: ExperimentSpec,
}

fn yes() -> bool {
    true
}

/// One run folder.
#[derive(Clone, Debug)]
pub struct RunEntry {
    pub row: RunRow,
    pub dir: PathBuf,
    /// Per-epoch metrics (from results.json, else metrics.csv).
    pub epochs: Vec<EpochMetrics>,
    /// Present once the run ended (finished or cancelled).
    pub record: Option<Box<RunRecord>>,
    /// The spec as run, as TOML.
    pub spec_toml: String,
    /// Why it failed, for a failed run.
    pub error: Option<String>,
    /// When its files last changed (seconds since the Unix epoch): newest first.
    pub modified_unix: u64,
}

/// Run folders under `root` (itself and up to three levels down; a run folder's own subfolders
/// are not searched), newest first. Folders that are not runs are skipped; a run folder whose
/// files cannot be read is listed as failed with the reason.
pub fn scan(root: &Path) -> Vec<RunEntry> {
    let mut out = Vec::new();
    walk(root, 0, &mut out);
    out.sort_by(|a, b| {
        b.modified_unix
            .cmp(&a.modified_unix)
            .then_with(|| a.dir.cmp(&b.dir))
    });
    out
}

fn walk(dir: &Path, depth: usize, out: &mut Vec<RunEntry>) {
    if is_run(dir) {
        out.push(read_run(dir));
        return;
    }
    if depth >= 3 {
        return;
    }
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut subs: Vec<PathBuf> = rd
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect();
    subs.sort();
    for s in subs {
        walk(&s, depth + 1, out);
    }
}

fn is_run(dir: &Path) -> bool {
    ["results.json", STATUS_FILE, "metrics.csv"]
        .iter()
        .any(|f| dir.join(f).is_file())
}

fn modified(path: &Path) -> Option<u64> {
    let t = std::fs::metadata(path).ok()?.modified().ok()?;
    t.duration_since(std::time::UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs())
}

/// Reads one run folder.
pub fn read_run(dir: &Path) -> RunEntry {
    let modified_unix = ["results.json", "metrics.csv", STATUS_FILE]
        .iter()
        .filter_map(|f| modified(&dir.join(f)))
        .max()
        .unwrap_or(0);
    let folder_name = dir.file_name().map_or_else(
        || dir.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let mut entry = RunEntry {
        row: RunRow {
            name: folder_name,
            date: utc_minute(modified_unix),
            attack: String::new(),
            model: String::new(),
            status: "failed".into(),
            epochs: 0,
            ca: None,
            asr: None,
            robust_acc: None,
            asr_meaningful: None,
            wall_secs: None,
            seed: 0,
            dir: dir.display().to_string(),
        },
        dir: dir.to_path_buf(),
        epochs: Vec::new(),
        record: None,
        spec_toml: String::new(),
        error: None,
        modified_unix,
    };
    let results = dir.join("results.json");
    if results.is_file() {
        match std::fs::read_to_string(&results)
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::from_str::<RunRecord>(&t).map_err(|e| e.to_string()))
        {
            Ok(r) => {
                entry.row.status = if r.cancelled { "cancelled" } else { "finished" }.into();
                entry.row.ca = Some(r.final_metrics.ca);
                entry.row.asr = Some(r.final_metrics.asr);
                entry.row.robust_acc = Some(r.final_metrics.robust_acc);
                entry.row.asr_meaningful = Some(r.asr_meaningful);
                entry.row.wall_secs = Some(r.wall_secs);
                entry.row.epochs = r.epochs.len();
                entry.epochs = r.epochs.clone();
                describe(&mut entry, &r.spec);
                entry.record = Some(Box::new(r));
            }
            Err(e) => entry.error = Some(format!("{}: {e}", results.display())),
        }
        return entry;
    }
    // No results yet: running, interrupted or failed.
    let status: Option<StatusFile> = std::fs::read_to_string(dir.join(STATUS_FILE))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok());
    entry.epochs = read_metrics_csv(&dir.join("metrics.csv"));
    entry.row.epochs = entry.epochs.len();
    if let Some(last) = entry.epochs.last() {
        entry.row.ca = Some(last.ca);
        entry.row.asr = Some(last.asr);
        entry.row.robust_acc = Some(last.robust_acc);
        entry.row.wall_secs = Some(last.wall_secs);
    }
    match status {
        Some(s) => {
            entry.row.date = utc_minute(s.started_unix);
            describe(&mut entry, &s.spec);
            entry.row.status = match s.status.as_str() {
                "running" if process_alive(s.pid) => "running",
                "running" => "interrupted",
                _ => "failed",
            }
            .into();
            entry.error = s.error;
        }
        None => {
            entry.row.status = "interrupted".into();
        }
    }
    entry
}

fn describe(entry: &mut RunEntry, spec: &ExperimentSpec) {
    // The spec's name, with the folder's when they differ (runs of one spec under several
    // folders stay apart in the table, the legend and the CSV).
    if !spec.name.is_empty() && spec.name != entry.row.name {
        entry.row.name = format!("{} ({})", spec.name, entry.row.name);
    }
    entry.row.attack = attack_summary(spec);
    entry.row.model = crate::core::report::model_name(spec);
    entry.row.seed = spec.seed;
    entry.spec_toml = toml::to_string(spec).unwrap_or_default();
}

/// Whether process `pid` still runs (Linux's /proc; elsewhere a `running` run is taken at its
/// word).
fn process_alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        Path::new("/proc").join(pid.to_string()).exists()
    } else {
        true
    }
}

/// metrics.csv's epochs (the columns `train::report` writes); unreadable rows are skipped.
fn read_metrics_csv(path: &Path) -> Vec<EpochMetrics> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<f64> = line
                .split(',')
                .map(|c| c.trim().parse::<f64>())
                .collect::<Result<_, _>>()
                .ok()?;
            (f.len() >= 7).then(|| EpochMetrics {
                epoch: f[0] as usize,
                train_loss: f[1],
                ca: f[2],
                asr: f[3],
                robust_acc: f[4],
                per_class_asr: Vec::new(),
                clean_target_rate: 0.0,
                lr: f[5],
                wall_secs: f[6],
            })
        })
        .collect()
}

/// Scans `root` on a worker.
pub fn scan_job(root: PathBuf, repaint: Repaint) -> std::io::Result<Job<Vec<RunEntry>>> {
    start("run-history", 1, repaint, move |tx| {
        tx.send(scan(&root));
    })
}

/// Writes the compared runs' figures as CSV, atomically.
pub fn write_csv(path: &Path, rows: &[RunRow]) -> anyhow::Result<()> {
    Ok(crate::media::image_io::write_atomic(
        path,
        crate::core::report::runs_csv(rows).as_bytes(),
    )?)
}

/// Writes the compared runs' curves (loss, CA, ASR per epoch, one colour per run) as a PNG.
pub fn write_overlay_png(path: &Path, runs: &[(String, Vec<EpochMetrics>)]) -> anyhow::Result<()> {
    crate::train::report::draw_overlay(path, runs)
}
