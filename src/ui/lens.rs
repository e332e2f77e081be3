//! Model lens: a trained model's answer for the clip on the canvas, clean and with the design's
//! attack, side by side (top-5 classes as bars, the target marked), recomputed on a worker when
//! the clip, the design or the model changes.

use super::{StudioState, UiCommand};
use crate::jobs::lens::LensAnswer;
use std::path::PathBuf;

/// The model on show, as the inspector describes it.
#[derive(Clone, Debug, PartialEq)]
pub struct LensModel {
    pub dir: PathBuf,
    pub kind: String,
    pub classes: Vec<String>,
    pub frames: usize,
    pub size: u32,
    pub ca: f64,
    pub asr: f64,
    pub target: usize,
    pub target_name: String,
    /// Counts loads, so an answer for an earlier model is never shown for this one.
    pub generation: u64,
}

/// What an answer answers: this clip, under this design revision, from this model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LensKey {
    pub clip: u32,
    pub revision: u64,
    pub model: u64,
}

#[derive(Default)]
pub struct LensState {
    pub model: Option<LensModel>,
    /// A run folder being loaded.
    pub loading: Option<PathBuf>,
    /// Why the last load failed.
    pub error: Option<String>,
    /// The latest answer and the key it answers (kept on screen until a newer one arrives).
    pub answer: Option<(LensKey, Result<LensAnswer, String>)>,
    /// The key being computed.
    pub computing: Option<LensKey>,
    /// The sensitivity sweep's settings and points.
    pub sweep: super::sweep::SweepState,
}

impl LensState {
    /// The key the lens wants now.
    pub fn wanted(&self, state: &StudioState) -> Option<LensKey> {
        Some(LensKey {
            clip: state.selected_entry()?.id,
            revision: state.doc.revision(),
            model: self.model.as_ref()?.generation,
        })
    }
}

/// The top `k` (class index, probability), most probable first.
pub fn top(probs: &[f64], k: usize) -> Vec<(usize, f64)> {
    let mut v: Vec<(usize, f64)> = probs.iter().copied().enumerate().collect();
    v.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    v.truncate(k);
    v
}

/// One bar's label: `class 0.931`, with `(target)` on the target class.
pub fn bar_label(m: &LensModel, class: usize, p: f64) -> String {
    let name = m.classes.get(class).map_or("?", String::as_str);
    let mark = if class == m.target { " (target)" } else { "" };
    format!("{name} {p:.3}{mark}")
}

pub fn lens_ui(state: &mut StudioState, ui: &mut egui::Ui) {
    ui.horizontal_wrapped(|ui| {
        if ui
            .button("Load model…")
            .on_hover_text("a run folder: results.json, model.json, model.safetensors")
            .clicked()
        {
            state.commands.push(UiCommand::LoadModelDialog);
        }
        if state.lens.loading.is_some() {
            ui.spinner();
        }
    });
    if let Some(e) = &state.lens.error {
        ui.colored_label(ui.visuals().error_fg_color, e);
    }
    let Some(m) = state.lens.model.clone() else {
        ui.label(
            egui::RichText::new(
                "Load a trained model to see its answer for this clip, clean and triggered.",
            )
            .weak(),
        );
        return;
    };
    ui.label(format!(
        "{} · {} · {} classes · {} frames at {}×{}",
        m.dir.file_name().map_or_else(
            || m.dir.display().to_string(),
            |n| n.to_string_lossy().into_owned()
        ),
        m.kind,
        m.classes.len(),
        m.frames,
        m.size,
        m.size
    ))
    .on_hover_text(m.dir.display().to_string());
    ui.label(format!(
        "its run: CA {:.3} · ASR {:.3} · target {}",
        m.ca, m.asr, m.target_name
    ));
    let Some(wanted) = state.lens.wanted(state) else {
        ui.label(egui::RichText::new("no clip selected").weak());
        return;
    };
    // Only an answer for this clip from this model; one for an earlier design stays (marked)
    // while the new one is computed, as the canvas keeps its last frame.
    let Some((key, answer)) = state
        .lens
        .answer
        .as_ref()
        .filter(|(k, _)| k.clip == wanted.clip && k.model == wanted.model)
    else {
        ui.spinner();
        return;
    };
    if *key != wanted {
        ui.label(egui::RichText::new("updating…").weak());
    }
    match answer {
        Err(e) => {
            ui.colored_label(ui.visuals().error_fg_color, e);
        }
        Ok(a) => {
            ui.columns(2, |cols| {
                for (col, (title, probs)) in cols
                    .iter_mut()
                    .zip([("clean", &a.clean), ("triggered", &a.triggered)])
                {
                    col.strong(title);
                    for (c, p) in top(probs, 5) {
                        bar(col, &m, c, p);
                    }
                }
            });
        }
    }
    if let Some(Ok(a)) = state.lens.answer.as_ref().map(|(_, a)| a)
        && let Some(rows) = &a.branches
    {
        branches_ui(ui, &m, rows);
    }
    if ui
        .button("Sensitivity sweep…")
        .on_hover_text("how small can the trigger be? one parameter over a range")
        .clicked()
    {
        state.lens.sweep.open = true;
    }
}

/// One cell of the branch table: the top class and its probability, `(target)` on the target.
pub fn branch_cell(m: &LensModel, probs: &[f64]) -> String {
    match top(probs, 1).first() {
        Some(&(c, p)) => bar_label(m, c, p),
        None => "–".into(),
    }
}

/// An `av_fusion` model's branches: rows by where the trigger is, columns video branch, audio
/// branch, fused; a cell answering the target in the attack's colour.
fn branches_ui(ui: &mut egui::Ui, m: &LensModel, rows: &[(String, crate::jobs::lens::Branches)]) {
    ui.separator();
    ui.strong("Audio-visual branches");
    ui.label(
        egui::RichText::new(
            "Each branch's own answer and the fused one, with the trigger nowhere, in one \
             modality or in both.",
        )
        .size(11.0)
        .weak(),
    );
    egui::Grid::new("lens-branches")
        .striped(true)
        .num_columns(4)
        .show(ui, |ui| {
            for head in ["trigger in", "video", "audio", "fused"] {
                ui.label(egui::RichText::new(head).strong().size(11.0));
            }
            ui.end_row();
            for (name, b) in rows {
                ui.label(egui::RichText::new(name).size(11.0));
                for probs in [&b.video, &b.audio, &b.fused] {
                    let text = egui::RichText::new(branch_cell(m, probs)).size(11.0);
                    if top(probs, 1).first().is_some_and(|&(c, _)| c == m.target) {
                        ui.label(text.color(egui::Color32::from_rgb(230, 120, 40)));
                    } else {
                        ui.label(text);
                    }
                }
                ui.end_row();
            }
        });
}

/// A probability bar under its label; the target class in the attack's colour.
fn bar(ui: &mut egui::Ui, m: &LensModel, class: usize, p: f64) {
    ui.label(egui::RichText::new(bar_label(m, class, p)).size(11.0));
    let (rect, _) =
        ui.allocate_exact_size(egui::vec2(ui.available_width(), 6.0), egui::Sense::hover());
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 1.0, ui.visuals().extreme_bg_color);
    let fill = if class == m.target {
        egui::Color32::from_rgb(230, 120, 40)
    } else {
        egui::Color32::from_rgb(90, 160, 230)
    };
    let w = rect.width() * p.clamp(0.0, 1.0) as f32;
    painter.rect_filled(
        egui::Rect::from_min_size(rect.min, egui::vec2(w, rect.height())),
        1.0,
        fill,
    );
}
