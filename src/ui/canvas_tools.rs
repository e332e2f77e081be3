//! Direct manipulation on the canvas: drag the BadNets patch to move it, drag a corner handle to
//! resize it (Shift: square), nudge it with the arrow keys (Shift: 10 px); on a keyframed path,
//! place the patch at the playhead's frame (a keyframe) and see the path as a polyline with a dot
//! per frame. The pick tool drags a rectangle whose pixels of this frame become the patch; the
//! editor's eyedropper takes a colour from the frame.
//!
//! Positions are frame pixels; every change is a [`DesignCommand`] through the design, so the
//! inspector's anchor and keyframe fields follow and a drag is one undo step.

use super::{StudioState, UiCommand};
use crate::core::Frame;
use crate::core::design::DesignCommand;
use crate::core::placement::{Keyframe, Mode, Variation, keyframe_position};
use crate::core::trigger::VisualTrigger;
use crate::core::trigger::patch::{Anchor, Painted, PatchSize};

/// What a primary-button drag on the canvas is doing.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Drag {
    /// Moving the patch; `grab` is the pointer's offset from its top-left corner, frame px.
    Move { grab: egui::Vec2 },
    /// Resizing from corner `corner` (0 top-left, 1 top-right, 2 bottom-right, 3 bottom-left)
    /// with the opposite corner fixed at `fixed`.
    Resize { corner: usize, fixed: egui::Pos2 },
    /// A pick rectangle from `start`, frame px, on the pane `pane` (side by side: either).
    Pick { start: egui::Pos2, pane: egui::Rect },
}

/// The canvas tools' runtime state.
#[derive(Default)]
pub struct CanvasToolsState {
    /// The pick tool is on: a drag on the canvas picks a region of the frame.
    pub pick: bool,
    /// A picked region stays where it was picked (a stationary object appearing) rather than
    /// taking the patch's current place.
    pub pick_in_place: bool,
    /// The patch was clicked: arrow keys nudge it and its handles show.
    pub selected: bool,
    drag: Option<Drag>,
    /// The pick rectangle on screen now, frame px: (x, y, w, h).
    pub pick_rect: Option<(u32, u32, u32, u32)>,
}

/// Where the patch is on the frame at the playhead, frame pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Place {
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
    /// Placed by the keyframe path (moving it sets a keyframe at this frame).
    pub keyed: bool,
}

/// The patch's place at the playhead, when it is placed by hand (static, or keyframed); `None`
/// for other triggers, a seeded or scripted motion, or a design core refuses on this clip.
pub fn place(state: &StudioState) -> Option<Place> {
    let spec = &state.doc.design().spec;
    let Some(VisualTrigger::Badnets(b)) = &spec.visual else {
        return None;
    };
    let (fw, fh) = state.selected_entry()?.size()?;
    let (w, h) = b.size.wh();
    match (spec.temporal.mode, &spec.temporal.variation) {
        (Mode::Dynamic, Some(Variation::PositionKeyframes { keyframes, easing })) => {
            let (x, y) = keyframe_position(keyframes, *easing, state.current_frame_index()?)?;
            // A keyframe typed past any frame is core's to refuse; it just has no place here.
            Some(Place {
                x: u32::try_from(x).ok()?,
                y: u32::try_from(y).ok()?,
                w,
                h,
                keyed: true,
            })
        }
        (Mode::Dynamic, _) => None,
        (Mode::Static, _) => {
            let (x, y) = b.position("visual", fw as usize, fh as usize).ok()?;
            Some(Place {
                x: x as u32,
                y: y as u32,
                w,
                h,
                keyed: false,
            })
        }
    }
}

/// Where the patch's anchor puts it on the selected clip (ignoring any motion).
pub fn anchored_position(state: &StudioState) -> Option<(usize, usize)> {
    let Some(VisualTrigger::Badnets(b)) = &state.doc.design().spec.visual else {
        return None;
    };
    let (fw, fh) = state.selected_entry()?.size()?;
    b.position("visual", fw as usize, fh as usize).ok()
}

/// A keyframe path as drawn: the patch's top-left corner at every frame, and the keyframes'
/// frames.
pub type PathPoints = (Vec<(usize, usize)>, Vec<usize>);

/// The keyframe path: the patch's top-left corner at every frame of the clip.
pub fn path_positions(state: &StudioState) -> Option<PathPoints> {
    let spec = &state.doc.design().spec;
    let Some(Variation::PositionKeyframes { keyframes, easing }) = &spec.temporal.variation else {
        return None;
    };
    if spec.temporal.mode != Mode::Dynamic {
        return None;
    }
    let n = frame_count(state)?;
    let pts = (0..n)
        .filter_map(|i| keyframe_position(keyframes, *easing, i))
        .collect();
    Some((pts, keyframes.iter().map(|k| k.frame).collect()))
}

fn frame_count(state: &StudioState) -> Option<usize> {
    let e = state.selected_entry()?;
    match (&e.clip, e.fps()) {
        (Some(c), _) => Some(c.frames().len()),
        (None, Some(fps)) => Some((e.duration_secs() * fps.to_f64()).round().max(1.0) as usize),
        _ => None,
    }
}

/// The command that puts the patch's top-left corner at (`x`, `y`) (clamped into the frame):
/// its anchor, or the keyframe at the playhead's frame on a keyframed path.
pub fn move_command(
    state: &StudioState,
    place: Place,
    x: i64,
    y: i64,
    dragging: bool,
) -> Option<DesignCommand> {
    let (fw, fh) = state.selected_entry()?.size()?;
    let x = x.clamp(0, i64::from(fw.saturating_sub(place.w))) as usize;
    let y = y.clamp(0, i64::from(fh.saturating_sub(place.h))) as usize;
    if (x as u32, y as u32) == (place.x, place.y) {
        return None;
    }
    let spec = &state.doc.design().spec;
    if place.keyed {
        let Some(Variation::PositionKeyframes { keyframes, easing }) = &spec.temporal.variation
        else {
            return None;
        };
        let frame = state.current_frame_index()?;
        let keyframes = with_keyframe(keyframes, Keyframe { frame, x, y });
        let v = Variation::PositionKeyframes {
            keyframes,
            easing: *easing,
        };
        return Some(DesignCommand::SetField {
            path: "temporal.variation".into(),
            value: serde_json::to_value(v).ok()?,
            dragging,
        });
    }
    Some(DesignCommand::SetField {
        path: "visual.anchor".into(),
        value: serde_json::json!({"x": x, "y": y}),
        dragging,
    })
}

/// `keys` with `k` set at its frame (replacing one there), in frame order.
pub fn with_keyframe(keys: &[Keyframe], k: Keyframe) -> Vec<Keyframe> {
    let mut out: Vec<Keyframe> = keys
        .iter()
        .filter(|o| o.frame != k.frame)
        .cloned()
        .collect();
    let at = out.partition_point(|o| o.frame < k.frame);
    out.insert(at, k);
    out
}

/// The command that gives the patch the rectangle (`x`, `y`, `w`, `h`): its size and, unless it
/// is keyframed (where only the size changes), its anchor.
fn resize_command(
    state: &StudioState,
    place: Place,
    (x, y, w, h): (u32, u32, u32, u32),
    dragging: bool,
) -> Option<DesignCommand> {
    let Some(VisualTrigger::Badnets(b)) = &state.doc.design().spec.visual else {
        return None;
    };
    let mut b = b.clone();
    b.size = if w == h {
        PatchSize::Square(w)
    } else {
        PatchSize::Rect([w, h])
    };
    if !place.keyed {
        b.anchor = Anchor::At { x, y };
        b.margin = 0;
    }
    if (b.size.wh(), place.x, place.y) == ((place.w, place.h), x, y) {
        return None;
    }
    Some(DesignCommand::SetField {
        path: "visual".into(),
        value: serde_json::to_value(VisualTrigger::Badnets(b)).ok()?,
        dragging,
    })
}

/// Arrow keys nudge the selected patch by 1 px (Shift: 10 px); Escape deselects it. Runs before
/// the timeline reads the arrows, and takes them only while the patch is selected.
pub fn nudge_keys(state: &mut StudioState, ctx: &egui::Context) {
    if !state.canvas_tools.selected || ctx.egui_wants_keyboard_input() {
        return;
    }
    if ctx.input_mut(|i| i.consume_key(egui::Modifiers::NONE, egui::Key::Escape)) {
        state.canvas_tools.selected = false;
        return;
    }
    let Some(p) = place(state) else { return };
    let mut d = (0i64, 0i64);
    ctx.input_mut(|i| {
        let m = i.modifiers;
        let step = if m.shift { 10 } else { 1 };
        for (key, dx, dy) in [
            (egui::Key::ArrowLeft, -step, 0),
            (egui::Key::ArrowRight, step, 0),
            (egui::Key::ArrowUp, 0, -step),
            (egui::Key::ArrowDown, 0, step),
        ] {
            if i.consume_key(m, key) {
                d = (d.0 + dx, d.1 + dy);
            }
        }
    });
    if d != (0, 0)
        && let Some(cmd) = move_command(state, p, i64::from(p.x) + d.0, i64::from(p.y) + d.1, false)
    {
        state.commands.push(UiCommand::Design(cmd));
    }
}

const HANDLE: f32 = 8.0;

fn corners(r: egui::Rect) -> [egui::Pos2; 4] {
    [
        r.left_top(),
        r.right_top(),
        r.right_bottom(),
        r.left_bottom(),
    ]
}

/// Draws the patch's outline, handles and keyframe path over `pane` (the frame at `scale` screen
/// points per pixel) and takes the canvas's primary drags meant for them. `other`: the second
/// pane of the side-by-side view, where picks and the eyedropper also work. Returns whether it
/// took the pointer (then the canvas does not pan).
#[allow(clippy::too_many_arguments)]
pub fn tools_ui(
    state: &mut StudioState,
    ui: &egui::Ui,
    response: &egui::Response,
    painter: &egui::Painter,
    pane: egui::Rect,
    other: Option<egui::Rect>,
    scale: f32,
    clean: &Frame,
) -> bool {
    let to_screen = |x: f32, y: f32| pane.min + egui::vec2(x, y) * scale;
    let to_frame = |p: egui::Pos2| (p - pane.min) / scale;
    // The pane a point lies in, for what reads the frame (both panes show the same pixels).
    let pane_of = |p: egui::Pos2| other.filter(|o| o.contains(p)).unwrap_or(pane);
    let (fw, fh) = (clean.width(), clean.height());
    let place = place(state);
    let patch_rect = place.map(|p| {
        egui::Rect::from_min_max(
            to_screen(p.x as f32, p.y as f32),
            to_screen(p.x as f32 + p.w as f32, p.y as f32 + p.h as f32),
        )
    });

    // The keyframe path: a polyline through the patch's centre at every frame, a dot per frame,
    // keyframes marked.
    if let (Some((pts, keys)), Some(p)) = (path_positions(state), place) {
        let (hw, hh) = (p.w as f32 / 2.0, p.h as f32 / 2.0);
        let centre = |&(x, y): &(usize, usize)| to_screen(x as f32 + hw, y as f32 + hh);
        let line: Vec<egui::Pos2> = pts.iter().map(centre).collect();
        painter.add(egui::Shape::line(
            line.clone(),
            egui::Stroke::new(1.5, egui::Color32::from_rgb(90, 200, 255)),
        ));
        // A dot per frame while they can be told apart (a long file's path is the line alone).
        if line.len() <= 2000 {
            for c in &line {
                painter.circle_filled(*c, 2.0, egui::Color32::from_rgb(90, 200, 255));
            }
        }
        for k in keys {
            if let Some(c) = line.get(k) {
                painter.circle(
                    *c,
                    5.0,
                    super::timeline::KEYFRAME,
                    egui::Stroke::new(1.0, egui::Color32::BLACK),
                );
            }
        }
    }
    // The outline while the pointer is over the canvas or the patch is selected (as drawing
    // tools do), so a still picture of the clean frame stays clean.
    let outlined = state.canvas_tools.selected || response.hovered() || response.dragged();
    if let Some(r) = patch_rect.filter(|_| outlined) {
        let sel = state.canvas_tools.selected;
        let stroke = if sel {
            egui::Stroke::new(2.0, egui::Color32::YELLOW)
        } else {
            egui::Stroke::new(1.0, egui::Color32::from_white_alpha(160))
        };
        painter.rect_stroke(r, 0.0, stroke, egui::StrokeKind::Outside);
        if sel {
            for (i, c) in corners(r).into_iter().enumerate() {
                if place.is_some_and(|p| p.keyed) && i != 2 {
                    continue;
                }
                painter.rect_filled(
                    egui::Rect::from_center_size(c, egui::vec2(HANDLE, HANDLE)),
                    1.0,
                    egui::Color32::YELLOW,
                );
            }
        }
    }

    let shift = ui.input(|i| i.modifiers.shift);
    let primary = ui.input(|i| !i.pointer.middle_down());
    let editor_dropper = state.patch_editor.open
        && state.patch_editor.tool == super::patch_editor::PaintTool::Eyedropper;
    // Hover feedback: what a press here would do.
    if let Some(h) = response.hover_pos() {
        let icon = if state.canvas_tools.pick || editor_dropper {
            Some(egui::CursorIcon::Crosshair)
        } else if handle_at(state, place, patch_rect, h).is_some() {
            Some(egui::CursorIcon::ResizeNwSe)
        } else if patch_rect.is_some_and(|r| r.contains(h)) {
            Some(egui::CursorIcon::Move)
        } else {
            None
        };
        if let Some(i) = icon {
            ui.ctx().set_cursor_icon(i);
        }
    }

    // A click: the eyedropper takes the frame's colour; otherwise select the patch or not.
    if response.clicked()
        && let Some(p) = response.interact_pointer_pos()
    {
        if editor_dropper {
            let f = (p - pane_of(p).min) / scale;
            if f.x >= 0.0 && f.y >= 0.0 && (f.x as u32) < fw && (f.y as u32) < fh {
                let i = ((f.y as usize) * fw as usize + f.x as usize) * 3;
                let px = clean.rgb();
                state.patch_editor.primary = [px[i], px[i + 1], px[i + 2], 255];
            }
            return true;
        }
        if !state.canvas_tools.pick {
            state.canvas_tools.selected = patch_rect.is_some_and(|r| r.contains(p));
        }
    }

    if response.drag_started() && primary {
        let origin = ui
            .input(|i| i.pointer.press_origin())
            .or(response.interact_pointer_pos());
        state.canvas_tools.drag = origin.and_then(|o| {
            if state.canvas_tools.pick {
                let on = pane_of(o);
                let f = (o - on.min) / scale;
                return Some(Drag::Pick {
                    start: egui::pos2(
                        f.x.round().clamp(0.0, fw as f32),
                        f.y.round().clamp(0.0, fh as f32),
                    ),
                    pane: on,
                });
            }
            if editor_dropper {
                return None;
            }
            if let Some(corner) = handle_at(state, place, patch_rect, o) {
                let p = place?;
                let r = egui::Rect::from_min_size(
                    egui::pos2(p.x as f32, p.y as f32),
                    egui::vec2(p.w as f32, p.h as f32),
                );
                return Some(Drag::Resize {
                    corner,
                    fixed: corners(r)[(corner + 2) % 4],
                });
            }
            let p = place?;
            if patch_rect.is_some_and(|r| r.contains(o)) {
                state.canvas_tools.selected = true;
                let f = to_frame(o);
                return Some(Drag::Move {
                    grab: f - egui::vec2(p.x as f32, p.y as f32),
                });
            }
            None
        });
    }
    let Some(drag) = state.canvas_tools.drag else {
        state.canvas_tools.pick_rect = None;
        return false;
    };
    let pointer = response
        .interact_pointer_pos()
        .or(ui.input(|i| i.pointer.latest_pos()));
    let Some(pointer) = pointer else { return true };
    let f = to_frame(pointer);
    match drag {
        Drag::Move { grab } => {
            if let Some(p) = place {
                let tl = f - grab;
                if let Some(cmd) =
                    move_command(state, p, tl.x.round() as i64, tl.y.round() as i64, true)
                {
                    state.commands.push(UiCommand::Design(cmd));
                }
            }
        }
        Drag::Resize { corner, fixed } => {
            if let Some(p) = place {
                let rect = resized(fixed, corner, f, shift, (fw, fh));
                if let Some(cmd) = resize_command(state, p, rect, true) {
                    state.commands.push(UiCommand::Design(cmd));
                }
            }
        }
        Drag::Pick { start, pane: on } => {
            let f = (pointer - on.min) / scale;
            let end = egui::pos2(f.x.round(), f.y.round());
            let r = pick_rect(start, end, shift, (fw, fh));
            state.canvas_tools.pick_rect = Some(r);
            let (x, y, w, h) = r;
            let sr = egui::Rect::from_min_max(
                on.min + egui::vec2(x as f32, y as f32) * scale,
                on.min + egui::vec2((x + w) as f32, (y + h) as f32) * scale,
            );
            painter.rect_stroke(
                sr,
                0.0,
                egui::Stroke::new(1.5, egui::Color32::from_rgb(0, 230, 230)),
                egui::StrokeKind::Outside,
            );
            painter.text(
                sr.left_top() - egui::vec2(0.0, 4.0),
                egui::Align2::LEFT_BOTTOM,
                format!("x {x}, y {y} · {w}×{h} px"),
                egui::FontId::monospace(12.0),
                egui::Color32::from_rgb(0, 230, 230),
            );
            if response.drag_stopped() {
                finish_pick(state, clean, r);
            }
        }
    }
    if response.drag_stopped() || !ui.input(|i| i.pointer.primary_down()) {
        state.canvas_tools.drag = None;
        state.canvas_tools.pick_rect = None;
    }
    true
}

/// The pick's rectangle of this frame becomes the patch (a zero-area one does nothing).
fn finish_pick(state: &mut StudioState, clean: &Frame, (x, y, w, h): (u32, u32, u32, u32)) {
    let (fw, fh) = (clean.width() as usize, clean.height() as usize);
    let Some(p) = Painted::from_rgb_region(
        clean.rgb(),
        fw,
        fh,
        (x as usize, y as usize),
        (w as usize, h as usize),
    ) else {
        return;
    };
    let at = state.canvas_tools.pick_in_place.then_some([x, y]);
    super::patch_editor::send_patch(state, p, at, true, false);
    state.canvas_tools.pick = false;
    state.patch_editor.open = true;
}

/// The handle under screen point `p`, when the patch is selected.
fn handle_at(
    state: &StudioState,
    place: Option<Place>,
    rect: Option<egui::Rect>,
    p: egui::Pos2,
) -> Option<usize> {
    if !state.canvas_tools.selected {
        return None;
    }
    let (place, r) = (place?, rect?);
    corners(r).into_iter().enumerate().find_map(|(i, c)| {
        let ok = !place.keyed || i == 2;
        (ok && (p - c).abs().max_elem() <= HANDLE).then_some(i)
    })
}

/// The rectangle between the fixed corner and the pointer, whole pixels, at least 1×1, inside
/// the frame; Shift makes it square (the larger side, as far as the frame allows).
pub fn resized(
    fixed: egui::Pos2,
    corner: usize,
    pointer: egui::Vec2,
    square: bool,
    (fw, fh): (u32, u32),
) -> (u32, u32, u32, u32) {
    let (fx, fy) = (fixed.x, fixed.y);
    // Which way from the fixed corner the dragged one lies.
    let (sx, sy) = match corner {
        0 => (-1.0, -1.0),
        1 => (1.0, -1.0),
        2 => (1.0, 1.0),
        _ => (-1.0, 1.0),
    };
    let room_x = if sx > 0.0 { fw as f32 - fx } else { fx };
    let room_y = if sy > 0.0 { fh as f32 - fy } else { fy };
    let mut w = ((pointer.x - fx) * sx).round().clamp(1.0, room_x.max(1.0));
    let mut h = ((pointer.y - fy) * sy).round().clamp(1.0, room_y.max(1.0));
    if square {
        let s = w.max(h).min(room_x.max(1.0)).min(room_y.max(1.0));
        (w, h) = (s, s);
    }
    let x = if sx > 0.0 { fx } else { fx - w };
    let y = if sy > 0.0 { fy } else { fy - h };
    (x.max(0.0) as u32, y.max(0.0) as u32, w as u32, h as u32)
}

/// The pick rectangle from `a` to `b` in whole pixels inside the frame; Shift: a square of the
/// larger side, as far as the frame allows.
pub fn pick_rect(
    a: egui::Pos2,
    b: egui::Pos2,
    square: bool,
    (fw, fh): (u32, u32),
) -> (u32, u32, u32, u32) {
    let b = egui::pos2(b.x.clamp(0.0, fw as f32), b.y.clamp(0.0, fh as f32));
    let (mut w, mut h) = ((b.x - a.x).abs(), (b.y - a.y).abs());
    if square {
        let room_x = if b.x >= a.x { fw as f32 - a.x } else { a.x };
        let room_y = if b.y >= a.y { fh as f32 - a.y } else { a.y };
        let s = w.max(h).min(room_x).min(room_y);
        (w, h) = (s, s);
    }
    let x = if b.x >= a.x { a.x } else { a.x - w };
    let y = if b.y >= a.y { a.y } else { a.y - h };
    (x as u32, y as u32, w as u32, h as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resizing_keeps_the_opposite_corner_and_stays_in_the_frame() {
        // Dragging the bottom-right corner of a patch at (10, 10).
        let r = resized(
            egui::pos2(10.0, 10.0),
            2,
            egui::vec2(30.4, 20.6),
            false,
            (64, 48),
        );
        assert_eq!(r, (10, 10, 20, 11));
        assert_eq!(
            resized(
                egui::pos2(10.0, 10.0),
                2,
                egui::vec2(30.0, 20.0),
                true,
                (64, 48)
            ),
            (10, 10, 20, 20),
            "Shift: square"
        );
        // The top-left corner dragged past the frame's edge, with (20, 20) fixed.
        assert_eq!(
            resized(
                egui::pos2(20.0, 20.0),
                0,
                egui::vec2(-5.0, 12.0),
                false,
                (64, 48)
            ),
            (0, 12, 20, 8)
        );
        assert_eq!(
            resized(
                egui::pos2(20.0, 20.0),
                0,
                egui::vec2(40.0, 40.0),
                false,
                (64, 48)
            ),
            (19, 19, 1, 1),
            "at least one pixel"
        );
    }

    #[test]
    fn pick_rectangles_are_whole_pixels_inside_the_frame() {
        let p = |x, y| egui::pos2(x, y);
        assert_eq!(
            pick_rect(p(5.0, 5.0), p(1.0, 9.0), false, (32, 32)),
            (1, 5, 4, 4)
        );
        assert_eq!(
            pick_rect(p(30.0, 2.0), p(40.0, 4.0), true, (32, 32)),
            (30, 2, 2, 2)
        );
        assert_eq!(
            pick_rect(p(3.0, 3.0), p(3.0, 20.0), false, (32, 32)).2,
            0,
            "no area"
        );
    }

    #[test]
    fn a_keyframe_replaces_the_one_at_its_frame_and_keeps_the_order() {
        let k = |frame, x| Keyframe { frame, x, y: 0 };
        let keys = vec![k(0, 1), k(10, 2)];
        assert_eq!(
            with_keyframe(&keys, k(5, 9)),
            vec![k(0, 1), k(5, 9), k(10, 2)]
        );
        assert_eq!(with_keyframe(&keys, k(10, 7)), vec![k(0, 1), k(10, 7)]);
        assert_eq!(with_keyframe(&[], k(3, 3)), vec![k(3, 3)]);
    }
}
