//! A decoded-clip cache on disk, so training decodes each video once, not once per epoch. Keyed
//! by the SHA-256 of the file's bytes and the decode request: a changed file or different
//! settings never hit a stale entry. Entries are written atomically; an unreadable entry counts
//! as a miss and is rewritten.

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

const MAGIC: &[u8; 8] = b"TLCLIP1\n";

#[derive(Serialize, Deserialize)]
struct Header {
    width: u32,
    height: u32,
    frames: usize,
    fps_num: i64,
    fps_den: i64,
    audio: Option<(u32, u16, usize)>,
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
        if let Some(clip) = read_entry(&entry) {
            return Ok((clip, true));
        }
        let clip = decode_clip(path, req)?.clip;
        if let Err(e) = write_entry(&entry, &clip) {
            // A full disk or read-only cache only costs speed.
            tracing::warn!("clip cache: {e}");
        }
        Ok((clip, false))
    }
}

fn read_entry(path: &Path) -> Option<Clip> {
    let bytes = std::fs::read(path).ok()?;
    let rest = bytes.strip_prefix(MAGIC.as_slice())?;
    let (len, rest) = rest.split_first_chunk::<8>()?;
    let len = usize::try_from(u64::from_le_bytes(*len)).ok()?;
    let header: Header = serde_json::from_slice(rest.get(..len)?).ok()?;
    let mut data = rest.get(len..)?;
    let frame_len = header.width as usize * header.height as usize * 3;
    let mut frames = Vec::with_capacity(header.frames);
    for _ in 0..header.frames {
        let (f, tail) = data.split_at_checked(frame_len)?;
        frames.push(Frame::new(header.width, header.height, f.to_vec()).ok()?);
        data = tail;
    }
    let audio = match header.audio {
        None => None,
        Some((rate, ch, n)) => {
            let (a, tail) = data.split_at_checked(n * 4)?;
            data = tail;
            let s = a
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            Some(AudioBuffer::new(rate, ch, s).ok()?)
        }
    };
    if !data.is_empty() {
        return None;
    }
    Clip::new(
        frames,
        Rational::new(header.fps_num, header.fps_den)?,
        audio,
    )
    .ok()
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
    if let Some(a) = clip.audio() {
        for s in a.samples() {
            put(&s.to_le_bytes())?;
        }
    }
    out.flush().map_err(|e| werr(e.to_string()))?;
    drop(out);
    tmp.persist(path).map_err(|e| werr(e.error.to_string()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::demo::{DemoParams, demo_clip};

    #[test]
    fn entries_round_trip_and_damage_is_a_miss() {
        let dir = tempfile::tempdir().expect("tmp");
        let clip = demo_clip(&DemoParams {
            width: 16,
            height: 8,
            frames: 3,
            fps: 6,
            sample_rate_hz: 800,
            seed: 0,
        })
        .expect("demo");
        let p = dir.path().join("ab").join("x.clip");
        write_entry(&p, &clip).expect("writes");
        assert_eq!(read_entry(&p), Some(clip));
        let mut bytes = std::fs::read(&p).expect("read");
        bytes.truncate(bytes.len() - 3);
        std::fs::write(&p, bytes).expect("write");
        assert_eq!(read_entry(&p), None, "a truncated entry is a miss");
    }
}
