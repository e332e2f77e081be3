//! Playback: a named feeder thread pushes audio into the output ring (converting to the device's
//! rate and channels, applying volume), and the samples the sink has played are the clock that
//! the canvas follows (audio is the master for A/V sync). Play, pause, seek, loop and volume are
//! commands to the feeder. Without a sound card the silent sink keeps the clock real-time.
//!
//! A mix stage on the feed adds the audio trigger's contribution (a delta: triggered − clean, in
//! clip time) to what plays, at the sample time it belongs to; [`Monitor`] picks clean, triggered
//! or the trigger alone. Swapping either never flushes or seeks, so playback just continues and
//! the change is heard once the ~0.15 s already queued has played.
//!
//! [`start_player`] builds the player on a worker (the FFmpeg open, the device probe and the
//! whole-buffer resample all happen there) and hands it back through a [`Job`].

use super::{Job, Repaint};
use crate::core::AudioBuffer;
use crate::core::audio_trigger::resample_linear;
use crate::media::audio_out::{
    ClockState, FakeSink, SilentSink, device_format, open_device, ring, ring_on,
};
use crate::media::reader::{AudioReader, video_origin_secs};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::time::Duration;

/// Where the sound comes from.
pub enum AudioSource {
    /// A clip's audio, held in memory.
    Buffer(AudioBuffer),
    /// A file, decoded as it plays (long films never sit in memory whole).
    File { path: PathBuf, duration_secs: f64 },
    /// No audio: the clock still runs (a silent source of this length).
    Silence { duration_secs: f64 },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SinkChoice {
    /// The default output device, falling back to the silent sink.
    Device,
    Silent,
    /// A [`FakeSink`] handed back to the caller (tests).
    Fake,
}

/// Audio queued ahead of the device: enough to ride out a busy moment, short enough that
/// pause and seek respond at once (the queue is dropped on both anyway).
const RING_SECS: f64 = 0.15;

/// The audio trigger's contribution to a clip's sound: triggered − clean, interleaved, in clip
/// time from t = 0 (sample 0 is at the clip's first frame). The player converts it to the output
/// format and adds it where it belongs; past its end it adds nothing.
#[derive(Clone, Debug)]
pub struct TriggerAudio {
    delta: AudioBuffer,
}

impl TriggerAudio {
    /// A delta signal as it is (its own rate and channel count).
    pub fn from_delta(delta: AudioBuffer) -> TriggerAudio {
        TriggerAudio { delta }
    }

    /// `triggered − clean`, sample by sample (a missing tail counts as silence). Both must have
    /// the same rate and channel count, as `core::attack::apply_clip` keeps them.
    pub fn from_clean_and_triggered(
        clean: &AudioBuffer,
        triggered: &AudioBuffer,
    ) -> Result<TriggerAudio, String> {
        if (clean.sample_rate_hz(), clean.channels())
            != (triggered.sample_rate_hz(), triggered.channels())
        {
            return Err(format!(
                "the triggered audio ({} Hz, {} ch) is not in the clean audio's format ({} Hz, {} ch)",
                triggered.sample_rate_hz(),
                triggered.channels(),
                clean.sample_rate_hz(),
                clean.channels()
            ));
        }
        let (c, t) = (clean.samples(), triggered.samples());
        let delta = (0..c.len().max(t.len()))
            .map(|i| t.get(i).copied().unwrap_or(0.0) - c.get(i).copied().unwrap_or(0.0))
            .collect();
        AudioBuffer::new(clean.sample_rate_hz(), clean.channels(), delta)
            .map(TriggerAudio::from_delta)
            .map_err(|e| format!("trigger audio: {e}"))
    }

    pub fn delta(&self) -> &AudioBuffer {
        &self.delta
    }
}

/// What the mix stage lets through: A/B between clean and triggered sound, or the trigger solo.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum Monitor {
    /// The clip's own sound (the trigger muted).
    Clean = 0,
    /// The clip with the trigger mixed in (the same as clean while no trigger is set).
    #[default]
    Triggered = 1,
    /// The trigger alone ("solo").
    TriggerOnly = 2,
}

impl Monitor {
    fn from_u8(v: u8) -> Monitor {
        match v {
            0 => Monitor::Clean,
            2 => Monitor::TriggerOnly,
            _ => Monitor::Triggered,
        }
    }
}

enum Cmd {
    Play,
    Pause,
    Seek(f64),
    /// A trigger delta already in the output format, tagged with its `set_trigger` generation.
    Trigger(u64, Option<Arc<[f32]>>),
}

pub struct Player {
    cmd: Sender<Cmd>,
    clock: Arc<ClockState>,
    duration_secs: f64,
    looping: Arc<AtomicBool>,
    playing: Arc<AtomicBool>,
    volume: Arc<AtomicU32>,
    monitor: Arc<AtomicU8>,
    /// Bumped by every `set_trigger`; the feeder takes only the latest conversion.
    trigger_gen: Arc<AtomicU64>,
    /// The `set_trigger` generation the feeder mixes now.
    trigger_applied: Arc<AtomicU64>,
    /// What plays the sound: a device name, or why there is none.
    pub output: String,
    pub has_device: bool,
}

/// Maps interleaved `src` (rate, channels) to the output format (linear resampling; mono is
/// copied to every channel, more channels are averaged down).
fn convert(src: &AudioBuffer, rate: u32, ch: u16) -> Vec<f32> {
    let sch = usize::from(src.channels());
    let dch = usize::from(ch);
    let planes: Vec<Vec<f32>> = (0..sch)
        .map(|c| {
            let p: Vec<f32> = src.samples().iter().skip(c).step_by(sch).copied().collect();
            resample_linear(&p, src.sample_rate_hz(), rate)
        })
        .collect();
    let n = planes.first().map_or(0, Vec::len);
    let mut out = Vec::with_capacity(n * dch);
    for i in 0..n {
        for c in 0..dch {
            out.push(if sch == dch {
                planes[c][i]
            } else if sch == 1 {
                planes[0][i]
            } else {
                planes.iter().map(|p| p[i]).sum::<f32>() / sch as f32
            });
        }
    }
    out
}

enum Feed {
    Buffer { samples: Vec<f32>, cursor: usize },
    File(Box<AudioReader>, std::collections::VecDeque<f32>),
    Silence { total: usize, cursor: usize },
}

impl Feed {
    /// Up to `max` interleaved samples; empty at the end.
    fn next(&mut self, max: usize, ch: usize) -> Vec<f32> {
        match self {
            Feed::Buffer { samples, cursor } => {
                let end = (*cursor + max).min(samples.len());
                let v = samples[*cursor..end].to_vec();
                *cursor = end;
                v
            }
            Feed::Silence { total, cursor } => {
                let n = max.min(*total - *cursor) / ch * ch;
                *cursor += n;
                vec![0.0; n]
            }
            Feed::File(r, pending) => {
                while pending.len() < max {
                    match r.next_chunk() {
                        Ok(Some(c)) => pending.extend(c),
                        Ok(None) => break,
                        Err(e) => {
                            tracing::warn!("audio: {e}");
                            break;
                        }
                    }
                }
                let n = max.min(pending.len());
                pending.drain(..n).collect()
            }
        }
    }

    /// Continues from `secs` of clip time; returns the interleaved sample index it continues at.
    fn seek(&mut self, secs: f64, rate: u32, ch: usize) -> u64 {
        let frame = (secs.max(0.0) * f64::from(rate)) as usize;
        match self {
            Feed::Buffer { samples, cursor } => *cursor = (frame * ch).min(samples.len()),
            Feed::Silence { total, cursor } => *cursor = (frame * ch).min(*total),
            Feed::File(r, pending) => {
                pending.clear();
                // The reader lands exactly on `secs` (it drops or pads to it), so the mix
                // stage's sample index stays true.
                if let Err(e) = r.seek(frame as f64 / f64::from(rate)) {
                    tracing::warn!("audio: {e}");
                }
            }
        }
        (frame * ch) as u64
    }
}

/// Opens a file's audio so that its sample 0 is at the first video frame's time, as
/// `media::decode` aligns a whole clip (an audio-only file starts at its first sample).
fn open_file_audio(path: &std::path::Path, rate: u32, ch: u16) -> Option<AudioReader> {
    let reader = match video_origin_secs(path) {
        Ok(origin) => AudioReader::open_aligned(path, rate, ch, origin),
        Err(_) => AudioReader::open(path, rate, ch),
    };
    match reader {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!("audio: {e}; playing silence");
            None
        }
    }
}

impl Player {
    /// Starts playback (paused) of `source` on `sink`.
    pub fn start(
        source: AudioSource,
        sink: SinkChoice,
    ) -> std::io::Result<(Player, Option<FakeSink>)> {
        let (src_rate, src_ch, duration) = match &source {
            AudioSource::Buffer(b) => (b.sample_rate_hz(), b.channels(), b.duration().to_f64()),
            AudioSource::File {
                path,
                duration_secs,
            } => {
                let f = crate::media::probe::probe_audio(path)
                    .ok()
                    .flatten()
                    .unwrap_or((48000, 2));
                (f.0, f.1, *duration_secs)
            }
            AudioSource::Silence { duration_secs } => (48000, 2, *duration_secs),
        };
        // The device decides the format; without one the source's own format is used.
        let (format, device_err) = match sink {
            SinkChoice::Device => match device_format() {
                Ok(f) => (f, None),
                Err(e) => ((src_rate, src_ch), Some(e)),
            },
            _ => ((src_rate, src_ch), None),
        };
        let (rate, ch) = format;
        let feed = match source {
            AudioSource::Buffer(b) => Feed::Buffer {
                samples: convert(&b, rate, ch),
                cursor: 0,
            },
            AudioSource::File { path, .. } => match open_file_audio(&path, rate, ch) {
                Some(r) => Feed::File(Box::new(r), std::collections::VecDeque::new()),
                None => Feed::Silence {
                    total: (duration * f64::from(rate)) as usize * usize::from(ch),
                    cursor: 0,
                },
            },
            AudioSource::Silence { .. } => Feed::Silence {
                total: (duration * f64::from(rate)) as usize * usize::from(ch),
                cursor: 0,
            },
        };
        let (producer, side, clock) = ring(rate, ch, RING_SECS);
        let (tx, rx) = channel();
        let looping = Arc::new(AtomicBool::new(true));
        let playing = Arc::new(AtomicBool::new(false));
        let volume = Arc::new(AtomicU32::new(1f32.to_bits()));
        let monitor = Arc::new(AtomicU8::new(Monitor::default() as u8));
        let trigger_applied = Arc::new(AtomicU64::new(0));
        let mut fake = None;
        let mut sink_side = Some(side);
        let (output, has_device) = match (sink, device_err) {
            (SinkChoice::Fake, _) => {
                fake = sink_side.take().map(FakeSink::new);
                ("fake sink (tests)".to_string(), false)
            }
            (SinkChoice::Device, None) => ("default output device".to_string(), true),
            (SinkChoice::Device, Some(e)) => (format!("no audio device ({e})"), false),
            (SinkChoice::Silent, _) => ("silent clock".to_string(), false),
        };
        let use_device = has_device;
        let mut state = FeederState {
            rx,
            producer,
            clock: clock.clone(),
            feed,
            looping: looping.clone(),
            playing: playing.clone(),
            volume: volume.clone(),
            monitor: monitor.clone(),
            delta: None,
            delta_gen: trigger_applied.clone(),
            feed_pos: 0,
            duration,
            ch: usize::from(ch),
            pushed: 0,
        };
        crate::jobs::spawn_named("audio-feed", move || {
            // The device stream (or the silent sink) lives on this thread.
            let mut _device = None;
            let mut _silent = None;
            if let Some(side) = sink_side {
                if use_device {
                    match open_device(side) {
                        Ok((stream, _)) => _device = Some(stream),
                        Err(e) => {
                            tracing::warn!("audio device: {e}; playing silently");
                            let (p, side) = ring_on(state.clock.clone(), RING_SECS);
                            state.producer = p;
                            _silent = SilentSink::start(side).ok();
                        }
                    }
                } else {
                    _silent = SilentSink::start(side).ok();
                }
            }
            feeder(state);
        })?;
        Ok((
            Player {
                cmd: tx,
                clock,
                duration_secs: duration,
                looping,
                playing,
                volume,
                monitor,
                trigger_gen: Arc::new(AtomicU64::new(0)),
                trigger_applied,
                output,
                has_device,
            },
            fake,
        ))
    }

    /// Sets (or clears) the audio trigger mixed into playback. Playback is not restarted or
    /// sought: the delta is converted to the output format on a worker, then the feeder adds it
    /// from the next chunk it queues. Of several quick calls, the last one wins.
    pub fn set_trigger(&self, trigger: Option<TriggerAudio>) {
        let generation = self.trigger_gen.fetch_add(1, Ordering::AcqRel) + 1;
        let Some(t) = trigger else {
            let _ = self.cmd.send(Cmd::Trigger(generation, None));
            return;
        };
        let (rate, ch) = (self.clock.sample_rate_hz, self.clock.channels);
        let tx = self.cmd.clone();
        let latest = self.trigger_gen.clone();
        let work = move || {
            // A newer trigger came while this one waited: skip the conversion.
            if latest.load(Ordering::Acquire) == generation {
                let samples: Arc<[f32]> = convert(t.delta(), rate, ch).into();
                let _ = tx.send(Cmd::Trigger(generation, Some(samples)));
            }
        };
        // The whole-delta resample stays off the caller's (UI) thread.
        if let Err(e) = super::spawn_named("audio-trigger-convert", work) {
            tracing::warn!("audio trigger not set: no worker thread ({e})");
        }
    }

    /// True once the feeder mixes the trigger of the latest [`Self::set_trigger`] (conversion
    /// takes a moment); what it queues from then on carries it.
    pub fn trigger_ready(&self) -> bool {
        self.trigger_applied.load(Ordering::Acquire) == self.trigger_gen.load(Ordering::Acquire)
    }

    /// Chooses clean, triggered or trigger-only sound; heard within the ring's latency, with no
    /// restart.
    pub fn set_monitor(&self, monitor: Monitor) {
        self.monitor.store(monitor as u8, Ordering::Relaxed);
    }

    pub fn monitor(&self) -> Monitor {
        Monitor::from_u8(self.monitor.load(Ordering::Relaxed))
    }

    /// The output format the feed is converted to: (sample rate in Hz, channels).
    pub fn output_format(&self) -> (u32, u16) {
        (self.clock.sample_rate_hz, self.clock.channels)
    }

    pub fn play(&self) {
        let _ = self.cmd.send(Cmd::Play); // the feeder is gone only after the player
    }

    pub fn pause(&self) {
        let _ = self.cmd.send(Cmd::Pause);
    }

    pub fn seek(&self, secs: f64) {
        let _ = self
            .cmd
            .send(Cmd::Seek(secs.clamp(0.0, self.duration_secs.max(0.0))));
    }

    pub fn set_looping(&self, on: bool) {
        self.looping.store(on, Ordering::Relaxed);
    }

    pub fn set_volume(&self, v: f32) {
        self.volume
            .store(v.clamp(0.0, 2.0).to_bits(), Ordering::Relaxed);
    }

    pub fn volume(&self) -> f32 {
        f32::from_bits(self.volume.load(Ordering::Relaxed))
    }

    pub fn is_playing(&self) -> bool {
        self.playing.load(Ordering::Relaxed)
    }

    pub fn is_looping(&self) -> bool {
        self.looping.load(Ordering::Relaxed)
    }

    pub fn duration_secs(&self) -> f64 {
        self.duration_secs
    }

    /// The playback position: the master clock.
    pub fn position_secs(&self) -> f64 {
        let p = self.clock.position_secs();
        if self.duration_secs <= 0.0 {
            0.0
        } else if self.is_looping() {
            p % self.duration_secs
        } else {
            p.min(self.duration_secs)
        }
    }
}

struct FeederState {
    rx: Receiver<Cmd>,
    producer: rtrb::Producer<f32>,
    clock: Arc<ClockState>,
    feed: Feed,
    looping: Arc<AtomicBool>,
    playing: Arc<AtomicBool>,
    volume: Arc<AtomicU32>,
    monitor: Arc<AtomicU8>,
    /// The trigger's delta in the output format, indexed like the feed (interleaved samples from
    /// clip time 0).
    delta: Option<Arc<[f32]>>,
    /// The `set_trigger` generation of `delta` (read by [`Player::trigger_ready`]).
    delta_gen: Arc<AtomicU64>,
    /// Interleaved sample index (clip time) of the next sample the feed gives.
    feed_pos: u64,
    duration: f64,
    ch: usize,
    pushed: u64,
}

/// The mix stage: `v` holds the clean samples starting at interleaved index `start` of clip time.
fn mix(v: &mut [f32], start: u64, delta: Option<&[f32]>, monitor: Monitor) {
    let d = |i: usize| {
        delta
            .and_then(|d| usize::try_from(start).ok().and_then(|s| d.get(s + i)))
            .copied()
            .unwrap_or(0.0)
    };
    match monitor {
        Monitor::Clean => {}
        Monitor::Triggered => {
            if delta.is_some() {
                v.iter_mut().enumerate().for_each(|(i, x)| *x += d(i));
            }
        }
        Monitor::TriggerOnly => v.iter_mut().enumerate().for_each(|(i, x)| *x = d(i)),
    }
}

fn feeder(mut s: FeederState) {
    let rate = s.clock.sample_rate_hz;
    let chunk = (rate as usize / 50).max(1) * s.ch; // 20 ms
    let wrapped = |clock: &ClockState, dur: f64, looping: bool| {
        let p = clock.position_secs();
        if dur > 0.0 && looping {
            p % dur
        } else {
            p.min(dur)
        }
    };
    loop {
        // Paused, nothing needs feeding: sleep until a command instead of waking to check.
        let first = if s.playing.load(Ordering::Relaxed) {
            match s.rx.recv_timeout(Duration::from_millis(5)) {
                Ok(c) => Some(c),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => return,
            }
        } else {
            match s.rx.recv() {
                Ok(c) => Some(c),
                Err(_) => return,
            }
        };
        for cmd in first
            .into_iter()
            .chain(std::iter::from_fn(|| s.rx.try_recv().ok()))
        {
            match cmd {
                Cmd::Play => s.playing.store(true, Ordering::Relaxed),
                Cmd::Pause => {
                    s.playing.store(false, Ordering::Relaxed);
                    // What is queued has not been heard: continue later from what has.
                    let at = wrapped(&s.clock, s.duration, s.looping.load(Ordering::Relaxed));
                    s.feed_pos = s.feed.seek(at, rate, s.ch);
                    s.clock.flush_to(at, s.pushed);
                }
                Cmd::Seek(t) => {
                    s.feed_pos = s.feed.seek(t, rate, s.ch);
                    s.clock.flush_to(t, s.pushed);
                }
                // Nothing is flushed: what is queued plays out, the new mix follows it.
                Cmd::Trigger(generation, delta) => {
                    if generation > s.delta_gen.load(Ordering::Relaxed) {
                        s.delta = delta;
                        s.delta_gen.store(generation, Ordering::Release);
                    }
                }
            }
        }
        if !s.playing.load(Ordering::Relaxed) {
            continue;
        }
        while s.producer.slots() >= chunk {
            let mut v = s.feed.next(chunk, s.ch);
            if v.is_empty() {
                if s.looping.load(Ordering::Relaxed) && s.duration > 0.0 {
                    s.feed_pos = s.feed.seek(0.0, rate, s.ch);
                    v = s.feed.next(chunk, s.ch);
                }
                if v.is_empty() {
                    break;
                }
            }
            let start = s.feed_pos;
            s.feed_pos += v.len() as u64;
            let monitor = Monitor::from_u8(s.monitor.load(Ordering::Relaxed));
            mix(&mut v, start, s.delta.as_deref(), monitor);
            let g = f32::from_bits(s.volume.load(Ordering::Relaxed));
            if g != 1.0 {
                v.iter_mut().for_each(|x| *x *= g);
            }
            let (done, _) = s.producer.push_partial_slice(&v);
            s.pushed += done.len() as u64;
        }
    }
}

/// A player built on a worker, with the fake sink when [`SinkChoice::Fake`] was asked for.
pub struct StartedPlayer {
    pub player: Player,
    pub fake_sink: Option<FakeSink>,
}

/// Builds the player on a named worker thread (`player-start`): probing the file, asking the
/// host for its output device and converting a whole buffer to the device's format can take a
/// while, and the UI thread must not wait. The job sends one event, the player or why it could
/// not start; `repaint` wakes the UI when it is there. Dropping the job before then drops the
/// new player too (its feeder thread ends).
pub fn start_player(
    source: AudioSource,
    sink: SinkChoice,
    repaint: Repaint,
) -> std::io::Result<Job<Result<StartedPlayer, String>>> {
    super::start("player-start", 1, repaint, move |tx| {
        let started = Player::start(source, sink)
            .map(|(player, fake_sink)| StartedPlayer { player, fake_sink })
            .map_err(|e| format!("cannot start playback: {e}"));
        tx.send(started);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mix_stage_adds_solos_or_mutes_the_delta_at_its_sample_time() {
        let delta: Vec<f32> = (0..10).map(|i| i as f32).collect();
        let clean = [0.5f32; 4];
        let run = |monitor, start| {
            let mut v = clean;
            mix(&mut v, start, Some(&delta), monitor);
            v
        };
        assert_eq!(run(Monitor::Triggered, 3), [3.5, 4.5, 5.5, 6.5]);
        assert_eq!(run(Monitor::TriggerOnly, 3), [3.0, 4.0, 5.0, 6.0]);
        assert_eq!(run(Monitor::Clean, 3), clean);
        assert_eq!(
            run(Monitor::Triggered, 8),
            [8.5, 9.5, 0.5, 0.5],
            "past the delta's end nothing is added"
        );
        let mut v = clean;
        mix(&mut v, 0, None, Monitor::TriggerOnly);
        assert_eq!(v, [0.0; 4], "solo with no trigger is silence");
    }

    #[test]
    fn the_delta_is_triggered_minus_clean() {
        let clean = AudioBuffer::new(10, 1, vec![0.1, 0.2, 0.3]).expect("audio");
        let trig = AudioBuffer::new(10, 1, vec![0.1, 0.7, 0.3, 0.4]).expect("audio");
        let t = TriggerAudio::from_clean_and_triggered(&clean, &trig).expect("same format");
        let d = t.delta().samples();
        assert_eq!(d.len(), 4);
        assert!((d[1] - 0.5).abs() < 1e-6 && d[0] == 0.0 && (d[3] - 0.4).abs() < 1e-6);
        let stereo = AudioBuffer::new(10, 2, vec![0.0; 4]).expect("audio");
        let e = TriggerAudio::from_clean_and_triggered(&clean, &stereo).expect_err("formats");
        assert!(e.contains("2 ch"), "{e}");
    }
}
