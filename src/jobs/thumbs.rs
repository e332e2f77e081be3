//! The timeline's thumbnails: a few frames of the selected clip with the design applied (core's
//! `PreparedAttack`, the code `apply` runs), shrunk on a worker. Keyed by (clip, revision,
//! count), so an edit makes a new strip and the UI keeps showing the old one until it arrives;
//! a newer request cancels the one under way.

use super::{Job, Repaint, start};
use crate::core::assets::AssetLoader;
use crate::core::attack::{AttackSpec, PreparedAttack};
use crate::core::trigger::Scratch;
use crate::core::{Clip, Frame, SpecError};
use crate::media::assets::FileAssets;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ThumbKey {
    pub clip: u32,
    pub revision: u64,
    pub count: usize,
}

#[derive(Clone, Debug)]
pub struct Thumb {
    /// The frame it shows.
    pub index: usize,
    /// The poisoned frame, shrunk to the strip's height.
    pub frame: Frame,
    pub triggered: bool,
}

pub type ThumbJob = Job<(ThumbKey, Result<Vec<Thumb>, SpecError>)>;

/// `count` frames spread evenly over `frames` (first and last included).
pub fn thumb_indices(frames: usize, count: usize) -> Vec<usize> {
    match (frames, count) {
        (0, _) | (_, 0) => Vec::new(),
        (n, 1) => vec![n / 2],
        (n, c) if c >= n => (0..n).collect(),
        (n, c) => (0..c).map(|k| k * (n - 1) / (c - 1)).collect(),
    }
}

/// Box-filter shrink to `height` rows (never enlarges).
pub fn shrink(frame: &Frame, height: u32) -> Frame {
    let (w, h) = (frame.width(), frame.height());
    if height == 0 || height >= h {
        return frame.clone();
    }
    let tw = ((u64::from(w) * u64::from(height)) / u64::from(h)).max(1) as u32;
    let th = height;
    let src = frame.rgb();
    let mut out = vec![0u8; (tw * th * 3) as usize];
    for ty in 0..th {
        let (y0, y1) = (ty * h / th, ((ty + 1) * h / th).max(ty * h / th + 1));
        for tx in 0..tw {
            let (x0, x1) = (tx * w / tw, ((tx + 1) * w / tw).max(tx * w / tw + 1));
            let mut sum = [0u32; 3];
            for y in y0..y1 {
                for x in x0..x1 {
                    let i = ((y * w + x) * 3) as usize;
                    for c in 0..3 {
                        sum[c] += u32::from(src[i + c]);
                    }
                }
            }
            let n = (y1 - y0) * (x1 - x0);
            let o = ((ty * tw + tx) * 3) as usize;
            for c in 0..3 {
                out[o + c] = ((sum[c] + n / 2) / n) as u8;
            }
        }
    }
    Frame::new(tw, th, out).unwrap_or_else(|_| frame.clone())
}

/// The thumbnails of `clip` under `spec`; `cancelled` is checked between frames.
pub fn make_thumbs(
    clip: &Clip,
    spec: &AttackSpec,
    assets: &dyn AssetLoader,
    count: usize,
    height: u32,
    cancelled: &dyn Fn() -> bool,
) -> Result<Option<Vec<Thumb>>, SpecError> {
    let frames = clip.frames();
    let Some(first) = frames.first() else {
        return Ok(Some(Vec::new()));
    };
    let (w, h) = (first.width() as usize, first.height() as usize);
    let prepared = PreparedAttack::new(spec, frames.len(), w, h, assets)?;
    let mut scratch = Scratch::default();
    let mut out = Vec::new();
    for i in thumb_indices(frames.len(), count) {
        if cancelled() {
            return Ok(None);
        }
        let poisoned = prepared
            .poisoned_frame(i, frames, &mut scratch)
            .map_err(|m| SpecError::new("input", m))?;
        out.push(Thumb {
            index: i,
            frame: shrink(&poisoned, height),
            triggered: prepared.is_triggered(i),
        });
    }
    Ok(Some(out))
}

/// Starts the thumbnails for `key` on a worker; drop or cancel the job to abandon it.
pub fn start_thumbs(
    key: ThumbKey,
    clip: Arc<Clip>,
    spec: Arc<AttackSpec>,
    assets_dir: PathBuf,
    height: u32,
    repaint: Repaint,
) -> std::io::Result<ThumbJob> {
    start("thumbnails", 1, repaint, move |tx| {
        let assets = FileAssets::new(&assets_dir);
        let stop = || tx.is_cancelled();
        match make_thumbs(&clip, &spec, &assets, key.count, height, &stop) {
            Ok(Some(t)) => {
                tx.send((key, Ok(t)));
            }
            Ok(None) => {}
            Err(e) => {
                tx.send((key, Err(e)));
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::Rational;
    use crate::core::assets::NoAssets;

    #[test]
    fn indices_span_the_clip() {
        assert_eq!(thumb_indices(10, 4), vec![0, 3, 6, 9]);
        assert_eq!(thumb_indices(3, 8), vec![0, 1, 2]);
        assert_eq!(thumb_indices(9, 1), vec![4]);
        assert!(thumb_indices(0, 5).is_empty());
    }

    #[test]
    fn shrink_averages_blocks() {
        // 4×2 → 2×1: each output pixel is the mean of a 2×2 block.
        let px: Vec<u8> = [0u8, 0, 0, 100, 100, 100, 10, 10, 10, 30, 30, 30]
            .iter()
            .chain([0u8, 0, 0, 100, 100, 100, 10, 10, 10, 30, 30, 30].iter())
            .copied()
            .collect();
        let f = Frame::new(4, 2, px).expect("frame");
        let s = shrink(&f, 1);
        assert_eq!((s.width(), s.height()), (2, 1));
        assert_eq!(s.rgb(), &[50, 50, 50, 20, 20, 20]);
    }

    /// A thumbnail is core's poisoned frame, shrunk: the triggered ones differ from the clean
    /// thumbnails, the others do not.
    #[test]
    fn thumbnails_show_the_design() {
        let frames: Vec<Frame> = (0..6u8)
            .map(|t| Frame::new(40, 30, vec![40 + t * 10; 40 * 30 * 3]).expect("frame"))
            .collect();
        let clip = Clip::new(frames, Rational::from_int(6), None).expect("clip");
        let mut spec = crate::core::design::default_spec();
        spec.temporal.frames = crate::core::placement::FrameSelection::Range { start: 0, len: 3 };
        let thumbs = make_thumbs(&clip, &spec, &NoAssets, 6, 15, &|| false)
            .expect("prepares")
            .expect("not cancelled");
        assert_eq!(thumbs.len(), 6);
        for t in &thumbs {
            let clean = shrink(&clip.frames()[t.index], 15);
            assert_eq!(t.frame.height(), 15);
            assert_eq!(t.triggered, t.index < 3, "frame {}", t.index);
            assert_eq!(
                t.frame.rgb() != clean.rgb(),
                t.triggered,
                "frame {}",
                t.index
            );
        }
        assert!(
            make_thumbs(&clip, &spec, &NoAssets, 6, 15, &|| true)
                .expect("prepares")
                .is_none()
        );
    }
}
