//! `triggerlab apply` and `triggerlab bench triggers` from the outside.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn triggerlab(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_triggerlab"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run triggerlab")
}

/// A 64×48 test image with some structure.
fn write_png(dir: &Path, name: &str) -> PathBuf {
    let img = image::RgbImage::from_fn(64, 48, |x, y| {
        image::Rgb([(x * 4) as u8, (y * 5) as u8, ((x + y) * 2) as u8])
    });
    let p = dir.join(name);
    img.save(&p).expect("save");
    p
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

#[test]
fn every_inline_form_of_the_issue_applies() {
    let dir = tempfile::tempdir().expect("tmp");
    let input = write_png(dir.path(), "in.png");
    image::RgbImage::from_fn(8, 8, |x, y| {
        image::Rgb([255 - (x * 30) as u8, (y * 30) as u8, 128])
    })
    .save(dir.path().join("pattern.png"))
    .expect("pattern");
    let grid: Vec<Vec<Vec<f64>>> = (0..2)
        .map(|c| {
            (0..4)
                .map(|i| {
                    (0..4)
                        .map(|j| if (i + j + c) % 2 == 0 { 3.0 } else { -3.0 })
                        .collect()
                })
                .collect()
        })
        .collect();
    let grid = serde_json::to_string(&grid).expect("json");
    let forms = [
        ("badnets", r#"{"kind":"badnets","size":3,"anchor":"bottom_right","margin":0,"color":[255,255,255]}"#.to_string()),
        ("blend", r#"{"kind":"blend","alpha":0.2,"pattern":{"image":"pattern.png"}}"#.to_string()),
        ("sig", r#"{"kind":"sig","delta":40,"freq":6}"#.to_string()),
        ("wanet", format!(r#"{{"kind":"wanet","k":4,"s":0.5,"grid_rescale":1,"control_grid":{grid}}}"#)),
        ("wanet", r#"{"kind":"wanet","k":4,"s":0.5,"grid_rescale":1,"seed":1}"#.to_string()),
        ("ftrojan", r#"{"kind":"ftrojan","window":16,"magnitude":30,"positions":[[7,7],[15,15]],"channels":["cr","cb"]}"#.to_string()),
    ];
    for (kind, spec) in forms {
        let out = dir.path().join(format!("out_{kind}.png"));
        let o = triggerlab(
            &[
                "apply",
                "--trigger",
                &spec,
                "--input",
                s(&input),
                "--output",
                s(&out),
                "--json",
            ],
            dir.path(),
        );
        assert!(
            o.status.success(),
            "{kind}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("one JSON object");
        assert_eq!(v["trigger"], kind);
        assert_eq!(
            (v["width"].as_u64(), v["height"].as_u64()),
            (Some(64), Some(48))
        );
        let psnr = v["stealth"]["psnr_db_mean"]
            .as_f64()
            .unwrap_or_else(|| panic!("{kind} changed nothing: {v}"));
        assert!(psnr > 10.0 && psnr < 80.0, "{kind}: {psnr}");
        assert!(v["stealth"]["ssim_mean"].as_f64().expect("ssim") <= 1.0);
        let written = image::open(&out).expect("written").to_rgb8();
        assert_eq!(written.dimensions(), (64, 48));
    }
    // BadNets 3×3 white patch at the bottom-right corner, nothing else touched.
    let out = image::open(dir.path().join("out_badnets.png"))
        .expect("png")
        .to_rgb8();
    let inp = image::open(&input).expect("png").to_rgb8();
    for (x, y, p) in out.enumerate_pixels() {
        let want = if x >= 61 && y >= 45 {
            image::Rgb([255, 255, 255])
        } else {
            *inp.get_pixel(x, y)
        };
        assert_eq!(*p, want, "({x},{y})");
    }
}

#[test]
fn a_toml_spec_file_resolves_paths_next_to_it_and_seed_overrides() {
    let dir = tempfile::tempdir().expect("tmp");
    let input = write_png(dir.path(), "in.png");
    std::fs::create_dir(dir.path().join("specs")).expect("dir");
    write_png(&dir.path().join("specs"), "p.png");
    let spec = dir.path().join("specs/blend.toml");
    std::fs::write(&spec, "version = 1\nseed = 3\n[visual]\nkind = \"blend\"\nalpha = 0.5\npattern = { image = \"p.png\" }\n").expect("spec");
    let out = dir.path().join("o.png");
    let o = triggerlab(
        &[
            "apply",
            "--trigger",
            s(&spec),
            "--input",
            s(&input),
            "--output",
            s(&out),
            "--seed",
            "9",
            "--json",
        ],
        Path::new("/"),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["seed"], 9);
    // Blending an image with itself at any α leaves it unchanged.
    assert!(v["stealth"]["psnr_db_mean"].is_null(), "{v}");
}

#[test]
fn bad_input_exits_1_with_one_line_naming_the_problem() {
    let dir = tempfile::tempdir().expect("tmp");
    let input = write_png(dir.path(), "in.png");
    let out = dir.path().join("o.png");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![
                r#"{"kind":"badnets","size":80}"#.into(),
                s(&input).into(),
                s(&out).into(),
            ],
            "visual.size",
        ),
        (
            vec![
                r#"{"kind":"blend","alpha":1.5}"#.into(),
                s(&input).into(),
                s(&out).into(),
            ],
            "alpha",
        ),
        (
            vec![
                r#"{"kind":"sig","delta":40,"frequency":6}"#.into(),
                s(&input).into(),
                s(&out).into(),
            ],
            "frequency",
        ),
        (
            vec![
                r#"{"kind":"ftrojan","window":64}"#.into(),
                s(&input).into(),
                s(&out).into(),
            ],
            "window",
        ),
        (
            vec![
                r#"{"kind":"blend","pattern":{"image":"missing.png"}}"#.into(),
                s(&input).into(),
                s(&out).into(),
            ],
            "missing.png",
        ),
        (
            vec![r#"{"kind":"sig"#.into(), s(&input).into(), s(&out).into()],
            "JSON",
        ),
        (
            vec!["no_such_spec.json".into(), s(&input).into(), s(&out).into()],
            "no_such_spec.json",
        ),
        (
            vec![
                r#"{"kind":"sig"}"#.into(),
                s(&dir.path().join("none.png")).into(),
                s(&out).into(),
            ],
            "none.png",
        ),
        (
            vec![
                r#"{"kind":"sig"}"#.into(),
                s(&input).into(),
                "/nonexistent/dir/o.png".into(),
            ],
            "/nonexistent/dir/o.png",
        ),
        (
            vec![
                r#"{"kind":"sig"}"#.into(),
                s(&input).into(),
                s(&dir.path().join("o.mp4")).into(),
            ],
            "o.mp4",
        ),
    ];
    for (args, needle) in cases {
        let o = triggerlab(
            &[
                "apply",
                "--trigger",
                &args[0],
                "--input",
                &args[1],
                "--output",
                &args[2],
            ],
            dir.path(),
        );
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        assert!(err.contains(needle), "expected `{needle}` in: {err}");
        assert!(!err.contains("panicked"));
    }
    assert!(!out.exists(), "no output written on failure");
}

#[test]
fn bench_triggers_json_has_a_row_per_trigger_and_size() {
    let dir = tempfile::tempdir().expect("tmp");
    let o = triggerlab(
        &[
            "bench",
            "triggers",
            "--json",
            "--sizes",
            "32,48",
            "--clips",
            "1",
            "--frames",
            "4",
            "--min-secs",
            "0.001",
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8(o.stdout).expect("utf-8");
    assert_eq!(text.trim().lines().count(), 1);
    let v: serde_json::Value = serde_json::from_str(&text).expect("json");
    let rows = v["results"].as_array().expect("results");
    assert_eq!(rows.len(), triggerlab::core::trigger::KINDS.len() * 2);
    for r in rows {
        assert!(r["frames_per_sec"].as_f64().expect("number") > 0.0, "{r}");
        assert!(r["trigger"].is_string() && (r["size"] == 32 || r["size"] == 48));
    }
}

fn make_video(dir: &Path) -> PathBuf {
    let p = dir.join("clip.mp4");
    let st = Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-nostdin",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=96x64:rate=12:duration=1",
            "-f",
            "lavfi",
            "-i",
            "sine=f=300:sample_rate=16000:duration=1",
            "-c:v",
            "libx264",
            "-c:a",
            "aac",
            "-shortest",
        ])
        .arg(&p)
        .status()
        .expect("ffmpeg (install with scripts/setup.sh)");
    assert!(st.success());
    p
}

#[test]
fn video_in_mp4_out_reports_stealth_and_codec_survival() {
    let dir = tempfile::tempdir().expect("tmp");
    let input = make_video(dir.path());
    let out = dir.path().join("poisoned.mp4");
    let spec = r#"{"version":1,"visual":{"kind":"sig","delta":30,"freq":4},"temporal":{"frames":{"every":{"n":3}}},"audio":{"kind":"tone","freq_hz":2000,"duration_secs":0.25,"placement":"end"}}"#;
    let o = triggerlab(
        &[
            "apply",
            "--trigger",
            spec,
            "--input",
            s(&input),
            "--output",
            s(&out),
            "--json",
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["frames"], 12);
    assert_eq!(v["triggered_frames"], serde_json::json!([0, 3, 6, 9]));
    assert!(v["stealth"]["temporal_flicker"].as_f64().expect("clip") > 0.0);
    assert!(v["stealth"]["audio_snr_db"].is_number());
    assert_eq!(v["audio_mix"]["duration_secs"], 0.25);
    let sv = &v["codec_survival"];
    let corr = sv["delta_correlation"].as_f64().expect("number");
    assert!(corr > 0.8, "SIG survives H.264 at CRF 18: {corr}");
    assert!(sv["psnr_after_db"].as_f64().is_some() && sv["psnr_before_db"].as_f64().is_some());
    let info = triggerlab(&["info", s(&out), "--json"], dir.path());
    let i: serde_json::Value = serde_json::from_slice(&info.stdout).expect("json");
    assert_eq!(
        (i["frames"].as_u64(), i["video_codec"].as_str()),
        (Some(12), Some("h264"))
    );
    assert_eq!(
        i["audio"]["sample_rate_hz"], 16000,
        "original audio kept, with the trigger mixed in"
    );
}

#[test]
fn video_in_png_frames_out_and_bad_video_outputs() {
    let dir = tempfile::tempdir().expect("tmp");
    let input = make_video(dir.path());
    let frames = dir.path().join("frames");
    let o = triggerlab(
        &[
            "apply",
            "--trigger",
            r#"{"kind":"badnets","size":8}"#,
            "--input",
            s(&input),
            "--output",
            s(&frames),
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read_dir(&frames).expect("dir").count(), 12);
    let o = triggerlab(
        &[
            "apply",
            "--trigger",
            r#"{"kind":"sig"}"#,
            "--input",
            s(&input),
            "--output",
            s(&dir.path().join("x.avi")),
        ],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("x.avi"));
    let bad = dir.path().join("broken.mp4");
    std::fs::write(&bad, b"\x00\x00\x00\x18ftypmp42 not really").expect("write");
    let o = triggerlab(
        &[
            "apply",
            "--trigger",
            r#"{"kind":"sig"}"#,
            "--input",
            s(&bad),
            "--output",
            s(&dir.path().join("y.mp4")),
        ],
        dir.path(),
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("broken.mp4") && err.lines().count() == 1,
        "{err}"
    );
    assert!(!dir.path().join("y.mp4").exists());
}

/// A 16 kHz mono 16-bit WAV of a 1 kHz tone, `secs` long.
fn write_wav(path: &Path, secs: f64) {
    let rate = 16_000u32;
    let n = (f64::from(rate) * secs) as u32;
    let mut b = Vec::new();
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&(36 + 2 * n).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&16u32.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes()); // PCM
    b.extend_from_slice(&1u16.to_le_bytes()); // mono
    b.extend_from_slice(&rate.to_le_bytes());
    b.extend_from_slice(&(rate * 2).to_le_bytes());
    b.extend_from_slice(&2u16.to_le_bytes());
    b.extend_from_slice(&16u16.to_le_bytes());
    b.extend_from_slice(b"data");
    b.extend_from_slice(&(2 * n).to_le_bytes());
    for i in 0..n {
        let v = (f64::from(i) * std::f64::consts::TAU * 1000.0 / f64::from(rate)).sin() * 12_000.0;
        b.extend_from_slice(&(v as i16).to_le_bytes());
    }
    std::fs::write(path, b).expect("wav");
}

/// `dir/specs/` with `patch.png` (4×4 pure green) and `beep.wav` beside the spec files.
fn spec_folder_with_files(dir: &Path) -> PathBuf {
    let specs = dir.join("specs");
    std::fs::create_dir(&specs).expect("dir");
    image::RgbImage::from_pixel(4, 4, image::Rgb([0, 255, 0]))
        .save(specs.join("patch.png"))
        .expect("png");
    write_wav(&specs.join("beep.wav"), 0.2);
    specs
}

#[test]
fn a_video_spec_with_an_image_patch_and_an_overlay_beside_it_applies_from_another_folder() {
    let dir = tempfile::tempdir().expect("tmp");
    let input = make_video(dir.path());
    let specs = spec_folder_with_files(dir.path());
    let spec = specs.join("attack.json");
    std::fs::write(
        &spec,
        r#"{"version":1,"visual":{"kind":"badnets","size":4,"image":"patch.png"},
            "audio":{"kind":"overlay","path":"beep.wav","placement":"start"}}"#,
    )
    .expect("spec");
    let frames = dir.path().join("frames");
    // Run from `/`: the spec's relative paths must resolve against its own folder.
    let o = triggerlab(
        &[
            "apply",
            "--trigger",
            s(&spec),
            "--input",
            s(&input),
            "--output",
            s(&frames),
            "--json",
        ],
        Path::new("/"),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let d = v["audio_mix"]["duration_secs"]
        .as_f64()
        .expect("the overlay was mixed in");
    assert!((d - 0.2).abs() < 0.01, "the whole 0.2 s beep: {v}");
    let f = image::open(frames.join("frame_00000.png"))
        .expect("frame")
        .to_rgb8();
    assert_eq!((f.width(), f.height()), (96, 64));
    for y in 60..64 {
        for x in 92..96 {
            assert_eq!(f.get_pixel(x, y).0, [0, 255, 0], "({x},{y}) is the patch");
        }
    }
}

#[test]
fn run_reads_the_files_an_experiment_spec_names_beside_it() {
    let dir = tempfile::tempdir().expect("tmp");
    let specs = spec_folder_with_files(dir.path());
    let exp = specs.join("exp.toml");
    std::fs::write(
        &exp,
        r#"
version = 1
name = "files"
seed = 1
epochs = 1
batch_size = 4
[dataset]
synth = { classes = 2, per_class = 6 }
frames = 4
size = 16
[model]
kind = "av_fusion"
[augment]
random_crop = false
[eval]
frame_fraction_curve = false
[attack]
visual = { kind = "badnets", size = 4, image = "patch.png" }
audio = { kind = "overlay", path = "beep.wav" }
[poison]
target = "MoveLeft"
ratio = 0.5
modality = "both"
"#,
    )
    .expect("spec");
    let out = dir.path().join("run");
    // From `/`, so only the spec's own folder can supply patch.png and beep.wav.
    let o = triggerlab(
        &["run", s(&exp), "--out", s(&out), "--json"],
        Path::new("/"),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).expect("results"))
            .expect("json");
    assert_eq!(results["epochs"].as_array().map(Vec::len), Some(1));

    // A file that is not there is named in the one-line error.
    std::fs::remove_file(specs.join("beep.wav")).expect("rm");
    let o = triggerlab(
        &["run", s(&exp), "--out", s(&dir.path().join("run2"))],
        Path::new("/"),
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("beep.wav") && err.lines().count() == 1,
        "{err}"
    );
}
