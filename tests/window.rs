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

#[test]
fn studio_renders_frames_and_exits_zero() {
    if !display_available() {
        return;
    }
    let shot = screenshot_path("studio-demo.png");
    let (code, stderr) = run_studio(&[
        "--exit-after-frames",
        "30",
        "--screenshot",
        shot.to_str().expect("utf-8"),
    ]);
    assert_eq!(code, Some(0), "stderr: {stderr}");
    let img = check_screenshot(&shot);
    // The canvas (middle of the window) shows a SynthMotion clip drawn by the wgpu pipeline:
    // a textured, coloured picture, not the flat grey of egui's panels.
    let (w, h) = (img.width(), img.height());
    let mut colours: Vec<[u8; 4]> = (w * 3 / 10..w * 7 / 10)
        .flat_map(|x| (h / 4..h * 3 / 4).map(move |y| (x, y)))
        .map(|(x, y)| img.get_pixel(x, y).0)
        .collect();
    colours.sort_unstable();
    colours.dedup();
    assert!(
        colours.len() > 300,
        "the canvas looks empty ({} colours)",
        colours.len()
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
