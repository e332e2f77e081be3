//! Writing clips and reading them back.

use triggerlab::core::demo::{DemoParams, demo_clip};
use triggerlab::core::metrics::psnr_db;
use triggerlab::media::decode::{AudioRequest, DecodeRequest, Sampling, decode_clip};
use triggerlab::media::encode::{EncodeOptions, write_mp4, write_png_sequence};
use triggerlab::media::probe::probe;
use triggerlab::media::reader::SizeMode;

fn demo(w: u32, h: u32) -> triggerlab::core::Clip {
    demo_clip(&DemoParams {
        width: w,
        height: h,
        frames: 24,
        fps: 12,
        sample_rate_hz: 16000,
        seed: 1,
    })
    .expect("demo")
}

fn read_back(p: &std::path::Path) -> triggerlab::media::decode::Decoded {
    decode_clip(
        p,
        &DecodeRequest {
            size: SizeMode::Native,
            sampling: Sampling::All,
            audio: Some(AudioRequest {
                sample_rate_hz: 16000,
                channels: 1,
            }),
            max_frames: None,
        },
    )
    .expect("decodes")
}

#[test]
fn mp4_round_trip_keeps_frames_rate_and_audio() {
    let dir = tempfile::tempdir().expect("tmp");
    let clip = demo(96, 64);
    let p = dir.path().join("demo.mp4");
    write_mp4(&clip, &p, &EncodeOptions::default()).expect("writes");
    let info = probe(&p).expect("probes");
    assert_eq!((info.width, info.height, info.frames), (96, 64, 24));
    assert_eq!(info.fps, clip.fps());
    let a = info.audio.expect("has audio");
    assert_eq!(
        (a.codec.as_str(), a.sample_rate_hz, a.channels),
        ("aac", 16000, 1)
    );
    assert_eq!(info.video_codec, "h264");

    let back = read_back(&p);
    assert_eq!(back.clip.frames().len(), 24);
    for (a, b) in clip.frames().iter().zip(back.clip.frames()) {
        let p = psnr_db(a.rgb(), b.rgb()).unwrap_or(f64::INFINITY);
        assert!(p > 30.0, "frame PSNR {p}");
    }
    let (ca, cb) = (
        clip.audio().expect("audio"),
        back.clip.audio().expect("audio"),
    );
    assert_eq!(ca.len_frames(), cb.len_frames());
    // AAC at 64 kb/s keeps the tone: SNR of the decoded track against the original.
    let snr = triggerlab::core::metrics::audio_snr_db(ca.samples(), cb.samples())
        .expect("differs a little");
    assert!(snr > 15.0, "audio SNR {snr}");
}

#[test]
fn odd_sizes_and_png_sequences() {
    let dir = tempfile::tempdir().expect("tmp");
    let clip = demo(75, 41);
    let p = dir.path().join("odd.mp4");
    write_mp4(&clip, &p, &EncodeOptions::default()).expect("x264 4:4:4 takes odd sides");
    assert_eq!(read_back(&p).clip.size(), Some((75, 41)));

    let frames = dir.path().join("frames");
    write_png_sequence(&clip, &frames).expect("writes");
    let mut names: Vec<_> = std::fs::read_dir(&frames)
        .expect("dir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    names.sort();
    assert_eq!(names.len(), 24);
    assert_eq!(names[0], "frame_00000.png");
    let f0 = image::open(frames.join("frame_00000.png"))
        .expect("png")
        .to_rgb8();
    assert_eq!(f0.as_raw(), clip.frames()[0].rgb(), "PNG is lossless");
    assert!(
        write_png_sequence(&clip, &frames).is_err(),
        "refuses a non-empty folder"
    );
}

#[test]
fn failures_leave_nothing_behind() {
    let dir = tempfile::tempdir().expect("tmp");
    let clip = demo(32, 32);
    let e = write_mp4(
        &clip,
        &dir.path().join("no/such/dir/x.mp4"),
        &EncodeOptions::default(),
    )
    .expect_err("no dir");
    assert!(e.to_string().contains("x.mp4"), "{e}");
    let ro = dir.path().join("ro");
    std::fs::create_dir(&ro).expect("dir");
    let mut perm = std::fs::metadata(&ro).expect("meta").permissions();
    perm.set_readonly(true);
    std::fs::set_permissions(&ro, perm).expect("chmod");
    let e = write_mp4(&clip, &ro.join("x.mp4"), &EncodeOptions::default());
    // root ignores permissions; for other users this is the unwritable-output case.
    if let Err(e) = e {
        assert!(e.to_string().contains("x.mp4"), "{e}");
    }
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .expect("dir")
        .map(|e| e.expect("e").file_name())
        .collect();
    assert!(
        left.iter()
            .all(|n| !n.to_string_lossy().starts_with(".triggerlab-")),
        "{left:?}"
    );
}
