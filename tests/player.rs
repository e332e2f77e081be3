//! Playback against a fake sink: what comes out of the "device" matches the clock (A/V sync
//! rests on this), and seek, pause, loop and volume behave.

use std::time::{Duration, Instant};
use triggerlab::core::AudioBuffer;
use triggerlab::jobs::player::{AudioSource, Player, SinkChoice};
use triggerlab::media::audio_out::FakeSink;

const RATE: u32 = 1000;

/// 2 s of mono audio whose value encodes its own time: sample i = i / 10000.
fn ramp() -> AudioBuffer {
    AudioBuffer::new(RATE, 1, (0..2000).map(|i| i as f32 / 10_000.0).collect()).expect("audio")
}

fn start() -> (Player, FakeSink) {
    let (p, fake) = Player::start(AudioSource::Buffer(ramp()), SinkChoice::Fake).expect("starts");
    (p, fake.expect("a fake sink"))
}

/// Waits for the feeder to queue at least `n` samples.
fn queued(fake: &FakeSink, n: usize) {
    let t = Instant::now();
    while fake.queued() < n {
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "the feeder never queued {n} samples"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// The time encoded in a played sample.
fn secs_of(v: f32) -> f64 {
    f64::from(v) * 10.0
}

#[test]
fn the_clock_is_what_was_played() {
    let (p, mut fake) = start();
    assert!(!p.is_playing());
    p.play();
    queued(&fake, 100);
    let out = fake.advance(100).to_vec();
    assert!((secs_of(out[0]) - 0.0).abs() < 1e-6 && (secs_of(out[99]) - 0.099).abs() < 1e-6);
    assert!(
        (p.position_secs() - 0.1).abs() < 1e-9,
        "{}",
        p.position_secs()
    );
    queued(&fake, 150);
    let out = fake.advance(150).to_vec();
    // The sample playing at the clock's time is the one the canvas shows a frame for.
    assert!((secs_of(out[149]) + 0.001 - p.position_secs()).abs() < 1e-6);
}

#[test]
fn seek_pause_and_play() {
    let (p, mut fake) = start();
    p.play();
    queued(&fake, 50);
    fake.advance(50);
    p.seek(1.5);
    // After the seek is applied, the first sample out is the one at 1.5 s.
    let t = Instant::now();
    loop {
        queued(&fake, 10);
        let out = fake.advance(10).to_vec();
        if (secs_of(out[0]) - 1.5).abs() < 1e-6 {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "seek never took effect"
        );
    }
    assert!(
        (p.position_secs() - 1.51).abs() < 1e-9,
        "{}",
        p.position_secs()
    );
    p.pause();
    std::thread::sleep(Duration::from_millis(40));
    let before = p.position_secs();
    assert!(
        fake.advance(100).iter().all(|&v| v == 0.0),
        "paused: silence"
    );
    assert_eq!(p.position_secs(), before, "paused: the clock stops");
    p.play();
    queued(&fake, 10);
    let out = fake.advance(10).to_vec();
    assert!(
        (secs_of(out[0]) - before).abs() < 1e-6,
        "resumes where it paused: {} vs {before}",
        secs_of(out[0])
    );
}

#[test]
fn loop_volume_and_end() {
    let (p, mut fake) = start();
    p.set_volume(0.5);
    p.seek(1.9);
    p.play();
    queued(&fake, 200);
    let out = fake.advance(200).to_vec();
    assert!(
        (secs_of(out[0]) - 0.95).abs() < 1e-6,
        "half volume: {}",
        secs_of(out[0])
    );
    assert!((secs_of(out[100]) - 0.0).abs() < 1e-6, "loops to the start");
    assert!(
        (p.position_secs() - 0.1).abs() < 1e-6,
        "{}",
        p.position_secs()
    );

    p.set_looping(false);
    p.set_volume(1.0);
    p.seek(1.95);
    let t = Instant::now();
    loop {
        queued(&fake, 1);
        if (secs_of(fake.advance(1)[0]) - 1.95).abs() < 1e-6 {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "seek never took effect"
        );
    }
    std::thread::sleep(Duration::from_millis(40));
    let out = fake.advance(100).to_vec();
    assert!(
        out[..49].iter().all(|&v| v > 0.19) && out[49..].iter().all(|&v| v == 0.0),
        "stops at the end"
    );
    assert!(
        (p.position_secs() - 2.0).abs() < 1e-9,
        "{}",
        p.position_secs()
    );
}

#[test]
fn without_a_sound_card_the_silent_clock_runs_in_real_time() {
    let (p, none) = Player::start(AudioSource::Buffer(ramp()), SinkChoice::Silent).expect("starts");
    assert!(none.is_none());
    p.play();
    let t = Instant::now();
    std::thread::sleep(Duration::from_millis(300));
    let (pos, wall) = (p.position_secs(), t.elapsed().as_secs_f64());
    assert!(
        pos > 0.15 && pos <= wall + 0.02,
        "clock {pos} s after {wall} s"
    );
}
