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
}
