//! Files a spec refers to (pattern images, audio to overlay) are read by the layers above and
//! handed to `core` through [`AssetLoader`], so `core` never touches the file system.

use super::clip::AudioBuffer;
use std::path::Path;

/// An RGBA8 image, rows top to bottom.
#[derive(Clone, Debug, PartialEq)]
pub struct RgbaImage {
    pub width: u32,
    pub height: u32,
    pub rgba: Vec<u8>,
}

impl RgbaImage {
    /// Bilinear resize with half-pixel centres (as OpenCV's `INTER_LINEAR` and PIL's
    /// `BILINEAR` without antialiasing): source `(x + 0.5)·sx − 0.5`, edges clamped.
    pub fn resize_bilinear(&self, width: u32, height: u32) -> RgbaImage {
        let (sw, sh) = (self.width as usize, self.height as usize);
        let (dw, dh) = (width as usize, height as usize);
        if (sw, sh) == (dw, dh) {
            return self.clone();
        }
        let sx = sw as f64 / dw as f64;
        let sy = sh as f64 / dh as f64;
        let taps = |d: usize, scale: f64, n: usize| {
            let s = ((d as f64 + 0.5) * scale - 0.5).max(0.0);
            let i0 = (s.floor() as usize).min(n - 1);
            let i1 = (i0 + 1).min(n - 1);
            (i0, i1, (s - i0 as f64).clamp(0.0, 1.0))
        };
        let xs: Vec<_> = (0..dw).map(|x| taps(x, sx, sw)).collect();
        let mut out = Vec::with_capacity(dw * dh * 4);
        for y in 0..dh {
            let (y0, y1, fy) = taps(y, sy, sh);
            for &(x0, x1, fx) in &xs {
                for c in 0..4 {
                    let p = |xx: usize, yy: usize| f64::from(self.rgba[(yy * sw + xx) * 4 + c]);
                    let top = p(x0, y0) * (1.0 - fx) + p(x1, y0) * fx;
                    let bottom = p(x0, y1) * (1.0 - fx) + p(x1, y1) * fx;
                    out.push((top * (1.0 - fy) + bottom * fy).round().clamp(0.0, 255.0) as u8);
                }
            }
        }
        RgbaImage {
            width,
            height,
            rgba: out,
        }
    }
}

/// Reads what a spec points to. Errors are one line naming the file.
pub trait AssetLoader: Sync {
    fn load_image(&self, path: &Path) -> Result<RgbaImage, String>;
    fn load_audio(&self, path: &Path) -> Result<AudioBuffer, String>;
}

/// For specs that refer to no files (and tests): any file reference is an error.
pub struct NoAssets;

impl AssetLoader for NoAssets {
    fn load_image(&self, path: &Path) -> Result<RgbaImage, String> {
        Err(format!("{}: no files can be loaded here", path.display()))
    }
    fn load_audio(&self, path: &Path) -> Result<AudioBuffer, String> {
        Err(format!("{}: no files can be loaded here", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bilinear_resize_matches_half_pixel_centres() {
        // 2×1 black→white upscaled to 4×1: centres at -0.25, 0.25, 0.75, 1.25 → 0, 64, 191, 255.
        let img = RgbaImage {
            width: 2,
            height: 1,
            rgba: vec![0, 0, 0, 255, 255, 255, 255, 255],
        };
        let r = img.resize_bilinear(4, 1);
        let reds: Vec<u8> = r.rgba.chunks(4).map(|p| p[0]).collect();
        assert_eq!(reds, vec![0, 64, 191, 255]);
        assert!(r.rgba.chunks(4).all(|p| p[3] == 255));
    }
}
