//! The trigger designer, driven through its widgets by label: choosing triggers and presets
//! changes what the canvas shows; undo and redo restore the exact pixels; a value core refuses
//! is shown under its field while the canvas keeps the last valid design; a saved project
//! opens to the same design.

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use triggerlab::app::{StudioOptions, TriggerLabApp};
use triggerlab::core::Frame;
use triggerlab::core::assets::NoAssets;
use triggerlab::core::synth::SynthSpec;
use triggerlab::core::trigger::VisualTrigger;

fn library() -> SynthSpec {
    SynthSpec {
        per_class: 1,
        size: 48,
        ..triggerlab::app::library_spec()
    }
}

fn autosave_dir(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!("tl-design-{tag}-{}", std::process::id()))
}

fn harness(opts: StudioOptions) -> Harness<'static, TriggerLabApp> {
    Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .build_eframe(move |cc| TriggerLabApp::new(cc, opts, Default::default()))
}

fn opts(tag: &str) -> StudioOptions {
    StudioOptions {
        library: Some(library()),
        autosave_dir: Some(autosave_dir(tag)),
        // Paused on frame 2, so every preview is of one frame.
        frame: Some(2),
        ..Default::default()
    }
}

/// Steps until startup work is done and the preview of the frame at the playhead is on screen.
fn settle(h: &mut Harness<'static, TriggerLabApp>) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let clips = library().motions().len();
    loop {
        h.step();
        let s = h.state().state();
        let shown = s.preview_key().is_some_and(|k| {
            s.preview.exact(k).is_some() || s.preview.error.as_ref().is_some_and(|(e, _)| *e == k)
        });
        if !h.state().busy() && s.clips.len() >= clips && shown {
            break;
        }
        assert!(Instant::now() < deadline, "the studio never settled");
        std::thread::sleep(Duration::from_millis(10));
    }
    h.step();
}

/// The poisoned frame the canvas shows now.
/// The kind of the design's visual trigger.
fn visual_kind(h: &Harness<'static, TriggerLabApp>) -> Option<&'static str> {
    h.state()
        .state()
        .doc
        .design()
        .spec
        .visual
        .as_ref()
        .map(VisualTrigger::kind)
}

fn shown(h: &Harness<'static, TriggerLabApp>) -> Frame {
    let s = h.state().state();
    let key = s.preview_key().expect("a frame at the playhead");
    s.preview
        .exact(key)
        .expect("the preview of this very frame")
        .poisoned
        .clone()
}

fn clean(h: &Harness<'static, TriggerLabApp>) -> Frame {
    h.state().state().current_frame().expect("a frame").0
}

/// What core makes of the design's spec on the clip at the playhead: the canvas must match it.
fn core_frame(h: &Harness<'static, TriggerLabApp>) -> Frame {
    let s = h.state().state();
    let clip = s
        .selected_entry()
        .and_then(|e| e.clip.clone())
        .expect("an in-memory clip");
    let i = s.current_frame_index().expect("index");
    triggerlab::core::apply_clip(&s.doc.design().spec, &clip, &NoAssets)
        .expect("applies")
        .clip
        .frames()[i]
        .clone()
}

/// Opens the menu named `combo` (by its label) and chooses `option`.
fn pick(h: &mut Harness<'static, TriggerLabApp>, combo: &str, option: &str) {
    h.get_by_label(combo).click();
    h.step();
    h.step();
    h.get_by_label(option).click();
    h.step();
    settle(h);
}

#[test]
fn every_trigger_kind_changes_the_canvas_and_undo_restores_the_pixels() {
    let mut h = harness(opts("kinds"));
    settle(&mut h);
    assert_eq!(h.state().state().current_frame_index(), Some(2), "--frame");
    assert!(!h.state().state().playback.playing, "paused there");
    let start = shown(&h);
    assert_ne!(
        start.rgb(),
        clean(&h).rgb(),
        "the default BadNets patch is on the canvas"
    );
    assert_eq!(
        start.rgb(),
        core_frame(&h).rgb(),
        "the canvas is core's result"
    );

    // Each kind through the inspector's menu; the canvas shows core's result for it.
    let mut history = vec![start.clone()];
    for kind in [
        "blend",
        "sig",
        "wanet",
        "ftrojan",
        "tdba",
        "flicker",
        "color_cast",
        "jpeg",
        "shake",
        "motion_blur",
    ] {
        pick(&mut h, "trigger kind", kind);
        let got = shown(&h);
        assert_eq!(visual_kind(&h), Some(kind));
        assert_eq!(
            got.rgb(),
            core_frame(&h).rgb(),
            "{kind}: the canvas is core's result"
        );
        assert_ne!(
            got.rgb(),
            history.last().expect("one").rgb(),
            "{kind}: the canvas changed"
        );
        history.push(got);
    }
    // Undo walks back through every step with the exact previous pixels; redo forward again.
    for want in history.iter().rev().skip(1) {
        h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Z);
        settle(&mut h);
        assert_eq!(shown(&h).rgb(), want.rgb(), "undo restores the pixels");
    }
    for want in history.iter().skip(1) {
        h.key_press_modifiers(
            egui::Modifiers::COMMAND | egui::Modifiers::SHIFT,
            egui::Key::Z,
        );
        settle(&mut h);
        assert_eq!(shown(&h).rgb(), want.rgb(), "redo restores the pixels");
    }
}

#[test]
fn a_preset_sets_the_literature_setting() {
    let mut h = harness(opts("preset"));
    settle(&mut h);
    let before = shown(&h);
    pick(&mut h, "preset", "SIG · Δ = 40, f = 6");
    match &h.state().state().doc.design().spec.visual {
        Some(VisualTrigger::Sig(s)) => assert_eq!((s.delta, s.freq), (40.0, 6.0)),
        other => panic!("{other:?}"),
    }
    let after = shown(&h);
    assert_ne!(after.rgb(), before.rgb());
    assert_eq!(after.rgb(), core_frame(&h).rgb());
}

#[test]
fn a_refused_value_is_shown_at_its_field_and_the_canvas_keeps_the_last_valid_design() {
    let mut h = harness(opts("refused"));
    settle(&mut h);
    let valid = shown(&h);
    // A 500-pixel patch does not fit a 48-pixel frame: core refuses it when preparing.
    h.state_mut()
        .state_mut()
        .commands
        .push(triggerlab::ui::UiCommand::Design(
            triggerlab::core::design::DesignCommand::SetField {
                path: "visual.size".into(),
                value: serde_json::json!(500),
                dragging: false,
            },
        ));
    settle(&mut h);
    let errors = h.state().state().spec_errors();
    assert!(
        errors.iter().any(|e| e.field.starts_with("visual")),
        "{errors:?}"
    );
    // Under the field, with core's own message.
    let msg = errors[0].to_string();
    h.get_by_label(&msg);
    // The canvas still shows the last design core accepted.
    let latest = &h
        .state()
        .state()
        .preview
        .latest
        .as_ref()
        .expect("a preview")
        .1;
    assert_eq!(latest.poisoned.rgb(), valid.rgb());
}

#[test]
fn a_saved_project_opens_to_the_same_design() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("study.tlab.json");
    let mut h = harness(opts("save"));
    settle(&mut h);
    pick(&mut h, "trigger kind", "sig");
    pick(&mut h, "preset", "SIG · moving stripes (dynamic)");
    h.state_mut().state_mut().project.path = Some(path.clone());
    h.state_mut()
        .state_mut()
        .commands
        .push(triggerlab::ui::UiCommand::SaveProject);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !path.exists() || h.state().state().doc.edited_since_save() {
        assert!(Instant::now() < deadline, "never saved");
        h.step();
        std::thread::sleep(Duration::from_millis(10));
    }
    let saved = h.state().state().doc.design().clone();
    let design = triggerlab::jobs::project::read_project(&path).expect("reads back");
    assert_eq!(design, saved);
    assert_eq!(design.cursor, 2, "the playhead is saved as a frame index");

    let mut again = harness(StudioOptions {
        project: Some((path.clone(), design)),
        frame: None,
        ..opts("reopen")
    });
    settle(&mut again);
    let s = again.state().state();
    assert_eq!(s.doc.design().spec, saved.spec);
    assert_eq!(s.doc.design().selected, saved.selected);
    assert_eq!(s.current_frame_index(), Some(2), "back on the saved frame");
    assert_eq!(shown(&again).rgb(), shown(&h).rgb(), "the same picture");
}

/// A studio that crashed (its marker left, its process gone) has its autosave offered at the
/// next launch, and Restore brings its design back, while a second studio running at the same
/// time keeps its own autosave: neither writes over the other's.
#[test]
fn a_crashed_studios_autosave_is_offered_and_restored() {
    let dir = autosave_dir("crash");
    let _ = std::fs::remove_dir_all(&dir); // a leftover of an earlier run, if any
    std::fs::create_dir_all(&dir).expect("dir");
    let mut crashed = triggerlab::core::design::Design::default();
    crashed.spec.visual = VisualTrigger::default_of("sig");
    let saved = dir.join("autosave-4294967.tlab.json");
    triggerlab::jobs::project::write_project(&saved, &crashed).expect("autosave");
    std::fs::write(dir.join("session-4294967"), "4294967\n").expect("marker");

    let mut h = harness(opts("crash"));
    let deadline = Instant::now() + Duration::from_secs(30);
    while h.query_by_label("Restore").is_none() {
        assert!(Instant::now() < deadline, "no restore offer");
        h.step();
        std::thread::sleep(Duration::from_millis(10));
    }
    h.get_by_label("Restore").click();
    settle(&mut h);
    assert_eq!(
        visual_kind(&h),
        Some("sig"),
        "the crashed session's design is back"
    );
    // This studio autosaves to its own file; the crashed one's stays as it was.
    assert_eq!(
        triggerlab::jobs::project::autosave_path(&dir),
        dir.join(format!("autosave-{}.tlab.json", std::process::id()))
    );
    assert!(saved.exists());
}
