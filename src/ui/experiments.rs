//! Experiments tab: poisoning, training runs and their live metrics.

use super::{StudioState, coming_ui};

pub fn experiments_ui(_state: &mut StudioState, ui: &mut egui::Ui) {
    ui.heading("Experiments");
    ui.separator();
    coming_ui(
        ui,
        "poison a dataset, train a video or audio-visual model on a worker thread, \
         and watch clean accuracy and attack success rate stream into live plots",
    );
}
