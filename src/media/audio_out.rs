//! Sound output. The device callback only pops samples from a lock-free SPSC ring buffer (rtrb)
//! and writes silence on underrun: no locks, no allocation. The samples it has actually played are
//! the playback clock, which the studio uses as the master clock for A/V sync.
//!
//! Three sinks share that consumer: a cpal device, a silent sink that consumes in real time when
//! there is no sound card (CI, these machines), and a fake sink that tests advance by hand.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The default output device, or why there is none.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AudioOutputStatus {
    Available {
        device: String,
        sample_rate_hz: u32,
        channels: u16,
    },
    Unavailable {
        reason: String,
    },
}

impl std::fmt::Display for AudioOutputStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AudioOutputStatus::Available {
                device,
                sample_rate_hz,
                channels,
            } => write!(f, "{device} ({sample_rate_hz} Hz, {channels} ch)"),
            AudioOutputStatus::Unavailable { reason } => write!(f, "no audio device ({reason})"),
        }
    }
}

/// Asks the host for its default output device and that device's default config. Can take a
/// moment (ALSA probes hardware), so callers run it off the UI thread.
pub fn probe_output() -> AudioOutputStatus {
    use cpal::traits::{DeviceTrait, HostTrait};
    if let Some(reason) = no_local_output() {
        tracing::warn!("no audio device: {reason}; playback runs on a silent clock");
        return AudioOutputStatus::Unavailable { reason };
    }
    let host = cpal::default_host();
    let Some(device) = host.default_output_device() else {
        return AudioOutputStatus::Unavailable {
            reason: "the host reports no default output".into(),
        };
    };
    match device.default_output_config() {
        Ok(cfg) => AudioOutputStatus::Available {
            device: device.to_string(),
            sample_rate_hz: cfg.sample_rate(),
            channels: cfg.channels(),
        },
        Err(e) => AudioOutputStatus::Unavailable {
            reason: e.to_string(),
        },
    }
}

/// What the machine shows about sound output before ALSA is asked.
#[derive(Debug, Default)]
struct OutputHints {
    /// `/proc/asound/cards`, if it exists (it does not when no sound driver is loaded).
    cards: Option<String>,
    /// A PulseAudio or PipeWire server is reachable (ALSA's default may route to it).
    sound_server: bool,
    /// An ALSA configuration of the user's or the system's may define another default.
    alsa_config: bool,
}

impl OutputHints {
    fn read() -> Self {
        use std::path::PathBuf;
        let runtime = std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from);
        let socket = |name: &str| runtime.as_ref().is_some_and(|r| r.join(name).exists());
        let home_rc = std::env::var_os("HOME")
            .map(|h| PathBuf::from(h).join(".asoundrc"))
            .is_some_and(|p| p.exists());
        OutputHints {
            cards: std::fs::read_to_string("/proc/asound/cards").ok(),
            sound_server: std::env::var_os("PULSE_SERVER").is_some()
                || socket("pulse/native")
                || socket("pipewire-0"),
            alsa_config: home_rc || std::path::Path::new("/etc/asound.conf").exists(),
        }
    }

    /// Why there is certainly no output device, or `None` when only ALSA can tell.
    fn no_output_reason(&self) -> Option<String> {
        if self.sound_server || self.alsa_config {
            return None;
        }
        match &self.cards {
            None => Some("no sound driver loaded (no /proc/asound)".into()),
            Some(c) if c.contains("no soundcards") => Some("no sound card".into()),
            Some(_) => None,
        }
    }
}

/// On a machine with no sound card, ALSA's default device fails only after printing a dozen
/// `ALSA lib …` lines straight to stderr, which users read as errors; so look first.
fn no_local_output() -> Option<String> {
    // /proc/asound is Linux's; elsewhere the host API alone can tell.
    if cfg!(target_os = "linux") {
        OutputHints::read().no_output_reason()
    } else {
        None
    }
}

/// State shared by the producer (the feeder thread) and the consumer (the sink).
pub struct ClockState {
    pub sample_rate_hz: u32,
    pub channels: u16,
    /// Bumped by the producer to discard what is queued (seek, pause).
    flush_gen: AtomicU64,
    /// Samples the producer had pushed in all when it last flushed: only those are stale.
    pushed_at_flush: AtomicU64,
    /// Position (interleaved samples) that the next generation starts at.
    pending_base: AtomicU64,
    /// The played position in interleaved samples: the generation's start plus what the sink has
    /// played since. One atomic, so a reader can never pair one generation's start with another's
    /// count (two atomics could be read torn across a flush and make the clock jump back). A
    /// seqlock or a mutex would also be consistent, but the consumer is a real-time callback: a
    /// single store or `fetch_add` is wait-free for it and for every reader. The cost is that a
    /// flush target is rounded to a whole sample frame (≤ 1/rate s).
    position: AtomicU64,
}

impl ClockState {
    pub fn new(sample_rate_hz: u32, channels: u16) -> Arc<Self> {
        Arc::new(ClockState {
            sample_rate_hz: sample_rate_hz.max(1),
            channels: channels.max(1),
            flush_gen: AtomicU64::new(0),
            pushed_at_flush: AtomicU64::new(0),
            pending_base: AtomicU64::new(0),
            position: AtomicU64::new(0),
        })
    }

    /// Seconds of source audio the sink has played (keeps growing across loops).
    pub fn position_secs(&self) -> f64 {
        self.samples_to_secs(self.position.load(Ordering::Acquire))
    }

    /// The played position in interleaved samples (what [`Self::position_secs`] is made from).
    pub fn position_samples(&self) -> u64 {
        self.position.load(Ordering::Acquire)
    }

    fn samples_to_secs(&self, samples: u64) -> f64 {
        samples as f64 / f64::from(self.channels) / f64::from(self.sample_rate_hz)
    }

    /// `secs` as interleaved samples, at a whole frame (negative and NaN clamp to 0).
    fn secs_to_samples(&self, secs: f64) -> u64 {
        let frames = (secs.max(0.0) * f64::from(self.sample_rate_hz)).round();
        // `as` saturates, so an absurd target cannot wrap.
        (frames as u64).saturating_mul(u64::from(self.channels))
    }

    /// Producer side: drop what is queued (the first `pushed_total` samples ever pushed); the
    /// clock continues from `secs`.
    pub fn flush_to(&self, secs: f64, pushed_total: u64) {
        self.pending_base
            .store(self.secs_to_samples(secs), Ordering::Release);
        self.pushed_at_flush.store(pushed_total, Ordering::Release);
        self.flush_gen.fetch_add(1, Ordering::AcqRel);
    }
}

/// The consuming end: everything an audio callback does.
pub struct ConsumerSide {
    consumer: rtrb::Consumer<f32>,
    clock: Arc<ClockState>,
    seen_gen: u64,
    popped: u64,
}

impl ConsumerSide {
    /// Fills `out` (interleaved) from the ring, silence where it runs dry, and advances the
    /// clock by what was really played. No locks, no allocation.
    pub fn fill(&mut self, out: &mut [f32]) {
        let generation = self.clock.flush_gen.load(Ordering::Acquire);
        if generation != self.seen_gen {
            // Only what was pushed before the flush is stale; what came after is the new start.
            let before = self.clock.pushed_at_flush.load(Ordering::Acquire);
            let stale = (before.saturating_sub(self.popped) as usize).min(self.consumer.slots());
            if let Ok(chunk) = self.consumer.read_chunk(stale) {
                chunk.commit_all();
            }
            self.popped += stale as u64;
            self.seen_gen = generation;
            let b = self.clock.pending_base.load(Ordering::Acquire);
            self.clock.position.store(b, Ordering::Release);
        }
        let (filled, rest) = self.consumer.pop_partial_slice(out);
        let n = filled.len();
        rest.fill(0.0);
        self.popped += n as u64;
        self.clock.position.fetch_add(n as u64, Ordering::AcqRel);
    }
}

/// A ring of `secs` seconds and the clock around it.
pub fn ring(
    sample_rate_hz: u32,
    channels: u16,
    secs: f64,
) -> (rtrb::Producer<f32>, ConsumerSide, Arc<ClockState>) {
    let clock = ClockState::new(sample_rate_hz, channels);
    let (p, side) = ring_on(clock.clone(), secs);
    (p, side, clock)
}

/// A new ring feeding an existing clock (used when a device fails and a silent sink takes over).
pub fn ring_on(clock: Arc<ClockState>, secs: f64) -> (rtrb::Producer<f32>, ConsumerSide) {
    let cap = ((f64::from(clock.sample_rate_hz) * secs).ceil() as usize).max(256)
        * usize::from(clock.channels);
    let (p, c) = rtrb::RingBuffer::new(cap);
    let seen_gen = clock.flush_gen.load(Ordering::Acquire);
    (
        p,
        ConsumerSide {
            consumer: c,
            clock,
            seen_gen,
            popped: 0,
        },
    )
}

/// The default device's rate and channel count, or why it cannot be used.
pub fn device_format() -> Result<(u32, u16), String> {
    match probe_output() {
        AudioOutputStatus::Available {
            sample_rate_hz,
            channels,
            ..
        } => Ok((sample_rate_hz, channels)),
        AudioOutputStatus::Unavailable { reason } => Err(reason),
    }
}

/// Opens the default output device playing from `side`. The returned stream must stay alive
/// (and, with some hosts, on the thread that made it). On failure the caller falls back to a
/// [`SilentSink`] on a new ring ([`ring_on`]).
pub fn open_device(mut side: ConsumerSide) -> Result<(cpal::Stream, String), String> {
    use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
    let device = cpal::default_host()
        .default_output_device()
        .ok_or("the host reports no default output")?;
    let supported = device.default_output_config().map_err(|e| e.to_string())?;
    let config = supported.config();
    let name = device.to_string();
    let err = |e: cpal::Error| tracing::warn!("audio stream: {e}");
    let stream = match supported.sample_format() {
        cpal::SampleFormat::F32 => {
            device.build_output_stream(config, move |out: &mut [f32], _| side.fill(out), err, None)
        }
        cpal::SampleFormat::I16 => device.build_output_stream(
            config,
            move |out: &mut [i16], _| {
                // Converted through a stack buffer: no allocation in the callback.
                let mut tmp = [0f32; 512];
                for chunk in out.chunks_mut(512) {
                    let t = &mut tmp[..chunk.len()];
                    side.fill(t);
                    for (o, v) in chunk.iter_mut().zip(t.iter()) {
                        *o = (v.clamp(-1.0, 1.0) * 32767.0) as i16;
                    }
                }
            },
            err,
            None,
        ),
        other => return Err(format!("unsupported device sample format {other:?}")),
    }
    .map_err(|e| e.to_string())?;
    stream.play().map_err(|e| e.to_string())?;
    Ok((stream, name))
}

/// No sound card: consumes in real time from its own named thread, so the clock still advances
/// as it would on a device.
pub struct SilentSink {
    stop: Arc<AtomicBool>,
}

impl SilentSink {
    pub fn start(mut side: ConsumerSide) -> std::io::Result<SilentSink> {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let ch = usize::from(side.clock.channels);
        let rate = f64::from(side.clock.sample_rate_hz);
        std::thread::Builder::new()
            .name("audio-silent-sink".into())
            .spawn(move || {
                let start = Instant::now();
                let mut consumed = 0u64;
                let mut scratch = vec![0f32; (rate as usize / 10 + 1) * ch];
                while !s.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(10));
                    let due = (start.elapsed().as_secs_f64() * rate) as u64;
                    let n = ((due - consumed) as usize).min(scratch.len() / ch);
                    side.fill(&mut scratch[..n * ch]);
                    consumed += n as u64;
                }
            })?;
        Ok(SilentSink { stop })
    }
}

impl Drop for SilentSink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// For tests: plays exactly as many frames as it is told to.
pub struct FakeSink {
    side: ConsumerSide,
    out: Vec<f32>,
}

impl FakeSink {
    pub fn new(side: ConsumerSide) -> FakeSink {
        FakeSink {
            side,
            out: Vec::new(),
        }
    }

    /// Samples queued and not yet played.
    pub fn queued(&self) -> usize {
        self.side.consumer.slots()
    }

    /// "Plays" `frames` frames and returns the samples that came out (interleaved).
    pub fn advance(&mut self, frames: usize) -> &[f32] {
        self.out.clear();
        self.out
            .resize(frames * usize::from(self.side.clock.channels), 0.0);
        self.side.fill(&mut self.out);
        &self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_card_and_no_sound_server_means_no_device_without_asking_alsa() {
        let none = OutputHints::default();
        assert!(
            none.no_output_reason()
                .is_some_and(|r| r.contains("no sound driver"))
        );
        let empty = OutputHints {
            cards: Some("--- no soundcards ---\n".into()),
            ..Default::default()
        };
        assert_eq!(empty.no_output_reason().as_deref(), Some("no sound card"));
        let card = OutputHints {
            cards: Some(" 0 [PCH ]: HDA-Intel - HDA Intel PCH\n".into()),
            ..Default::default()
        };
        assert_eq!(card.no_output_reason(), None);
        for hints in [
            OutputHints {
                sound_server: true,
                ..Default::default()
            },
            OutputHints {
                alsa_config: true,
                ..Default::default()
            },
        ] {
            assert_eq!(hints.no_output_reason(), None, "{hints:?}: ALSA decides");
        }
    }

    #[test]
    fn the_consumer_plays_what_was_pushed_then_silence_and_counts_only_real_samples() {
        let (mut p, side, clock) = ring(10, 1, 1.0);
        let mut sink = FakeSink::new(side);
        for v in [0.1f32, 0.2, 0.3] {
            p.push(v).expect("room");
        }
        assert_eq!(sink.advance(5), &[0.1, 0.2, 0.3, 0.0, 0.0]);
        assert!(
            (clock.position_secs() - 0.3).abs() < 1e-9,
            "underrun does not advance the clock"
        );
        p.push(0.9).expect("room");
        clock.flush_to(2.0, 4);
        p.push(0.5).expect("room"); // pushed after the flush: the first sample at 2.0 s
        assert_eq!(
            sink.advance(2),
            &[0.5, 0.0],
            "a flush discards only what was queued before it"
        );
        assert!((clock.position_secs() - 2.1).abs() < 1e-9);
    }

    #[test]
    fn the_position_is_never_read_torn_across_a_flush() {
        // Generation k starts at k s and plays 0.4 s, so the true position only ever grows. A
        // reader that paired one generation's start with another's played count would see it jump
        // back (k + 0.4 s, then k + 1 s + a little, is fine; k s after k + 0.4 s is not).
        use std::sync::atomic::AtomicBool;
        let (mut p, side, clock) = ring(1000, 2, 1.0);
        let mut sink = FakeSink::new(side);
        let stop = Arc::new(AtomicBool::new(false));
        let reader = {
            let (clock, stop) = (clock.clone(), stop.clone());
            std::thread::Builder::new()
                .name("clock-reader".into())
                .spawn(move || {
                    let (mut last, mut reads, mut backwards) = (0.0f64, 0u64, Vec::new());
                    while !stop.load(Ordering::Relaxed) {
                        let now = clock.position_secs();
                        if now < last {
                            backwards.push((last, now));
                        }
                        last = now;
                        reads += 1;
                    }
                    (reads, backwards)
                })
                .expect("spawns")
        };
        let mut pushed = 0u64;
        let generations = 50_000u64;
        for k in 1..=generations {
            clock.flush_to(k as f64, pushed);
            for _ in 0..800 {
                if p.push(0.5).is_ok() {
                    pushed += 1;
                }
            }
            for _ in 0..8 {
                sink.advance(50); // 50 frames of 2 channels: 0.05 s
            }
        }
        stop.store(true, Ordering::Relaxed);
        let (reads, backwards) = reader.join().expect("reader");
        let last = clock.position_secs();
        assert!(reads > 1000, "the reader ran alongside ({reads} reads)");
        assert!(
            backwards.is_empty(),
            "{} of {reads} reads went back, e.g. {:?}",
            backwards.len(),
            backwards.first()
        );
        assert!(
            (last - (generations as f64 + 0.4)).abs() < 1e-9,
            "ends at the last generation's start + what it played: {last}"
        );
    }
}
