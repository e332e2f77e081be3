//! SynthMotion: a procedural, seeded action dataset whose classes are *motions*, so a model has
//! to use time. Shapes, colours, sizes, speeds, start points and the textured, slowly drifting
//! background are random and independent of the class, so appearance carries no label. Each class
//! also has its own sound (a pitch contour or rhythm, varied per clip), so audio-visual models
//! have two informative modalities; `audio = "uninformative"` gives every clip the sound of a
//! random class instead.
//!
//! It exists so TriggerLab runs end to end without downloading a dataset, and so tests and
//! teaching have a task with a known answer. It is not a substitute for real action data.

use super::clip::{AudioBuffer, Clip, ClipError, Frame};
use super::rng::{Stream, rng_for};
use super::spec_error::SpecError;
use super::time::Rational;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::f32::consts::{PI, TAU};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Motion {
    MoveLeft,
    MoveRight,
    MoveUp,
    MoveDown,
    CircleCw,
    CircleCcw,
    Grow,
    Shrink,
    Shake,
    ZigZag,
}

impl Motion {
    pub const ALL: [Motion; 10] = [
        Motion::MoveLeft,
        Motion::MoveRight,
        Motion::MoveUp,
        Motion::MoveDown,
        Motion::CircleCw,
        Motion::CircleCcw,
        Motion::Grow,
        Motion::Shrink,
        Motion::Shake,
        Motion::ZigZag,
    ];

    /// The class name (UCF-101 style, used for folders).
    pub fn name(self) -> &'static str {
        match self {
            Motion::MoveLeft => "MoveLeft",
            Motion::MoveRight => "MoveRight",
            Motion::MoveUp => "MoveUp",
            Motion::MoveDown => "MoveDown",
            Motion::CircleCw => "CircleClockwise",
            Motion::CircleCcw => "CircleCounterClockwise",
            Motion::Grow => "Grow",
            Motion::Shrink => "Shrink",
            Motion::Shake => "Shake",
            Motion::ZigZag => "ZigZag",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SynthAudio {
    /// Each class has its own sound.
    #[default]
    Informative,
    /// Each clip gets the sound of a random class: audio carries no label.
    Uninformative,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SynthSpec {
    /// The first `classes` motions of [`Motion::ALL`] (1..=10).
    pub classes: usize,
    pub per_class: usize,
    pub frames: usize,
    /// Square frame side in pixels.
    pub size: u32,
    pub fps: u32,
    pub sample_rate_hz: u32,
    pub audio: SynthAudio,
    pub seed: u64,
}

impl Default for SynthSpec {
    fn default() -> Self {
        SynthSpec {
            classes: 10,
            per_class: 100,
            frames: 16,
            size: 64,
            fps: 8,
            sample_rate_hz: 16_000,
            audio: SynthAudio::Informative,
            seed: 0,
        }
    }
}

impl SynthSpec {
    pub fn validate(&self) -> Result<(), SpecError> {
        if !(1..=Motion::ALL.len()).contains(&self.classes) {
            return Err(SpecError::new(
                "classes",
                format!("must be 1..={}", Motion::ALL.len()),
            ));
        }
        if self.per_class == 0 {
            return Err(SpecError::new("per_class", "must be at least 1"));
        }
        if self.frames < 2 {
            return Err(SpecError::new("frames", "a motion needs at least 2 frames"));
        }
        if !(16..=1024).contains(&self.size) {
            return Err(SpecError::new("size", "must be 16..=1024 pixels"));
        }
        if self.fps == 0 {
            return Err(SpecError::new("fps", "must be at least 1"));
        }
        if !(4000..=192_000).contains(&self.sample_rate_hz) {
            return Err(SpecError::new("sample_rate_hz", "must be 4000..=192000"));
        }
        Ok(())
    }

    pub fn motions(&self) -> &[Motion] {
        &Motion::ALL[..self.classes.min(Motion::ALL.len())]
    }
}

#[derive(Clone, Copy, Debug)]
enum Shape {
    Circle,
    Square,
    Diamond,
    Triangle,
    Ring,
}

/// Signed distance (pixels) from (x, y) to a shape of radius `r` centred at the origin.
fn sdf(shape: Shape, x: f32, y: f32, r: f32) -> f32 {
    match shape {
        Shape::Circle => (x * x + y * y).sqrt() - r,
        Shape::Square => x.abs().max(y.abs()) - 0.85 * r,
        Shape::Diamond => (x.abs() + y.abs()) * std::f32::consts::FRAC_1_SQRT_2 - 0.75 * r,
        Shape::Triangle => {
            // Equilateral, pointing up.
            let k = 3f32.sqrt();
            let (mut px, mut py) = (x.abs() - r, -y + r / k);
            if px + k * py > 0.0 {
                (px, py) = ((px - k * py) / 2.0, (-k * px - py) / 2.0);
            }
            px -= px.clamp(-2.0 * r, 0.0);
            -(px * px + py * py).sqrt() * py.signum()
        }
        Shape::Ring => ((x * x + y * y).sqrt() - 0.75 * r).abs() - 0.28 * r,
    }
}

/// Where the object is and how big, at frame `t` of `n`.
struct Path {
    pos: Vec<(f32, f32)>,
    radius: Vec<f32>,
}

fn plan_path(motion: Motion, n: usize, size: f32, rng: &mut ChaCha8Rng) -> Path {
    let r0 = size * rng.random_range(0.08..0.15);
    let margin = r0 * 1.2;
    let span = size - 2.0 * margin;
    let u = |t: usize| t as f32 / (n - 1) as f32;
    let mut pos = Vec::with_capacity(n);
    let mut radius = vec![r0; n];
    match motion {
        Motion::MoveLeft | Motion::MoveRight | Motion::MoveUp | Motion::MoveDown => {
            let travel = span * rng.random_range(0.45..0.8);
            let along0 = margin + rng.random_range(0.0..(span - travel).max(0.01));
            let across = margin + rng.random_range(0.0..span);
            for t in 0..n {
                let s = along0 + travel * u(t);
                pos.push(match motion {
                    Motion::MoveRight => (s, across),
                    Motion::MoveLeft => (size - s, across),
                    Motion::MoveDown => (across, s),
                    _ => (across, size - s),
                });
            }
        }
        Motion::CircleCw | Motion::CircleCcw => {
            let rad = span * rng.random_range(0.22..0.38);
            let cx = size / 2.0 + rng.random_range(-1.0..1.0) * (span / 2.0 - rad).max(0.0);
            let cy = size / 2.0 + rng.random_range(-1.0..1.0) * (span / 2.0 - rad).max(0.0);
            let phase = rng.random_range(0.0..TAU);
            let sweep = TAU * rng.random_range(0.6..0.95);
            let dir = if motion == Motion::CircleCw {
                1.0
            } else {
                -1.0
            };
            for t in 0..n {
                // y grows downwards, so an increasing angle turns clockwise on screen.
                let a = phase + dir * sweep * u(t);
                pos.push((cx + rad * a.cos(), cy + rad * a.sin()));
            }
        }
        Motion::Grow | Motion::Shrink => {
            let (small, big) = (rng.random_range(0.45..0.7), rng.random_range(1.5..2.2));
            let p = (
                margin * 2.0 + rng.random_range(0.0..(span - 2.0 * margin).max(0.01)),
                margin * 2.0 + rng.random_range(0.0..(span - 2.0 * margin).max(0.01)),
            );
            for (t, r) in radius.iter_mut().enumerate() {
                let s = if motion == Motion::Grow {
                    small + (big - small) * u(t)
                } else {
                    big + (small - big) * u(t)
                };
                *r = r0 * s;
                pos.push(p);
            }
        }
        Motion::Shake => {
            let amp = size * rng.random_range(0.05..0.09);
            let p = (
                margin + amp + rng.random_range(0.0..(span - 2.0 * amp).max(0.01)),
                margin + amp + rng.random_range(0.0..(span - 2.0 * amp).max(0.01)),
            );
            for _ in 0..n {
                pos.push((
                    p.0 + amp * rng.random_range(-1.0..1.0),
                    p.1 + amp * rng.random_range(-1.0..1.0),
                ));
            }
        }
        Motion::ZigZag => {
            let travel = span * rng.random_range(0.45..0.75);
            let x0 = margin + rng.random_range(0.0..(span - travel).max(0.01));
            let amp = size * rng.random_range(0.1..0.16);
            let yc = margin + amp + rng.random_range(0.0..(span - 2.0 * amp).max(0.01));
            let periods = rng.random_range(1.5..2.5);
            let leftwards = rng.random_bool(0.5);
            for t in 0..n {
                let x = x0 + travel * u(t);
                let tri = 2.0 * (2.0 * ((periods * u(t)) % 1.0) - 1.0).abs() - 1.0;
                pos.push((if leftwards { size - x } else { x }, yc + amp * tri));
            }
        }
    }
    Path { pos, radius }
}

/// A random colour and a background palette far enough from it in brightness to be visible.
fn palette(rng: &mut ChaCha8Rng) -> ([f32; 3], [f32; 3], [f32; 3]) {
    let hue = |rng: &mut ChaCha8Rng, lo: f32, hi: f32| -> [f32; 3] {
        std::array::from_fn(|_| rng.random_range(lo..hi))
    };
    if rng.random_bool(0.5) {
        (
            hue(rng, 160.0, 255.0),
            hue(rng, 20.0, 70.0),
            hue(rng, 40.0, 100.0),
        )
    } else {
        (
            hue(rng, 0.0, 90.0),
            hue(rng, 150.0, 200.0),
            hue(rng, 180.0, 240.0),
        )
    }
}

/// Renders the frames of one clip.
fn render(spec: &SynthSpec, motion: Motion, rng: &mut ChaCha8Rng) -> Result<Vec<Frame>, ClipError> {
    let (n, size) = (spec.frames, spec.size as usize);
    let sf = size as f32;
    let shape = [
        Shape::Circle,
        Shape::Square,
        Shape::Diamond,
        Shape::Triangle,
        Shape::Ring,
    ][rng.random_range(0..5)];
    let (fg, bg_a, bg_b) = palette(rng);
    let path = plan_path(motion, n, sf, rng);
    // Background: two drifting gratings and a fixed grain, drifting in a random direction.
    let gratings: Vec<(f32, f32, f32, f32)> = (0..2)
        .map(|_| {
            let ang = rng.random_range(0.0..PI);
            let freq = rng.random_range(1.0..4.0) * TAU / sf;
            (
                ang.cos() * freq,
                ang.sin() * freq,
                rng.random_range(0.0..TAU),
                rng.random_range(0.3..0.6),
            )
        })
        .collect();
    let drift_ang = rng.random_range(0.0..TAU);
    let drift = rng.random_range(0.0..0.15) * sf / n as f32; // pixels per frame
    let grain: Vec<f32> = (0..size * size)
        .map(|_| rng.random_range(-10.0..10.0))
        .collect();
    (0..n)
        .map(|t| {
            let (dx, dy) = (
                drift_ang.cos() * drift * t as f32,
                drift_ang.sin() * drift * t as f32,
            );
            let (cx, cy) = path.pos[t];
            let r = path.radius[t];
            let mut rgb = Vec::with_capacity(size * size * 3);
            for y in 0..size {
                for x in 0..size {
                    let (bx, by) = (x as f32 + dx, y as f32 + dy);
                    let mut mix = 0.5;
                    for &(kx, ky, ph, amp) in &gratings {
                        mix += 0.5 * amp * (kx * bx + ky * by + ph).sin();
                    }
                    let gx = (bx.rem_euclid(sf)) as usize % size;
                    let gy = (by.rem_euclid(sf)) as usize % size;
                    let g = grain[gy * size + gx];
                    let cover = (0.5 - sdf(shape, x as f32 + 0.5 - cx, y as f32 + 0.5 - cy, r))
                        .clamp(0.0, 1.0);
                    for c in 0..3 {
                        let b = bg_a[c] + (bg_b[c] - bg_a[c]) * mix.clamp(0.0, 1.0) + g;
                        rgb.push((b + cover * (fg[c] - b)).round().clamp(0.0, 255.0) as u8);
                    }
                }
            }
            Frame::new(spec.size, spec.size, rgb)
        })
        .collect()
}

/// The class sound of `motion`, `secs` long, varied by `rng`.
fn sound(motion: Motion, secs: f32, sr: u32, rng: &mut ChaCha8Rng) -> Vec<f32> {
    let n = (secs * sr as f32).round() as usize;
    let srf = sr as f32;
    let var = |rng: &mut ChaCha8Rng| rng.random_range(0.85..1.15);
    let (base, rate) = (var(rng), var(rng));
    let mut phase = rng.random_range(0.0..TAU);
    let mut out = Vec::with_capacity(n);
    let mut noise_rng = rng_for(rng.random(), Stream::SynthAudio, 0);
    for i in 0..n {
        let t = i as f32 / srf;
        let u = t / secs.max(1e-3);
        // (frequency, amplitude) at time t
        let (f, a) = match motion {
            Motion::MoveLeft => (750.0 * base * 2f32.powf(-u), 0.3),
            Motion::MoveRight => (375.0 * base * 2f32.powf(u), 0.3),
            Motion::MoveUp => (
                1200.0 * base * (1.0 + 0.03 * (TAU * 6.0 * rate * t).sin()),
                0.25,
            ),
            Motion::MoveDown => (200.0 * base, 0.35),
            Motion::CircleCw => (
                800.0 * base,
                if (t * 4.0 * rate).fract() < 0.35 {
                    0.3
                } else {
                    0.0
                },
            ),
            Motion::CircleCcw => (
                600.0 * base,
                if (t * 1.5 * rate).fract() < 0.6 {
                    0.3
                } else {
                    0.0
                },
            ),
            Motion::Grow => (500.0 * base, 0.05 + 0.35 * u),
            Motion::Shrink => (500.0 * base, 0.4 - 0.35 * u),
            Motion::Shake => (0.0, 0.25 * (0.5 + 0.5 * (TAU * 12.0 * rate * t).sin())),
            Motion::ZigZag => (
                if (t * 5.0 * rate).fract() < 0.5 {
                    450.0
                } else {
                    900.0
                } * base,
                0.3,
            ),
        };
        phase = (phase + TAU * f / srf) % TAU;
        let tone = if f > 0.0 {
            // A little second harmonic makes it less synthetic.
            phase.sin() + 0.3 * (2.0 * phase).sin()
        } else {
            noise_rng.random_range(-1.0..1.0)
        };
        let hiss = 0.01 * noise_rng.random_range(-1.0f32..1.0);
        out.push(0.8 * a * tone + hiss);
    }
    // 5 ms fades so clips do not click.
    let fade = (sr as usize / 200).min(n / 2).max(1);
    for i in 0..fade {
        let g = i as f32 / fade as f32;
        out[i] *= g;
        out[n - 1 - i] *= g;
    }
    out
}

/// Whether clip `index` of a class belongs to the test split. Clips come in groups of 4 as in
/// UCF-101 (`gNN_cNN`); the first ~28 % of groups test (UCF-101's split 1 keeps groups 1–7 of
/// 25), and with a single group the first clip of each class tests (when there is more than one).
pub fn is_test_clip(per_class: usize, index: usize) -> bool {
    let groups = (per_class.max(1) - 1) / 4 + 1;
    let group = index / 4 + 1;
    if groups >= 2 {
        let test_groups = ((groups as f64 * 0.28).round() as usize).clamp(1, groups - 1);
        group <= test_groups
    } else {
        per_class > 1 && index.is_multiple_of(4)
    }
}

/// Clip `index` of class `class` (0-based), deterministic in (`spec.seed`, class, index).
pub fn synth_clip(spec: &SynthSpec, class: usize, index: usize) -> Result<Clip, SpecError> {
    spec.validate()?;
    let motion = *spec.motions().get(class).ok_or_else(|| {
        SpecError::new(
            "class",
            format!("{class} is not one of the {} classes", spec.classes),
        )
    })?;
    let key = (class as u64) << 32 | index as u64;
    let mut rng = rng_for(spec.seed, Stream::Synth, key);
    let frames =
        render(spec, motion, &mut rng).map_err(|e| SpecError::new("size", e.to_string()))?;
    let mut arng = rng_for(spec.seed, Stream::SynthAudio, key);
    let voice = match spec.audio {
        SynthAudio::Informative => motion,
        SynthAudio::Uninformative => Motion::ALL[arng.random_range(0..Motion::ALL.len())],
    };
    let secs = spec.frames as f32 / spec.fps as f32;
    let samples = sound(voice, secs, spec.sample_rate_hz, &mut arng);
    let audio = AudioBuffer::new(spec.sample_rate_hz, 1, samples)
        .map_err(|e| SpecError::new("sample_rate_hz", e.to_string()))?;
    Clip::new(frames, Rational::from_int(i64::from(spec.fps)), Some(audio))
        .map_err(|e| SpecError::new("fps", e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> SynthSpec {
        SynthSpec {
            classes: 10,
            per_class: 2,
            frames: 8,
            size: 32,
            fps: 8,
            sample_rate_hz: 8000,
            audio: SynthAudio::Informative,
            seed: 5,
        }
    }

    /// Centre of mass of the pixels far from the frame's median colour (the object).
    fn centroid(f: &Frame) -> (f32, f32, f32) {
        let w = f.width() as usize;
        let lum: Vec<f32> = f
            .rgb()
            .chunks(3)
            .map(|p| p.iter().map(|&v| f32::from(v)).sum::<f32>())
            .collect();
        let mut sorted = lum.clone();
        sorted.sort_by(f32::total_cmp);
        let med = sorted[sorted.len() / 2];
        let (mut sx, mut sy, mut n) = (0f32, 0f32, 0f32);
        for (i, &l) in lum.iter().enumerate() {
            if (l - med).abs() > 150.0 {
                sx += (i % w) as f32;
                sy += (i / w) as f32;
                n += 1.0;
            }
        }
        (sx / n.max(1.0), sy / n.max(1.0), n)
    }

    #[test]
    fn deterministic_and_distinct() {
        let a = synth_clip(&small(), 3, 1).expect("clip");
        assert_eq!(a, synth_clip(&small(), 3, 1).expect("clip"));
        assert_ne!(
            a.frames()[0],
            synth_clip(&small(), 3, 2).expect("clip").frames()[0]
        );
        assert_eq!(a.frames().len(), 8);
        assert_eq!(a.audio().expect("audio").len_frames(), 8000);
    }

    #[test]
    fn objects_move_as_their_class_says() {
        let spec = SynthSpec {
            size: 64,
            frames: 12,
            ..small()
        };
        for i in 0..4 {
            let c = |m: Motion| {
                let clip = synth_clip(
                    &spec,
                    Motion::ALL.iter().position(|x| *x == m).expect("class"),
                    i,
                )
                .expect("clip");
                (centroid(&clip.frames()[0]), centroid(&clip.frames()[11]))
            };
            let (a, b) = c(Motion::MoveLeft);
            assert!(b.0 < a.0 - 8.0, "left: {a:?} → {b:?}");
            let (a, b) = c(Motion::MoveRight);
            assert!(b.0 > a.0 + 8.0, "right: {a:?} → {b:?}");
            let (a, b) = c(Motion::MoveUp);
            assert!(b.1 < a.1 - 8.0, "up: {a:?} → {b:?}");
            let (a, b) = c(Motion::MoveDown);
            assert!(b.1 > a.1 + 8.0, "down: {a:?} → {b:?}");
            let (a, b) = c(Motion::Grow);
            assert!(b.2 > a.2 * 1.5, "grow: {a:?} → {b:?}");
            let (a, b) = c(Motion::Shrink);
            assert!(b.2 < a.2 / 1.5, "shrink: {a:?} → {b:?}");
        }
    }

    #[test]
    fn class_sounds_differ_and_uninformative_mode_decouples_them() {
        let energy_in = |c: &Clip, lo: usize, hi: usize| {
            let s = c.audio().expect("audio").samples();
            s[lo..hi].iter().map(|v| v * v).sum::<f32>()
        };
        // Grow gets louder, Shrink quieter.
        let g = synth_clip(&small(), 6, 0).expect("clip");
        assert!(energy_in(&g, 6000, 8000) > 3.0 * energy_in(&g, 0, 2000));
        let s = synth_clip(&small(), 7, 0).expect("clip");
        assert!(energy_in(&s, 0, 2000) > 3.0 * energy_in(&s, 6000, 8000));
        let un = SynthSpec {
            audio: SynthAudio::Uninformative,
            ..small()
        };
        let voices: Vec<Vec<f32>> = (0..6)
            .map(|i| {
                synth_clip(&un, 0, i)
                    .expect("clip")
                    .audio()
                    .expect("a")
                    .samples()
                    .to_vec()
            })
            .collect();
        assert!(voices.iter().any(|v| v != &voices[0]));
    }

    #[test]
    fn invalid_specs_name_the_field() {
        assert_eq!(
            SynthSpec {
                classes: 11,
                ..small()
            }
            .validate()
            .expect_err("11")
            .field,
            "classes"
        );
        assert_eq!(
            SynthSpec {
                frames: 1,
                ..small()
            }
            .validate()
            .expect_err("1")
            .field,
            "frames"
        );
        assert_eq!(
            synth_clip(
                &SynthSpec {
                    classes: 2,
                    ..small()
                },
                2,
                0
            )
            .expect_err("class")
            .field,
            "class"
        );
    }
}
