//! Project files (`*.tlab.json`) and autosave, read and written on worker threads. Writes are
//! atomic (a temp file renamed into place), so a crash mid-save never leaves half a project.
//!
//! Crash recovery: while the studio runs, a marker file sits next to the autosave; a clean exit
//! removes it. Finding the marker at start-up means the last session did not exit cleanly, and
//! its autosave is offered for restore.

use super::{Job, Repaint, start};
use crate::core::attack::{AttackSpec, parse_json, parse_toml};
use crate::core::design::{Design, design_to_json, parse_design};
use crate::media::image_io::write_atomic;
use std::path::{Path, PathBuf};

/// The extension a project file gets when the user types none.
pub const PROJECT_EXT: &str = "tlab.json";

/// `~/.cache/triggerlab/autosave`, or `$TRIGGERLAB_AUTOSAVE_DIR` (tests point it elsewhere).
pub fn autosave_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("TRIGGERLAB_AUTOSAVE_DIR") {
        return PathBuf::from(d);
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    home.join(".cache/triggerlab/autosave")
}

pub fn autosave_path(dir: &Path) -> PathBuf {
    dir.join("autosave.tlab.json")
}

fn marker_path(dir: &Path) -> PathBuf {
    dir.join("session-running")
}

/// Adds `.tlab.json` to a path picked without it.
pub fn with_project_ext(path: PathBuf) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if name.ends_with(".tlab.json") {
        path
    } else if let Some(stem) = name.strip_suffix(".json") {
        path.with_file_name(format!("{stem}.{PROJECT_EXT}"))
    } else {
        path.with_file_name(format!("{name}.{PROJECT_EXT}"))
    }
}

/// Reads and parses a project; the error names the file and the field.
pub fn read_project(path: &Path) -> Result<Design, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    parse_design(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Writes a project atomically.
pub fn write_project(path: &Path, design: &Design) -> Result<(), String> {
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    write_atomic(path, design_to_json(design).as_bytes())
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// What a project job reports.
#[derive(Debug)]
pub enum ProjectEvent {
    Opened(PathBuf, Box<Design>),
    Saved {
        path: PathBuf,
        /// An autosave, not the user's file.
        autosave: bool,
    },
    Failed(String),
}

pub fn open_project(path: PathBuf, repaint: Repaint) -> std::io::Result<Job<ProjectEvent>> {
    start("project-open", 1, repaint, move |tx| {
        tx.send(match read_project(&path) {
            Ok(d) => ProjectEvent::Opened(path, Box::new(d)),
            Err(e) => ProjectEvent::Failed(e),
        });
    })
}

pub fn save_project(
    path: PathBuf,
    design: Design,
    autosave: bool,
    repaint: Repaint,
) -> std::io::Result<Job<ProjectEvent>> {
    start("project-save", 1, repaint, move |tx| {
        tx.send(match write_project(&path, &design) {
            Ok(()) => ProjectEvent::Saved { path, autosave },
            Err(e) => ProjectEvent::Failed(e),
        });
    })
}

/// At start-up: marks this session as running (with its process id) and says whether the
/// previous one crashed with an autosave to offer. A marker whose process is still alive is
/// another studio running now, not a crash.
pub fn begin_session(dir: &Path) -> Option<PathBuf> {
    let marker = marker_path(dir);
    let previous = std::fs::read_to_string(&marker).ok();
    let alive = previous
        .as_deref()
        .and_then(|t| t.trim().parse::<u32>().ok())
        .is_some_and(|pid| Path::new(&format!("/proc/{pid}")).exists());
    let crashed = previous.is_some() && !alive;
    let auto = autosave_path(dir);
    let offer = (crashed && auto.exists()).then_some(auto);
    if let Err(e) = std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::write(&marker, format!("{}\n", std::process::id())))
    {
        tracing::warn!("autosave folder {}: {e}", dir.display());
    }
    offer
}

/// What start-up finds in the autosave folder.
pub struct SessionStart {
    /// The autosave of a session that crashed.
    pub restore_offer: Option<PathBuf>,
    /// Recent projects, newest first.
    pub recent: Vec<PathBuf>,
}

/// [`begin_session`] and [`read_recent`] on a worker.
pub fn start_session(dir: PathBuf, repaint: Repaint) -> std::io::Result<Job<SessionStart>> {
    start("session-start", 1, repaint, move |tx| {
        let restore_offer = begin_session(&dir);
        tx.send(SessionStart {
            restore_offer,
            recent: read_recent(&dir),
        });
    })
}

/// The recent projects, newest first (one path per line; a missing file is an empty list).
pub fn read_recent(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_to_string(dir.join("recent.txt"))
        .map(|t| {
            t.lines()
                .filter(|l| !l.is_empty())
                .map(PathBuf::from)
                .collect()
        })
        .unwrap_or_default()
}

/// At a clean exit: the session is over (its autosave stays for reference, but is not offered).
pub fn end_session(dir: &Path) {
    let _ = std::fs::remove_file(marker_path(dir)); // absent already: nothing to do
}

/// Reads an attack spec file (TOML by extension, else JSON); relative paths in it resolve
/// against its folder, which is returned with it.
pub fn read_spec(path: &Path) -> Result<(AttackSpec, PathBuf), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let is_toml = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("toml"));
    let spec = if is_toml {
        parse_toml(&text)
    } else {
        parse_json(&text)
    }
    .map_err(|e| format!("{}: {e}", path.display()))?;
    let base = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    Ok((spec, base))
}

/// A spec as a file's text: TOML for `.toml`, pretty JSON otherwise.
pub fn spec_text(spec: &AttackSpec, path: &Path) -> Result<String, String> {
    let is_toml = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("toml"));
    if is_toml {
        toml::to_string(spec).map_err(|e| format!("cannot write the spec as TOML: {e}"))
    } else {
        serde_json::to_string_pretty(spec).map_err(|e| e.to_string())
    }
}

pub fn load_spec_job(
    path: PathBuf,
    repaint: Repaint,
) -> std::io::Result<Job<Result<(AttackSpec, PathBuf), String>>> {
    start("spec-load", 1, repaint, move |tx| {
        tx.send(read_spec(&path));
    })
}

/// Writes text atomically on a worker; answers with the path.
pub fn write_text_job(
    path: PathBuf,
    text: String,
    repaint: Repaint,
) -> std::io::Result<Job<Result<PathBuf, String>>> {
    start("file-write", 1, repaint, move |tx| {
        tx.send(
            write_atomic(&path, text.as_bytes())
                .map(|()| path.clone())
                .map_err(|e| format!("{}: {e}", path.display())),
        );
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_files_round_trip_and_bad_ones_name_file_and_field() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("p.tlab.json");
        let d = Design::default();
        write_project(&path, &d).expect("writes");
        assert_eq!(read_project(&path).expect("reads"), d);
        std::fs::write(&path, r#"{"version":1,"spec":{"version":1},"cursor":"x"}"#).expect("w");
        let e = read_project(&path).expect_err("bad");
        assert!(e.contains("p.tlab.json") && e.contains("cursor"), "{e}");
        let e = write_project(Path::new("/proc/nope/p.tlab.json"), &d).expect_err("unwritable");
        assert!(e.contains("/proc/nope"), "{e}");
    }

    #[test]
    fn a_crashed_session_offers_its_autosave() {
        let dir = tempfile::tempdir().expect("tmp");
        assert_eq!(
            begin_session(dir.path()),
            None,
            "first run: nothing to offer"
        );
        write_project(&autosave_path(dir.path()), &Design::default()).expect("autosave");
        // Another studio running now is not a crash.
        assert_eq!(
            begin_session(dir.path()),
            None,
            "our own marker: still running"
        );
        // No end_session, and a process id no one has: the process "crashed".
        std::fs::write(marker_path(dir.path()), "4294967\n").expect("marker");
        assert_eq!(
            begin_session(dir.path()),
            Some(autosave_path(dir.path())),
            "the next launch offers the autosave"
        );
        end_session(dir.path());
        assert_eq!(
            begin_session(dir.path()),
            None,
            "a clean exit offers nothing"
        );
    }

    #[test]
    fn a_spec_saved_as_toml_or_json_reads_back() {
        let dir = tempfile::tempdir().expect("tmp");
        let spec = crate::core::design::default_spec();
        for name in ["s.toml", "s.json"] {
            let p = dir.path().join(name);
            std::fs::write(&p, spec_text(&spec, &p).expect("text")).expect("w");
            let (back, base) = read_spec(&p).expect("reads");
            assert_eq!(back, spec, "{name}");
            assert_eq!(base, dir.path());
        }
    }

    #[test]
    fn the_extension_is_added_once() {
        assert_eq!(
            with_project_ext("a/b".into()),
            PathBuf::from("a/b.tlab.json")
        );
        assert_eq!(
            with_project_ext("a/b.json".into()),
            PathBuf::from("a/b.tlab.json")
        );
        assert_eq!(
            with_project_ext("b.tlab.json".into()),
            PathBuf::from("b.tlab.json")
        );
    }
}
