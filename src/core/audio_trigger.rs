//! Audio triggers, mixed into a clip's f32 samples (mono or multi-channel: the trigger is added
//! to every channel). Mixing adds and clips to [−1, 1]; the report says how many samples clipped.

use super::assets::AssetLoader;
use super::clip::AudioBuffer;
use super::rng::{Stream, rng_for};
use super::spec_error::{SpecError, check_range};
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::f64::consts::TAU;
use std::path::PathBuf;

/// Where the trigger starts: `"start"`, `"middle"`, `"end"`, `"random"` (seeded) or
/// `{"at": seconds}`.
#[derive(Clone, Copy, Debug, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AudioPlacement {
    #[default]
    Start,
    Middle,
    End,
    Random,
    #[serde(untagged)]
    At {
        at: f64,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoiseColor {
    #[default]
    White,
    Pink,
}

fn default_level() -> f64 {
    -20.0
}
fn default_duration() -> f64 {
    0.5
}
fn default_fade() -> f64 {
    0.005
}
fn default_snr() -> f64 {
    20.0
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToneSpec {
    pub freq_hz: f64,
    /// Peak level in dB relative to full scale.
    #[serde(default = "default_level")]
    pub level_dbfs: f64,
    #[serde(default = "default_duration")]
    pub duration_secs: f64,
    /// Raised-cosine fade in and out, so the trigger does not click.
    #[serde(default = "default_fade")]
    pub fade_secs: f64,
    #[serde(default)]
    pub placement: AudioPlacement,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoiseBurstSpec {
    #[serde(default)]
    pub color: NoiseColor,
    /// Level as the SNR in dB of the clip's RMS over the noise's RMS.
    #[serde(default = "default_snr")]
    pub snr_db: f64,
    #[serde(default = "default_duration")]
    pub duration_secs: f64,
    #[serde(default = "default_fade")]
    pub fade_secs: f64,
    #[serde(default)]
    pub placement: AudioPlacement,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChirpSpec {
    pub f0_hz: f64,
    pub f1_hz: f64,
    #[serde(default = "default_level")]
    pub level_dbfs: f64,
    #[serde(default = "default_duration")]
    pub duration_secs: f64,
    #[serde(default = "default_fade")]
    pub fade_secs: f64,
    #[serde(default)]
    pub placement: AudioPlacement,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OverlaySpec {
    /// An audio file (read by the media layer), or…
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// …samples given inline (mono) at `sample_rate_hz`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub samples: Option<Vec<f32>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_rate_hz: Option<u32>,
    /// Gain in dB applied to the samples (default 0), or…
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gain_db: Option<f64>,
    /// …the level as SNR against the clip's RMS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snr_db: Option<f64>,
    #[serde(default)]
    pub placement: AudioPlacement,
}

/// An audio trigger. JSON: `{"kind": "tone", "freq_hz": 1000, …}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AudioTrigger {
    Tone(ToneSpec),
    NoiseBurst(NoiseBurstSpec),
    Chirp(ChirpSpec),
    /// A tone meant to be inaudible; refused at or above half the sample rate.
    Ultrasonic(ToneSpec),
    Overlay(OverlaySpec),
}

/// What mixing did.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MixReport {
    pub start_secs: f64,
    pub duration_secs: f64,
    /// Samples (over all channels) that left [−1, 1] and were clipped.
    pub clipped_samples: usize,
    /// Clean-over-trigger SNR of the result in dB (`null` when the clip was unchanged).
    pub snr_db: Option<f64>,
}

fn db_to_gain(db: f64) -> f64 {
    10f64.powf(db / 20.0)
}

fn rms(x: &[f32]) -> f64 {
    if x.is_empty() {
        return 0.0;
    }
    (x.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>() / x.len() as f64).sqrt()
}

/// Raised-cosine fade-in/out envelope over `n` samples with `fade` samples at each end.
fn fade_gain(i: usize, n: usize, fade: usize) -> f64 {
    if fade == 0 {
        return 1.0;
    }
    let edge = i.min(n - 1 - i);
    if edge >= fade {
        1.0
    } else {
        0.5 - 0.5 * (std::f64::consts::PI * edge as f64 / fade as f64).cos()
    }
}

fn check_nyquist(field: &str, f: f64, sr: u32) -> Result<(), SpecError> {
    let nyquist = f64::from(sr) / 2.0;
    check_range(field, f, 0.0, f64::MAX)?;
    if f >= nyquist {
        return Err(SpecError::new(
            field,
            format!(
                "{f} Hz is at or above half the clip's sample rate ({nyquist} Hz at {sr} Hz): it cannot be represented and would alias"
            ),
        ));
    }
    Ok(())
}

impl AudioTrigger {
    pub fn kind(&self) -> &'static str {
        match self {
            AudioTrigger::Tone(_) => "tone",
            AudioTrigger::NoiseBurst(_) => "noise_burst",
            AudioTrigger::Chirp(_) => "chirp",
            AudioTrigger::Ultrasonic(_) => "ultrasonic",
            AudioTrigger::Overlay(_) => "overlay",
        }
    }

    fn placement(&self) -> AudioPlacement {
        match self {
            AudioTrigger::Tone(s) | AudioTrigger::Ultrasonic(s) => s.placement,
            AudioTrigger::NoiseBurst(s) => s.placement,
            AudioTrigger::Chirp(s) => s.placement,
            AudioTrigger::Overlay(s) => s.placement,
        }
    }

    /// The trigger signal (mono) at `sr` for a clip whose RMS is `clip_rms`.
    fn render(
        &self,
        sr: u32,
        clip_rms: f64,
        seed: u64,
        assets: &dyn AssetLoader,
    ) -> Result<Vec<f32>, SpecError> {
        let f = "audio";
        let srf = f64::from(sr);
        let samples_for = |field: &str, secs: f64| -> Result<usize, SpecError> {
            check_range(field, secs, 1.0 / srf, 3600.0)?;
            Ok((secs * srf).round().max(1.0) as usize)
        };
        let fade_for = |secs: f64, n: usize| -> Result<usize, SpecError> {
            check_range("audio.fade_secs", secs, 0.0, 60.0)?;
            Ok(((secs * srf).round() as usize).min(n / 2))
        };
        match self {
            AudioTrigger::Tone(s) | AudioTrigger::Ultrasonic(s) => {
                check_nyquist(&format!("{f}.freq_hz"), s.freq_hz, sr)?;
                check_range(&format!("{f}.level_dbfs"), s.level_dbfs, -200.0, 0.0)?;
                let n = samples_for("audio.duration_secs", s.duration_secs)?;
                let fade = fade_for(s.fade_secs, n)?;
                let amp = db_to_gain(s.level_dbfs);
                Ok((0..n)
                    .map(|i| {
                        (amp * fade_gain(i, n, fade) * (TAU * s.freq_hz * i as f64 / srf).sin())
                            as f32
                    })
                    .collect())
            }
            AudioTrigger::Chirp(s) => {
                check_nyquist("audio.f0_hz", s.f0_hz, sr)?;
                check_nyquist("audio.f1_hz", s.f1_hz, sr)?;
                check_range("audio.level_dbfs", s.level_dbfs, -200.0, 0.0)?;
                let n = samples_for("audio.duration_secs", s.duration_secs)?;
                let fade = fade_for(s.fade_secs, n)?;
                let amp = db_to_gain(s.level_dbfs);
                let dur = n as f64 / srf;
                Ok((0..n)
                    .map(|i| {
                        let t = i as f64 / srf;
                        let phase = TAU * (s.f0_hz * t + (s.f1_hz - s.f0_hz) * t * t / (2.0 * dur));
                        (amp * fade_gain(i, n, fade) * phase.sin()) as f32
                    })
                    .collect())
            }
            AudioTrigger::NoiseBurst(s) => {
                check_range("audio.snr_db", s.snr_db, -60.0, 120.0)?;
                if clip_rms <= 0.0 {
                    return Err(SpecError::new(
                        "audio.snr_db",
                        "the clip is silent, so a level relative to its RMS is undefined",
                    ));
                }
                let n = samples_for("audio.duration_secs", s.duration_secs)?;
                let fade = fade_for(s.fade_secs, n)?;
                let mut rng = rng_for(seed, Stream::AudioNoise, 0);
                let white: Vec<f64> = (0..n).map(|_| rng.random_range(-1.0..1.0)).collect();
                let raw = match s.color {
                    NoiseColor::White => white,
                    NoiseColor::Pink => pink(&white),
                };
                let raw_rms = (raw.iter().map(|v| v * v).sum::<f64>() / n as f64).sqrt();
                let gain = clip_rms / db_to_gain(s.snr_db) / raw_rms.max(f64::MIN_POSITIVE);
                Ok(raw
                    .iter()
                    .enumerate()
                    .map(|(i, v)| (v * gain * fade_gain(i, n, fade)) as f32)
                    .collect())
            }
            AudioTrigger::Overlay(s) => {
                let src = match (&s.path, &s.samples) {
                    (Some(p), None) => assets
                        .load_audio(p)
                        .map_err(|e| SpecError::new("audio.path", e))?,
                    (None, Some(v)) => {
                        let rate = s.sample_rate_hz.ok_or_else(|| {
                            SpecError::new("audio.sample_rate_hz", "needed with inline samples")
                        })?;
                        AudioBuffer::new(rate, 1, v.clone())
                            .map_err(|e| SpecError::new("audio.samples", e.to_string()))?
                    }
                    _ => {
                        return Err(SpecError::new(
                            "audio",
                            "an overlay needs exactly one of `path` or `samples`",
                        ));
                    }
                };
                if src.samples().iter().any(|v| !v.is_finite()) {
                    return Err(SpecError::new(
                        "audio.samples",
                        "contains NaN or infinite values",
                    ));
                }
                let mono = downmix(&src);
                let mono = resample_linear(&mono, src.sample_rate_hz(), sr);
                if mono.is_empty() {
                    return Err(SpecError::new("audio.samples", "no samples to overlay"));
                }
                let gain = match (s.gain_db, s.snr_db) {
                    (Some(_), Some(_)) => {
                        return Err(SpecError::new("audio", "give gain_db or snr_db, not both"));
                    }
                    (Some(db), None) => {
                        check_range("audio.gain_db", db, -200.0, 60.0)?;
                        db_to_gain(db)
                    }
                    (None, Some(snr)) => {
                        check_range("audio.snr_db", snr, -60.0, 120.0)?;
                        let r = rms(&mono);
                        if clip_rms <= 0.0 || r <= 0.0 {
                            return Err(SpecError::new(
                                "audio.snr_db",
                                "the clip or the overlay is silent, so an SNR is undefined",
                            ));
                        }
                        clip_rms / db_to_gain(snr) / r
                    }
                    (None, None) => 1.0,
                };
                Ok(mono.iter().map(|&v| (f64::from(v) * gain) as f32).collect())
            }
        }
    }

    /// Mixes the trigger into `audio`; returns the new buffer and what happened.
    pub fn mix(
        &self,
        audio: &AudioBuffer,
        seed: u64,
        assets: &dyn AssetLoader,
    ) -> Result<(AudioBuffer, MixReport), SpecError> {
        let sr = audio.sample_rate_hz();
        let ch = audio.channels() as usize;
        let frames = audio.len_frames();
        let trig = self.render(sr, rms(audio.samples()), seed, assets)?;
        if trig.len() > frames {
            return Err(SpecError::new(
                "audio.duration_secs",
                format!(
                    "the {:.3} s trigger is longer than the {:.3} s clip",
                    trig.len() as f64 / f64::from(sr),
                    frames as f64 / f64::from(sr)
                ),
            ));
        }
        let free = frames - trig.len();
        let start = match self.placement() {
            AudioPlacement::Start => 0,
            AudioPlacement::Middle => free / 2,
            AudioPlacement::End => free,
            AudioPlacement::Random => {
                rng_for(seed, Stream::AudioPlacement, 0).random_range(0..=free)
            }
            AudioPlacement::At { at } => {
                check_range("audio.placement.at", at, 0.0, free as f64 / f64::from(sr))?;
                (at * f64::from(sr)).round() as usize
            }
        };
        let mut out = audio.samples().to_vec();
        let mut clipped = 0;
        for (k, &t) in trig.iter().enumerate() {
            for c in 0..ch {
                let s = &mut out[(start + k) * ch + c];
                let v = *s + t;
                if !(-1.0..=1.0).contains(&v) {
                    clipped += 1;
                }
                *s = v.clamp(-1.0, 1.0);
            }
        }
        let snr_db = super::metrics::audio_snr_db(audio.samples(), &out);
        let mixed = AudioBuffer::new(sr, audio.channels(), out)
            .map_err(|e| SpecError::new("audio", e.to_string()))?;
        Ok((
            mixed,
            MixReport {
                start_secs: start as f64 / f64::from(sr),
                duration_secs: trig.len() as f64 / f64::from(sr),
                clipped_samples: clipped,
                snr_db,
            },
        ))
    }
}

/// Pink noise from white (Paul Kellet's refined filter: −3 dB/octave within ±0.05 dB).
fn pink(white: &[f64]) -> Vec<f64> {
    let mut b = [0f64; 7];
    white
        .iter()
        .map(|&w| {
            b[0] = 0.99886 * b[0] + w * 0.0555179;
            b[1] = 0.99332 * b[1] + w * 0.0750759;
            b[2] = 0.96900 * b[2] + w * 0.1538520;
            b[3] = 0.86650 * b[3] + w * 0.3104856;
            b[4] = 0.55000 * b[4] + w * 0.5329522;
            b[5] = -0.7616 * b[5] - w * 0.0168980;
            let out = b[0] + b[1] + b[2] + b[3] + b[4] + b[5] + b[6] + w * 0.5362;
            b[6] = w * 0.115926;
            out
        })
        .collect()
}

fn downmix(a: &AudioBuffer) -> Vec<f32> {
    let ch = a.channels() as usize;
    a.samples()
        .chunks_exact(ch)
        .map(|f| f.iter().sum::<f32>() / ch as f32)
        .collect()
}

/// Linear-interpolation resampling (adequate for triggers; not a studio-grade resampler).
pub fn resample_linear(x: &[f32], from_hz: u32, to_hz: u32) -> Vec<f32> {
    if from_hz == to_hz || x.is_empty() {
        return x.to_vec();
    }
    let n = (x.len() as u64 * u64::from(to_hz) / u64::from(from_hz)).max(1) as usize;
    let step = f64::from(from_hz) / f64::from(to_hz);
    (0..n)
        .map(|i| {
            let pos = i as f64 * step;
            let i0 = (pos.floor() as usize).min(x.len() - 1);
            let i1 = (i0 + 1).min(x.len() - 1);
            let f = (pos - i0 as f64) as f32;
            x[i0] * (1.0 - f) + x[i1] * f
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::assets::NoAssets;

    fn clip(sr: u32, secs: f64, level: f32) -> AudioBuffer {
        let n = (f64::from(sr) * secs) as usize;
        let s = (0..n).map(|i| level * ((i as f32) * 0.05).sin()).collect();
        AudioBuffer::new(sr, 1, s).expect("valid")
    }

    fn tone(freq_hz: f64, placement: AudioPlacement) -> AudioTrigger {
        AudioTrigger::Tone(ToneSpec {
            freq_hz,
            level_dbfs: -6.0,
            duration_secs: 0.25,
            fade_secs: 0.0,
            placement,
        })
    }

    #[test]
    fn tone_level_placement_and_silence_elsewhere() {
        let base = AudioBuffer::new(8000, 2, vec![0.0; 16000]).expect("valid");
        let (out, rep) = tone(1000.0, AudioPlacement::End)
            .mix(&base, 0, &NoAssets)
            .expect("mix");
        assert_eq!((rep.start_secs, rep.duration_secs), (0.75, 0.25));
        let peak = out.samples().iter().fold(0f32, |m, v| m.max(v.abs()));
        assert!((f64::from(peak) - db_to_gain(-6.0)).abs() < 1e-3, "{peak}");
        assert!(out.samples()[..2 * 5999].iter().all(|&v| v == 0.0));
        // Both channels carry it.
        assert_eq!(out.samples()[2 * 6001], out.samples()[2 * 6001 + 1]);
    }

    #[test]
    fn ultrasonic_above_nyquist_is_refused() {
        let u = AudioTrigger::Ultrasonic(ToneSpec {
            freq_hz: 21000.0,
            level_dbfs: -20.0,
            duration_secs: 0.1,
            fade_secs: 0.0,
            placement: AudioPlacement::Start,
        });
        let e = u
            .mix(&clip(16000, 1.0, 0.1), 0, &NoAssets)
            .expect_err("aliasing");
        assert_eq!(e.field, "audio.freq_hz");
        assert!(e.message.contains("8000 Hz"), "{e}");
        assert!(u.mix(&clip(48000, 1.0, 0.1), 0, &NoAssets).is_ok());
    }

    #[test]
    fn noise_burst_hits_its_snr() {
        for color in [NoiseColor::White, NoiseColor::Pink] {
            let base = clip(16000, 2.0, 0.3);
            let t = AudioTrigger::NoiseBurst(NoiseBurstSpec {
                color,
                snr_db: 10.0,
                duration_secs: 2.0,
                fade_secs: 0.0,
                placement: AudioPlacement::Start,
            });
            let (_, rep) = t.mix(&base, 1, &NoAssets).expect("mix");
            let snr = rep.snr_db.expect("changed");
            assert!((snr - 10.0).abs() < 0.05, "{color:?}: {snr}");
        }
    }

    #[test]
    fn clipping_is_counted_and_bounded() {
        let base = AudioBuffer::new(8000, 1, vec![0.9; 8000]).expect("valid");
        let (out, rep) = tone(500.0, AudioPlacement::Start)
            .mix(&base, 0, &NoAssets)
            .expect("mix");
        assert!(rep.clipped_samples > 0);
        assert!(out.samples().iter().all(|v| (-1.0..=1.0).contains(v)));
    }

    #[test]
    fn placement_errors_and_lengths() {
        let base = clip(8000, 1.0, 0.1);
        let e = tone(440.0, AudioPlacement::At { at: 0.9 })
            .mix(&base, 0, &NoAssets)
            .expect_err("late");
        assert_eq!(e.field, "audio.placement.at");
        let long = AudioTrigger::Tone(ToneSpec {
            freq_hz: 440.0,
            level_dbfs: -20.0,
            duration_secs: 2.0,
            fade_secs: 0.0,
            placement: AudioPlacement::Start,
        });
        assert_eq!(
            long.mix(&base, 0, &NoAssets).expect_err("long").field,
            "audio.duration_secs"
        );
        let r1 = tone(440.0, AudioPlacement::Random)
            .mix(&base, 3, &NoAssets)
            .expect("ok")
            .1;
        let r2 = tone(440.0, AudioPlacement::Random)
            .mix(&base, 3, &NoAssets)
            .expect("ok")
            .1;
        assert_eq!(r1.start_secs, r2.start_secs);
    }

    #[test]
    fn overlay_inline_with_resampling_and_snr() {
        let base = clip(16000, 1.0, 0.2);
        let t = AudioTrigger::Overlay(OverlaySpec {
            path: None,
            samples: Some((0..4000).map(|i| ((i as f32) * 0.3).sin()).collect()),
            sample_rate_hz: Some(8000),
            gain_db: None,
            snr_db: Some(6.0),
            placement: AudioPlacement::Middle,
        });
        let (_, rep) = t.mix(&base, 0, &NoAssets).expect("mix");
        assert!((rep.duration_secs - 0.5).abs() < 1e-3);
        assert!(rep.snr_db.expect("changed") > 6.0); // overlay spans half the clip
        assert!(
            serde_json::from_str::<AudioTrigger>(r#"{"kind":"tone","freq_hz":1,"gain":3}"#)
                .is_err()
        );
    }
}
