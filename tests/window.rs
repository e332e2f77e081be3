//! The real window: start the binary under a display (Xvfb in `make test`), let it render, take
//! a screenshot through eframe's wgpu renderer and exit 0.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn display_available() -> bool {
    let has_display = ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()));
    if !has_display {
        // `make test` runs under xvfb-run and sets this, so there the test cannot skip.
        assert!(
            std::env::var_os("TRIGGERLAB_REQUIRE_DISPLAY").is_none(),
            "TRIGGERLAB_REQUIRE_DISPLAY is set but there is no display"
        );
        eprintln!("skipped: no DISPLAY (run `make test`, which provides Xvfb)");
    }
    has_display
}

/// Runs the studio with `args`, waits up to 3 minutes, returns (exit code, stderr).
fn run_studio(args: &[&str]) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_triggerlab"))
        .args(args)
        // Autosaves and the session marker stay out of the user's cache.
        .env(
            "TRIGGERLAB_AUTOSAVE_DIR",
            tempfile::tempdir().expect("tmp").keep(),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start triggerlab");
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            let out = child.wait_with_output().expect("stderr");
            return (
                status.code(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            );
        }
        if Instant::now() > deadline {
            let _ = child.kill(); // already failing; the assert below says why
            panic!("the studio did not exit within 3 minutes");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn screenshot_path(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    let p = dir.join(name);
    let _ = std::fs::remove_file(&p); // absent on a first run
    p
}

/// Checks the PNG is a full window with real content, and returns it.
fn check_screenshot(p: &Path) -> image::RgbaImage {
    let img = image::open(p).expect("screenshot is a PNG").to_rgba8();
    assert!(
        img.width() >= 800 && img.height() >= 500,
        "{}x{}",
        img.width(),
        img.height()
    );
    let mut colours: Vec<[u8; 4]> = img.pixels().map(|p| p.0).collect();
    colours.sort_unstable();
    colours.dedup();
    assert!(
        colours.len() > 200,
        "only {} colours: blank window?",
        colours.len()
    );
    println!("screenshot: {}", p.display());
    img
}

/// What the studio wrote next to a screenshot: where the canvas is and which frame it shows.
struct ShotInfo {
    canvas: [f32; 4],
    clip: String,
    frame_index: usize,
}

fn shot_info(png: &Path) -> ShotInfo {
    let side = format!("{}.json", png.display());
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&side).expect("screenshot json"))
            .expect("json");
    let c = v["canvas_px"].as_array().expect("the canvas drew a frame");
    let canvas: Vec<f32> = c
        .iter()
        .filter_map(|x| x.as_f64())
        .map(|x| x as f32)
        .collect();
    ShotInfo {
        canvas: canvas.try_into().expect("4 numbers"),
        clip: v["clip"].as_str().expect("clip").to_string(),
        frame_index: v["frame_index"].as_u64().expect("frame index") as usize,
    }
}

/// The canvas region of a screenshot sampled at the centre of each of the frame's pixels
/// (where the bilinear sampler returns the texel itself), as RGB.
fn canvas_samples(img: &image::RgbaImage, canvas: [f32; 4], w: u32, h: u32) -> Vec<[u8; 3]> {
    let [x0, y0, x1, y1] = canvas;
    let mut out = Vec::with_capacity((w * h) as usize);
    for v in 0..h {
        for u in 0..w {
            let x = x0 + (u as f32 + 0.5) / w as f32 * (x1 - x0);
            let y = y0 + (v as f32 + 0.5) / h as f32 * (y1 - y0);
            let p = img.get_pixel(x as u32, y as u32).0;
            out.push([p[0], p[1], p[2]]);
        }
    }
    out
}

fn mean_abs_diff(a: &[[u8; 3]], b: &[[u8; 3]]) -> f64 {
    let sum: u64 = a
        .iter()
        .zip(b)
        .flat_map(|(p, q)| (0..3).map(move |c| u64::from(p[c].abs_diff(q[c]))))
        .sum();
    sum as f64 / (a.len() * 3) as f64
}

fn frame_pixels(f: &triggerlab::core::Frame) -> Vec<[u8; 3]> {
    f.rgb()
        .chunks_exact(3)
        .map(|p| [p[0], p[1], p[2]])
        .collect()
}

#[test]
fn studio_draws_the_playing_clip_on_the_canvas() {
    if !display_available() {
        return;
    }
    let first = screenshot_path("studio-demo.png");
    let second = screenshot_path("studio-demo-later.png");
    let (code, stderr) = run_studio(&[
        "--view",
        "clean",
        "--exit-after-frames",
        "30",
        "--screenshot",
        first.to_str().expect("utf-8"),
        "--screenshot",
        second.to_str().expect("utf-8"),
        "--screenshot-interval",
        "1",
    ]);
    assert_eq!(code, Some(0), "stderr: {stderr}");
    // No sound card here: one line says so, and ALSA's own complaints never reach stderr.
    assert!(!stderr.contains("ALSA lib"), "stderr: {stderr}");
    assert!(
        stderr
            .lines()
            .filter(|l| l.contains("no audio device"))
            .count()
            <= 1,
        "stderr: {stderr}"
    );
    // The first SynthMotion clip plays: the canvas shows exactly its frames, as core makes them.
    let spec = triggerlab::app::library_spec();
    let clip = triggerlab::core::synth::synth_clip(&spec, 0, 0).expect("synth");
    let frames: Vec<Vec<[u8; 3]>> = clip.frames().iter().map(frame_pixels).collect();
    let n = frames.len();
    let mut seen = Vec::new();
    for shot in [&first, &second] {
        let img = check_screenshot(shot);
        let info = shot_info(shot);
        assert_eq!(info.clip, "MoveLeft #1");
        let [x0, y0, x1, y1] = info.canvas;
        assert!(
            x1 - x0 > 200.0 && y1 - y0 > 200.0,
            "canvas {:?}",
            info.canvas
        );
        let got = canvas_samples(&img, info.canvas, spec.size, spec.size);
        let shown = mean_abs_diff(&got, &frames[info.frame_index]);
        let other = mean_abs_diff(&got, &frames[(info.frame_index + n / 2) % n]);
        assert!(
            shown < 3.0 && other > shown + 2.0,
            "{}: frame {} differs by {shown:.2} (half a clip away: {other:.2})",
            shot.display(),
            info.frame_index
        );
        seen.push((info.frame_index, got));
    }
    // A second apart the picture has moved on (8 fps: 8 frames later, or looped).
    assert_ne!(seen[0].0, seen[1].0, "the same frame a second later");
    let moved = mean_abs_diff(&seen[0].1, &seen[1].1);
    assert!(
        moved > 2.0,
        "the canvas barely changed in a second: {moved:.2}"
    );
}

#[test]
fn studio_opens_a_file_from_the_command_line() {
    if !display_available() {
        return;
    }
    let clip = common::mp4_h264_aac();
    let shot = screenshot_path("studio-open-mp4.png");
    let (code, stderr) = run_studio(&[
        "--open",
        clip.to_str().expect("utf-8"),
        "--exit-after-frames",
        "10",
        "--screenshot",
        shot.to_str().expect("utf-8"),
    ]);
    assert_eq!(code, Some(0), "stderr: {stderr}");
    check_screenshot(&shot);
}

#[test]
fn difference_view_shows_a_badnets_patch_where_it_was_placed() {
    if !display_available() {
        return;
    }
    let shot = screenshot_path("studio-badnets-difference.png");
    let (code, stderr) = run_studio(&[
        "--attack",
        r#"{"kind":"badnets","size":16,"anchor":{"x":80,"y":24},"color":[255,0,0]}"#,
        "--view",
        "difference",
        "--frame",
        "3",
        "--exit-after-frames",
        "5",
        "--screenshot",
        shot.to_str().expect("utf-8"),
    ]);
    assert_eq!(code, Some(0), "stderr: {stderr}");
    let img = check_screenshot(&shot);
    let info = shot_info(&shot);
    assert_eq!(info.frame_index, 3, "paused at --frame");
    let spec = triggerlab::app::library_spec();
    let got = canvas_samples(&img, info.canvas, spec.size, spec.size);
    let n = spec.size as usize;
    let (mut inside, mut outside) = (Vec::new(), Vec::new());
    for y in 0..n {
        for x in 0..n {
            let v = got[y * n + x];
            let level = (u32::from(v[0]) + u32::from(v[1]) + u32::from(v[2])) as f64 / 3.0;
            // One pixel of margin: the canvas filters at the patch's edge.
            let (px, py) = (x as i64, y as i64);
            if (81..95).contains(&px) && (25..39).contains(&py) {
                inside.push(level);
            } else if !(79..97).contains(&px) || !(23..41).contains(&py) {
                outside.push(level);
            }
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    assert!(
        mean(&inside) > 60.0 && mean(&outside) < 3.0,
        "difference inside the patch {:.1}, outside {:.1}",
        mean(&inside),
        mean(&outside)
    );
}

#[test]
fn a_bad_studio_flag_is_one_line_and_exit_1() {
    for args in [
        &["--view", "sideways"][..],
        &["--attack", r#"{"kind":"wobble"}"#][..],
        &["--project", "/nonexistent/p.tlab.json"][..],
        &["--dataset", "/nonexistent/dataset"][..],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_triggerlab"))
            .args(args)
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(args[0]), "{args:?}: {err}");
    }
}

#[test]
fn without_a_display_it_says_so_in_one_line() {
    let out = Command::new(env!("CARGO_BIN_EXE_triggerlab"))
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .expect("run");
    assert_ne!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("no display"), "{err}");
}

#[test]
fn experiment_flag_runs_the_spec_in_the_tab_then_exits() {
    if !display_available() {
        return;
    }
    let dir = tempfile::tempdir().expect("tmp");
    let spec = dir.path().join("small.toml");
    std::fs::write(
        &spec,
        common::SMALL_EXPERIMENT.replace("epochs = 3", "epochs = 2"),
    )
    .expect("spec");
    let shot = screenshot_path("studio-experiment.png");
    // The output folder is the tab's default, `runs/<name>` under the working folder.
    let mut child = Command::new(env!("CARGO_BIN_EXE_triggerlab"))
        .current_dir(dir.path())
        .args([
            "--experiment",
            spec.to_str().expect("utf-8"),
            "--exit-after-frames",
            "5",
            "--screenshot",
            shot.to_str().expect("utf-8"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start triggerlab");
    let deadline = Instant::now() + Duration::from_secs(180);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the studio did not exit after its run (it must keep drawing once idle)");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "{status:?}");
    let results = dir.path().join("runs/small/results.json");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&results).expect("results.json"))
            .expect("json");
    assert_eq!(json["cancelled"], false);
    assert_eq!(json["epochs"].as_array().map(Vec::len), Some(2));
    check_screenshot(&shot);
}
