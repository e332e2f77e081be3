//! What the library panel shows of datasets on disk, thumbnails and recent files.

use crate::jobs::library::{DatasetView, RecentItem};
use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;

/// Thumbnail textures kept at most; the oldest go first.
const THUMB_CACHE: usize = 512;

/// An opened dataset and its filter.
pub struct DatasetPanel {
    pub data: DatasetView,
    pub filter: String,
    /// Clip indices matching `filter`, recomputed only when the filter changes.
    filtered: Vec<usize>,
    filtered_for: Option<String>,
}

impl DatasetPanel {
    pub fn new(data: DatasetView) -> Self {
        DatasetPanel {
            data,
            filter: String::new(),
            filtered: Vec::new(),
            filtered_for: None,
        }
    }

    /// The dataset and the indices of the clips matching the filter (recomputed only when the
    /// filter changed since the last call).
    pub fn view(&mut self) -> (&DatasetView, &[usize]) {
        if self.filtered_for.as_deref() != Some(self.filter.as_str()) {
            self.filtered = self.data.filtered(&self.filter);
            self.filtered_for = Some(self.filter.clone());
        }
        (&self.data, &self.filtered)
    }
}

/// First-frame thumbnails by file, bounded.
#[derive(Default)]
pub struct ThumbCache {
    textures: HashMap<PathBuf, egui::TextureHandle>,
    order: VecDeque<PathBuf>,
}

impl ThumbCache {
    pub fn get(&self, path: &PathBuf) -> Option<&egui::TextureHandle> {
        self.textures.get(path)
    }

    pub fn insert(&mut self, path: PathBuf, tex: egui::TextureHandle) {
        if self.textures.insert(path.clone(), tex).is_none() {
            self.order.push_back(path);
        }
        while self.order.len() > THUMB_CACHE {
            if let Some(old) = self.order.pop_front() {
                self.textures.remove(&old);
            }
        }
    }

    pub fn len(&self) -> usize {
        self.textures.len()
    }

    pub fn is_empty(&self) -> bool {
        self.textures.is_empty()
    }
}

#[derive(Default)]
pub struct LibraryView {
    pub datasets: Vec<DatasetPanel>,
    /// Folders being read: (folder, progress).
    pub loading: Vec<(PathBuf, String)>,
    pub recent: Vec<RecentItem>,
    pub thumbs: ThumbCache,
    /// Files whose thumbnail could not be made (the placeholder stays, with the reason).
    pub thumb_failed: HashMap<PathBuf, String>,
    /// Visible rows without a thumbnail this frame, top first; the app asks the worker.
    pub want_thumbs: Vec<PathBuf>,
}
