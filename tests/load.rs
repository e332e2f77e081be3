//! The studio's "open video" job: frames stream back from a named worker, then the probe's facts;
//! damaged files keep what decodes and say what is wrong; unreadable ones fail with one line.

mod common;

use common::*;
use triggerlab::jobs::load::{LoadEvent, load_video};
use triggerlab::jobs::no_repaint;
use triggerlab::media::decode::DecodeOptions;

fn collect(path: std::path::PathBuf, opts: DecodeOptions) -> Vec<LoadEvent> {
    let job = load_video(path, opts, no_repaint()).expect("spawn");
    std::iter::from_fn(|| job.recv()).collect()
}

fn frames(events: &[LoadEvent]) -> Vec<&triggerlab::core::Frame> {
    events
        .iter()
        .filter_map(|e| match e {
            LoadEvent::Frame(f) => Some(f),
            _ => None,
        })
        .collect()
}

#[test]
fn streams_every_frame_then_the_facts() {
    let events = collect(mp4_h264_aac(), DecodeOptions::default());
    assert!(matches!(
        events[0],
        LoadEvent::Started {
            width: 320,
            height: 240,
            ..
        }
    ));
    let f = frames(&events);
    assert_eq!(f.len(), 50);
    assert!(f.iter().all(|f| (f.width(), f.height()) == (320, 240)));
    // testsrc changes over time: the first and last frames differ.
    assert_ne!(f[0].rgb(), f[49].rgb());
    assert!(
        events
            .iter()
            .any(|e| matches!(e, LoadEvent::Info(i) if i.frames == 50))
    );
    assert!(matches!(
        events.last(),
        Some(LoadEvent::Finished {
            frames: 50,
            hit_limit: false,
            warning: None
        })
    ));
}

#[test]
fn scales_to_the_limit_and_stops_at_max_frames() {
    let opts = DecodeOptions {
        max_side: 160,
        max_frames: 7,
    };
    let events = collect(mp4_h264_aac(), opts);
    let f = frames(&events);
    assert_eq!(f.len(), 7);
    assert_eq!((f[0].width(), f[0].height()), (160, 120));
    assert!(matches!(
        events.last(),
        Some(LoadEvent::Finished {
            frames: 7,
            hit_limit: true,
            ..
        })
    ));
}

#[test]
fn a_truncated_file_keeps_its_frames_and_warns() {
    let cut = truncated(&mp4_faststart(), "load_cut.mp4", 0.6);
    let events = collect(cut, DecodeOptions::default());
    let n = frames(&events).len();
    assert!(n > 10 && n < 100, "{n} frames survived");
    match events.last() {
        Some(LoadEvent::Finished {
            warning: Some(w), ..
        }) => assert!(w.contains("truncated"), "{w}"),
        other => panic!("expected a warning, got {other:?}"),
    }
}

#[test]
fn an_unreadable_file_fails_with_one_line_naming_it() {
    let events = collect(
        write("load_text.mp4", b"not a video"),
        DecodeOptions::default(),
    );
    assert_eq!(events.len(), 1);
    match &events[0] {
        LoadEvent::Failed(msg) => {
            assert!(
                msg.contains("load_text.mp4") && !msg.contains('\n'),
                "{msg}"
            );
        }
        other => panic!("expected Failed, got {other:?}"),
    }
}
