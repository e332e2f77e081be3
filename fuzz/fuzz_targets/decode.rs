//! The decode path on arbitrary bytes: opening, probing, decoding frames (sized, sampled) and
//! audio (resampled). Any input may be refused with an error; none may panic or crash.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::io::Write;
use triggerlab::media::decode::{AudioRequest, DecodeRequest, Sampling, decode_clip};
use triggerlab::media::probe::probe;
use triggerlab::media::reader::SizeMode;

fuzz_target!(|data: &[u8]| {
    // FFmpeg reads files: the input goes through a temporary one.
    let Ok(mut f) = tempfile::NamedTempFile::new() else { return };
    if f.write_all(data).is_err() {
        return;
    }
    let path = f.path();
    let _ = probe(path);
    let req = DecodeRequest {
        size: SizeMode::Fit { width: 24, height: 24 },
        sampling: Sampling::Uniform { frames: 4 },
        audio: Some(AudioRequest { sample_rate_hz: 8000, channels: 1 }),
        max_frames: Some(16),
    };
    let _ = decode_clip(path, &req);
});
