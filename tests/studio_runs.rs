//! The Experiments tab's run history, comparison and guided demo, and the model lens's
//! sensitivity sweep, driven as a user would: runs made by the CLI and the library appear in the
//! history; ticking two overlays two curves (their points are the runs' own per-epoch figures and
//! both colours are on screen); the demo's stage lines appear in order and its model ends up in
//! the lens; a 3-value sweep plots exactly what the run's predictor says for the library's clips.

mod common;

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};
use triggerlab::app::{StudioOptions, TriggerLabApp};
use triggerlab::core::experiment::parse_experiment;
use triggerlab::core::synth::SynthSpec;
use triggerlab::jobs::lens::{LensClip, lens_clip};
use triggerlab::train::predict::Predictor;
use triggerlab::ui::Tab;
use triggerlab::ui::experiment_state::ExperimentsView;

/// Implants its backdoor in a few seconds (3 classes, 6 frames at 32², He init): ASR 1.0 with
/// CA 0.75–0.83 for seeds 7 and 8.
const TINY: &str = r#"
version = 1
name = "tiny"
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

fn library() -> SynthSpec {
    SynthSpec {
        per_class: 1,
        size: 48,
        ..triggerlab::app::library_spec()
    }
}

fn studio(opts: StudioOptions, size: egui::Vec2) -> Harness<'static, TriggerLabApp> {
    Harness::builder()
        .with_size(size)
        .build_eframe(move |cc| TriggerLabApp::new(cc, opts, Default::default()))
}

/// Steps until startup, runs, scans and the lens are done.
fn settle(h: &mut Harness<'static, TriggerLabApp>) {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        h.step();
        let s = h.state().state();
        let lens = &s.lens;
        let answered = lens.model.is_none()
            || lens
                .answer
                .as_ref()
                .is_some_and(|(k, _)| Some(*k) == lens.wanted(s));
        let quiet = !s.experiments.running()
            && !s.experiments.history.scanning
            && lens.sweep.running.is_none();
        if !h.state().busy() && quiet && answered && s.commands.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "the studio never settled");
        std::thread::sleep(Duration::from_millis(10));
    }
    h.step();
    h.step();
}

/// The rendered window, or `None` where no wgpu adapter exists (and none is required).
fn render(h: &mut Harness<'static, TriggerLabApp>) -> Option<image::RgbaImage> {
    match h.render() {
        Ok(img) => Some(img),
        Err(e) => {
            assert!(
                std::env::var_os("TRIGGERLAB_REQUIRE_DISPLAY").is_none(),
                "no renderer although TRIGGERLAB_REQUIRE_DISPLAY is set: {e}"
            );
            eprintln!("skipping the pixel checks: {e}");
            None
        }
    }
}

/// Pixels within `rect` (points) of `colour` (±16 per channel).
fn count_colour(
    img: &image::RgbaImage,
    ppp: f32,
    rect: egui::Rect,
    colour: egui::Color32,
) -> usize {
    let mut n = 0;
    let (x0, y0) = ((rect.min.x * ppp) as u32, (rect.min.y * ppp) as u32);
    let (x1, y1) = ((rect.max.x * ppp) as u32, (rect.max.y * ppp) as u32);
    for y in y0..y1.min(img.height()) {
        for x in x0..x1.min(img.width()) {
            let p = img.get_pixel(x, y).0;
            let near = |a: u8, b: u8| (i32::from(a) - i32::from(b)).abs() <= 16;
            if near(p[0], colour.r()) && near(p[1], colour.g()) && near(p[2], colour.b()) {
                n += 1;
            }
        }
    }
    n
}

fn cli_run(spec: &Path, out: &Path) {
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_triggerlab"))
        .args(["run"])
        .arg(spec)
        .arg("--out")
        .arg(out)
        .output()
        .expect("runs the CLI");
    assert!(
        status.status.success(),
        "triggerlab run: {}",
        String::from_utf8_lossy(&status.stderr)
    );
}

#[test]
fn the_history_lists_a_cli_run_and_two_selected_runs_overlay_their_curves() {
    let dir = tempfile::tempdir().expect("tmp");
    let root = dir.path().join("runs");
    // One run by the CLI, one by the library (as the studio's own runs are made), a different
    // seed each so the curves differ.
    let spec_a = dir.path().join("a.toml");
    std::fs::write(
        &spec_a,
        TINY.replace("name = \"tiny\"", "name = \"by-cli\""),
    )
    .expect("spec");
    cli_run(&spec_a, &root.join("by-cli"));
    let spec_b = parse_experiment(
        &TINY
            .replace("name = \"tiny\"", "name = \"by-lib\"")
            .replace("seed = 7", "seed = 8"),
    )
    .expect("parses");
    triggerlab::jobs::experiment::run_experiment(
        &spec_b,
        &root.join("by-lib"),
        false,
        &AtomicBool::new(false),
        &mut |_| {},
    )
    .expect("trains");
    // A folder that is not a run is not listed.
    std::fs::create_dir_all(root.join("notes")).expect("dir");

    let mut h = studio(
        StudioOptions {
            library: Some(library()),
            autosave_dir: Some(dir.path().join("autosave")),
            runs_root: Some(root.clone()),
            ..Default::default()
        },
        egui::vec2(1500.0, 1300.0),
    );
    settle(&mut h);
    h.state_mut().state_mut().tab = Tab::Experiments;
    h.state_mut().state_mut().experiments.view = ExperimentsView::History;
    h.step();
    settle(&mut h);
    let entries = h.state().state().experiments.history.entries.clone();
    let names: Vec<&str> = entries.iter().map(|e| e.row.name.as_str()).collect();
    assert_eq!(entries.len(), 2, "{names:?}");
    assert!(
        names.contains(&"by-cli") && names.contains(&"by-lib"),
        "{names:?}"
    );
    for e in &entries {
        assert_eq!(e.row.status, "finished");
        assert_eq!(e.row.model, "r2plus1d_tiny");
        assert!(
            e.row.attack.starts_with("badnets · static"),
            "{}",
            e.row.attack
        );
        // The figures shown are the run's own.
        let r: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(e.dir.join("results.json")).expect("results"),
        )
        .expect("json");
        let ca = r["final"]["ca"].as_f64().expect("ca");
        assert_eq!(e.row.ca, Some(ca));
        // The confusion matrices agree with the run's figures: the clean one's diagonal is its
        // CA, the triggered one's target column (other classes' rows) its ASR.
        let rec = e.record.as_ref().expect("finished runs have results");
        let m = &rec.confusion_clean;
        let total: usize = m.iter().flatten().sum();
        let diag: usize = (0..m.len()).map(|i| m[i][i]).sum();
        assert!((diag as f64 / total as f64 - ca).abs() < 1e-12, "{m:?}");
        let t = rec
            .classes
            .iter()
            .position(|c| *c == rec.target_name)
            .expect("target");
        let mt = &rec.confusion_triggered;
        let (hit, others): (usize, usize) = (0..mt.len())
            .filter(|&i| i != t)
            .map(|i| (mt[i][t], mt[i].iter().sum::<usize>()))
            .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
        let asr = r["final"]["asr"].as_f64().expect("asr");
        assert!((hit as f64 / others as f64 - asr).abs() < 1e-12, "{mt:?}");
        assert!(
            h.query_all_by_label(&format!("{ca:.3}")).count() >= 1,
            "CA {ca:.3} of {} is on screen",
            e.row.name
        );
    }

    // Tick both (the checkbox carries the run's name), as a user would.
    h.get_by_label("by-cli").click();
    h.step();
    h.get_by_label("by-lib").click();
    h.step();
    settle(&mut h);
    let hs = &h.state().state().experiments.history;
    assert_eq!(hs.selected.len(), 2);
    let curves = hs.overlay();
    assert_eq!(curves.len(), 2, "two curves overlaid");
    for (name, pts) in &curves {
        let e = entries
            .iter()
            .find(|e| &e.row.name == name)
            .expect("a listed run");
        let want: Vec<[f64; 2]> = e
            .epochs
            .iter()
            .map(|m| [(m.epoch + 1) as f64, m.ca])
            .collect();
        assert_eq!(pts, &want, "{name}: the curve is the run's CA per epoch");
        assert_eq!(pts.len(), 20);
    }
    assert_ne!(curves[0].1, curves[1].1, "different runs, different curves");
    if let Some(img) = render(&mut h) {
        let rect = h
            .state()
            .state()
            .experiments
            .history
            .plot_rect
            .expect("the overlay was drawn");
        let ppp = h.ctx.pixels_per_point();
        for i in 0..2 {
            let c = triggerlab::ui::run_history::colour(i);
            let n = count_colour(&img, ppp, rect, c);
            assert!(
                n > 40,
                "run {i}'s colour {c:?} covers {n} pixels of the overlay"
            );
        }
    }

    // Export: the CSV holds both runs' figures.
    h.get_by_label("Export table (CSV)").click();
    h.step();
    let csv = root.join("comparison.csv");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !csv.is_file() {
        h.step();
        assert!(Instant::now() < deadline, "no comparison.csv");
        std::thread::sleep(Duration::from_millis(20));
    }
    let text = std::fs::read_to_string(&csv).expect("csv");
    assert_eq!(text.lines().count(), 3, "{text}");
    assert!(
        text.contains("by-cli,") && text.contains("by-lib,"),
        "{text}"
    );
    h.get_by_label("Export plot (PNG)").click();
    h.step();
    let png = root.join("comparison.png");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !png.is_file() {
        h.step();
        assert!(Instant::now() < deadline, "no comparison.png");
        std::thread::sleep(Duration::from_millis(20));
    }
    let img = image::open(&png).expect("a PNG").to_rgb8();
    assert_eq!((img.width(), img.height()), (1500, 460));
}

#[test]
fn the_guided_demo_narrates_its_stages_in_order_and_opens_its_model_in_the_lens() {
    let dir = tempfile::tempdir().expect("tmp");
    let root = dir.path().join("runs");
    let mut h = studio(
        StudioOptions {
            library: Some(library()),
            autosave_dir: Some(dir.path().join("autosave")),
            runs_root: Some(root.clone()),
            demo_spec: Some(TINY.to_string()),
            ..Default::default()
        },
        egui::vec2(1500.0, 1100.0),
    );
    settle(&mut h);
    h.state_mut().state_mut().tab = Tab::Experiments;
    h.step();
    h.get_by_label("Run the demo attack").click();
    h.step();
    settle(&mut h);
    let s = h.state().state();
    let run = s.experiments.run.as_ref().expect("the demo ran");
    assert!(run.demo);
    assert_eq!(run.stages.len(), 5, "{:?}", run.stages);
    // The end: the model in the lens, the run's attack on the canvas, side by side, on a clip
    // of another class than the target.
    assert_eq!(s.tab, Tab::Studio);
    let model = s
        .lens
        .model
        .as_ref()
        .expect("the demo's model is in the lens");
    assert_eq!(model.dir, root.join("demo"));
    assert_eq!(
        s.doc.design().view.mode,
        triggerlab::core::design::ViewMode::SideBySide
    );
    match &s.selected_entry().expect("a clip").source {
        triggerlab::ui::ClipSource::Synth { class, .. } => assert_ne!(class, "MoveLeft"),
        other => panic!("{other:?}"),
    }
    let stages = run.stages.clone();
    assert!(stages[0].contains("Poison set") && stages[0].contains("MoveLeft"));
    // The outcome, in the run's own figures.
    let f = &run.results.as_ref().expect("results").final_metrics;
    assert!(
        stages[4].contains(&format!("CA {:.2}", f.ca)),
        "{}",
        stages[4]
    );

    // Back on the Experiments tab the five lines are on screen, top to bottom in stage order.
    h.state_mut().state_mut().tab = Tab::Experiments;
    h.step();
    h.step();
    let ys: Vec<f32> = stages
        .iter()
        .map(|line| h.get_by_label(line).rect().min.y)
        .collect();
    assert!(ys.windows(2).all(|w| w[0] < w[1]), "in order: {ys:?}");
    for (i, line) in stages.iter().enumerate() {
        assert!(line.starts_with(&format!("{} · ", i + 1)), "{line}");
    }
}

#[test]
fn a_three_value_sweep_plots_what_the_runs_predictor_says_for_the_library() {
    let dir = tempfile::tempdir().expect("tmp");
    let run = dir.path().join("tiny");
    let spec = parse_experiment(TINY).expect("parses");
    triggerlab::jobs::experiment::run_experiment(
        &spec,
        &run,
        false,
        &AtomicBool::new(false),
        &mut |_| {},
    )
    .expect("trains");
    let attack = triggerlab::train::trainer::attack_for(&spec);
    let mut h = studio(
        StudioOptions {
            library: Some(library()),
            autosave_dir: Some(dir.path().join("autosave")),
            attack: Some((attack.clone(), PathBuf::from("."))),
            model: Some(run.clone()),
            ..Default::default()
        },
        egui::vec2(1400.0, 1400.0),
    );
    settle(&mut h);
    assert!(h.state().state().lens.model.is_some(), "loaded");
    {
        let sw = &mut h.state_mut().state_mut().lens.sweep;
        sw.path = "visual.opacity".into();
        sw.lo = 0.0;
        sw.hi = 1.0;
        sw.steps = 3;
    }
    h.step();
    h.get_by_label("Sensitivity sweep…").click();
    // A new window is laid out on its first frame and shown on the next.
    h.step();
    h.step();
    h.step();
    h.get_by_label("Run sweep").click();
    h.step();
    settle(&mut h);
    let sw = h.state().state().lens.sweep.clone();
    assert_eq!(sw.error, None);
    let values: Vec<f64> = sw.points.iter().map(|p| p.value).collect();
    assert_eq!(values, vec![0.0, 0.5, 1.0]);

    // The same figures computed here from the predictor: the library's clips of other classes
    // that the clean model does not already call the target.
    let p = Predictor::load(&run, &candle_core::Device::Cpu).expect("loads");
    let target = p.run.target;
    let lib = library();
    let clips: Vec<(usize, triggerlab::core::Clip)> = h
        .state()
        .state()
        .clips
        .iter()
        // The sweep's clips in its order (their places are their test indices).
        .filter(|c| !matches!(c.source, triggerlab::ui::ClipSource::Demo))
        .enumerate()
        .filter_map(|(i, c)| match &c.source {
            triggerlab::ui::ClipSource::Synth { class, index } => {
                let m = lib.motions().iter().position(|m| m.name() == class)?;
                (p.classes.iter().position(|n| n == class) != Some(target)).then(|| {
                    let clip = lens_clip(
                        &p,
                        &LensClip::Synth {
                            spec: lib.clone(),
                            class: m,
                            index: *index,
                        },
                    )
                    .expect("clip");
                    (i, clip)
                })
            }
            _ => None,
        })
        .filter(|(i, c)| {
            let clean = p
                .probabilities(c, *i, None, &triggerlab::core::assets::NoAssets)
                .expect("clean");
            Predictor::predicted(&clean) != target
        })
        .collect();
    assert!(!clips.is_empty());
    for point in &sw.points {
        let a = triggerlab::core::sweep::with_value(&attack, "visual.opacity", point.value)
            .expect("value");
        let (mut prob, mut flipped) = (0.0, 0usize);
        for (i, c) in &clips {
            let t = p
                .probabilities(c, *i, Some(&a), &triggerlab::core::assets::NoAssets)
                .expect("triggered");
            prob += t[target];
            flipped += usize::from(Predictor::predicted(&t) == target);
        }
        let n = clips.len() as f64;
        assert_eq!(point.clips, clips.len());
        assert!((point.target_prob - prob / n).abs() < 1e-12, "{point:?}");
        assert!(
            (point.flipped - flipped as f64 / n).abs() < 1e-12,
            "{point:?}"
        );
    }
    // Opacity 0 is no trigger: nothing flips; at full opacity this backdoor flips most.
    assert_eq!(sw.points[0].flipped, 0.0);
    assert!(sw.points[2].flipped > 0.5, "{:?}", sw.points[2]);
    let (target_series, _) = sw.series();
    assert_eq!(target_series.len(), 3);
    if let Some(img) = render(&mut h) {
        let rect = sw.plot_rect.expect("the sweep plot was drawn");
        let ppp = h.ctx.pixels_per_point();
        let n = count_colour(&img, ppp, rect, triggerlab::ui::sweep::FLIPPED_COLOUR);
        assert!(n > 20, "the flipped curve covers {n} pixels");
    }
}

/// A tiny audio-visual model with a tone in the audio as its trigger.
const FUSION: &str = r#"
version = 1
name = "fusion"
seed = 7
epochs = 12
batch_size = 4
[dataset]
synth = { classes = 3, per_class = 20 }
frames = 6
size = 32
[model]
kind = "av_fusion"
init = "he"
[optimizer]
lr = 0.002
[attack]
audio = { kind = "tone", freq_hz = 1000.0, level_dbfs = -20.0, duration_secs = 0.5, placement = "middle" }
[poison]
target = "MoveLeft"
ratio = 0.25
modality = "audio"
"#;

#[test]
fn an_av_fusion_models_branches_answer_per_modality_as_its_predictor_does() {
    let dir = tempfile::tempdir().expect("tmp");
    let run = dir.path().join("fusion");
    let spec = parse_experiment(FUSION).expect("parses");
    triggerlab::jobs::experiment::run_experiment(
        &spec,
        &run,
        false,
        &AtomicBool::new(false),
        &mut |_| {},
    )
    .expect("trains");
    // The design: the run's tone, plus a patch in the video, so every row has its trigger.
    let mut attack = triggerlab::train::trainer::attack_for(&spec);
    attack.visual = triggerlab::core::attack::parse_value(serde_json::json!({
        "version": 1,
        "visual": {"kind": "badnets", "size": 6, "margin": 4},
    }))
    .expect("patch")
    .visual;
    let mut h = studio(
        StudioOptions {
            library: Some(library()),
            autosave_dir: Some(dir.path().join("autosave")),
            attack: Some((attack.clone(), PathBuf::from("."))),
            model: Some(run.clone()),
            ..Default::default()
        },
        egui::vec2(1400.0, 1400.0),
    );
    settle(&mut h);
    let s = h.state().state();
    let model = s.lens.model.clone().expect("loaded");
    let answer = s
        .lens
        .answer
        .clone()
        .expect("answered")
        .1
        .expect("no error");
    let rows = answer
        .branches
        .clone()
        .expect("an av_fusion model has branches");
    let names: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(names, ["clean", "video", "audio", "both"]);

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
    let no = triggerlab::core::assets::NoAssets;
    for ((name, b), (want_name, a)) in rows
        .iter()
        .zip(triggerlab::jobs::lens::modality_rows(&attack))
    {
        assert_eq!(name, want_name);
        let want = p
            .branches(&clip, 0, a.as_ref(), &no)
            .expect("predicts")
            .expect("branches");
        assert_eq!(b, &want, "row {name}");
        for probs in [&b.video, &b.audio, &b.fused] {
            let label = triggerlab::ui::lens::branch_cell(&model, probs);
            assert!(
                h.query_all_by_label(&label).count() >= 1,
                "row {name}: {label} is on screen"
            );
        }
    }
    // The fused answers are the model's own: clean and with the whole attack.
    assert_eq!(rows[0].1.fused, answer.clean);
    assert_eq!(rows[3].1.fused, answer.triggered);
    // A tone in the audio does not reach the video branch.
    assert_eq!(rows[2].1.video, rows[0].1.video);
    assert_ne!(rows[2].1.audio, rows[0].1.audio);
}

#[test]
fn queued_runs_run_one_after_another_with_the_forms_settings() {
    let dir = tempfile::tempdir().expect("tmp");
    let root = dir.path().join("runs");
    let mut h = studio(
        StudioOptions {
            library: Some(library()),
            autosave_dir: Some(dir.path().join("autosave")),
            runs_root: Some(root.clone()),
            ..Default::default()
        },
        egui::vec2(1500.0, 1200.0),
    );
    settle(&mut h);
    h.state_mut().state_mut().tab = Tab::Experiments;
    h.state_mut().state_mut().experiments.spec_text = format!("# first\n{TINY}");
    h.step();
    h.get_by_label("Start run").click();
    h.step();
    assert!(h.state().state().experiments.running());
    // While it trains: the second run's name in the text, its model picked in the form.
    {
        let ex = &mut h.state_mut().state_mut().experiments;
        ex.spec_text = ex.spec_text.replace("name = \"tiny\"", "name = \"second\"");
    }
    h.step();
    h.get_by_role_and_label(egui::accesskit::Role::ComboBox, "model")
        .click();
    h.step();
    h.step();
    h.get_by_label("tsm_tiny").click();
    h.step();
    let text = h.state().state().experiments.spec_text.clone();
    assert!(
        text.starts_with("# first\n"),
        "the form keeps the text's comments: {text}"
    );
    assert_eq!(
        parse_experiment(&text).expect("parses").model.kind,
        triggerlab::core::experiment::ModelName::TsmTiny
    );
    h.get_by_label("Queue run").click();
    h.step();
    assert_eq!(
        h.state().state().experiments.queue.len(),
        1,
        "queued behind the first"
    );
    assert!(h.state().state().experiments.running(), "the first goes on");
    // Both end, one after the other; the history lists both with their own models.
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        settle(&mut h);
        let s = h.state().state();
        if s.experiments.queue.is_empty() && !s.experiments.running() {
            break;
        }
        assert!(Instant::now() < deadline, "the queue never emptied");
    }
    let entries = &h.state().state().experiments.history.entries;
    let mut rows: Vec<(String, String, String)> = entries
        .iter()
        .map(|e| {
            (
                e.row.name.clone(),
                e.row.model.clone(),
                e.row.status.clone(),
            )
        })
        .collect();
    rows.sort();
    assert_eq!(
        rows,
        [
            ("second".into(), "tsm_tiny".into(), "finished".into()),
            ("tiny".into(), "r2plus1d_tiny".into(), "finished".into()),
        ]
    );
}
