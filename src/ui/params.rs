//! A widget for every parameter a trigger spec has, built from the spec's own JSON form: each
//! field of the serialised trigger gets a widget by its type and name, and an edit goes back as
//! a [`DesignCommand::SetField`] that core parses — so every parameter core knows is editable,
//! and a refused value gets core's own message, shown under the field.

use crate::core::SpecError;
use crate::core::design::DesignCommand;
use serde_json::{Map, Value, json};

/// Unit, default/range note and a one-line explanation of a field, by trigger kind and name.
pub fn field_doc(kind: &str, key: &str) -> (&'static str, &'static str) {
    match (kind, key) {
        (_, "size") => ("px", "Side of the patch (or [width, height]). Default 16."),
        (_, "anchor") => (
            "",
            "Where the patch sits: a corner, the centre, or x/y pixels. Default bottom right.",
        ),
        (_, "margin") => ("px", "Gap between the patch and the frame edge. Default 0."),
        (_, "opacity") => (
            "",
            "1 replaces the pixels; below 1 blends the patch over them. Range 0–1, default 1.",
        ),
        (_, "color") if kind == "noise_burst" => ("", "White or pink noise."),
        (_, "color") => ("RGB", "The patch's solid colour. Default white."),
        (_, "checkerboard") => ("", "A two-colour checkerboard patch."),
        (_, "cell") => ("px", "Side of one checkerboard square. Default 1."),
        (_, "colors") => ("RGB", "The checkerboard's two colours."),
        (_, "noise") => ("", "A seeded random-noise patch."),
        (_, "image") => (
            "file",
            "An image file; a relative path resolves against the project's folder.",
        ),
        (_, "painted") => ("", "The patch painted or picked in the studio."),
        ("blend", "alpha") => (
            "",
            "α: weight of the pattern, x' = (1−α)x + αt. Range 0–1, default 0.1.",
        ),
        ("blend", "pattern") => ("", "The blended pattern: seeded noise or an image file."),
        ("sig", "delta") => (
            "levels",
            "δ: amplitude of the sinusoid in 0–255 levels. Default 20.",
        ),
        ("sig", "freq") => ("cycles", "f: stripes across the frame's width. Default 6."),
        ("wanet", "k") => ("", "k: control grid size (k×k). Default 4."),
        ("wanet", "s") => ("", "s: warp strength. Default 0.5."),
        ("wanet", "grid_rescale") => ("", "Scales the grid after normalising. Default 1."),
        ("wanet", "control_grid") => ("", "An explicit [2][k][k] control grid."),
        ("wanet", "seed") => ("", "The grid's own seed; absent: the attack's seed."),
        ("wanet", "noise_mode") => (
            "",
            "WaNet's noise-mode (cross) grid instead of the attack grid.",
        ),
        ("ftrojan", "window") => ("px", "DCT block size. Default 32."),
        ("ftrojan", "magnitude") => ("", "Added to each chosen DCT coefficient. Default 30."),
        ("ftrojan", "positions") => (
            "[row, col]",
            "Coefficients in each block; default a mid and the highest frequency.",
        ),
        ("ftrojan", "channels") => ("", "YCrCb channels carrying the trigger. Default Cr, Cb."),
        ("tdba", "pert") => ("levels", "Perturbation added per coefficient."),
        ("tdba", "temporal") => ("", "Temporal DCT frequencies used."),
        ("tdba", "spatial") => ("[u, v]", "Spatial DCT frequencies used."),
        ("tdba", "channels") => ("", "RGB channels carrying the trigger."),
        ("frame_lag", "mode") => (
            "",
            "freeze: a selected frame repeats the previous one; drop: it is skipped.",
        ),
        ("motion_blur", "length") => ("px", "Blur kernel length."),
        ("motion_blur", "angle_deg") => ("°", "Direction of motion, anticlockwise from +x."),
        ("jpeg", "quality") => ("1–100", "JPEG quality of the re-encoded frames."),
        ("flicker", "amplitude") => ("", "Relative brightness swing, 0–1."),
        ("flicker", "period_frames") => ("frames", "Frames per brightness cycle."),
        ("shake", "amplitude_px") => ("px", "Largest camera shake offset."),
        ("color_cast", "gains") => ("×", "Per-channel R, G, B gains."),
        (_, "freq_hz") => ("Hz", "Tone frequency."),
        (_, "level_dbfs") => ("dBFS", "Peak level relative to full scale. Default −20."),
        (_, "duration_secs") => ("s", "Length of the trigger. Default 0.5."),
        (_, "fade_secs") => ("s", "Raised-cosine fade in and out. Default 0.005."),
        (_, "placement") => (
            "",
            "Where the trigger starts: start, middle, end, random or at a time.",
        ),
        (_, "snr_db") => ("dB", "Signal-to-noise ratio against the clip's audio."),
        (_, "f0_hz") => ("Hz", "Chirp start frequency."),
        (_, "f1_hz") => ("Hz", "Chirp end frequency."),
        (_, "gain_db") => ("dB", "Gain applied to the overlay."),
        (_, "path") => (
            "file",
            "Audio file to overlay; relative to the project's folder.",
        ),
        (_, "samples") => ("", "Inline overlay samples."),
        (_, "sample_rate_hz") => ("Hz", "Rate of the inline samples."),
        _ => ("", ""),
    }
}

/// Choices for string-valued fields.
fn choices(kind: &str, key: &str) -> Option<&'static [&'static str]> {
    Some(match (kind, key) {
        ("frame_lag", "mode") => &["freeze", "drop"],
        ("noise_burst", "color") => &["white", "pink"],
        ("ftrojan", "channels") => &["y", "cr", "cb"],
        ("tdba", "channels") => &["r", "g", "b"],
        _ => return None,
    })
}

const ANCHORS: [&str; 5] = [
    "bottom_right",
    "bottom_left",
    "top_right",
    "top_left",
    "center",
];
const PLACEMENTS: [&str; 4] = ["start", "middle", "end", "random"];
const SOURCES: [(&str, &str); 5] = [
    ("color", "colour"),
    ("checkerboard", "checkerboard"),
    ("noise", "noise"),
    ("image", "image file"),
    ("painted", "painted"),
];

/// Errors that belong under the field at `path`.
fn errors_for<'a>(errors: &[&'a SpecError], path: &str) -> Vec<&'a SpecError> {
    errors
        .iter()
        .copied()
        .filter(|e| {
            e.field == path
                || e.field.starts_with(&format!("{path}."))
                || e.field.starts_with(&format!("{path}["))
        })
        .collect()
}

/// The field label widgets in the current row are named by (for screen readers and tests).
fn label_key() -> egui::Id {
    egui::Id::NULL.with("triggerlab-field-label")
}

/// Names `r` by the current row's label.
fn named(ui: &egui::Ui, r: egui::Response) -> egui::Response {
    match ui.data(|d| d.get_temp::<egui::Id>(label_key())) {
        Some(label) => r.labelled_by(label),
        None => r,
    }
}

/// The editor's output: at most one edit per frame.
#[derive(Default)]
pub struct Edits {
    pub command: Option<DesignCommand>,
}

impl Edits {
    fn set(&mut self, path: &str, value: Value, dragging: bool) {
        self.command = Some(DesignCommand::SetField {
            path: path.to_string(),
            value,
            dragging,
        });
    }
}

/// Editors for the fields of a trigger object (`{kind, …}`) at `prefix` (`visual`, `audio`).
/// `painted` is the design's painted patch, offered as a patch source.
pub fn trigger_fields_ui(
    ui: &mut egui::Ui,
    prefix: &str,
    obj: &Map<String, Value>,
    errors: &[&SpecError],
    painted: Option<&Value>,
    out: &mut Edits,
) {
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
    let has_source = matches!(kind, "badnets");
    egui::Grid::new(format!("fields-{prefix}"))
        .num_columns(2)
        .spacing([8.0, 4.0])
        .show(ui, |ui| {
            if has_source {
                patch_source_ui(ui, prefix, obj, painted, out);
                ui.end_row();
            }
            for (key, value) in obj {
                if key == "kind" || (has_source && SOURCES.iter().any(|(k, _)| k == key)) {
                    // The patch source's own fields are shown below its selector.
                    if has_source && key != "kind" && key != "painted" {
                        let path = format!("{prefix}.{key}");
                        field_row(ui, kind, key, &path, value, errors, out);
                    }
                    continue;
                }
                let path = format!("{prefix}.{key}");
                field_row(ui, kind, key, &path, value, errors, out);
            }
            optional_fields_ui(ui, kind, prefix, obj, out);
        });
}

fn field_row(
    ui: &mut egui::Ui,
    kind: &str,
    key: &str,
    path: &str,
    value: &Value,
    errors: &[&SpecError],
    out: &mut Edits,
) {
    let (unit, tip) = field_doc(kind, key);
    let label = if unit.is_empty() {
        key.replace('_', " ")
    } else {
        format!("{} ({unit})", key.replace('_', " "))
    };
    let r = ui.label(label);
    ui.data_mut(|d| d.insert_temp(label_key(), r.id));
    if !tip.is_empty() {
        r.on_hover_text(tip);
    }
    ui.vertical(|ui| {
        value_ui(ui, kind, key, path, value, out);
        for e in errors_for(errors, path) {
            ui.colored_label(ui.visuals().error_fg_color, e.to_string());
        }
    });
    ui.end_row();
}

/// The widget for one value, by its JSON type and the field's name.
fn value_ui(ui: &mut egui::Ui, kind: &str, key: &str, path: &str, value: &Value, out: &mut Edits) {
    match (key, value) {
        ("color" | "colors", Value::Array(a)) if is_rgb(value) => {
            let mut c = rgb_of(a);
            if ui.color_edit_button_srgb(&mut c).changed() {
                out.set(path, json!(c), false);
            }
        }
        ("colors", Value::Array(items)) => {
            ui.horizontal(|ui| {
                for (i, item) in items.iter().enumerate() {
                    if let Value::Array(a) = item {
                        let mut c = rgb_of(a);
                        if ui.color_edit_button_srgb(&mut c).changed() {
                            out.set(&format!("{path}[{i}]"), json!(c), false);
                        }
                    }
                }
            });
        }
        ("anchor", _) => anchor_ui(ui, path, value, out),
        ("placement", _) => placement_ui(ui, path, value, out),
        ("pattern", Value::Object(m)) => {
            let current = if m.contains_key("image") {
                "image"
            } else {
                "noise"
            };
            let mut pick = current;
            let combo = egui::ComboBox::from_id_salt(path)
                .selected_text(current)
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut pick, "noise", "noise");
                    ui.selectable_value(&mut pick, "image", "image file");
                });
            let _ = named(ui, combo.response);
            if pick != current {
                let v = if pick == "image" {
                    json!({"image": "pattern.png"})
                } else {
                    json!({"noise": {}})
                };
                out.set(path, v, false);
            }
            if let Some(Value::String(p)) = m.get("image") {
                let mut text = p.clone();
                let r = ui.text_edit_singleline(&mut text);
                let r = named(ui, r);
                // The text is rebuilt from the spec every frame, so each keystroke is sent (an
                // edit sent only on focus loss would be lost as it is typed).
                if r.changed() {
                    out.set(&format!("{path}.image"), json!(text), false);
                }
            }
        }
        ("size", Value::Array(a)) if a.len() == 2 => {
            ui.horizontal(|ui| {
                for (i, v) in a.iter().enumerate() {
                    number_ui(ui, &format!("{path}[{i}]"), v, "", out);
                }
                if ui.small_button("square").clicked() {
                    out.set(path, a[0].clone(), false);
                }
            });
        }
        ("size", Value::Number(_)) => {
            ui.horizontal(|ui| {
                number_ui(ui, path, value, "px", out);
                if ui.small_button("w×h").clicked() {
                    out.set(path, json!([value, value]), false);
                }
            });
        }
        (_, Value::Array(items)) if choices(kind, key).is_some() => {
            let options = choices(kind, key).unwrap_or_default();
            ui.horizontal(|ui| {
                for o in options {
                    let mut on = items.iter().any(|v| v.as_str() == Some(o));
                    if ui.checkbox(&mut on, *o).changed() {
                        let next: Vec<Value> = options
                            .iter()
                            .filter(|x| {
                                if *x == o {
                                    on
                                } else {
                                    items.iter().any(|v| v.as_str() == Some(x))
                                }
                            })
                            .map(|x| json!(x))
                            .collect();
                        out.set(path, Value::Array(next), false);
                    }
                }
            });
        }
        (_, Value::String(s)) if choices(kind, key).is_some() => {
            let mut pick = s.clone();
            let combo = egui::ComboBox::from_id_salt(path)
                .selected_text(s.as_str())
                .show_ui(ui, |ui| {
                    for o in choices(kind, key).unwrap_or_default() {
                        ui.selectable_value(&mut pick, o.to_string(), *o);
                    }
                });
            let _ = named(ui, combo.response);
            if pick != *s {
                out.set(path, json!(pick), false);
            }
        }
        (_, Value::Number(_)) => number_ui(ui, path, value, "", out),
        (_, Value::Bool(b)) => {
            let mut on = *b;
            let r = ui.checkbox(&mut on, "");
            if named(ui, r).changed() {
                out.set(path, json!(on), false);
            }
        }
        (_, Value::String(s)) => {
            let mut text = s.clone();
            let r = ui.text_edit_singleline(&mut text);
            let r = named(ui, r);
            if r.changed() || r.lost_focus() {
                out.set(path, json!(text), false);
            }
        }
        (_, Value::Array(items)) => {
            // Fixed-length lists in core (per-channel values): no add/remove, channel names.
            let per_channel = matches!((kind, key), ("color_cast", "gains")) && items.len() == 3;
            ui.vertical(|ui| {
                for (i, item) in items.iter().enumerate() {
                    ui.horizontal(|ui| {
                        let p = format!("{path}[{i}]");
                        if per_channel {
                            ui.label(["R", "G", "B"][i]);
                        }
                        match item {
                            Value::Array(inner) => {
                                for (j, v) in inner.iter().enumerate() {
                                    if v.is_number() {
                                        number_ui(ui, &format!("{p}[{j}]"), v, "", out);
                                    }
                                }
                            }
                            v if v.is_number() => number_ui(ui, &p, v, "", out),
                            other => {
                                ui.label(other.to_string());
                            }
                        }
                        if !per_channel
                            && items.len() > 1
                            && ui.small_button("−").on_hover_text("remove").clicked()
                        {
                            let mut next = items.clone();
                            next.remove(i);
                            out.set(path, Value::Array(next), false);
                        }
                    });
                }
                if let Some(last) = items.last()
                    && !per_channel
                    && ui
                        .small_button("+")
                        .on_hover_text("add one like the last")
                        .clicked()
                {
                    let mut next = items.clone();
                    next.push(last.clone());
                    out.set(path, Value::Array(next), false);
                }
            });
        }
        (_, Value::Object(m)) => {
            ui.vertical(|ui| {
                for (k, v) in m {
                    ui.horizontal(|ui| {
                        ui.label(k.replace('_', " "));
                        value_ui(ui, kind, k, &format!("{path}.{k}"), v, out);
                    });
                }
                if m.is_empty() {
                    ui.label(egui::RichText::new("defaults").weak());
                }
            });
        }
        (_, Value::Null) => {
            ui.label(egui::RichText::new("default").weak());
        }
    }
}

fn is_rgb(v: &Value) -> bool {
    v.as_array()
        .is_some_and(|a| a.len() == 3 && a.iter().all(|x| x.as_u64().is_some_and(|n| n <= 255)))
}

fn rgb_of(a: &[Value]) -> [u8; 3] {
    let c = |i: usize| {
        a.get(i)
            .and_then(Value::as_u64)
            .map_or(0, |v| v.min(255) as u8)
    };
    [c(0), c(1), c(2)]
}

/// A number: integers stay integers (core's parser refuses 3.0 for a pixel count), floats get
/// a drag speed relative to their size. No clamping: an out-of-range value is shown with core's
/// message instead of being silently changed.
fn number_ui(ui: &mut egui::Ui, path: &str, value: &Value, suffix: &str, out: &mut Edits) {
    let r = if let Some(i) = value.as_i64().filter(|_| !value.is_f64()) {
        let mut v = i;
        let r = ui.add(egui::DragValue::new(&mut v).speed(0.2).suffix(suffix));
        let r = named(ui, r);
        if r.changed() {
            out.set(path, json!(v), r.dragged());
        }
        r
    } else {
        let f = value.as_f64().unwrap_or(0.0);
        let mut v = f;
        let speed = (f.abs() * 0.01).max(0.001);
        let r = ui.add(
            egui::DragValue::new(&mut v)
                .speed(speed)
                .max_decimals(4)
                .suffix(suffix),
        );
        let r = named(ui, r);
        if r.changed() {
            out.set(path, json!(v), r.dragged());
        }
        r
    };
    r.on_hover_text(path);
}

fn anchor_ui(ui: &mut egui::Ui, path: &str, value: &Value, out: &mut Edits) {
    let current = value.as_str().unwrap_or("at");
    let mut pick = current.to_string();
    // x and y under the menu, not beside it: a wider row would widen the inspector, and the
    // canvas would move under a patch being dragged.
    ui.vertical(|ui| {
        let combo = egui::ComboBox::from_id_salt(path)
            .selected_text(current.replace('_', " "))
            .show_ui(ui, |ui| {
                for a in ANCHORS {
                    ui.selectable_value(&mut pick, a.to_string(), a.replace('_', " "));
                }
                ui.selectable_value(&mut pick, "at".to_string(), "at x, y");
            });
        let _ = named(ui, combo.response);
        if let Value::Object(m) = value {
            ui.horizontal(|ui| {
                for k in ["x", "y"] {
                    ui.label(k);
                    number_ui(
                        ui,
                        &format!("{path}.{k}"),
                        m.get(k).unwrap_or(&json!(0)),
                        "",
                        out,
                    );
                }
            });
        }
    });
    if pick != current {
        let v = if pick == "at" {
            json!({"x": 0, "y": 0})
        } else {
            json!(pick)
        };
        out.set(path, v, false);
    }
}

fn placement_ui(ui: &mut egui::Ui, path: &str, value: &Value, out: &mut Edits) {
    let current = value.as_str().unwrap_or("at");
    let mut pick = current.to_string();
    ui.horizontal(|ui| {
        let combo = egui::ComboBox::from_id_salt(path)
            .selected_text(current)
            .show_ui(ui, |ui| {
                for a in PLACEMENTS {
                    ui.selectable_value(&mut pick, a.to_string(), a);
                }
                ui.selectable_value(&mut pick, "at".to_string(), "at a time");
            });
        let _ = named(ui, combo.response);
        if let Value::Object(m) = value {
            number_ui(
                ui,
                &format!("{path}.at"),
                m.get("at").unwrap_or(&json!(0.0)),
                " s",
                out,
            );
        }
    });
    if pick != current {
        let v = if pick == "at" {
            json!({"at": 0.0})
        } else {
            json!(pick)
        };
        out.set(path, v, false);
    }
}

/// BadNets' patch source: exactly one of colour, checkerboard, noise, image, painted.
fn patch_source_ui(
    ui: &mut egui::Ui,
    prefix: &str,
    obj: &Map<String, Value>,
    painted: Option<&Value>,
    out: &mut Edits,
) {
    let current = SOURCES
        .iter()
        .find(|(k, _)| obj.contains_key(*k))
        .map_or("color", |(k, _)| *k);
    let l = ui
        .label("patch source")
        .on_hover_text("What the patch is made of: one of these.");
    ui.data_mut(|d| d.insert_temp(label_key(), l.id));
    let mut pick = current;
    let combo = egui::ComboBox::from_id_salt(format!("{prefix}-source"))
        .selected_text(
            SOURCES
                .iter()
                .find(|(k, _)| *k == current)
                .map_or("", |s| s.1),
        )
        .show_ui(ui, |ui| {
            for (k, name) in SOURCES {
                if k == "painted" && painted.is_none() {
                    continue;
                }
                ui.selectable_value(&mut pick, k, name);
            }
        });
    let _ = named(ui, combo.response);
    if pick != current {
        let mut next = obj.clone();
        for (k, _) in SOURCES {
            next.remove(k);
        }
        let v = match pick {
            "color" => json!([255, 255, 255]),
            "checkerboard" => json!({"cell": 2, "colors": [[0, 0, 0], [255, 255, 255]]}),
            "noise" => json!({}),
            "image" => json!("patch.png"),
            _ => painted.cloned().unwrap_or(Value::Null),
        };
        next.insert(pick.to_string(), v);
        out.set(prefix, Value::Object(next), false);
    }
}

/// Fields core leaves out when they hold their default, offered so they can be set.
fn optional_fields_ui(
    ui: &mut egui::Ui,
    kind: &str,
    prefix: &str,
    obj: &Map<String, Value>,
    out: &mut Edits,
) {
    if kind == "wanet" && !obj.contains_key("seed") {
        ui.label("seed").on_hover_text(field_doc(kind, "seed").1);
        if ui.button("own grid seed").clicked() {
            out.set(&format!("{prefix}.seed"), json!(0), false);
        }
        ui.end_row();
    }
    if kind == "ftrojan" && !obj.contains_key("positions") {
        ui.label("positions")
            .on_hover_text(field_doc(kind, "positions").1);
        if ui.button("edit positions").clicked() {
            let n = obj
                .get("window")
                .and_then(Value::as_u64)
                .unwrap_or(32)
                .max(2);
            out.set(
                &format!("{prefix}.positions"),
                json!([[n / 2 - 1, n / 2 - 1], [n - 1, n - 1]]),
                false,
            );
        }
        ui.end_row();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_attach_to_their_field_and_its_children_only() {
        let a = SpecError::new("visual.alpha", "too big");
        let b = SpecError::new("visual.size[1]", "zero");
        let errs = [&a, &b];
        assert_eq!(errors_for(&errs, "visual.alpha").len(), 1);
        assert_eq!(errors_for(&errs, "visual.size").len(), 1);
        assert!(errors_for(&errs, "visual.alph").is_empty());
    }
}
