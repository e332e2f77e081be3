//! The studio's UI, driven headlessly with egui_kittest (no display, no GPU): the final layout is
//! there, the SynthMotion library plays on the audio clock (a silent clock here: no sound card),
//! pauses, unfinished parts say "coming", and the Experiments tab trains a model live.

mod common;

use common::SMALL_EXPERIMENT as SMALL;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use std::time::{Duration, Instant};
use triggerlab::app::{StudioOptions, TriggerLabApp};
use triggerlab::core::synth::SynthSpec;
use triggerlab::ui::Tab;

/// A small library (2 clips of every class, 48 px): what the studio does with it is what it does
/// with its default one, for a fraction of the making.
fn library() -> SynthSpec {
    SynthSpec {
        per_class: 2,
        size: 48,
        ..triggerlab::app::library_spec()
    }
}

fn harness() -> Harness<'static, TriggerLabApp> {
    let opts = StudioOptions {
        library: Some(library()),
        // Autosaves and the session marker stay out of the user's cache.
        autosave_dir: Some(
            std::env::temp_dir().join(format!("tl-ui-autosave-{}", std::process::id())),
        ),
        ..Default::default()
    };
    Harness::builder()
        .with_size(egui::vec2(1280.0, 800.0))
        .build_eframe(move |cc| TriggerLabApp::new(cc, opts, Default::default()))
}

/// Steps until startup work (the SynthMotion library, the device probe) has finished.
fn wait_ready(h: &mut Harness<'static, TriggerLabApp>) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let spec = library();
    let clips = spec.per_class * spec.motions().len();
    while h.state().busy() || h.state().state().clips.len() < clips {
        assert!(Instant::now() < deadline, "startup never finished");
        std::thread::sleep(Duration::from_millis(20));
        h.step();
    }
    h.step();
}

#[test]
fn every_panel_is_in_place() {
    let mut h = harness();
    wait_ready(&mut h);
    h.get_by_label("Library");
    h.get_by_label_contains("Canvas — MoveLeft #1");
    h.get_by_label("Inspector");
    h.get_by_label("Timeline");
    h.get_by_label("Experiments"); // the tab
    h.get_by_label("Open video…");
    h.get_by_label("SynthMotion (procedural)");
    let spec = library();
    // The selected class is open.
    h.get_by_label(&format!(
        "MoveLeft #{} ({} frames)",
        spec.per_class, spec.frames
    ));
    h.get_by_label(&format!("ZigZag ({})", spec.per_class));
    h.get_by_label_contains("Renderer: egui texture");
    // The inspector designs a trigger; the library opens dataset folders.
    h.get_by_label("Trigger");
    h.get_by_label("Temporal placement");
    h.get_by_label("Audio trigger");
    h.get_by_label("Open dataset folder…");
    h.get_by_label_contains("Drop a dataset folder here");
}

#[test]
fn playback_follows_the_clock_and_pauses() {
    let mut h = harness();
    wait_ready(&mut h);
    let start = h.state().state().playback.position_secs;
    let (first, first_key) = h
        .state()
        .state()
        .current_frame()
        .expect("a frame on the canvas");
    std::thread::sleep(Duration::from_millis(400));
    h.step();
    let later = h.state().state().playback.position_secs;
    assert!(
        later > start + 0.2,
        "the playhead advances: {start} → {later}"
    );
    // 8 fps: a few frames on, the canvas shows another picture, and its texture was updated.
    let (now, key) = h
        .state()
        .state()
        .current_frame()
        .expect("a frame on the canvas");
    assert_ne!(key, first_key);
    assert_ne!(now.rgb(), first.rgb(), "the picture changed");
    let uploaded = h.state().state().canvas_texture_key();
    assert_eq!(
        uploaded,
        Some(key),
        "the canvas texture holds the frame at the playhead"
    );
    // Playing is not seeking: the position slider, redrawn every frame, never sends a seek
    // (egui rounds its value to the shown decimals and reports that as a change).
    for _ in 0..10 {
        std::thread::sleep(Duration::from_millis(20));
        h.step();
    }
    assert_eq!(h.state().seeks(), 0, "seeks while merely playing");

    h.get_by_label("Pause").click();
    h.step();
    std::thread::sleep(Duration::from_millis(100));
    h.step();
    let paused = h.state().state().playback.position_secs;
    std::thread::sleep(Duration::from_millis(300));
    h.step();
    assert_eq!(h.state().state().playback.position_secs, paused, "paused");
    h.get_by_label("Play");
}

#[test]
fn picking_another_clip_plays_it() {
    let mut h = harness();
    wait_ready(&mut h);
    let spec = library();
    h.get_by_label(&format!("Grow ({})", spec.per_class))
        .click();
    h.step();
    h.step();
    h.get_by_label(&format!("Grow #2 ({} frames)", spec.frames))
        .click();
    h.step();
    h.step();
    h.get_by_label_contains("Canvas — Grow #2");
    h.get_by_label_contains("class Grow, clip 1");
    // The canvas shows that clip's frame at the playhead, as core makes it.
    let grow = spec
        .motions()
        .iter()
        .position(|m| m.name() == "Grow")
        .expect("Grow is a class");
    let clip = triggerlab::core::synth::synth_clip(&spec, grow, 1).expect("synth");
    let i = h
        .state()
        .state()
        .current_frame_index()
        .expect("a frame index");
    let (shown, _) = h.state().state().current_frame().expect("a frame");
    assert_eq!(shown.rgb(), clip.frames()[i].rgb());
}

fn open_experiments(h: &mut Harness<'static, TriggerLabApp>) {
    h.get_by_label("Experiments").click();
    h.step();
    h.step();
    assert_eq!(h.state().state().tab, Tab::Experiments);
}

/// Steps the UI until the run is no longer active.
fn wait_run(h: &mut Harness<'static, TriggerLabApp>) {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        h.step();
        let active = h.state().state().experiments.running();
        if !active {
            break;
        }
        assert!(Instant::now() < deadline, "the run never finished");
        std::thread::sleep(Duration::from_millis(20));
    }
    h.step();
    h.step();
}

#[test]
fn experiments_tab_runs_a_training_job_with_live_metrics() {
    let mut h = harness();
    wait_ready(&mut h);
    open_experiments(&mut h);
    assert!(
        h.query_by_label("Inspector").is_none(),
        "studio panels are hidden"
    );
    h.get_by_label_contains("No run yet");
    h.get_by_label("Start run");
    // The quick demo is offered first; the examples are all there.
    assert!(
        h.state()
            .state()
            .experiments
            .spec_text
            .contains("name = \"quick\"")
    );
    let shipped = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/examples"))
        .expect("examples/")
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "toml"))
        .count();
    assert_eq!(
        h.state().state().experiments.examples.len(),
        shipped,
        "every shipped example is offered"
    );

    // A bad spec is refused, naming the field; nothing starts.
    h.state_mut().state_mut().experiments.spec_text = SMALL.replace("ratio = 0.25", "ratio = 2.0");
    h.get_by_label("Start run").click();
    h.step();
    h.step();
    h.get_by_label_contains("poison.ratio");
    assert!(h.state().state().experiments.run.is_none());

    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("run");
    {
        let ex = &mut h.state_mut().state_mut().experiments;
        ex.spec_text = SMALL.to_string();
        ex.out_dir = out.display().to_string();
    }
    h.get_by_label("Start run").click();
    h.step();
    assert!(h.state().state().experiments.running(), "the run started");
    wait_run(&mut h);
    let run = h.state().state().experiments.run.clone().expect("a run");
    assert_eq!(
        run.phase,
        triggerlab::ui::RunPhase::Finished,
        "{:?}",
        run.phase
    );
    assert_eq!(
        run.epochs.len(),
        3,
        "one point per epoch for the CA/ASR plot"
    );
    assert_eq!(run.loss.len(), 9, "one loss point per step");
    assert!(run.summary.contains("3 classes"), "{}", run.summary);
    h.get_by_label_contains("Final: CA");
    h.get_by_label_contains("ASR by triggered frames");
    assert!(
        h.get_all_by_label_contains("robust ").count() >= 2,
        "the latest metrics and the final line"
    );
    assert!(out.join("results.json").is_file());
    assert!(out.join("curves.png").is_file());
}

#[test]
fn cancel_from_the_tab_stops_the_run_and_keeps_partial_results() {
    let mut h = harness();
    wait_ready(&mut h);
    open_experiments(&mut h);
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("run");
    {
        let ex = &mut h.state_mut().state_mut().experiments;
        ex.spec_text = SMALL.replace("epochs = 3", "epochs = 200");
        ex.out_dir = out.display().to_string();
    }
    h.get_by_label("Start run").click();
    let deadline = Instant::now() + Duration::from_secs(120);
    while h
        .state()
        .state()
        .experiments
        .run
        .as_ref()
        .is_none_or(|r| r.epochs.is_empty())
    {
        assert!(Instant::now() < deadline, "no epoch finished");
        std::thread::sleep(Duration::from_millis(20));
        h.step();
    }
    h.get_by_label("Cancel run").click();
    h.step();
    wait_run(&mut h);
    let run = h.state().state().experiments.run.clone().expect("a run");
    assert_eq!(run.phase, triggerlab::ui::RunPhase::Cancelled);
    assert!(run.epochs.len() < 200);
    h.get_by_label_contains("cancelled (partial results kept)");
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("results.json")).expect("results.json"),
    )
    .expect("json");
    assert_eq!(json["cancelled"], true);
    assert!(out.join("checkpoint/state.json").is_file());
    assert!(out.join("metrics.csv").is_file());
}
