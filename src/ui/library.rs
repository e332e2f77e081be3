//! Library panel: the clips the studio knows about, and where more come from (files, dataset
//! folders opened by dialog, drag-and-drop or `--dataset`, the recent list).

use super::library_state::LibraryView;
use super::{ClipSource, LoadState, StudioState, UiCommand};
use crate::jobs::library::{RecentKind, THUMB_SIDE};
use std::path::PathBuf;

/// Height of one dataset clip row (its thumbnail and name).
const ROW_HEIGHT: f32 = 34.0;

pub fn library_ui(state: &mut StudioState, ui: &mut egui::Ui) {
    ui.heading("Library");
    ui.horizontal_wrapped(|ui| {
        if ui
            .button("Open video…")
            .on_hover_text("Pick a video file (any format FFmpeg reads); it streams as it plays")
            .clicked()
        {
            state.commands.push(UiCommand::OpenVideoDialog);
        }
        if ui
            .button("Open dataset folder…")
            .on_hover_text("UCF-101, HMDB-51, a list file or one folder per class")
            .clicked()
        {
            state.commands.push(UiCommand::OpenDatasetDialog);
        }
    });
    ui.separator();
    let mut clicked = None;
    // Open datasets get the lower part of the panel; without them the clips have most of it.
    let no_datasets = state.library.datasets.is_empty() && state.library.loading.is_empty();
    let share = if no_datasets { 0.75 } else { 0.3 };
    egui::ScrollArea::vertical()
        .id_salt("library-clips")
        .max_height(ui.available_height() * share)
        .show(ui, |ui| {
            let synth: Vec<usize> = (0..state.clips.len())
                .filter(|&i| matches!(state.clips[i].source, ClipSource::Synth { .. }))
                .collect();
            let others: Vec<usize> = (0..state.clips.len()).filter(|i| !synth.contains(i)).collect();
            egui::CollapsingHeader::new("SynthMotion (procedural)")
                .default_open(true)
                .show(ui, |ui| {
                    if synth.is_empty() {
                        ui.spinner();
                    }
                    // One header per class (motion), its clips inside.
                    let mut classes: Vec<&str> = Vec::new();
                    for &i in &synth {
                        if let ClipSource::Synth { class, .. } = &state.clips[i].source
                            && !classes.contains(&class.as_str())
                        {
                            classes.push(class);
                        }
                    }
                    let selected_class = state.selected_entry().and_then(|e| match &e.source {
                        ClipSource::Synth { class, .. } => Some(class.clone()),
                        _ => None,
                    });
                    for class in classes {
                        let members: Vec<usize> = synth
                            .iter()
                            .copied()
                            .filter(|&i| matches!(&state.clips[i].source, ClipSource::Synth { class: c, .. } if c == class))
                            .collect();
                        egui::CollapsingHeader::new(format!("{class} ({})", members.len()))
                            .id_salt(class)
                            .default_open(selected_class.as_deref() == Some(class))
                            .show(ui, |ui| {
                                for &i in &members {
                                    if entry_ui(state, ui, i) {
                                        clicked = Some(i);
                                    }
                                }
                            });
                    }
                });
            ui.label("Clips");
            for &i in &others {
                if entry_ui(state, ui, i) {
                    clicked = Some(i);
                }
            }
        });
    if let Some(i) = clicked {
        state.select(i);
    }
    ui.separator();
    recent_ui(state, ui);
    ui.label("Datasets on disk");
    datasets_ui(state, ui);
}

/// Files dropped on the window go to the app (a folder opens as a dataset, a file as a video);
/// while files hover, a hint says so.
pub fn dropped_files(state: &mut StudioState, ctx: &egui::Context) {
    let (dropped, hovering) = ctx.input(|i| {
        let d: Vec<PathBuf> = i
            .raw
            .dropped_files
            .iter()
            .map(|f| f.path().to_path_buf())
            .filter(|p| !p.as_os_str().is_empty())
            .collect();
        (d, !i.raw.hovered_files.is_empty())
    });
    if !dropped.is_empty() {
        state.commands.push(UiCommand::OpenDropped(dropped));
    }
    if hovering {
        let rect = ctx.content_rect();
        let painter = ctx.layer_painter(egui::LayerId::new(
            egui::Order::Foreground,
            egui::Id::unique("drop-hint"),
        ));
        painter.rect_filled(rect, 0.0, egui::Color32::from_black_alpha(160));
        painter.text(
            rect.center(),
            egui::Align2::CENTER_CENTER,
            "Drop a dataset folder or video files",
            egui::FontId::proportional(22.0),
            egui::Color32::WHITE,
        );
    }
}

fn recent_ui(state: &mut StudioState, ui: &mut egui::Ui) {
    if state.library.recent.is_empty() {
        return;
    }
    let mut open = None;
    egui::CollapsingHeader::new(format!("Recent ({})", state.library.recent.len()))
        .id_salt("library-recent")
        .show(ui, |ui| {
            for item in &state.library.recent {
                let name = item.path.file_name().map_or_else(
                    || item.path.display().to_string(),
                    |n| n.to_string_lossy().into_owned(),
                );
                let kind = match item.kind {
                    RecentKind::Dataset => "folder",
                    RecentKind::Video => "video",
                };
                if ui
                    .selectable_label(false, format!("{name} ({kind})"))
                    .on_hover_text(item.path.display().to_string())
                    .clicked()
                {
                    open = Some(item.clone());
                }
            }
        });
    if let Some(item) = open {
        state.commands.push(match item.kind {
            RecentKind::Dataset => UiCommand::OpenDataset(item.path),
            RecentKind::Video => UiCommand::OpenVideo(item.path),
        });
    }
}

fn datasets_ui(state: &mut StudioState, ui: &mut egui::Ui) {
    let selected: Option<PathBuf> = state.selected_entry().and_then(|e| match &e.source {
        ClipSource::File(p) => Some(p.clone()),
        _ => None,
    });
    let StudioState {
        library, commands, ..
    } = state;
    library.want_thumbs.clear();
    for (root, progress) in &library.loading {
        ui.horizontal(|ui| {
            ui.spinner();
            let name = root.file_name().map_or_else(
                || root.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            );
            ui.label(format!("{name}: {progress}"))
                .on_hover_text(root.display().to_string());
        });
    }
    if library.datasets.is_empty() && library.loading.is_empty() {
        ui.label(
            egui::RichText::new(
                "Drop a dataset folder here or use Open dataset folder… (UCF-101, HMDB-51, lists, class folders; `triggerlab synth` writes one)",
            )
            .weak(),
        );
        return;
    }
    egui::ScrollArea::vertical()
        .id_salt("library-datasets")
        .auto_shrink([false, false])
        .show(ui, |ui| {
            for k in 0..library.datasets.len() {
                dataset_ui(library, k, selected.as_ref(), commands, ui);
            }
        });
}

/// One dataset: its classes with counts, a filter, its clips (only the visible rows are laid
/// out) and the files it could not use.
fn dataset_ui(
    library: &mut LibraryView,
    k: usize,
    selected: Option<&PathBuf>,
    commands: &mut Vec<UiCommand>,
    ui: &mut egui::Ui,
) {
    let LibraryView {
        datasets,
        thumbs,
        thumb_failed,
        want_thumbs,
        ..
    } = library;
    let panel = &mut datasets[k];
    let header = format!(
        "{} ({}, {} clips)",
        panel.data.name,
        panel.data.layout,
        panel.data.clips.len()
    );
    let root = panel.data.root.clone();
    egui::CollapsingHeader::new(header)
        .id_salt(("dataset", &root))
        .default_open(true)
        .show(ui, |ui| {
            ui.horizontal(|ui| {
                if ui
                    .small_button("Close")
                    .on_hover_text("Close this dataset (Edit > Undo opens it again)")
                    .clicked()
                {
                    commands.push(UiCommand::CloseDataset(root.clone()));
                }
                ui.label(
                    egui::RichText::new(root.display().to_string())
                        .small()
                        .weak(),
                );
            });
            let n_classes = panel.data.classes.len();
            let mut pick_class = None;
            egui::CollapsingHeader::new(format!("Classes ({n_classes})"))
                .id_salt(("classes", &root))
                .default_open(true)
                .show(ui, |ui| {
                    // A few rows high, so the clips stay in view (UCF-101 has 101 classes).
                    egui::ScrollArea::vertical()
                        .id_salt(("class-rows", &root))
                        .max_height(5.0 * ui.spacing().interact_size.y)
                        .show(ui, |ui| {
                            for c in &panel.data.classes {
                                let on = panel.filter == c.name;
                                if ui
                                    .selectable_label(
                                        on,
                                        format!("{}: {} train, {} test", c.name, c.train, c.test),
                                    )
                                    .on_hover_text("Show only this class")
                                    .clicked()
                                {
                                    pick_class =
                                        Some(if on { String::new() } else { c.name.clone() });
                                }
                            }
                        });
                });
            if let Some(f) = pick_class {
                panel.filter = f;
            }
            ui.horizontal(|ui| {
                let label = ui.label("Filter");
                ui.add(
                    egui::TextEdit::singleline(&mut panel.filter)
                        .hint_text("class or file name")
                        .desired_width(120.0),
                )
                .labelled_by(label.id);
                if !panel.filter.is_empty() && ui.small_button("Clear").clicked() {
                    panel.filter.clear();
                }
            });
            let (data, rows) = panel.view();
            ui.label(format!("{} of {} clips", rows.len(), data.clips.len()));
            egui::ScrollArea::vertical()
                .id_salt(("rows", &root))
                .max_height(280.0)
                .auto_shrink([false, true])
                .show_rows(ui, ROW_HEIGHT, rows.len(), |ui, range| {
                    for &i in &rows[range] {
                        let clip = &data.clips[i];
                        let class = data
                            .classes
                            .get(clip.class)
                            .map_or("?", |c| c.name.as_str());
                        let split = if clip.test { "test" } else { "train" };
                        let size = egui::vec2(ui.available_width(), ROW_HEIGHT);
                        let layout = egui::Layout::left_to_right(egui::Align::Center);
                        ui.allocate_ui_with_layout(size, layout, |ui| {
                            ui.set_min_size(size);
                            thumb_ui(ui, &clip.path, thumbs, thumb_failed, want_thumbs);
                            let r = ui
                                .add(
                                    egui::Button::selectable(
                                        selected == Some(&clip.path),
                                        format!("{} ({class}, {split})", clip.file),
                                    )
                                    .truncate(),
                                )
                                .on_hover_text(clip.path.display().to_string());
                            if r.clicked() {
                                commands.push(UiCommand::OpenVideo(clip.path.clone()));
                            }
                        });
                    }
                });
            if !data.skipped.is_empty() {
                egui::CollapsingHeader::new(format!("Unreadable ({})", data.skipped.len()))
                    .id_salt(("skipped", &root))
                    .show(ui, |ui| {
                        let h = ui.text_style_height(&egui::TextStyle::Body);
                        egui::ScrollArea::vertical()
                            .id_salt(("skipped-rows", &root))
                            .max_height(160.0)
                            .show_rows(ui, h, data.skipped.len(), |ui, range| {
                                for (path, reason) in &data.skipped[range] {
                                    let name = path.file_name().map_or_else(
                                        || path.display().to_string(),
                                        |n| n.to_string_lossy().into_owned(),
                                    );
                                    ui.add(
                                        egui::Label::new(format!("{name}: {reason}")).truncate(),
                                    )
                                    .on_hover_text(format!("{}: {reason}", path.display()));
                                }
                            });
                    });
            }
        });
}

/// A clip's first frame once the worker has made it; a placeholder (and a request) until then.
fn thumb_ui(
    ui: &mut egui::Ui,
    path: &PathBuf,
    thumbs: &super::library_state::ThumbCache,
    failed: &std::collections::HashMap<PathBuf, String>,
    want: &mut Vec<PathBuf>,
) {
    let box_size = egui::vec2(THUMB_SIDE as f32 * 0.75, ROW_HEIGHT - 4.0);
    match thumbs.get(path) {
        Some(tex) => {
            let t = tex.size_vec2();
            let scale = (box_size.x / t.x).min(box_size.y / t.y);
            let (rect, _) = ui.allocate_exact_size(box_size, egui::Sense::hover());
            let img = egui::Rect::from_center_size(rect.center(), t * scale);
            ui.painter().image(
                tex.id(),
                img,
                egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0)),
                egui::Color32::WHITE,
            );
        }
        None => {
            let (rect, resp) = ui.allocate_exact_size(box_size, egui::Sense::hover());
            ui.painter()
                .rect_filled(rect, 2.0, ui.visuals().faint_bg_color);
            match failed.get(path) {
                Some(why) => {
                    resp.on_hover_text(format!("no thumbnail: {why}"));
                }
                None => want.push(path.clone()),
            }
        }
    }
}

/// One selectable library row; true when clicked.
fn entry_ui(state: &StudioState, ui: &mut egui::Ui, i: usize) -> bool {
    let e = &state.clips[i];
    let detail = match &e.load {
        LoadState::Loading => "loading…".to_string(),
        LoadState::Failed(_) => "failed".to_string(),
        LoadState::Ready => match (&e.clip, &e.stream) {
            (Some(c), _) => format!("{} frames", c.frames().len()),
            (None, Some(m)) => format!("{:.1} s", m.duration_secs),
            _ => String::new(),
        },
    };
    let kind = match e.source {
        ClipSource::Synth { .. } => "",
        ClipSource::Demo => "demo, ",
        ClipSource::File(_) => "file, ",
    };
    let resp = ui.selectable_label(
        state.selected == Some(i),
        format!("{} ({kind}{detail})", e.name),
    );
    let resp = match &e.load {
        LoadState::Failed(msg) => resp.on_hover_text(msg),
        _ => resp,
    };
    resp.clicked()
}
