//! Test clips made on the fly with Debian's `ffmpeg` CLI (installed by scripts/setup.sh), so no
//! media is committed and every test knows exactly what its input holds.
#![allow(dead_code)] // each test binary uses a different subset

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Fixture clips, made once and kept under cargo's per-target temp folder, so later runs and
/// the other test binaries reuse them. Each sits in a folder named by a hash of the ffmpeg arguments: a
/// changed recipe makes a new file.
pub fn fixtures() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fixtures");
        std::fs::create_dir_all(&d).expect("fixture dir");
        d
    })
}

/// A folder for files a test writes itself (each test binary its own).
pub fn scratch() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("temp dir"))
        .path()
}

/// Runs `ffmpeg` with `args` writing `name`, unless a file from the same arguments exists.
pub fn make(name: &str, args: &[&str]) -> PathBuf {
    use std::hash::{Hash, Hasher};
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    // FNV-1a, not DefaultHasher: the name must be the same in every build.
    struct Fnv(u64);
    impl Hasher for Fnv {
        fn finish(&self) -> u64 {
            self.0
        }
        fn write(&mut self, bytes: &[u8]) {
            for b in bytes {
                self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
            }
        }
    }
    let mut h = Fnv(0xcbf2_9ce4_8422_2325);
    args.hash(&mut h);
    // A folder per recipe keeps the file's own name (tests match on it).
    let dir = fixtures().join(format!("{:016x}", h.finish()));
    std::fs::create_dir_all(&dir).expect("fixture dir");
    let out = dir.join(name);
    if out.exists() {
        return out;
    }
    // Written under a temporary name (same extension, so ffmpeg picks the same container) and
    // renamed, so a test binary running at the same time never reads half a file.
    let part = dir.join(format!("part{}-{name}", std::process::id()));
    let status = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y"])
        .args(args)
        .arg(&part)
        .status()
        .unwrap_or_else(|e| {
            panic!("cannot run ffmpeg ({e}); install it with `bash scripts/setup.sh`")
        });
    assert!(status.success(), "ffmpeg failed making {name}");
    std::fs::rename(&part, &out).expect("fixture in place");
    out
}

/// 2 s of 320×240 test pattern at 25 fps, H.264 + stereo AAC at 44.1 kHz, in MP4.
pub fn mp4_h264_aac() -> PathBuf {
    make(
        "h264_aac.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=320x240:rate=25:duration=2",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=44100:duration=2",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-ac",
            "2",
            "-shortest",
        ],
    )
}

/// 1.5 s at 24 fps, MPEG-4 Part 2 + mono MP3 at 22.05 kHz, in AVI.
pub fn avi_mpeg4() -> PathBuf {
    make(
        "mpeg4_mp3.avi",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=176x144:rate=24:duration=1.5",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=300:sample_rate=22050:duration=1.5",
            "-c:v",
            "mpeg4",
            "-c:a",
            "libmp3lame",
            "-shortest",
        ],
    )
}

/// 30 frames at 29.97 fps, odd-ish size, H.264, no audio.
pub fn mp4_no_audio() -> PathBuf {
    make(
        "ntsc_silent.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=200x150:rate=30000/1001",
            "-frames:v",
            "30",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
        ],
    )
}

/// 20 frames of MPEG-2 in a program stream: the container does not know its frame count.
pub fn mpeg2_ps() -> PathBuf {
    make(
        "mpeg2.mpg",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=160x120:rate=25",
            "-frames:v",
            "20",
            "-c:v",
            "mpeg2video",
            "-an",
            "-f",
            "mpeg",
        ],
    )
}

/// Audio only (no video stream at all).
pub fn audio_only() -> PathBuf {
    make(
        "tone.m4a",
        &[
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:duration=1",
            "-c:a",
            "aac",
        ],
    )
}

/// An H.264 MP4 with its index first (faststart), for truncation tests.
pub fn mp4_faststart() -> PathBuf {
    make(
        "faststart.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=320x240:rate=25:duration=4",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
            "-movflags",
            "+faststart",
        ],
    )
}

/// Writes `bytes` to a scratch file and returns its path.
pub fn write(name: &str, bytes: &[u8]) -> PathBuf {
    let p = scratch().join(name);
    std::fs::write(&p, bytes).expect("write fixture");
    p
}

/// The first `fraction` of `src`'s bytes, as a new fixture.
pub fn truncated(src: &Path, name: &str, fraction: f64) -> PathBuf {
    let bytes = std::fs::read(src).expect("read fixture");
    let keep = (bytes.len() as f64 * fraction) as usize;
    write(name, &bytes[..keep])
}

/// Runs ffmpeg with a full argument list (inputs and filters given by the caller) into `name`.
pub fn make_with(name: &str, args: &[&str]) -> PathBuf {
    make(name, args)
}

/// A training run small enough for any test: 3 SynthMotion classes × 8 clips (12 train, 12
/// test) at 6×32×32, 3 epochs of 3 steps, a checkerboard BadNets patch, ρ = 0.25.
pub const SMALL_EXPERIMENT: &str = r#"
version = 1
name = "small"
seed = 7
epochs = 3
batch_size = 4
[dataset]
synth = { classes = 3, per_class = 8 }
frames = 6
size = 32
[model]
kind = "r2plus1d_tiny"
[optimizer]
lr = 0.001
[augment]
random_crop = true
[attack]
visual = { kind = "badnets", size = 6, margin = 4, checkerboard = { cell = 2, colors = [[0, 0, 0], [255, 255, 255]] } }
temporal = { frames = "all", mode = "static" }
[poison]
target = "MoveLeft"
ratio = 0.25
"#;
