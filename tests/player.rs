//! Playback against a fake sink: what comes out of the "device" matches the clock (A/V sync
//! rests on this), and seek, pause, loop and volume behave; the trigger's mix stage and monitor
//! switch without a restart; a file's sound is aligned to its first frame; the player can be
//! built on a worker.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use triggerlab::core::AudioBuffer;
use triggerlab::jobs::player::{
    AudioSource, Monitor, Player, SinkChoice, TriggerAudio, start_player,
};
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

/// Plays `frames` frames once the feeder has queued them (so no underrun inserts silence).
fn play(fake: &mut FakeSink, frames: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(frames);
    while out.len() < frames {
        let n = (frames - out.len()).min(10);
        queued(fake, n);
        out.extend_from_slice(fake.advance(n));
    }
    out
}

fn wait_trigger(p: &Player) {
    let t = Instant::now();
    while !p.trigger_ready() {
        assert!(t.elapsed() < Duration::from_secs(10), "trigger never set");
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn the_trigger_mixes_in_at_its_time_and_the_monitor_switches_without_a_restart() {
    let (p, mut fake) = start();
    p.play();
    let mut played = play(&mut fake, 100); // 0.0–0.1 s
    // The trigger adds 1.0 over [0.5, 1.5) s of clip time.
    let delta: Vec<f32> = (0..2000)
        .map(|i| if (500..1500).contains(&i) { 1.0 } else { 0.0 })
        .collect();
    p.set_trigger(Some(TriggerAudio::from_delta(
        AudioBuffer::new(RATE, 1, delta).expect("delta"),
    )));
    wait_trigger(&p);
    played.extend(play(&mut fake, 700)); // to 0.8 s
    for (i, &v) in played.iter().enumerate() {
        let t = i as f64 / f64::from(RATE);
        let want = t / 10.0
            + if (0.5..1.5).contains(&(t + 1e-9)) {
                1.0
            } else {
                0.0
            };
        assert!(
            (f64::from(v) - want).abs() < 1e-6,
            "sample {i} ({t:.3} s): {v}, expected {want}: the delta at its own time, no jump"
        );
    }
    assert!(
        (p.position_secs() - 0.8).abs() < 1e-9,
        "{}",
        p.position_secs()
    );

    // Solo: within the ring's latency only the delta plays (the ring holds 256 samples at this
    // rate, plus the 20-sample chunk being pushed).
    p.set_monitor(Monitor::TriggerOnly);
    assert_eq!(p.monitor(), Monitor::TriggerOnly);
    let solo = play(&mut fake, 400); // 0.8–1.2 s
    let switched = solo
        .iter()
        .position(|&v| v == 1.0)
        .expect("the solo is heard");
    assert!(switched <= 280, "heard after {switched} samples");
    for (k, &v) in solo.iter().enumerate() {
        let t = 0.8 + k as f64 / f64::from(RATE);
        let triggered = t / 10.0 + 1.0;
        if k < switched {
            assert!(
                (f64::from(v) - triggered).abs() < 1e-6,
                "{k}: queued audio plays out"
            );
        } else {
            assert_eq!(v, 1.0, "{k}: the trigger alone");
        }
    }
    // Mute the trigger (clean): the clip continues where the clock is, not from the start.
    p.set_monitor(Monitor::Clean);
    let clean = play(&mut fake, 400); // 1.2–1.6 s
    let back = clean
        .iter()
        .position(|&v| v != 1.0)
        .expect("the clean sound is heard");
    assert!(back <= 280, "heard after {back} samples");
    for (k, &v) in clean.iter().enumerate().skip(back) {
        let t = 1.2 + k as f64 / f64::from(RATE);
        assert!(
            (f64::from(v) - t / 10.0).abs() < 1e-6,
            "{k}: clean at {t:.3} s, got {v}"
        );
    }
    assert!(
        (p.position_secs() - 1.6).abs() < 1e-9,
        "{}",
        p.position_secs()
    );

    // Clearing the trigger while it is heard: the triggered monitor is clean again.
    p.set_monitor(Monitor::Triggered);
    p.set_trigger(None);
    wait_trigger(&p);
    let _ = play(&mut fake, 200); // let the queue turn over
    p.seek(0.6);
    let t = Instant::now();
    loop {
        let out = play(&mut fake, 10);
        if (secs_of(out[0]) - 0.6).abs() < 1e-6 {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "seek never took effect"
        );
    }
}

/// A file whose video starts 3 s into the stream and turns white at 1.0 s; its audio starts
/// 0.5 s after the video and a tone starts at 1.0 s: aligned, sound and picture change together.
fn late_audio_ts() -> std::path::PathBuf {
    common::make_with(
        "late-audio.ts",
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
            "-vf",
            "drawbox=x=0:y=0:w=32:h=32:color=white:t=fill:enable='gte(t\\,1)'",
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

fn onset_secs(samples: &[f32], rate: u32) -> f64 {
    samples.iter().position(|v| v.abs() > 0.1).expect("a tone") as f64 / f64::from(rate)
}

#[test]
fn a_streamed_files_sound_is_aligned_to_its_first_frame_and_mixes_the_trigger() {
    let p = late_audio_ts();
    let (player, fake) = Player::start(
        AudioSource::File {
            path: p,
            duration_secs: 2.5,
        },
        SinkChoice::Fake,
    )
    .expect("starts");
    let mut fake = fake.expect("a fake sink");
    let (rate, ch) = player.output_format();
    assert_eq!(
        (rate, ch),
        (16000, 1),
        "the file's own format on the fake sink"
    );
    player.play();
    let out = play(&mut fake, 24000); // 1.5 s
    let onset = onset_secs(&out, rate);
    assert!(
        (onset - 1.0).abs() <= 0.04 + 0.01,
        "the tone starts with the white frame at 1.0 s, heard at {onset:.3} s"
    );

    // After a seek the sound continues at the target (the reader drops up to it).
    player.seek(0.8);
    let t = Instant::now();
    while player.position_secs() > 0.85 || player.position_secs() < 0.79 {
        let _ = play(&mut fake, 1);
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "seek never took effect"
        );
    }
    let at = player.position_secs();
    let out = play(&mut fake, 8000);
    let onset = at + onset_secs(&out, rate);
    assert!(
        (onset - 1.0).abs() <= 0.05,
        "after seeking to 0.8 s the tone comes at {onset:.3} s"
    );

    // The trigger on a file: solo it and find its onset at its clip time (1.2 s).
    let delta: Vec<f32> = (0..40000)
        .map(|i| if i >= 19200 { 0.25 } else { 0.0 })
        .collect();
    player.set_monitor(Monitor::TriggerOnly);
    player.set_trigger(Some(TriggerAudio::from_delta(
        AudioBuffer::new(16000, 1, delta).expect("delta"),
    )));
    wait_trigger(&player);
    player.seek(1.0);
    let t = Instant::now();
    loop {
        let out = play(&mut fake, 1);
        if (player.position_secs() - 1.0 / 16000.0 - 1.0).abs() < 1e-6 && out[0] == 0.0 {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "seek never took effect"
        );
    }
    let out = play(&mut fake, 8000);
    let first = out
        .iter()
        .position(|&v| v == 0.25)
        .expect("the trigger plays");
    assert_eq!(
        first,
        16000 / 5 - 1,
        "the delta's sample at 1.2 s plays at 1.2 s of the file"
    );
    assert!(
        out[..first].iter().all(|&v| v == 0.0),
        "solo: the file itself is not heard"
    );
}

#[test]
fn the_player_is_built_on_a_worker_and_handed_back_through_a_job() {
    let wakes = Arc::new(AtomicUsize::new(0));
    let w = wakes.clone();
    let job = start_player(
        AudioSource::Buffer(ramp()),
        SinkChoice::Fake,
        Arc::new(move || {
            w.fetch_add(1, Ordering::Relaxed);
        }),
    )
    .expect("spawns");
    assert_eq!(job.name, "player-start");
    let started = job.recv().expect("one event").expect("the player starts");
    assert!(job.recv().is_none(), "then the worker is done");
    assert_eq!(wakes.load(Ordering::Relaxed), 1, "the UI is woken for it");
    let mut fake = started.fake_sink.expect("a fake sink");
    started.player.play();
    let out = play(&mut fake, 50);
    assert!(
        (secs_of(out[49]) - 0.049).abs() < 1e-6,
        "it plays the source"
    );
}
