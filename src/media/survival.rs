//! Codec survival: how much of a trigger is still there after the poisoned clip has been
//! encoded and decoded again. The clean clip goes through the same encoder, so what the codec does
//! to the content itself cancels out and only the trigger's fate is measured.

use super::decode::{DecodeRequest, Sampling, decode_clip};
use super::encode::{EncodeOptions, write_mp4};
use super::error::{MediaCause, MediaError};
use super::reader::SizeMode;
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

fn mean_psnr(a: &Clip, b: &Clip) -> Option<f64> {
    let v: Vec<f64> = a
        .frames()
        .iter()
        .zip(b.frames())
        .filter_map(|(x, y)| psnr_db(x.rgb(), y.rgb()))
        .collect();
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

/// Survival of the trigger in `poisoned_file` (an encode of `poisoned`, made from `clean`).
pub fn codec_survival(
    clean: &Clip,
    poisoned: &Clip,
    poisoned_file: &Path,
    opts: &EncodeOptions,
) -> Result<Survival, MediaError> {
    let tmp = tempfile::Builder::new()
        .prefix(".triggerlab-survival-")
        .suffix(".mp4")
        .tempfile()
        .map_err(|e| MediaError::new(poisoned_file, MediaCause::Write(e.to_string())))?
        .into_temp_path();
    let clean_no_audio = Clip::new(clean.frames().to_vec(), clean.fps(), None)
        .map_err(|e| MediaError::new(poisoned_file, MediaCause::Decode(e.to_string())))?;
    write_mp4(&clean_no_audio, &tmp, opts)?;
    let req = DecodeRequest {
        size: SizeMode::Native,
        sampling: Sampling::All,
        audio: None,
        max_frames: None,
    };
    let dec_clean = decode_clip(&tmp, &req)?.clip;
    let dec_poisoned = decode_clip(poisoned_file, &req)?.clip;
    if dec_clean.frames().len() != dec_poisoned.frames().len()
        || dec_poisoned.frames().len() != poisoned.frames().len()
    {
        return Err(MediaError::new(
            poisoned_file,
            MediaCause::Decode(format!(
                "frame counts differ after encoding ({} clean, {} poisoned, {} expected)",
                dec_clean.frames().len(),
                dec_poisoned.frames().len(),
                poisoned.frames().len()
            )),
        ));
    }
    // Pearson correlation of the two deltas, accumulated in one pass.
    let (mut n, mut sx, mut sy, mut sxx, mut syy, mut sxy) = (0f64, 0f64, 0f64, 0f64, 0f64, 0f64);
    for t in 0..poisoned.frames().len() {
        let (c, p) = (clean.frames()[t].rgb(), poisoned.frames()[t].rgb());
        let (dc, dp) = (dec_clean.frames()[t].rgb(), dec_poisoned.frames()[t].rgb());
        for i in 0..c.len() {
            let x = f64::from(p[i]) - f64::from(c[i]);
            let y = f64::from(dp[i]) - f64::from(dc[i]);
            n += 1.0;
            sx += x;
            sy += y;
            sxx += x * x;
            syy += y * y;
            sxy += x * y;
        }
    }
    let cov = sxy - sx * sy / n;
    let (vx, vy) = (sxx - sx * sx / n, syy - sy * sy / n);
    Ok(Survival {
        psnr_before_db: mean_psnr(clean, poisoned),
        psnr_after_db: mean_psnr(&dec_clean, &dec_poisoned),
        delta_correlation: (vx > 0.0 && vy > 0.0).then(|| cov / (vx * vy).sqrt()),
        delta_energy_ratio: (sxx > 0.0).then(|| syy / sxx),
    })
}
