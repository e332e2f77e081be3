//! `media::probe` and `triggerlab info` on clips made by the test, and on bad files.

mod common;

use common::*;
use std::path::Path;
use std::process::Command;
use triggerlab::core::Rational;
use triggerlab::media::probe::{FrameCountSource, probe};

#[test]
fn probes_mp4_h264_aac() {
    let info = probe(&mp4_h264_aac()).expect("probe");
    assert_eq!((info.width, info.height), (320, 240));
    assert_eq!(info.fps, Rational::from_int(25));
    assert_eq!(info.frames, 50);
    assert_eq!(info.frames_source, FrameCountSource::Container);
    assert!(
        (info.duration_secs - 2.0).abs() < 0.1,
        "{}",
        info.duration_secs
    );
    assert_eq!(info.video_codec, "h264");
    let audio = info.audio.expect("has audio");
    assert_eq!(
        (audio.sample_rate_hz, audio.channels, audio.codec.as_str()),
        (44100, 2, "aac")
    );
}

#[test]
fn probes_avi_mpeg4_part2() {
    let info = probe(&avi_mpeg4()).expect("probe");
    assert_eq!((info.width, info.height), (176, 144));
    assert_eq!(info.fps, Rational::from_int(24));
    // FFmpeg's AVI muxer pads the index with 2 empty chunks: 38 declared, 36 real frames.
    assert_eq!(info.frames, 36);
    assert_eq!(
        info.frames_source,
        FrameCountSource::CountedContainerDisagrees { declared: 38 }
    );
    assert_eq!(info.video_codec, "mpeg4");
    assert!(
        (info.duration_secs - 1.5).abs() < 0.1,
        "{}",
        info.duration_secs
    );
    let audio = info.audio.expect("has audio");
    assert_eq!(
        (audio.sample_rate_hz, audio.channels, audio.codec.as_str()),
        (22050, 1, "mp3")
    );
}

#[test]
fn probes_no_audio_at_ntsc_rate() {
    let info = probe(&mp4_no_audio()).expect("probe");
    assert_eq!((info.width, info.height), (200, 150));
    assert_eq!(info.fps, Rational::new(30000, 1001).expect("valid"));
    assert_eq!(info.frames, 30);
    assert!(info.audio.is_none());
    assert!(
        (info.duration_secs - 1.001).abs() < 0.01,
        "{}",
        info.duration_secs
    );
}

#[test]
fn frame_count_is_counted_when_the_container_has_none() {
    let info = probe(&mpeg2_ps()).expect("probe");
    assert_eq!(info.video_codec, "mpeg2video");
    assert_eq!(info.frames_source, FrameCountSource::Counted);
    assert_eq!(info.frames, 20);
}

/// The error for `path`, checked to name the file and to contain `needle`.
fn expect_error(path: &Path, needle: &str) {
    let err = probe(path).expect_err("must fail").to_string();
    assert!(err.contains(&path.display().to_string()), "{err}");
    assert!(
        err.to_lowercase().contains(needle),
        "expected '{needle}' in: {err}"
    );
    assert!(!err.contains('\n'), "not one line: {err}");
}

#[test]
fn bad_files_fail_with_named_causes() {
    expect_error(&fixtures().join("missing.mp4"), "no such file");
    expect_error(&write("empty.mp4", b""), "empty");
    expect_error(fixtures(), "directory");
    expect_error(
        &write("notes.txt", b"this is not a video\n"),
        "not a media file",
    );
    let noise: Vec<u8> = (0..50_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    expect_error(&write("noise.mp4", &noise), "not a media file");
    expect_error(&audio_only(), "no video stream");
    // Index at the end, file cut in half: FFmpeg cannot find it and says so.
    expect_error(
        &truncated(&mp4_h264_aac(), "cut.mp4", 0.5),
        "moov atom not found",
    );
    // Index first, data cut: the index promises frames the file no longer has.
    expect_error(
        &truncated(&mp4_faststart(), "cut_faststart.mp4", 0.6),
        "truncated",
    );
    expect_error(
        &truncated(&mp4_faststart(), "cut_faststart.mp4", 0.6),
        "partial file",
    );
}

fn triggerlab(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_triggerlab"))
        .args(args)
        .output()
        .expect("run triggerlab")
}

#[test]
fn cli_json_has_exactly_the_documented_keys() {
    let path = mp4_h264_aac();
    let out = triggerlab(&["info", path.to_str().expect("utf-8 path"), "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("utf-8");
    assert_eq!(text.trim().lines().count(), 1, "one JSON object: {text}");
    let v: serde_json::Value = serde_json::from_str(&text).expect("json");
    let mut keys: Vec<&str> = v
        .as_object()
        .expect("object")
        .keys()
        .map(|k| k.as_str())
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "audio",
            "duration_secs",
            "fps",
            "frames",
            "height",
            "video_codec",
            "width"
        ]
    );
    assert_eq!(v["width"], 320);
    assert_eq!(v["frames"], 50);
    assert_eq!(v["fps"], 25.0);
    assert_eq!(v["video_codec"], "h264");
    assert_eq!(
        v["audio"],
        serde_json::json!({"sample_rate_hz": 44100, "channels": 2, "codec": "aac"})
    );

    let silent = mp4_no_audio();
    let out = triggerlab(&["info", silent.to_str().expect("utf-8"), "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert!(v["audio"].is_null());
    assert!((v["fps"].as_f64().expect("number") - 29.97).abs() < 0.001);
}

#[test]
fn cli_text_shows_the_rational_rate() {
    let path = mp4_no_audio();
    let out = triggerlab(&["info", path.to_str().expect("utf-8")]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).expect("utf-8");
    assert!(text.contains("30000/1001 (29.970 fps)"), "{text}");
    assert!(text.contains("audio:       none"), "{text}");
}

#[test]
fn cli_bad_files_exit_1_with_one_line() {
    let cases = [
        fixtures().join("missing.mp4"),
        write("empty2.mp4", b""),
        write("text2.mp4", b"hello"),
        truncated(&mp4_h264_aac(), "cut2.mp4", 0.5),
        truncated(&mp4_faststart(), "cut_faststart2.mp4", 0.6),
        audio_only(),
    ];
    for path in cases {
        let out = triggerlab(&["info", path.to_str().expect("utf-8"), "--json"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{}: {err}", path.display());
        assert!(
            out.stdout.is_empty(),
            "nothing on stdout for {}",
            path.display()
        );
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        let name = path.file_name().expect("name").to_string_lossy();
        assert!(err.contains(name.as_ref()), "names the file: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}
