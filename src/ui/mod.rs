//! egui panels. Each panel is a `*_ui(state, ui)` function in its own file; panels read and edit
//! [`StudioState`] and ask for work by pushing [`UiCommand`]s, which `app` carries out through
//! `jobs`. No file, FFmpeg or candle calls here.

pub mod audio_view;
pub mod canvas;
pub mod canvas_tools;
pub mod experiment_state;
pub mod experiments;
pub mod inspector;
pub mod lens;
pub mod library;
pub mod library_state;
pub mod params;
pub mod patch_editor;
pub mod run_history;
pub mod state;
pub mod status;
pub mod sweep;
pub mod timeline;

pub use experiment_state::{ExperimentsState, RunPhase, RunView};
pub use library_state::{DatasetPanel, LibraryView};
pub use state::{ClipEntry, ClipSource, LoadState, StudioState, Tab, UiCommand};

/// Lays out the whole studio: tabs on top, status bar and timeline at the bottom, library left,
/// inspector right, canvas in the middle (or the Experiments tab).
pub fn studio_ui(state: &mut StudioState, ui: &mut egui::Ui) {
    shortcuts(state, ui.ctx());
    library::dropped_files(state, ui.ctx());
    egui::Panel::top("tabs").show(ui, |ui| {
        ui.horizontal(|ui| {
            ui.strong("TriggerLab");
            menus_ui(state, ui);
            ui.separator();
            ui.selectable_value(&mut state.tab, Tab::Studio, "Studio");
            ui.selectable_value(&mut state.tab, Tab::Experiments, "Experiments");
            if state.experiments.offer_demo {
                ui.separator();
                if ui
                    .button("Run the demo attack")
                    .on_hover_text(
                        "New here? Trains a backdoored model on SynthMotion in about 20 s, \
                         explaining each stage, then shows it answering a clean clip and its \
                         triggered twin.",
                    )
                    .clicked()
                {
                    state.commands.push(UiCommand::RunDemo);
                }
                if ui.small_button("×").on_hover_text("not now").clicked() {
                    state.experiments.offer_demo = false;
                }
            }
        });
    });
    restore_offer_ui(state, ui.ctx());
    egui::Panel::bottom("status").show(ui, |ui| status::status_ui(state, ui));
    match state.tab {
        Tab::Studio => {
            egui::Panel::bottom("timeline")
                .resizable(true)
                .min_size(160.0)
                // Room for the audio view's spectrogram under the transport and frame strip.
                .default_size(260.0)
                .show(ui, |ui| timeline::timeline_ui(state, ui));
            egui::Panel::left("library")
                .default_size(230.0)
                .show(ui, |ui| library::library_ui(state, ui));
            egui::Panel::right("inspector")
                .default_size(290.0)
                .show(ui, |ui| inspector::inspector_ui(state, ui));
            egui::CentralPanel::default().show(ui, |ui| canvas::canvas_ui(state, ui));
            patch_editor::patch_editor_ui(state, ui.ctx());
            sweep::sweep_window(state, ui.ctx());
        }
        Tab::Experiments => {
            egui::CentralPanel::default().show(ui, |ui| experiments::experiments_ui(state, ui));
        }
    }
}

/// Ctrl+Z / Ctrl+Shift+Z / Ctrl+Y, Ctrl+S / Ctrl+Shift+S, Ctrl+O; the patch editor's and the
/// selected patch's keys.
fn shortcuts(state: &mut StudioState, ctx: &egui::Context) {
    use egui::{Key, KeyboardShortcut, Modifiers};
    if state.tab == Tab::Studio {
        // Before the timeline reads the arrows: a selected patch takes them.
        canvas_tools::nudge_keys(state, ctx);
        patch_editor::editor_keys(state, ctx);
    }
    let cmd_shift = Modifiers::COMMAND | Modifiers::SHIFT;
    // The shifted forms first: a plain Ctrl+Z pattern also matches Ctrl+Shift+Z.
    let pressed = |m, k| ctx.input_mut(|i| i.consume_shortcut(&KeyboardShortcut::new(m, k)));
    if pressed(cmd_shift, Key::Z) || pressed(Modifiers::COMMAND, Key::Y) {
        state.commands.push(UiCommand::Redo);
    } else if pressed(Modifiers::COMMAND, Key::Z) {
        state.commands.push(UiCommand::Undo);
    }
    if pressed(cmd_shift, Key::S) {
        state.commands.push(UiCommand::SaveProjectAs);
    } else if pressed(Modifiers::COMMAND, Key::S) {
        state.commands.push(UiCommand::SaveProject);
    }
    if pressed(Modifiers::COMMAND, Key::O) {
        state.commands.push(UiCommand::OpenProjectDialog);
    }
}

fn menus_ui(state: &mut StudioState, ui: &mut egui::Ui) {
    ui.menu_button("File", |ui| {
        if ui.button("New project").clicked() {
            state.commands.push(UiCommand::NewProject);
        }
        if ui.button("Open project…  Ctrl+O").clicked() {
            state.commands.push(UiCommand::OpenProjectDialog);
        }
        ui.menu_button("Open recent", |ui| {
            if state.project.recent.is_empty() {
                ui.label(egui::RichText::new("none yet").weak());
            }
            for p in state.project.recent.clone() {
                if ui.button(p.display().to_string()).clicked() {
                    state.commands.push(UiCommand::OpenProject(p));
                }
            }
        });
        if ui.button("Save  Ctrl+S").clicked() {
            state.commands.push(UiCommand::SaveProject);
        }
        if ui.button("Save as…  Ctrl+Shift+S").clicked() {
            state.commands.push(UiCommand::SaveProjectAs);
        }
        ui.separator();
        if ui.button("Open video…").clicked() {
            state.commands.push(UiCommand::OpenVideoDialog);
        }
        if ui.button("Open dataset folder…").clicked() {
            state.commands.push(UiCommand::OpenDatasetDialog);
        }
        if ui.button("Load spec…").clicked() {
            state.commands.push(UiCommand::LoadSpecDialog);
        }
        if ui.button("Save spec…").clicked() {
            state.commands.push(UiCommand::SaveSpecDialog);
        }
        ui.separator();
        ui.menu_button("Export", |ui| {
            use state::ExportKind as K;
            let busy = state.export.progress.is_some();
            for (k, label) in [
                (K::Mp4, "Poisoned clip as MP4…"),
                (K::Frames, "Poisoned clip as PNG frames…"),
                (K::Patch, "Trigger patch as PNG…"),
                (K::Spec, "Trigger spec (TOML/JSON)…"),
            ] {
                if ui.add_enabled(!busy, egui::Button::new(label)).clicked() {
                    state.commands.push(UiCommand::Export(k));
                }
            }
        });
    });
    ui.menu_button("Edit", |ui| {
        if ui.button("Patch editor…").clicked() {
            state.patch_editor.open = true;
        }
        if ui
            .add_enabled(state.doc.can_undo(), egui::Button::new("Undo  Ctrl+Z"))
            .clicked()
        {
            state.commands.push(UiCommand::Undo);
        }
        if ui
            .add_enabled(
                state.doc.can_redo(),
                egui::Button::new("Redo  Ctrl+Shift+Z"),
            )
            .clicked()
        {
            state.commands.push(UiCommand::Redo);
        }
    });
    view_menu_ui(state, ui);
}

fn view_menu_ui(state: &mut StudioState, ui: &mut egui::Ui) {
    ui.menu_button("View", |ui| {
        let g = &state.preview.gpu;
        let mut on = g.on && g.available;
        let hint = if g.available {
            "The canvas applies the trigger in a shader as soon as the attack is prepared; \
             the CPU result (what export and training use) follows for the figures."
        } else {
            "No wgpu renderer: the canvas draws the CPU result."
        };
        if ui
            .add_enabled(
                g.available,
                egui::Checkbox::new(&mut on, "Preview on the GPU"),
            )
            .on_hover_text(hint)
            .on_disabled_hover_text(hint)
            .changed()
        {
            state.commands.push(UiCommand::SetGpuPreview(on));
        }
    });
}

/// After a crash: offer the autosave of the last session.
fn restore_offer_ui(state: &mut StudioState, ctx: &egui::Context) {
    let Some(path) = state.project.restore_offer.clone() else {
        return;
    };
    egui::Window::new("Restore unsaved work?")
        .collapsible(false)
        .resizable(false)
        .anchor(egui::Align2::CENTER_CENTER, [0.0, 0.0])
        .show(ctx, |ui| {
            ui.label("The last session did not exit cleanly. Its autosave is here:");
            ui.monospace(path.display().to_string());
            ui.horizontal(|ui| {
                if ui.button("Restore").clicked() {
                    state.commands.push(UiCommand::RestoreAutosave(true));
                }
                if ui.button("Discard").clicked() {
                    state.commands.push(UiCommand::RestoreAutosave(false));
                }
            });
        });
}
