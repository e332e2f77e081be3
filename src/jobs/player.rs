//! Playback: a named feeder thread pushes audio into the output ring (converting to the device's
//! rate and channels, applying volume), and the samples the sink has played are the clock that
//! the canvas follows (audio is the master for A/V sync). Play, pause, seek, loop and volume are
//! commands to the feeder. Without a sound card the silent sink keeps the clock real-time.

use crate::core::AudioBuffer;
use crate::core::audio_trigger::resample_linear;
use crate::media::audio_out::{
    ClockState, FakeSink, SilentSink, device_format, open_device, ring, ring_on,
};
use crate::media::reader::AudioReader;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
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

enum Cmd {
    Play,
    Pause,
    Seek(f64),
}

pub struct Player {
    cmd: Sender<Cmd>,
    clock: Arc<ClockState>,
    duration_secs: f64,
    looping: Arc<AtomicBool>,
    playing: Arc<AtomicBool>,
    volume: Arc<AtomicU32>,
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

    fn seek(&mut self, secs: f64, rate: u32, ch: usize) {
        let frame = (secs.max(0.0) * f64::from(rate)) as usize;
        match self {
            Feed::Buffer { samples, cursor } => *cursor = (frame * ch).min(samples.len()),
            Feed::Silence { total, cursor } => *cursor = (frame * ch).min(*total),
            Feed::File(r, pending) => {
                pending.clear();
                if let Err(e) = r.seek(secs) {
                    tracing::warn!("audio: {e}");
                }
            }
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
            AudioSource::File { path, .. } => match AudioReader::open(&path, rate, ch) {
                Ok(Some(r)) => Feed::File(Box::new(r), std::collections::VecDeque::new()),
                _ => Feed::Silence {
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
                output,
                has_device,
            },
            fake,
        ))
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
    duration: f64,
    ch: usize,
    pushed: u64,
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
                    s.feed.seek(at, rate, s.ch);
                    s.clock.flush_to(at, s.pushed);
                }
                Cmd::Seek(t) => {
                    s.feed.seek(t, rate, s.ch);
                    s.clock.flush_to(t, s.pushed);
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
                    s.feed.seek(0.0, rate, s.ch);
                    v = s.feed.next(chunk, s.ch);
                }
                if v.is_empty() {
                    break;
                }
            }
            let g = f32::from_bits(s.volume.load(Ordering::Relaxed));
            if g != 1.0 {
                v.iter_mut().for_each(|x| *x *= g);
            }
            let (done, _) = s.producer.push_partial_slice(&v);
            s.pushed += done.len() as u64;
        }
    }
}
