//! The model lens: a run's model loaded into the studio answers for the clip on the canvas with
//! exactly what `train::predict` (the run's evaluation code) computes for it, clean and
//! triggered, shown as labelled bars; changing the design recomputes the triggered answer.

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};
use triggerlab::app::{StudioOptions, TriggerLabApp};
use triggerlab::core::design::DesignCommand;
use triggerlab::core::experiment::parse_experiment;
use triggerlab::core::synth::SynthSpec;
use triggerlab::jobs::lens::{LensClip, lens_clip};
use triggerlab::train::predict::Predictor;
use triggerlab::ui::UiCommand;
use triggerlab::ui::lens::{bar_label, top};

const LENS: &str = r#"
version = 1
name = "lens"
seed = 7
epochs = 30
batch_size = 4
[dataset]
synth = { classes = 3, per_class = 10 }
frames = 6
size = 32
[model]
kind = "r2plus1d_tiny"
[optimizer]
lr = 0.005
[attack]
visual = { kind = "badnets", size = 6, margin = 4, checkerboard = { cell = 2, colors = [[0, 0, 0], [255, 255, 255]] } }
temporal = { frames = "all", mode = "static" }
[poison]
target = "MoveLeft"
ratio = 0.25
"#;

fn library() -> SynthSpec {
    SynthSpec {
        per_class: 1,
        size: 48,
        ..triggerlab::app::library_spec()
    }
}

fn settle(h: &mut Harness<'static, TriggerLabApp>) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        h.step();
        let s = h.state().state();
        let lens = &s.lens;
        let answered = lens.model.is_none()
            || lens
                .answer
                .as_ref()
                .is_some_and(|(k, _)| Some(*k) == lens.wanted(s));
        let shown = s
            .preview_key()
            .is_some_and(|k| s.preview.exact(k).is_some());
        if !h.state().busy() && shown && answered && s.commands.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "the studio never settled");
        std::thread::sleep(Duration::from_millis(10));
    }
    h.step();
}

#[test]
fn the_lens_shows_the_models_answer_clean_and_triggered() {
    let dir = tempfile::tempdir().expect("tmp");
    let run = dir.path().join("lens");
    let spec = parse_experiment(LENS).expect("parses");
    let results = triggerlab::jobs::experiment::run_experiment(
        &spec,
        &run,
        false,
        &AtomicBool::new(false),
        &mut |_| {},
    )
    .expect("trains");

    let autosave = dir.path().join("autosave");
    let mut h = Harness::builder()
        .with_size(egui::vec2(1400.0, 1400.0))
        .build_eframe(move |cc| {
            TriggerLabApp::new(
                cc,
                StudioOptions {
                    library: Some(library()),
                    autosave_dir: Some(autosave),
                    frame: Some(2),
                    // The attack the model was trained with.
                    attack: Some((
                        triggerlab::train::trainer::attack_for(&spec),
                        std::path::PathBuf::from("."),
                    )),
                    ..Default::default()
                },
                Default::default(),
            )
        });
    settle(&mut h);
    h.state_mut()
        .state_mut()
        .commands
        .push(UiCommand::LoadModel(run.clone()));
    h.step();
    settle(&mut h);
    let model = h.state().state().lens.model.clone().expect("loaded");
    assert_eq!(model.classes, results.classes);
    assert_eq!(model.target_name, "MoveLeft");

    // What the run's own code says for this clip (the selected clip: MoveLeft #1).
    let p = Predictor::load(&run, &candle_core::Device::Cpu).expect("loads");
    let clip = lens_clip(
        &p,
        &LensClip::Synth {
            spec: library(),
            class: 0,
            index: 0,
        },
    )
    .expect("clip");
    let design = h.state().state().doc.design().spec.clone();
    let clean = p
        .probabilities(&clip, 0, None, &triggerlab::core::assets::NoAssets)
        .expect("clean");
    let trig = p
        .probabilities(&clip, 0, Some(&design), &triggerlab::core::assets::NoAssets)
        .expect("triggered");
    let answer = |h: &Harness<'static, TriggerLabApp>| {
        h.state()
            .state()
            .lens
            .answer
            .clone()
            .expect("an answer")
            .1
            .expect("no error")
    };
    let a = answer(&h);
    assert_eq!(a.clean, clean);
    assert_eq!(a.triggered, trig);
    assert_ne!(a.clean, a.triggered, "the trigger changes the answer");
    // The bars the user reads: every shown class's label, probability and target mark.
    for (c, prob) in top(&a.clean, 5).into_iter().chain(top(&a.triggered, 5)) {
        let label = bar_label(&model, c, prob);
        assert!(
            h.query_all_by_label(&label).count() >= 1,
            "{label} is shown"
        );
    }
    assert!(
        h.query_all_by_label_contains("(target)").count() == 2,
        "the target class is marked in both columns"
    );

    // A design whose trigger changes nothing (opacity 0): the triggered bars become the clean.
    h.state_mut()
        .state_mut()
        .commands
        .push(UiCommand::Design(DesignCommand::SetField {
            path: "visual.opacity".into(),
            value: serde_json::json!(0.0),
            dragging: false,
        }));
    h.step();
    settle(&mut h);
    let b = answer(&h);
    assert_eq!(
        b.clean, clean,
        "the clean answer does not depend on the trigger"
    );
    assert_eq!(b.triggered, clean, "no trigger, no change");
}
