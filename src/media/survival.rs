//! Codec survival: how much of a trigger is still there after the poisoned clip has been
//! encoded and decoded again. The clean clip goes through the same encoder, so what the codec does
//! to the content itself cancels out and only the trigger's fate is measured.

use super::encode::{EncodeOptions, FrameProgress, WriteStop, write_mp4_pending};
use super::error::{MediaCause, MediaError};
use super::reader::{SizeMode, VideoReader};
use crate::core::Clip;
use crate::core::metrics::psnr_db;
use serde::Serialize;
use std::path::Path;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Survival {
    /// Mean PSNR (dB) of poisoned vs clean frames before encoding (`null` if identical).
    pub psnr_before_db: Option<f64>,
    /// The same between the decoded poisoned file and the decoded clean encode.
    pub psnr_after_db: Option<f64>,
    /// Pearson correlation of the trigger's delta (poisoned − clean) before and after the codec:
    /// 1 = the pattern survived intact, 0 = it is gone.
    pub delta_correlation: Option<f64>,
    /// Energy of the delta after / before (how much of the trigger's strength is left).
    pub delta_energy_ratio: Option<f64>,
}

/// Running sums for the Pearson correlation of the two deltas and the mean PSNRs.
#[derive(Default)]
struct Sums {
    n: f64,
    sx: f64,
    sy: f64,
    sxx: f64,
    syy: f64,
    sxy: f64,
    psnr_before: (f64, usize),
    psnr_after: (f64, usize),
}

impl Sums {
    /// Adds frame `t`: clean and poisoned before the codec, and after it.
    fn add(&mut self, c: &[u8], p: &[u8], dc: &[u8], dp: &[u8]) {
        for i in 0..c.len() {
            let x = f64::from(p[i]) - f64::from(c[i]);
            let y = f64::from(dp[i]) - f64::from(dc[i]);
            self.n += 1.0;
            self.sx += x;
            self.sy += y;
            self.sxx += x * x;
            self.syy += y * y;
            self.sxy += x * y;
        }
        // Identical frames have no PSNR; they are left out of the mean.
        if let Some(v) = psnr_db(c, p) {
            self.psnr_before.0 += v;
            self.psnr_before.1 += 1;
        }
        if let Some(v) = psnr_db(dc, dp) {
            self.psnr_after.0 += v;
            self.psnr_after.1 += 1;
        }
    }

    fn survival(&self) -> Survival {
        let mean = |(sum, k): (f64, usize)| (k > 0).then(|| sum / k as f64);
        let n = self.n.max(1.0);
        let cov = self.sxy - self.sx * self.sy / n;
        let (vx, vy) = (
            self.sxx - self.sx * self.sx / n,
            self.syy - self.sy * self.sy / n,
        );
        Survival {
            psnr_before_db: mean(self.psnr_before),
            psnr_after_db: mean(self.psnr_after),
            delta_correlation: (vx > 0.0 && vy > 0.0).then(|| cov / (vx * vy).sqrt()),
            delta_energy_ratio: (self.sxx > 0.0).then(|| self.syy / self.sxx),
        }
    }
}

/// Survival of the trigger in `poisoned_file` (an encode of `poisoned`, made from `clean`).
pub fn codec_survival(
    clean: &Clip,
    poisoned: &Clip,
    poisoned_file: &Path,
    opts: &EncodeOptions,
) -> Result<Survival, MediaError> {
    codec_survival_with(clean, poisoned, poisoned_file, opts, &mut |_, _| true)
        .map_err(|e| e.into_media(poisoned_file))
}

/// [`codec_survival`], reporting progress to `progress` as (done, total) over its two passes —
/// encoding the clean clip, then decoding both files frame by frame — and stopping when it
/// returns `false`. Decoded frames are compared as they arrive, not held.
pub fn codec_survival_with(
    clean: &Clip,
    poisoned: &Clip,
    poisoned_file: &Path,
    opts: &EncodeOptions,
    progress: FrameProgress,
) -> Result<Survival, WriteStop> {
    let n = poisoned.frames().len();
    let bad = |m: String| MediaError::new(poisoned_file, MediaCause::Decode(m));
    if clean.frames().len() != n || clean.size() != poisoned.size() {
        return Err(bad(format!(
            "the clean clip ({} frames, {:?}) does not match the poisoned one ({n} frames, {:?})",
            clean.frames().len(),
            clean.size(),
            poisoned.size()
        ))
        .into());
    }
    let total = 2 * n;
    // The clean encode is scratch: it goes to the system's temp folder, not beside the output.
    let scratch = tempfile::Builder::new()
        .prefix(".triggerlab-survival-")
        .tempdir()
        .map_err(|e| MediaError::new(poisoned_file, MediaCause::Write(e.to_string())))?;
    let clean_path = scratch.path().join("clean.mp4");
    let clean_no_audio =
        Clip::new(clean.frames().to_vec(), clean.fps(), None).map_err(|e| bad(e.to_string()))?;
    let clean_file = write_mp4_pending(&clean_no_audio, &clean_path, opts, &mut |d, _| {
        progress(d, total)
    })?;
    let mut dec_clean = VideoReader::open(clean_file.temp_path(), SizeMode::Native)?;
    let mut dec_poisoned = VideoReader::open(poisoned_file, SizeMode::Native)?;
    let mut sums = Sums::default();
    let mut t = 0;
    loop {
        let a = dec_clean.next_frame()?;
        let b = dec_poisoned.next_frame()?;
        match (a, b) {
            (None, None) => break,
            (Some((_, dc)), Some((_, dp))) if t < n => {
                if dc.rgb().len() != clean.frames()[t].rgb().len()
                    || dp.rgb().len() != dc.rgb().len()
                {
                    return Err(bad(format!("frame {t} changed size in the codec")).into());
                }
                sums.add(
                    clean.frames()[t].rgb(),
                    poisoned.frames()[t].rgb(),
                    dc.rgb(),
                    dp.rgb(),
                );
                t += 1;
                if !progress(n + t, total) {
                    return Err(WriteStop::Stopped);
                }
            }
            (a, b) => {
                let why = match (a.is_some(), b.is_some()) {
                    (true, true) => format!("both encodes have more than the clip's {n} frames"),
                    (false, _) => format!("the clean encode ends after {t} of {n} frames"),
                    (true, false) => format!("the poisoned file ends after {t} of {n} frames"),
                };
                return Err(bad(format!("frame counts differ after encoding: {why}")).into());
            }
        }
    }
    if t != n {
        return Err(bad(format!(
            "frame counts differ after encoding: {t} decoded, {n} expected"
        ))
        .into());
    }
    Ok(sums.survival())
}
