//! A decoded-clip cache on disk, so training decodes each video once, not once per epoch. Keyed
//! by the SHA-256 of the file's bytes, the decode request and [`FORMAT_VERSION`] with FFmpeg's
//! library versions: a changed file, different settings or a changed decoder never hit a stale
//! entry. Entries are written atomically.
//!
//! The cache distrusts its own files: a header is checked against the file's length before
//! anything is allocated from it, and the payload against a CRC-32, so a truncated, corrupt or
//! hostile entry is a miss (and is removed), never a panic or an abort.

use super::decode::{DecodeRequest, decode_clip};
use super::error::{MediaCause, MediaError};
use crate::core::{AudioBuffer, Clip, Frame, Rational};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

const MAGIC: &[u8; 8] = b"TLCLIP2\n";

/// Bump whenever decoding, scaling, sampling or this file format changes what an entry holds:
/// it is part of every key, so old entries are never served.
pub const FORMAT_VERSION: u32 = 2;

/// A header longer than this is not one we wrote (ours are ~100 bytes).
const MAX_HEADER: usize = 4096;

#[derive(Serialize, Deserialize)]
struct Header {
    width: u32,
    height: u32,
    frames: usize,
    fps_num: i64,
    fps_den: i64,
    audio: Option<(u32, u16, usize)>,
    /// CRC-32 of the payload (frames then audio samples).
    crc32: u32,
}

impl Header {
    /// The payload length the header promises, if it is representable.
    fn payload_len(&self) -> Option<usize> {
        let frame = (self.width as usize)
            .checked_mul(self.height as usize)?
            .checked_mul(3)?;
        let video = frame.checked_mul(self.frames)?;
        let audio = self.audio.map_or(Some(0), |(_, _, n)| n.checked_mul(4))?;
        video.checked_add(audio)
    }
}

pub struct ClipCache {
    dir: PathBuf,
    /// File hashes computed in this process, keyed by (path, size, modification time).
    hashes: Mutex<HashMap<(PathBuf, u64, SystemTime), String>>,
}

impl ClipCache {
    /// `$XDG_CACHE_HOME/triggerlab/clips`, else `~/.cache/triggerlab/clips`.
    pub fn default_dir() -> PathBuf {
        let base = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
            .unwrap_or_else(std::env::temp_dir);
        base.join("triggerlab").join("clips")
    }

    pub fn new(dir: impl Into<PathBuf>) -> Result<Self, MediaError> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).map_err(|e| MediaError::new(&dir, MediaCause::Io(e)))?;
        Ok(ClipCache {
            dir,
            hashes: Mutex::new(HashMap::new()),
        })
    }

    fn file_hash(&self, path: &Path) -> Result<String, MediaError> {
        let meta = std::fs::metadata(path).map_err(|e| MediaError::new(path, MediaCause::Io(e)))?;
        let memo_key = (
            path.to_path_buf(),
            meta.len(),
            meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
        );
        if let Some(h) = self
            .hashes
            .lock()
            .ok()
            .and_then(|m| m.get(&memo_key).cloned())
        {
            return Ok(h);
        }
        let mut f =
            std::fs::File::open(path).map_err(|e| MediaError::new(path, MediaCause::Io(e)))?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = f
                .read(&mut buf)
                .map_err(|e| MediaError::new(path, MediaCause::Io(e)))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        let h = hex::encode(hasher.finalize());
        if let Ok(mut m) = self.hashes.lock() {
            m.insert(memo_key, h.clone());
        }
        Ok(h)
    }

    /// The cache key of decoding `path` with `req`.
    pub fn key(&self, path: &Path, req: &DecodeRequest) -> Result<String, MediaError> {
        let settings = serde_json::to_string(req)
            .map_err(|e| MediaError::new(path, MediaCause::Decode(e.to_string())))?;
        let mut h = Sha256::new();
        h.update(self.file_hash(path)?.as_bytes());
        h.update(settings.as_bytes());
        h.update(decoder_version().as_bytes());
        Ok(hex::encode(h.finalize()))
    }

    fn entry(&self, key: &str) -> PathBuf {
        self.dir.join(&key[..2]).join(format!("{key}.clip"))
    }

    /// The clip for (`path`, `req`) and whether it came from the cache.
    pub fn get_or_decode(
        &self,
        path: &Path,
        req: &DecodeRequest,
    ) -> Result<(Clip, bool), MediaError> {
        let key = self.key(path, req)?;
        let entry = self.entry(&key);
        match read_entry(&entry) {
            Ok(clip) => return Ok((clip, true)),
            Err(Miss::Absent) => {}
            Err(Miss::Invalid(why)) => {
                tracing::warn!("clip cache: {} is {why}; decoding again", entry.display());
                // Rewritten below; removed now in case the decode fails.
                let _ = std::fs::remove_file(&entry); // already gone is as good
            }
        }
        let clip = decode_clip(path, req)?.clip;
        if let Err(e) = write_entry(&entry, &clip) {
            // A full disk or read-only cache only costs speed.
            tracing::warn!("clip cache: {e}");
        }
        Ok((clip, false))
    }
}

/// The format and FFmpeg's decoder and scaler versions, for the key.
fn decoder_version() -> String {
    format!(
        "tlclip{FORMAT_VERSION} avcodec{} avformat{} swscale{} swresample{}",
        ffmpeg_next::codec::version(),
        ffmpeg_next::format::version(),
        ffmpeg_next::software::scaling::version(),
        ffmpeg_next::software::resampling::version(),
    )
}

/// Why an entry was not served.
#[derive(Debug, PartialEq)]
enum Miss {
    Absent,
    Invalid(&'static str),
}

fn read_entry(path: &Path) -> Result<Clip, Miss> {
    use Miss::Invalid;
    // The file's own length bounds this allocation; nothing is sized from the header before
    // the header is checked against it.
    let bytes = std::fs::read(path).map_err(|_| Miss::Absent)?;
    let rest = bytes
        .strip_prefix(MAGIC.as_slice())
        .ok_or(Invalid("not a clip entry of this version"))?;
    let (len, rest) = rest.split_first_chunk::<8>().ok_or(Invalid("truncated"))?;
    let len = usize::try_from(u64::from_le_bytes(*len))
        .ok()
        .filter(|&l| l <= MAX_HEADER)
        .ok_or(Invalid("damaged (header length)"))?;
    let header: Header = serde_json::from_slice(rest.get(..len).ok_or(Invalid("truncated"))?)
        .map_err(|_| Invalid("damaged (header)"))?;
    let data = &rest[len..];
    if header.width == 0 || header.height == 0 || header.frames == 0 {
        return Err(Invalid("damaged (empty clip)"));
    }
    if header.payload_len() != Some(data.len()) {
        return Err(Invalid("truncated or damaged (length)"));
    }
    if crc32fast::hash(data) != header.crc32 {
        return Err(Invalid("damaged (checksum)"));
    }
    let bad = |_| Invalid("damaged (contents)");
    let frame_len = header.width as usize * header.height as usize * 3;
    let (video, audio_bytes) = data.split_at(frame_len * header.frames);
    let frames = video
        .chunks_exact(frame_len)
        .map(|f| Frame::new(header.width, header.height, f.to_vec()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(bad)?;
    let audio = match header.audio {
        None => None,
        Some((rate, ch, _)) => {
            let s = audio_bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            Some(AudioBuffer::new(rate, ch, s).map_err(bad)?)
        }
    };
    let fps = Rational::new(header.fps_num, header.fps_den).ok_or(Invalid("damaged (rate)"))?;
    Clip::new(frames, fps, audio).map_err(bad)
}

fn write_entry(path: &Path, clip: &Clip) -> Result<(), MediaError> {
    let werr = |m: String| MediaError::new(path, MediaCause::Write(m));
    let (w, h) = clip.size().unwrap_or((0, 0));
    let header = Header {
        width: w,
        height: h,
        frames: clip.frames().len(),
        fps_num: clip.fps().num(),
        fps_den: clip.fps().den(),
        audio: clip
            .audio()
            .map(|a| (a.sample_rate_hz(), a.channels(), a.samples().len())),
        crc32: 0,
    };
    let mut crc = crc32fast::Hasher::new();
    for f in clip.frames() {
        crc.update(f.rgb());
    }
    let audio_bytes: Vec<u8> = clip
        .audio()
        .map(|a| a.samples().iter().flat_map(|s| s.to_le_bytes()).collect())
        .unwrap_or_default();
    crc.update(&audio_bytes);
    let header = Header {
        crc32: crc.finalize(),
        ..header
    };
    let hjson = serde_json::to_vec(&header).map_err(|e| werr(e.to_string()))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| werr(e.to_string()))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| werr(e.to_string()))?;
    let mut out = std::io::BufWriter::new(tmp.as_file_mut());
    let mut put = |b: &[u8]| out.write_all(b).map_err(|e| werr(e.to_string()));
    put(MAGIC)?;
    put(&(hjson.len() as u64).to_le_bytes())?;
    put(&hjson)?;
    for f in clip.frames() {
        put(f.rgb())?;
    }
    put(&audio_bytes)?;
    out.flush().map_err(|e| werr(e.to_string()))?;
    drop(out);
    tmp.persist(path).map_err(|e| werr(e.error.to_string()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::demo::{DemoParams, demo_clip};

    fn entry(dir: &Path) -> (PathBuf, Clip) {
        let clip = demo_clip(&DemoParams {
            width: 16,
            height: 8,
            frames: 3,
            fps: 6,
            sample_rate_hz: 800,
            seed: 0,
        })
        .expect("demo");
        let p = dir.join("ab").join("x.clip");
        write_entry(&p, &clip).expect("writes");
        (p, clip)
    }

    /// Rewrites the entry's header through `edit`, keeping the payload.
    fn with_header(p: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
        let bytes = std::fs::read(p).expect("read");
        let len = u64::from_le_bytes(bytes[8..16].try_into().expect("8 bytes")) as usize;
        let mut h: serde_json::Value = serde_json::from_slice(&bytes[16..16 + len]).expect("json");
        edit(&mut h);
        let hj = serde_json::to_vec(&h).expect("json");
        let mut out = MAGIC.to_vec();
        out.extend((hj.len() as u64).to_le_bytes());
        out.extend(&hj);
        out.extend(&bytes[16 + len..]);
        std::fs::write(p, out).expect("write");
    }

    #[test]
    fn entries_round_trip() {
        let dir = tempfile::tempdir().expect("tmp");
        let (p, clip) = entry(dir.path());
        assert_eq!(read_entry(&p), Ok(clip));
    }

    #[test]
    fn a_truncated_entry_is_a_miss() {
        let dir = tempfile::tempdir().expect("tmp");
        let (p, _) = entry(dir.path());
        let full = std::fs::read(&p).expect("read");
        for keep in [full.len() - 3, full.len() / 2, 20, 12, 3, 0] {
            std::fs::write(&p, &full[..keep]).expect("write");
            assert!(
                matches!(read_entry(&p), Err(Miss::Invalid(_))),
                "truncated to {keep} bytes"
            );
        }
    }

    #[test]
    fn a_bit_flip_anywhere_is_a_miss() {
        let dir = tempfile::tempdir().expect("tmp");
        let (p, _) = entry(dir.path());
        let full = std::fs::read(&p).expect("read");
        // Every 7th byte, header and payload alike: a flipped pixel is as wrong as a flipped size.
        for i in (0..full.len()).step_by(7) {
            let mut b = full.clone();
            b[i] ^= 0x10;
            std::fs::write(&p, &b).expect("write");
            let r = read_entry(&p);
            assert!(
                matches!(r, Err(Miss::Invalid(_))),
                "byte {i} flipped: {r:?}"
            );
        }
    }

    #[test]
    fn an_oversized_header_is_a_miss_without_allocating_from_it() {
        let dir = tempfile::tempdir().expect("tmp");
        let (p, _) = entry(dir.path());
        for (field, value) in [
            ("frames", serde_json::json!(u64::MAX)),
            ("frames", serde_json::json!(1u64 << 40)),
            ("width", serde_json::json!(u32::MAX)),
            ("audio", serde_json::json!([800, 1, u64::MAX])),
            ("width", serde_json::json!(0)),
        ] {
            let (p2, _) = entry(dir.path());
            with_header(&p2, |h| h[field] = value.clone());
            let r = read_entry(&p2);
            assert!(
                matches!(r, Err(Miss::Invalid(_))),
                "{field} = {value}: {r:?}"
            );
        }
        // A header length beyond the file, or absurdly large.
        let mut b = std::fs::read(&p).expect("read");
        b[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
        std::fs::write(&p, &b).expect("write");
        assert!(matches!(read_entry(&p), Err(Miss::Invalid(_))));
    }

    #[test]
    fn a_damaged_entry_is_removed_and_decoded_again() {
        let dir = tempfile::tempdir().expect("tmp");
        let cache = ClipCache::new(dir.path().join("cache")).expect("cache");
        let video = dir.path().join("v.mp4");
        let clip = demo_clip(&DemoParams {
            width: 64,
            height: 64,
            frames: 4,
            fps: 8,
            sample_rate_hz: 8000,
            seed: 1,
        })
        .expect("demo");
        crate::media::encode::write_mp4(&clip, &video, &Default::default()).expect("mp4");
        let req = DecodeRequest::default();
        let (first, hit) = cache.get_or_decode(&video, &req).expect("decodes");
        assert!(!hit);
        let entry = cache.entry(&cache.key(&video, &req).expect("key"));
        let mut b = std::fs::read(&entry).expect("entry");
        let last = b.len() - 1;
        b[last] ^= 1;
        std::fs::write(&entry, b).expect("write");
        let (again, hit) = cache.get_or_decode(&video, &req).expect("decodes");
        assert!(!hit, "a damaged entry is a miss");
        assert_eq!(again, first);
        assert!(
            cache.get_or_decode(&video, &req).expect("hit").1,
            "rewritten"
        );
    }
}
