//! The run history (Experiments tab): every run folder under the output root with its figures
//! and status, several selected runs' curves overlaid with a side-by-side table (exported as CSV
//! and PNG), and one run's own views: per-class ASR, ASR against the number of triggered frames,
//! the spec, the poison set.

use super::{StudioState, UiCommand};
use crate::jobs::runs::RunEntry;
use egui_plot::{Legend, Line, Plot};
use std::collections::BTreeSet;

/// The history's choices and the latest scan.
#[derive(Clone, Debug)]
pub struct RunHistoryState {
    /// The output root (`runs` in the working folder, as `triggerlab run` writes).
    pub root: String,
    pub entries: Vec<RunEntry>,
    /// Selected runs (their folders), compared in the overlay.
    pub selected: BTreeSet<String>,
    /// The run whose own views are shown.
    pub focused: Option<String>,
    /// Which metric the overlay plots.
    pub metric: Metric,
    pub scanning: bool,
    /// Whether a scan was asked for since the tab was first shown.
    pub scanned: bool,
    /// Where the overlay plot was drawn (tests read its pixels).
    pub plot_rect: Option<egui::Rect>,
}

impl Default for RunHistoryState {
    fn default() -> Self {
        RunHistoryState {
            root: "runs".into(),
            entries: Vec::new(),
            selected: BTreeSet::new(),
            focused: None,
            metric: Metric::Ca,
            scanning: false,
            scanned: false,
            plot_rect: None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    Loss,
    Ca,
    Asr,
}

impl Metric {
    pub fn label(self) -> &'static str {
        match self {
            Metric::Loss => "training loss",
            Metric::Ca => "clean accuracy (CA)",
            Metric::Asr => "attack success rate (ASR)",
        }
    }
    fn of(self, m: &crate::core::report::EpochMetrics) -> f64 {
        match self {
            Metric::Loss => m.train_loss,
            Metric::Ca => m.ca,
            Metric::Asr => m.asr,
        }
    }
}

impl RunHistoryState {
    /// The selected runs, in the table's order.
    pub fn compared(&self) -> Vec<&RunEntry> {
        self.entries
            .iter()
            .filter(|e| self.selected.contains(&e.row.dir))
            .collect()
    }

    /// The overlay's curves: (run name, points (epoch, value)) per selected run.
    pub fn overlay(&self) -> Vec<(String, Vec<[f64; 2]>)> {
        self.compared()
            .iter()
            .map(|e| {
                (
                    e.row.name.clone(),
                    e.epochs
                        .iter()
                        .map(|m| [(m.epoch + 1) as f64, self.metric.of(m)])
                        .collect(),
                )
            })
            .collect()
    }
}

/// Run `i`'s colour in the comparison (the exported PNG uses the same).
pub fn colour(i: usize) -> egui::Color32 {
    let (r, g, b) = crate::core::report::RUN_COLOURS[i % crate::core::report::RUN_COLOURS.len()];
    egui::Color32::from_rgb(r, g, b)
}

fn fig(v: Option<f64>) -> String {
    v.map_or("–".into(), |v| format!("{v:.3}"))
}

pub fn run_history_ui(state: &mut StudioState, ui: &mut egui::Ui) {
    let h = &mut state.experiments.history;
    if !h.scanned {
        h.scanned = true;
        state.commands.push(UiCommand::ScanRuns);
    }
    let h = &mut state.experiments.history;
    ui.horizontal(|ui| {
        ui.label("Output root");
        let r = ui.add(egui::TextEdit::singleline(&mut h.root).desired_width(220.0));
        let rescan = ui
            .add_enabled(!h.scanning, egui::Button::new("Refresh"))
            .clicked()
            || r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
        if rescan {
            state.commands.push(UiCommand::ScanRuns);
        }
        if h.scanning {
            ui.spinner();
        }
        ui.label(
            egui::RichText::new(format!(
                "{} runs · {} selected",
                h.entries.len(),
                h.selected.len()
            ))
            .weak(),
        );
    });
    let h = &mut state.experiments.history;
    if h.entries.is_empty() && !h.scanning {
        ui.label(
            egui::RichText::new(format!(
                "No run folders under “{}” yet. Runs started here or with `triggerlab run` \
                 (which writes to runs/<name>) appear in this list.",
                h.root
            ))
            .weak(),
        );
        return;
    }
    table_ui(state, ui);
    ui.separator();
    compare_ui(state, ui);
    let h = &state.experiments.history;
    if let Some(e) = h
        .focused
        .as_ref()
        .and_then(|d| h.entries.iter().find(|e| &e.row.dir == d))
        .cloned()
    {
        ui.separator();
        run_detail_ui(state, &e, ui);
    }
}

fn table_ui(state: &mut StudioState, ui: &mut egui::Ui) {
    let h = &mut state.experiments.history;
    let mut open_lens = None;
    egui::ScrollArea::vertical()
        .id_salt("run-history-table")
        .max_height(220.0)
        .show(ui, |ui| {
            egui::Grid::new("run-history-grid")
                .striped(true)
                .num_columns(9)
                .show(ui, |ui| {
                    for head in [
                        "run",
                        "",
                        "date (UTC)",
                        "attack",
                        "model",
                        "CA",
                        "ASR",
                        "status",
                        "",
                    ] {
                        ui.strong(head);
                    }
                    ui.end_row();
                    for e in &h.entries {
                        let dir = e.row.dir.clone();
                        let mut on = h.selected.contains(&dir);
                        if ui
                            .checkbox(&mut on, &e.row.name)
                            .on_hover_text(format!("compare · {}", e.row.dir))
                            .changed()
                        {
                            if on {
                                h.selected.insert(dir.clone());
                            } else {
                                h.selected.remove(&dir);
                            }
                        }
                        let focused = h.focused.as_deref() == Some(dir.as_str());
                        if ui
                            .selectable_label(focused, "details")
                            .on_hover_text("this run's own views")
                            .clicked()
                        {
                            h.focused = (!focused).then(|| dir.clone());
                        }
                        ui.label(&e.row.date);
                        // The trigger and its placement; the rest (modality, ρ, target) on hover.
                        let short: Vec<&str> = e.row.attack.split(" · ").take(3).collect();
                        ui.label(short.join(" · ")).on_hover_text(&e.row.attack);
                        ui.label(&e.row.model);
                        ui.label(fig(e.row.ca));
                        let asr = ui.label(fig(e.row.asr));
                        if e.row.asr_meaningful == Some(false) {
                            asr.on_hover_text(crate::core::report::ASR_RULE);
                        }
                        let status = match (&e.row.status[..], &e.error) {
                            ("failed", Some(err)) => ui
                                .colored_label(ui.visuals().error_fg_color, "failed")
                                .on_hover_text(err.clone()),
                            ("finished", _) if e.row.asr_meaningful == Some(false) => ui
                                .colored_label(ui.visuals().warn_fg_color, "finished · ASR void")
                                .on_hover_text(crate::core::report::ASR_RULE),
                            (s, _) => ui.label(s),
                        };
                        let _ = status;
                        if e.row.status == "finished" && ui.small_button("lens").clicked() {
                            open_lens = Some(e.dir.clone());
                        }
                        ui.end_row();
                    }
                });
        });
    if let Some(dir) = open_lens {
        state.commands.push(UiCommand::LoadModel(dir));
        state.tab = super::Tab::Studio;
    }
}

fn compare_ui(state: &mut StudioState, ui: &mut egui::Ui) {
    let h = &mut state.experiments.history;
    ui.horizontal(|ui| {
        ui.strong("Compare");
        for m in [Metric::Loss, Metric::Ca, Metric::Asr] {
            ui.selectable_value(&mut h.metric, m, m.label());
        }
        let any = !h.selected.is_empty();
        if ui
            .add_enabled(any, egui::Button::new("Export table (CSV)"))
            .clicked()
        {
            state.commands.push(UiCommand::ExportRuns { png: false });
        }
        if ui
            .add_enabled(any, egui::Button::new("Export plot (PNG)"))
            .clicked()
        {
            state.commands.push(UiCommand::ExportRuns { png: true });
        }
    });
    let h = &state.experiments.history;
    if h.selected.is_empty() {
        ui.label(egui::RichText::new("Tick runs above to overlay their curves.").weak());
        return;
    }
    let curves = h.overlay();
    let metric = h.metric;
    let shown = Plot::new("run-overlay")
        .height(200.0)
        .x_axis_label("epoch")
        .y_axis_label(metric.label())
        .include_y(0.0)
        .include_y(if metric == Metric::Loss { 0.0 } else { 1.0 })
        .allow_scroll(false)
        .legend(Legend::default())
        .show(ui, |plot| {
            for (i, (name, pts)) in curves.into_iter().enumerate() {
                plot.line(Line::new(name, pts).color(colour(i)).width(2.0));
            }
        });
    state.experiments.history.plot_rect = Some(shown.response.rect);
    let h = &state.experiments.history;
    egui::Grid::new("run-compare-grid")
        .striped(true)
        .show(ui, |ui| {
            for head in [
                "run", "epochs", "CA", "ASR", "robust", "wall s", "seed", "attack",
            ] {
                ui.strong(head);
            }
            ui.end_row();
            for (i, e) in h.compared().iter().enumerate() {
                ui.colored_label(colour(i), &e.row.name);
                ui.label(e.row.epochs.to_string());
                ui.label(fig(e.row.ca));
                ui.label(fig(e.row.asr));
                ui.label(fig(e.row.robust_acc));
                ui.label(e.row.wall_secs.map_or("–".into(), |w| format!("{w:.1}")));
                ui.label(e.row.seed.to_string());
                let short: Vec<&str> = e.row.attack.split(" · ").take(3).collect();
                ui.label(short.join(" · ")).on_hover_text(&e.row.attack);
                ui.end_row();
            }
        });
}

/// A confusion matrix as a heat map: each cell shaded by its share of the row, its count written
/// in it; the target's column outlined.
fn heat_map(ui: &mut egui::Ui, m: &[Vec<usize>], classes: &[String], target: Option<usize>) {
    let n = m.len();
    if n == 0 {
        return;
    }
    let label_w = 90.0;
    let cell = ((ui.available_width() - label_w) / n as f32).clamp(10.0, 34.0);
    let size = egui::vec2(label_w + cell * n as f32, cell * n as f32 + 4.0);
    let (rect, _) = ui.allocate_exact_size(size, egui::Sense::hover());
    let painter = ui.painter_at(rect);
    let text = ui.visuals().text_color();
    for (i, row) in m.iter().enumerate() {
        let total = row.iter().sum::<usize>().max(1) as f32;
        let y = rect.min.y + i as f32 * cell;
        painter.text(
            egui::pos2(rect.min.x + label_w - 4.0, y + cell / 2.0),
            egui::Align2::RIGHT_CENTER,
            classes.get(i).map_or("?", String::as_str),
            egui::FontId::proportional(10.0),
            text,
        );
        for (j, &count) in row.iter().enumerate() {
            let share = count as f32 / total;
            let r = egui::Rect::from_min_size(
                egui::pos2(rect.min.x + label_w + j as f32 * cell, y),
                egui::vec2(cell - 1.0, cell - 1.0),
            );
            let shade = |full: u8| (255.0 - (255.0 - f32::from(full)) * share) as u8;
            painter.rect_filled(
                r,
                1.0,
                egui::Color32::from_rgb(shade(30), shade(90), shade(200)),
            );
            if count > 0 && cell >= 16.0 {
                let ink = if share > 0.5 {
                    egui::Color32::WHITE
                } else {
                    egui::Color32::BLACK
                };
                painter.text(
                    r.center(),
                    egui::Align2::CENTER_CENTER,
                    count.to_string(),
                    egui::FontId::proportional(9.0),
                    ink,
                );
            }
        }
    }
    if let Some(t) = target.filter(|&t| t < n) {
        let col = egui::Rect::from_min_size(
            egui::pos2(rect.min.x + label_w + t as f32 * cell, rect.min.y),
            egui::vec2(cell - 1.0, cell * n as f32 - 1.0),
        );
        painter.rect_stroke(
            col,
            1.0,
            egui::Stroke::new(2.0, egui::Color32::from_rgb(230, 120, 40)),
            egui::StrokeKind::Outside,
        );
    }
}

fn run_detail_ui(state: &mut StudioState, e: &RunEntry, ui: &mut egui::Ui) {
    ui.horizontal(|ui| {
        ui.strong(format!("Run “{}”", e.row.name));
        ui.label(egui::RichText::new(&e.row.dir).weak().monospace());
        if ui.button("Open folder").clicked() {
            state.commands.push(UiCommand::OpenFolder(e.dir.clone()));
        }
    });
    if let Some(err) = &e.error {
        ui.colored_label(ui.visuals().error_fg_color, err);
    }
    let Some(r) = &e.record else {
        ui.label(
            egui::RichText::new(format!(
                "{} — {} epochs so far; the full views come with results.json.",
                e.row.status, e.row.epochs
            ))
            .weak(),
        );
        return;
    };
    ui.label(format!(
        "Poison set: {} clips relabelled to {} · sha256 {}… · seed {} · {} · train {:.1} s of {:.1} s",
        r.poison_indices.len(),
        r.target_name,
        r.poison_indices_sha256.get(..16).unwrap_or(""),
        r.seed,
        r.device,
        r.train_wall_secs,
        r.wall_secs
    ));
    ui.columns(2, |cols| {
        let ui = &mut cols[0];
        ui.label("ASR per true class (last epoch)");
        let bars: Vec<egui_plot::Bar> = r
            .epochs
            .last()
            .map(|m| {
                m.per_class_asr
                    .iter()
                    .enumerate()
                    .filter_map(|(i, a)| a.map(|a| egui_plot::Bar::new(i as f64, a).width(0.7)))
                    .collect()
            })
            .unwrap_or_default();
        let names = r.classes.clone();
        Plot::new(format!("per-class-asr-{}", e.row.dir))
            .height(160.0)
            .include_y(0.0)
            .include_y(1.0)
            .allow_scroll(false)
            .allow_drag(false)
            .x_axis_formatter(move |m, _| {
                let i = m.value.round();
                if (m.value - i).abs() < 1e-6 && i >= 0.0 {
                    names.get(i as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .show(ui, |plot| {
                plot.bar_chart(
                    egui_plot::BarChart::new("ASR", bars)
                        .color(egui::Color32::from_rgb(210, 50, 50)),
                );
            });
        let ui = &mut cols[1];
        ui.label("ASR against the number of triggered frames");
        let pts: Vec<[f64; 2]> = r
            .asr_by_triggered_frames
            .iter()
            .map(|&(k, a)| [k as f64, a])
            .collect();
        Plot::new(format!("asr-frames-{}", e.row.dir))
            .height(160.0)
            .include_y(0.0)
            .include_y(1.0)
            .x_axis_label("triggered frames")
            .allow_scroll(false)
            .show(ui, |plot| {
                plot.line(
                    Line::new("ASR", pts.clone())
                        .color(egui::Color32::from_rgb(210, 50, 50))
                        .width(2.0),
                );
                plot.points(egui_plot::Points::new("", pts).radius(3.0));
            });
    });
    if !r.confusion_clean.is_empty() {
        ui.label("Confusion (rows: true class, columns: predicted; shade: fraction of the row)");
        ui.columns(2, |cols| {
            for (col, (title, m)) in cols.iter_mut().zip([
                ("clean test clips", &r.confusion_clean),
                ("triggered test clips", &r.confusion_triggered),
            ]) {
                col.label(egui::RichText::new(title).strong());
                heat_map(
                    col,
                    m,
                    &r.classes,
                    r.classes.iter().position(|c| *c == r.target_name),
                );
            }
        });
    }
    egui::CollapsingHeader::new("Spec (as run)")
        .id_salt(format!("spec-{}", e.row.dir))
        .show(ui, |ui| {
            let mut text = e.spec_toml.clone();
            ui.add(
                egui::TextEdit::multiline(&mut text)
                    .code_editor()
                    .interactive(false)
                    .desired_width(f32::INFINITY),
            );
        });
}
