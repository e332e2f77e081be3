//! egui panels. Each panel is a `*_ui(state, ui)` function in its own file; panels read and edit
//! [`StudioState`] and ask for work by pushing [`UiCommand`]s, which `app` carries out through
//! `jobs`. No file, FFmpeg or candle calls here.

pub mod canvas;
pub mod experiment_state;
pub mod experiments;
pub mod inspector;
pub mod library;
pub mod state;
pub mod status;
pub mod timeline;

pub use experiment_state::{ExperimentsState, RunPhase, RunView};
pub use state::{ClipEntry, ClipSource, LoadState, StudioState, Tab, UiCommand};

/// A muted "coming" note for a part of a panel that is not built yet, so nothing pretends to work.
pub fn coming_ui(ui: &mut egui::Ui, what: &str) {
    ui.label(
        egui::RichText::new(format!("coming: {what}"))
            .weak()
            .italics(),
    );
}

/// Lays out the whole studio: tabs on top, status bar and timeline at the bottom, library left,
/// inspector right, canvas in the middle (or the Experiments tab).
pub fn studio_ui(state: &mut StudioState, ui: &mut egui::Ui) {
    egui::Panel::top("tabs").show(ui, |ui| {
        ui.horizontal(|ui| {
            ui.strong("TriggerLab");
            ui.separator();
            ui.selectable_value(&mut state.tab, Tab::Studio, "Studio");
            ui.selectable_value(&mut state.tab, Tab::Experiments, "Experiments");
        });
    });
    egui::Panel::bottom("status").show(ui, |ui| status::status_ui(state, ui));
    match state.tab {
        Tab::Studio => {
            egui::Panel::bottom("timeline")
                .resizable(true)
                .min_size(160.0)
                .show(ui, |ui| timeline::timeline_ui(state, ui));
            egui::Panel::left("library")
                .default_size(230.0)
                .show(ui, |ui| library::library_ui(state, ui));
            egui::Panel::right("inspector")
                .default_size(290.0)
                .show(ui, |ui| inspector::inspector_ui(state, ui));
            egui::CentralPanel::default().show(ui, |ui| canvas::canvas_ui(state, ui));
        }
        Tab::Experiments => {
            egui::CentralPanel::default().show(ui, |ui| experiments::experiments_ui(state, ui));
        }
    }
}
