//! Status bar: what the studio runs on, and the latest message.

use super::StudioState;

pub fn status_ui(state: &mut StudioState, ui: &mut egui::Ui) {
    ui.horizontal_wrapped(|ui| {
        let s = &state.status;
        ui.label(format!("Renderer: {}", s.renderer));
        ui.separator();
        let g = &state.preview.gpu;
        ui.label(match (&g.error, g.on && g.available) {
            (Some((_, e)), true) => format!("Preview: CPU (the shader failed: {e})"),
            (None, true) => "Preview: GPU shader".to_string(),
            _ => "Preview: CPU".to_string(),
        });
        ui.separator();
        ui.label(format!("Compute: {}", s.compute));
        ui.separator();
        ui.label(format!("Audio: {}", s.audio));
        if let Some((stage, done, total)) = &state.export.progress {
            ui.separator();
            let frac = if *total > 0 {
                *done as f32 / *total as f32
            } else {
                0.0
            };
            ui.label(format!("Export: {stage}"));
            ui.add(
                egui::ProgressBar::new(frac)
                    .desired_width(140.0)
                    .text(format!("{done}/{total}")),
            );
            if ui.button("Cancel").clicked() {
                state.commands.push(super::UiCommand::CancelExport);
            }
        } else if let Some((msg, failed)) = &state.export.last {
            ui.separator();
            if *failed {
                ui.colored_label(ui.visuals().error_fg_color, msg);
            } else {
                ui.label(msg);
            }
        }
        let s = &state.status;
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
