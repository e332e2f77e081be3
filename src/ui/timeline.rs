//! Timeline: transport (play/pause, loop, volume), a scrubber in seconds, and the audio
//! waveform with a playhead.

use super::{StudioState, UiCommand};
use egui_plot::{FilledArea, Plot, VLine};

pub fn timeline_ui(state: &mut StudioState, ui: &mut egui::Ui) {
    let (duration, fps) = state
        .selected_entry()
        .map_or((0.0, None), |e| (e.duration_secs(), e.fps()));
    ui.horizontal(|ui| {
        ui.heading("Timeline");
        ui.separator();
        let pb = &state.playback;
        let (label, cmd) = if pb.playing {
            ("Pause", UiCommand::Pause)
        } else {
            ("Play", UiCommand::Play)
        };
        if ui.button(label).clicked() {
            state.commands.push(cmd);
        }
        let mut looping = state.playback.looping;
        if ui.checkbox(&mut looping, "Loop").changed() {
            state.commands.push(UiCommand::SetLooping(looping));
        }
        let mut volume = state.playback.volume;
        if user_changed(
            &ui.add(
                egui::Slider::new(&mut volume, 0.0..=1.5)
                    .text("volume")
                    .fixed_decimals(2),
            ),
        ) {
            state.commands.push(UiCommand::SetVolume(volume));
        }
        if duration > 0.0 {
            let mut t = state.playback.position_secs.min(duration);
            let slider = egui::Slider::new(&mut t, 0.0..=duration)
                .text("s")
                .fixed_decimals(3);
            if user_changed(&ui.add(slider)) {
                state.commands.push(UiCommand::Seek(t));
            }
            let frame = state
                .current_frame_index()
                .map_or("—".into(), |i| i.to_string());
            let rate = fps.map_or("—".into(), |f| f.to_string());
            ui.label(format!("frame {frame} · {duration:.3} s · {rate} fps"));
        }
    });
    let Some(entry) = state.selected_entry() else {
        return;
    };
    let envelope = entry.envelope.as_slice();
    if envelope.is_empty() {
        let file_has_audio = entry.info.as_ref().is_some_and(|i| i.audio.is_some());
        let note = if file_has_audio {
            "the file's audio plays as it streams (no overview for streamed files yet)"
        } else {
            "no audio in this clip"
        };
        ui.label(egui::RichText::new(note).weak());
        return;
    }
    // Envelope buckets span the clip evenly: fill between min and max on a seconds axis.
    let n = envelope.len() as f64;
    let xs: Vec<f64> = (0..envelope.len())
        .map(|i| i as f64 / n * duration)
        .collect();
    let lows: Vec<f64> = envelope.iter().map(|(lo, _)| f64::from(*lo)).collect();
    let highs: Vec<f64> = envelope.iter().map(|(_, hi)| f64::from(*hi)).collect();
    let playhead = state.playback.position_secs;
    Plot::new("waveform")
        .height(ui.available_height().max(40.0))
        .include_y(-1.0)
        .include_y(1.0)
        .allow_zoom(false)
        .allow_drag(false)
        .allow_scroll(false)
        .show_y(false)
        .x_axis_label("seconds")
        .show(ui, |plot| {
            plot.add(
                FilledArea::new("audio", &xs, &lows, &highs)
                    .fill_color(egui::Color32::from_rgb(70, 140, 210)),
            );
            plot.vline(VLine::new("playhead", playhead));
        });
}

/// A slider the user moved. egui rounds a slider's value to its decimals every frame and then
/// reports it as changed; taken as a seek, that flushed the audio and redrew at display rate.
fn user_changed(r: &egui::Response) -> bool {
    r.changed() && (r.dragged() || r.drag_stopped() || r.clicked() || r.has_focus())
}
