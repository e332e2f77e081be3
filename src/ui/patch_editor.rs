//! Patch editor: paint the BadNets patch on a zoomed pixel grid over a transparency
//! checkerboard — brush, eraser, flood fill, eyedropper (from the patch or, on the canvas, from
//! the frame), line, rectangle; two colours with alpha; clear, flip, rotate, nearest-neighbour
//! resize; start from a blank, a colour, a checkerboard, noise, a PNG or a region of the video.
//!
//! Every change is one [`DesignCommand::EditPatch`] (a stroke is one undo step: the design's
//! undo, not a second stack), so the canvas previews the patch on the clip while it is painted.
//! The pixel operations are core's ([`crate::core::paint`]).

use super::{StudioState, UiCommand};
use crate::core::design::DesignCommand;
use crate::core::paint::{CLEAR, Rgba};
use crate::core::trigger::VisualTrigger;
use crate::core::trigger::patch::Painted;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum PaintTool {
    #[default]
    Brush,
    Eraser,
    Fill,
    Eyedropper,
    Line,
    Rect,
}

impl PaintTool {
    pub const ALL: [(PaintTool, &'static str, egui::Key); 6] = [
        (PaintTool::Brush, "Brush", egui::Key::B),
        (PaintTool::Eraser, "Eraser", egui::Key::E),
        (PaintTool::Fill, "Fill", egui::Key::G),
        (PaintTool::Eyedropper, "Eyedropper", egui::Key::I),
        (PaintTool::Line, "Line", egui::Key::L),
        (PaintTool::Rect, "Rectangle", egui::Key::R),
    ];
}

/// A stroke in progress: where it started, the last pixel, the patch before it (lines and
/// rectangles redraw from it as the pointer moves) and the colour it paints.
#[derive(Clone, Debug)]
struct Stroke {
    start: (i64, i64),
    last: (i64, i64),
    before: Painted,
    color: Rgba,
}

/// The editor's tools and colours: runtime state, not part of the design.
pub struct PatchEditorState {
    pub open: bool,
    pub tool: PaintTool,
    /// Side of the square brush in patch pixels.
    pub brush: u32,
    /// Straight (unpremultiplied) RGBA.
    pub primary: Rgba,
    pub secondary: Rgba,
    /// Flood fill joins pixels whose channels are all within this many levels.
    pub tolerance: u8,
    /// The size of a new patch, and of a resize.
    pub new_size: [u32; 2],
    pub resize_to: [u32; 2],
    stroke: Option<Stroke>,
    /// The patch size `resize_to` was last set from: it follows the patch when that changes.
    sized_for: Option<(u32, u32)>,
    /// The last refusal (a resize too large for the frame, a PNG that is not one).
    pub error: Option<String>,
    /// The last note (e.g. what a PNG was converted from).
    pub note: Option<String>,
    /// Where the pixel grid was drawn, and its screen pixels per patch pixel (tests aim there).
    pub grid: Option<(egui::Rect, f32)>,
    texture: Option<(u64, egui::TextureHandle)>,
}

impl Default for PatchEditorState {
    fn default() -> Self {
        PatchEditorState {
            open: false,
            tool: PaintTool::Brush,
            brush: 1,
            primary: [255, 0, 0, 255],
            secondary: [255, 255, 255, 255],
            tolerance: 0,
            new_size: [16, 16],
            resize_to: [16, 16],
            stroke: None,
            sized_for: None,
            error: None,
            note: None,
            grid: None,
            texture: None,
        }
    }
}

const MAX_BRUSH: u32 = 64;
/// The grid's longest side on screen, in points.
const GRID_SIDE: f32 = 288.0;

/// The patch the editor edits, and whether the trigger pastes it now: the BadNets trigger's
/// painted patch; or the pixels of its colour, checkerboard or noise source, built by core (so
/// the editor starts from what the canvas shows); or else the design's stored patch (the trigger
/// pastes something else, e.g. an image file, until the first edit).
pub fn current_patch(state: &StudioState) -> Option<(Painted, bool)> {
    let d = state.doc.design();
    if let Some(VisualTrigger::Badnets(b)) = &d.spec.visual {
        if let Some(p) = &b.painted {
            return Some((p.clone(), true));
        }
        if b.image.is_none() {
            let (w, h) = b.size.wh();
            let fields = serde_json::json!({
                "color": b.color,
                "checkerboard": b.checkerboard,
                "noise": b.noise,
            });
            let fields = match fields {
                serde_json::Value::Object(m) => {
                    serde_json::Value::Object(m.into_iter().filter(|(_, v)| !v.is_null()).collect())
                }
                other => other,
            };
            if let Some(p) = core_source(w, h, fields, d.spec.seed) {
                return Some((p, true));
            }
        }
    }
    d.patch.clone().map(|p| (p, false))
}

/// Sends an edit of the patch, unless core would refuse it on the clip on screen (a patch
/// larger than the frame): then it is refused in place with core's message. `fit`: a new patch
/// (the spec's size becomes its size).
pub fn send_patch(
    state: &mut StudioState,
    patch: Painted,
    at: Option<[u32; 2]>,
    fit: bool,
    dragging: bool,
) {
    let spec = &state.doc.design().spec;
    let fits =
        crate::core::design::spec_with_patch(spec, &patch, at, fit).and_then(|next| {
            match (&next.visual, state.selected_entry().and_then(|e| e.size())) {
                (Some(VisualTrigger::Badnets(b)), Some((fw, fh))) => {
                    b.position("visual", fw as usize, fh as usize).map(|_| ())
                }
                _ => Ok(()),
            }
        });
    match fits {
        Ok(()) => {
            state.patch_editor.error = None;
            state
                .commands
                .push(UiCommand::Design(DesignCommand::EditPatch {
                    patch,
                    at,
                    fit,
                    dragging,
                }));
        }
        Err(e) => state.patch_editor.error = Some(e.to_string()),
    }
}

/// B, E, G, I, L, R pick a tool; X swaps the colours; [ and ] change the brush size. Only while
/// the editor is open and no text field has the keyboard.
pub fn editor_keys(state: &mut StudioState, ctx: &egui::Context) {
    if !state.patch_editor.open || ctx.egui_wants_keyboard_input() {
        return;
    }
    let ed = &mut state.patch_editor;
    ctx.input(|i| {
        for (tool, _, key) in PaintTool::ALL {
            if i.key_pressed(key) && i.modifiers.is_none() {
                ed.tool = tool;
            }
        }
        if i.key_pressed(egui::Key::X) && i.modifiers.is_none() {
            std::mem::swap(&mut ed.primary, &mut ed.secondary);
        }
        if i.key_pressed(egui::Key::OpenBracket) {
            ed.brush = ed.brush.saturating_sub(1).max(1);
        }
        if i.key_pressed(egui::Key::CloseBracket) {
            ed.brush = (ed.brush + 1).min(MAX_BRUSH);
        }
    });
}

pub fn patch_editor_ui(state: &mut StudioState, ctx: &egui::Context) {
    if !state.patch_editor.open {
        state.patch_editor.grid = None;
        return;
    }
    let mut open = true;
    egui::Window::new("Patch editor")
        .open(&mut open)
        .default_pos(egui::pos2(6.0, 60.0))
        .resizable(false)
        .show(ctx, |ui| editor_body(state, ui));
    if !open {
        state.patch_editor.open = false;
        state.patch_editor.grid = None;
    }
}

fn editor_body(state: &mut StudioState, ui: &mut egui::Ui) {
    let patch = current_patch(state);
    ui.horizontal_wrapped(|ui| {
        let ed = &mut state.patch_editor;
        for (tool, name, key) in PaintTool::ALL {
            ui.selectable_value(&mut ed.tool, tool, name)
                .on_hover_text(format!("shortcut: {}", key.name()));
        }
    });
    ui.horizontal(|ui| {
        let ed = &mut state.patch_editor;
        let l = ui.label("brush");
        ui.add(egui::Slider::new(&mut ed.brush, 1..=MAX_BRUSH).suffix(" px"))
            .labelled_by(l.id)
            .on_hover_text("[ and ] change it");
        if ed.tool == PaintTool::Fill {
            let l = ui.label("tolerance");
            ui.add(egui::DragValue::new(&mut ed.tolerance).range(0..=255))
                .labelled_by(l.id);
        }
    });
    ui.horizontal(|ui| {
        let ed = &mut state.patch_editor;
        let l = ui.label("primary");
        ui.color_edit_button_srgba_unmultiplied(&mut ed.primary)
            .labelled_by(l.id);
        let l = ui.label("secondary");
        ui.color_edit_button_srgba_unmultiplied(&mut ed.secondary)
            .labelled_by(l.id);
        if ui
            .button("Swap")
            .on_hover_text("X: swap primary and secondary")
            .clicked()
        {
            std::mem::swap(&mut ed.primary, &mut ed.secondary);
        }
    });
    ui.label(
        egui::RichText::new(
            "left button: primary · right button: secondary · the eyedropper also picks from the canvas",
        )
        .weak()
        .size(11.0),
    );
    ui.separator();
    if let Some((_, false)) = &patch {
        ui.label(
            egui::RichText::new(
                "The trigger pastes another source now (e.g. an image file); an edit here makes it paste this patch.",
            )
            .weak(),
        );
    }
    match patch.as_ref().map(|(p, _)| p) {
        Some(p) => {
            let ed = &mut state.patch_editor;
            if ed.sized_for != Some((p.width, p.height)) {
                ed.sized_for = Some((p.width, p.height));
                ed.resize_to = [p.width, p.height];
            }
            grid_ui(state, ui, p);
            transforms_ui(state, ui, p);
        }
        None => {
            state.patch_editor.grid = None;
            ui.label("No patch yet: start one below, or pick a region of the video.");
        }
    }
    ui.separator();
    start_ui(state, ui);
    if let Some(e) = &state.patch_editor.error {
        ui.colored_label(ui.visuals().error_fg_color, e);
    }
    if let Some(n) = &state.patch_editor.note {
        ui.label(egui::RichText::new(n).weak());
    }
}

/// The zoomed pixel grid: draws the patch over a checkerboard and takes strokes.
fn grid_ui(state: &mut StudioState, ui: &mut egui::Ui, patch: &Painted) {
    let (w, h) = (patch.width as f32, patch.height as f32);
    let zoom = (GRID_SIDE / w.max(h)).floor().clamp(1.0, 32.0);
    let (rect, response) = ui.allocate_exact_size(
        egui::vec2(w * zoom, h * zoom),
        egui::Sense::click_and_drag(),
    );
    state.patch_editor.grid = Some((rect, zoom));
    let painter = ui.painter_at(rect);
    checkerboard(&painter, rect);
    let rev = state.doc.revision();
    let tex = match &state.patch_editor.texture {
        Some((r, t)) if *r == rev => t.id(),
        _ => {
            let img = egui::ColorImage::from_rgba_unmultiplied(
                [patch.width as usize, patch.height as usize],
                &patch.rgba,
            );
            let t = ui
                .ctx()
                .load_texture("patch-editor", img, egui::TextureOptions::NEAREST);
            let id = t.id();
            state.patch_editor.texture = Some((rev, t));
            id
        }
    };
    let uv = egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0));
    painter.image(tex, rect, uv, egui::Color32::WHITE);
    if zoom >= 6.0 {
        let stroke = egui::Stroke::new(1.0, egui::Color32::from_black_alpha(70));
        for i in 0..=patch.width {
            painter.vline(rect.min.x + i as f32 * zoom, rect.y_range(), stroke);
        }
        for j in 0..=patch.height {
            painter.hline(rect.x_range(), rect.min.y + j as f32 * zoom, stroke);
        }
    }
    let to_px = |p: egui::Pos2| {
        (
            ((p.x - rect.min.x) / zoom).floor() as i64,
            ((p.y - rect.min.y) / zoom).floor() as i64,
        )
    };
    let hover = response.hover_pos().map(to_px);
    // The brush outline under the pointer, so its size is visible before painting.
    if let Some((x, y)) = hover
        && matches!(
            state.patch_editor.tool,
            PaintTool::Brush | PaintTool::Eraser | PaintTool::Line | PaintTool::Rect
        )
    {
        let s = i64::from(state.patch_editor.brush);
        let min = rect.min + egui::vec2((x - s / 2) as f32 * zoom, (y - s / 2) as f32 * zoom);
        painter.rect_stroke(
            egui::Rect::from_min_size(min, egui::vec2(s as f32 * zoom, s as f32 * zoom)),
            0.0,
            egui::Stroke::new(1.0, egui::Color32::YELLOW),
            egui::StrokeKind::Inside,
        );
    }
    let secondary = ui.input(|i| i.pointer.secondary_down())
        || response.clicked_by(egui::PointerButton::Secondary);
    let pressed = response.is_pointer_button_down_on();
    let pos = response.interact_pointer_pos().map(to_px);
    let ed = &mut state.patch_editor;
    let color = if ed.tool == PaintTool::Eraser {
        CLEAR
    } else if secondary {
        ed.secondary
    } else {
        ed.primary
    };
    let (tool, brush, tol) = (ed.tool, ed.brush, ed.tolerance);
    match (tool, pos) {
        (PaintTool::Eyedropper, Some(p)) if pressed || response.clicked() => {
            if let Some(c) = patch.get(p.0, p.1) {
                if secondary {
                    ed.secondary = c;
                } else {
                    ed.primary = c;
                }
            }
        }
        (PaintTool::Fill, Some(p)) if response.clicked() || response.secondary_clicked() => {
            let mut next = patch.clone();
            if next.flood_fill(p.0, p.1, tol, color) > 0 {
                send_patch(state, next, None, false, false);
            }
        }
        (PaintTool::Brush | PaintTool::Eraser | PaintTool::Line | PaintTool::Rect, Some(p))
            if pressed =>
        {
            let stroke = match ed.stroke.take() {
                Some(s) => s,
                None => Stroke {
                    start: p,
                    last: p,
                    before: patch.clone(),
                    color,
                },
            };
            let next = match tool {
                PaintTool::Line => {
                    let mut n = stroke.before.clone();
                    n.line(stroke.start, p, brush, stroke.color);
                    n
                }
                PaintTool::Rect => {
                    let mut n = stroke.before.clone();
                    n.rect_outline(stroke.start, p, brush, stroke.color);
                    n
                }
                _ => {
                    let mut n = patch.clone();
                    n.line(stroke.last, p, brush, stroke.color);
                    n
                }
            };
            state.patch_editor.stroke = Some(Stroke { last: p, ..stroke });
            if &next != patch {
                send_patch(state, next, None, false, true);
            }
        }
        _ => {}
    }
    if !pressed {
        state.patch_editor.stroke = None;
    }
    let size_line = match hover {
        Some((x, y))
            if x >= 0 && y >= 0 && x < i64::from(patch.width) && y < i64::from(patch.height) =>
        {
            let c = patch.get(x, y).unwrap_or(CLEAR);
            format!(
                "{}×{} px · x {x}, y {y} · rgba ({}, {}, {}, {})",
                patch.width, patch.height, c[0], c[1], c[2], c[3]
            )
        }
        _ => format!("{}×{} px", patch.width, patch.height),
    };
    ui.label(egui::RichText::new(size_line).monospace().size(11.0));
}

/// Grey and white squares of 8 points: where the patch is transparent, they show through.
fn checkerboard(painter: &egui::Painter, rect: egui::Rect) {
    let cell = 8.0;
    let (a, b) = (egui::Color32::from_gray(200), egui::Color32::from_gray(150));
    painter.rect_filled(rect, 0.0, a);
    let (nx, ny) = (
        (rect.width() / cell).ceil() as i32,
        (rect.height() / cell).ceil() as i32,
    );
    for j in 0..ny {
        for i in (j % 2..nx).step_by(2) {
            let min = rect.min + egui::vec2(i as f32 * cell, j as f32 * cell);
            let r = egui::Rect::from_min_size(min, egui::vec2(cell, cell)).intersect(rect);
            painter.rect_filled(r, 0.0, b);
        }
    }
}

fn transforms_ui(state: &mut StudioState, ui: &mut egui::Ui, patch: &Painted) {
    let mut next = None;
    ui.horizontal_wrapped(|ui| {
        if ui
            .button("Clear")
            .on_hover_text("make every pixel transparent")
            .clicked()
        {
            next = Some(Painted::blank(patch.width, patch.height, CLEAR));
        }
        if ui.button("Flip horizontally").clicked() {
            next = Some(patch.flip_h());
        }
        if ui.button("Flip vertically").clicked() {
            next = Some(patch.flip_v());
        }
        if ui.button("Rotate 90°").on_hover_text("clockwise").clicked() {
            next = Some(patch.rotate_cw());
        }
    });
    ui.horizontal(|ui| {
        let ed = &mut state.patch_editor;
        let l = ui.label("resize to");
        ui.add(
            egui::DragValue::new(&mut ed.resize_to[0])
                .range(1..=4096)
                .suffix(" px"),
        )
        .labelled_by(l.id);
        ui.label("×");
        ui.add(
            egui::DragValue::new(&mut ed.resize_to[1])
                .range(1..=4096)
                .suffix(" px"),
        );
        if ui
            .button("Resize")
            .on_hover_text("nearest neighbour: pixel art stays crisp")
            .clicked()
        {
            next = Some(patch.resize_nearest(ed.resize_to[0], ed.resize_to[1]));
        }
    });
    if let Some(n) = next
        && &n != patch
    {
        send_patch(state, n, None, false, false);
    }
}

/// New patches: blank, a colour, core's checkerboard and noise, a PNG, a region of the video.
fn start_ui(state: &mut StudioState, ui: &mut egui::Ui) {
    ui.strong("Start from");
    ui.horizontal(|ui| {
        let ed = &mut state.patch_editor;
        let l = ui.label("size");
        ui.add(
            egui::DragValue::new(&mut ed.new_size[0])
                .range(1..=4096)
                .suffix(" px"),
        )
        .labelled_by(l.id);
        ui.label("×");
        ui.add(
            egui::DragValue::new(&mut ed.new_size[1])
                .range(1..=4096)
                .suffix(" px"),
        );
    });
    let [w, h] = state.patch_editor.new_size;
    let mut next = None;
    ui.horizontal_wrapped(|ui| {
        if ui.button("Blank").on_hover_text("transparent").clicked() {
            next = Some(Painted::blank(w, h, CLEAR));
        }
        if ui.button("Colour").on_hover_text("filled with the primary colour").clicked() {
            next = Some(Painted::blank(w, h, state.patch_editor.primary));
        }
        if ui
            .button("Checkerboard")
            .on_hover_text("core's checkerboard source in the two colours, 1 px cells")
            .clicked()
        {
            let (p, s) = (state.patch_editor.primary, state.patch_editor.secondary);
            next = core_source(
                w,
                h,
                serde_json::json!({"checkerboard": {"cell": 1, "colors": [[p[0], p[1], p[2]], [s[0], s[1], s[2]]]}}),
                state.doc.design().spec.seed,
            );
        }
        if ui
            .button("Noise")
            .on_hover_text("core's seeded noise source (the spec's seed)")
            .clicked()
        {
            next = core_source(w, h, serde_json::json!({"noise": {}}), state.doc.design().spec.seed);
        }
        if ui.button("PNG file…").clicked() {
            state.commands.push(UiCommand::ImportPatchDialog);
        }
        let picking = state.canvas_tools.pick;
        if ui
            .selectable_label(picking, "Region of the video")
            .on_hover_text("drag a rectangle on the canvas (Shift: square)")
            .clicked()
        {
            state.canvas_tools.pick = !picking;
        }
        if ui.button("Export PNG…").clicked() {
            state.commands.push(UiCommand::Export(super::state::ExportKind::Patch));
        }
    });
    if let Some(n) = next {
        send_patch(state, n, None, true, false);
    }
}

/// A patch from one of core's sources, built by core at `w`×`h`.
fn core_source(w: u32, h: u32, fields: serde_json::Value, seed: u64) -> Option<Painted> {
    let src: crate::core::trigger::patch::SourceFields = serde_json::from_value(fields).ok()?;
    let (p, _) = src
        .build(
            "visual",
            w as usize,
            h as usize,
            1.0,
            seed,
            &crate::core::assets::NoAssets,
        )
        .ok()?;
    let rgba = p
        .rgb
        .chunks_exact(3)
        .zip(&p.cover)
        .flat_map(|(c, &a)| [c[0], c[1], c[2], (a * 255.0).round() as u8])
        .collect();
    Some(Painted {
        width: w,
        height: h,
        rgba,
    })
}
