//! Status bar: what the studio runs on, and the latest message.

use super::StudioState;

pub fn status_ui(state: &mut StudioState, ui: &mut egui::Ui) {
    ui.horizontal_wrapped(|ui| {
        let s = &state.status;
        ui.label(format!("Renderer: {}", s.renderer));
        ui.separator();
        ui.label(format!("Compute: {}", s.compute));
        ui.separator();
        ui.label(format!("Audio: {}", s.audio));
        if let Some((msg, is_error)) = &s.message {
            ui.separator();
            if *is_error {
                ui.colored_label(ui.visuals().error_fg_color, msg);
            } else {
                ui.label(msg);
            }
        }
    });
}
