//! Export (jobs::export) end to end on synthetic clips: MP4 decoded back (frames, size, the patch
//! where it belongs, audio, codec survival), PNG frames equal to core's result byte for byte, the
//! trigger alone (patch PNG, spec TOML/JSON), cancel leaving nothing behind, and unwritable
//! targets named in the error.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use triggerlab::core::assets::NoAssets;
use triggerlab::core::attack::{AttackSpec, apply_clip, parse_json, parse_toml};
use triggerlab::core::demo::{DemoParams, demo_clip};
use triggerlab::core::{Clip, Frame};
use triggerlab::jobs::export::{
    ExportEvent, ExportRequest, ExportSource, ExportStage, ExportTarget, export, start_export,
};
use triggerlab::jobs::no_repaint;
use triggerlab::media::decode::{AudioRequest, DecodeRequest, decode_clip};
use triggerlab::media::encode::EncodeOptions;
use triggerlab::media::image_io::load_rgb;

const MAGENTA: [u8; 3] = [255, 0, 255];

fn clip(width: u32, height: u32, frames: u32) -> Clip {
    demo_clip(&DemoParams {
        width,
        height,
        frames,
        fps: 12,
        sample_rate_hz: 16_000,
        seed: 5,
    })
    .expect("demo clip")
}

/// An 8×8 magenta BadNets patch in the bottom-right corner, on every frame.
fn badnets() -> AttackSpec {
    parse_json(r#"{"version":1,"visual":{"kind":"badnets","size":8,"anchor":"bottom_right","color":[255,0,255]}}"#)
        .expect("spec")
}

fn request(source: Clip, spec: AttackSpec, target: ExportTarget) -> ExportRequest {
    ExportRequest {
        source: ExportSource::Clip(source),
        spec,
        assets_base: PathBuf::from("."),
        target,
    }
}

fn mp4(path: &Path, survival: bool) -> ExportTarget {
    ExportTarget::Mp4 {
        path: path.to_path_buf(),
        options: EncodeOptions::default(),
        survival,
    }
}

/// Every event of a job, until the worker is gone (a minute at most).
fn all_events(job: &triggerlab::jobs::Job<ExportEvent>) -> Vec<ExportEvent> {
    let mut out = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while std::time::Instant::now() < deadline {
        let done = job.worker_done();
        match job.try_recv() {
            Some(ev) => out.push(ev),
            None if done => return out,
            None => std::thread::sleep(Duration::from_millis(5)),
        }
    }
    panic!("the export did not finish: {out:?}");
}

/// Names in `dir`, sorted (temporary files included: they start with a dot).
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .expect("ls")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Mean absolute difference of the RGB bytes of `f` in the rectangle from `g`'s (or a colour).
fn mean_abs(
    f: &Frame,
    x0: u32,
    y0: u32,
    w: u32,
    h: u32,
    other: &dyn Fn(u32, u32) -> [u8; 3],
) -> f64 {
    let mut sum = 0u64;
    for y in y0..y0 + h {
        for x in x0..x0 + w {
            let i = ((y * f.width() + x) * 3) as usize;
            let o = other(x, y);
            for (c, want) in o.iter().enumerate() {
                sum += u64::from(f.rgb()[i + c].abs_diff(*want));
            }
        }
    }
    sum as f64 / f64::from(w * h * 3)
}

fn pixel(f: &Frame) -> impl Fn(u32, u32) -> [u8; 3] + '_ {
    move |x, y| {
        let i = ((y * f.width() + x) * 3) as usize;
        [f.rgb()[i], f.rgb()[i + 1], f.rgb()[i + 2]]
    }
}

#[test]
fn mp4_export_decodes_back_with_the_patch_in_place_audio_and_a_survival_figure() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("poisoned.mp4");
    let clean = clip(64, 48, 12);
    let (job, _cancel) = start_export(
        request(clean.clone(), badnets(), mp4(&out, true)),
        no_repaint(),
    )
    .expect("spawn");
    let events = all_events(&job);

    // Progress only grows, covers the encode and the survival pass, and ends complete.
    let progress: Vec<(ExportStage, usize, usize)> = events
        .iter()
        .filter_map(|e| match e {
            ExportEvent::Progress { stage, done, total } => Some((*stage, *done, *total)),
            _ => None,
        })
        .collect();
    assert!(
        progress.windows(2).all(|w| w[0].1 <= w[1].1),
        "{progress:?}"
    );
    assert!(progress.iter().any(|p| p.0 == ExportStage::Encoding));
    assert!(progress.iter().any(|p| p.0 == ExportStage::Survival));
    let last = progress.last().expect("progress");
    assert_eq!(last.1, last.2, "{progress:?}");
    let Some(ExportEvent::Done { path, survival }) = events.last() else {
        panic!("no Done: {events:?}");
    };
    assert_eq!(path, &out);
    assert_eq!(
        names(dir.path()),
        ["poisoned.mp4"],
        "no temporary file left"
    );
    let sv = survival.as_ref().expect("a survival figure for MP4");
    let corr = sv.delta_correlation.expect("the patch changes pixels");
    assert!(corr > 0.9, "a solid 8×8 patch survives CRF 18: {corr}");
    assert!(sv.psnr_before_db.is_some() && sv.psnr_after_db.is_some());

    let back = decode_clip(
        &out,
        &DecodeRequest {
            audio: Some(AudioRequest {
                sample_rate_hz: 16_000,
                channels: 1,
            }),
            ..DecodeRequest::default()
        },
    )
    .expect("decodes")
    .clip;
    assert_eq!(back.frames().len(), 12);
    assert_eq!(back.size(), Some((64, 48)));
    let audio = back.audio().expect("the clip's audio is kept");
    assert_eq!(audio.len_frames(), 16_000, "one second at 16 kHz");
    let energy: f32 = audio.samples().iter().map(|v| v * v).sum();
    assert!(energy > 1.0, "the tone is there, not silence: {energy}");

    let magenta = |_, _| MAGENTA;
    for (t, (b, c)) in back.frames().iter().zip(clean.frames()).enumerate() {
        // The inner 6×6 of the patch (its edge blurs with 4:2:0 chroma) is magenta after the
        // codec, where the clean clip is not.
        let in_patch = mean_abs(b, 57, 41, 6, 6, &magenta);
        let clean_there = mean_abs(c, 57, 41, 6, 6, &magenta);
        assert!(in_patch < 12.0, "frame {t}: {in_patch}");
        assert!(
            clean_there > 60.0,
            "frame {t}: the clean clip is not magenta there: {clean_there}"
        );
        // Away from the patch the poisoned file is the clean clip up to codec noise.
        let away = mean_abs(b, 0, 0, 40, 32, &pixel(c));
        assert!(away < 6.0, "frame {t}: {away}");
    }
}

#[test]
fn png_export_writes_core_result_exactly() {
    let dir = tempfile::tempdir().expect("tmp");
    let frames = dir.path().join("frames");
    let clean = clip(40, 30, 7);
    let spec = parse_json(
        r#"{"version":1,"visual":{"kind":"blend","alpha":0.3},"temporal":{"frames":{"every":{"n":2}},"mode":"dynamic"},"seed":4}"#,
    )
    .expect("spec");
    let want = apply_clip(&spec, &clean, &NoAssets).expect("applies").clip;
    let (job, _c) = start_export(
        request(
            clean,
            spec,
            ExportTarget::Frames {
                dir: frames.clone(),
            },
        ),
        no_repaint(),
    )
    .expect("spawn");
    let events = all_events(&job);
    assert!(
        matches!(events.last(), Some(ExportEvent::Done { path, survival: None }) if path == &frames),
        "{events:?}"
    );
    let files = names(&frames);
    assert_eq!(files.len(), 7, "{files:?}");
    for (i, w) in want.frames().iter().enumerate() {
        let got = load_rgb(&frames.join(format!("frame_{i:05}.png"))).expect("png");
        assert_eq!(got, *w, "frame {i}");
    }
    assert_eq!(names(dir.path()), ["frames"], "no temporary folder left");
}

/// Runs `export` in this thread, cancelling once `when` says so; returns the outcome.
fn export_cancelled_at(
    req: &ExportRequest,
    when: impl Fn(ExportStage, usize, usize) -> bool,
) -> Option<triggerlab::jobs::export::Exported> {
    let stop = AtomicBool::new(false);
    let mut seen = Vec::new();
    let got = export(req, &|| stop.load(Ordering::Relaxed), &mut |s, d, t| {
        seen.push((s, d));
        if when(s, d, t) {
            stop.store(true, Ordering::Relaxed);
        }
    })
    .expect("no error");
    assert!(
        stop.load(Ordering::Relaxed),
        "the cancel point was reached: {seen:?}"
    );
    got
}

#[test]
fn cancel_mid_way_leaves_no_output_and_no_temporary_file() {
    let clean = clip(64, 48, 12);
    let n = 12;
    for (what, survival, at) in [
        ("mid-encode", false, (ExportStage::Encoding, n + 3)),
        ("mid-survival", true, (ExportStage::Survival, 3 * n)),
    ] {
        let dir = tempfile::tempdir().expect("tmp");
        let out = dir.path().join("o.mp4");
        let req = request(clean.clone(), badnets(), mp4(&out, survival));
        let got = export_cancelled_at(&req, |s, d, _| s == at.0 && d >= at.1);
        assert_eq!(got, None, "{what}");
        assert!(
            names(dir.path()).is_empty(),
            "{what}: {:?}",
            names(dir.path())
        );
    }
    let dir = tempfile::tempdir().expect("tmp");
    let frames = dir.path().join("frames");
    let req = request(
        clean.clone(),
        badnets(),
        ExportTarget::Frames { dir: frames },
    );
    let got = export_cancelled_at(&req, |s, d, _| s == ExportStage::Encoding && d > n);
    assert_eq!(got, None);
    assert!(names(dir.path()).is_empty(), "{:?}", names(dir.path()));
}

#[test]
fn the_cancel_flag_stops_the_worker_which_says_cancelled() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("o.mp4");
    // Long enough (96 frames at 320×240, encoded twice) that the cancel lands before the end.
    let (job, cancel) = start_export(
        request(clip(320, 240, 96), badnets(), mp4(&out, true)),
        no_repaint(),
    )
    .expect("spawn");
    let mut events = Vec::new();
    while let Some(ev) = job.recv() {
        if matches!(
            ev,
            ExportEvent::Progress {
                stage: ExportStage::Encoding,
                ..
            }
        ) {
            cancel.cancel();
        }
        events.push(ev);
    }
    assert_eq!(events.last(), Some(&ExportEvent::Cancelled), "{events:?}");
    assert!(names(dir.path()).is_empty(), "{:?}", names(dir.path()));
}

fn failure(req: ExportRequest) -> (String, Vec<ExportEvent>) {
    let (job, _c) = start_export(req, no_repaint()).expect("spawn");
    let events = all_events(&job);
    match events.last() {
        Some(ExportEvent::Failed(m)) => (m.clone(), events),
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[test]
fn an_unwritable_target_fails_at_once_naming_the_path() {
    let dir = tempfile::tempdir().expect("tmp");
    let missing = dir.path().join("no/such/folder/out.mp4");
    let (msg, events) = failure(request(clip(32, 24, 4), badnets(), mp4(&missing, true)));
    assert!(msg.contains(&*missing.to_string_lossy()), "{msg}");
    assert!(msg.contains("does not exist"), "{msg}");
    assert!(
        !events.iter().any(|e| matches!(
            e,
            ExportEvent::Progress {
                stage: ExportStage::Applying,
                ..
            }
        )),
        "it failed before doing the work: {events:?}"
    );

    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").expect("file");
    let (msg, _) = failure(request(
        clip(32, 24, 4),
        badnets(),
        ExportTarget::Frames {
            dir: file.join("frames"),
        },
    ));
    assert!(
        msg.contains("a-file") && msg.contains("is not a folder"),
        "{msg}"
    );

    let full = dir.path().join("full");
    std::fs::create_dir(&full).expect("dir");
    std::fs::write(full.join("keep.txt"), b"x").expect("file");
    let (msg, _) = failure(request(
        clip(32, 24, 4),
        badnets(),
        ExportTarget::Frames { dir: full.clone() },
    ));
    assert!(msg.contains("full") && msg.contains("not empty"), "{msg}");
    assert_eq!(names(&full), ["keep.txt"], "what was there is untouched");
}

#[test]
fn the_patch_alone_is_the_patch_core_pastes() {
    let dir = tempfile::tempdir().expect("tmp");
    let png = dir.path().join("patch.png");
    let spec = parse_json(
        r#"{"version":1,"visual":{"kind":"badnets","size":6,"opacity":0.5,"checkerboard":{"cell":2,"colors":[[0,0,0],[255,255,255]]}}}"#,
    )
    .expect("spec");
    let (job, _c) = start_export(
        request(
            clip(32, 24, 2),
            spec,
            ExportTarget::Patch { path: png.clone() },
        ),
        no_repaint(),
    )
    .expect("spawn");
    assert!(matches!(
        all_events(&job).last(),
        Some(ExportEvent::Done { .. })
    ));
    let img = image::open(&png).expect("png").to_rgba8();
    assert_eq!(img.dimensions(), (6, 6));
    for (x, y, p) in img.enumerate_pixels() {
        let v = if (x / 2 + y / 2) % 2 == 0 { 0 } else { 255 };
        assert_eq!(p.0, [v, v, v, 128], "({x},{y}): opacity 0.5 is the alpha");
    }

    // A blend pattern comes at frame size, and blending it reproduces core's result.
    let clean = clip(40, 30, 1);
    let spec = parse_json(r#"{"version":1,"visual":{"kind":"blend","alpha":0.25},"seed":11}"#)
        .expect("spec");
    let (job, _c) = start_export(
        request(
            clean.clone(),
            spec.clone(),
            ExportTarget::Patch { path: png.clone() },
        ),
        no_repaint(),
    )
    .expect("spawn");
    assert!(matches!(
        all_events(&job).last(),
        Some(ExportEvent::Done { .. })
    ));
    let t = image::open(&png).expect("png").to_rgba8();
    assert_eq!(t.dimensions(), (40, 30));
    let poisoned = apply_clip(&spec, &clean, &NoAssets).expect("applies").clip;
    let (c, p) = (clean.frames()[0].rgb(), poisoned.frames()[0].rgb());
    let mut distinct = std::collections::BTreeSet::new();
    for (i, px) in t.pixels().enumerate() {
        for k in 0..3 {
            let want = 0.75 * f64::from(c[i * 3 + k]) + 0.25 * f64::from(px.0[k]);
            assert!((want - f64::from(p[i * 3 + k])).abs() <= 1.0, "pixel {i}");
            distinct.insert(px.0[k]);
        }
    }
    assert!(distinct.len() > 200, "a noise pattern, not a flat image");

    let (msg, _) = failure(request(
        clip(32, 24, 2),
        parse_json(r#"{"version":1,"visual":{"kind":"sig"}}"#).expect("spec"),
        ExportTarget::Patch { path: png },
    ));
    assert!(
        msg.contains("sig") && msg.contains("no patch image"),
        "{msg}"
    );
}

#[test]
fn the_spec_alone_round_trips_as_toml_and_json_and_its_paths_still_resolve() {
    let dir = tempfile::tempdir().expect("tmp");
    let spec = parse_json(
        r#"{"version":1,"visual":{"kind":"badnets","size":4,"anchor":{"x":2,"y":3},"noise":{"seed":2}},
            "temporal":{"frames":{"random":{"k":3}},"mode":"dynamic","variation":{"kind":"position_path"}},
            "audio":{"kind":"tone","freq_hz":1500,"duration_secs":0.2},"seed":21}"#,
    )
    .expect("spec");
    for name in ["s.toml", "s.json"] {
        let path = dir.path().join(name);
        let (job, _c) = start_export(
            request(
                clip(16, 16, 1),
                spec.clone(),
                ExportTarget::Spec { path: path.clone() },
            ),
            no_repaint(),
        )
        .expect("spawn");
        assert!(
            matches!(all_events(&job).last(), Some(ExportEvent::Done { .. })),
            "{name}"
        );
        let text = std::fs::read_to_string(&path).expect("read");
        let back = if name.ends_with("toml") {
            parse_toml(&text)
        } else {
            parse_json(&text)
        }
        .expect(name);
        assert_eq!(back, spec, "{name}:\n{text}");
    }

    // A spec whose patch image lies beside it, saved elsewhere, still finds the image.
    let specs = dir.path().join("specs");
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir(&specs).expect("dir");
    std::fs::create_dir(&elsewhere).expect("dir");
    image::RgbaImage::from_pixel(2, 2, image::Rgba([10, 200, 30, 255]))
        .save(specs.join("patch.png"))
        .expect("png");
    let with_file =
        parse_json(r#"{"version":1,"visual":{"kind":"badnets","size":2,"image":"patch.png"}}"#)
            .expect("spec");
    for (folder, relative) in [(&specs, true), (&elsewhere, false)] {
        let path = folder.join("saved.json");
        let mut req = request(
            clip(16, 16, 1),
            with_file.clone(),
            ExportTarget::Spec { path: path.clone() },
        );
        req.assets_base = specs.clone();
        let (job, _c) = start_export(req, no_repaint()).expect("spawn");
        assert!(matches!(
            all_events(&job).last(),
            Some(ExportEvent::Done { .. })
        ));
        let saved = parse_json(&std::fs::read_to_string(&path).expect("read")).expect("parses");
        let Some(triggerlab::core::trigger::VisualTrigger::Badnets(b)) = &saved.visual else {
            panic!("badnets");
        };
        let image = b.image.clone().expect("image");
        assert_eq!(image.is_relative(), relative, "{image:?}");
        // Applied against the folder it was saved in, it finds the image either way.
        let assets = triggerlab::media::assets::FileAssets::for_spec_file(&path);
        let out = apply_clip(&saved, &clip(16, 16, 1), &assets).expect("the image is found");
        let f = &out.clip.frames()[0];
        assert_eq!(pixel(f)(15, 15), [10, 200, 30]);
    }
}
