//! Datasets on disk: the UCF-101 layout (`root/Class/*.avi|mp4` + `classInd.txt`,
//! `trainlist0N.txt`, `testlist0N.txt`), HMDB-51 split files (`<class>_test_split<N>.txt` with
//! 0/1/2 markers), and a plain list (`relative/path label` per line, as mmaction2 uses).
//! Class names map to indices in a deterministic order. One unreadable file never aborts a
//! dataset: it is skipped and listed with its reason. The SynthMotion writer is here too.

use super::encode::{EncodeOptions, write_mp4};
use super::error::{MediaCause, MediaError};
use crate::core::synth::{SynthSpec, synth_clip};
use rayon::prelude::*;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Split {
    Train,
    Test,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Item {
    pub path: PathBuf,
    pub label: usize,
    pub split: Split,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Skipped {
    pub path: PathBuf,
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Dataset {
    pub root: PathBuf,
    pub layout: &'static str,
    pub classes: Vec<String>,
    pub items: Vec<Item>,
    pub skipped: Vec<Skipped>,
}

impl Dataset {
    pub fn split(&self, split: Split) -> impl Iterator<Item = &Item> {
        self.items.iter().filter(move |i| i.split == split)
    }

    /// Usable clips per class name, in class order.
    pub fn counts(&self) -> Vec<(String, usize, usize)> {
        self.classes
            .iter()
            .enumerate()
            .map(|(c, name)| {
                let n = |s| {
                    self.items
                        .iter()
                        .filter(|i| i.label == c && i.split == s)
                        .count()
                };
                (name.clone(), n(Split::Train), n(Split::Test))
            })
            .collect()
    }

    /// Probes every file (in parallel) and moves the ones FFmpeg cannot read to `skipped`.
    pub fn check_readable(&mut self) {
        let bad: Vec<(usize, String)> = self
            .items
            .par_iter()
            .enumerate()
            .filter_map(|(i, it)| {
                super::probe::probe(&it.path)
                    .err()
                    .map(|e| (i, e.cause.to_string()))
            })
            .collect();
        for (i, reason) in bad.iter().rev() {
            let it = self.items.remove(*i);
            self.skipped.push(Skipped {
                path: it.path,
                reason: reason.clone(),
            });
        }
        self.skipped.sort_by(|a, b| a.path.cmp(&b.path));
    }
}

fn derr(path: &Path, msg: impl Into<String>) -> MediaError {
    MediaError::new(path, MediaCause::Open(msg.into()))
}

fn read_lines(path: &Path) -> Result<Vec<String>, MediaError> {
    let text =
        std::fs::read_to_string(path).map_err(|e| MediaError::new(path, MediaCause::Io(e)))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect())
}

const VIDEO_EXT: [&str; 8] = ["avi", "mp4", "mkv", "webm", "mov", "mpg", "mpeg", "ogv"];

fn is_video(p: &Path) -> bool {
    p.extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .is_some_and(|e| VIDEO_EXT.contains(&e.as_str()))
}

/// Finds the split files of a UCF-101 folder (in the root or in `ucfTrainTestlist/`).
fn ucf_list_dir(root: &Path) -> Option<PathBuf> {
    [root.to_path_buf(), root.join("ucfTrainTestlist")]
        .into_iter()
        .find(|d| d.join("classInd.txt").is_file())
}

/// Reads a UCF-101-layout folder with split `n` (1, 2 or 3).
pub fn read_ucf(root: &Path, n: u32) -> Result<Dataset, MediaError> {
    let lists = ucf_list_dir(root).ok_or_else(|| {
        derr(
            root,
            "no classInd.txt (in the folder or in ucfTrainTestlist/)",
        )
    })?;
    let mut classes = Vec::new();
    for line in read_lines(&lists.join("classInd.txt"))? {
        let mut parts = line.split_whitespace();
        let (Some(idx), Some(name)) = (parts.next(), parts.next()) else {
            return Err(derr(
                &lists.join("classInd.txt"),
                format!("bad line `{line}` (want `index name`)"),
            ));
        };
        let i: usize = idx.parse().map_err(|_| {
            derr(
                &lists.join("classInd.txt"),
                format!("bad index in `{line}`"),
            )
        })?;
        if i != classes.len() + 1 {
            return Err(derr(
                &lists.join("classInd.txt"),
                format!("indices must run 1, 2, …; got {i}"),
            ));
        }
        classes.push(name.to_string());
    }
    let by_name: BTreeMap<&str, usize> = classes
        .iter()
        .enumerate()
        .map(|(i, c)| (c.as_str(), i))
        .collect();
    let mut items = Vec::new();
    let mut skipped = Vec::new();
    for (file, split) in [
        (format!("trainlist{n:02}.txt"), Split::Train),
        (format!("testlist{n:02}.txt"), Split::Test),
    ] {
        let list = lists.join(&file);
        for line in read_lines(&list)? {
            let rel = line.split_whitespace().next().unwrap_or_default();
            let path = root.join(rel);
            let class = rel.split(['/', '\\']).next().unwrap_or_default();
            match by_name.get(class) {
                Some(&label) if path.is_file() => items.push(Item { path, label, split }),
                Some(_) => skipped.push(Skipped {
                    path,
                    reason: "listed but missing".into(),
                }),
                None => skipped.push(Skipped {
                    path,
                    reason: format!("class `{class}` is not in classInd.txt"),
                }),
            }
        }
    }
    Ok(Dataset {
        root: root.to_path_buf(),
        layout: "ucf101",
        classes,
        items,
        skipped,
    })
}

/// Reads an HMDB-51 folder (`root/<class>/*.avi`) with split files in `splits` (default
/// `root/testTrainMulti_7030_splits`): in `<class>_test_split<n>.txt`, 1 = train, 2 = test,
/// 0 = unused.
pub fn read_hmdb(root: &Path, splits: Option<&Path>, n: u32) -> Result<Dataset, MediaError> {
    let dir = splits
        .map(Path::to_path_buf)
        .unwrap_or_else(|| root.join("testTrainMulti_7030_splits"));
    let suffix = format!("_test_split{n}.txt");
    let mut files: Vec<(String, PathBuf)> = std::fs::read_dir(&dir)
        .map_err(|e| MediaError::new(&dir, MediaCause::Io(e)))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter_map(|p| {
            let name = p.file_name()?.to_string_lossy().to_string();
            name.strip_suffix(&suffix)
                .map(|c| (c.to_string(), p.clone()))
        })
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(derr(&dir, format!("no `*{suffix}` files")));
    }
    let classes: Vec<String> = files.iter().map(|(c, _)| c.clone()).collect();
    let mut items = Vec::new();
    let mut skipped = Vec::new();
    for (label, (class, list)) in files.iter().enumerate() {
        for line in read_lines(list)? {
            let mut parts = line.split_whitespace();
            let (Some(video), Some(mark)) = (parts.next(), parts.next()) else {
                continue;
            };
            let split = match mark {
                "1" => Split::Train,
                "2" => Split::Test,
                _ => continue,
            };
            let path = root.join(class).join(video);
            if path.is_file() {
                items.push(Item { path, label, split });
            } else {
                skipped.push(Skipped {
                    path,
                    reason: "listed but missing".into(),
                });
            }
        }
    }
    Ok(Dataset {
        root: root.to_path_buf(),
        layout: "hmdb51",
        classes,
        items,
        skipped,
    })
}

/// Reads plain lists (`relative/path label` per line; label an integer index or a class name)
/// for training and testing. Class names come from the labels (names sorted, or `class_<i>`).
pub fn read_list(root: &Path, train: &Path, test: &Path) -> Result<Dataset, MediaError> {
    let mut rows = Vec::new();
    for (list, split) in [(train, Split::Train), (test, Split::Test)] {
        for line in read_lines(list)? {
            let (rel, label) = line
                .rsplit_once(char::is_whitespace)
                .ok_or_else(|| derr(list, format!("bad line `{line}` (want `path label`)")))?;
            rows.push((root.join(rel.trim()), label.trim().to_string(), split));
        }
    }
    let numeric = rows.iter().all(|r| r.1.parse::<usize>().is_ok());
    let classes: Vec<String> = if numeric {
        let max = rows
            .iter()
            .filter_map(|r| r.1.parse::<usize>().ok())
            .max()
            .unwrap_or(0);
        (0..=max).map(|i| format!("class_{i}")).collect()
    } else {
        let mut names: Vec<String> = rows.iter().map(|r| r.1.clone()).collect();
        names.sort();
        names.dedup();
        names
    };
    let mut items = Vec::new();
    let mut skipped = Vec::new();
    for (path, label, split) in rows {
        let label = if numeric {
            label.parse().unwrap_or(0)
        } else {
            classes.iter().position(|c| *c == label).unwrap_or(0)
        };
        if path.is_file() {
            items.push(Item { path, label, split });
        } else {
            skipped.push(Skipped {
                path,
                reason: "listed but missing".into(),
            });
        }
    }
    Ok(Dataset {
        root: root.to_path_buf(),
        layout: "list",
        classes,
        items,
        skipped,
    })
}

/// Reads a folder in whichever layout it has (UCF-101 if it has classInd.txt, HMDB-51 if it has
/// split files, else every class folder's videos as a train split).
pub fn read_any(root: &Path, split: u32) -> Result<Dataset, MediaError> {
    if !root.is_dir() {
        return Err(derr(root, "not a folder"));
    }
    if ucf_list_dir(root).is_some() {
        return read_ucf(root, split);
    }
    if root.join("testTrainMulti_7030_splits").is_dir() {
        return read_hmdb(root, None, split);
    }
    let mut classes: Vec<String> = std::fs::read_dir(root)
        .map_err(|e| MediaError::new(root, MediaCause::Io(e)))?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    classes.sort();
    let mut items = Vec::new();
    for (label, c) in classes.iter().enumerate() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(root.join(c))
            .map_err(|e| MediaError::new(&root.join(c), MediaCause::Io(e)))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| is_video(p))
            .collect();
        files.sort();
        items.extend(files.into_iter().map(|path| Item {
            path,
            label,
            split: Split::Train,
        }));
    }
    if items.is_empty() {
        return Err(derr(
            root,
            "no class folders with videos and no split files",
        ));
    }
    Ok(Dataset {
        root: root.to_path_buf(),
        layout: "folders",
        classes,
        items,
        skipped: Vec::new(),
    })
}

/// UCF-101-style group of clip `index` (clips come in groups of 4, as UCF-101's `gNN_cNN`).
fn group_of(index: usize) -> (usize, usize) {
    (index / 4 + 1, index % 4 + 1)
}

/// What `write_synth` made.
#[derive(Clone, Debug, Serialize)]
pub struct SynthReport {
    pub out: PathBuf,
    pub clips: usize,
    pub train: usize,
    pub test: usize,
    pub spec: SynthSpec,
}

/// Writes a SynthMotion dataset as a UCF-101-layout folder of MP4 files with audio, split list
/// 01 (test = the first ~28 % of groups of 4 clips, as UCF-101's split 1), `classInd.txt` and
/// `synth.json` (the spec, seed included). The folder appears complete or not at all.
pub fn write_synth(spec: &SynthSpec, out: &Path) -> Result<SynthReport, MediaError> {
    spec.validate()
        .map_err(|e| MediaError::new(out, MediaCause::Write(e.to_string())))?;
    if out.exists()
        && std::fs::read_dir(out)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        return Err(MediaError::new(
            out,
            MediaCause::Write("the folder exists and is not empty".into()),
        ));
    }
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(parent).map_err(|e| MediaError::new(parent, MediaCause::Io(e)))?;
    let tmp = tempfile::Builder::new()
        .prefix(".triggerlab-synth-")
        .tempdir_in(parent)
        .map_err(|e| MediaError::new(out, MediaCause::Write(e.to_string())))?;
    let names: Vec<&str> = spec.motions().iter().map(|m| m.name()).collect();
    for n in &names {
        std::fs::create_dir(tmp.path().join(n))
            .map_err(|e| MediaError::new(out, MediaCause::Io(e)))?;
    }
    let groups = group_of(spec.per_class - 1).0;
    // Test = the first ~28 % of groups (UCF-101 split 1 keeps groups 1–7 of 25 for testing);
    // with a single group, the first clip of each class (when there is more than one).
    let test_groups = ((groups as f64 * 0.28).round() as usize).clamp(1, groups.max(2) - 1);
    let is_test = |i: usize| {
        let (g, k) = group_of(i);
        if groups >= 2 {
            g <= test_groups
        } else {
            spec.per_class > 1 && k == 1
        }
    };
    let jobs: Vec<(usize, usize)> = (0..spec.classes)
        .flat_map(|c| (0..spec.per_class).map(move |i| (c, i)))
        .collect();
    let opts = EncodeOptions {
        preset: "veryfast",
        threads: Some(1),
        ..EncodeOptions::default()
    };
    let rel_paths: Vec<(String, usize, bool)> = jobs
        .par_iter()
        .map(|&(c, i)| {
            let clip = synth_clip(spec, c, i)
                .map_err(|e| MediaError::new(out, MediaCause::Write(e.to_string())))?;
            let (g, k) = group_of(i);
            let rel = format!("{0}/v_{0}_g{g:02}_c{k:02}.mp4", names[c]);
            write_mp4(&clip, &tmp.path().join(&rel), &opts)?;
            Ok((rel, c, is_test(i)))
        })
        .collect::<Result<_, MediaError>>()?;
    let ind: String = names
        .iter()
        .enumerate()
        .map(|(i, n)| format!("{} {n}\n", i + 1))
        .collect();
    let train: String = rel_paths
        .iter()
        .filter(|r| !r.2)
        .map(|(p, c, _)| format!("{p} {}\n", c + 1))
        .collect();
    let test: String = rel_paths
        .iter()
        .filter(|r| r.2)
        .map(|(p, _, _)| format!("{p}\n"))
        .collect();
    let w = |name: &str, text: &str| {
        std::fs::write(tmp.path().join(name), text)
            .map_err(|e| MediaError::new(out, MediaCause::Io(e)))
    };
    w("classInd.txt", &ind)?;
    w("trainlist01.txt", &train)?;
    w("testlist01.txt", &test)?;
    let spec_json = serde_json::to_string_pretty(spec)
        .map_err(|e| MediaError::new(out, MediaCause::Write(e.to_string())))?;
    w("synth.json", &spec_json)?;
    let kept = tmp.keep();
    if out.exists() {
        std::fs::remove_dir(out).map_err(|e| MediaError::new(out, MediaCause::Io(e)))?;
    }
    std::fs::rename(&kept, out).map_err(|e| {
        let _ = std::fs::remove_dir_all(&kept); // best effort: do not leave the temp folder behind
        MediaError::new(out, MediaCause::Write(e.to_string()))
    })?;
    let n_test = rel_paths.iter().filter(|r| r.2).count();
    Ok(SynthReport {
        out: out.to_path_buf(),
        clips: rel_paths.len(),
        train: rel_paths.len() - n_test,
        test: n_test,
        spec: spec.clone(),
    })
}
