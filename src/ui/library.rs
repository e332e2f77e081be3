//! Library panel: the clips the studio knows about, and where more come from.

use super::{ClipSource, LoadState, StudioState, UiCommand, coming_ui};

pub fn library_ui(state: &mut StudioState, ui: &mut egui::Ui) {
    ui.heading("Library");
    if ui
        .button("Open video…")
        .on_hover_text("Pick a video file (any format FFmpeg reads); it streams as it plays")
        .clicked()
    {
        state.commands.push(UiCommand::OpenVideoDialog);
    }
    ui.separator();
    let mut clicked = None;
    egui::ScrollArea::vertical()
        .max_height(ui.available_height() * 0.75)
        .show(ui, |ui| {
            let synth: Vec<usize> = (0..state.clips.len())
                .filter(|&i| matches!(state.clips[i].source, ClipSource::Synth { .. }))
                .collect();
            let others: Vec<usize> = (0..state.clips.len()).filter(|i| !synth.contains(i)).collect();
            egui::CollapsingHeader::new("SynthMotion (procedural)")
                .default_open(true)
                .show(ui, |ui| {
                    if synth.is_empty() {
                        ui.spinner();
                    }
                    // One header per class (motion), its clips inside.
                    let mut classes: Vec<&str> = Vec::new();
                    for &i in &synth {
                        if let ClipSource::Synth { class, .. } = &state.clips[i].source
                            && !classes.contains(&class.as_str())
                        {
                            classes.push(class);
                        }
                    }
                    let selected_class = state.selected_entry().and_then(|e| match &e.source {
                        ClipSource::Synth { class, .. } => Some(class.clone()),
                        _ => None,
                    });
                    for class in classes {
                        let members: Vec<usize> = synth
                            .iter()
                            .copied()
                            .filter(|&i| matches!(&state.clips[i].source, ClipSource::Synth { class: c, .. } if c == class))
                            .collect();
                        egui::CollapsingHeader::new(format!("{class} ({})", members.len()))
                            .id_salt(class)
                            .default_open(selected_class.as_deref() == Some(class))
                            .show(ui, |ui| {
                                for &i in &members {
                                    if entry_ui(state, ui, i) {
                                        clicked = Some(i);
                                    }
                                }
                            });
                    }
                });
            ui.label("Clips");
            for &i in &others {
                if entry_ui(state, ui, i) {
                    clicked = Some(i);
                }
            }
        });
    if let Some(i) = clicked {
        state.select(i);
    }
    ui.separator();
    ui.label("Datasets on disk");
    coming_ui(
        ui,
        "browsing UCF-101, HMDB-51 and list folders here (`triggerlab synth` writes one)",
    );
}

/// One selectable library row; true when clicked.
fn entry_ui(state: &StudioState, ui: &mut egui::Ui, i: usize) -> bool {
    let e = &state.clips[i];
    let detail = match &e.load {
        LoadState::Loading => "loading…".to_string(),
        LoadState::Failed(_) => "failed".to_string(),
        LoadState::Ready => match (&e.clip, &e.stream) {
            (Some(c), _) => format!("{} frames", c.frames().len()),
            (None, Some(m)) => format!("{:.1} s", m.duration_secs),
            _ => String::new(),
        },
    };
    let kind = match e.source {
        ClipSource::Synth { .. } => "",
        ClipSource::Demo => "demo, ",
        ClipSource::File(_) => "file, ",
    };
    let resp = ui.selectable_label(
        state.selected == Some(i),
        format!("{} ({kind}{detail})", e.name),
    );
    let resp = match &e.load {
        LoadState::Failed(msg) => resp.on_hover_text(msg),
        _ => resp,
    };
    resp.clicked()
}
