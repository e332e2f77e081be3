//! Image files: PNG output written atomically.

use super::error::{MediaCause, MediaError};
use image::ImageEncoder;
use std::io::Write;
use std::path::Path;

/// Reads an image file (PNG, JPEG) as an RGB frame.
pub fn load_rgb(path: &Path) -> Result<crate::core::Frame, MediaError> {
    super::error::check_input_file(path)?;
    let img = image::open(path)
        .map_err(|e| MediaError::new(path, MediaCause::Open(e.to_string())))?
        .to_rgb8();
    let (w, h) = img.dimensions();
    crate::core::Frame::new(w, h, img.into_raw())
        .map_err(|e| MediaError::new(path, MediaCause::Decode(e.to_string())))
}

/// A PNG read as a patch: 8-bit RGBA pixels, and what was converted to get them (16-bit,
/// grey or palette files), for the user.
#[derive(Clone, Debug, PartialEq)]
pub struct PatchPng {
    pub width: u32,
    pub height: u32,
    pub rgba: Vec<u8>,
    pub converted: Option<String>,
}

const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];

/// Reads a PNG file for the patch editor. Anything that is not a PNG is refused by name (the
/// patch keeps transparency, which JPEG has none of); other layouts are converted to RGBA8 and
/// the conversion is named.
pub fn read_patch_png(path: &Path) -> Result<PatchPng, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    // The header tells what the file holds: IHDR's bit depth and colour type (PNG spec 11.2.2).
    if bytes.len() < 33 || bytes[..8] != PNG_SIGNATURE || &bytes[12..16] != b"IHDR" {
        return Err(format!("{}: not a PNG file", path.display()));
    }
    let depth = bytes[24];
    let layout = match bytes[25] {
        0 => "grey",
        2 => "RGB",
        3 => "palette",
        4 => "grey with alpha",
        6 => "RGBA",
        _ => "an unknown colour type",
    };
    let img = image::load_from_memory_with_format(&bytes, image::ImageFormat::Png)
        .map_err(|e| format!("{}: not a PNG this build can read ({e})", path.display()))?;
    let rgba = img.to_rgba8();
    let converted = (depth != 8 || layout != "RGBA")
        .then(|| format!("converted from {depth}-bit {layout} to 8-bit RGBA"));
    Ok(PatchPng {
        width: rgba.width(),
        height: rgba.height(),
        rgba: rgba.into_raw(),
        converted,
    })
}

/// Writes an RGB frame as PNG or JPEG (by extension; JPEG at quality 95), atomically.
pub fn save_rgb(path: &Path, frame: &crate::core::Frame) -> Result<(), MediaError> {
    let werr = |msg: String| MediaError::new(path, MediaCause::Write(msg));
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let mut buf = std::io::Cursor::new(Vec::new());
    let (w, h) = (frame.width(), frame.height());
    match ext.as_str() {
        "png" => image::codecs::png::PngEncoder::new(&mut buf)
            .write_image(frame.rgb(), w, h, image::ExtendedColorType::Rgb8)
            .map_err(|e| werr(e.to_string()))?,
        "jpg" | "jpeg" => image::codecs::jpeg::JpegEncoder::new_with_quality(&mut buf, 95)
            .write_image(frame.rgb(), w, h, image::ExtendedColorType::Rgb8)
            .map_err(|e| werr(e.to_string()))?,
        other => {
            return Err(werr(format!(
                "cannot write a .{other} image (use .png or .jpg)"
            )));
        }
    }
    write_atomic(path, buf.get_ref())
}

/// Writes `bytes` to `path` through a temporary file in the same folder, renamed when complete.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), MediaError> {
    let werr = |msg: String| MediaError::new(path, MediaCause::Write(msg));
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| werr(e.to_string()))?;
    tmp.write_all(bytes).map_err(|e| werr(e.to_string()))?;
    tmp.persist(path).map_err(|e| werr(e.error.to_string()))?;
    Ok(())
}

/// Writes RGBA8 pixels as a PNG, atomically: a temporary file in the same folder is renamed over
/// `path` only once it is complete, so a failure never leaves a half-written image.
pub fn save_png_rgba(path: &Path, width: u32, height: u32, rgba: &[u8]) -> Result<(), MediaError> {
    let werr = |msg: String| MediaError::new(path, MediaCause::Write(msg));
    let img = image::RgbaImage::from_raw(width, height, rgba.to_vec()).ok_or_else(|| {
        werr(format!(
            "{} bytes is not a {width}x{height} RGBA image",
            rgba.len()
        ))
    })?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| werr(e.to_string()))?;
    let mut buf = std::io::Cursor::new(Vec::new());
    img.write_to(&mut buf, image::ImageFormat::Png)
        .map_err(|e| werr(e.to_string()))?;
    tmp.write_all(buf.get_ref())
        .map_err(|e| werr(e.to_string()))?;
    tmp.persist(path).map_err(|e| werr(e.error.to_string()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_readable_png_and_reports_bad_sizes_and_paths() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("a.png");
        save_png_rgba(&p, 2, 1, &[255, 0, 0, 255, 0, 0, 255, 255]).expect("writes");
        let back = image::open(&p).expect("reads").to_rgba8();
        assert_eq!(back.get_pixel(1, 0).0, [0, 0, 255, 255]);

        let err = save_png_rgba(&p, 3, 1, &[0; 8]).expect_err("wrong size");
        assert!(err.to_string().contains("a.png"), "{err}");
        let missing = dir.path().join("no/such/dir/b.png");
        let err = save_png_rgba(&missing, 1, 1, &[0; 4]).expect_err("unwritable");
        assert!(err.to_string().contains("b.png"), "{err}");
        // Nothing half-written is left behind.
        let names: Vec<_> = std::fs::read_dir(dir.path()).expect("ls").collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn patch_pngs_are_read_as_rgba8_and_conversions_are_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let rgba = dir.path().join("rgba.png");
        save_png_rgba(&rgba, 2, 1, &[1, 2, 3, 4, 5, 6, 7, 8]).expect("writes");
        let p = read_patch_png(&rgba).expect("reads");
        assert_eq!(
            (p.width, p.height, p.rgba.clone()),
            (2, 1, vec![1, 2, 3, 4, 5, 6, 7, 8])
        );
        assert_eq!(p.converted, None);

        let grey16 = dir.path().join("g16.png");
        image::ImageBuffer::<image::Luma<u16>, _>::from_raw(1, 1, vec![65535u16])
            .expect("buffer")
            .save(&grey16)
            .expect("writes");
        let p = read_patch_png(&grey16).expect("reads");
        assert_eq!(p.rgba, vec![255, 255, 255, 255]);
        assert_eq!(
            p.converted.as_deref(),
            Some("converted from 16-bit grey to 8-bit RGBA")
        );

        let text = dir.path().join("notes.png");
        std::fs::write(&text, "not an image at all, but long enough for a header").expect("w");
        let e = read_patch_png(&text).expect_err("not a PNG");
        assert!(e.contains("notes.png") && e.contains("not a PNG"), "{e}");
    }
}
