//! The studio's media jobs: files stream frames from a named worker (bounded, seekable), probes
//! run beside them, damaged files say what is wrong, unreadable ones fail with one line.

mod common;

use common::*;
use triggerlab::core::Rational;
use triggerlab::jobs::load::probe_file;
use triggerlab::jobs::no_repaint;
use triggerlab::jobs::stream::{QUEUE_FRAMES, StreamEvent, open_stream};
use triggerlab::media::reader::SizeMode;

/// Every event until the end (or a failure) of epoch 0.
fn drain(path: std::path::PathBuf, size: SizeMode) -> Vec<StreamEvent> {
    let s = open_stream(path, size, no_repaint()).expect("spawn");
    let mut out = Vec::new();
    while let Some(ev) = s.job.recv() {
        let last = matches!(ev, StreamEvent::End { .. } | StreamEvent::Failed(_));
        out.push(ev);
        if last {
            break;
        }
    }
    out
}

fn frames(events: &[StreamEvent]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, StreamEvent::Frame { .. }))
        .count()
}

#[test]
fn streams_every_frame_scaled_within_a_size() {
    let events = drain(mp4_h264_aac(), SizeMode::Within { max_side: 64 });
    assert!(
        matches!(
            events[0],
            StreamEvent::Opened {
                width: 64,
                height: 48,
                ..
            }
        ),
        "{:?}",
        events[0]
    );
    assert_eq!(frames(&events), 50);
    assert!(matches!(events.last(), Some(StreamEvent::End { epoch: 0 })));
    let times: Vec<f64> = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::Frame { time, .. } => Some(time.to_f64()),
            _ => None,
        })
        .collect();
    assert!(times.windows(2).all(|w| (w[1] - w[0] - 0.04).abs() < 1e-9));
}

#[test]
fn a_truncated_file_plays_what_survives_and_the_probe_says_why() {
    let cut = truncated(&mp4_faststart(), "load_cut.mp4", 0.6);
    let n = frames(&drain(cut.clone(), SizeMode::Native));
    assert!(n > 10 && n < 100, "{n} frames survived");
    let probe = probe_file(cut, no_repaint())
        .expect("spawn")
        .recv()
        .expect("result");
    let err = probe.expect_err("truncated");
    assert!(err.contains("truncated"), "{err}");
}

#[test]
fn an_unreadable_file_fails_with_one_line_naming_it() {
    let events = drain(write("load_text.mp4", b"not a video"), SizeMode::Native);
    assert_eq!(events.len(), 1);
    match &events[0] {
        StreamEvent::Failed(msg) => assert!(
            msg.contains("load_text.mp4") && !msg.contains('\n'),
            "{msg}"
        ),
        other => panic!("expected Failed, got {other:?}"),
    }
}

#[test]
fn a_stream_runs_only_a_few_frames_ahead_and_seeks() {
    let mut s = open_stream(
        mp4_faststart(),
        SizeMode::Fit {
            width: 64,
            height: 64,
        },
        no_repaint(),
    )
    .expect("spawn");
    assert!(matches!(
        s.job.recv(),
        Some(StreamEvent::Opened {
            width: 64,
            height: 64,
            ..
        })
    ));
    // Nobody is taking frames: the decoder fills the queue and waits there, however long the
    // file (100 frames here).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while s.job.queued() < QUEUE_FRAMES {
        assert!(
            std::time::Instant::now() < deadline,
            "the queue never filled"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(
        s.job.queued(),
        QUEUE_FRAMES,
        "it stays a queue's length ahead"
    );
    for _ in 0..10 {
        assert!(matches!(
            s.job.recv(),
            Some(StreamEvent::Frame { epoch: 0, .. })
        ));
    }
    let e = s.seek(Rational::from_int(3));
    let first_new = std::iter::from_fn(|| s.job.recv())
        .find_map(|ev| match ev {
            StreamEvent::Frame { epoch, time, .. } if epoch == e => Some(time),
            StreamEvent::Frame { .. } => None,
            other => panic!("unexpected {other:?}"),
        })
        .expect("a frame after the seek");
    assert_eq!(first_new, Rational::from_int(3));
    let rest = std::iter::from_fn(|| s.job.recv())
        .take_while(|ev| !matches!(ev, StreamEvent::End { .. }))
        .count();
    assert_eq!(rest, 24, "frames 3.04 s … 3.96 s");
    // At the end it waits for a seek instead of exiting: seeking again restarts it.
    let e2 = s.seek(Rational::ZERO);
    assert!(matches!(s.job.recv(), Some(StreamEvent::Frame { epoch, .. }) if epoch == e2));
}
