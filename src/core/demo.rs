//! The built-in demo clip: a seeded procedural animation with a tone, generated in memory so the
//! studio has something honest to play before any file is opened. (The SynthMotion dataset
//! replaces it as the default once the media layer lands.)
//!
//! A disc orbits clockwise over a slowly drifting textured background while a square bounces
//! left and right; the tone's pitch follows the disc's height. Every motion has the clip length as
//! its period, so the clip loops without a jump.

use super::clip::{AudioBuffer, Clip, ClipError, Frame};
use super::time::Rational;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::f32::consts::TAU;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DemoParams {
    pub width: u32,
    pub height: u32,
    pub frames: u32,
    pub fps: u32,
    pub sample_rate_hz: u32,
    pub seed: u64,
}

impl Default for DemoParams {
    fn default() -> Self {
        DemoParams {
            width: 320,
            height: 240,
            frames: 96,
            fps: 24,
            sample_rate_hz: 16_000,
            seed: 0,
        }
    }
}

/// Generates the demo clip. Deterministic: the same params give the same bytes.
pub fn demo_clip(p: &DemoParams) -> Result<Clip, ClipError> {
    if p.fps == 0 {
        return Err(ClipError::BadFps(Rational::ZERO));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(p.seed);
    let disc_rgb: [f32; 3] = [
        rng.random_range(200.0..255.0),
        rng.random_range(60.0..140.0),
        rng.random_range(20.0..80.0),
    ];
    let square_rgb: [f32; 3] = [
        rng.random_range(20.0..80.0),
        rng.random_range(150.0..230.0),
        rng.random_range(200.0..255.0),
    ];
    let phases: [f32; 4] = std::array::from_fn(|_| rng.random_range(0.0..TAU));
    let (w, h) = (p.width as usize, p.height as usize);
    let (wf, hf) = (w as f32, h as f32);
    let n = p.frames.max(1);
    let disc_r = 0.09 * wf.min(hf);
    let orbit_r = 0.28 * wf.min(hf);
    let half_sq = 0.06 * wf.min(hf);

    let mut frames = Vec::with_capacity(n as usize);
    let mut col = vec![0f32; w];
    let mut row = vec![0f32; h];
    for t in 0..n {
        let u = t as f32 / n as f32; // loop phase in [0, 1)
        // Separable background texture: a few drifting sines per axis, cheap per pixel.
        for (x, c) in col.iter_mut().enumerate() {
            let xf = x as f32 / wf;
            *c = 18.0 * (TAU * (3.0 * xf + u) + phases[0]).sin()
                + 8.0 * (TAU * (11.0 * xf - 2.0 * u) + phases[1]).sin();
        }
        for (y, r) in row.iter_mut().enumerate() {
            let yf = y as f32 / hf;
            *r = 18.0 * (TAU * (2.0 * yf - u) + phases[2]).sin()
                + 8.0 * (TAU * (9.0 * yf + u) + phases[3]).sin();
        }
        let (cx, cy) = disc_centre(u, wf, hf, orbit_r);
        let sq_x = wf * (0.5 + 0.38 * (TAU * 2.0 * u).sin());
        let sq_y = hf * 0.85;

        let mut rgb = Vec::with_capacity(w * h * 3);
        for (y, r) in row.iter().enumerate() {
            let yf = y as f32 + 0.5;
            for (x, c) in col.iter().enumerate() {
                let xf = x as f32 + 0.5;
                let base = 96.0 + r + c;
                let mut px = [base * 0.8, base * 0.9, base * 1.1];
                // Anti-aliased disc edge: one pixel of coverage ramp.
                let d = ((xf - cx).powi(2) + (yf - cy).powi(2)).sqrt();
                let cover = (disc_r + 0.5 - d).clamp(0.0, 1.0);
                if cover > 0.0 {
                    for k in 0..3 {
                        px[k] += cover * (disc_rgb[k] - px[k]);
                    }
                }
                if (xf - sq_x).abs() <= half_sq && (yf - sq_y).abs() <= half_sq {
                    px = square_rgb;
                }
                rgb.extend(px.iter().map(|v| v.round().clamp(0.0, 255.0) as u8));
            }
        }
        frames.push(Frame::new(p.width, p.height, rgb)?);
    }

    let fps = Rational::from_int(i64::from(p.fps));
    let audio = demo_tone(p, n, hf, wf, orbit_r)?;
    Clip::new(frames, fps, Some(audio))
}

fn disc_centre(u: f32, wf: f32, hf: f32, orbit_r: f32) -> (f32, f32) {
    // Clockwise on screen (y grows downwards).
    let a = TAU * u;
    (wf * 0.5 + orbit_r * a.cos(), hf * 0.45 + orbit_r * a.sin())
}

/// Pitch follows the disc's height: 220 Hz at the bottom of its orbit, 440 Hz at the top.
fn demo_tone(
    p: &DemoParams,
    n: u32,
    hf: f32,
    wf: f32,
    orbit_r: f32,
) -> Result<AudioBuffer, ClipError> {
    let sr = p.sample_rate_hz;
    if sr == 0 {
        return Err(ClipError::AudioFormat);
    }
    let total = (u64::from(n) * u64::from(sr) / u64::from(p.fps)) as usize;
    let fade = (sr as usize / 100).max(1); // 10 ms ramps so the loop point does not click
    let mut phase = 0f32;
    let samples = (0..total)
        .map(|i| {
            let u = i as f32 / total as f32;
            let (_, cy) = disc_centre(u, wf, hf, orbit_r);
            let height = ((hf * 0.45 + orbit_r - cy) / (2.0 * orbit_r)).clamp(0.0, 1.0);
            let freq = 220.0 * 2f32.powf(height);
            phase = (phase + TAU * freq / sr as f32) % TAU;
            let ramp = (i.min(total - 1 - i) as f32 / fade as f32).min(1.0);
            0.25 * ramp * phase.sin()
        })
        .collect();
    AudioBuffer::new(sr, 1, samples)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> DemoParams {
        DemoParams {
            width: 64,
            height: 48,
            frames: 16,
            fps: 8,
            sample_rate_hz: 8000,
            seed: 3,
        }
    }

    #[test]
    fn deterministic_per_seed() {
        let a = demo_clip(&small()).expect("valid");
        let b = demo_clip(&small()).expect("valid");
        assert_eq!(a, b);
        let c = demo_clip(&DemoParams { seed: 4, ..small() }).expect("valid");
        assert_ne!(a.frames()[0], c.frames()[0]);
    }

    #[test]
    fn shape_timing_and_audio_alignment() {
        let clip = demo_clip(&small()).expect("valid");
        assert_eq!(clip.frames().len(), 16);
        assert_eq!(clip.size(), Some((64, 48)));
        assert_eq!(clip.duration(), Rational::from_int(2));
        let audio = clip.audio().expect("demo has a tone");
        assert_eq!(audio.duration(), clip.duration());
        let peak = audio.samples().iter().fold(0f32, |m, s| m.max(s.abs()));
        assert!(peak > 0.2 && peak <= 0.25, "peak {peak}");
    }

    #[test]
    fn the_animation_moves() {
        let clip = demo_clip(&small()).expect("valid");
        let f = clip.frames();
        let diff: u64 = f[0]
            .rgb()
            .iter()
            .zip(f[4].rgb())
            .map(|(a, b)| u64::from(a.abs_diff(*b)))
            .sum();
        // A quarter orbit later the disc and the square are elsewhere: many pixels change.
        assert!(diff > 64 * 48 * 3 * 10, "mean change too small: {diff}");
    }

    #[test]
    fn zero_fps_is_an_error() {
        assert!(demo_clip(&DemoParams { fps: 0, ..small() }).is_err());
    }
}
