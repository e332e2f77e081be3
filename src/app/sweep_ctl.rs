//! The model lens's sensitivity sweep, app side: its request built from the design, the loaded
//! model and the library's clips; its points fed into the lens as they arrive.

use super::{TriggerLabApp, library_spec};
use crate::jobs::lens::{LensClip, SweepEvent, SweepRequest, sweep_job};
use crate::ui::ClipSource;

impl TriggerLabApp {
    pub(super) fn start_sweep(&mut self) {
        if self.sweep.is_some() {
            return;
        }
        let (Some(p), Some(m)) = (self.lens_model.clone(), self.state.lens.model.clone()) else {
            self.state.lens.sweep.error = Some("load a model into the lens first".into());
            return;
        };
        let attack = self.state.doc.design().spec.clone();
        let params = crate::core::sweep::sweepable(&attack, m.frames);
        let sw = &mut self.state.lens.sweep;
        let Some(param) = sw.chosen(&params).cloned() else {
            sw.error = Some("this trigger has no parameter to sweep".into());
            return;
        };
        // A parameter the window has not shown yet starts from its own default range.
        if sw.path != param.path {
            sw.path = param.path.clone();
            sw.lo = param.lo;
            sw.hi = param.hi;
        }
        let values = sw.values(&param);
        if values.is_empty() {
            sw.error = Some(format!("{}: the range is not a number", param.label));
            return;
        }
        let synth = self.opts.library.clone().unwrap_or_else(library_spec);
        let motions = synth.motions();
        let clips: Vec<(LensClip, Option<usize>)> = self
            .state
            .clips
            .iter()
            .filter_map(|c| match &c.source {
                ClipSource::Synth { class, index } => {
                    // The model's own class index for this motion (by name).
                    let label = m.classes.iter().position(|n| n == class);
                    let motion = motions.iter().position(|x| x.name() == class)?;
                    Some((
                        LensClip::Synth {
                            spec: synth.clone(),
                            class: motion,
                            index: *index,
                        },
                        label,
                    ))
                }
                ClipSource::File(path) => Some((LensClip::File(path.clone()), None)),
                ClipSource::Demo => None,
            })
            .collect();
        if clips.is_empty() {
            sw.error = Some("the library has no SynthMotion clips or videos to sweep over".into());
            return;
        }
        let req = SweepRequest {
            predictor: p,
            clips,
            attack,
            path: param.path.clone(),
            values: values.clone(),
            assets_base: self.assets_dir.clone(),
        };
        match sweep_job(req, self.repaint.clone()) {
            Ok(job) => {
                sw.points.clear();
                sw.error = None;
                sw.running = Some((0, values.len()));
                sw.about = Some((param.label.clone(), m.generation, 0));
                self.sweep = Some(job);
            }
            Err(e) => sw.error = Some(format!("could not start the sweep: {e}")),
        }
    }

    /// `--sweep`: asked for and not started yet (startup work the screenshot waits for).
    pub(super) fn sweep_pending(&self) -> bool {
        self.opts.sweep.is_some() && !self.sweep_started
    }

    /// Starts `--sweep`'s sweep once the lens has its model and a clip.
    pub(super) fn auto_sweep(&mut self) {
        if !self.sweep_pending() {
            return;
        }
        if self.state.lens.error.is_some() {
            self.sweep_started = true;
            return;
        }
        // The whole library: SynthMotion's clips arrive in the background.
        if self.lens_model.is_some()
            && self.state.selected_entry().is_some()
            && self.synth.is_none()
        {
            self.sweep_started = true;
            if let Some(m) = &self.state.lens.model {
                let params = crate::core::sweep::sweepable(&self.state.doc.design().spec, m.frames);
                let sw = &mut self.state.lens.sweep;
                if let Some(p) = params.iter().find(|p| p.path == sw.path) {
                    sw.lo = p.lo;
                    sw.hi = p.hi;
                }
            }
            self.start_sweep();
        }
    }

    pub(super) fn cancel_sweep(&mut self) {
        if let Some(job) = self.sweep.take() {
            job.cancel();
        }
        self.state.lens.sweep.running = None;
    }

    pub(super) fn drain_sweep(&mut self) {
        let Some(job) = &self.sweep else {
            return;
        };
        let sw = &mut self.state.lens.sweep;
        let mut ended = false;
        while let Some(ev) = job.try_recv() {
            match ev {
                SweepEvent::Ready { clips, .. } => {
                    if let Some(a) = &mut sw.about {
                        a.2 = clips;
                    }
                }
                SweepEvent::Point(p) => {
                    sw.points.push(p);
                    if let Some((done, _)) = &mut sw.running {
                        *done += 1;
                    }
                }
                SweepEvent::Failed(e) => {
                    sw.error = Some(e);
                    ended = true;
                }
            }
        }
        let finished = sw.running.is_some_and(|(d, t)| d >= t);
        if ended || finished || (job.worker_done() && job.queued() == 0) {
            sw.running = None;
            self.sweep = None;
        }
    }
}
