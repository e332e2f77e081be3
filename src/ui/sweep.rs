//! The model lens's sensitivity sweep: one trigger parameter over a range, and for each value
//! the loaded model's mean target-class probability over the library's clips and the fraction of
//! them flipped to the target ("how small can the trigger be?"), computed on a worker with
//! progress and plotted as the points arrive.

use super::{StudioState, UiCommand};
use crate::core::sweep::{SweepParam, sweep_values, sweepable};
use crate::jobs::lens::SweepPoint;
use egui_plot::{Legend, Line, Plot, Points};

pub const TARGET_COLOUR: egui::Color32 = egui::Color32::from_rgb(230, 120, 40);
pub const FLIPPED_COLOUR: egui::Color32 = egui::Color32::from_rgb(210, 50, 50);

/// The sweep's settings and its latest points.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepState {
    /// The swept parameter's spec path (empty: the first the attack has).
    pub path: String,
    pub lo: f64,
    pub hi: f64,
    pub steps: usize,
    /// Points so far, in sweep order.
    pub points: Vec<SweepPoint>,
    /// (values done, values in all) while running.
    pub running: Option<(usize, usize)>,
    pub error: Option<String>,
    /// What the points were computed for: (parameter's label, model generation, the number of
    /// clips).
    pub about: Option<(String, u64, usize)>,
    /// Where the plot was drawn (tests read its pixels).
    pub plot_rect: Option<egui::Rect>,
    /// The sweep's window is showing.
    pub open: bool,
}

impl Default for SweepState {
    fn default() -> Self {
        SweepState {
            path: String::new(),
            lo: 0.0,
            hi: 1.0,
            steps: 6,
            points: Vec::new(),
            running: None,
            error: None,
            about: None,
            plot_rect: None,
            open: false,
        }
    }
}

impl SweepState {
    /// The parameter chosen among `params` (the first when none was, or it is gone).
    pub fn chosen<'a>(&self, params: &'a [SweepParam]) -> Option<&'a SweepParam> {
        params
            .iter()
            .find(|p| p.path == self.path)
            .or_else(|| params.first())
    }

    /// The values a run of the sweep takes.
    pub fn values(&self, p: &SweepParam) -> Vec<f64> {
        sweep_values(p, self.lo, self.hi, self.steps)
    }

    /// The plot's two series: (value, mean target probability) and (value, flipped fraction).
    pub fn series(&self) -> (Vec<[f64; 2]>, Vec<[f64; 2]>) {
        let t = self
            .points
            .iter()
            .map(|p| [p.value, p.target_prob])
            .collect();
        let f = self.points.iter().map(|p| [p.value, p.flipped]).collect();
        (t, f)
    }
}

/// The sweep's window (over the studio, beside the lens).
pub fn sweep_window(state: &mut StudioState, ctx: &egui::Context) {
    if !state.lens.sweep.open || state.lens.model.is_none() {
        return;
    }
    let mut open = true;
    egui::Window::new("Sensitivity sweep")
        .open(&mut open)
        .default_width(460.0)
        .default_pos(egui::pos2(520.0, 120.0))
        .show(ctx, |ui| sweep_ui(state, ui));
    state.lens.sweep.open &= open;
}

pub fn sweep_ui(state: &mut StudioState, ui: &mut egui::Ui) {
    let Some(model) = state.lens.model.clone() else {
        return;
    };
    let params = sweepable(&state.doc.design().spec, model.frames);
    let sw = &mut state.lens.sweep;
    if params.is_empty() {
        ui.label(egui::RichText::new("This trigger has no parameter to sweep.").weak());
        return;
    }
    let Some(current) = sw.chosen(&params).cloned() else {
        return;
    };
    if sw.path != current.path {
        sw.path = current.path.clone();
        sw.lo = current.lo;
        sw.hi = current.hi;
    }
    let running = sw.running.is_some();
    ui.add_enabled_ui(!running, |ui| {
        egui::ComboBox::from_label("parameter")
            .selected_text(&current.label)
            .show_ui(ui, |ui| {
                for p in &params {
                    if ui
                        .selectable_label(p.path == current.path, &p.label)
                        .clicked()
                    {
                        sw.path = p.path.clone();
                        sw.lo = p.lo;
                        sw.hi = p.hi;
                    }
                }
            });
        ui.horizontal(|ui| {
            let speed = if current.integer {
                0.2
            } else {
                (current.hi - current.lo).abs().max(1e-3) / 200.0
            };
            let l = ui.label("from");
            ui.add(egui::DragValue::new(&mut sw.lo).speed(speed))
                .labelled_by(l.id);
            let l = ui.label("to");
            ui.add(egui::DragValue::new(&mut sw.hi).speed(speed))
                .labelled_by(l.id);
            let l = ui.label("steps");
            ui.add(egui::DragValue::new(&mut sw.steps).range(2..=21))
                .labelled_by(l.id);
        });
    });
    ui.horizontal(|ui| {
        if running {
            if ui.button("Stop sweep").clicked() {
                state.commands.push(UiCommand::CancelSweep);
            }
        } else if ui
            .button("Run sweep")
            .on_hover_text(
                "For each value: the model's mean probability of the target class and the \
                 fraction of the library's clips (of other classes) it flips to the target",
            )
            .clicked()
        {
            state.commands.push(UiCommand::StartSweep);
        }
        let sw = &state.lens.sweep;
        if let Some((done, total)) = sw.running {
            ui.add(
                egui::ProgressBar::new(done as f32 / total.max(1) as f32)
                    .text(format!("{done}/{total}"))
                    .desired_width(110.0),
            );
        }
    });
    let sw = &state.lens.sweep;
    if let Some(e) = &sw.error {
        ui.colored_label(ui.visuals().error_fg_color, e);
    }
    let Some((label, _, clips)) = &sw.about else {
        return;
    };
    ui.label(
        egui::RichText::new(format!(
            "{label}: target {} over {clips} library clips",
            model.target_name
        ))
        .size(11.0)
        .weak(),
    );
    let (target, flipped) = sw.series();
    let shown = Plot::new("lens-sweep")
        .height(240.0)
        .include_y(0.0)
        .include_y(1.0)
        .x_axis_label(label.as_str())
        .allow_scroll(false)
        .allow_drag(false)
        .legend(Legend::default())
        .show(ui, |plot| {
            plot.line(
                Line::new("P(target)", target.clone())
                    .color(TARGET_COLOUR)
                    .width(2.0),
            );
            plot.points(Points::new("", target).color(TARGET_COLOUR).radius(3.0));
            plot.line(
                Line::new("flipped", flipped.clone())
                    .color(FLIPPED_COLOUR)
                    .width(2.0),
            );
            plot.points(Points::new("", flipped).color(FLIPPED_COLOUR).radius(3.0));
        });
    state.lens.sweep.plot_rect = Some(shown.response.rect);
}
