//! Keeps the timeline's thumbnails in step with the design: one worker job per
//! (clip, revision, count), the newest superseding (and cancelling) the one under way.

use crate::jobs::Repaint;
use crate::jobs::thumbs::{ThumbJob, ThumbKey, start_thumbs};
use crate::ui::StudioState;
use crate::ui::timeline::THUMB_HEIGHT;
use std::path::Path;
use std::sync::Arc;

#[derive(Default)]
pub(super) struct ThumbCtl {
    job: Option<(ThumbKey, ThumbJob)>,
    /// The key last finished (made or refused), so a refused design is not retried every frame.
    done: Option<ThumbKey>,
}

impl ThumbCtl {
    /// The strip the timeline wants now: the selected in-memory clip under this revision.
    fn wanted(state: &StudioState) -> Option<ThumbKey> {
        let e = state.selected_entry()?;
        e.clip.as_ref()?;
        (state.thumbs.wanted > 0).then(|| ThumbKey {
            clip: e.id,
            revision: state.doc.revision(),
            count: state.thumbs.wanted,
        })
    }

    pub(super) fn tick(&mut self, state: &mut StudioState, assets_dir: &Path, repaint: &Repaint) {
        if let Some((k, job)) = &self.job {
            // Read before the channel: a worker that sent its result and ended is not mistaken
            // for one that died.
            let ended = job.worker_done();
            if let Some((key, result)) = job.try_recv() {
                self.job = None;
                self.done = Some(key);
                // A refusal is shown by the preview, under its field; the strip keeps the last.
                if let Ok(t) = result {
                    state.thumbs.shown = Some((key, t));
                }
            } else if ended {
                // It ended without a word (a panic, logged by the job): give up on this key,
                // so nobody waits for it.
                let key = *k;
                self.job = None;
                self.done = Some(key);
                state.error("the thumbnails could not be made (the worker stopped)");
            }
        }
        let Some(want) = Self::wanted(state) else {
            return;
        };
        if self.done == Some(want) || self.job.as_ref().is_some_and(|(k, _)| *k == want) {
            return;
        }
        let Some(clip) = state.selected_entry().and_then(|e| e.clip.clone()) else {
            return;
        };
        let spec = Arc::new(state.doc.design().spec.clone());
        // Replacing the job drops (and so cancels) the one under way.
        match start_thumbs(
            want,
            Arc::new(clip),
            spec,
            assets_dir.to_path_buf(),
            THUMB_HEIGHT as u32,
            repaint.clone(),
        ) {
            Ok(j) => self.job = Some((want, j)),
            Err(e) => {
                self.done = Some(want);
                state.error(format!("could not start the thumbnails: {e}"));
            }
        }
    }

    /// Thumbnails for what is on screen are still being made.
    pub(super) fn pending(&self, state: &StudioState) -> bool {
        Self::wanted(state).is_some_and(|w| self.done != Some(w))
    }
}
