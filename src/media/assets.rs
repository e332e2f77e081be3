//! Files named in attack specs (pattern images, audio to overlay), read for `core` through its
//! `AssetLoader` trait. Relative paths are taken from the spec's own folder, so a spec and the
//! files beside it work from any working directory, in `apply`, `run` and the studio alike.

use crate::core::AudioBuffer;
use crate::core::assets::{AssetLoader, RgbaImage};
use crate::core::attack::AttackSpec;
use crate::core::audio_trigger::AudioTrigger;
use crate::core::trigger::VisualTrigger;
use crate::core::trigger::blend::BlendPattern;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Reads spec files from disk, relative to a base folder. Each file is read once and kept: the
/// trainer applies the same spec to thousands of clips, and each would otherwise decode the
/// pattern or the overlay again.
pub struct FileAssets {
    base: PathBuf,
    images: Mutex<HashMap<PathBuf, Result<RgbaImage, String>>>,
    audio: Mutex<HashMap<PathBuf, Result<AudioBuffer, String>>>,
}

impl FileAssets {
    /// Relative paths resolve against `base` (the spec file's folder, or the working folder for
    /// an inline spec).
    pub fn new(base: impl Into<PathBuf>) -> Self {
        FileAssets {
            base: base.into(),
            images: Mutex::default(),
            audio: Mutex::default(),
        }
    }

    /// Rooted at the folder of the spec file `spec_path`.
    pub fn for_spec_file(spec_path: &Path) -> Self {
        FileAssets::new(spec_folder(spec_path))
    }

    /// The folder relative paths resolve against.
    pub fn base(&self) -> &Path {
        &self.base
    }

    /// Where `path` (as written in a spec) points.
    pub fn resolve(&self, path: &Path) -> PathBuf {
        resolve_against(&self.base, path)
    }
}

/// The folder a spec file's relative paths resolve against: its own (`.` for a bare name).
pub fn spec_folder(spec_path: &Path) -> PathBuf {
    match spec_path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn resolve_against(base: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        base.join(path)
    }
}

/// Looks `path` up in `cache`, loading it on a miss. The lock is not held while loading, so two
/// threads may both load a file the first time; both get the same result.
fn cached<T: Clone>(
    cache: &Mutex<HashMap<PathBuf, Result<T, String>>>,
    path: PathBuf,
    load: impl FnOnce(&Path) -> Result<T, String>,
) -> Result<T, String> {
    // Nothing panics while the lock is held, so a poisoned map is still consistent.
    let lock = || cache.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(hit) = lock().get(&path) {
        return hit.clone();
    }
    let value = load(&path);
    lock().insert(path, value.clone());
    value
}

impl AssetLoader for FileAssets {
    fn load_image(&self, path: &Path) -> Result<RgbaImage, String> {
        cached(&self.images, self.resolve(path), |full| {
            let img = image::open(full).map_err(|e| format!("{}: {e}", full.display()))?;
            let rgba = img.to_rgba8();
            Ok(RgbaImage {
                width: rgba.width(),
                height: rgba.height(),
                rgba: rgba.into_raw(),
            })
        })
    }

    fn load_audio(&self, path: &Path) -> Result<AudioBuffer, String> {
        cached(&self.audio, self.resolve(path), |full| {
            super::audio_decode::decode_audio(full).map_err(|e| e.to_string())
        })
    }
}

/// Every file path `spec` names, mutably: the patch image, the blend pattern image and the
/// overlay's audio file.
fn spec_paths(spec: &mut AttackSpec) -> Vec<&mut PathBuf> {
    let mut out = Vec::new();
    match &mut spec.visual {
        Some(VisualTrigger::Badnets(b)) => out.extend(b.image.as_mut()),
        Some(VisualTrigger::Blend(b)) => {
            if let BlendPattern::Image(p) = &mut b.pattern {
                out.push(p);
            }
        }
        _ => {}
    }
    if let Some(AudioTrigger::Overlay(o)) = &mut spec.audio {
        out.extend(o.path.as_mut());
    }
    out
}

/// Rewrites the relative file paths in `spec` to point at the same files from anywhere: joined
/// to `base` and, when the file exists, made absolute. For a spec that is saved away from the
/// folder its paths were written against.
pub fn absolutize_paths(spec: &mut AttackSpec, base: &Path) {
    for p in spec_paths(spec) {
        if p.is_relative() {
            let joined = base.join(&*p);
            *p = std::fs::canonicalize(&joined).unwrap_or(joined);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::attack::parse_json;

    #[test]
    fn relative_paths_resolve_against_the_base_and_are_read_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let png = dir.path().join("p.png");
        image::RgbaImage::from_pixel(2, 1, image::Rgba([9, 8, 7, 255]))
            .save(&png)
            .expect("png");
        let assets = FileAssets::new(dir.path());
        let img = assets.load_image(Path::new("p.png")).expect("loads");
        assert_eq!((img.width, img.height), (2, 1));
        assert_eq!(&img.rgba[..4], &[9, 8, 7, 255]);
        // Served from memory the second time: the file is gone, the image is not.
        std::fs::remove_file(&png).expect("rm");
        assert_eq!(assets.load_image(Path::new("p.png")), Ok(img));
        let err = assets
            .load_image(Path::new("missing.png"))
            .expect_err("missing");
        assert!(err.contains("missing.png"), "{err}");
    }

    #[test]
    fn absolutize_rewrites_every_relative_file_path() {
        let mut spec = parse_json(
            r#"{"version":1,"visual":{"kind":"badnets","image":"p.png"},
                "audio":{"kind":"overlay","path":"/abs/a.wav"}}"#,
        )
        .expect("spec");
        absolutize_paths(&mut spec, Path::new("/base"));
        let mut paths: Vec<PathBuf> = spec_paths(&mut spec)
            .into_iter()
            .map(|p| p.clone())
            .collect();
        paths.sort();
        assert_eq!(
            paths,
            [PathBuf::from("/abs/a.wav"), PathBuf::from("/base/p.png")]
        );

        let mut blend =
            parse_json(r#"{"version":1,"visual":{"kind":"blend","pattern":{"image":"b.png"}}}"#)
                .expect("spec");
        absolutize_paths(&mut blend, Path::new("/base"));
        assert_eq!(
            spec_paths(&mut blend)
                .into_iter()
                .map(|p| p.clone())
                .collect::<Vec<_>>(),
            [PathBuf::from("/base/b.png")]
        );
    }
}
