//! Log-mel spectrograms for the audio model: STFT (Hann window, realfft), an HTK mel filterbank,
//! log, then standardised per clip.

use realfft::RealFftPlanner;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MelConfig {
    pub sample_rate_hz: u32,
    /// Window and hop in samples (25 ms and 10 ms at 16 kHz).
    pub window: usize,
    pub hop: usize,
    pub n_fft: usize,
    pub mels: usize,
}

impl Default for MelConfig {
    fn default() -> Self {
        MelConfig {
            sample_rate_hz: 16_000,
            window: 400,
            hop: 160,
            n_fft: 512,
            mels: 64,
        }
    }
}

fn hz_to_mel(f: f64) -> f64 {
    2595.0 * (1.0 + f / 700.0).log10()
}

fn mel_to_hz(m: f64) -> f64 {
    700.0 * (10f64.powf(m / 2595.0) - 1.0)
}

impl MelConfig {
    /// Frames of a signal of `n` samples.
    pub fn frames(&self, n: usize) -> usize {
        if n < self.window {
            1
        } else {
            1 + (n - self.window) / self.hop
        }
    }

    /// Triangular mel filters over the FFT bins, `mels × (n_fft/2 + 1)`.
    fn filterbank(&self) -> Vec<f32> {
        let bins = self.n_fft / 2 + 1;
        let (lo, hi) = (
            hz_to_mel(0.0),
            hz_to_mel(f64::from(self.sample_rate_hz) / 2.0),
        );
        let pts: Vec<f64> = (0..self.mels + 2)
            .map(|i| mel_to_hz(lo + (hi - lo) * i as f64 / (self.mels + 1) as f64))
            .map(|hz| hz * self.n_fft as f64 / f64::from(self.sample_rate_hz))
            .collect();
        let mut fb = vec![0f32; self.mels * bins];
        for m in 0..self.mels {
            let (l, c, r) = (pts[m], pts[m + 1], pts[m + 2]);
            for k in 0..bins {
                let kf = k as f64;
                let v = if kf > l && kf <= c {
                    (kf - l) / (c - l).max(1e-9)
                } else if kf > c && kf < r {
                    (r - kf) / (r - c).max(1e-9)
                } else {
                    0.0
                };
                fb[m * bins + k] = v as f32;
            }
        }
        fb
    }

    /// The standardised log-mel spectrogram of mono `samples`, `frames × mels`, row-major.
    pub fn log_mel(&self, samples: &[f32]) -> Vec<f32> {
        let frames = self.frames(samples.len());
        let bins = self.n_fft / 2 + 1;
        let fb = self.filterbank();
        let mut planner = RealFftPlanner::<f32>::new();
        let fft = planner.plan_fft_forward(self.n_fft);
        let mut input = fft.make_input_vec();
        let mut spectrum = fft.make_output_vec();
        let hann: Vec<f32> = (0..self.window)
            .map(|i| 0.5 - 0.5 * (std::f32::consts::TAU * i as f32 / self.window as f32).cos())
            .collect();
        let mut out = Vec::with_capacity(frames * self.mels);
        let mut power = vec![0f32; bins];
        for f in 0..frames {
            input.iter_mut().for_each(|v| *v = 0.0);
            for i in 0..self.window {
                input[i] = samples.get(f * self.hop + i).copied().unwrap_or(0.0) * hann[i];
            }
            if fft.process(&mut input, &mut spectrum).is_err() {
                power.iter_mut().for_each(|p| *p = 0.0);
            } else {
                for (p, c) in power.iter_mut().zip(&spectrum) {
                    *p = c.norm_sqr();
                }
            }
            for m in 0..self.mels {
                let e: f32 = fb[m * bins..(m + 1) * bins]
                    .iter()
                    .zip(&power)
                    .map(|(w, p)| w * p)
                    .sum();
                out.push((e + 1e-6).ln());
            }
        }
        // Per-clip standardisation: loudness changes within the clip (crescendo) remain.
        let n = out.len() as f32;
        let mean = out.iter().sum::<f32>() / n;
        let std = (out.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / n)
            .sqrt()
            .max(1e-3);
        out.iter_mut().for_each(|v| *v = (*v - mean) / std);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tone_lights_up_the_mel_band_of_its_frequency() {
        let cfg = MelConfig::default();
        let tone = |f: f32| -> Vec<f32> {
            (0..16000)
                .map(|i| (std::f32::consts::TAU * f * i as f32 / 16000.0).sin())
                .collect()
        };
        let peak = |s: &[f32]| {
            let spec = cfg.log_mel(s);
            let frame = &spec[10 * cfg.mels..11 * cfg.mels];
            frame
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map(|(i, _)| i)
                .unwrap_or(0)
        };
        assert_eq!(cfg.frames(16000), 98);
        let (lo, hi) = (peak(&tone(300.0)), peak(&tone(3000.0)));
        assert!(hi > lo + 10, "300 Hz → band {lo}, 3000 Hz → band {hi}");
    }
}
