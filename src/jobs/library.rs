//! The library's disk work: reading a dataset folder and probing its files, first-frame
//! thumbnails, and the recent files and folders list. The panels get plain data from here.

use super::{Job, Repaint, Sender, start};
use crate::core::Frame;
use crate::media::dataset::{Dataset, Split, read_any};
use crate::media::probe::probe;
use crate::media::reader::{SizeMode, VideoReader};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// One class of a dataset and its usable clips.
#[derive(Clone, Debug, PartialEq)]
pub struct ClassRow {
    pub name: String,
    pub train: usize,
    pub test: usize,
}

/// One usable clip.
#[derive(Clone, Debug, PartialEq)]
pub struct ClipRow {
    pub path: PathBuf,
    /// The file name, shown and filtered on.
    pub file: String,
    /// Index into [`DatasetView::classes`].
    pub class: usize,
    pub test: bool,
}

/// A dataset folder as the library shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct DatasetView {
    pub root: PathBuf,
    pub name: String,
    pub layout: String,
    pub classes: Vec<ClassRow>,
    pub clips: Vec<ClipRow>,
    /// Files that are listed or present but cannot be used, with the reason.
    pub skipped: Vec<(PathBuf, String)>,
}

impl DatasetView {
    fn from_dataset(ds: &Dataset) -> Self {
        let classes = ds
            .counts()
            .into_iter()
            .map(|(name, train, test)| ClassRow { name, train, test })
            .collect();
        let clips = ds
            .items
            .iter()
            .map(|it| ClipRow {
                file: it.path.file_name().map_or_else(
                    || it.path.display().to_string(),
                    |n| n.to_string_lossy().into_owned(),
                ),
                path: it.path.clone(),
                class: it.label,
                test: it.split == Split::Test,
            })
            .collect();
        DatasetView {
            root: ds.root.clone(),
            name: ds.root.file_name().map_or_else(
                || ds.root.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            ),
            layout: ds.layout.to_string(),
            classes,
            clips,
            skipped: ds
                .skipped
                .iter()
                .map(|s| (s.path.clone(), s.reason.clone()))
                .collect(),
        }
    }

    /// Indices of the clips whose class or file name contains `filter` (any case).
    pub fn filtered(&self, filter: &str) -> Vec<usize> {
        let f = filter.trim().to_lowercase();
        if f.is_empty() {
            return (0..self.clips.len()).collect();
        }
        let classes: Vec<bool> = self
            .classes
            .iter()
            .map(|c| c.name.to_lowercase().contains(&f))
            .collect();
        self.clips
            .iter()
            .enumerate()
            .filter(|(_, c)| {
                classes.get(c.class).copied().unwrap_or(false) || c.file.to_lowercase().contains(&f)
            })
            .map(|(i, _)| i)
            .collect()
    }
}

/// What reading a dataset reports.
#[derive(Debug)]
pub enum DatasetEvent {
    Progress(String),
    Loaded(Box<DatasetView>),
    Failed(String),
}

/// Files probed between progress reports (and cancel checks).
const PROBE_CHUNK: usize = 64;

/// Reads `root` in whichever layout it has (split 1) and probes every file, moving the ones
/// FFmpeg cannot read to the skipped list. `progress` hears how far it got and answers whether
/// to go on; `None` when it said stop.
pub fn read_dataset(
    root: &Path,
    mut progress: impl FnMut(String) -> bool,
) -> Option<Result<DatasetView, String>> {
    let mut ds = match read_any(root, 1) {
        Ok(ds) => ds,
        Err(e) => return Some(Err(e.to_string())),
    };
    let n = ds.items.len();
    if !progress(format!("read {n} files, probing 0/{n}")) {
        return None;
    }
    let mut bad: Vec<(usize, String)> = Vec::new();
    for (k, chunk) in ds.items.chunks(PROBE_CHUNK).enumerate() {
        let base = k * PROBE_CHUNK;
        bad.par_extend(chunk.par_iter().enumerate().filter_map(|(i, it)| {
            probe(&it.path)
                .err()
                .map(|e| (base + i, e.cause.to_string()))
        }));
        let done = (base + chunk.len()).min(n);
        if !progress(format!("read {n} files, probing {done}/{n}")) {
            return None;
        }
    }
    // One pass: removing each unreadable file in turn moves the rest every time, quadratic
    // on a dataset with many bad files.
    let mut reasons: Vec<Option<String>> = vec![None; n];
    for (i, reason) in bad {
        reasons[i] = Some(reason);
    }
    let items = std::mem::take(&mut ds.items);
    for (it, reason) in items.into_iter().zip(reasons) {
        match reason {
            Some(reason) => ds.skipped.push(crate::media::dataset::Skipped {
                path: it.path,
                reason,
            }),
            None => ds.items.push(it),
        }
    }
    ds.skipped.sort_by(|a, b| a.path.cmp(&b.path));
    Some(Ok(DatasetView::from_dataset(&ds)))
}

/// Reads a dataset folder on a worker, reporting progress.
pub fn open_dataset(root: PathBuf, repaint: Repaint) -> std::io::Result<Job<DatasetEvent>> {
    start(
        "dataset-read",
        4,
        repaint,
        move |tx: Sender<DatasetEvent>| {
            let result = read_dataset(&root, |p| tx.send(DatasetEvent::Progress(p)));
            match result {
                Some(Ok(view)) => tx.send(DatasetEvent::Loaded(Box::new(view))),
                Some(Err(e)) => tx.send(DatasetEvent::Failed(e)),
                None => false,
            };
        },
    )
}

/// Longest side of a thumbnail, in pixels.
pub const THUMB_SIDE: u32 = 64;
/// Most paths waiting for a thumbnail; older wants are dropped (their rows scrolled away).
const THUMB_QUEUE: usize = 64;

/// A first frame, or why there is none.
#[derive(Debug)]
pub struct Thumb {
    pub path: PathBuf,
    pub frame: Result<Frame, String>,
}

/// Decodes the first frame of a file, scaled down to a thumbnail.
pub fn first_frame(path: &Path) -> Result<Frame, String> {
    let mut r = VideoReader::open(
        path,
        SizeMode::Within {
            max_side: THUMB_SIDE,
        },
    )
    .map_err(|e| e.to_string())?;
    match r.next_frame().map_err(|e| e.to_string())? {
        Some((_, f)) => Ok(f),
        None => Err(format!("{}: no frames", path.display())),
    }
}

type Wanted = Arc<(Mutex<VecDeque<PathBuf>>, Condvar)>;

/// A worker making thumbnails one file at a time, the most recently wanted first.
pub struct ThumbWorker {
    wanted: Wanted,
    job: Job<Thumb>,
}

impl ThumbWorker {
    pub fn start(repaint: Repaint) -> std::io::Result<Self> {
        let wanted: Wanted = Arc::default();
        let w = wanted.clone();
        let job = start("thumbnails", 8, repaint, move |tx: Sender<Thumb>| {
            loop {
                let next = {
                    let (lock, cv) = &*w;
                    let mut q = lock.lock().unwrap_or_else(|e| e.into_inner());
                    loop {
                        if tx.is_cancelled() {
                            return;
                        }
                        if let Some(p) = q.pop_front() {
                            break p;
                        }
                        // Woken by a want; the timeout notices a cancel.
                        q = cv
                            .wait_timeout(q, Duration::from_millis(200))
                            .map(|(g, _)| g)
                            .unwrap_or_else(|e| e.into_inner().0);
                    }
                };
                let frame = first_frame(&next);
                if !tx.send(Thumb { path: next, frame }) {
                    return;
                }
            }
        })?;
        Ok(ThumbWorker { wanted, job })
    }

    /// Puts `paths` at the front of the queue (in their order). Returns the paths dropped off
    /// its end, which will not be made unless wanted again.
    pub fn want(&self, paths: Vec<PathBuf>) -> Vec<PathBuf> {
        let (lock, cv) = &*self.wanted;
        let mut q = lock.lock().unwrap_or_else(|e| e.into_inner());
        q.retain(|p| !paths.contains(p));
        for p in paths.into_iter().rev() {
            q.push_front(p);
        }
        let dropped = if q.len() > THUMB_QUEUE {
            q.split_off(THUMB_QUEUE).into()
        } else {
            Vec::new()
        };
        cv.notify_one();
        dropped
    }

    pub fn try_recv(&self) -> Option<Thumb> {
        self.job.try_recv()
    }
}

/// What a recent entry opens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecentKind {
    Video,
    Dataset,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecentItem {
    pub path: PathBuf,
    pub kind: RecentKind,
}

/// How many recent files and folders are kept.
pub const RECENT_MAX: usize = 10;

/// `recent-library.json` in the autosave folder (next to the recent projects).
pub fn recent_path(dir: &Path) -> PathBuf {
    dir.join("recent-library.json")
}

/// The recent files and folders, newest first (a missing or unreadable file is an empty list).
pub fn read_recent(dir: &Path) -> Vec<RecentItem> {
    let path = recent_path(dir);
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text).unwrap_or_else(|e| {
            tracing::warn!("{}: {e}", path.display());
            Vec::new()
        }),
        Err(_) => Vec::new(),
    }
}

/// `list` with `item` moved to the front, at most [`RECENT_MAX`] long.
pub fn push_recent(list: &mut Vec<RecentItem>, item: RecentItem) {
    list.retain(|i| *i != item);
    list.insert(0, item);
    list.truncate(RECENT_MAX);
}

pub fn recent_json(list: &[RecentItem]) -> String {
    serde_json::to_string_pretty(list).unwrap_or_else(|_| "[]".into())
}

pub fn read_recent_job(dir: PathBuf, repaint: Repaint) -> std::io::Result<Job<Vec<RecentItem>>> {
    start("recent-read", 1, repaint, move |tx| {
        tx.send(read_recent(&dir));
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_items_move_to_the_front_and_are_bounded() {
        let mut list = Vec::new();
        let it = |n: usize| RecentItem {
            path: PathBuf::from(format!("/d/{n}")),
            kind: RecentKind::Dataset,
        };
        for n in 0..15 {
            push_recent(&mut list, it(n));
        }
        push_recent(&mut list, it(10));
        assert_eq!(list.len(), RECENT_MAX);
        assert_eq!(list[0], it(10));
        assert_eq!(list[1], it(14));
        let back: Vec<RecentItem> = serde_json::from_str(&recent_json(&list)).expect("json");
        assert_eq!(back, list);
    }

    #[test]
    fn thumbnails_are_made_newest_want_first_and_old_wants_drop_off() {
        let w = ThumbWorker::start(super::super::no_repaint()).expect("starts");
        let paths: Vec<PathBuf> = (0..THUMB_QUEUE + 6)
            .map(|i| PathBuf::from(format!("/nowhere/{i}.mp4")))
            .collect();
        let dropped = w.want(paths.clone());
        assert_eq!(dropped, paths[THUMB_QUEUE..], "the oldest wants drop off");
        let mut got = Vec::new();
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while got.len() < THUMB_QUEUE {
            assert!(std::time::Instant::now() < deadline, "got {}", got.len());
            match w.try_recv() {
                Some(t) => got.push(t),
                None => std::thread::sleep(Duration::from_millis(5)),
            }
        }
        assert_eq!(got[0].path, paths[0], "the first wanted comes first");
        let e = got[0].frame.as_ref().expect_err("no such file");
        assert!(e.contains("/nowhere/0.mp4"), "{e}");
        // Each wanted path is made once, the dropped ones not at all.
        std::thread::sleep(Duration::from_millis(100));
        assert!(w.try_recv().is_none(), "nothing was made twice");
    }

    #[test]
    fn the_filter_matches_class_or_file_name_in_any_case() {
        let clip = |file: &str, class| ClipRow {
            path: PathBuf::from(file),
            file: file.into(),
            class,
            test: false,
        };
        let v = DatasetView {
            root: "/d".into(),
            name: "d".into(),
            layout: "folders".into(),
            classes: ["Walk", "Run"]
                .map(|n| ClassRow {
                    name: n.into(),
                    train: 1,
                    test: 0,
                })
                .to_vec(),
            clips: vec![clip("a.mp4", 0), clip("b_walk.mp4", 1), clip("c.mp4", 1)],
            skipped: Vec::new(),
        };
        assert_eq!(v.filtered(""), [0, 1, 2]);
        assert_eq!(v.filtered("WALK"), [0, 1]);
        assert_eq!(v.filtered("c.mp"), [2]);
        assert!(v.filtered("swim").is_empty());
    }
}
