//! Painting, picking and placing the patch by hand, driven through the pointer and the keys:
//! brush pixels land in the patch and on the canvas, a fill undoes in one step, the eyedropper
//! and the pick read the frame, dragging and the handles set the spec's position and size,
//! keyframes interpolate, and a saved project reopens to the same patch.

use egui::{Modifiers, PointerButton, Pos2};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use triggerlab::app::{StudioOptions, TriggerLabApp};
use triggerlab::core::Frame;
use triggerlab::core::placement::{Keyframe, Mode, Variation};
use triggerlab::core::synth::SynthSpec;
use triggerlab::core::trigger::VisualTrigger;
use triggerlab::core::trigger::badnets::BadnetsSpec;
use triggerlab::core::trigger::patch::{Anchor, Painted, PatchSize};
use triggerlab::ui::UiCommand;
use triggerlab::ui::patch_editor::PaintTool;

fn library() -> SynthSpec {
    SynthSpec {
        per_class: 1,
        size: 48,
        ..triggerlab::app::library_spec()
    }
}

fn opts(tag: &str) -> StudioOptions {
    let dir = std::env::temp_dir().join(format!("tl-patch-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    StudioOptions {
        library: Some(library()),
        autosave_dir: Some(dir),
        frame: Some(2),
        ..Default::default()
    }
}

fn harness(opts: StudioOptions) -> Harness<'static, TriggerLabApp> {
    Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .build_eframe(move |cc| TriggerLabApp::new(cc, opts, Default::default()))
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
        if !h.state().busy() && s.clips.len() >= clips && shown && s.commands.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "the studio never settled");
        std::thread::sleep(Duration::from_millis(10));
    }
    h.step();
}

fn send(h: &mut Harness<'static, TriggerLabApp>, cmd: UiCommand) {
    h.state_mut().state_mut().commands.push(cmd);
    h.step();
    settle(h);
}

fn badnets(h: &Harness<'static, TriggerLabApp>) -> BadnetsSpec {
    match &h.state().state().doc.design().spec.visual {
        Some(VisualTrigger::Badnets(b)) => b.clone(),
        other => panic!("not badnets: {other:?}"),
    }
}

fn patch(h: &Harness<'static, TriggerLabApp>) -> Painted {
    h.state()
        .state()
        .doc
        .design()
        .patch
        .clone()
        .expect("a patch in the design")
}

/// The poisoned frame the canvas shows now (core's result, by the preview worker).
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

fn rgb(f: &Frame, x: u32, y: u32) -> [u8; 3] {
    let i = ((y * f.width() + x) * 3) as usize;
    [f.rgb()[i], f.rgb()[i + 1], f.rgb()[i + 2]]
}

/// The screen point at the centre of patch pixel (x, y) in the editor's grid.
fn grid_point(h: &Harness<'static, TriggerLabApp>, x: u32, y: u32) -> Pos2 {
    let (r, zoom) = h
        .state()
        .state()
        .patch_editor
        .grid
        .expect("the grid is drawn");
    r.min + egui::vec2((x as f32 + 0.5) * zoom, (y as f32 + 0.5) * zoom)
}

/// The screen point of frame position (x, y) (fractions allowed) on the canvas.
fn canvas_point(h: &Harness<'static, TriggerLabApp>, x: f32, y: f32) -> Pos2 {
    let s = h.state().state();
    let r = s.canvas_rect.expect("a frame on the canvas");
    let w = s.current_frame().expect("frame").0.width() as f32;
    r.min + egui::vec2(x, y) * (r.width() / w)
}

fn button(h: &Harness<'static, TriggerLabApp>, pos: Pos2, pressed: bool, m: Modifiers) {
    h.event(egui::Event::PointerButton {
        pos,
        button: PointerButton::Primary,
        pressed,
        modifiers: m,
    });
}

fn click(h: &mut Harness<'static, TriggerLabApp>, pos: Pos2) {
    h.hover_at(pos);
    h.step();
    button(h, pos, true, Modifiers::NONE);
    h.step();
    button(h, pos, false, Modifiers::NONE);
    h.step();
    h.step();
    settle(h);
}

/// A primary-button drag through `path`, one frame per point, `m` held throughout.
fn drag(h: &mut Harness<'static, TriggerLabApp>, path: &[Pos2], m: Modifiers) {
    h.event(egui::Event::ModifiersChanged(m));
    h.hover_at(path[0]);
    h.step();
    button(h, path[0], true, m);
    h.step();
    for &p in &path[1..] {
        h.hover_at(p);
        h.step();
        h.step();
    }
    let last = *path.last().expect("a path");
    button(h, last, false, m);
    h.step();
    h.event(egui::Event::ModifiersChanged(Modifiers::NONE));
    h.step();
    settle(h);
}

/// A start: the editor open on a blank 16×16 patch (on the default BadNets, bottom right).
fn blank_patch(tag: &str) -> Harness<'static, TriggerLabApp> {
    let mut h = harness(StudioOptions {
        patch_editor: true,
        ..opts(tag)
    });
    settle(&mut h);
    h.get_by_label("Blank").click();
    h.step();
    settle(&mut h);
    assert_eq!(patch(&h), Painted::blank(16, 16, [0, 0, 0, 0]));
    h
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

#[test]
fn three_brush_clicks_paint_exact_pixels_into_the_patch_and_onto_the_canvas() {
    let mut h = blank_patch("brush");
    let ink = [10, 200, 30, 255];
    h.state_mut().state_mut().patch_editor.primary = ink;
    h.key_press(egui::Key::B);
    h.step();
    assert_eq!(h.state().state().patch_editor.tool, PaintTool::Brush, "B");
    let dots = [(1u32, 1u32), (5, 2), (14, 9)];
    for (x, y) in dots {
        let p = grid_point(&h, x, y);
        click(&mut h, p);
    }
    let p = patch(&h);
    for y in 0..16 {
        for x in 0..16 {
            let want = if dots.contains(&(x, y)) {
                ink
            } else {
                [0, 0, 0, 0]
            };
            assert_eq!(
                p.get(x.into(), y.into()),
                Some(want),
                "patch pixel ({x}, {y})"
            );
        }
    }
    let b = badnets(&h);
    assert_eq!(
        b.painted.as_ref(),
        Some(&p),
        "the trigger pastes the painted patch"
    );
    assert_eq!(b.size, PatchSize::Square(16));
    // The default anchor: bottom right of the 48×48 frame, so patch (x, y) is frame (32+x, 32+y).
    let (poisoned, clean) = (shown(&h), clean(&h));
    for (x, y) in dots {
        assert_eq!(
            rgb(&poisoned, 32 + x, 32 + y),
            [10, 200, 30],
            "under ({x}, {y})"
        );
    }
    assert_eq!(
        rgb(&poisoned, 32, 32),
        rgb(&clean, 32, 32),
        "transparent: the frame"
    );

    // What the canvas draws there: close the editor (it may lie over the canvas) and read the
    // screen pixel at each painted pixel's centre.
    h.state_mut().state_mut().patch_editor.open = false;
    h.step();
    h.step();
    if let Some(img) = render(&mut h) {
        for (x, y) in dots {
            let c = canvas_point(&h, 32.0 + x as f32 + 0.5, 32.0 + y as f32 + 0.5);
            let px = img.get_pixel(c.x as u32, c.y as u32).0;
            let d = (0..3).map(|k| px[k].abs_diff(ink[k])).max().unwrap_or(0);
            assert!(d <= 2, "canvas at ({x}, {y}) shows {px:?}");
        }
    }

    // Each click was one stroke, one undo step.
    send(&mut h, UiCommand::Undo);
    assert_eq!(patch(&h).get(14, 9), Some([0, 0, 0, 0]));
    assert_eq!(patch(&h).get(5, 2), Some(ink));
}

#[test]
fn a_fill_covers_the_region_and_one_undo_removes_it() {
    let mut h = blank_patch("fill");
    let wall = [255, 255, 255, 255];
    h.state_mut().state_mut().patch_editor.primary = wall;
    h.key_press(egui::Key::L);
    h.step();
    assert_eq!(h.state().state().patch_editor.tool, PaintTool::Line, "L");
    // A wall down column 8, drawn as one line (one stroke through three points).
    let path = [
        grid_point(&h, 8, 0),
        grid_point(&h, 8, 7),
        grid_point(&h, 8, 15),
    ];
    drag(&mut h, &path, Modifiers::NONE);
    let walled = patch(&h);
    assert_eq!(
        (0..16).filter(|&y| walled.get(8, y) == Some(wall)).count(),
        16
    );
    let ink = [0, 0, 255, 128];
    h.state_mut().state_mut().patch_editor.primary = ink;
    h.key_press(egui::Key::G);
    h.step();
    assert_eq!(h.state().state().patch_editor.tool, PaintTool::Fill, "G");
    let p = grid_point(&h, 2, 3);
    click(&mut h, p);
    let filled = patch(&h);
    for y in 0..16 {
        for x in 0..16 {
            let want = match x {
                0..8 => ink,
                8 => wall,
                _ => [0, 0, 0, 0],
            };
            assert_eq!(filled.get(x, y), Some(want), "({x}, {y})");
        }
    }
    // Half-transparent ink blends over the frame on the canvas.
    let (poisoned, clean) = (shown(&h), clean(&h));
    let c = rgb(&clean, 33, 33);
    let a = 128.0 / 255.0;
    let want: Vec<u8> = (0..3)
        .map(|k| ((1.0 - a) * f32::from(c[k]) + a * f32::from([0u8, 0, 255][k])).round() as u8)
        .collect();
    let got = rgb(&poisoned, 33, 33);
    for k in 0..3 {
        assert!(got[k].abs_diff(want[k]) <= 1, "blend {got:?} vs {want:?}");
    }
    h.key_press_modifiers(Modifiers::COMMAND, egui::Key::Z);
    h.step();
    settle(&mut h);
    assert_eq!(patch(&h), walled, "one undo: the whole fill");
    assert_eq!(badnets(&h).painted, Some(walled));
}

#[test]
fn the_eyedropper_takes_the_frames_colour_from_the_canvas() {
    let mut h = blank_patch("dropper");
    h.key_press(egui::Key::I);
    h.step();
    assert_eq!(
        h.state().state().patch_editor.tool,
        PaintTool::Eyedropper,
        "I"
    );
    // Somewhere the editor window does not cover: the frame's right half.
    let (x, y) = (40u32, 6u32);
    let p = canvas_point(&h, x as f32 + 0.5, y as f32 + 0.5);
    click(&mut h, p);
    let [r, g, b] = rgb(&clean(&h), x, y);
    assert_eq!(h.state().state().patch_editor.primary, [r, g, b, 255]);
    // X swaps it to secondary.
    h.key_press(egui::Key::X);
    h.step();
    assert_eq!(h.state().state().patch_editor.secondary, [r, g, b, 255]);
}

#[test]
fn a_picked_rectangle_becomes_the_patch_with_the_frames_pixels() {
    let mut h = harness(opts("pick"));
    settle(&mut h);
    h.get_by_label("Pick from video").click();
    h.step();
    assert!(h.state().state().canvas_tools.pick);
    let a = canvas_point(&h, 5.2, 6.2);
    let m = canvas_point(&h, 15.0, 12.0);
    let b = canvas_point(&h, 25.1, 18.1);
    drag(&mut h, &[a, m, b], Modifiers::NONE);
    let p = patch(&h);
    assert_eq!((p.width, p.height), (20, 12));
    let f = clean(&h);
    for y in 0..12 {
        for x in 0..20 {
            let [r, g, b] = rgb(&f, 5 + x, 6 + y);
            assert_eq!(
                p.get(x.into(), y.into()),
                Some([r, g, b, 255]),
                "({x}, {y})"
            );
        }
    }
    assert_eq!(badnets(&h).size, PatchSize::Rect([20, 12]));
    assert!(h.state().state().patch_editor.open, "shown in the editor");
    assert!(!h.state().state().canvas_tools.pick, "the tool is done");

    // Shift: a square; picked in place, it is a stationary object of this frame.
    h.state_mut().state_mut().canvas_tools.pick = true;
    h.state_mut().state_mut().canvas_tools.pick_in_place = true;
    let (a, b) = (canvas_point(&h, 30.0, 4.0), canvas_point(&h, 40.0, 10.0));
    drag(&mut h, &[a, b], Modifiers::SHIFT);
    let p = patch(&h);
    assert_eq!((p.width, p.height), (10, 10));
    assert_eq!(badnets(&h).anchor, Anchor::At { x: 30, y: 4 });
    assert_eq!(badnets(&h).size, PatchSize::Square(10));
    assert_eq!(
        shown(&h).rgb(),
        clean(&h).rgb(),
        "on its own frame it is invisible"
    );
    // On another frame the object from frame 2 appears where it was.
    send(&mut h, UiCommand::SeekFrame(10));
    let (later, later_clean) = (shown(&h), clean(&h));
    assert_ne!(later.rgb(), later_clean.rgb(), "the clip moved on");
    for y in 0..10 {
        for x in 0..10 {
            let [r, g, b] = rgb(&later, 30 + x, 4 + y);
            assert_eq!(
                p.get(x.into(), y.into()),
                Some([r, g, b, 255]),
                "({x}, {y})"
            );
        }
    }
    send(&mut h, UiCommand::SeekFrame(2));

    // A rectangle of no area does nothing.
    let before = h.state().state().doc.design().clone();
    h.state_mut().state_mut().canvas_tools.pick = true;
    let (a, b) = (canvas_point(&h, 10.0, 30.0), canvas_point(&h, 30.0, 30.0));
    drag(&mut h, &[a, b], Modifiers::NONE);
    assert_eq!(h.state().state().doc.design().spec, before.spec);
}

#[test]
fn dragging_the_patch_moves_it_and_the_arrows_nudge_it() {
    let mut h = harness(opts("move"));
    settle(&mut h);
    // The default: a white 16-pixel patch in the bottom-right corner, (32, 32).
    let a = canvas_point(&h, 40.0, 40.0);
    let m = canvas_point(&h, 35.0, 30.0);
    let b = canvas_point(&h, 30.0, 20.0);
    drag(&mut h, &[a, m, b], Modifiers::NONE);
    assert_eq!(badnets(&h).anchor, Anchor::At { x: 22, y: 12 });
    let f = shown(&h);
    assert_eq!(rgb(&f, 22, 12), [255, 255, 255]);
    assert_eq!(rgb(&f, 37, 27), [255, 255, 255]);
    assert_eq!(
        rgb(&f, 40, 40),
        rgb(&clean(&h), 40, 40),
        "gone from the corner"
    );
    assert!(h.state().state().canvas_tools.selected);
    h.key_press(egui::Key::ArrowLeft);
    h.step();
    settle(&mut h);
    h.key_press_modifiers(Modifiers::SHIFT, egui::Key::ArrowDown);
    h.step();
    settle(&mut h);
    assert_eq!(badnets(&h).anchor, Anchor::At { x: 21, y: 22 });
    assert_eq!(
        h.state().state().current_frame_index(),
        Some(2),
        "the arrows moved the patch, not the playhead"
    );
    // The drag was one undo step, each nudge another.
    for _ in 0..3 {
        send(&mut h, UiCommand::Undo);
    }
    assert_eq!(badnets(&h).anchor, Anchor::BottomRight);
}

#[test]
fn a_corner_handle_resizes_the_patch_and_shift_keeps_it_square() {
    let mut h = harness(opts("resize"));
    settle(&mut h);
    let c = canvas_point(&h, 40.0, 40.0);
    click(&mut h, c);
    assert!(h.state().state().canvas_tools.selected, "clicked: selected");
    // The top-left handle from (32, 32) to (24, 28); the bottom-right corner stays at (48, 48).
    let a = canvas_point(&h, 32.0, 32.0);
    let b = canvas_point(&h, 24.2, 28.2);
    drag(&mut h, &[a, b], Modifiers::NONE);
    let bn = badnets(&h);
    assert_eq!(bn.size, PatchSize::Rect([24, 20]));
    assert_eq!(bn.anchor, Anchor::At { x: 24, y: 28 });
    let f = shown(&h);
    assert_eq!(rgb(&f, 24, 28), [255, 255, 255]);
    assert_eq!(rgb(&f, 23, 28), rgb(&clean(&h), 23, 28));
    // The same handle, now at (24, 28), with Shift: a square of the larger side.
    let a = canvas_point(&h, 24.0, 28.0);
    let b = canvas_point(&h, 20.0, 26.0);
    drag(&mut h, &[a, b], Modifiers::SHIFT);
    let bn = badnets(&h);
    assert_eq!(bn.size, PatchSize::Square(28));
    assert_eq!(bn.anchor, Anchor::At { x: 20, y: 20 });
}

#[test]
fn two_keyframes_placed_on_the_canvas_interpolate_on_a_middle_frame() {
    // Tall enough that the keyframe list is in view in the inspector.
    let mut h = Harness::builder()
        .with_size(egui::vec2(1400.0, 1300.0))
        .build_eframe({
            let o = opts("keys");
            move |cc| TriggerLabApp::new(cc, o, Default::default())
        });
    settle(&mut h);
    h.get_by_label("dynamic").click();
    h.step();
    settle(&mut h);
    h.get_by_label("varies by").click();
    h.step();
    h.step();
    h.get_by_label("position keyframes").click();
    h.step();
    settle(&mut h);
    let keys = |h: &Harness<'static, TriggerLabApp>| match &h
        .state()
        .state()
        .doc
        .design()
        .spec
        .temporal
        .variation
    {
        Some(Variation::PositionKeyframes { keyframes, .. }) => keyframes.clone(),
        other => panic!("not keyframes: {other:?}"),
    };
    assert_eq!(
        h.state().state().doc.design().spec.temporal.mode,
        Mode::Dynamic
    );
    let k = |frame, x, y| Keyframe { frame, x, y };
    assert_eq!(
        keys(&h),
        vec![k(0, 32, 32)],
        "starts where the anchor put it"
    );
    // Frame 0: drag the patch to (2, 4).
    send(&mut h, UiCommand::SeekFrame(0));
    let (a, b) = (canvas_point(&h, 40.0, 40.0), canvas_point(&h, 10.0, 12.0));
    drag(&mut h, &[a, b], Modifiers::NONE);
    assert_eq!(keys(&h), vec![k(0, 2, 4)]);
    // Frame 10: a second keyframe, dragged to (22, 24).
    send(&mut h, UiCommand::SeekFrame(10));
    assert_eq!(h.state().state().current_frame_index(), Some(10));
    h.get_by_label("Add keyframe at playhead").click();
    h.step();
    settle(&mut h);
    assert_eq!(keys(&h), vec![k(0, 2, 4), k(10, 2, 4)]);
    let (a, b) = (canvas_point(&h, 10.0, 12.0), canvas_point(&h, 30.0, 32.0));
    drag(&mut h, &[a, b], Modifiers::NONE);
    assert_eq!(keys(&h), vec![k(0, 2, 4), k(10, 22, 24)]);
    // Frame 5, half way: (12, 14) on the canvas tools and in core's frame.
    send(&mut h, UiCommand::SeekFrame(5));
    let place = triggerlab::ui::canvas_tools::place(h.state().state()).expect("placed");
    assert_eq!((place.x, place.y), (12, 14));
    let f = shown(&h);
    assert_eq!(rgb(&f, 12, 14), [255, 255, 255]);
    assert_eq!(rgb(&f, 27, 29), [255, 255, 255]);
    assert_eq!(rgb(&f, 11, 14), rgb(&clean(&h), 11, 14));
    // The path is drawn: one point per frame.
    let (pts, marks) =
        triggerlab::ui::canvas_tools::path_positions(h.state().state()).expect("a path");
    assert_eq!(pts.len(), 16);
    assert_eq!(marks, vec![0, 10]);
}

#[test]
fn a_saved_project_reopens_with_the_same_patch_and_picture() {
    let mut h = blank_patch("save");
    h.state_mut().state_mut().patch_editor.primary = [250, 20, 120, 200];
    let path = [grid_point(&h, 0, 0), grid_point(&h, 15, 15)];
    drag(&mut h, &path, Modifiers::NONE); // a diagonal brush stroke
    let painted = patch(&h);
    assert_eq!(painted.get(7, 7), Some([250, 20, 120, 200]));
    // The stroke went through frames, one edit each: still one undo step.
    send(&mut h, UiCommand::Undo);
    assert_eq!(patch(&h), Painted::blank(16, 16, [0, 0, 0, 0]));
    send(&mut h, UiCommand::Redo);
    assert_eq!(patch(&h), painted);
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("painted.tlab.json");
    h.state_mut().state_mut().project.path = Some(file.clone());
    h.state_mut()
        .state_mut()
        .commands
        .push(UiCommand::SaveProject);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !file.exists() || h.state().state().doc.edited_since_save() {
        assert!(Instant::now() < deadline, "never saved");
        h.step();
        std::thread::sleep(Duration::from_millis(10));
    }
    let design = triggerlab::jobs::project::read_project(&file).expect("reads back");
    assert_eq!(design, *h.state().state().doc.design());
    let mut again = harness(StudioOptions {
        project: Some((file.clone(), design)),
        frame: None,
        ..opts("reopen")
    });
    settle(&mut again);
    assert_eq!(again.state().state().doc.design().patch, Some(painted));
    assert_eq!(
        again.state().state().doc.design().spec,
        h.state().state().doc.design().spec
    );
    assert_eq!(shown(&again).rgb(), shown(&h).rgb(), "the same picture");
}

#[test]
fn bad_pngs_leave_the_patch_unchanged_and_converted_ones_say_so() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut h = blank_patch("png");
    let before = h.state().state().doc.design().clone();
    let import = |h: &mut Harness<'static, TriggerLabApp>, p: PathBuf| {
        let ed = &mut h.state_mut().state_mut().patch_editor;
        (ed.error, ed.note) = (None, None);
        send(h, UiCommand::ImportPatch(p));
        let deadline = Instant::now() + Duration::from_secs(20);
        let s = |h: &Harness<'static, TriggerLabApp>| {
            let e = &h.state().state().patch_editor;
            e.error.clone().or(e.note.clone())
        };
        while s(h).is_none() {
            assert!(Instant::now() < deadline, "no answer");
            h.step();
            std::thread::sleep(Duration::from_millis(10));
        }
        settle(h);
    };
    let text = dir.path().join("notes.png");
    std::fs::write(&text, "these are words, not pixels, in a file called .png").expect("w");
    import(&mut h, text);
    let e = h
        .state()
        .state()
        .patch_editor
        .error
        .clone()
        .expect("refused");
    assert!(e.contains("notes.png") && e.contains("not a PNG"), "{e}");
    assert_eq!(h.state().state().doc.design().spec, before.spec);

    let big = dir.path().join("big.png");
    image::RgbaImage::new(64, 20).save(&big).expect("w");
    import(&mut h, big);
    let e = h
        .state()
        .state()
        .patch_editor
        .error
        .clone()
        .expect("refused");
    assert!(
        e.contains("big.png") && e.contains("larger than the 48×48 frame"),
        "{e}"
    );
    assert_eq!(h.state().state().doc.design().spec, before.spec);

    let grey = dir.path().join("grey16.png");
    image::ImageBuffer::<image::Luma<u16>, _>::from_raw(2, 1, vec![0u16, 65535])
        .expect("buffer")
        .save(&grey)
        .expect("w");
    import(&mut h, grey);
    let note = h.state().state().patch_editor.note.clone().expect("a note");
    assert!(
        note.contains("converted from 16-bit grey to 8-bit RGBA"),
        "{note}"
    );
    assert_eq!(
        patch(&h),
        Painted {
            width: 2,
            height: 1,
            rgba: vec![0, 0, 0, 255, 255, 255, 255, 255]
        }
    );

    // A resize past the frame is refused in place with core's message.
    h.state_mut().state_mut().patch_editor.resize_to = [60, 10];
    h.get_by_label("Resize").click();
    h.step();
    settle(&mut h);
    let e = h
        .state()
        .state()
        .patch_editor
        .error
        .clone()
        .expect("refused");
    assert!(
        e.contains("visual.size") && e.contains("larger than the 48×48 frame"),
        "{e}"
    );
    assert_eq!(patch(&h).width, 2);
}

#[test]
fn the_editor_starts_from_the_patch_the_trigger_pastes() {
    let mut h = harness(StudioOptions {
        patch_editor: true,
        ..opts("start")
    });
    settle(&mut h);
    // Core's default BadNets: a white 16-pixel colour patch; the grid shows it, and one brush
    // click turns it into a painted patch with that pixel changed.
    let ink = [0, 0, 0, 255];
    h.state_mut().state_mut().patch_editor.primary = ink;
    let p = grid_point(&h, 3, 4);
    click(&mut h, p);
    let mut want = Painted::blank(16, 16, [255, 255, 255, 255]);
    want.set(3, 4, ink);
    assert_eq!(patch(&h), want);
    assert_eq!(badnets(&h).painted, Some(want));
    assert_eq!(rgb(&shown(&h), 35, 36), [0, 0, 0]);
}
