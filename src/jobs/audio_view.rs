//! The audio view's pictures, made on a worker: waveform envelopes and spectrograms (coloured
//! to RGBA here, so the UI only uploads) of a clip's clean sound and of the sound with the
//! design's audio trigger mixed in by core (the mix playback uses), and where the trigger sounds.
//! Also the bounded one-off decode of a streamed file's audio that makes all this (and the
//! trigger's playback mix) possible for files.

use super::{Job, Repaint, start};
use crate::core::AudioBuffer;
use crate::core::audio_trigger::{AudioTrigger, MixReport};
use crate::core::spectrogram::{self, Grid, RgbaImage, Spectrogram, StftParams};
use crate::media::assets::FileAssets;
use crate::media::probe::probe_audio;
use crate::media::reader::{AudioReader, video_origin_secs};
use std::path::PathBuf;
use std::sync::Arc;

/// Waveform buckets (about a screen's width).
pub const ENVELOPE_BUCKETS: usize = 1200;
/// Spectrogram columns at most, however long the sound: the hop grows instead.
pub const MAX_COLUMNS: usize = 1600;
pub const WINDOW: usize = 1024;
/// Rows of the log-frequency picture, and its lowest frequency.
pub const LOG_ROWS: usize = 256;
pub const LOG_F_MIN_HZ: f32 = 20.0;
/// The colour map's range: quieter is black.
pub const FLOOR_DB: f32 = -100.0;
pub const CEIL_DB: f32 = 0.0;
/// A streamed file's audio is decoded this far at most (memory stays bounded for films).
pub const FILE_AUDIO_MAX_SECS: f64 = 180.0;

/// One sound's overview: its envelope, spectrogram and the spectrogram coloured both ways.
#[derive(Debug)]
pub struct AudioPicture {
    pub envelope: Vec<(f32, f32)>,
    pub spectrogram: Spectrogram,
    /// Rows on the log-frequency axis ([`LOG_F_MIN_HZ`] to Nyquist).
    pub log_grid: Grid,
    pub linear_rgba: RgbaImage,
    pub log_rgba: RgbaImage,
}

impl AudioPicture {
    pub fn of(audio: &AudioBuffer) -> Result<AudioPicture, String> {
        let mono = spectrogram::mono(audio);
        let params = StftParams::for_length(WINDOW, mono.len(), MAX_COLUMNS);
        let s =
            spectrogram::stft(&mono, audio.sample_rate_hz(), params).map_err(|e| e.to_string())?;
        let log_grid = s.to_log(LOG_ROWS, LOG_F_MIN_HZ);
        Ok(AudioPicture {
            envelope: audio.envelope(ENVELOPE_BUCKETS),
            linear_rgba: spectrogram::colorize(&s.grid, FLOOR_DB, CEIL_DB),
            log_rgba: spectrogram::colorize(&log_grid, FLOOR_DB, CEIL_DB),
            spectrogram: s,
            log_grid,
        })
    }

    pub fn grid(&self, log: bool) -> &Grid {
        if log {
            &self.log_grid
        } else {
            &self.spectrogram.grid
        }
    }

    pub fn rgba(&self, log: bool) -> &RgbaImage {
        if log {
            &self.log_rgba
        } else {
            &self.linear_rgba
        }
    }
}

/// The sound with the trigger mixed in, and what the mix did (where, how long).
#[derive(Debug)]
pub struct TriggeredPicture {
    pub picture: AudioPicture,
    pub report: MixReport,
}

impl TriggeredPicture {
    /// Seconds from the clip's start during which the trigger sounds.
    pub fn region(&self) -> (f64, f64) {
        (
            self.report.start_secs,
            self.report.start_secs + self.report.duration_secs,
        )
    }
}

/// Everything the audio view shows for (clip, design revision).
#[derive(Debug)]
pub struct AudioView {
    pub clip: u32,
    pub revision: u64,
    pub sample_rate_hz: u32,
    /// Of the sound analysed (a truncated file's first part).
    pub duration_secs: f64,
    /// Set when only the first this many seconds of a file were decoded.
    pub truncated_at: Option<f64>,
    pub clean: Arc<AudioPicture>,
    /// `Ok(None)`: the design has no audio trigger. `Err`: core refused it (the message names
    /// the field, e.g. a frequency at or above Nyquist).
    pub triggered: Result<Option<Arc<TriggeredPicture>>, String>,
}

pub struct AudioViewRequest {
    pub clip: u32,
    pub revision: u64,
    pub audio: Arc<AudioBuffer>,
    pub truncated_at: Option<f64>,
    pub trigger: Option<AudioTrigger>,
    pub seed: u64,
    /// Where an overlay's relative path resolves.
    pub assets_dir: PathBuf,
    /// The clean picture already made for this clip, if any (it does not change with the design).
    pub clean: Option<Arc<AudioPicture>>,
}

/// Makes the view; `None` when `cancelled` says a newer request took over.
pub fn compute(
    req: AudioViewRequest,
    cancelled: &dyn Fn() -> bool,
) -> Option<Result<AudioView, String>> {
    let clean = match req.clean {
        Some(c) => c,
        None => match AudioPicture::of(&req.audio) {
            Ok(c) => Arc::new(c),
            Err(e) => return Some(Err(e)),
        },
    };
    if cancelled() {
        return None;
    }
    let assets = FileAssets::new(&req.assets_dir);
    let triggered = match &req.trigger {
        None => Ok(None),
        Some(t) => match t.mix(&req.audio, req.seed, &assets) {
            Err(e) => Err(e.to_string()),
            Ok((mixed, report)) => AudioPicture::of(&mixed)
                .map(|picture| Some(Arc::new(TriggeredPicture { picture, report }))),
        },
    };
    if cancelled() {
        return None;
    }
    Some(Ok(AudioView {
        clip: req.clip,
        revision: req.revision,
        sample_rate_hz: req.audio.sample_rate_hz(),
        duration_secs: req.audio.duration().to_f64(),
        truncated_at: req.truncated_at,
        clean,
        triggered,
    }))
}

/// Starts [`compute`] on a worker. Latest wins: the caller keeps only the newest job, and
/// dropping an older one cancels it (its result is never sent).
pub fn start_audio_view(
    req: AudioViewRequest,
    repaint: Repaint,
) -> std::io::Result<Job<Result<AudioView, String>>> {
    start("audio-view", 1, repaint, move |tx| {
        if let Some(v) = compute(req, &|| tx.is_cancelled()) {
            tx.send(v);
        }
    })
}

/// A streamed file's audio, decoded once (its first [`FILE_AUDIO_MAX_SECS`] at most).
#[derive(Clone, Debug)]
pub struct FileAudio {
    pub audio: Arc<AudioBuffer>,
    /// Set when the file's audio goes on past what was decoded.
    pub truncated_at: Option<f64>,
}

/// Decodes `path`'s audio at its own rate and channels, aligned to the video as the player
/// aligns it (sample 0 is at frame 0), stopping after `max_secs`. `Ok(None)`: no audio stream.
pub fn decode_file_audio_now(
    path: &std::path::Path,
    max_secs: f64,
    cancelled: &dyn Fn() -> bool,
) -> Result<Option<FileAudio>, String> {
    let Some((rate, ch)) = probe_audio(path).map_err(|e| e.to_string())? else {
        return Ok(None);
    };
    let reader = match video_origin_secs(path) {
        Ok(origin) => AudioReader::open_aligned(path, rate, ch, origin),
        Err(_) => AudioReader::open(path, rate, ch),
    };
    let Some(mut reader) = reader.map_err(|e| e.to_string())? else {
        return Ok(None);
    };
    let limit = (max_secs.max(0.0) * f64::from(rate)) as usize * usize::from(ch);
    let mut samples = Vec::new();
    let mut truncated_at = None;
    while let Some(chunk) = reader.next_chunk().map_err(|e| e.to_string())? {
        if cancelled() {
            return Err("cancelled".into());
        }
        samples.extend_from_slice(&chunk);
        if samples.len() >= limit {
            // Whether anything follows decides if the view says "first N s".
            if samples.len() > limit || reader.next_chunk().ok().flatten().is_some() {
                truncated_at = Some(max_secs);
            }
            samples.truncate(limit);
            break;
        }
    }
    let audio = AudioBuffer::new(rate, ch, samples).map_err(|e| e.to_string())?;
    Ok(Some(FileAudio {
        audio: Arc::new(audio),
        truncated_at,
    }))
}

/// [`decode_file_audio_now`] on a worker.
pub fn decode_file_audio(
    path: PathBuf,
    max_secs: f64,
    repaint: Repaint,
) -> std::io::Result<Job<Result<Option<FileAudio>, String>>> {
    start("audio-decode", 1, repaint, move |tx| {
        let r = decode_file_audio_now(&path, max_secs, &|| tx.is_cancelled());
        tx.send(r);
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::audio_trigger::{AudioPlacement, ToneSpec};

    /// Half a second of quiet noise-free low hum at 16 kHz, the trigger's frequency absent.
    fn hum() -> Arc<AudioBuffer> {
        let sr = 16_000;
        let s: Vec<f32> = (0..sr * 2)
            .map(|i| 0.2 * (std::f64::consts::TAU * 220.0 * i as f64 / 16_000.0).sin() as f32)
            .collect();
        Arc::new(AudioBuffer::new(sr, 1, s).expect("audio"))
    }

    fn tone(freq_hz: f64) -> AudioTrigger {
        AudioTrigger::Tone(ToneSpec {
            freq_hz,
            level_dbfs: -12.0,
            duration_secs: 0.5,
            fade_secs: 0.005,
            placement: AudioPlacement::At { at: 1.0 },
        })
    }

    fn request(trigger: AudioTrigger) -> AudioViewRequest {
        AudioViewRequest {
            clip: 7,
            revision: 3,
            audio: hum(),
            truncated_at: None,
            trigger: Some(trigger),
            seed: 1,
            assets_dir: PathBuf::from("."),
            clean: None,
        }
    }

    #[test]
    fn the_triggered_spectrogram_has_the_tone_inside_the_region_and_the_clean_one_does_not() {
        let f = 3000.0;
        let v = compute(request(tone(f)), &|| false)
            .expect("not cancelled")
            .expect("view");
        let t = v.triggered.expect("mixed").expect("a trigger");
        let (t0, t1) = t.region();
        assert!(
            (t0 - 1.0).abs() < 1e-9 && (t1 - 1.5).abs() < 1e-9,
            "{t0}..{t1}"
        );
        let s = &t.picture.spectrogram;
        let bin = s.grid.row_of(f as f32);
        let half = WINDOW as f64 / 2.0 / 16_000.0;
        let (mut inside, mut outside) = (0, 0);
        for (k, &time) in s.times_secs.iter().enumerate() {
            let trig = t.picture.spectrogram.grid.at(bin, k);
            let clean = v.clean.spectrogram.grid.at(bin, k);
            if time - half > t0 && time + half < t1 {
                inside += 1;
                assert!(trig > -25.0, "{time:.3} s: {trig} dB at {f} Hz inside");
                assert!(clean < -60.0, "{time:.3} s: clean has {clean} dB at {f} Hz");
            } else if time + half < t0 || time - half > t1 {
                outside += 1;
                assert!(trig < -60.0, "{time:.3} s: {trig} dB at {f} Hz outside");
            }
        }
        assert!(
            inside > 10 && outside > 10,
            "{inside} inside, {outside} outside"
        );
        // The log picture agrees: its row at f is brighter inside the region.
        let img = t.picture.rgba(true);
        let y = img.height - 1 - t.picture.log_grid.row_of(f as f32);
        let col = |secs: f64| (secs / v.duration_secs * img.width as f64) as usize;
        let lum = |x: usize| {
            img.pixel(x, y)[..3]
                .iter()
                .map(|&c| u32::from(c))
                .sum::<u32>()
        };
        assert!(lum(col(1.25)) > lum(col(0.5)) + 200, "brighter inside");
    }

    #[test]
    fn a_refused_trigger_keeps_the_clean_picture_and_says_why() {
        let mut r = request(AudioTrigger::Ultrasonic(ToneSpec {
            freq_hz: 9000.0,
            level_dbfs: -20.0,
            duration_secs: 0.2,
            fade_secs: 0.005,
            placement: AudioPlacement::Start,
        }));
        r.clean = Some(Arc::new(AudioPicture::of(&r.audio).expect("clean")));
        let v = compute(r, &|| false).expect("ran").expect("view");
        let e = v.triggered.expect_err("9 kHz at 16 kHz is refused");
        assert!(e.contains("audio.freq_hz") && e.contains("8000"), "{e}");
        assert_eq!(v.clean.envelope.len(), ENVELOPE_BUCKETS);
        assert!(
            compute(request(tone(500.0)), &|| true).is_none(),
            "cancelled"
        );
    }

    #[test]
    fn a_newer_request_supersedes_an_older_one() {
        let old = start_audio_view(request(tone(500.0)), super::super::no_repaint()).expect("job");
        let mut r = request(tone(700.0));
        r.revision = 4;
        let new = start_audio_view(r, super::super::no_repaint()).expect("job");
        drop(old); // what the app does when the revision moves on
        let v = new.recv().expect("sent").expect("view");
        assert_eq!(v.revision, 4);
    }
}
