//! Real clips fetched by scripts/fetch-samples.sh (Big Buck Bunny and Debian's
//! forensics-samples-files): probe and decode each into a training-shaped clip. `make test`
//! fetches them and sets TRIGGERLAB_REQUIRE_SAMPLES, so there these tests cannot skip.

use std::path::PathBuf;
use triggerlab::media::decode::{AudioRequest, DecodeRequest, Sampling, decode_clip};
use triggerlab::media::probe::probe;
use triggerlab::media::reader::SizeMode;

fn sample(name: &str) -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("samples")
        .join(name);
    if p.is_file() {
        return Some(p);
    }
    assert!(
        std::env::var_os("TRIGGERLAB_REQUIRE_SAMPLES").is_none(),
        "{} is missing: run scripts/fetch-samples.sh",
        p.display()
    );
    eprintln!(
        "skipped: {} not fetched (run scripts/fetch-samples.sh)",
        p.display()
    );
    None
}

fn training_request() -> DecodeRequest {
    DecodeRequest {
        size: SizeMode::Fit {
            width: 112,
            height: 112,
        },
        sampling: Sampling::Uniform { frames: 16 },
        audio: Some(AudioRequest {
            sample_rate_hz: 16000,
            channels: 1,
        }),
        max_frames: None,
    }
}

#[test]
fn every_sample_decodes_into_a_training_clip() {
    // (file, width, height, frames, video codec, audio channels)
    let cases = [
        ("bigbuckbunny.mp4", 1280, 720, 132, "h264", Some(6)),
        ("movie-hello.mp4", 1280, 720, 250, "h264", Some(2)),
        ("movie-hello.avi", 1024, 576, 208, "h264", Some(2)),
        ("movie-hello.mpeg", 640, 480, 249, "mpeg2video", Some(2)),
        ("movie-hello.ogg", 720, 480, 242, "theora", Some(2)),
        ("phone-1080p.mp4", 1920, 1080, 41, "h264", Some(2)),
    ];
    for (name, w, h, frames, codec, channels) in cases {
        let Some(p) = sample(name) else { continue };
        let info = probe(&p).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (
                info.width,
                info.height,
                info.frames,
                info.video_codec.as_str()
            ),
            (w, h, frames, codec),
            "{name}"
        );
        assert_eq!(info.audio.map(|a| a.channels), channels, "{name}");
        let d = decode_clip(&p, &training_request()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(d.clip.frames().len(), 16, "{name}");
        assert_eq!(d.clip.size(), Some((112, 112)), "{name}");
        let a = d.clip.audio().expect("audio");
        let want = (16.0 / d.clip.fps().to_f64() * 16000.0).round() as usize;
        assert_eq!(
            a.len_frames(),
            want,
            "{name}: audio spans the sampled frames"
        );
        assert!(
            a.samples().iter().any(|v| v.abs() > 0.01),
            "{name}: audio is not silent"
        );
        // Frames differ (the clip moves) and are not blank.
        let f = d.clip.frames();
        assert_ne!(f[0], f[15], "{name}");
        assert!(
            f[8].rgb().iter().map(|&v| u64::from(v)).sum::<u64>() > 112 * 112 * 3 * 10,
            "{name}"
        );
    }
}
