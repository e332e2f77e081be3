//! Inspector: facts about the selected clip, and (soon) the trigger being designed.

use super::{ClipSource, LoadState, StudioState, coming_ui};

pub fn inspector_ui(state: &mut StudioState, ui: &mut egui::Ui) {
    ui.heading("Inspector");
    ui.separator();
    ui.strong("Clip");
    match state.selected_entry() {
        None => {
            ui.label(egui::RichText::new("no clip selected").weak());
        }
        Some(entry) => {
            egui::Grid::new("clip-facts")
                .num_columns(2)
                .striped(true)
                .show(ui, |ui| {
                    let source = match &entry.source {
                        ClipSource::Demo => "procedural demo (in memory)".to_string(),
                        ClipSource::Synth { class, index } => {
                            format!(
                                "SynthMotion (procedural, in memory): class {class}, clip {index}"
                            )
                        }
                        ClipSource::File(p) => p.display().to_string(),
                    };
                    row(ui, "Source", &source);
                    if let Some(info) = &entry.info {
                        row(ui, "Size", &format!("{}×{}", info.width, info.height));
                        row(
                            ui,
                            "Frame rate",
                            &format!("{} ({:.3} fps)", info.fps, info.fps.to_f64()),
                        );
                        row(ui, "Frames", &info.frames.to_string());
                        row(ui, "Duration", &format!("{:.3} s", info.duration_secs));
                        row(ui, "Video codec", &info.video_codec_long);
                        let audio = info.audio.as_ref().map_or("none".to_string(), |a| {
                            format!("{} · {} Hz · {} ch", a.codec, a.sample_rate_hz, a.channels)
                        });
                        row(ui, "Audio", &audio);
                    }
                    if let Some((w, h)) = entry.size() {
                        row(ui, "Shown at", &format!("{w}×{h}"));
                    }
                    if let Some(clip) = &entry.clip
                        && entry.info.is_none()
                    {
                        row(
                            ui,
                            "Frame rate",
                            &format!("{} ({:.3} fps)", clip.fps(), clip.fps().to_f64()),
                        );
                        row(ui, "Frames", &clip.frames().len().to_string());
                        row(
                            ui,
                            "Duration",
                            &format!("{:.3} s", clip.duration().to_f64()),
                        );
                        let audio = clip.audio().map_or("none".to_string(), |a| {
                            format!(
                                "{} Hz · {} ch · {:.2} s",
                                a.sample_rate_hz(),
                                a.channels(),
                                a.duration().to_f64()
                            )
                        });
                        row(ui, "Audio", &audio);
                    }
                    let load = match (&entry.load, &entry.source) {
                        (LoadState::Loading, _) => "loading…".to_string(),
                        (LoadState::Ready, ClipSource::File(_)) => {
                            "streaming from disk".to_string()
                        }
                        (LoadState::Ready, _) => "in memory".to_string(),
                        (LoadState::Failed(e), _) => format!("failed: {e}"),
                    };
                    row(ui, "Loaded", &load);
                    if let Some(w) = &entry.warning {
                        row(ui, "Warning", w);
                    }
                });
        }
    }
    ui.separator();
    ui.strong("Trigger");
    coming_ui(
        ui,
        "BadNets, Blend, SIG, WaNet, FTrojan, TDBA, natural artefacts and audio triggers",
    );
    ui.separator();
    ui.strong("Temporal placement");
    coming_ui(ui, "static or dynamic, on all frames or a chosen subset");
}

fn row(ui: &mut egui::Ui, key: &str, value: &str) {
    ui.label(key);
    ui.add(egui::Label::new(value).wrap());
    ui.end_row();
}
