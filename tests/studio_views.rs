//! What the studio shows, read from its rendered pixels (egui_kittest with wgpu on lavapipe):
//! snapshots of the main screens, the timeline's marks for static vs dynamic placement, the
//! thumbnails of the poisoned clip; and behaviour behind the menus and the transport: export
//! from the File menu decodes back to core's result, 2x plays twice as fast, preferences
//! survive a restart.

use egui_kittest::kittest::Queryable;
use egui_kittest::{Harness, SnapshotOptions};
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use triggerlab::app::{StudioOptions, TriggerLabApp};
use triggerlab::core::assets::NoAssets;
use triggerlab::core::design::ViewMode;
use triggerlab::core::synth::SynthSpec;

fn library() -> SynthSpec {
    SynthSpec {
        per_class: 1,
        size: 48,
        ..triggerlab::app::library_spec()
    }
}

fn temp(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tl-views-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d); // a leftover of an earlier run, if any
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

fn opts(tag: &str) -> StudioOptions {
    StudioOptions {
        library: Some(library()),
        autosave_dir: Some(temp(tag)),
        frame: Some(2),
        ..Default::default()
    }
}

fn harness(opts: StudioOptions) -> Harness<'static, TriggerLabApp> {
    Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .build_eframe(move |cc| TriggerLabApp::new(cc, opts, Default::default()))
}

/// Steps until startup work, the preview, its figures and the thumbnails are all in.
fn settle(h: &mut Harness<'static, TriggerLabApp>) {
    let deadline = Instant::now() + Duration::from_secs(90);
    let clips = library().motions().len();
    loop {
        h.step();
        let s = h.state().state();
        let shown = s
            .preview_key()
            .is_some_and(|k| s.preview.exact(k).is_some());
        if !h.state().busy() && s.clips.len() >= clips && shown {
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

fn crop(img: &image::RgbaImage, r: egui::Rect) -> image::RgbaImage {
    let x = r.min.x.max(0.0) as u32;
    let y = r.min.y.max(0.0) as u32;
    let w = (r.width() as u32).min(img.width().saturating_sub(x));
    let h = (r.height() as u32).min(img.height().saturating_sub(y));
    image::imageops::crop_imm(img, x, y, w, h).to_image()
}

/// Pixels of the strip's mark colour (230, 120, 40), give or take filtering.
fn orange(img: &image::RgbaImage) -> usize {
    img.pixels()
        .filter(|p| {
            let [r, g, b, _] = p.0;
            r.abs_diff(230) < 12 && g.abs_diff(120) < 12 && b.abs_diff(40) < 12
        })
        .count()
}

#[test]
fn the_main_screens_match_their_snapshots() {
    for (mode, name) in [
        (ViewMode::Clean, "studio_clean"),
        (ViewMode::Poisoned, "studio_poisoned"),
        (ViewMode::Difference, "studio_difference"),
        (ViewMode::SideBySide, "studio_side_by_side"),
    ] {
        let mut h = harness(StudioOptions {
            view: Some(mode),
            ..opts(name)
        });
        settle(&mut h);
        // Panel sizes grow to fit what a panel once held (a line shown while loading), which
        // depends on timing: lay the settled screen out again from the panels' defaults.
        h.ctx.data_mut(|d| d.clear());
        for _ in 0..4 {
            h.step();
        }
        let Some(img) = render(&mut h) else { return };
        // The status bar says which audio device and compute backend this machine has: not
        // part of the screen under test.
        let status_h = 30;
        let body =
            image::imageops::crop_imm(&img, 0, 0, img.width(), img.height() - status_h).to_image();
        let r = egui_kittest::try_image_snapshot_options(&body, name, &SnapshotOptions::default());
        if let Err(e) = r {
            panic!("{name}: {e}");
        }
    }
}

#[test]
fn the_timeline_marks_static_and_dynamic_placement_differently() {
    // Tall enough that the inspector's static/dynamic choice is in view (egui ignores clicks on
    // widgets scrolled out of sight).
    let o = opts("marks");
    let mut h = Harness::builder()
        .with_size(egui::vec2(1400.0, 1100.0))
        .build_eframe(move |cc| TriggerLabApp::new(cc, o, Default::default()));
    settle(&mut h);
    let Some(img) = render(&mut h) else { return };
    let strip = h.state().state().strip_rect.expect("a frame strip");
    let static_marks = crop(&img, strip);
    let n_static = orange(&static_marks);
    assert!(
        n_static > 100,
        "every frame is marked: {n_static} mark pixels"
    );

    h.get_by_label("dynamic").click();
    settle(&mut h);
    let img = render(&mut h).expect("renders");
    let dynamic_marks = crop(&img, h.state().state().strip_rect.expect("strip"));
    let n_dynamic = orange(&dynamic_marks);
    // A dot per triggered frame shows what varies (BadNets: the patch's position).
    assert!(
        n_dynamic < n_static,
        "dynamic placement draws its dots over the marks: {n_dynamic} vs {n_static}"
    );
    assert_ne!(static_marks.as_raw(), dynamic_marks.as_raw());

    // And back: undo restores the static strip exactly.
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Z);
    settle(&mut h);
    let img = render(&mut h).expect("renders");
    let again = crop(&img, h.state().state().strip_rect.expect("strip"));
    assert_eq!(again.as_raw(), static_marks.as_raw());
}

#[test]
fn the_thumbnails_show_the_poisoned_clip_and_follow_the_design() {
    let mut h = harness(opts("thumbs"));
    settle(&mut h);
    let s = h.state().state();
    let (key, thumbs) = s.thumbs.shown.clone().expect("thumbnails");
    assert_eq!(key.revision, s.doc.revision());
    assert!(thumbs.len() >= 2, "{} thumbnails", thumbs.len());
    // Each is core's poisoned frame, shrunk.
    let clip = s
        .selected_entry()
        .and_then(|e| e.clip.clone())
        .expect("clip");
    let spec = s.doc.design().spec.clone();
    let want = triggerlab::core::apply_clip(&spec, &clip, &NoAssets).expect("applies");
    for t in &thumbs {
        let small =
            triggerlab::jobs::thumbs::shrink(&want.clip.frames()[t.index], t.frame.height());
        assert_eq!(t.frame.rgb(), small.rgb(), "thumbnail of frame {}", t.index);
    }
    let Some(before) = render(&mut h) else { return };
    let row = h.state().state().thumbs_rect.expect("a thumbnail row");
    let before = crop(&before, row);

    h.get_by_label("trigger kind").click();
    h.step();
    h.step();
    h.get_by_label("blend").click();
    settle(&mut h);
    let s = h.state().state();
    let (key2, _) = s.thumbs.shown.clone().expect("thumbnails");
    assert_eq!(
        key2.revision,
        s.doc.revision(),
        "a new strip for the new design"
    );
    let after = render(&mut h).expect("renders");
    let after = crop(&after, h.state().state().thumbs_rect.expect("row"));
    let changed = before
        .pixels()
        .zip(after.pixels())
        .filter(|(a, b)| a.0 != b.0)
        .count();
    assert!(
        changed > 500,
        "the row shows the blend trigger: {changed} pixels changed"
    );
}

#[test]
fn export_from_the_file_menu_decodes_back_to_the_poisoned_clip() {
    let dir = temp("export");
    let out = dir.join("poisoned.mp4");
    let mut h = harness(StudioOptions {
        dialog_answer: Some(out.clone()),
        ..opts("export-ui")
    });
    settle(&mut h);
    h.get_by_label("File").click();
    h.step();
    h.step();
    h.get_by_label("Export").click();
    h.step();
    h.step();
    h.get_by_label("Poisoned clip as MP4…").click();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        h.step();
        let e = &h.state().state().export;
        if e.progress.is_none() && e.last.is_some() {
            break;
        }
        assert!(Instant::now() < deadline, "the export never finished");
        std::thread::sleep(Duration::from_millis(20));
    }
    let (msg, failed) = h.state().state().export.last.clone().expect("an outcome");
    assert!(!failed, "{msg}");
    let s = h.state().state();
    let clip = s
        .selected_entry()
        .and_then(|e| e.clip.clone())
        .expect("clip");
    let want =
        triggerlab::core::apply_clip(&s.doc.design().spec, &clip, &NoAssets).expect("applies");
    let back = triggerlab::jobs::export::decode_whole(&out).expect("decodes");
    assert_eq!(back.frames().len(), clip.frames().len());
    // Through H.264 the poisoned frames come back close to core's result, and closer to it
    // than to the clean frames (the trigger survived).
    for (i, f) in back.frames().iter().enumerate() {
        let to_poisoned = triggerlab::core::metrics::psnr_db(f.rgb(), want.clip.frames()[i].rgb())
            .unwrap_or(99.0);
        let to_clean =
            triggerlab::core::metrics::psnr_db(f.rgb(), clip.frames()[i].rgb()).unwrap_or(99.0);
        assert!(to_poisoned > 25.0, "frame {i}: {to_poisoned:.1} dB");
        assert!(
            to_poisoned > to_clean,
            "frame {i}: {to_poisoned:.1} vs {to_clean:.1} dB"
        );
    }
    let _ = std::fs::remove_dir_all(&dir); // best effort
}

#[test]
fn two_x_plays_the_clip_twice_as_fast_as_one_x() {
    let mut h = harness(opts("speed"));
    settle(&mut h);
    // Measured over the same wall time at 1x and at 2x.
    let advance = |h: &mut Harness<'static, TriggerLabApp>| {
        h.state_mut()
            .state_mut()
            .commands
            .push(triggerlab::ui::UiCommand::SeekFrame(0));
        h.step();
        h.state_mut()
            .state_mut()
            .commands
            .push(triggerlab::ui::UiCommand::Play);
        h.step();
        // Once the seek has landed (under load the playhead can still show the old place for a
        // few frames, and would seem to run backwards)...
        let deadline = Instant::now() + Duration::from_secs(10);
        while h.state().state().playback.position_secs > 0.3 {
            assert!(
                Instant::now() < deadline,
                "the seek to frame 0 never landed"
            );
            h.step();
            std::thread::sleep(Duration::from_millis(5));
        }
        // ...from the moment the playhead moves (the player's sink starts after a seek).
        let start = h.state().state().playback.position_secs;
        let deadline = Instant::now() + Duration::from_secs(10);
        while h.state().state().playback.position_secs <= start + 0.02 {
            assert!(Instant::now() < deadline, "the playhead never moved");
            h.step();
            std::thread::sleep(Duration::from_millis(5));
        }
        let p0 = h.state().state().playback.position_secs;
        let t0 = Instant::now();
        // 0.4 s of wall time: 0.8 s of a 2 s clip at 2x, far from its loop point.
        while t0.elapsed() < Duration::from_millis(400) {
            h.step();
            std::thread::sleep(Duration::from_millis(10));
        }
        let p1 = h.state().state().playback.position_secs;
        let wall = t0.elapsed().as_secs_f64();
        h.state_mut()
            .state_mut()
            .commands
            .push(triggerlab::ui::UiCommand::Pause);
        h.step();
        (p1 - p0) / wall
    };
    h.get_by_label("speed").click();
    h.step();
    h.step();
    h.get_by_label("2x").click();
    h.step();
    assert_eq!(h.state().state().playback.speed, 2.0);
    let fast = advance(&mut h);
    assert!(
        (1.6..=2.4).contains(&fast),
        "at 2x the playhead moves {fast:.2} s per second"
    );
    // Back at 1x the player's clock drives it again.
    h.state_mut()
        .state_mut()
        .commands
        .push(triggerlab::ui::UiCommand::SetSpeed(1.0));
    h.step();
    let normal = advance(&mut h);
    assert!(
        (0.7..=1.3).contains(&normal),
        "at 1x the playhead moves {normal:.2} s per second"
    );
}

/// With loop off, playback stops at the end; Play then starts again from the beginning.
#[test]
fn play_at_the_end_starts_again_from_the_beginning() {
    let mut h = harness(opts("end"));
    settle(&mut h);
    let push = |h: &mut Harness<'static, TriggerLabApp>, c| {
        h.state_mut().state_mut().commands.push(c);
        h.step();
    };
    use triggerlab::ui::UiCommand;
    push(&mut h, UiCommand::SetLooping(false));
    push(&mut h, UiCommand::SetSpeed(2.0));
    let last = triggerlab::ui::timeline::clip_frames(h.state().state()).expect("frames") - 1;
    push(&mut h, UiCommand::SeekFrame(last));
    push(&mut h, UiCommand::Play);
    let deadline = Instant::now() + Duration::from_secs(10);
    while h.state().state().playback.playing {
        assert!(Instant::now() < deadline, "playback never reached the end");
        h.step();
        std::thread::sleep(Duration::from_millis(10));
    }
    let end = h.state().state().playback.position_secs;
    let duration = h
        .state()
        .state()
        .selected_entry()
        .map(|e| e.duration_secs())
        .expect("a clip");
    assert!(
        (end - duration).abs() < 1e-6,
        "stopped at {end} of {duration} s"
    );
    push(&mut h, UiCommand::Play);
    h.step();
    let s = h.state().state();
    assert!(s.playback.playing, "Play at the end plays");
    assert!(
        s.playback.position_secs < 0.5,
        "from the beginning, not the end: {} s",
        s.playback.position_secs
    );
}

#[derive(Default)]
struct MemStorage(HashMap<String, String>);

impl eframe::Storage for MemStorage {
    fn get_string(&self, key: &str) -> Option<String> {
        self.0.get(key).cloned()
    }
    fn set_string(&mut self, key: &str, value: String) {
        self.0.insert(key.into(), value);
    }
    fn remove_string(&mut self, key: &str) {
        self.0.remove(key);
    }
    fn flush(&mut self) {}
}

#[test]
fn preferences_survive_a_restart() {
    let mut h = harness(opts("prefs-a"));
    settle(&mut h);
    let cmds = &mut h.state_mut().state_mut().commands;
    cmds.push(triggerlab::ui::UiCommand::SetVolume(0.4));
    cmds.push(triggerlab::ui::UiCommand::SetSpeed(0.5));
    cmds.push(triggerlab::ui::UiCommand::SetLooping(false));
    cmds.push(triggerlab::ui::UiCommand::SetGpuPreview(true));
    h.step();
    h.get_by_label("Difference").click();
    h.step();
    h.step();
    let mut storage = MemStorage::default();
    eframe::App::save(h.state_mut(), &mut storage);

    let mut h2 = harness(opts("prefs-b"));
    let stored = eframe::get_value(&storage, triggerlab::app::prefs::KEY).expect("stored prefs");
    h2.state_mut().apply_prefs(stored);
    settle(&mut h2);
    let s = h2.state().state();
    assert_eq!(s.playback.volume, 0.4);
    assert_eq!(s.playback.speed, 0.5);
    assert!(!s.playback.looping);
    assert_eq!(s.doc.design().view.mode, ViewMode::Difference);
    assert!(s.preview.gpu.on, "the GPU-preview choice is kept");
}

/// The GPU preview is the canvas's interactive view: with it on, the poisoned pane is drawn by
/// the shader from the worker's program, and shows what the CPU path shows (core's result)
/// within a level of sRGB rounding; it is not the clean frame.
#[test]
fn the_gpu_preview_draws_what_the_cpu_path_draws() {
    if triggerlab::gpu::preview::headless_device().is_none() {
        assert!(
            std::env::var_os("TRIGGERLAB_REQUIRE_DISPLAY").is_none(),
            "no wgpu adapter although TRIGGERLAB_REQUIRE_DISPLAY is set"
        );
        eprintln!("skipping: no wgpu adapter");
        return;
    }
    let spec = |kind: &str| {
        triggerlab::core::AttackSpec::visual(
            triggerlab::core::trigger::VisualTrigger::default_of(kind).expect("a visual trigger"),
        )
    };
    for (mode, kind) in [
        (ViewMode::Poisoned, "badnets"),
        (ViewMode::Difference, "blend"),
        (ViewMode::SideBySide, "sig"),
        (ViewMode::Wipe, "wanet"),
        (ViewMode::Poisoned, "tdba"),
    ] {
        let canvas = |gpu: Option<bool>, view: ViewMode| {
            let tag = format!("gpu-{kind}-{gpu:?}-{view:?}");
            let mut h = Harness::builder()
                .with_size(egui::vec2(1400.0, 900.0))
                .wgpu()
                .build_eframe({
                    let o = StudioOptions {
                        view: Some(view),
                        attack: Some((spec(kind), PathBuf::from("."))),
                        gpu_preview: gpu,
                        ..opts(&tag)
                    };
                    move |cc| TriggerLabApp::new(cc, o, Default::default())
                });
            settle(&mut h);
            let img = h.render().expect("renders");
            let s = h.state().state();
            assert_eq!(s.preview.gpu_drawn, gpu == Some(true), "{tag}");
            let r = s.canvas_rect.expect("a frame on the canvas");
            let r = if view == ViewMode::SideBySide {
                r.translate(egui::vec2(r.width() + 8.0, 0.0))
            } else {
                r
            };
            // The screen pixel at the centre of each frame pixel: the two runs' status bars
            // differ in length, so their canvases need not line up on screen. Rows under the
            // pane's label (top) and the difference scale (bottom) are left out: text lands on
            // different pixels when the canvas moves by a fraction of a pixel.
            let f = s.current_frame().expect("a frame").0;
            let (fw, fh) = (f.width(), f.height());
            let y0 = (24.0 * fh as f32 / r.height()).ceil() as u32;
            let y1 = fh - (44.0 * fh as f32 / r.height()).ceil() as u32;
            image::RgbaImage::from_fn(fw, y1 - y0, |x, y| {
                let p = r.min
                    + egui::vec2(
                        (x as f32 + 0.5) * r.width() / fw as f32,
                        ((y + y0) as f32 + 0.5) * r.height() / fh as f32,
                    );
                *img.get_pixel(p.x as u32, p.y as u32)
            })
        };
        let on_gpu = canvas(Some(true), mode);
        let on_cpu = canvas(Some(false), mode);
        assert_eq!(on_gpu.dimensions(), on_cpu.dimensions());
        let (worst, at) = on_gpu
            .enumerate_pixels()
            .zip(on_cpu.pixels())
            .map(|((x, y, a), b)| {
                let d = (0..3).map(|c| a.0[c].abs_diff(b.0[c])).max().unwrap_or(0);
                (d, (x, y, a.0, b.0))
            })
            .max_by_key(|(d, _)| *d)
            .expect("pixels");
        assert!(
            worst <= 2,
            "{kind} {mode:?}: GPU and CPU differ by {worst} at (x, y, gpu, cpu) = {at:?}"
        );
        let clean = canvas(Some(false), ViewMode::Clean);
        let changed = on_gpu
            .pixels()
            .zip(clean.pixels())
            .filter(|(a, b)| a.0 != b.0)
            .count();
        assert!(
            changed > 50,
            "{kind} {mode:?}: only {changed} pixels differ from clean"
        );
    }
}
