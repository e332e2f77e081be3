//! What a training run reports, as plain data: per-epoch metrics, the final results and the
//! events a run streams to its watchers (the studio's Experiments tab, `triggerlab run`). The
//! trainer fills them; the UI shows them without depending on the trainer.

use super::experiment::ExperimentSpec;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    pub epoch: usize,
    pub train_loss: f64,
    /// Clean accuracy on the untouched test set.
    pub ca: f64,
    /// Attack success rate on the triggered test set.
    pub asr: f64,
    /// Triggered test clips still predicted as their true class.
    pub robust_acc: f64,
    /// ASR per true class (`null` for the target class).
    pub per_class_asr: Vec<Option<f64>>,
    /// Clean non-target test clips predicted as the target (`classify::clean_target_rate`):
    /// at or above [`ASR_MEANINGLESS_AT`], the ASR says nothing about a backdoor.
    #[serde(default)]
    pub clean_target_rate: f64,
    pub lr: f64,
    /// Seconds since the run started.
    pub wall_secs: f64,
}

/// The rule for reading ASR with CA: when at least this fraction of the *clean* test clips of
/// other classes is already predicted as the target, the model answers the target whatever it
/// sees, and an ASR near 1 means nothing about a trigger.
pub const ASR_MEANINGLESS_AT: f64 = 0.5;

/// The rule, in words, as `results.json` records it.
pub const ASR_RULE: &str = "ASR is meaningful only while fewer than half (0.5) of the clean \
test clips of other classes are predicted as the target class (clean_target_rate < 0.5); \
otherwise the model answers the target whatever it sees";

/// Whether an epoch's ASR says anything about a backdoor (see [`ASR_MEANINGLESS_AT`]).
pub fn asr_meaningful(m: &EpochMetrics) -> bool {
    m.clean_target_rate < ASR_MEANINGLESS_AT
}

/// What to tell the user next to an ASR that means nothing, or `None`.
pub fn asr_warning(m: &EpochMetrics) -> Option<String> {
    (!asr_meaningful(m)).then(|| {
        format!(
            "ASR means nothing here: {:.0}% of clean clips of other classes are already \
             predicted as the target (the backdoor was not learned apart from the class)",
            m.clean_target_rate * 100.0
        )
    })
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FinalMetrics {
    pub ca: f64,
    pub asr: f64,
    pub robust_acc: f64,
}

/// Library versions a run was made with, by name (the layers above add their own libraries).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Versions(pub std::collections::BTreeMap<String, String>);

impl Versions {
    pub fn add(&mut self, name: &str, version: impl Into<String>) {
        self.0.insert(name.to_string(), version.into());
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct RunResults {
    #[serde(rename = "final")]
    pub final_metrics: FinalMetrics,
    pub epochs: Vec<EpochMetrics>,
    pub seed: u64,
    pub poison_indices_sha256: String,
    pub poison_indices: Vec<usize>,
    pub wanet_cross_indices: Vec<usize>,
    pub target: usize,
    pub target_name: String,
    pub classes: Vec<String>,
    /// Which clips the ASR counts.
    pub asr_convention: String,
    /// Whether the final ASR says anything about a backdoor ([`asr_meaningful`] of the last
    /// epoch), and the rule.
    pub asr_meaningful: bool,
    pub asr_rule: String,
    /// How each clip's own draws (random frames, dynamic variations) derive from `seed`.
    pub clip_seeds: String,
    /// (frames carrying the trigger, ASR) after the last epoch.
    pub asr_by_triggered_frames: Vec<(usize, f64)>,
    /// The last epoch's test predictions by true class (rows) and predicted class (columns),
    /// on the clean and on the triggered test clips; empty when no epoch ran in this process.
    #[serde(default)]
    pub confusion_clean: Vec<Vec<usize>>,
    #[serde(default)]
    pub confusion_triggered: Vec<Vec<usize>>,
    pub wall_secs: f64,
    pub train_wall_secs: f64,
    pub cancelled: bool,
    pub device: String,
    pub device_note: Option<String>,
    /// Files the dataset could not use, with the reason.
    pub skipped: Vec<(String, String)>,
    pub spec: ExperimentSpec,
    pub versions: Versions,
}

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

/// One line for a run's attack, as the run history lists it:
/// `badnets · static · all frames · video · ρ 0.10 · target MoveLeft`.
pub fn attack_summary(spec: &ExperimentSpec) -> String {
    let a = &spec.attack;
    let mut parts: Vec<String> = Vec::new();
    if let Some(v) = &a.visual {
        parts.push(v.kind().to_string());
    }
    if let Some(au) = &a.audio {
        parts.push(format!("audio {}", enum_name(au, "kind")));
    }
    if a.visual.is_some() {
        parts.push(enum_name(&a.temporal.mode, ""));
        parts.push(match &a.temporal.frames {
            crate::core::placement::FrameSelection::All => "all frames".into(),
            crate::core::placement::FrameSelection::Range { start, len } => {
                format!("frames {start}–{}", start + len.saturating_sub(1))
            }
            crate::core::placement::FrameSelection::Every { n, offset } => {
                format!("every {n} from {offset}")
            }
            crate::core::placement::FrameSelection::Random { k } => format!("{k} random frames"),
            crate::core::placement::FrameSelection::Fraction { p } => {
                format!("{:.0}% of frames", p * 100.0)
            }
        });
    }
    parts.push(enum_name(&spec.poison.modality, ""));
    let target = match &spec.poison.target {
        crate::core::poison::TargetClass::Name(n) => n.clone(),
        crate::core::poison::TargetClass::Index(i) => format!("class {i}"),
    };
    format!(
        "{} · ρ {:.2} · target {target}",
        parts.join(" · "),
        spec.poison.ratio
    )
}

/// The model a spec trains, by its spec name (`av_fusion(tsm_tiny)` for a fusion's backbone).
pub fn model_name(spec: &ExperimentSpec) -> String {
    let kind = enum_name(&spec.model.kind, "");
    if spec.model.kind == crate::core::experiment::ModelName::AvFusion {
        format!("{kind}({})", enum_name(&spec.model.fusion_video, ""))
    } else {
        kind
    }
}

/// The serde name of a unit variant (or of a tagged enum's `tag` field).
fn enum_name<T: Serialize>(v: &T, tag: &str) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(serde_json::Value::Object(o)) => o
            .get(tag)
            .and_then(|t| t.as_str())
            .unwrap_or("?")
            .to_string(),
        _ => "?".into(),
    }
}

/// The run history's colours, one per compared run (the studio's plot uses the same).
pub const RUN_COLOURS: [(u8, u8, u8); 8] = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
];

/// A run as the run history's table (and its CSV export) shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct RunRow {
    pub name: String,
    /// `YYYY-MM-DD HH:MM` UTC.
    pub date: String,
    pub attack: String,
    pub model: String,
    /// finished, cancelled, failed, running or interrupted.
    pub status: String,
    pub epochs: usize,
    pub ca: Option<f64>,
    pub asr: Option<f64>,
    pub robust_acc: Option<f64>,
    /// Whether the ASR says anything ([`asr_meaningful`] of the last epoch).
    pub asr_meaningful: Option<bool>,
    pub wall_secs: Option<f64>,
    pub seed: u64,
    pub dir: String,
}

/// The rows as CSV (RFC 4180 quoting), one header line, figures to 4 decimals, empty where a
/// run has none.
pub fn runs_csv(rows: &[RunRow]) -> String {
    fn field(s: &str) -> String {
        if s.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_string()
        }
    }
    let num = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v:.4}"));
    let mut out = String::from(
        "name,date,attack,model,status,epochs,ca,asr,asr_meaningful,robust_acc,wall_secs,seed,dir\n",
    );
    for r in rows {
        let cells = [
            field(&r.name),
            field(&r.date),
            field(&r.attack),
            field(&r.model),
            field(&r.status),
            r.epochs.to_string(),
            num(r.ca),
            num(r.asr),
            r.asr_meaningful.map_or(String::new(), |b| b.to_string()),
            num(r.robust_acc),
            r.wall_secs.map_or(String::new(), |v| format!("{v:.1}")),
            r.seed.to_string(),
            field(&r.dir),
        ];
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}

/// `YYYY-MM-DD HH:MM` (UTC) of a Unix time (days to civil date: H. Hinnant's algorithm).
pub fn utc_minute(unix_secs: u64) -> String {
    let days = (unix_secs / 86_400) as i64;
    let rem = unix_secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_asr_is_flagged_when_clean_clips_are_called_the_target_too() {
        let mut m = EpochMetrics {
            epoch: 0,
            train_loss: 1.0,
            ca: 0.1,
            asr: 1.0,
            robust_acc: 0.0,
            per_class_asr: vec![],
            clean_target_rate: 1.0,
            lr: 0.001,
            wall_secs: 1.0,
        };
        assert!(!asr_meaningful(&m));
        assert!(asr_warning(&m).is_some_and(|w| w.contains("100%")));
        m.clean_target_rate = 0.5;
        assert!(!asr_meaningful(&m), "at the threshold: flagged");
        m.clean_target_rate = 0.04;
        assert!(asr_meaningful(&m));
        assert_eq!(asr_warning(&m), None);
    }

    #[test]
    fn unix_times_become_utc_dates() {
        assert_eq!(utc_minute(0), "1970-01-01 00:00");
        assert_eq!(utc_minute(951_782_400), "2000-02-29 00:00");
        // 2026-12-02 01:40:00 UTC
        assert_eq!(utc_minute(1_796_175_600), "2026-12-02 01:40");
    }

    #[test]
    fn the_runs_table_quotes_what_needs_it_and_leaves_missing_figures_empty() {
        let row = RunRow {
            name: "a,b".into(),
            date: "2026-12-02 01:40".into(),
            attack: "badnets · static".into(),
            model: "r2plus1d_tiny".into(),
            status: "failed".into(),
            epochs: 0,
            ca: None,
            asr: Some(0.5),
            robust_acc: None,
            asr_meaningful: None,
            wall_secs: None,
            seed: 3,
            dir: "runs/say \"hi\"".into(),
        };
        let csv = runs_csv(&[row]);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(
            lines[1],
            "\"a,b\",2026-12-02 01:40,badnets · static,r2plus1d_tiny,failed,0,,0.5000,,,,3,\"runs/say \"\"hi\"\"\""
        );
    }
}
