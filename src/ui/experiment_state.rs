//! What the Experiments tab shows: the spec being edited and the run's live metrics, built from
//! the trainer's events (the app feeds them in as they arrive).

use crate::core::report::{EpochMetrics, RunResults, TrainEvent};

/// Where a run stands.
#[derive(Clone, Debug, PartialEq)]
pub enum RunPhase {
    Loading { done: usize, total: usize },
    Training,
    Finished,
    Cancelled,
    Failed(String),
}

impl RunPhase {
    pub fn is_active(&self) -> bool {
        matches!(self, RunPhase::Loading { .. } | RunPhase::Training)
    }
}

/// One run as the tab draws it.
#[derive(Clone, Debug)]
pub struct RunView {
    pub name: String,
    pub out_dir: String,
    pub phase: RunPhase,
    /// "10 classes · 720 train / 280 test · 72 poisoned · 164,250 parameters · CPU".
    pub summary: String,
    pub classes: Vec<String>,
    pub epochs_total: usize,
    pub steps_per_epoch: usize,
    /// (epoch, step) of the latest step.
    pub at: (usize, usize),
    pub clips_per_sec: f64,
    /// Training loss per step, x in epochs (epoch + step/steps).
    pub loss: Vec<[f64; 2]>,
    pub epochs: Vec<EpochMetrics>,
    pub checkpoint: Option<String>,
    pub results: Option<Box<RunResults>>,
    pub cancel_requested: bool,
}

impl RunView {
    pub fn new(name: String, out_dir: String) -> Self {
        RunView {
            name,
            out_dir,
            phase: RunPhase::Loading { done: 0, total: 0 },
            summary: String::new(),
            classes: Vec::new(),
            epochs_total: 0,
            steps_per_epoch: 0,
            at: (0, 0),
            clips_per_sec: 0.0,
            loss: Vec::new(),
            epochs: Vec::new(),
            checkpoint: None,
            results: None,
            cancel_requested: false,
        }
    }

    /// Folds one trainer event into the view.
    pub fn apply(&mut self, ev: TrainEvent) {
        match ev {
            TrainEvent::Loading { done, total } => self.phase = RunPhase::Loading { done, total },
            TrainEvent::Started {
                classes,
                train,
                test,
                poisoned,
                parameters,
                device,
                steps_per_epoch,
                epochs,
                skipped,
                ..
            } => {
                self.summary = format!(
                    "{} classes · {train} train / {test} test clips · {poisoned} poisoned · \
                     {parameters} parameters · {device}{}",
                    classes.len(),
                    if skipped > 0 {
                        format!(" · {skipped} files skipped")
                    } else {
                        String::new()
                    }
                );
                self.classes = classes;
                self.steps_per_epoch = steps_per_epoch;
                self.epochs_total = epochs;
                self.phase = RunPhase::Training;
            }
            TrainEvent::Step {
                epoch,
                step,
                steps,
                loss,
                clips_per_sec,
            } => {
                self.at = (epoch, step);
                self.clips_per_sec = clips_per_sec;
                self.loss
                    .push([epoch as f64 + (step + 1) as f64 / steps.max(1) as f64, loss]);
            }
            TrainEvent::Epoch(m) => self.epochs.push(m),
            TrainEvent::Checkpoint { path } => self.checkpoint = Some(path.display().to_string()),
            TrainEvent::Finished(r) => {
                self.phase = if r.cancelled {
                    RunPhase::Cancelled
                } else {
                    RunPhase::Finished
                };
                // A resumed run's results hold the epochs from before the restart too.
                self.epochs = r.epochs.clone();
                self.results = Some(r);
            }
            TrainEvent::Failed { error } => self.phase = RunPhase::Failed(error),
        }
    }

    /// Fraction of the run done, for the progress bar.
    pub fn progress(&self) -> f32 {
        match self.phase {
            RunPhase::Loading { done, total } => {
                if total == 0 {
                    0.0
                } else {
                    done as f32 / total as f32
                }
            }
            RunPhase::Finished => 1.0,
            _ => {
                let total = (self.epochs_total * self.steps_per_epoch).max(1);
                let done = self.at.0 * self.steps_per_epoch + self.at.1 + 1;
                (done as f32 / total as f32).min(1.0)
            }
        }
    }

    /// The latest clean accuracy and ASR, if an epoch has been evaluated.
    pub fn latest(&self) -> Option<&EpochMetrics> {
        self.epochs.last()
    }
}

/// The tab's state: the spec text (from an example or edited), where to write, and the run.
#[derive(Clone, Debug)]
pub struct ExperimentsState {
    /// (file name, TOML text) of the built-in examples.
    pub examples: Vec<(String, String)>,
    pub example: usize,
    pub spec_text: String,
    /// Empty: `runs/<spec name>` in the working folder, as `triggerlab run` does.
    pub out_dir: String,
    pub resume: bool,
    /// Why the spec cannot run, named by field.
    pub spec_error: Option<String>,
    pub run: Option<RunView>,
}

impl ExperimentsState {
    pub fn new(examples: Vec<(String, String)>) -> Self {
        let spec_text = examples.first().map(|e| e.1.clone()).unwrap_or_default();
        ExperimentsState {
            examples,
            example: 0,
            spec_text,
            out_dir: String::new(),
            resume: false,
            spec_error: None,
            run: None,
        }
    }

    pub fn running(&self) -> bool {
        self.run.as_ref().is_some_and(|r| r.phase.is_active())
    }
}
