//! Timeline: transport (play/pause, step, loop, volume), a scrubber in seconds, the frame strip
//! with the triggered frames marked (and, for a dynamic trigger, what changes per frame), and
//! the audio view (waveform or spectrogram, see `audio_view`). Keys: Space, ←/→ (a frame), Shift+←/→ (a second),
//! Home/End.

use super::{StudioState, UiCommand};
use crate::core::placement::{Mode, Variation};

/// Frames of the selected clip (in memory, or as the probe counted them for a file).
pub fn clip_frames(state: &StudioState) -> Option<usize> {
    let e = state.selected_entry()?;
    match (&e.clip, &e.info, e.fps()) {
        (Some(c), _, _) => Some(c.frames().len()),
        (None, Some(i), _) => Some(i.frames as usize),
        (None, None, Some(fps)) => Some((e.duration_secs() * fps.to_f64()).round() as usize),
        _ => None,
    }
}

/// Space, arrows, Home/End, when no text field has the keyboard.
fn keys(state: &mut StudioState, ui: &egui::Ui, frames: Option<usize>) {
    if ui.ctx().egui_wants_keyboard_input() {
        return;
    }
    use crate::jobs::player::Monitor;
    let (a, solo) = ui.input(|i| (i.key_pressed(egui::Key::A), i.key_pressed(egui::Key::S)));
    let m = state.playback.monitor;
    if a {
        let next = if m == Monitor::Clean {
            Monitor::Triggered
        } else {
            Monitor::Clean
        };
        state.commands.push(UiCommand::SetMonitor(next));
    }
    if solo {
        let next = if m == Monitor::TriggerOnly {
            Monitor::Triggered
        } else {
            Monitor::TriggerOnly
        };
        state.commands.push(UiCommand::SetMonitor(next));
    }
    let (space, left, right, shift, home, end) = ui.input(|i| {
        (
            i.key_pressed(egui::Key::Space),
            i.key_pressed(egui::Key::ArrowLeft),
            i.key_pressed(egui::Key::ArrowRight),
            i.modifiers.shift,
            i.key_pressed(egui::Key::Home),
            i.key_pressed(egui::Key::End),
        )
    });
    if space {
        state.commands.push(if state.playback.playing {
            UiCommand::Pause
        } else {
            UiCommand::Play
        });
    }
    let t = state.playback.position_secs;
    if left {
        state.commands.push(if shift {
            UiCommand::Seek((t - 1.0).max(0.0))
        } else {
            UiCommand::Step(-1)
        });
    }
    if right {
        state.commands.push(if shift {
            UiCommand::Seek(t + 1.0)
        } else {
            UiCommand::Step(1)
        });
    }
    if home {
        state.commands.push(UiCommand::SeekFrame(0));
    }
    if end && let Some(n) = frames {
        state
            .commands
            .push(UiCommand::SeekFrame(n.saturating_sub(1)));
    }
}

/// What a dynamic trigger varies on the `ordinal`-th of `count` triggered frames, as 0..1 for
/// the strip (continuous schedules by value, seeded ones by a hash of the seed and frame).
fn variation_value(v: &Variation, seed: u64, index: usize, ordinal: usize, count: usize) -> f32 {
    let t = if count > 1 {
        ordinal as f64 / (count - 1) as f64
    } else {
        0.0
    };
    let x = match v {
        Variation::Phase { cycles_per_frame } => {
            (ordinal as f64 * cycles_per_frame).rem_euclid(1.0)
        }
        Variation::AlphaRamp { from, to } | Variation::Frequency { from, to } => {
            let (lo, hi) = (from.min(*to), from.max(*to));
            if hi > lo {
                (from + (to - from) * t - lo) / (hi - lo)
            } else {
                0.5
            }
        }
        Variation::AlphaSine { period_frames, .. } => {
            0.5 + 0.5 * (std::f64::consts::TAU * index as f64 / period_frames.max(1e-9)).sin()
        }
        Variation::PositionPath | Variation::PositionKeyframes { .. } => t,
        _ => {
            let mut z = seed ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            z = (z ^ (z >> 31)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            (z >> 40) as f64 / (1u64 << 24) as f64
        }
    };
    x.clamp(0.0, 1.0) as f32
}

/// Playback speeds the transport offers.
pub const SPEEDS: [f32; 6] = [0.25, 0.5, 0.75, 1.0, 1.5, 2.0];

/// Thumbnail height in points (and pixels: the worker shrinks frames to it).
pub const THUMB_HEIGHT: f32 = 40.0;

/// A row of thumbnails of the poisoned clip, each over the frames it stands for, triggered ones
/// outlined in the strip's colour. In-memory clips only (a streamed file has one frame at hand).
fn thumb_row(state: &mut StudioState, ui: &mut egui::Ui, frames: usize) {
    let in_memory = state.selected_entry().is_some_and(|e| e.clip.is_some());
    let width = ui.available_width();
    // Roughly one thumbnail per 16:9 slot of the row's height.
    state.thumbs.wanted = if in_memory {
        ((width / (THUMB_HEIGHT * 1.5)) as usize)
            .clamp(1, 48)
            .min(frames)
    } else {
        0
    };
    if !in_memory {
        return;
    }
    let (rect, response) =
        ui.allocate_exact_size(egui::vec2(width, THUMB_HEIGHT), egui::Sense::click());
    state.thumbs_rect = Some(rect);
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 2.0, ui.visuals().extreme_bg_color);
    let selected_id = state.selected_entry().map(|e| e.id);
    let Some((key, thumbs)) = state
        .thumbs
        .shown
        .as_ref()
        .filter(|(k, _)| Some(k.clip) == selected_id)
    else {
        painter.text(
            rect.center(),
            egui::Align2::CENTER_CENTER,
            "making thumbnails…",
            egui::FontId::proportional(11.0),
            ui.visuals().weak_text_color(),
        );
        return;
    };
    let key = *key;
    if state
        .thumbs
        .textures
        .as_ref()
        .is_none_or(|(k, _)| *k != key)
    {
        let tex = thumbs
            .iter()
            .map(|t| {
                let img = egui::ColorImage::from_rgb(
                    [t.frame.width() as usize, t.frame.height() as usize],
                    t.frame.rgb(),
                );
                ui.ctx().load_texture(
                    format!("thumb-{}", t.index),
                    img,
                    egui::TextureOptions::LINEAR,
                )
            })
            .collect();
        state.thumbs.textures = Some((key, tex));
    }
    let Some((_, tex)) = &state.thumbs.textures else {
        return;
    };
    let slot = rect.width() / thumbs.len().max(1) as f32;
    let mark = egui::Color32::from_rgb(230, 120, 40);
    for (k, (t, tx)) in thumbs.iter().zip(tex).enumerate() {
        let cell = egui::Rect::from_min_size(
            egui::pos2(rect.min.x + k as f32 * slot, rect.min.y),
            egui::vec2(slot, rect.height()),
        )
        .shrink(1.0);
        // Keep the frame's aspect inside its slot.
        let aspect = t.frame.width() as f32 / t.frame.height().max(1) as f32;
        let size = egui::vec2(
            cell.width().min(cell.height() * aspect),
            cell.height().min(cell.width() / aspect),
        );
        let r = egui::Rect::from_center_size(cell.center(), size);
        painter.image(
            tx.id(),
            r,
            egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0)),
            egui::Color32::WHITE,
        );
        if t.triggered {
            painter.rect_stroke(
                r,
                0.0,
                egui::Stroke::new(2.0, mark),
                egui::StrokeKind::Inside,
            );
        }
    }
    if key.revision != state.doc.revision() {
        painter.text(
            rect.right_top() + egui::vec2(-4.0, 2.0),
            egui::Align2::RIGHT_TOP,
            "updating…",
            egui::FontId::proportional(10.0),
            ui.visuals().weak_text_color(),
        );
    }
    if response.clicked()
        && let Some(p) = response.interact_pointer_pos()
    {
        let k = (((p.x - rect.min.x) / slot).floor().max(0.0) as usize)
            .min(thumbs.len().saturating_sub(1));
        if let Some(t) = thumbs.get(k) {
            state
                .commands
                .push(UiCommand::SeekFrame(t.index.min(frames - 1)));
        }
    }
    response.on_hover_text(
        "the clip with the trigger applied; outlined: triggered frames; click to go there",
    );
}

/// The colour of keyframe marks, here and on the canvas's path.
pub const KEYFRAME: egui::Color32 = egui::Color32::from_rgb(255, 220, 40);

/// The frame strip: one cell per frame, triggered frames filled, the playhead outlined; click
/// or drag to move the playhead.
fn frame_strip(state: &mut StudioState, ui: &mut egui::Ui, frames: usize) {
    let spec = &state.doc.design().spec;
    let selected = spec
        .temporal
        .frames
        .select(frames, spec.seed, "temporal.frames");
    let variation = match spec.temporal.mode {
        Mode::Dynamic => spec
            .temporal
            .variation
            .clone()
            .or_else(|| spec.visual.as_ref().and_then(|v| v.default_variation())),
        Mode::Static => None,
    };
    let seed = spec.seed;
    let (rect, response) = ui.allocate_exact_size(
        egui::vec2(ui.available_width(), 22.0),
        egui::Sense::click_and_drag(),
    );
    state.strip_rect = Some(rect);
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 2.0, ui.visuals().extreme_bg_color);
    let cell = rect.width() / frames.max(1) as f32;
    let mark = egui::Color32::from_rgb(230, 120, 40);
    match &selected {
        Ok(sel) => {
            let count = sel.len();
            for (ordinal, &i) in sel.iter().enumerate() {
                let x0 = rect.min.x + i as f32 * cell;
                let r = egui::Rect::from_min_max(
                    egui::pos2(x0 + 0.5, rect.min.y + 2.0),
                    egui::pos2((x0 + cell - 0.5).max(x0 + 1.0), rect.max.y - 2.0),
                );
                painter.rect_filled(r, 0.0, mark);
                if let Some(v) = &variation {
                    let y = r.max.y
                        - 2.0
                        - variation_value(v, seed, i, ordinal, count) * (r.height() - 4.0);
                    painter.circle_filled(
                        egui::pos2(r.center().x, y),
                        (cell * 0.3).clamp(1.0, 3.0),
                        egui::Color32::BLACK,
                    );
                }
            }
        }
        Err(e) => {
            painter.text(
                rect.left_center() + egui::vec2(4.0, 0.0),
                egui::Align2::LEFT_CENTER,
                e.to_string(),
                egui::FontId::proportional(11.0),
                ui.visuals().error_fg_color,
            );
        }
    }
    // Keyframes of a hand-placed path: a diamond above the strip at each keyframe's frame.
    if let Some(crate::core::placement::Variation::PositionKeyframes { keyframes, .. }) = &variation
    {
        for k in keyframes.iter().filter(|k| k.frame < frames) {
            let c = egui::pos2(rect.min.x + (k.frame as f32 + 0.5) * cell, rect.min.y + 5.0);
            let d = 5.0;
            painter.add(egui::Shape::convex_polygon(
                vec![
                    c + egui::vec2(0.0, -d),
                    c + egui::vec2(d, 0.0),
                    c + egui::vec2(0.0, d),
                    c + egui::vec2(-d, 0.0),
                ],
                KEYFRAME,
                egui::Stroke::new(1.0, egui::Color32::BLACK),
            ));
        }
    }
    if let Some(i) = state.current_frame_index() {
        let x0 = rect.min.x + i as f32 * cell;
        painter.rect_stroke(
            egui::Rect::from_min_max(
                egui::pos2(x0, rect.min.y),
                egui::pos2(x0 + cell.max(2.0), rect.max.y),
            ),
            0.0,
            egui::Stroke::new(2.0, egui::Color32::WHITE),
            egui::StrokeKind::Inside,
        );
    }
    if (response.clicked() || response.dragged())
        && let Some(p) = response.interact_pointer_pos()
    {
        let i = (((p.x - rect.min.x) / cell).floor().max(0.0) as usize).min(frames - 1);
        if Some(i) != state.current_frame_index() {
            state.commands.push(UiCommand::SeekFrame(i));
        }
    }
    let n_sel = selected.as_ref().map_or(0, Vec::len);
    let what = match &variation {
        Some(v) => format!(
            "dynamic: {} (dot: what changes per frame)",
            serde_json::to_value(v)
                .ok()
                .and_then(|j| j.get("kind").and_then(|k| k.as_str()).map(str::to_string))
                .unwrap_or_default()
                .replace('_', " ")
        ),
        None => "static".into(),
    };
    response.on_hover_text(format!("{n_sel} of {frames} frames triggered · {what}"));
    ui.label(
        egui::RichText::new(format!("triggered: {n_sel} of {frames} frames · {what}"))
            .weak()
            .size(11.0),
    );
}

pub fn timeline_ui(state: &mut StudioState, ui: &mut egui::Ui) {
    state.strip_rect = None;
    state.thumbs_rect = None;
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
        if ui
            .button("‹")
            .on_hover_text("previous frame (Left)")
            .clicked()
        {
            state.commands.push(UiCommand::Step(-1));
        }
        if ui.button(label).on_hover_text("Space").clicked() {
            state.commands.push(cmd);
        }
        if ui.button("›").on_hover_text("next frame (Right)").clicked() {
            state.commands.push(UiCommand::Step(1));
        }
        let mut looping = state.playback.looping;
        if ui.checkbox(&mut looping, "Loop").changed() {
            state.commands.push(UiCommand::SetLooping(looping));
        }
        let speed = state.playback.speed;
        let speed_label = ui.label("speed");
        let combo = egui::ComboBox::from_id_salt("speed")
            .selected_text(format!("{speed}x"))
            .width(56.0)
            .show_ui(ui, |ui| {
                for s in SPEEDS {
                    if ui.selectable_label(s == speed, format!("{s}x")).clicked() && s != speed {
                        state.commands.push(UiCommand::SetSpeed(s));
                    }
                }
            });
        let _ = combo
            .response
            .labelled_by(speed_label.id)
            .on_hover_text("playback speed (the sound plays at 1x only)");
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
        ui.separator();
        use crate::jobs::player::Monitor;
        let mut m = state.playback.monitor;
        ui.label("audio")
            .on_hover_text("A: clean/triggered · S: the trigger alone");
        ui.selectable_value(&mut m, Monitor::Clean, "clean");
        ui.selectable_value(&mut m, Monitor::Triggered, "triggered");
        ui.selectable_value(&mut m, Monitor::TriggerOnly, "trigger only");
        if m != state.playback.monitor {
            state.commands.push(UiCommand::SetMonitor(m));
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
    let frames = clip_frames(state);
    keys(state, ui, frames);
    if let Some(n) = frames.filter(|n| *n > 0) {
        thumb_row(state, ui, n);
        frame_strip(state, ui, n);
    }
    super::audio_view::audio_view_ui(state, ui, duration);
}

/// A slider the user moved. egui rounds a slider's value to its decimals every frame and then
/// reports it as changed; taken as a seek, that flushed the audio and redrew at display rate.
fn user_changed(r: &egui::Response) -> bool {
    r.changed() && (r.dragged() || r.drag_stopped() || r.clicked() || r.has_focus())
}
