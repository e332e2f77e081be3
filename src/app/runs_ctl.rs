//! The Experiments tab's side of the app: the training run on its worker, the queue behind it,
//! the guided demo, the run history's scans and exports. Kept apart from `TriggerLabApp` so
//! that stays small.

use crate::core::experiment::parse_experiment;
use crate::core::report::TrainEvent;
use crate::jobs::experiment::start_run;
use crate::jobs::runs::RunEntry;
use crate::jobs::{self, Job, Repaint};
use crate::ui::experiment_state::QueuedRun;
use crate::ui::{RunPhase, RunView, StudioState};
use std::path::PathBuf;
use std::time::Instant;

/// The quick demo's spec, as the guided demo trains it.
pub const DEMO_SPEC: &str = include_str!("../../examples/quick.toml");

pub struct RunsCtl {
    experiment: Option<(Job<TrainEvent>, jobs::CancelFlag)>,
    scan: Option<Job<Vec<RunEntry>>>,
    /// Exports in flight: what was written, or why not.
    writes: Vec<Job<Result<String, String>>>,
    /// The guided demo's spec (tests pass a tiny one).
    demo_spec: String,
    repaint: Repaint,
}

/// What a drained run asks of the app.
pub enum RunOutcome {
    /// A guided demo finished: open its model in the lens on the run's attack.
    DemoDone {
        dir: PathBuf,
        attack: crate::core::attack::AttackSpec,
        target: String,
    },
}

impl RunsCtl {
    pub fn new(demo_spec: Option<String>, repaint: Repaint) -> Self {
        RunsCtl {
            experiment: None,
            scan: None,
            writes: Vec::new(),
            demo_spec: demo_spec.unwrap_or_else(|| DEMO_SPEC.to_string()),
            repaint,
        }
    }

    /// A run is on its worker.
    pub fn active(&self) -> bool {
        self.experiment.is_some()
    }

    /// The run history is being scanned.
    pub fn scanning(&self) -> bool {
        self.scan.is_some()
    }

    /// Parses the tab's spec and starts the run on a worker thread; a bad spec is reported next
    /// to the editor, naming the field.
    pub fn start(&mut self, state: &mut StudioState) {
        let ex = &state.experiments;
        let (text, out) = (ex.spec_text.clone(), ex.out_dir.clone());
        self.start_text(state, &text, &out, false);
    }

    fn start_text(&mut self, state: &mut StudioState, text: &str, out_dir: &str, demo: bool) {
        let ex = &mut state.experiments;
        if ex.running() || self.experiment.is_some() {
            return;
        }
        let spec = match parse_experiment(text) {
            Ok(s) => s,
            Err(e) => {
                ex.spec_error = Some(format!("spec: {e}"));
                return;
            }
        };
        ex.spec_error = None;
        ex.offer_demo = false;
        let name = if spec.name.is_empty() {
            "run".to_string()
        } else {
            spec.name.clone()
        };
        let out = match out_dir.trim() {
            "" => PathBuf::from(&ex.history.root).join(&name),
            dir => PathBuf::from(dir),
        };
        match start_run(spec, out.clone(), ex.resume && !demo, self.repaint.clone()) {
            Ok(job) => {
                let mut view = RunView::new(name, out.display().to_string());
                view.demo = demo;
                ex.run = Some(view);
                ex.view = crate::ui::experiment_state::ExperimentsView::Run;
                self.experiment = Some(job);
            }
            Err(e) => state.error(format!("could not start the run: {e}")),
        }
    }

    /// The guided demo: the quick demo, narrated, into `<root>/demo`.
    pub fn demo(&mut self, state: &mut StudioState) {
        if self.experiment.is_some() {
            state.error("a run is going on; the demo starts when it is done or cancelled");
            return;
        }
        let text = self.demo_spec.clone();
        state.experiments.spec_text = text.clone();
        let out = PathBuf::from(&state.experiments.history.root)
            .join("demo")
            .display()
            .to_string();
        state.tab = crate::ui::Tab::Experiments;
        self.start_text(state, &text, &out, true);
    }

    /// Queues the tab's spec (checked now, so a bad one is refused at once).
    pub fn queue(&mut self, state: &mut StudioState) {
        let ex = &mut state.experiments;
        match parse_experiment(&ex.spec_text) {
            Ok(spec) => {
                ex.spec_error = None;
                let name = if spec.name.is_empty() {
                    "run".to_string()
                } else {
                    spec.name
                };
                ex.queue.push(QueuedRun {
                    name,
                    spec_text: ex.spec_text.clone(),
                    out_dir: ex.out_dir.clone(),
                });
            }
            Err(e) => ex.spec_error = Some(format!("spec: {e}")),
        }
        if self.experiment.is_none() {
            self.next_queued(state);
        }
    }

    fn next_queued(&mut self, state: &mut StudioState) {
        if self.experiment.is_some() || state.experiments.queue.is_empty() {
            return;
        }
        let q = state.experiments.queue.remove(0);
        self.start_text(state, &q.spec_text, &q.out_dir, false);
    }

    pub fn cancel(&mut self, state: &mut StudioState) {
        if let Some((_, flag)) = &self.experiment {
            flag.cancel();
            if let Some(run) = &mut state.experiments.run {
                run.cancel_requested = true;
            }
        }
    }

    /// Takes the run's events until `deadline`; when a run ends, the history is rescanned and
    /// the next queued run starts.
    pub fn drain(&mut self, state: &mut StudioState, deadline: Instant) -> Option<RunOutcome> {
        let mut ended = false;
        while Instant::now() < deadline {
            let Some((job, _)) = &self.experiment else {
                break;
            };
            let done = job.worker_done();
            match job.try_recv() {
                Some(ev) => {
                    if let Some(run) = &mut state.experiments.run {
                        run.apply(ev);
                        if !run.phase.is_active() {
                            // Finished, cancelled or failed: that was its last word.
                            ended = true;
                            break;
                        }
                    }
                }
                None => {
                    if done {
                        ended = true;
                        if let Some(run) = &mut state.experiments.run
                            && run.phase.is_active()
                        {
                            run.phase = RunPhase::Failed("the run stopped without a result".into());
                        }
                    }
                    break;
                }
            }
        }
        let outcome = if ended {
            self.experiment = None;
            self.rescan(state);
            let outcome = state.experiments.run.as_ref().and_then(|run| {
                let r = run.results.as_ref()?;
                (run.demo && run.phase == RunPhase::Finished).then(|| RunOutcome::DemoDone {
                    dir: PathBuf::from(&run.out_dir),
                    attack: crate::train::trainer::attack_for(&r.spec),
                    target: r.target_name.clone(),
                })
            });
            self.next_queued(state);
            outcome
        } else {
            None
        };
        self.drain_history(state);
        outcome
    }

    /// Rescans the history's output root on a worker.
    pub fn rescan(&mut self, state: &mut StudioState) {
        let h = &mut state.experiments.history;
        h.scanned = true;
        match jobs::runs::scan_job(PathBuf::from(&h.root), self.repaint.clone()) {
            Ok(job) => {
                h.scanning = true;
                self.scan = Some(job);
            }
            Err(e) => state.error(format!("could not scan the runs: {e}")),
        }
    }

    fn drain_history(&mut self, state: &mut StudioState) {
        if let Some(job) = &self.scan {
            let got = job.try_recv();
            let stopped = got.is_none() && job.worker_done() && job.queued() == 0;
            if let Some(entries) = got {
                let h = &mut state.experiments.history;
                // Selections of runs that are gone are dropped.
                h.selected
                    .retain(|d| entries.iter().any(|e| &e.row.dir == d));
                h.entries = entries;
                h.scanning = false;
                self.scan = None;
            } else if stopped {
                state.experiments.history.scanning = false;
                self.scan = None;
            }
        }
        self.writes.retain(|job| match job.try_recv() {
            Some(Ok(msg)) => {
                state.info(msg);
                false
            }
            Some(Err(e)) => {
                state.error(e);
                false
            }
            None => !(job.worker_done() && job.queued() == 0),
        });
    }

    /// Writes the compared runs' table or plot into the output root, on a worker.
    pub fn export(&mut self, state: &mut StudioState, png: bool) {
        let h = &state.experiments.history;
        let compared = h.compared();
        if compared.is_empty() {
            state.error("select runs to compare first");
            return;
        }
        let root = PathBuf::from(&h.root);
        let rows: Vec<_> = compared.iter().map(|e| e.row.clone()).collect();
        let curves: Vec<_> = compared
            .iter()
            .map(|e| (e.row.name.clone(), e.epochs.clone()))
            .collect();
        let job = jobs::start("runs-export", 1, self.repaint.clone(), move |tx| {
            let path = root.join(if png {
                "comparison.png"
            } else {
                "comparison.csv"
            });
            let r = std::fs::create_dir_all(&root)
                .map_err(anyhow::Error::from)
                .and_then(|()| {
                    if png {
                        jobs::runs::write_overlay_png(&path, &curves)
                    } else {
                        jobs::runs::write_csv(&path, &rows)
                    }
                });
            tx.send(
                r.map(|()| format!("wrote {}", path.display()))
                    .map_err(|e| format!("{}: {e:#}", path.display())),
            );
        });
        match job {
            Ok(j) => self.writes.push(j),
            Err(e) => state.error(format!("could not start the export: {e}")),
        }
    }

    /// Shows `dir` in the system's file manager (`open`, which asks the desktop; off the UI
    /// thread, as the desktop may take its time).
    pub fn open_folder(&mut self, state: &mut StudioState, dir: PathBuf) {
        let job = jobs::start("open-folder", 1, self.repaint.clone(), move |tx| {
            tx.send(
                open::that_detached(&dir)
                    .map(|()| format!("opened {}", dir.display()))
                    .map_err(|e| format!("{}: could not open the folder: {e}", dir.display())),
            );
        });
        match job {
            Ok(j) => self.writes.push(j),
            Err(e) => state.error(format!("could not open the folder: {e}")),
        }
    }
}
