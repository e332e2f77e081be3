//! Streaming memory stays flat: reading a long file must not keep what it has read.
//! (Regression: reusing one FFmpeg packet across reads leaked every compressed frame.)
//! Alone in its own test binary, so other tests' allocations do not blur the figure.

mod common;

use triggerlab::media::reader::{SizeMode, VideoReader};

fn rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("VmRSS:")
                .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

#[test]
fn reading_a_long_file_does_not_grow_memory() {
    // Noise compresses badly: ~40 KB packets, so a per-packet leak would show as tens of MB.
    let p = common::make_with(
        "noise.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "nullsrc=size=320x240:rate=25,geq=random(1)*255:128:128",
            "-frames:v",
            "600",
            "-c:v",
            "libx264",
            "-crf",
            "8",
            "-pix_fmt",
            "yuv420p",
        ],
    );
    let bytes = std::fs::metadata(&p).expect("meta").len();
    assert!(
        bytes > 10_000_000,
        "the fixture should carry big packets ({bytes} bytes)"
    );
    let mut r = VideoReader::open(
        &p,
        SizeMode::Stretch {
            width: 112,
            height: 112,
        },
    )
    .expect("opens");
    for _ in 0..100 {
        r.next_frame().expect("decodes").expect("a frame");
    }
    let before = rss_kb();
    let mut n = 100;
    while r.next_frame().expect("decodes").is_some() {
        n += 1;
    }
    let grown_mb = (rss_kb().saturating_sub(before)) as f64 / 1024.0;
    assert_eq!(n, 600);
    let read_mb = bytes as f64 * 500.0 / 600.0 / 1e6;
    assert!(
        grown_mb < 4.0,
        "memory grew {grown_mb:.1} MB while reading {read_mb:.0} MB of packets"
    );
}
