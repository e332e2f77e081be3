//! Files named in attack specs (pattern images, audio to overlay), read for `core` through its
//! `AssetLoader` trait. Relative paths are taken from the spec's own folder.

use crate::core::AudioBuffer;
use crate::core::assets::{AssetLoader, RgbaImage};
use std::path::{Path, PathBuf};

pub struct FileAssets {
    base: PathBuf,
}

impl FileAssets {
    /// Relative paths resolve against `base` (the spec file's folder, or the working folder for
    /// an inline spec).
    pub fn new(base: impl Into<PathBuf>) -> Self {
        FileAssets { base: base.into() }
    }

    fn resolve(&self, path: &Path) -> PathBuf {
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.base.join(path)
        }
    }
}

impl AssetLoader for FileAssets {
    fn load_image(&self, path: &Path) -> Result<RgbaImage, String> {
        let full = self.resolve(path);
        let img = image::open(&full).map_err(|e| format!("{}: {e}", full.display()))?;
        let rgba = img.to_rgba8();
        Ok(RgbaImage {
            width: rgba.width(),
            height: rgba.height(),
            rgba: rgba.into_raw(),
        })
    }

    fn load_audio(&self, path: &Path) -> Result<AudioBuffer, String> {
        super::audio_decode::decode_audio(&self.resolve(path)).map_err(|e| e.to_string())
    }
}
