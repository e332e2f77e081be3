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
    /// The run's stages in plain words, in order (the guided demo shows them): the poison set,
    /// training, clean accuracy, attack success, the outcome. Each line is updated in place as
    /// its figure changes.
    pub stages: Vec<String>,
    /// A guided demo run: narrated, and opened in the lens when it ends.
    pub demo: bool,
    /// Facts the stage lines need (from `Started`).
    facts: Option<StageFacts>,
}

#[derive(Clone, Debug)]
struct StageFacts {
    target: String,
    trigger: String,
    test: usize,
    first_loss: Option<f64>,
}

/// The demo's bar for a working backdoor.
pub const DEMO_CA: f64 = 0.90;
pub const DEMO_ASR: f64 = 0.95;

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
            stages: Vec::new(),
            demo: false,
            facts: None,
        }
    }

    /// Sets stage `i` (0-based), adding lines up to it.
    fn stage(&mut self, i: usize, line: String) {
        while self.stages.len() <= i {
            self.stages.push(String::new());
        }
        self.stages[i] = line;
    }

    /// Folds one trainer event into the view.
    pub fn apply(&mut self, ev: TrainEvent) {
        match ev {
            TrainEvent::Loading { done, total } => self.phase = RunPhase::Loading { done, total },
            TrainEvent::Started {
                spec,
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
                let target = match &spec.poison.target {
                    crate::core::poison::TargetClass::Name(n) => n.clone(),
                    crate::core::poison::TargetClass::Index(i) => classes
                        .get(*i)
                        .cloned()
                        .unwrap_or_else(|| format!("class {i}")),
                };
                let trigger = match (&spec.attack.visual, &spec.attack.audio) {
                    (Some(v), Some(_)) => format!("{} + audio", v.kind()),
                    (Some(v), None) => v.kind().to_string(),
                    (None, Some(_)) => "audio".to_string(),
                    (None, None) => "no".to_string(),
                };
                self.stage(
                    0,
                    format!(
                        "1 · Poison set chosen: {poisoned} of {train} training clips ({:.0}%) get \
                         the {trigger} trigger and the label “{target}”.",
                        spec.poison.ratio * 100.0
                    ),
                );
                self.facts = Some(StageFacts {
                    target,
                    trigger,
                    test,
                    first_loss: None,
                });
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
                if let Some(f) = &mut self.facts {
                    let first = *f.first_loss.get_or_insert(loss);
                    let line = format!(
                        "2 · Training on clean and poisoned clips together: epoch {}/{}, loss \
                         from {first:.2} to {loss:.2}.",
                        epoch + 1,
                        self.epochs_total
                    );
                    self.stage(1, line);
                }
                self.loss
                    .push([epoch as f64 + (step + 1) as f64 / steps.max(1) as f64, loss]);
            }
            TrainEvent::Epoch(m) => {
                self.narrate_epoch(&m);
                self.epochs.push(m);
            }
            TrainEvent::Checkpoint { path } => self.checkpoint = Some(path.display().to_string()),
            TrainEvent::Finished(r) => {
                self.phase = if r.cancelled {
                    RunPhase::Cancelled
                } else {
                    RunPhase::Finished
                };
                // A resumed run's results hold the epochs from before the restart too.
                self.epochs = r.epochs.clone();
                if let Some(m) = r.epochs.last() {
                    self.narrate_epoch(m);
                }
                let f = &r.final_metrics;
                let line = if r.cancelled {
                    "5 · Stopped before the end; what was trained so far is kept.".to_string()
                } else if f.ca >= DEMO_CA && f.asr >= DEMO_ASR && r.asr_meaningful {
                    format!(
                        "5 · The backdoor works: clean clips are still recognised (CA {:.2}) \
                         and the trigger turns {:.0}% of other clips into “{}”, in {:.0} s of \
                         training.",
                        f.ca,
                        f.asr * 100.0,
                        r.target_name,
                        r.train_wall_secs
                    )
                } else {
                    format!(
                        "5 · No working backdoor this time (CA {:.2}, ASR {:.2}; the bar is CA \
                         ≥ {DEMO_CA:.2} and ASR ≥ {DEMO_ASR:.2}).",
                        f.ca, f.asr
                    )
                };
                self.stage(4, line);
                self.results = Some(r);
            }
            TrainEvent::Failed { error } => self.phase = RunPhase::Failed(error),
        }
    }

    /// Stages 3 and 4 from an epoch's evaluation.
    fn narrate_epoch(&mut self, m: &crate::core::report::EpochMetrics) {
        let Some(f) = self.facts.clone() else {
            return;
        };
        self.stage(
            2,
            format!(
                "3 · Measuring clean accuracy: {:.0}% of the {} clean test clips are recognised \
                 (CA {:.2}).",
                m.ca * 100.0,
                f.test,
                m.ca
            ),
        );
        let caveat = if crate::core::report::asr_meaningful(m) {
            String::new()
        } else {
            " — not yet meaningful: clean clips are called that too".to_string()
        };
        self.stage(
            3,
            format!(
                "4 · Measuring attack success: with the {} trigger, {:.0}% of test clips of \
                 other classes are answered “{}” (ASR {:.2}){caveat}.",
                f.trigger,
                m.asr * 100.0,
                f.target,
                m.asr
            ),
        );
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
    /// Runs waiting to start, one at a time after the current one.
    pub queue: Vec<QueuedRun>,
    pub view: ExperimentsView,
    pub history: super::run_history::RunHistoryState,
    /// Offer the guided demo (first launch, until a run is started).
    pub offer_demo: bool,
}

/// A run waiting in the queue: its spec text as it was when queued.
#[derive(Clone, Debug, PartialEq)]
pub struct QueuedRun {
    pub name: String,
    pub spec_text: String,
    pub out_dir: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ExperimentsView {
    #[default]
    Run,
    History,
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
            queue: Vec::new(),
            view: ExperimentsView::Run,
            history: Default::default(),
            offer_demo: false,
        }
    }

    pub fn running(&self) -> bool {
        self.run.as_ref().is_some_and(|r| r.phase.is_active())
    }
}
