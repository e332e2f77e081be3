//! Inspector: facts about the selected clip, and the trigger being designed — its kind and
//! presets, every parameter, temporal placement, the audio trigger and the seed. Every edit is
//! sent as a [`DesignCommand`]; a value core refuses is shown under its field with core's message.

use super::params::{Edits, trigger_fields_ui};
use super::{ClipSource, LoadState, StudioState, UiCommand};
use crate::core::audio_trigger::AudioTrigger;
use crate::core::design::DesignCommand;
use crate::core::placement::{Easing, FrameSelection, Keyframe, Mode, TemporalSpec, Variation};
use crate::core::presets::PRESETS;
use crate::core::trigger::{KINDS, VisualTrigger};
use serde_json::Value;

const VISUAL_KINDS: [&str; 6] = ["badnets", "blend", "sig", "wanet", "ftrojan", "tdba"];
const AUDIO_KINDS: [&str; 5] = ["tone", "noise_burst", "chirp", "ultrasonic", "overlay"];

pub fn inspector_ui(state: &mut StudioState, ui: &mut egui::Ui) {
    ui.heading("Inspector");
    ui.separator();
    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .show(ui, |ui| {
            egui::CollapsingHeader::new("Clip")
                .default_open(true)
                .show(ui, |ui| clip_facts_ui(state, ui));
            // Under the clip it answers for, in view without scrolling.
            egui::CollapsingHeader::new("Model lens")
                .default_open(true)
                .show(ui, |ui| super::lens::lens_ui(state, ui));
            ui.separator();
            trigger_ui(state, ui);
            ui.separator();
            temporal_ui(state, ui);
            ui.separator();
            audio_ui(state, ui);
            ui.separator();
            seed_and_spec_ui(state, ui);
        });
}

fn send(state: &mut StudioState, cmd: DesignCommand) {
    state.commands.push(UiCommand::Design(cmd));
}

fn error_line(ui: &mut egui::Ui, e: &crate::core::SpecError) {
    ui.colored_label(ui.visuals().error_fg_color, e.to_string());
}

fn trigger_ui(state: &mut StudioState, ui: &mut egui::Ui) {
    ui.strong("Trigger");
    let spec = state.doc.design().spec.clone();
    let current = spec.visual.as_ref().map_or("none", VisualTrigger::kind);
    let mut pick = current;
    ui.horizontal(|ui| {
        let label = ui.label("trigger kind");
        let combo = egui::ComboBox::from_id_salt("trigger-kind")
            .selected_text(current)
            // Every kind in view at once (16 rows), no scrolling for the natural ones.
            .height(480.0)
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut pick, "none", "none (audio only)");
                ui.label(egui::RichText::new("visual").weak());
                for k in VISUAL_KINDS {
                    ui.selectable_value(&mut pick, k, k);
                }
                ui.label(egui::RichText::new("natural").weak());
                for k in KINDS.iter().filter(|k| !VISUAL_KINDS.contains(k)) {
                    ui.selectable_value(&mut pick, k, *k);
                }
            });
        let _ = combo.response.labelled_by(label.id);
        if ui
            .button("Reset")
            .on_hover_text("this trigger with core's defaults")
            .clicked()
            && current != "none"
        {
            send(
                state,
                DesignCommand::SetVisual(VisualTrigger::default_of(current)),
            );
        }
    });
    if pick != current {
        send(
            state,
            DesignCommand::SetVisual(VisualTrigger::default_of(pick)),
        );
    }
    ui.horizontal(|ui| {
        let label = ui.label("preset");
        let combo = egui::ComboBox::from_id_salt("trigger-preset")
            .selected_text("choose…")
            .height(480.0)
            .show_ui(ui, |ui| {
                for p in PRESETS {
                    if ui
                        .selectable_label(false, p.name)
                        .on_hover_text(p.source)
                        .clicked()
                    {
                        let mut s = p.spec();
                        s.seed = spec.seed;
                        s.audio = spec.audio.clone();
                        state
                            .commands
                            .push(UiCommand::Design(DesignCommand::SetSpec(s)));
                    }
                }
            });
        let _ = combo.response.labelled_by(label.id);
    });
    let errors = state.spec_errors();
    let errs: Vec<&crate::core::SpecError> = errors.iter().collect();
    let tree = serde_json::to_value(&spec).unwrap_or(Value::Null);
    let painted = state
        .doc
        .design()
        .patch
        .as_ref()
        .and_then(|p| serde_json::to_value(p).ok());
    let mut edits = Edits::default();
    if let Some(Value::Object(obj)) = tree.get("visual") {
        trigger_fields_ui(ui, "visual", obj, &errs, painted.as_ref(), &mut edits);
    }
    if current == "badnets" {
        patch_tools_ui(state, ui);
    }
    // Errors no field claimed (e.g. the spec as a whole) go under the section.
    for e in errs
        .iter()
        .filter(|e| e.field == "visual" || e.field == "input")
    {
        error_line(ui, e);
    }
    if let Some(cmd) = edits.command {
        send(state, cmd);
    }
}

/// Paint or pick the patch, and how it is placed by hand.
fn patch_tools_ui(state: &mut StudioState, ui: &mut egui::Ui) {
    ui.horizontal_wrapped(|ui| {
        if ui
            .button("Paint patch…")
            .on_hover_text("open the patch editor")
            .clicked()
        {
            state.patch_editor.open = true;
        }
        let pick = state.canvas_tools.pick;
        if ui
            .selectable_label(pick, "Pick from video")
            .on_hover_text(
                "drag a rectangle on the canvas: its pixels become the patch (Shift: square)",
            )
            .clicked()
        {
            state.canvas_tools.pick = !pick;
        }
    });
    ui.checkbox(
        &mut state.canvas_tools.pick_in_place,
        "a picked region stays where it was picked",
    )
    .on_hover_text(
        "a natural trigger: the object from this frame appears at its own place on every \
         triggered frame",
    );
    ui.label(
        egui::RichText::new(
            "on the canvas: click the patch, drag it or its corners (Shift: square); arrows nudge (Shift: 10 px)",
        )
        .weak()
        .size(11.0),
    );
}

fn temporal_ui(state: &mut StudioState, ui: &mut egui::Ui) {
    ui.strong("Temporal placement");
    let spec = state.doc.design().spec.clone();
    let t = spec.temporal.clone();
    let mut next = t.clone();
    let frames_label = |f: &FrameSelection| match f {
        FrameSelection::All => "all frames",
        FrameSelection::Range { .. } => "a range",
        FrameSelection::Every { .. } => "every n-th",
        FrameSelection::Random { .. } => "k random",
        FrameSelection::Fraction { .. } => "a fraction p",
    };
    ui.horizontal(|ui| {
        let label = ui.label("frames");
        let combo = egui::ComboBox::from_id_salt("frames-kind")
            .selected_text(frames_label(&t.frames))
            .show_ui(ui, |ui| {
                for f in [
                    FrameSelection::All,
                    FrameSelection::Range { start: 0, len: 8 },
                    FrameSelection::Every { n: 2, offset: 0 },
                    FrameSelection::Random { k: 4 },
                    FrameSelection::Fraction { p: 0.5 },
                ] {
                    let same = std::mem::discriminant(&f) == std::mem::discriminant(&t.frames);
                    if ui.selectable_label(same, frames_label(&f)).clicked() && !same {
                        next.frames = f;
                    }
                }
            });
        let _ = combo.response.labelled_by(label.id);
    });
    let mut dragging = false;
    ui.horizontal(|ui| {
        let mut int = |ui: &mut egui::Ui, label: &str, v: &mut usize| {
            let l = ui.label(label);
            let r = ui.add(egui::DragValue::new(v).speed(0.2)).labelled_by(l.id);
            dragging |= r.dragged();
        };
        match &mut next.frames {
            FrameSelection::All => {}
            FrameSelection::Range { start, len } => {
                int(ui, "start", start);
                int(ui, "len", len);
            }
            FrameSelection::Every { n, offset } => {
                int(ui, "n", n);
                int(ui, "offset", offset);
            }
            FrameSelection::Random { k } => int(ui, "k", k),
            FrameSelection::Fraction { p } => {
                let l = ui.label("p");
                let r = ui
                    .add(egui::DragValue::new(p).speed(0.01).max_decimals(3))
                    .labelled_by(l.id);
                dragging |= r.dragged();
            }
        }
    });
    let keyframe_ctx = KeyframeCtx {
        frame: state.current_frame_index().unwrap_or(0),
        anchored: super::canvas_tools::anchored_position(state).unwrap_or((0, 0)),
    };
    let temporal_already = spec
        .visual
        .as_ref()
        .is_some_and(|v| v.is_temporal_already());
    ui.add_enabled_ui(spec.visual.is_some() && !temporal_already, |ui| {
        ui.horizontal(|ui| {
            ui.label("trigger");
            if ui
                .radio(t.mode == Mode::Static, "static")
                .on_hover_text("the same trigger on every selected frame")
                .clicked()
            {
                next.mode = Mode::Static;
                next.variation = None;
            }
            if ui
                .radio(t.mode == Mode::Dynamic, "dynamic")
                .on_hover_text("the trigger changes from frame to frame")
                .clicked()
            {
                next.mode = Mode::Dynamic;
            }
        });
        if t.mode == Mode::Dynamic {
            variation_ui(ui, &spec, &t, &mut next, &mut dragging, &keyframe_ctx);
        }
    });
    if temporal_already {
        ui.label(
            egui::RichText::new(
                "this trigger is temporal by construction: it acts on the selected frames",
            )
            .weak(),
        );
    }
    for e in state
        .spec_errors()
        .iter()
        .filter(|e| e.field.starts_with("temporal"))
    {
        error_line(ui, e);
    }
    if next != t {
        // A drag of one of these numbers is one undo step: send it as a field edit.
        let cmd = match serde_json::to_value(&next) {
            Ok(v) if dragging => DesignCommand::SetField {
                path: "temporal".into(),
                value: v,
                dragging: true,
            },
            _ => DesignCommand::SetTemporal(next),
        };
        send(state, cmd);
    }
}

/// What a new keyframe needs: the playhead's frame and where the anchor puts the patch.
struct KeyframeCtx {
    frame: usize,
    anchored: (usize, usize),
}

fn variation_ui(
    ui: &mut egui::Ui,
    spec: &crate::core::AttackSpec,
    t: &TemporalSpec,
    next: &mut TemporalSpec,
    dragging: &mut bool,
    kf: &KeyframeCtx,
) {
    let default = spec
        .visual
        .as_ref()
        .and_then(VisualTrigger::default_variation);
    let options: Vec<Variation> = match spec.visual.as_ref().map(VisualTrigger::kind) {
        Some("badnets") => vec![
            Variation::PositionRandom,
            Variation::PositionPath,
            Variation::PositionKeyframes {
                keyframes: vec![Keyframe {
                    frame: 0,
                    x: kf.anchored.0,
                    y: kf.anchored.1,
                }],
                easing: Easing::Linear,
            },
            Variation::NoiseReseed,
        ],
        Some("blend") => vec![
            Variation::Noise,
            Variation::AlphaRamp { from: 0.0, to: 0.2 },
            Variation::AlphaSine {
                min: 0.05,
                max: 0.2,
                period_frames: 8.0,
            },
        ],
        Some("sig") => vec![
            Variation::Phase {
                cycles_per_frame: 0.125,
            },
            Variation::Frequency { from: 4.0, to: 8.0 },
        ],
        Some("wanet") => vec![Variation::Grid],
        Some("ftrojan") => vec![Variation::PositionsCycle],
        _ => vec![],
    };
    let name = |v: &Variation| {
        serde_json::to_value(v)
            .ok()
            .and_then(|j| j.get("kind").and_then(Value::as_str).map(str::to_string))
            .unwrap_or_default()
    };
    let shown = t.variation.clone().or(default);
    ui.horizontal(|ui| {
        let label = ui.label("varies by");
        let combo = egui::ComboBox::from_id_salt("variation")
            .selected_text(
                shown
                    .as_ref()
                    .map(name)
                    .unwrap_or_default()
                    .replace('_', " "),
            )
            .show_ui(ui, |ui| {
                for o in options {
                    let same = shown
                        .as_ref()
                        .is_some_and(|s| std::mem::discriminant(s) == std::mem::discriminant(&o));
                    if ui
                        .selectable_label(same, name(&o).replace('_', " "))
                        .clicked()
                        && !same
                    {
                        next.variation = Some(o);
                    }
                }
            });
        let _ = combo.response.labelled_by(label.id);
    });
    if let Some(v) = next.variation.as_mut() {
        ui.horizontal(|ui| {
            let mut f = |ui: &mut egui::Ui, label: &str, x: &mut f64| {
                let l = ui.label(label);
                let r = ui
                    .add(egui::DragValue::new(x).speed(0.01).max_decimals(3))
                    .labelled_by(l.id);
                *dragging |= r.dragged();
            };
            match v {
                Variation::AlphaRamp { from, to } | Variation::Frequency { from, to } => {
                    f(ui, "from", from);
                    f(ui, "to", to);
                }
                Variation::AlphaSine {
                    min,
                    max,
                    period_frames,
                } => {
                    f(ui, "min", min);
                    f(ui, "max", max);
                    f(ui, "period (frames)", period_frames);
                }
                Variation::Phase { cycles_per_frame } => {
                    f(ui, "cycles per frame", cycles_per_frame)
                }
                _ => {}
            }
        });
        if let Variation::PositionKeyframes { keyframes, easing } = v {
            keyframes_ui(ui, keyframes, easing, dragging, kf);
        }
    }
}

/// The keyframe list: frame, x, y of each (editable), remove; add one at the playhead; easing.
fn keyframes_ui(
    ui: &mut egui::Ui,
    keyframes: &mut Vec<Keyframe>,
    easing: &mut Easing,
    dragging: &mut bool,
    kf: &KeyframeCtx,
) {
    ui.horizontal(|ui| {
        let l = ui.label("easing");
        ui.radio_value(easing, Easing::Linear, "linear")
            .labelled_by(l.id);
        ui.radio_value(easing, Easing::Smooth, "smooth")
            .on_hover_text("smoothstep: starts and stops gently");
    });
    let mut remove = None;
    egui::Grid::new("keyframes").num_columns(4).show(ui, |ui| {
        ui.label(egui::RichText::new("frame").weak());
        ui.label(egui::RichText::new("x").weak());
        ui.label(egui::RichText::new("y").weak());
        ui.end_row();
        let n = keyframes.len();
        for (i, k) in keyframes.iter_mut().enumerate() {
            for v in [&mut k.frame, &mut k.x, &mut k.y] {
                *dragging |= ui.add(egui::DragValue::new(v).speed(0.2)).dragged();
            }
            if ui
                .add_enabled(n > 1, egui::Button::new("Remove"))
                .on_hover_text("remove this keyframe")
                .clicked()
            {
                remove = Some(i);
            }
            ui.end_row();
        }
    });
    if let Some(i) = remove {
        keyframes.remove(i);
    }
    if ui
        .button("Add keyframe at playhead")
        .on_hover_text(
            "at this frame, where the path puts the patch now; then drag it on the canvas",
        )
        .clicked()
    {
        let (x, y) = crate::core::placement::keyframe_position(keyframes, *easing, kf.frame)
            .unwrap_or(kf.anchored);
        *keyframes = super::canvas_tools::with_keyframe(
            keyframes,
            Keyframe {
                frame: kf.frame,
                x,
                y,
            },
        );
    }
    ui.label(
        egui::RichText::new("drag the patch on the canvas to place it at this frame")
            .weak()
            .size(11.0),
    );
}

fn audio_ui(state: &mut StudioState, ui: &mut egui::Ui) {
    ui.strong("Audio trigger");
    let spec = state.doc.design().spec.clone();
    let current = spec.audio.as_ref().map_or("none", AudioTrigger::kind);
    let mut pick = current;
    ui.horizontal(|ui| {
        let label = ui.label("audio kind");
        let combo = egui::ComboBox::from_id_salt("audio-kind")
            .selected_text(current)
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut pick, "none", "none");
                for k in AUDIO_KINDS {
                    ui.selectable_value(&mut pick, k, k);
                }
            });
        let _ = combo.response.labelled_by(label.id);
    });
    if pick != current {
        let trigger = match pick {
            "none" => None,
            "tone" => {
                serde_json::from_value(serde_json::json!({"kind": "tone", "freq_hz": 1000.0})).ok()
            }
            "ultrasonic" => serde_json::from_value(
                serde_json::json!({"kind": "ultrasonic", "freq_hz": 19000.0}),
            )
            .ok(),
            "chirp" => serde_json::from_value(
                serde_json::json!({"kind": "chirp", "f0_hz": 500.0, "f1_hz": 4000.0}),
            )
            .ok(),
            "overlay" => serde_json::from_value(
                serde_json::json!({"kind": "overlay", "path": "overlay.wav"}),
            )
            .ok(),
            k => serde_json::from_value(serde_json::json!({ "kind": k })).ok(),
        };
        send(state, DesignCommand::SetAudio(trigger));
    }
    let errors = state.spec_errors();
    let errs: Vec<&crate::core::SpecError> = errors.iter().collect();
    let tree = serde_json::to_value(&spec).unwrap_or(Value::Null);
    let mut edits = Edits::default();
    if let Some(Value::Object(obj)) = tree.get("audio") {
        trigger_fields_ui(ui, "audio", obj, &errs, None, &mut edits);
    }
    for e in errs.iter().filter(|e| e.field == "audio") {
        error_line(ui, e);
    }
    if let Some(cmd) = edits.command {
        send(state, cmd);
    }
}

fn seed_and_spec_ui(state: &mut StudioState, ui: &mut egui::Ui) {
    let label = ui.strong("Seed");
    let mut seed = state.doc.design().spec.seed;
    ui.horizontal(|ui| {
        let r = ui
            .add(egui::DragValue::new(&mut seed).speed(1.0))
            .labelled_by(label.id);
        if r.changed() {
            send(state, DesignCommand::SetSeed(seed));
        }
        if ui
            .button("New seed")
            .on_hover_text("the next seed of a fixed sequence, recorded in the spec")
            .clicked()
        {
            send(state, DesignCommand::SetSeed(next_seed(seed)));
        }
    });
    ui.separator();
    ui.strong("Spec");
    ui.horizontal_wrapped(|ui| {
        if ui.button("Copy as TOML").clicked() {
            state.commands.push(UiCommand::CopySpecToml);
        }
        if ui.button("Save spec…").clicked() {
            state.commands.push(UiCommand::SaveSpecDialog);
        }
        if ui.button("Load spec…").clicked() {
            state.commands.push(UiCommand::LoadSpecDialog);
        }
        if ui
            .button("Use in experiment")
            .on_hover_text("put this attack into the Experiments tab's spec")
            .clicked()
        {
            state.commands.push(UiCommand::UseInExperiment);
        }
    });
}

/// A fixed, reproducible sequence (SplitMix64), so "new seed" is itself deterministic.
pub fn next_seed(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)) >> 32
}

fn clip_facts_ui(state: &StudioState, ui: &mut egui::Ui) {
    let Some(entry) = state.selected_entry() else {
        ui.label(egui::RichText::new("no clip selected").weak());
        return;
    };
    egui::Grid::new("clip-facts")
        .num_columns(2)
        .striped(true)
        .show(ui, |ui| {
            let source = match &entry.source {
                ClipSource::Demo => "procedural demo (in memory)".to_string(),
                ClipSource::Synth { class, index } => {
                    format!("SynthMotion (procedural, in memory): class {class}, clip {index}")
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
                (LoadState::Ready, ClipSource::File(_)) => "streaming from disk".to_string(),
                (LoadState::Ready, _) => "in memory".to_string(),
                (LoadState::Failed(e), _) => format!("failed: {e}"),
            };
            row(ui, "Loaded", &load);
            if let Some(w) = &entry.warning {
                row(ui, "Warning", w);
            }
        });
}

fn row(ui: &mut egui::Ui, key: &str, value: &str) {
    ui.label(key);
    ui.add(egui::Label::new(value).wrap());
    ui.end_row();
}
