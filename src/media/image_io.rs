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
}
