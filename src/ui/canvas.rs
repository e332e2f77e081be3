//! Canvas: the frame at the playhead, letterboxed into the available space.

use super::state::CanvasBackend;
use super::{LoadState, StudioState};
use crate::gpu::canvas::CanvasCallback;

pub fn canvas_ui(state: &mut StudioState, ui: &mut egui::Ui) {
    state.canvas_rect = None;
    let title = state
        .selected_entry()
        .map_or_else(String::new, |e| format!(" — {}", e.name));
    ui.heading(format!("Canvas{title}"));

    let Some(entry) = state.selected_entry() else {
        ui.centered_and_justified(|ui| ui.label("Open a video or pick a clip in the library."));
        return;
    };
    if let LoadState::Failed(msg) = &entry.load {
        let msg = msg.clone();
        ui.colored_label(ui.visuals().error_fg_color, msg);
        return;
    }
    let Some((frame, key)) = state.current_frame() else {
        ui.centered_and_justified(|ui| ui.spinner());
        return;
    };

    let avail = ui.available_rect_before_wrap();
    let aspect = frame.width() as f32 / frame.height() as f32;
    let size = if avail.width() / avail.height().max(1.0) > aspect {
        egui::vec2(avail.height() * aspect, avail.height())
    } else {
        egui::vec2(avail.width(), avail.width() / aspect)
    };
    let rect = egui::Rect::from_center_size(avail.center(), size);
    ui.allocate_rect(avail, egui::Sense::hover());
    state.canvas_rect = Some(rect);

    match state.canvas_backend {
        CanvasBackend::Wgpu => {
            ui.painter().add(egui_wgpu::Callback::new_paint_callback(
                rect,
                CanvasCallback { frame, key },
            ));
        }
        CanvasBackend::EguiTexture => {
            let stale = state.texture.as_ref().is_none_or(|(_, k)| *k != key);
            if stale {
                let image = egui::ColorImage::from_rgb(
                    [frame.width() as usize, frame.height() as usize],
                    frame.rgb(),
                );
                match &mut state.texture {
                    Some((tex, k)) => {
                        tex.set(image, egui::TextureOptions::LINEAR);
                        *k = key;
                    }
                    None => {
                        let tex =
                            ui.ctx()
                                .load_texture("canvas", image, egui::TextureOptions::LINEAR);
                        state.texture = Some((tex, key));
                    }
                }
            }
            if let Some((tex, _)) = &state.texture {
                ui.painter().image(
                    tex.id(),
                    rect,
                    egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0)),
                    egui::Color32::WHITE,
                );
            }
        }
    }
}
