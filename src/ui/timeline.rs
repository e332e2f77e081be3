//! Timeline: transport, frame scrubber and the audio waveform with a playhead.

use super::StudioState;
use egui_plot::{FilledArea, Plot, VLine};

pub fn timeline_ui(state: &mut StudioState, ui: &mut egui::Ui) {
    let (frames, fps, duration) = match state.selected_entry().and_then(|e| e.clip.as_ref()) {
        Some(c) => (c.frames().len(), Some(c.fps()), c.duration().to_f64()),
        None => (0, None, 0.0),
    };
    ui.horizontal(|ui| {
        ui.heading("Timeline");
        ui.separator();
        let label = if state.playback.playing {
            "Pause"
        } else {
            "Play"
        };
        if ui.button(label).clicked() {
            state.playback.playing = !state.playback.playing;
        }
        if let (Some(fps), Some(idx)) = (fps, state.current_frame_index()) {
            let mut frame = idx;
            let slider = egui::Slider::new(&mut frame, 0..=frames.saturating_sub(1)).text("frame");
            if ui.add(slider).changed()
                && let Some(t) = fps.frame_start(frame as u64)
            {
                state.playback.position_secs = t.to_f64();
                state.playback.playing = false;
            }
            ui.label(format!(
                "{:.3} s / {:.3} s · {} fps",
                state.playback.position_secs, duration, fps
            ));
        }
    });
    let Some(entry) = state.selected_entry() else {
        return;
    };
    let envelope = entry.envelope.as_slice();
    if envelope.is_empty() {
        let file_has_audio = entry.info.as_ref().is_some_and(|i| i.audio.is_some());
        let note = if file_has_audio {
            "coming: this file's audio track (it is not decoded yet)"
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
