//! The library's side of the app: dataset folders being read, the thumbnail worker, and the
//! recent files and folders list, kept apart from `TriggerLabApp` so it stays small.

use crate::jobs::library::{
    DatasetEvent, RecentItem, RecentKind, ThumbWorker, open_dataset, push_recent, read_recent_job,
    recent_json, recent_path,
};
use crate::jobs::project::write_text_job;
use crate::jobs::{self, Job, Repaint};
use crate::ui::{DatasetPanel, StudioState};
use std::collections::HashSet;
use std::path::PathBuf;

pub struct LibraryCtl {
    loads: Vec<(PathBuf, Job<DatasetEvent>)>,
    thumbs: Option<ThumbWorker>,
    /// Thumbnails asked of the worker and not yet back.
    asked: HashSet<PathBuf>,
    recent_read: Option<Job<Vec<RecentItem>>>,
    /// Recent entries made before the stored list was read (merged in when it arrives).
    recent_early: Vec<RecentItem>,
    recent_dir: PathBuf,
    writes: Vec<Job<Result<PathBuf, String>>>,
    /// Folders asked for again while open (the design may have lost them: a new project).
    reopened: Vec<PathBuf>,
    repaint: Repaint,
}

impl LibraryCtl {
    pub fn new(recent_dir: PathBuf, repaint: Repaint) -> Self {
        let recent_read = match read_recent_job(recent_dir.clone(), repaint.clone()) {
            Ok(j) => Some(j),
            Err(e) => {
                tracing::warn!("recent files: {e}");
                None
            }
        };
        LibraryCtl {
            loads: Vec::new(),
            thumbs: None,
            asked: HashSet::new(),
            recent_read,
            recent_early: Vec::new(),
            recent_dir,
            writes: Vec::new(),
            reopened: Vec::new(),
            repaint,
        }
    }

    /// True while a dataset folder is being read.
    pub fn busy(&self) -> bool {
        !self.loads.is_empty()
    }

    /// Starts reading a dataset folder, unless it is open or being read already.
    pub fn open(&mut self, state: &mut StudioState, root: PathBuf) {
        if state.library.datasets.iter().any(|d| d.data.root == root) {
            state.info(format!("{} is open already", root.display()));
            self.reopened.push(root);
            return;
        }
        if self.loads.iter().any(|(r, _)| *r == root) {
            return;
        }
        match open_dataset(root.clone(), self.repaint.clone()) {
            Ok(job) => {
                state.library.loading.push((root.clone(), "reading".into()));
                self.loads.push((root, job));
            }
            Err(e) => state.error(format!("could not start reading {}: {e}", root.display())),
        }
    }

    /// Closes a dataset folder: its panel goes, a read under way is dropped (which cancels it).
    pub fn close(&mut self, state: &mut StudioState, root: &std::path::Path) {
        state.library.datasets.retain(|d| d.data.root != root);
        state.library.loading.retain(|(r, _)| r != root);
        self.loads.retain(|(r, _)| r != root);
    }

    /// Puts a file or folder at the top of the recent list, and stores the list (on a worker).
    pub fn remember(&mut self, state: &mut StudioState, path: PathBuf, kind: RecentKind) {
        let item = RecentItem { path, kind };
        if self.recent_read.is_some() {
            push_recent(&mut self.recent_early, item.clone());
        }
        push_recent(&mut state.library.recent, item);
        self.store_recent(state);
    }

    fn store_recent(&mut self, state: &StudioState) {
        // Before the stored list is read, a write would replace it: the merge writes then.
        if self.recent_read.is_some() {
            return;
        }
        let text = recent_json(&state.library.recent);
        match write_text_job(recent_path(&self.recent_dir), text, jobs::no_repaint()) {
            Ok(job) => self.writes.push(job),
            Err(e) => tracing::warn!("recent files: {e}"),
        }
    }

    /// Takes the workers' news into the state; returns the folders that finished loading (or
    /// were asked for again while open).
    pub fn drain(&mut self, state: &mut StudioState, ctx: &egui::Context) -> Vec<PathBuf> {
        self.drain_recent(state);
        self.writes.retain(|j| match j.try_recv() {
            Some(Err(e)) => {
                tracing::warn!("recent files: {e}");
                false
            }
            Some(Ok(_)) => false,
            None => !j.worker_done(),
        });
        let mut loaded = std::mem::take(&mut self.reopened);
        let mut finished = Vec::new();
        for (k, (root, job)) in self.loads.iter().enumerate() {
            let done = job.worker_done();
            let mut ended = false;
            while let Some(ev) = job.try_recv() {
                match ev {
                    DatasetEvent::Progress(p) => {
                        if let Some(l) = state.library.loading.iter_mut().find(|l| l.0 == *root) {
                            l.1 = p;
                        }
                    }
                    DatasetEvent::Loaded(view) => {
                        state.info(format!(
                            "{}: {} clips in {} classes, {} unreadable",
                            root.display(),
                            view.clips.len(),
                            view.classes.len(),
                            view.skipped.len()
                        ));
                        state.library.datasets.push(DatasetPanel::new(*view));
                        loaded.push(root.clone());
                        ended = true;
                    }
                    DatasetEvent::Failed(e) => {
                        state.error(format!("dataset: {e}"));
                        ended = true;
                    }
                }
            }
            if ended || done && job.queued() == 0 {
                finished.push(k);
            }
        }
        for k in finished.into_iter().rev() {
            let (root, _) = self.loads.remove(k);
            state.library.loading.retain(|l| l.0 != root);
        }
        for root in &loaded {
            self.remember(state, root.clone(), RecentKind::Dataset);
        }
        self.pump_thumbs(state, ctx);
        loaded
    }

    fn drain_recent(&mut self, state: &mut StudioState) {
        let Some(job) = &self.recent_read else { return };
        let done = job.worker_done();
        let stored = match job.try_recv() {
            Some(list) => list,
            None if done => Vec::new(),
            None => return,
        };
        self.recent_read = None;
        let early = std::mem::take(&mut self.recent_early);
        let mut list = stored;
        for item in early.into_iter().rev() {
            push_recent(&mut list, item);
        }
        let changed = list != state.library.recent;
        state.library.recent = list;
        if changed && !state.library.recent.is_empty() {
            self.store_recent(state);
        }
    }

    /// Asks for the thumbnails the panel wanted, and turns the ones made into textures.
    fn pump_thumbs(&mut self, state: &mut StudioState, ctx: &egui::Context) {
        let lib = &mut state.library;
        let wants: Vec<PathBuf> = std::mem::take(&mut lib.want_thumbs)
            .into_iter()
            .filter(|p| !self.asked.contains(p))
            .collect();
        if !wants.is_empty() {
            if self.thumbs.is_none() {
                match ThumbWorker::start(self.repaint.clone()) {
                    Ok(w) => self.thumbs = Some(w),
                    Err(e) => {
                        tracing::warn!("thumbnails: {e}");
                        return;
                    }
                }
            }
            if let Some(w) = &self.thumbs {
                self.asked.extend(wants.iter().cloned());
                for p in w.want(wants) {
                    self.asked.remove(&p);
                }
            }
        }
        let Some(w) = &self.thumbs else { return };
        while let Some(t) = w.try_recv() {
            self.asked.remove(&t.path);
            match t.frame {
                Ok(f) => {
                    let image = egui::ColorImage::from_rgb(
                        [f.width() as usize, f.height() as usize],
                        f.rgb(),
                    );
                    let tex = ctx.load_texture(
                        format!("thumb:{}", t.path.display()),
                        image,
                        egui::TextureOptions::LINEAR,
                    );
                    lib.thumbs.insert(t.path, tex);
                }
                Err(e) => {
                    lib.thumb_failed.insert(t.path, e);
                }
            }
        }
    }
}
