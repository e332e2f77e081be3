//! Canvas: the frame at the playhead with the design applied — clean, poisoned, difference
//! (amplified, with its scale), side by side or an A/B wipe — with zoom to the cursor, pan, a
//! pixel grid past 8×, a pixel readout and this frame's and this clip's stealth figures.
//!
//! The poisoned frame comes from the preview worker (core's `PreparedAttack`, off the UI
//! thread); until the frame asked for arrives, the latest one of this clip stays on screen.

use super::{LoadState, StudioState, UiCommand};
use crate::core::Frame;
use crate::core::design::{DesignCommand, ViewMode, ViewSettings};
use crate::gpu::preview_callback::{PreviewCallback, ViewMode as GpuView};
use crate::jobs::preview::PreviewFrame;
use std::collections::HashMap;

const READOUT_H: f32 = 40.0;
const GAP: f32 = 8.0;
/// Past this many screen pixels per frame pixel, the pixel grid is drawn.
const GRID_FROM: f32 = 8.0;

pub fn canvas_ui(state: &mut StudioState, ui: &mut egui::Ui) {
    state.canvas_rect = None;
    let title = state
        .selected_entry()
        .map_or_else(String::new, |e| format!(" — {}", e.name));
    let mut view = state.doc.design().view.clone();
    // Wrapped: a row wider than the panel (the difference view adds its gain slider) would
    // widen the canvas's rect past the panel and push the frame under the inspector.
    ui.horizontal_wrapped(|ui| {
        ui.heading(format!("Canvas{title}"));
        ui.separator();
        for m in ViewMode::ALL {
            let label = match m {
                ViewMode::Clean => "Clean",
                ViewMode::Poisoned => "Poisoned",
                ViewMode::Difference => "Difference",
                ViewMode::SideBySide => "Side by side",
                ViewMode::Wipe => "A/B wipe",
            };
            ui.selectable_value(&mut view.mode, m, label);
        }
        if view.mode == ViewMode::Difference {
            // The gain on its own row, so the modes row fits a narrow canvas.
            ui.end_row();
            ui.spacing_mut().slider_width = 120.0;
            ui.add(
                egui::Slider::new(&mut view.diff_gain, 1.0..=64.0)
                    .logarithmic(true)
                    .text("× gain"),
            );
        }
        ui.separator();
        if ui.button("Fit").clicked() {
            view.zoom = None;
            view.pan = [0.0, 0.0];
        }
        if ui.button("1:1").clicked() {
            view.zoom = Some(1.0);
            view.pan = [0.0, 0.0];
        }
    });

    let Some(entry) = state.selected_entry() else {
        ui.centered_and_justified(|ui| ui.label("Open a video or pick a clip in the library."));
        send_view(state, view);
        return;
    };
    if let LoadState::Failed(msg) = &entry.load {
        let msg = msg.clone();
        ui.colored_label(ui.visuals().error_fg_color, msg);
        return;
    }
    let clip_id = entry.id;
    let Some((clean, clean_key)) = state.current_frame() else {
        ui.centered_and_justified(|ui| ui.spinner());
        send_view(state, view);
        return;
    };
    // The preview to show: the exact one if it is here, else the latest of this clip.
    let shown: Option<(u64, PreviewFrame)> = state
        .preview
        .latest
        .as_ref()
        .filter(|(k, _)| k.clip == clip_id)
        .map(|(k, p)| (hash_key(k.clip, k.frame, k.revision), (**p).clone()));

    // Never past the panel: a header row wider than the panel widens the ui's rect.
    let full = ui.available_rect_before_wrap().intersect(ui.clip_rect());
    let avail = egui::Rect::from_min_max(
        full.min,
        egui::pos2(full.max.x, (full.max.y - READOUT_H).max(full.min.y + 10.0)),
    );
    let response = ui.allocate_rect(avail, egui::Sense::click_and_drag());
    let (w, h) = (clean.width() as f32, clean.height() as f32);
    let panes = if view.mode == ViewMode::SideBySide {
        2.0
    } else {
        1.0
    };
    let content_w = w * panes + GAP * (panes - 1.0);
    let fit = (avail.width() / content_w)
        .min(avail.height() / h)
        .max(1e-3);
    let scale = view.zoom.unwrap_or(fit);
    let center = avail.center() + egui::vec2(view.pan[0], view.pan[1]);
    let content = egui::Rect::from_center_size(center, egui::vec2(content_w * scale, h * scale));
    let pane = |k: f32| {
        egui::Rect::from_min_size(
            content.min + egui::vec2(k * (w + GAP) * scale, 0.0),
            egui::vec2(w * scale, h * scale),
        )
    };
    let first = pane(0.0);
    state.canvas_rect = Some(first);

    let nearest = scale >= 2.0;
    let ctx = ui.ctx().clone();
    // The GPU draws the poisoned frame straight from the worker's program, before the CPU
    // result is in; a program its last render refused falls back to the CPU textures.
    let gpu = state
        .preview
        .gpu
        .program_for(clip_id)
        .map(|(k, c, p)| (hash_key(k.clip, k.frame, k.revision), c.clone(), p.clone()))
        .filter(|(k, _, _)| state.preview.gpu.error.as_ref().is_none_or(|(e, _)| e != k));
    state.preview.gpu_drawn = gpu.is_some();
    let cache = &mut state.preview.textures;
    let clean_tex = texture(&ctx, cache, "clean", clean_key, &clean, nearest);
    let painter = ui.painter_at(avail);
    painter.rect_filled(avail, 0.0, egui::Color32::from_gray(24));
    let uv = egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0));
    let white = egui::Color32::WHITE;
    if let Some((key, gpu_clean, program)) = gpu {
        let callback = |rect: egui::Rect, mode: GpuView| {
            painter.add(egui_wgpu::Callback::new_paint_callback(
                rect,
                PreviewCallback {
                    clean: gpu_clean.clone(),
                    program: program.clone(),
                    mode,
                    key,
                },
            ));
        };
        match view.mode {
            ViewMode::Clean => {
                painter.image(clean_tex, first, uv, white);
            }
            ViewMode::Poisoned => callback(first, GpuView::Poisoned),
            ViewMode::Difference => callback(
                first,
                GpuView::Difference {
                    gain: view.diff_gain,
                },
            ),
            ViewMode::SideBySide => {
                painter.image(clean_tex, first, uv, white);
                callback(pane(1.0), GpuView::Poisoned);
            }
            ViewMode::Wipe => {
                callback(first, GpuView::Wipe { x: view.wipe });
                let split = first.min.x + first.width() * view.wipe;
                painter.vline(
                    split,
                    first.y_range(),
                    egui::Stroke::new(2.0, egui::Color32::YELLOW),
                );
            }
        }
    } else {
        cpu_panes(
            &ctx,
            cache,
            &painter,
            &view,
            shown.as_ref(),
            clean_tex,
            [first, pane(1.0)],
            nearest,
        );
    }
    if scale >= GRID_FROM {
        pixel_grid(&painter, first, scale, avail);
        if view.mode == ViewMode::SideBySide {
            pixel_grid(&painter, pane(1.0), scale, avail);
        }
    }
    let labels = match view.mode {
        ViewMode::SideBySide => vec![(first, "clean"), (pane(1.0), "poisoned")],
        ViewMode::Wipe => vec![(first, "clean | poisoned")],
        _ => vec![],
    };
    for (r, text) in labels {
        painter.text(
            r.left_top() + egui::vec2(4.0, 4.0),
            egui::Align2::LEFT_TOP,
            text,
            egui::FontId::proportional(13.0),
            egui::Color32::YELLOW,
        );
    }
    if view.mode == ViewMode::Difference {
        color_bar(&painter, avail, view.diff_gain);
    }

    // The patch's handles, keyframe path and pick rectangle over the pane showing the trigger.
    let tools_pane = if view.mode == ViewMode::SideBySide {
        pane(1.0)
    } else {
        first
    };
    let other = (view.mode == ViewMode::SideBySide).then_some(first);
    let took = super::canvas_tools::tools_ui(
        state, ui, &response, &painter, tools_pane, other, scale, &clean,
    );

    // Interaction: the wheel zooms to the cursor; drag pans (the middle button always; the
    // primary button except in the wipe view, where it moves the divider, and except where the
    // canvas tools took it).
    if response.hovered() {
        let scroll = ui.input(|i| i.smooth_scroll_delta.y);
        if scroll != 0.0
            && let Some(cursor) = response.hover_pos()
        {
            let next = (scale * (scroll * 0.002).exp()).clamp(0.05, 64.0);
            let img = (cursor - content.min) / scale;
            let min = cursor - img * next;
            let c = min + egui::vec2(content_w, h) * next * 0.5;
            view.zoom = Some(next);
            view.pan = [c.x - avail.center().x, c.y - avail.center().y];
        }
    }
    let middle = ui.input(|i| i.pointer.middle_down());
    if response.dragged() && (middle || !took) {
        if view.mode == ViewMode::Wipe && !middle {
            if let Some(p) = response.interact_pointer_pos() {
                view.wipe = ((p.x - first.min.x) / first.width()).clamp(0.0, 1.0);
            }
        } else {
            let d = response.drag_delta();
            view.pan = [view.pan[0] + d.x, view.pan[1] + d.y];
        }
    }

    // Readout under the canvas.
    let readout = egui::Rect::from_min_max(egui::pos2(full.min.x, avail.max.y), full.max);
    let mut lines = Vec::new();
    if let Some(pos) = response.hover_pos() {
        for (k, r) in [(0.0, first), (1.0, pane(1.0))] {
            if k > 0.0 && view.mode != ViewMode::SideBySide {
                continue;
            }
            if r.contains(pos) {
                let x = ((pos.x - r.min.x) / scale) as u32;
                let y = ((pos.y - r.min.y) / scale) as u32;
                let c = rgb_at(&clean, x, y);
                let p = shown.as_ref().map(|(_, s)| rgb_at(&s.poisoned, x, y));
                lines.push(format!(
                    "x {x}, y {y} · clean {} · poisoned {}",
                    fmt_rgb(c),
                    p.map_or("—".into(), fmt_rgb)
                ));
            }
        }
    }
    let want = state.preview_key();
    match &shown {
        Some((_, p)) => {
            let stale = state
                .preview
                .latest
                .as_ref()
                .is_some_and(|(k, _)| Some(*k) != want);
            lines.push(format!(
                "frame: {} · PSNR {} · SSIM {} · L∞ {}{}{}",
                if p.triggered {
                    "triggered"
                } else {
                    "not triggered"
                },
                p.psnr_db
                    .map_or("∞ (unchanged)".into(), |v| format!("{v:.2} dB")),
                match (p.ssim, p.ssim_pending) {
                    (Some(v), _) => format!("{v:.4}"),
                    (None, true) => "…".into(),
                    (None, false) if p.linf == 0 => "1".into(),
                    (None, false) => "— (frame under 11 px)".into(),
                },
                p.linf,
                clip_line(state, clip_id),
                if stale { " · updating…" } else { "" },
            ));
            if let Some(n) = &p.note {
                lines.push(n.clone());
            }
        }
        None => lines.push("preparing the preview…".into()),
    }
    ui.scope_builder(egui::UiBuilder::new().max_rect(readout), |ui| {
        for l in lines {
            ui.label(egui::RichText::new(l).monospace().size(11.0));
        }
    });
    send_view(state, view);
}

fn clip_line(state: &StudioState, clip: u32) -> String {
    match &state.preview.clip_stealth {
        Some((c, rev, s)) if *c == clip && *rev == state.doc.revision() => format!(
            " | clip: mean PSNR {} · mean SSIM {} · flicker {}",
            s.psnr_db_mean.map_or("—".into(), |v| format!("{v:.2} dB")),
            s.ssim_mean.map_or("—".into(), |v| format!("{v:.4}")),
            s.temporal_flicker.map_or("—".into(), |v| format!("{v:.3}")),
        ),
        _ => String::new(),
    }
}

fn send_view(state: &mut StudioState, view: ViewSettings) {
    if view != state.doc.design().view {
        state
            .commands
            .push(UiCommand::Design(DesignCommand::SetView(view)));
    }
}

/// The panes from the CPU result, through egui textures uploaded when their frame changes.
#[allow(clippy::too_many_arguments)]
fn cpu_panes(
    ctx: &egui::Context,
    cache: &mut HashMap<&'static str, (u64, bool, egui::TextureHandle)>,
    painter: &egui::Painter,
    view: &ViewSettings,
    shown: Option<&(u64, PreviewFrame)>,
    clean_tex: egui::TextureId,
    [first, second]: [egui::Rect; 2],
    nearest: bool,
) {
    // Only what this view shows is uploaded: at 720p each texture is a 3.7 MB conversion and
    // upload on the UI thread.
    let diff_view = view.mode == ViewMode::Difference;
    let needs_poisoned = matches!(
        view.mode,
        ViewMode::Poisoned | ViewMode::SideBySide | ViewMode::Wipe
    );
    let (poisoned_tex, diff_tex) = match shown {
        Some((k, p)) => (
            needs_poisoned.then(|| texture(ctx, cache, "poisoned", *k, &p.poisoned, nearest)),
            diff_view.then(|| {
                texture(
                    ctx,
                    cache,
                    "diff",
                    *k ^ u64::from(p.diff_gain.to_bits()).rotate_left(17),
                    &p.diff,
                    nearest,
                )
            }),
        ),
        None => (None, None),
    };
    let uv = egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0));
    let white = egui::Color32::WHITE;
    let poisoned_or_clean = poisoned_tex.unwrap_or(clean_tex);
    match view.mode {
        ViewMode::Clean => {
            painter.image(clean_tex, first, uv, white);
        }
        ViewMode::Poisoned => {
            painter.image(poisoned_or_clean, first, uv, white);
        }
        ViewMode::Difference => match diff_tex {
            Some(t) => {
                painter.image(t, first, uv, white);
            }
            None => {
                painter.rect_filled(first, 0.0, egui::Color32::BLACK);
            }
        },
        ViewMode::SideBySide => {
            painter.image(clean_tex, first, uv, white);
            painter.image(poisoned_or_clean, second, uv, white);
        }
        ViewMode::Wipe => {
            let split = first.min.x + first.width() * view.wipe;
            let left = egui::Rect::from_min_max(first.min, egui::pos2(split, first.max.y));
            let right = egui::Rect::from_min_max(egui::pos2(split, first.min.y), first.max);
            painter.image(
                clean_tex,
                left,
                egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(view.wipe, 1.0)),
                white,
            );
            painter.image(
                poisoned_or_clean,
                right,
                egui::Rect::from_min_max(egui::pos2(view.wipe, 0.0), egui::pos2(1.0, 1.0)),
                white,
            );
            painter.vline(
                split,
                first.y_range(),
                egui::Stroke::new(2.0, egui::Color32::YELLOW),
            );
        }
    }
}

fn hash_key(clip: u32, frame: usize, revision: u64) -> u64 {
    (u64::from(clip) << 48) ^ ((frame as u64) << 24) ^ revision.rotate_left(7)
}

/// The texture `name` holding `frame`, uploaded again only when `key` (or the filter) changed.
fn texture(
    ctx: &egui::Context,
    cache: &mut HashMap<&'static str, (u64, bool, egui::TextureHandle)>,
    name: &'static str,
    key: u64,
    frame: &Frame,
    nearest: bool,
) -> egui::TextureId {
    let options = if nearest {
        egui::TextureOptions::NEAREST
    } else {
        egui::TextureOptions::LINEAR
    };
    match cache.get_mut(name) {
        Some((k, n, tex)) if *k == key && *n == nearest => tex.id(),
        Some((k, n, tex)) => {
            tex.set(color_image(frame), options);
            *k = key;
            *n = nearest;
            tex.id()
        }
        None => {
            let tex = ctx.load_texture(format!("canvas-{name}"), color_image(frame), options);
            let id = tex.id();
            cache.insert(name, (key, nearest, tex));
            id
        }
    }
}

fn color_image(frame: &Frame) -> egui::ColorImage {
    egui::ColorImage::from_rgb(
        [frame.width() as usize, frame.height() as usize],
        frame.rgb(),
    )
}

fn rgb_at(f: &Frame, x: u32, y: u32) -> [u8; 3] {
    let i = ((y.min(f.height().saturating_sub(1)) * f.width() + x.min(f.width().saturating_sub(1)))
        * 3) as usize;
    let px = f.rgb();
    [px[i], px[i + 1], px[i + 2]]
}

fn fmt_rgb(c: [u8; 3]) -> String {
    format!("({:3}, {:3}, {:3})", c[0], c[1], c[2])
}

/// Lines between frame pixels, only over the visible part.
fn pixel_grid(painter: &egui::Painter, r: egui::Rect, scale: f32, clip: egui::Rect) {
    let stroke = egui::Stroke::new(1.0, egui::Color32::from_black_alpha(90));
    let vis = r.intersect(clip);
    if vis.width() <= 0.0 || vis.height() <= 0.0 {
        return;
    }
    let x0 = ((vis.min.x - r.min.x) / scale).floor() as i32;
    let x1 = ((vis.max.x - r.min.x) / scale).ceil() as i32;
    for i in x0..=x1 {
        painter.vline(r.min.x + i as f32 * scale, vis.y_range(), stroke);
    }
    let y0 = ((vis.min.y - r.min.y) / scale).floor() as i32;
    let y1 = ((vis.max.y - r.min.y) / scale).ceil() as i32;
    for j in y0..=y1 {
        painter.hline(vis.x_range(), r.min.y + j as f32 * scale, stroke);
    }
}

/// The difference view's scale: black (no change) to white (≥ 255 / gain levels of change).
fn color_bar(painter: &egui::Painter, avail: egui::Rect, gain: f32) {
    let bar = egui::Rect::from_min_size(
        // Bottom left: the panel's right edge can lie past what is visible when the toolbar is wide.
        egui::pos2(avail.min.x + 8.0, avail.max.y - 28.0),
        egui::vec2(120.0, 10.0),
    );
    let steps = 24;
    for i in 0..steps {
        let v = (i as f32 / (steps - 1) as f32 * 255.0) as u8;
        let x0 = bar.min.x + bar.width() * i as f32 / steps as f32;
        let x1 = bar.min.x + bar.width() * (i + 1) as f32 / steps as f32;
        painter.rect_filled(
            egui::Rect::from_min_max(egui::pos2(x0, bar.min.y), egui::pos2(x1, bar.max.y)),
            0.0,
            egui::Color32::from_gray(v),
        );
    }
    painter.rect_stroke(
        bar,
        0.0,
        egui::Stroke::new(1.0, egui::Color32::GRAY),
        egui::StrokeKind::Outside,
    );
    let font = egui::FontId::proportional(11.0);
    painter.text(
        bar.left_bottom() + egui::vec2(0.0, 2.0),
        egui::Align2::LEFT_TOP,
        "0",
        font.clone(),
        egui::Color32::LIGHT_GRAY,
    );
    painter.text(
        bar.right_bottom() + egui::vec2(0.0, 2.0),
        egui::Align2::RIGHT_TOP,
        format!("≥{:.0} levels (×{gain:.0})", 255.0 / gain),
        font,
        egui::Color32::LIGHT_GRAY,
    );
}
