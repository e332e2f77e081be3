//! Stealth metrics: how visible (or audible) a trigger is.
//!
//! - PSNR in dB over all bytes of a frame (`None` when identical).
//! - SSIM as Wang et al. 2004 with an 11-tap Gaussian window (σ = 1.5), K1 = 0.01, K2 = 0.03,
//!   L = 255, computed per RGB channel over the positions where the window fits, then averaged
//!   (the same as scikit-image's `structural_similarity(gaussian_weights=True, sigma=1.5,
//!   use_sample_covariance=False, data_range=255, channel_axis=2)`).
//! - L∞: the largest absolute change of any byte.
//! - Temporal flicker: the mean over consecutive frame pairs of the mean |Δₜ − Δₜ₋₁|, where Δ is
//!   the poisoned-minus-clean difference — 0 for a trigger that is the same on every frame,
//!   large for one that changes.
//! - Audio SNR in dB: clean energy over the energy of what was added.

use super::clip::Frame;
use serde::Serialize;

pub fn psnr_db(a: &[u8], b: &[u8]) -> Option<f64> {
    // Integer squares sum exactly (a 4K frame's SSE is far below 2^53).
    let sse: u64 = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| u64::from(x.abs_diff(y)).pow(2))
        .sum();
    psnr_from_sse(sse, a.len())
}

/// PSNR of `n` samples whose squared differences sum to `sse` (`None`: nothing changed).
pub fn psnr_from_sse(sse: u64, n: usize) -> Option<f64> {
    let mse = sse as f64 / n.max(1) as f64;
    (mse > 0.0).then(|| 10.0 * (255.0 * 255.0 / mse).log10())
}

/// Byte lanes per step of [`diff_stats`]: one AVX-512 register, two AVX2 ones.
const DIFF_LANES: usize = 64;
/// Steps between flushes of the u32 squared-difference lanes into the u64 sum: each step adds
/// at most 255² to a lane, and 65 536 · 255² < 2³².
const DIFF_FLUSH_STEPS: usize = 1 << 16;

/// `min(d·gain, 255)` truncated to a byte, as `(d as f32 * gain).min(255.0) as u8` for every
/// `gain` (NaN included). A saturating float-to-int cast stays scalar even in a vectorised loop;
/// clamping, truncating and adding 1.5·2²³ (which leaves the integer in the low bits) does not.
#[inline(always)]
#[allow(clippy::manual_clamp)] // clamp keeps a NaN (NaN gain); min then max gives 255, as the cast
fn amplify(d: u8, gain: f32) -> u8 {
    const MAGIC: f32 = 12_582_912.0;
    ((f32::from(d) * gain).min(255.0).max(0.0).trunc() + MAGIC).to_bits() as u8
}

/// One pass over two frames' samples: writes `min(|a − b|·gain, 255)` (truncated) per sample
/// into `out` (the preview's amplified difference image) and returns the sum of squared
/// differences and the L∞ of the same samples. Covers the shortest of the three slices.
pub fn diff_stats(a: &[u8], b: &[u8], gain: f32, out: &mut [u8]) -> (u64, u8) {
    let n = a.len().min(b.len()).min(out.len());
    diff_kernel(&a[..n], &b[..n], gain, &mut out[..n])
}

crate::core::trigger::simd_kernel! {
/// [`diff_stats`] on equal-length slices, in fixed-size lanes so that it vectorises: the L∞
/// and the squared sums are kept per lane and reduced at the end (integers, so exact).
fn diff_kernel(a: &[u8], b: &[u8], gain: f32, out: &mut [u8]) -> (u64, u8) {
    let (mut sse, mut max) = (0u64, [0u8; DIFF_LANES]);
    let block = DIFF_LANES * DIFF_FLUSH_STEPS;
    for ((a, b), out) in a.chunks(block).zip(b.chunks(block)).zip(out.chunks_mut(block)) {
        let (ca, ra) = a.as_chunks::<DIFF_LANES>();
        let (cb, rb) = b.as_chunks::<DIFF_LANES>();
        let (co, ro) = out.as_chunks_mut::<DIFF_LANES>();
        let mut acc = [0u32; DIFF_LANES];
        for ((x, y), o) in ca.iter().zip(cb).zip(co.iter_mut()) {
            for i in 0..DIFF_LANES {
                let d = x[i].abs_diff(y[i]);
                max[i] = max[i].max(d);
                // Wrapping: cannot overflow (see DIFF_FLUSH_STEPS), and an overflow check (the
                // dev profile has them) would keep the loop scalar.
                acc[i] = acc[i].wrapping_add(u32::from(d).wrapping_mul(u32::from(d)));
                o[i] = amplify(d, gain);
            }
        }
        sse += acc.iter().map(|&v| u64::from(v)).sum::<u64>();
        for ((&x, &y), o) in ra.iter().zip(rb).zip(ro.iter_mut()) {
            let d = x.abs_diff(y);
            max[0] = max[0].max(d);
            sse += u64::from(d) * u64::from(d);
            *o = amplify(d, gain);
        }
    }
    (sse, max.into_iter().max().unwrap_or(0))
}
}

pub fn linf(a: &[u8], b: &[u8]) -> u8 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| x.abs_diff(y))
        .max()
        .unwrap_or(0)
}

const SSIM_RADIUS: usize = 5;

fn gaussian_taps() -> [f64; 2 * SSIM_RADIUS + 1] {
    let sigma: f64 = 1.5;
    let mut w = [0.0; 2 * SSIM_RADIUS + 1];
    for (i, v) in w.iter_mut().enumerate() {
        let x = i as f64 - SSIM_RADIUS as f64;
        *v = (-x * x / (2.0 * sigma * sigma)).exp();
    }
    let s: f64 = w.iter().sum();
    w.map(|v| v / s)
}

/// Separable Gaussian filter over the "valid" positions (window fully inside). `None` as soon as
/// `stop` says so (checked every 32 rows), so a caller can drop a 720p pass for newer work.
fn filter_valid(
    x: &[f64],
    w: usize,
    h: usize,
    taps: &[f64],
    stop: &mut dyn FnMut() -> bool,
) -> Option<Vec<f64>> {
    let k = taps.len();
    let (vw, vh) = (w + 1 - k, h + 1 - k);
    let mut tmp = vec![0.0; vw * h];
    for y in 0..h {
        if y % 32 == 0 && stop() {
            return None;
        }
        let row = &x[y * w..(y + 1) * w];
        for (x0, out) in tmp[y * vw..(y + 1) * vw].iter_mut().enumerate() {
            *out = taps.iter().zip(&row[x0..x0 + k]).map(|(t, v)| t * v).sum();
        }
    }
    let mut out = vec![0.0; vw * vh];
    for y0 in 0..vh {
        if y0 % 32 == 0 && stop() {
            return None;
        }
        let dst = &mut out[y0 * vw..(y0 + 1) * vw];
        for (t, &tap) in taps.iter().enumerate() {
            let src = &tmp[(y0 + t) * vw..(y0 + t + 1) * vw];
            for (d, v) in dst.iter_mut().zip(src) {
                *d += tap * v;
            }
        }
    }
    Some(out)
}

/// Mean SSIM of two same-sized frames; `None` if a side is shorter than the 11-pixel window.
pub fn ssim(a: &Frame, b: &Frame) -> Option<f64> {
    ssim_until(a, b, &mut || false).flatten()
}

/// [`ssim`] that gives up (outer `None`) as soon as `stop` returns true; the preview uses it so
/// a newer frame never waits for a whole-frame SSIM.
pub fn ssim_until(a: &Frame, b: &Frame, stop: &mut dyn FnMut() -> bool) -> Option<Option<f64>> {
    let (w, h) = (a.width() as usize, a.height() as usize);
    if (w, h) != (b.width() as usize, b.height() as usize)
        || w < 2 * SSIM_RADIUS + 1
        || h < 2 * SSIM_RADIUS + 1
    {
        return Some(None);
    }
    let taps = gaussian_taps();
    let (c1, c2) = ((0.01f64 * 255.0).powi(2), (0.03f64 * 255.0).powi(2));
    let mut total = 0.0;
    for c in 0..3 {
        let pa: Vec<f64> = a
            .rgb()
            .iter()
            .skip(c)
            .step_by(3)
            .map(|&v| f64::from(v))
            .collect();
        let pb: Vec<f64> = b
            .rgb()
            .iter()
            .skip(c)
            .step_by(3)
            .map(|&v| f64::from(v))
            .collect();
        let prod = |x: &[f64], y: &[f64]| x.iter().zip(y).map(|(p, q)| p * q).collect::<Vec<_>>();
        let mu_a = filter_valid(&pa, w, h, &taps, stop)?;
        let mu_b = filter_valid(&pb, w, h, &taps, stop)?;
        let aa = filter_valid(&prod(&pa, &pa), w, h, &taps, stop)?;
        let bb = filter_valid(&prod(&pb, &pb), w, h, &taps, stop)?;
        let ab = filter_valid(&prod(&pa, &pb), w, h, &taps, stop)?;
        let n = mu_a.len();
        let mut sum = 0.0;
        for i in 0..n {
            let (ma, mb) = (mu_a[i], mu_b[i]);
            let va = aa[i] - ma * ma;
            let vb = bb[i] - mb * mb;
            let cov = ab[i] - ma * mb;
            sum += ((2.0 * ma * mb + c1) * (2.0 * cov + c2))
                / ((ma * ma + mb * mb + c1) * (va + vb + c2));
        }
        total += sum / n as f64;
    }
    Some(Some(total / 3.0))
}

/// Mean |Δₜ − Δₜ₋₁| over consecutive frames (Δ = poisoned − clean); `None` for < 2 frames.
pub fn temporal_flicker(clean: &[Frame], poisoned: &[Frame]) -> Option<f64> {
    if clean.len() < 2 || clean.len() != poisoned.len() {
        return None;
    }
    let (mut sum, mut n) = (0.0, 0usize);
    for (c, p) in clean.windows(2).zip(poisoned.windows(2)) {
        let (s, k) = flicker_pair((&c[0], &p[0]), (&c[1], &p[1]));
        sum += s;
        n += k;
    }
    Some(sum / n as f64)
}

/// Σ |Δₜ − Δₜ₋₁| over one pair of consecutive (clean, poisoned) frames, and the samples summed.
fn flicker_pair(before: (&Frame, &Frame), now: (&Frame, &Frame)) -> (f64, usize) {
    let (c0, p0, c1, p1) = (before.0.rgb(), before.1.rgb(), now.0.rgb(), now.1.rgb());
    let mut sum = 0.0;
    for i in 0..c1.len().min(c0.len()) {
        let d1 = f64::from(p1[i]) - f64::from(c1[i]);
        let d0 = f64::from(p0[i]) - f64::from(c0[i]);
        sum += (d1 - d0).abs();
    }
    (sum, c1.len())
}

/// 10·log10(Σ clean² / Σ (poisoned − clean)²); `None` when nothing changed.
pub fn audio_snr_db(clean: &[f32], poisoned: &[f32]) -> Option<f64> {
    let sig: f64 = clean.iter().map(|&v| f64::from(v).powi(2)).sum();
    let noise: f64 = clean
        .iter()
        .zip(poisoned)
        .map(|(&c, &p)| (f64::from(p) - f64::from(c)).powi(2))
        .sum();
    (noise > 0.0).then(|| 10.0 * (sig / noise).log10())
}

/// Per-frame and summary stealth figures of a poisoned clip against its clean original.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StealthReport {
    /// Per frame, `null` where the frame is unchanged.
    pub psnr_db: Vec<Option<f64>>,
    pub ssim: Vec<Option<f64>>,
    /// Means over the changed frames (`null` if none changed).
    pub psnr_db_mean: Option<f64>,
    pub ssim_mean: Option<f64>,
    pub linf: u8,
    pub temporal_flicker: Option<f64>,
    pub audio_snr_db: Option<f64>,
}

pub fn stealth(
    clean: &[Frame],
    poisoned: &[Frame],
    audio: Option<(&[f32], &[f32])>,
) -> StealthReport {
    let mut acc = StealthAccumulator::default();
    for (i, (c, p)) in clean.iter().zip(poisoned).enumerate() {
        let before = i.checked_sub(1).map(|j| (&clean[j], &poisoned[j]));
        acc.push(c, p, before, &mut || false);
    }
    acc.finish(audio)
}

/// The figures of [`stealth`], a frame at a time: the preview feeds it while idle and stops
/// between (or inside) frames when a newer request arrives, keeping what it has.
#[derive(Clone, Debug, Default)]
pub struct StealthAccumulator {
    psnr: Vec<Option<f64>>,
    ssim: Vec<Option<f64>>,
    linf: u8,
    flicker: (f64, usize),
}

impl StealthAccumulator {
    /// Frames taken so far.
    pub fn len(&self) -> usize {
        self.psnr.len()
    }

    pub fn is_empty(&self) -> bool {
        self.psnr.is_empty()
    }

    /// Takes the next frame (`before`: the previous clean and poisoned frames, for flicker).
    /// False, with nothing taken, when `stop` interrupted it.
    pub fn push(
        &mut self,
        clean: &Frame,
        poisoned: &Frame,
        before: Option<(&Frame, &Frame)>,
        stop: &mut dyn FnMut() -> bool,
    ) -> bool {
        let p = psnr_db(clean.rgb(), poisoned.rgb());
        let s = if p.is_some() {
            match ssim_until(clean, poisoned, stop) {
                Some(s) => s,
                None => return false,
            }
        } else {
            Some(1.0)
        };
        if let Some(b) = before {
            let (sum, n) = flicker_pair(b, (clean, poisoned));
            self.flicker.0 += sum;
            self.flicker.1 += n;
        }
        self.linf = self.linf.max(linf(clean.rgb(), poisoned.rgb()));
        self.psnr.push(p);
        self.ssim.push(s);
        true
    }

    pub fn finish(self, audio: Option<(&[f32], &[f32])>) -> StealthReport {
        let mean = |v: Vec<f64>| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
        let psnr = self.psnr;
        let changed: Vec<usize> = (0..psnr.len()).filter(|&i| psnr[i].is_some()).collect();
        StealthReport {
            psnr_db_mean: mean(changed.iter().filter_map(|&i| psnr[i]).collect()),
            ssim_mean: mean(changed.iter().filter_map(|&i| self.ssim[i]).collect()),
            ssim: (0..psnr.len())
                .map(|i| {
                    if psnr[i].is_some() {
                        self.ssim[i]
                    } else {
                        None
                    }
                })
                .collect(),
            temporal_flicker: (psnr.len() >= 2 && self.flicker.1 > 0)
                .then(|| self.flicker.0 / self.flicker.1 as f64),
            psnr_db: psnr,
            linf: self.linf,
            audio_snr_db: audio.and_then(|(c, p)| audio_snr_db(c, p)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(w: u32, h: u32, f: impl Fn(usize) -> u8) -> Frame {
        Frame::new(w, h, (0..(w * h * 3) as usize).map(f).collect::<Vec<_>>()).expect("sized")
    }

    #[test]
    fn the_fused_pass_matches_psnr_and_linf() {
        // Longer than one flush block, with a ragged tail, so every path runs.
        let n = DIFF_LANES * DIFF_FLUSH_STEPS + 1000 + 37;
        let a: Vec<u8> = (0..n).map(|i| (i * 7 % 256) as u8).collect();
        let b: Vec<u8> = (0..n).map(|i| (i * 13 % 251) as u8).collect();
        let mut img = vec![0u8; n];
        let (sse, max) = diff_stats(&a, &b, 2.0, &mut img);
        assert_eq!(psnr_from_sse(sse, a.len()), psnr_db(&a, &b));
        let want: u64 = a
            .iter()
            .zip(&b)
            .map(|(&x, &y)| u64::from(x.abs_diff(y)).pow(2))
            .sum();
        assert_eq!(sse, want);
        assert_eq!(max, linf(&a, &b));
        for (i, &v) in img.iter().enumerate() {
            assert_eq!(
                v,
                (a[i].abs_diff(b[i]) as f32 * 2.0).min(255.0) as u8,
                "{i}"
            );
        }
        // The worst case for the u32 lanes: every difference 255 for a whole flush block.
        let (z, f) = (vec![0u8; n], vec![255u8; n]);
        assert_eq!(
            diff_stats(&z, &f, 1.0, &mut img),
            (n as u64 * 255 * 255, 255)
        );
    }

    #[test]
    fn the_amplified_difference_is_the_saturating_cast_for_any_gain() {
        let gains = [
            0.0,
            -0.0,
            0.5,
            1.0,
            1.0 / 3.0,
            2.7,
            8.0,
            100.0,
            1e30,
            -1.0,
            -0.3,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            f32::MIN_POSITIVE,
            f32::MAX,
        ];
        for g in gains {
            for d in 0..=255u8 {
                assert_eq!(amplify(d, g), (d as f32 * g).min(255.0) as u8, "{d} × {g}");
            }
        }
    }

    #[test]
    fn psnr_and_linf() {
        assert_eq!(psnr_db(&[1, 2, 3], &[1, 2, 3]), None);
        // MSE 1 → 10·log10(65025) = 48.1308 dB
        let p = psnr_db(&[10, 10], &[11, 9]).expect("differs");
        assert!((p - 48.130_803_608).abs() < 1e-6, "{p}");
        assert_eq!(linf(&[0, 100, 5], &[3, 90, 5]), 10);
    }

    #[test]
    fn ssim_identity_and_ordering() {
        let a = frame(24, 20, |i| ((i * 31) % 200) as u8);
        assert!((ssim(&a, &a).expect("fits") - 1.0).abs() < 1e-12);
        let slight = frame(24, 20, |i| ((i * 31) % 200) as u8 + (i % 3) as u8);
        let heavy = frame(24, 20, |i| ((i * 31) % 200) as u8 / 2);
        let (s1, s2) = (
            ssim(&a, &slight).expect("fits"),
            ssim(&a, &heavy).expect("fits"),
        );
        assert!(s1 > s2 && s1 < 1.0, "{s1} {s2}");
        // The same pairs through scikit-image 0.26 `structural_similarity(gaussian_weights=True,
        // sigma=1.5, use_sample_covariance=False, data_range=255, channel_axis=2)`.
        assert!((s1 - 0.999_917_075_569_628_4).abs() < 1e-9, "{s1}");
        assert!((s2 - 0.640_328_558_506_854_4).abs() < 1e-9, "{s2}");
        assert_eq!(ssim(&frame(8, 8, |_| 0), &frame(8, 8, |_| 0)), None);
    }

    #[test]
    fn flicker_is_zero_for_a_constant_delta() {
        let clean: Vec<Frame> = (0..3)
            .map(|t| frame(4, 4, move |i| (i + t * 7) as u8))
            .collect();
        let same: Vec<Frame> = (0..3)
            .map(|t| frame(4, 4, move |i| (i + t * 7) as u8 + 5))
            .collect();
        assert_eq!(temporal_flicker(&clean, &same), Some(0.0));
        let alt: Vec<Frame> = (0..3)
            .map(|t| {
                frame(4, 4, move |i| {
                    (i + t * 7) as u8 + if t % 2 == 0 { 4 } else { 0 }
                })
            })
            .collect();
        assert_eq!(temporal_flicker(&clean, &alt), Some(4.0));
    }

    #[test]
    fn audio_snr() {
        let c = [0.5f32, -0.5, 0.5, -0.5];
        let p = [0.55f32, -0.45, 0.55, -0.45];
        let snr = audio_snr_db(&c, &p).expect("changed");
        assert!((snr - 20.0).abs() < 1e-3, "{snr}"); // 0.25 / 0.0025 = 100 → 20 dB
    }
}

/// Classification metrics of a backdoored model.
pub mod classify {
    /// Fraction of `pred` equal to `labels`; `None` for no clips.
    pub fn accuracy(pred: &[usize], labels: &[usize]) -> Option<f64> {
        (!labels.is_empty()).then(|| {
            pred.iter().zip(labels).filter(|(p, l)| p == l).count() as f64 / labels.len() as f64
        })
    }

    /// Attack success rate: of the triggered clips whose true class is not the target (or all of
    /// them when `include_target`), the fraction predicted as the target.
    pub fn attack_success_rate(
        pred: &[usize],
        labels: &[usize],
        target: usize,
        include_target: bool,
    ) -> Option<f64> {
        let counted: Vec<usize> = (0..labels.len())
            .filter(|&i| include_target || labels[i] != target)
            .collect();
        (!counted.is_empty()).then(|| {
            counted.iter().filter(|&&i| pred[i] == target).count() as f64 / counted.len() as f64
        })
    }

    /// Clean target rate: of the *clean* clips whose true class is not the target, the fraction
    /// the model predicts as the target. A model that answers the target for (nearly) every
    /// clip — at the class prior early in a run, or never having learned — scores ASR 1.0 with
    /// no trigger at all; this rate says so (see [`crate::core::report::asr_meaningful`]).
    pub fn clean_target_rate(pred: &[usize], labels: &[usize], target: usize) -> Option<f64> {
        attack_success_rate(pred, labels, target, false)
    }

    /// Robust accuracy: triggered clips (true class not the target) still predicted as their class.
    pub fn robust_accuracy(pred: &[usize], labels: &[usize], target: usize) -> Option<f64> {
        let counted: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] != target).collect();
        (!counted.is_empty()).then(|| {
            counted.iter().filter(|&&i| pred[i] == labels[i]).count() as f64 / counted.len() as f64
        })
    }

    /// Counts of (true class, predicted class): row = true, column = predicted. Labels or
    /// predictions outside `classes` are not counted.
    pub fn confusion(pred: &[usize], labels: &[usize], classes: usize) -> Vec<Vec<usize>> {
        let mut m = vec![vec![0; classes]; classes];
        for (&p, &l) in pred.iter().zip(labels) {
            if p < classes && l < classes {
                m[l][p] += 1;
            }
        }
        m
    }

    /// ASR per true class (`None` for the target class and classes without triggered clips).
    pub fn per_class_asr(
        pred: &[usize],
        labels: &[usize],
        target: usize,
        classes: usize,
    ) -> Vec<Option<f64>> {
        (0..classes)
            .map(|c| {
                if c == target {
                    return None;
                }
                let idx: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == c).collect();
                (!idx.is_empty()).then(|| {
                    idx.iter().filter(|&&i| pred[i] == target).count() as f64 / idx.len() as f64
                })
            })
            .collect()
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn the_confusion_counts_true_rows_against_predicted_columns() {
            let labels = [0, 1, 2, 2, 0, 1, 7];
            let pred = [0, 1, 2, 1, 0, 0, 1];
            // The label 7 is outside the 3 classes: not counted.
            assert_eq!(
                confusion(&pred, &labels, 3),
                vec![vec![2, 0, 0], vec![1, 1, 0], vec![0, 1, 1]]
            );
        }

        #[test]
        fn hand_made_predictions() {
            let labels = [0, 1, 2, 2, 0, 1];
            let clean = [0, 1, 2, 1, 0, 0];
            assert_eq!(accuracy(&clean, &labels), Some(4.0 / 6.0));
            // Target 2; the triggered clips of classes 0 and 1 (indices 0, 1, 4, 5).
            let trig = [2, 1, 2, 2, 2, 2];
            assert_eq!(attack_success_rate(&trig, &labels, 2, false), Some(0.75));
            assert_eq!(
                attack_success_rate(&trig, &labels, 2, true),
                Some(5.0 / 6.0)
            );
            assert_eq!(robust_accuracy(&trig, &labels, 2), Some(0.25));
            assert_eq!(
                per_class_asr(&trig, &labels, 2, 3),
                vec![Some(1.0), Some(0.5), None]
            );
            assert_eq!(accuracy(&[], &[]), None);
        }
    }
}
