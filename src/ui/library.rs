//! Library panel: the clips the studio knows about, and where more come from.

use super::{ClipSource, LoadState, StudioState, UiCommand, coming_ui};

pub fn library_ui(state: &mut StudioState, ui: &mut egui::Ui) {
    ui.heading("Library");
    if ui
        .button("Open video…")
        .on_hover_text("Pick a video file (any format FFmpeg reads)")
        .clicked()
    {
        state.commands.push(UiCommand::OpenVideoDialog);
    }
    ui.separator();
    ui.label("Clips");
    let mut clicked = None;
    egui::ScrollArea::vertical()
        .max_height(ui.available_height() * 0.6)
        .show(ui, |ui| {
            for (i, entry) in state.clips.iter().enumerate() {
                let frames = entry.clip.as_ref().map_or(0, |c| c.frames().len());
                let detail = match &entry.load {
                    LoadState::Loading => format!("loading… {frames} frames"),
                    LoadState::Ready { .. } => format!("{frames} frames"),
                    LoadState::Failed(_) => "failed".to_string(),
                };
                let kind = match entry.source {
                    ClipSource::Demo => "demo",
                    ClipSource::File(_) => "file",
                };
                let text = format!("{} ({kind}, {detail})", entry.name);
                let resp = ui.selectable_label(state.selected == Some(i), text);
                let resp = match &entry.load {
                    LoadState::Failed(msg) => resp.on_hover_text(msg),
                    _ => resp,
                };
                if resp.clicked() {
                    clicked = Some(i);
                }
            }
        });
    if let Some(i) = clicked {
        state.select(i);
    }
    ui.separator();
    ui.label("Datasets");
    coming_ui(
        ui,
        "SynthMotion (procedural), UCF-101, HMDB-51 and list folders",
    );
}
