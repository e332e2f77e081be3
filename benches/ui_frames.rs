//! UI frame time: how long the studio's UI thread spends on one frame (draining worker events
//! under its budget, the panels, layout) — the part that must stay under one display frame for
//! the studio to feel live. Driven through egui_kittest at ~60 Hz, so the workers run between
//! frames as they would. GPU painting is not included (kittest does not paint each step).
//!
//! Scenarios: playing a SynthMotion clip with the preview on; dragging a parameter (a new design
//! revision every frame, paused); playing the 720p sample file (streamed); and the same while a
//! training run (examples/quick.toml) goes on, on the Experiments tab (live plots) and on the
//! Studio tab; and a run training while the model lens sweeps a parameter over and over (Studio
//! tab, then the run history).
//!
//! `cargo bench --bench ui_frames --profile dev` (`-- --quick` for fewer frames).

use egui_kittest::Harness;
use std::path::Path;
use std::time::{Duration, Instant};
use triggerlab::app::{StudioOptions, TriggerLabApp};
use triggerlab::core::design::DesignCommand;
use triggerlab::ui::{Tab, UiCommand};

fn harness(opts: StudioOptions) -> Harness<'static, TriggerLabApp> {
    Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .build_eframe(move |cc| TriggerLabApp::new(cc, opts, Default::default()))
}

fn opts(tag: &str) -> StudioOptions {
    StudioOptions {
        autosave_dir: Some(std::env::temp_dir().join(format!("tl-uibench-{tag}"))),
        ..Default::default()
    }
}

fn settle(h: &mut Harness<'static, TriggerLabApp>) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while (h.state().busy() || h.state().state().selected_entry().is_none())
        && Instant::now() < deadline
    {
        h.step();
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Runs `n` frames at ~60 Hz, calling `each` before every frame; frame times in ms.
fn frames(
    h: &mut Harness<'static, TriggerLabApp>,
    n: usize,
    mut each: impl FnMut(&mut Harness<'static, TriggerLabApp>, usize),
) -> Vec<f64> {
    let mut times = Vec::with_capacity(n);
    for i in 0..n {
        let next = Instant::now() + Duration::from_micros(16_667);
        each(h, i);
        let t0 = Instant::now();
        h.step();
        times.push(t0.elapsed().as_secs_f64() * 1e3);
        if let Some(wait) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
    times
}

fn report(name: &str, mut t: Vec<f64>) {
    t.sort_by(f64::total_cmp);
    let p = |q: f64| t[((t.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "{name:<44} median {:>6.2} ms   p95 {:>6.2} ms   max {:>7.2} ms   ({} frames)",
        p(0.5),
        p(0.95),
        t[t.len() - 1],
        t.len()
    );
}

fn play(h: &mut Harness<'static, TriggerLabApp>) {
    h.state_mut().state_mut().commands.push(UiCommand::Play);
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let n = if quick { 120 } else { 600 };

    let mut h = harness(opts("play"));
    settle(&mut h);
    play(&mut h);
    report(
        "playing a SynthMotion clip, preview on",
        frames(&mut h, n, |_, _| {}),
    );

    h.state_mut().state_mut().commands.push(UiCommand::Pause);
    report(
        "dragging opacity (a new revision per frame)",
        frames(&mut h, n, |h, i| {
            let v = 0.3 + 0.7 * ((i % 50) as f64 / 50.0);
            h.state_mut()
                .state_mut()
                .commands
                .push(UiCommand::Design(DesignCommand::SetField {
                    path: "visual.opacity".into(),
                    value: serde_json::json!(v),
                    dragging: true,
                }));
        }),
    );
    drop(h);

    let bbb = Path::new("samples/bigbuckbunny.mp4");
    if bbb.exists() {
        let mut h = harness(StudioOptions {
            open: Some(bbb.into()),
            ..opts("bbb")
        });
        settle(&mut h);
        play(&mut h);
        report(
            "playing the 720p sample (streamed)",
            frames(&mut h, n, |_, _| {}),
        );
    } else {
        println!("(samples/bigbuckbunny.mp4 missing: run scripts/setup.sh for the 720p case)");
    }

    let quick_toml = long_quick();
    let mut h = harness(StudioOptions {
        experiment: Some(("quick.toml".into(), quick_toml)),
        ..opts("train")
    });
    // Wait for the library and the run's first events, not for the run to end.
    let deadline = Instant::now() + Duration::from_secs(120);
    while (h.state().state().selected_entry().is_none() || !h.state().state().experiments.running())
        && Instant::now() < deadline
    {
        h.step();
        std::thread::sleep(Duration::from_millis(10));
    }
    report(
        "training: Experiments tab (live plots)",
        frames(&mut h, n, |_, _| {}),
    );
    h.state_mut().state_mut().tab = Tab::Studio;
    play(&mut h);
    report(
        "training: Studio tab, playing",
        frames(&mut h, n, |_, _| {}),
    );
    assert!(
        h.state().state().experiments.running(),
        "the run was still going while measured"
    );
    h.state_mut()
        .state_mut()
        .commands
        .push(UiCommand::CancelRun);
    h.step();
    drop(h);

    // A run training while the model lens sweeps a parameter (a new sweep as soon as one ends),
    // on the Studio tab (the lens and its plot in the inspector), then the run history.
    let lens_dir = std::env::temp_dir().join("tl-uibench-lens-model");
    let tiny = triggerlab::core::experiment::parse_experiment(LENS_MODEL).expect("tiny spec");
    triggerlab::jobs::experiment::run_experiment(
        &tiny,
        &lens_dir,
        false,
        &std::sync::atomic::AtomicBool::new(false),
        &mut |_| {},
    )
    .expect("the lens's model trains");
    let quick_toml = long_quick();
    let mut h = harness(StudioOptions {
        experiment: Some(("quick.toml".into(), quick_toml)),
        model: Some(lens_dir),
        runs_root: Some(std::env::temp_dir().join("tl-uibench-runs")),
        ..opts("sweep")
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    while (h.state().state().selected_entry().is_none()
        || !h.state().state().experiments.running()
        || h.state().state().lens.model.is_none())
        && Instant::now() < deadline
    {
        h.step();
        std::thread::sleep(Duration::from_millis(10));
    }
    h.state_mut().state_mut().tab = Tab::Studio;
    let mut sweeps = 0usize;
    let mut points = 0usize;
    report(
        "training + lens sweeping: Studio tab",
        frames(&mut h, n, |h, _| {
            let s = h.state_mut().state_mut();
            if s.lens.sweep.running.is_none() {
                points += s.lens.sweep.points.len();
                sweeps += 1;
                s.commands.push(UiCommand::StartSweep);
            }
        }),
    );
    println!(
        "  ({sweeps} sweeps started, {points} points plotted meanwhile; last error: {:?})",
        h.state().state().lens.sweep.error
    );
    h.state_mut().state_mut().tab = Tab::Experiments;
    h.state_mut().state_mut().experiments.view =
        triggerlab::ui::experiment_state::ExperimentsView::History;
    report(
        "training + lens sweeping: run history",
        frames(&mut h, n.min(240), |h, _| {
            let s = h.state_mut().state_mut();
            if s.lens.sweep.running.is_none() {
                s.commands.push(UiCommand::StartSweep);
            }
        }),
    );
    assert!(
        h.state().state().experiments.running(),
        "the run was still going while measured"
    );
    assert!(points > 0, "the sweeps plotted points while measured");
    h.state_mut()
        .state_mut()
        .commands
        .push(UiCommand::CancelRun);
    h.step();
}

/// examples/quick.toml with epochs enough to outlast the measurements (the demo itself ends in
/// about 20 s).
fn long_quick() -> String {
    let text = std::fs::read_to_string("examples/quick.toml").expect("examples/quick.toml");
    triggerlab::core::run_form::with_setting(&text, "epochs", 200.into()).expect("epochs")
}

/// A model for the lens to sweep with: 3 SynthMotion classes, 6 frames at 32², a few seconds.
const LENS_MODEL: &str = r#"
version = 1
name = "lens-model"
seed = 7
epochs = 20
batch_size = 4
[dataset]
synth = { classes = 3, per_class = 20 }
frames = 6
size = 32
[model]
kind = "r2plus1d_tiny"
init = "he"
[optimizer]
lr = 0.002
[attack]
visual = { kind = "badnets", size = 6, margin = 4, checkerboard = { cell = 2, colors = [[0, 0, 0], [255, 255, 255]] } }
temporal = { frames = "all", mode = "static" }
[poison]
target = "MoveLeft"
ratio = 0.25
"#;
