//! Keeps the timeline's audio view in step with the selected clip and the design: a streamed
//! file's audio is decoded once (bounded) on a worker, and for each (clip, design revision) the
//! clean and triggered pictures are made on another; a newer revision drops (cancels) the job of
//! an older one.

use super::TriggerLabApp;
use crate::core::AudioBuffer;
use crate::jobs::Job;
use crate::jobs::audio_view::{
    AudioView, AudioViewRequest, FILE_AUDIO_MAX_SECS, FileAudio, decode_file_audio,
    start_audio_view,
};
use crate::ui::ClipSource;
use std::sync::Arc;

type DecodeJob = Job<Result<Option<FileAudio>, String>>;
type ViewJob = Job<Result<AudioView, String>>;

#[derive(Default)]
pub(super) struct AudioViewCtl {
    /// The selected file's decoded audio (`None` inside: it has none).
    file_audio: Option<(u32, Option<FileAudio>)>,
    decode: Option<(u32, DecodeJob)>,
    /// An in-memory clip's audio, shared with the jobs instead of copied per revision.
    memory_audio: Option<(u32, Arc<AudioBuffer>)>,
    job: Option<((u32, u64), ViewJob)>,
    done: Option<(u32, u64)>,
}

impl AudioViewCtl {
    /// Work for the selected clip's audio view is under way (scripted screenshots wait for it).
    pub(super) fn busy(&self) -> bool {
        self.decode.is_some() || self.job.is_some()
    }
}

impl TriggerLabApp {
    /// The selected file's decoded audio, for the trigger's playback mix.
    pub(super) fn file_audio(&self, clip: u32) -> Option<Arc<AudioBuffer>> {
        match &self.audio_ctl.file_audio {
            Some((id, Some(f))) if *id == clip => Some(Arc::clone(&f.audio)),
            _ => None,
        }
    }

    pub(super) fn sync_audio_view(&mut self) {
        let Some(entry) = self.state.selected_entry() else {
            return;
        };
        let id = entry.id;
        let revision = self.state.doc.revision();
        let ctl = &mut self.audio_ctl;
        // A file: decode its audio once, when it is selected.
        if let ClipSource::File(path) = &entry.source
            && ctl.file_audio.as_ref().map(|f| f.0) != Some(id)
            && ctl.decode.as_ref().map(|d| d.0) != Some(id)
        {
            match decode_file_audio(path.clone(), FILE_AUDIO_MAX_SECS, self.repaint.clone()) {
                Ok(job) => ctl.decode = Some((id, job)),
                Err(e) => {
                    ctl.file_audio = Some((id, None));
                    self.state.error(format!("could not decode the audio: {e}"));
                    return;
                }
            }
        }
        // A worker that ended without a result (a panic, logged by the job) is an error, so
        // nothing waits for it; `worker_done` is read first so a result sent just before the
        // end is still taken.
        if let Some((did, job)) = &ctl.decode
            && let Some(r) = {
                let ended = job.worker_done();
                job.try_recv()
                    .or_else(|| ended.then(|| Err("the decoding worker stopped".to_string())))
            }
        {
            let did = *did;
            ctl.decode = None;
            let audio = r.unwrap_or_else(|e| {
                self.state.error(format!("audio overview: {e}"));
                None
            });
            let ctl = &mut self.audio_ctl;
            ctl.file_audio = Some((did, audio));
            ctl.done = None;
            // The player's trigger mix waited for this audio: make it again.
            self.audio_mixed = None;
            self.audio_mix = None;
        }
        let ctl = &mut self.audio_ctl;
        if let Some((_, job)) = &ctl.job
            && let Some(r) = {
                let ended = job.worker_done();
                job.try_recv()
                    .or_else(|| ended.then(|| Err("the worker stopped".to_string())))
            }
        {
            let key = ctl.job.take().map(|(k, _)| k);
            match r {
                Ok(v) if v.clip == id => {
                    ctl.done = key;
                    self.state.audio_view.accept(v);
                }
                // Another clip was selected meanwhile: its picture is made again when it is
                // selected again.
                Ok(_) => {}
                Err(e) => {
                    ctl.done = key;
                    self.state.error(format!("audio view: {e}"));
                }
            }
        }
        let key = (id, revision);
        let ctl = &mut self.audio_ctl;
        let in_flight = ctl.job.as_ref().is_some_and(|(k, _)| *k == key);
        self.state.audio_view.computing = in_flight;
        if ctl.done == Some(key) || in_flight {
            return;
        }
        let Some(entry) = self.state.selected_entry() else {
            return;
        };
        let (audio, truncated_at) = match (&entry.clip, &ctl.file_audio) {
            (Some(c), _) => match c.audio() {
                Some(a) => {
                    if ctl.memory_audio.as_ref().map(|m| m.0) != Some(id) {
                        ctl.memory_audio = Some((id, Arc::new(a.clone())));
                    }
                    match &ctl.memory_audio {
                        Some((_, a)) => (Arc::clone(a), None),
                        None => return,
                    }
                }
                None => return,
            },
            (None, Some((fid, Some(f)))) if *fid == id => (Arc::clone(&f.audio), f.truncated_at),
            _ => return, // no audio, or not decoded yet
        };
        let spec = &self.state.doc.design().spec;
        let req = AudioViewRequest {
            clip: id,
            revision,
            audio,
            truncated_at,
            trigger: spec.audio.clone(),
            seed: spec.seed,
            assets_dir: self.assets_dir.clone(),
            clean: self.state.audio_view.clean_of(id).cloned(),
        };
        // Replacing the job drops, and so cancels, the one for an older revision.
        match start_audio_view(req, self.repaint.clone()) {
            Ok(job) => {
                self.audio_ctl.job = Some((key, job));
                self.state.audio_view.computing = true;
            }
            Err(e) => {
                self.audio_ctl.done = Some(key);
                self.state
                    .error(format!("could not start the audio view: {e}"));
            }
        }
    }
}
