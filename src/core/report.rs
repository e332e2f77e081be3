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
    pub lr: f64,
    /// Seconds since the run started.
    pub wall_secs: f64,
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
