//! Decoding real-world variety into clips: sizes, rates, rotation, bit depth, containers,
//! audio layouts, frame sampling, audio alignment and seeking. Clips are made by the test with
//! Debian's ffmpeg CLI.

mod common;

use common::*;
use triggerlab::core::Rational;
use triggerlab::media::decode::{AudioRequest, DecodeRequest, Sampling, decode_clip};
use triggerlab::media::reader::{AudioReader, SizeMode, VideoReader, video_origin_secs};

fn req(size: SizeMode, sampling: Sampling, audio: bool) -> DecodeRequest {
    DecodeRequest {
        size,
        sampling,
        audio: audio.then_some(AudioRequest {
            sample_rate_hz: 16000,
            channels: 1,
        }),
        max_frames: None,
    }
}

fn mean(px: &[u8], c: usize) -> f64 {
    px.iter()
        .skip(c)
        .step_by(3)
        .map(|&v| f64::from(v))
        .sum::<f64>()
        / (px.len() / 3) as f64
}

#[test]
fn odd_width_native_and_fit_stretch_sizes() {
    let p = make_with(
        "odd.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=175x99:rate=25:duration=1",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv444p",
        ],
    );
    let d = decode_clip(&p, &req(SizeMode::Native, Sampling::All, false)).expect("decodes");
    assert_eq!(d.clip.size(), Some((175, 99)));
    assert_eq!(d.clip.frames().len(), 25);
    let fit = decode_clip(
        &p,
        &req(
            SizeMode::Fit {
                width: 112,
                height: 112,
            },
            Sampling::All,
            false,
        ),
    )
    .expect("fit");
    assert_eq!(fit.clip.size(), Some((112, 112)));
    let st = decode_clip(
        &p,
        &req(
            SizeMode::Stretch {
                width: 64,
                height: 48,
            },
            Sampling::All,
            false,
        ),
    )
    .expect("stretch");
    assert_eq!(st.clip.size(), Some((64, 48)));
}

#[test]
fn ntsc_rate_sampling_modes() {
    let p = mp4_no_audio(); // 30 frames at 30000/1001
    let all = decode_clip(&p, &req(SizeMode::Native, Sampling::All, false)).expect("all");
    assert_eq!(all.clip.fps(), Rational::new(30000, 1001).expect("r"));
    assert_eq!(all.clip.frames().len(), 30);
    // Timestamps are exact multiples of 1001/30000 s.
    assert_eq!(all.times[3], Rational::new(3003, 30000).expect("r"));
    let every =
        decode_clip(&p, &req(SizeMode::Native, Sampling::Every { n: 4 }, false)).expect("every");
    assert_eq!(every.clip.frames().len(), 8);
    assert_eq!(every.clip.fps(), Rational::new(30000, 4004).expect("r"));
    assert_eq!(every.clip.frames()[1], all.clip.frames()[4]);
    let uni = decode_clip(
        &p,
        &req(SizeMode::Native, Sampling::Uniform { frames: 5 }, false),
    )
    .expect("uniform");
    assert_eq!(uni.clip.frames().len(), 5);
    // Slot centres at 0.1, 0.3, … of the 1.001 s clip → frames 3, 9, 15, 21, 27.
    let idx: Vec<usize> = uni
        .clip
        .frames()
        .iter()
        .map(|f| {
            all.clip
                .frames()
                .iter()
                .position(|g| g == f)
                .expect("a source frame")
        })
        .collect();
    assert_eq!(idx, vec![3, 9, 15, 21, 27]);
    let ten = decode_clip(
        &p,
        &req(SizeMode::Native, Sampling::Fps { num: 10, den: 1 }, false),
    )
    .expect("fps");
    assert_eq!(ten.clip.fps(), Rational::from_int(10));
    assert_eq!(ten.clip.frames().len(), 10);
}

#[test]
fn variable_frame_rate_becomes_regular() {
    // Keep frames 0,1,2 then every 4th: timestamps with gaps (VFR).
    let p = make_with(
        "vfr.mkv",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=64x48:rate=20:duration=2",
            "-vf",
            "select='lt(n\\,3)+not(mod(n\\,4))'",
            "-fps_mode",
            "vfr",
            "-c:v",
            "libx264",
        ],
    );
    let all = decode_clip(&p, &req(SizeMode::Native, Sampling::All, false)).expect("vfr");
    let gaps: Vec<f64> = all
        .times
        .windows(2)
        .map(|w| w[1].to_f64() - w[0].to_f64())
        .collect();
    assert!(
        gaps.iter().any(|&g| (g - 0.05).abs() < 1e-3)
            && gaps.iter().any(|&g| (g - 0.2).abs() < 1e-3),
        "{gaps:?}"
    );
    let cfr = decode_clip(
        &p,
        &req(SizeMode::Native, Sampling::Fps { num: 20, den: 1 }, false),
    )
    .expect("cfr");
    // A constant 20 fps over the stream's span (the last kept frame is n = 36 at 1.8 s → slots
    // 0..=36): gaps are filled by repeating frames.
    assert_eq!(cfr.clip.frames().len(), 37);
    assert!(
        cfr.clip.frames().windows(2).any(|w| w[0] == w[1]),
        "repeats fill the gaps"
    );
}

#[test]
fn ten_bit_video_decodes_with_the_right_colours() {
    let p = make_with(
        "tenbit.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "color=c=0xC03020:size=64x48:rate=10:duration=0.5",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p10le",
        ],
    );
    assert_eq!(
        std::process::Command::new("ffprobe")
            .args([
                "-v",
                "error",
                "-select_streams",
                "v:0",
                "-show_entries",
                "stream=pix_fmt",
                "-of",
                "csv=p=0"
            ])
            .arg(&p)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default(),
        "yuv420p10le"
    );
    let d = decode_clip(&p, &req(SizeMode::Native, Sampling::All, false)).expect("10-bit");
    let px = d.clip.frames()[0].rgb();
    let (r, g, b) = (mean(px, 0), mean(px, 1), mean(px, 2));
    assert!(
        (r - 192.0).abs() < 6.0 && (g - 48.0).abs() < 6.0 && (b - 32.0).abs() < 6.0,
        "{r} {g} {b}"
    );
}

#[test]
fn rotated_phone_video_is_shown_as_ffmpeg_shows_it() {
    // Stored 64×32 with a red square at the top-left; a display matrix is added on a stream copy
    // (FFmpeg 5.1 writes one from `rotate` only then; ffprobe reports "rotation=90").
    let plain = make_with(
        "box.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "color=c=blue:size=64x32:rate=10:duration=0.5",
            "-vf",
            "drawbox=x=0:y=0:w=16:h=16:color=red:t=fill",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv444p",
        ],
    );
    let p = make_with(
        "rotated.mp4",
        &[
            "-i",
            plain.to_str().expect("utf-8"),
            "-c",
            "copy",
            "-metadata:s:v:0",
            "rotate=90",
        ],
    );
    // What the ffmpeg CLI (autorotate) shows, as the reference.
    let out = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(&p)
        .args(["-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
        .output()
        .expect("ffmpeg");
    assert_eq!(out.stdout.len(), 32 * 64 * 3, "ffmpeg shows it 32×64");
    let d = decode_clip(&p, &req(SizeMode::Native, Sampling::All, false)).expect("decodes");
    assert_eq!(d.rotation.0, 270, "a quarter turn counter-clockwise");
    assert_eq!(d.clip.size(), Some((32, 64)), "width and height swapped");
    let f = &d.clip.frames()[0];
    let red =
        |px: &[u8], x: usize, y: usize| px[(y * 32 + x) * 3] > 180 && px[(y * 32 + x) * 3 + 2] < 80;
    for (x, y) in [(3, 3), (28, 3), (3, 60), (28, 60)] {
        assert_eq!(
            red(f.rgb(), x, y),
            red(&out.stdout, x, y),
            "pixel ({x},{y}) differs from ffmpeg's"
        );
    }
    assert!(red(f.rgb(), 3, 60), "the red square is at the bottom-left");
}

#[test]
fn containers_codecs_and_audio_layouts() {
    let cases = [
        (avi_mpeg4(), 36usize),
        (mpeg2_ps(), 20),
        (
            make_with(
                "theora.ogv",
                &[
                    "-f",
                    "lavfi",
                    "-i",
                    "testsrc=size=96x64:rate=15:duration=1",
                    "-f",
                    "lavfi",
                    "-i",
                    "sine=f=500:duration=1",
                    "-c:v",
                    "libtheora",
                    "-c:a",
                    "libvorbis",
                    "-shortest",
                ],
            ),
            15,
        ),
        (mp4_h264_aac(), 50),
        (
            make_with(
                "surround.mp4",
                &[
                    "-f",
                    "lavfi",
                    "-i",
                    "testsrc=size=64x48:rate=10:duration=1",
                    "-f",
                    "lavfi",
                    "-i",
                    "sine=f=300:duration=1",
                    "-c:v",
                    "libx264",
                    "-c:a",
                    "aac",
                    "-ac",
                    "6",
                    "-shortest",
                ],
            ),
            10,
        ),
        (mp4_no_audio(), 30),
    ];
    for (p, frames) in cases {
        let d = decode_clip(
            &p,
            &req(
                SizeMode::Fit {
                    width: 32,
                    height: 32,
                },
                Sampling::All,
                true,
            ),
        )
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert_eq!(d.clip.frames().len(), frames, "{}", p.display());
        assert_eq!(d.clip.size(), Some((32, 32)));
        match d.clip.audio() {
            Some(a) => {
                assert_eq!((a.sample_rate_hz(), a.channels()), (16000, 1));
                let want = (frames as f64 / d.clip.fps().to_f64() * 16000.0).round() as usize;
                assert_eq!(
                    a.len_frames(),
                    want,
                    "{}: audio spans the frames",
                    p.display()
                );
                let rms = (a.samples().iter().map(|v| v * v).sum::<f32>()
                    / a.samples().len() as f32)
                    .sqrt();
                assert!(
                    rms > 0.01,
                    "{}: audio carries the tone ({rms})",
                    p.display()
                );
            }
            None => assert!(
                p.ends_with("ntsc_silent.mp4") || p.ends_with("mpeg2.mpg"),
                "{} lost its audio",
                p.display()
            ),
        }
    }
}

#[test]
fn audio_is_aligned_with_frame_0() {
    // Video turns white at 1.0 s; audio is silent until a tone starts at 1.0 s.
    let p = make_with(
        "sync.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "color=c=black:size=32x32:rate=25:duration=2",
            "-f",
            "lavfi",
            "-i",
            "aevalsrc='if(gte(t\\,1)\\,0.5*sin(2*PI*800*t)\\,0)':s=48000:d=2",
            "-vf",
            "drawbox=x=0:y=0:w=32:h=32:color=white:t=fill:enable='gte(t\\,1)'",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv444p",
            "-c:a",
            "aac",
            "-shortest",
        ],
    );
    for sampling in [Sampling::All, Sampling::Every { n: 2 }] {
        let d = decode_clip(&p, &req(SizeMode::Native, sampling, true)).expect("decodes");
        let fps = d.clip.fps().to_f64();
        let first_white = d
            .clip
            .frames()
            .iter()
            .position(|f| mean(f.rgb(), 0) > 128.0)
            .expect("turns white");
        let a = d.clip.audio().expect("audio");
        let onset = a
            .samples()
            .iter()
            .position(|v| v.abs() > 0.1)
            .expect("tone") as f64
            / 16000.0;
        let video_t = first_white as f64 / fps;
        assert!(
            (onset - video_t).abs() <= 1.0 / fps + 0.01,
            "{sampling:?}: video {video_t:.3} s, audio {onset:.3} s"
        );
    }
}

#[test]
fn seeking_lands_on_the_requested_frame() {
    let p = mp4_faststart(); // 4 s at 25 fps
    let mut r = VideoReader::open(&p, SizeMode::Native).expect("opens");
    let all: Vec<_> = std::iter::from_fn(|| r.next_frame().expect("decodes")).collect();
    assert_eq!(all.len(), 100);
    for secs in [2.5f64, 0.04, 3.96, 1.0] {
        r.seek(Rational::new((secs * 100.0) as i64, 100).expect("r"))
            .expect("seeks");
        let (t, f) = r.next_frame().expect("decodes").expect("a frame");
        let i = (secs * 25.0).round() as usize;
        assert_eq!(t, all[i].0, "time after seeking to {secs}");
        assert_eq!(f, all[i].1, "frame after seeking to {secs}");
    }
}

#[test]
fn the_clip_cache_hits_on_the_second_read_and_misses_on_changes() {
    use triggerlab::media::cache::ClipCache;
    let dir = tempfile::tempdir().expect("tmp");
    let cache = ClipCache::new(dir.path().join("cache")).expect("cache");
    let src = mp4_h264_aac();
    let copy = dir.path().join("clip.mp4");
    std::fs::copy(&src, &copy).expect("copy");
    let r = req(
        SizeMode::Fit {
            width: 32,
            height: 32,
        },
        Sampling::Uniform { frames: 8 },
        true,
    );
    let (a, hit_a) = cache.get_or_decode(&copy, &r).expect("decodes");
    let (b, hit_b) = cache.get_or_decode(&copy, &r).expect("cached");
    assert!(!hit_a && hit_b);
    assert_eq!(a, b);
    let other = req(
        SizeMode::Fit {
            width: 16,
            height: 16,
        },
        Sampling::Uniform { frames: 8 },
        true,
    );
    assert!(
        !cache.get_or_decode(&copy, &other).expect("decodes").1,
        "other settings miss"
    );
    // A different file at the same path misses (the key is the content hash).
    std::fs::copy(mp4_no_audio(), &copy).expect("replace");
    let fresh = ClipCache::new(dir.path().join("cache")).expect("cache");
    let (c, hit_c) = fresh.get_or_decode(&copy, &r).expect("decodes");
    assert!(!hit_c);
    assert_ne!(c, a);
}

/// Video from 3 s into the stream (MPEG-TS adds its own delay too), turning white at 1.0 s; the
/// audio starts 0.5 s after the video and its tone at 1.0 s; one keyframe for the whole file, so
/// a seek lands well before its target.
fn offset_ts() -> std::path::PathBuf {
    make_with(
        "offset.ts",
        &[
            "-f",
            "lavfi",
            "-i",
            "color=c=black:size=32x32:rate=25:duration=2.5",
            "-itsoffset",
            "0.5",
            "-f",
            "lavfi",
            "-i",
            "aevalsrc='if(gte(t\\,0.5)\\,0.5*sin(2*PI*800*t)\\,0)':s=16000:d=2",
            "-c:v",
            "libx264",
            "-g",
            "250",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-output_ts_offset",
            "3",
        ],
    )
}

fn onset(samples: &[f32]) -> Option<f64> {
    samples
        .iter()
        .position(|v| v.abs() > 0.1)
        .map(|i| i as f64 / 16000.0)
}

fn read_secs(r: &mut AudioReader, secs: f64) -> Vec<f32> {
    let want = (secs * 16000.0) as usize;
    let mut v = Vec::new();
    while v.len() < want {
        match r.next_chunk().expect("decodes") {
            Some(c) => v.extend_from_slice(&c),
            None => break,
        }
    }
    v.truncate(want);
    v
}

#[test]
fn the_audio_reader_counts_from_the_first_frame_and_lands_seeks_on_their_target() {
    let p = offset_ts();
    let origin = video_origin_secs(&p).expect("video");
    assert!(origin > 3.0, "the stream starts late: {origin}");
    let mut r = AudioReader::open_aligned(&p, 16000, 1, origin)
        .expect("opens")
        .expect("has audio");
    let all = read_secs(&mut r, 2.5);
    let t = onset(&all).expect("tone");
    assert!(
        (t - 1.0).abs() <= 0.01,
        "aligned: silence until the audio starts, the tone at 1.0 s: {t:.3}"
    );
    assert!(
        all[..(0.4 * 16000.0) as usize].iter().all(|&v| v == 0.0),
        "before the audio starts: silence"
    );
    // Each seek: the first sample out is the one at the target, wherever the demuxer landed
    // (the only keyframe is at 0) and whatever the stream's start offset.
    for (target, tone_in) in [(0.7, 0.3), (0.2, 0.8), (1.4, 0.0), (0.95, 0.05)] {
        r.seek(target).expect("seeks");
        let got = read_secs(&mut r, 1.0);
        let t = onset(&got).expect("tone after the seek");
        assert!(
            (t - tone_in).abs() <= 0.01,
            "after seeking to {target} s the tone comes {t:.3} s in, not {tone_in}"
        );
        assert_eq!(
            got.len(),
            16000,
            "a full second follows the seek to {target}"
        );
    }
    // Without an origin the reader counts from the audio stream's own start, seeks included.
    let mut raw = AudioReader::open(&p, 16000, 1)
        .expect("opens")
        .expect("audio");
    let first = read_secs(&mut raw, 1.0);
    let t0 = onset(&first).expect("tone");
    assert!(
        (t0 - 0.5).abs() <= 0.08,
        "raw: the tone 0.5 s into the audio: {t0:.3}"
    );
    raw.seek(0.3).expect("seeks");
    let t = onset(&read_secs(&mut raw, 1.0)).expect("tone");
    assert!(
        (t - (t0 - 0.3)).abs() <= 0.01,
        "raw seek to 0.3 s: tone {t:.3} s in, expected {:.3}",
        t0 - 0.3
    );
}
