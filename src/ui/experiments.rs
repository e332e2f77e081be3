//! Experiments tab: pick or edit an experiment spec, start and cancel a training run (it runs on
//! a worker thread), and watch loss, clean accuracy and attack success rate stream into plots.

use super::experiment_state::{ExperimentsView, RunPhase, RunView};
use super::{StudioState, UiCommand};
use egui_plot::{Legend, Line, Plot};

const CA_COLOUR: egui::Color32 = egui::Color32::from_rgb(40, 160, 70);
const ASR_COLOUR: egui::Color32 = egui::Color32::from_rgb(210, 50, 50);
const ROBUST_COLOUR: egui::Color32 = egui::Color32::from_rgb(120, 120, 200);
const LOSS_COLOUR: egui::Color32 = egui::Color32::from_rgb(70, 90, 210);

pub fn experiments_ui(state: &mut StudioState, ui: &mut egui::Ui) {
    ui.horizontal(|ui| {
        ui.heading("Experiments");
        ui.separator();
        let ex = &mut state.experiments;
        ui.selectable_value(&mut ex.view, ExperimentsView::Run, "Current run");
        ui.selectable_value(&mut ex.view, ExperimentsView::History, "Run history");
        ui.separator();
        let busy = ex.running();
        if ui
            .add_enabled(!busy, egui::Button::new("Run the demo attack"))
            .on_hover_text(
                "Trains the quick demo (SynthMotion, a checkerboard patch, 10 % poisoned) and \
                 explains each stage, then shows the backdoored model on a clean clip and its \
                 triggered twin.",
            )
            .clicked()
        {
            state.commands.push(UiCommand::RunDemo);
        }
    });
    ui.separator();
    egui::Panel::left("experiment-spec")
        .resizable(true)
        .default_size(430.0)
        .show(ui, |ui| spec_ui(state, ui));
    if state.experiments.view == ExperimentsView::History {
        egui::CentralPanel::default().show(ui, |ui| {
            egui::ScrollArea::both()
                .id_salt("history-scroll")
                .show(ui, |ui| super::run_history::run_history_ui(state, ui));
        });
        return;
    }
    let mut to_lens = None;
    egui::CentralPanel::default().show(ui, |ui| match &state.experiments.run {
        Some(run) => run_ui(run, ui, &mut to_lens),
        None => {
            ui.label("No run yet.");
            ui.label(
                egui::RichText::new(
                    "Pick an example (or edit the spec), then Start run. Training runs on a \
                     worker thread; the studio stays responsive and the run can be cancelled \
                     at any step. Results, metrics.csv, curves.png and checkpoints go to the \
                     output folder.",
                )
                .weak(),
            );
        }
    });
    if let Some(dir) = to_lens {
        state.commands.push(super::UiCommand::LoadModel(dir));
        state.tab = super::Tab::Studio;
    }
}

fn spec_ui(state: &mut StudioState, ui: &mut egui::Ui) {
    let ex = &mut state.experiments;
    // The spec stays editable while a run goes on (the run has its own copy): edit and queue.
    let running = ex.running();
    ui.strong("Experiment spec");
    let current = ex
        .examples
        .get(ex.example)
        .map(|e| e.0.clone())
        .unwrap_or_default();
    let mut picked = None;
    egui::ComboBox::from_label("Example")
        .selected_text(current)
        .show_ui(ui, |ui| {
            for (i, (name, _)) in ex.examples.iter().enumerate() {
                if ui.selectable_label(i == ex.example, name).clicked() {
                    picked = Some(i);
                }
            }
        });
    if let Some(i) = picked {
        ex.example = i;
        ex.spec_text = ex.examples[i].1.clone();
        ex.spec_error = None;
    }
    ui.horizontal(|ui| {
        ui.label("Output folder");
        ui.add(egui::TextEdit::singleline(&mut ex.out_dir).hint_text("runs/<name>"));
    });
    ui.checkbox(&mut ex.resume, "Resume from its last checkpoint");
    ui.horizontal(|ui| {
        if ui
            .add_enabled(!running, egui::Button::new("Start run"))
            .clicked()
        {
            state.commands.push(UiCommand::StartRun);
        }
        let can_cancel = state
            .experiments
            .run
            .as_ref()
            .is_some_and(|r| r.phase.is_active() && !r.cancel_requested);
        if ui
            .add_enabled(can_cancel, egui::Button::new("Cancel run"))
            .clicked()
        {
            state.commands.push(UiCommand::CancelRun);
        }
        if ui
            .button("Queue run")
            .on_hover_text("Runs this spec after the runs before it, one at a time")
            .clicked()
        {
            state.commands.push(UiCommand::QueueRun);
        }
    });
    if !state.experiments.queue.is_empty() {
        ui.label(format!("Queued ({}):", state.experiments.queue.len()));
        for (i, q) in state.experiments.queue.iter().enumerate() {
            ui.horizontal(|ui| {
                ui.label(format!("{}. {}", i + 1, q.name));
                if ui
                    .small_button("×")
                    .on_hover_text("remove from the queue")
                    .clicked()
                {
                    state.commands.push(UiCommand::Unqueue(i));
                }
            });
        }
    }
    run_form_ui(state, ui);
    let ex = &mut state.experiments;
    if let Some(e) = &ex.spec_error {
        ui.colored_label(ui.visuals().error_fg_color, e);
    }
    ui.separator();
    let spec_label = ui.label("Experiment spec (TOML)");
    egui::ScrollArea::vertical()
        .id_salt("spec-text")
        .show(ui, |ui| {
            let r = ui.add(
                egui::TextEdit::multiline(&mut ex.spec_text)
                    .code_editor()
                    .desired_width(f32::INFINITY)
                    .desired_rows(30),
            );
            // Screen readers (and tests) find the editor by name.
            let _ = r.labelled_by(spec_label.id);
        });
}

/// The run's main settings as a form over the spec text (edits go into the TOML in place, checked
/// by the spec's parser), and the design's trigger in one click.
fn run_form_ui(state: &mut StudioState, ui: &mut egui::Ui) {
    use crate::core::experiment::ModelName;
    use crate::core::poison::{Modality, TargetClass};
    let Ok(spec) = crate::core::experiment::parse_experiment(&state.experiments.spec_text) else {
        return;
    };
    let mut edits: Vec<(&str, toml_edit::Value)> = Vec::new();
    egui::CollapsingHeader::new("Run settings")
        .id_salt("run-form")
        .default_open(true)
        .show(ui, |ui| {
            egui::Grid::new("run-form-grid")
                .num_columns(2)
                .show(ui, |ui| {
                    ui.label("dataset");
                    ui.label(crate::core::run_form::dataset_summary(&spec));
                    ui.end_row();
                    let name = |m: ModelName| {
                        serde_json::to_value(m)
                            .ok()
                            .and_then(|v| v.as_str().map(str::to_string))
                            .unwrap_or_default()
                    };
                    let l = ui.label("model");
                    egui::ComboBox::from_id_salt("form-model")
                        .selected_text(name(spec.model.kind))
                        .show_ui(ui, |ui| {
                            for m in [
                                ModelName::R2plus1dTiny,
                                ModelName::TsmTiny,
                                ModelName::AudioCnn,
                                ModelName::AvFusion,
                            ] {
                                if ui.selectable_label(m == spec.model.kind, name(m)).clicked() {
                                    edits.push(("model.kind", name(m).into()));
                                }
                            }
                        })
                        .response
                        .labelled_by(l.id);
                    ui.end_row();
                    let l = ui.label("epochs");
                    let mut epochs = spec.epochs;
                    if ui
                        .add(egui::DragValue::new(&mut epochs).range(1..=1000))
                        .labelled_by(l.id)
                        .changed()
                    {
                        edits.push(("epochs", (epochs as i64).into()));
                    }
                    ui.end_row();
                    let l = ui.label("ρ (poisoned)");
                    let mut ratio = spec.poison.ratio;
                    if ui
                        .add(
                            egui::DragValue::new(&mut ratio)
                                .range(0.0..=1.0)
                                .speed(0.005)
                                .max_decimals(3),
                        )
                        .labelled_by(l.id)
                        .changed()
                    {
                        edits.push(("poison.ratio", ratio.into()));
                    }
                    ui.end_row();
                    let l = ui.label("target");
                    let target = match &spec.poison.target {
                        TargetClass::Name(n) => n.clone(),
                        TargetClass::Index(i) => format!("class {i}"),
                    };
                    match &spec.dataset.synth {
                        Some(s) => {
                            egui::ComboBox::from_id_salt("form-target")
                                .selected_text(&target)
                                .show_ui(ui, |ui| {
                                    for m in crate::core::synth::Motion::ALL.iter().take(s.classes)
                                    {
                                        if ui
                                            .selectable_label(m.name() == target, m.name())
                                            .clicked()
                                        {
                                            edits.push(("poison.target", m.name().into()));
                                        }
                                    }
                                })
                                .response
                                .labelled_by(l.id);
                        }
                        None => {
                            ui.label(target).labelled_by(l.id);
                        }
                    }
                    ui.end_row();
                    let l = ui.label("trigger in");
                    let modality = spec.poison.modality;
                    egui::ComboBox::from_id_salt("form-modality")
                        .selected_text(format!("{modality:?}").to_lowercase())
                        .show_ui(ui, |ui| {
                            for (m, n) in [
                                (Modality::Video, "video"),
                                (Modality::Audio, "audio"),
                                (Modality::Both, "both"),
                            ] {
                                if ui.selectable_label(m == modality, n).clicked() {
                                    edits.push(("poison.modality", n.into()));
                                }
                            }
                        })
                        .response
                        .labelled_by(l.id);
                    ui.end_row();
                    let l = ui.label("device");
                    egui::ComboBox::from_id_salt("form-device")
                        .selected_text(&spec.device)
                        .show_ui(ui, |ui| {
                            for d in ["cpu", "cuda", "auto"] {
                                if ui.selectable_label(spec.device == d, d).clicked() {
                                    edits.push(("device", d.into()));
                                }
                            }
                        })
                        .response
                        .labelled_by(l.id);
                    ui.end_row();
                });
            ui.horizontal(|ui| {
                if ui
                    .button("Use the design's trigger")
                    .on_hover_text("the Studio's attack becomes this spec's [attack]")
                    .clicked()
                {
                    state.commands.push(UiCommand::UseInExperiment);
                }
                if ui
                    .button("Start from the design")
                    .on_hover_text(
                        "the Studio's attack with these settings: started now, or queued behind \
                         the run going on",
                    )
                    .clicked()
                {
                    state.commands.push(UiCommand::UseInExperiment);
                    state.commands.push(UiCommand::QueueRun);
                }
            });
        });
    let ex = &mut state.experiments;
    for (path, v) in edits {
        match crate::core::run_form::with_setting(&ex.spec_text, path, v) {
            Ok(text) => {
                ex.spec_text = text;
                ex.spec_error = None;
            }
            Err(e) => ex.spec_error = Some(format!("spec: {e}")),
        }
    }
}

/// `to_lens`: set to the run's folder when the user opens its model in the lens.
fn run_ui(run: &RunView, ui: &mut egui::Ui, to_lens: &mut Option<std::path::PathBuf>) {
    ui.horizontal(|ui| {
        ui.strong(format!("Run “{}”", run.name));
        let (text, colour) = match &run.phase {
            RunPhase::Loading { .. } => ("loading data".to_string(), None),
            RunPhase::Training if run.cancel_requested => ("cancelling…".to_string(), None),
            RunPhase::Training => ("training".to_string(), None),
            RunPhase::Finished => ("finished".to_string(), Some(CA_COLOUR)),
            RunPhase::Cancelled => ("cancelled (partial results kept)".to_string(), None),
            RunPhase::Failed(e) => (format!("failed: {e}"), Some(ui.visuals().error_fg_color)),
        };
        match colour {
            Some(c) => ui.colored_label(c, text),
            None => ui.label(text),
        };
    });
    if !run.summary.is_empty() {
        ui.label(egui::RichText::new(&run.summary).weak());
    }
    if run.demo && !run.stages.is_empty() {
        egui::Frame::group(ui.style()).show(ui, |ui| {
            ui.strong("The demo attack, step by step");
            for line in &run.stages {
                ui.label(line);
            }
        });
    }
    let progress_text = match run.phase {
        RunPhase::Loading { done, total } => format!("loading clips {done}/{total}"),
        _ if run.epochs_total > 0 => format!(
            "epoch {}/{} · step {}/{} · {:.0} clips/s",
            (run.at.0 + 1).min(run.epochs_total),
            run.epochs_total,
            run.at.1 + 1,
            run.steps_per_epoch,
            run.clips_per_sec
        ),
        _ => String::new(),
    };
    ui.add(egui::ProgressBar::new(run.progress()).text(progress_text));
    if let Some(m) = run.latest() {
        ui.horizontal(|ui| {
            ui.colored_label(CA_COLOUR, format!("CA {:.3}", m.ca));
            ui.colored_label(ASR_COLOUR, format!("ASR {:.3}", m.asr));
            ui.colored_label(ROBUST_COLOUR, format!("robust {:.3}", m.robust_acc));
            ui.label(format!("loss {:.4} (epoch {})", m.train_loss, m.epoch + 1));
        });
        if let Some(w) = crate::core::report::asr_warning(m) {
            ui.colored_label(ui.visuals().warn_fg_color, w)
                .on_hover_text(crate::core::report::ASR_RULE);
        }
    }
    ui.label(format!("Output: {}", run.out_dir));
    ui.separator();

    let plot_height = (ui.available_height() - 150.0).clamp(120.0, 600.0) / 2.0;
    ui.label("Training loss per step");
    Plot::new("loss-plot")
        .height(plot_height)
        .x_axis_label("epoch")
        .include_y(0.0)
        .allow_scroll(false)
        .show(ui, |plot| {
            plot.line(
                Line::new("training loss", run.loss.clone())
                    .color(LOSS_COLOUR)
                    .width(1.5),
            );
        });
    ui.label("Clean accuracy and attack success rate per epoch");
    let at = |f: fn(&crate::core::report::EpochMetrics) -> f64| -> Vec<[f64; 2]> {
        run.epochs
            .iter()
            .map(|m| [(m.epoch + 1) as f64, f(m)])
            .collect()
    };
    Plot::new("metrics-plot")
        .height(plot_height)
        .x_axis_label("epoch")
        .include_y(0.0)
        .include_y(1.0)
        .include_x(1.0)
        .include_x(run.epochs_total.max(1) as f64)
        .allow_scroll(false)
        .legend(Legend::default())
        .show(ui, |plot| {
            plot.line(Line::new("CA", at(|m| m.ca)).color(CA_COLOUR).width(2.0));
            plot.line(Line::new("ASR", at(|m| m.asr)).color(ASR_COLOUR).width(2.0));
            plot.line(
                Line::new("robust acc", at(|m| m.robust_acc))
                    .color(ROBUST_COLOUR)
                    .width(1.0),
            );
            // Epochs whose ASR means nothing (the model answers the target for clean clips too):
            // crossed out on the ASR line.
            let void: Vec<[f64; 2]> = run
                .epochs
                .iter()
                .filter(|m| !crate::core::report::asr_meaningful(m))
                .map(|m| [(m.epoch + 1) as f64, m.asr])
                .collect();
            if !void.is_empty() {
                plot.points(
                    egui_plot::Points::new("ASR means nothing (target for clean clips too)", void)
                        .shape(egui_plot::MarkerShape::Cross)
                        .radius(5.0)
                        .color(egui::Color32::GRAY),
                );
            }
        });
    if let Some(r) = &run.results {
        ui.separator();
        ui.horizontal_wrapped(|ui| {
            ui.strong(format!(
                "Final: CA {:.3} · ASR {:.3} · robust {:.3} · {:.1} s",
                r.final_metrics.ca, r.final_metrics.asr, r.final_metrics.robust_acc, r.wall_secs
            ));
            if let Some(w) = r.epochs.last().and_then(crate::core::report::asr_warning) {
                ui.colored_label(ui.visuals().warn_fg_color, w)
                    .on_hover_text(&r.asr_rule);
            }
            if !r.cancelled && ui.button("Open in the model lens").clicked() {
                *to_lens = Some(std::path::PathBuf::from(&run.out_dir));
            }
            ui.label(
                egui::RichText::new(format!(
                    "ASR over {}; target {}; seed {}; poison set sha256 {}…",
                    r.asr_convention,
                    r.target_name,
                    r.seed,
                    r.poison_indices_sha256.get(..12).unwrap_or("")
                ))
                .weak(),
            );
        });
        if !r.asr_by_triggered_frames.is_empty() {
            let cells: Vec<String> = r
                .asr_by_triggered_frames
                .iter()
                .map(|(k, a)| format!("{k}: {a:.2}"))
                .collect();
            ui.label(format!("ASR by triggered frames  {}", cells.join(" · ")));
        }
        if let Some(last) = r.epochs.last() {
            let cells: Vec<String> = last
                .per_class_asr
                .iter()
                .zip(&r.classes)
                .filter_map(|(a, c)| a.map(|a| format!("{c} {a:.2}")))
                .collect();
            ui.label(egui::RichText::new(format!("ASR per class  {}", cells.join(" · "))).weak());
        }
    }
}
