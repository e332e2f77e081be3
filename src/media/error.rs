use std::path::{Path, PathBuf};

/// A media failure: which file, and why, printable as one line.
#[derive(Debug, thiserror::Error)]
#[error("{}: {cause}", path.display())]
pub struct MediaError {
    pub path: PathBuf,
    pub cause: MediaCause,
}

#[derive(Debug, thiserror::Error)]
pub enum MediaCause {
    #[error("no such file")]
    NotFound,
    #[error("is a directory, not a video file")]
    IsDirectory,
    #[error("file is empty (0 bytes)")]
    Empty,
    #[error("cannot read the file: {0}")]
    Io(#[source] std::io::Error),
    #[error("not a media file FFmpeg can read ({0})")]
    Open(String),
    #[error("no video stream (the file has {0})")]
    NoVideoStream(String),
    #[error("the video stream has no usable frame rate")]
    NoFrameRate,
    #[error(
        "truncated: the container declares {declared} video frames but only {found} could be read ({detail})"
    )]
    Truncated {
        declared: u64,
        found: u64,
        detail: String,
    },
    #[error("cannot decode the video stream ({0})")]
    Decode(String),
    #[error("cannot write: {0}")]
    Write(String),
}

impl MediaError {
    pub fn new(path: &Path, cause: MediaCause) -> Self {
        MediaError {
            path: path.to_path_buf(),
            cause,
        }
    }
}

/// Checks that `path` is a readable, non-empty regular file before FFmpeg sees it, so the common
/// mistakes get plain-language causes instead of FFmpeg's generic ones.
pub(crate) fn check_input_file(path: &Path) -> Result<(), MediaError> {
    let meta = std::fs::metadata(path).map_err(|e| {
        let cause = if e.kind() == std::io::ErrorKind::NotFound {
            MediaCause::NotFound
        } else {
            MediaCause::Io(e)
        };
        MediaError::new(path, cause)
    })?;
    if meta.is_dir() {
        return Err(MediaError::new(path, MediaCause::IsDirectory));
    }
    if meta.len() == 0 {
        return Err(MediaError::new(path, MediaCause::Empty));
    }
    // Opening it ourselves turns a permission problem into an io error with its own wording.
    std::fs::File::open(path).map_err(|e| MediaError::new(path, MediaCause::Io(e)))?;
    Ok(())
}
