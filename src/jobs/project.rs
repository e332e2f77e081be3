//! Project files (`*.tlab.json`) and autosave, read and written on worker threads. Writes are
//! atomic (a temp file renamed into place), so a crash mid-save never leaves half a project.
//!
//! Crash recovery: each running studio has its own marker (`session-<pid>`) and autosave
//! (`autosave-<pid>.tlab.json`), so two studios open at once never write over each other's work;
//! a clean exit removes the marker. A marker whose process is gone at start-up is a session that
//! did not exit cleanly, and its autosave is offered for restore. Autosaves of ended sessions
//! are kept for reference, the newest [`KEEP_AUTOSAVES`].

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

/// Autosaves of ended sessions kept for reference.
pub const KEEP_AUTOSAVES: usize = 5;

/// This studio's autosave.
pub fn autosave_path(dir: &Path) -> PathBuf {
    autosave_of(dir, std::process::id())
}

fn autosave_of(dir: &Path, pid: u32) -> PathBuf {
    dir.join(format!("autosave-{pid}.tlab.json"))
}

fn marker_of(dir: &Path, pid: u32) -> PathBuf {
    dir.join(format!("session-{pid}"))
}

/// Before per-session files: one marker (holding the pid) and one autosave.
const LEGACY_MARKER: &str = "session-running";
const LEGACY_AUTOSAVE: &str = "autosave.tlab.json";

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
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

/// At start-up: marks this session as running and says whether an earlier one crashed with an
/// autosave to offer (the newest, if several did). A marker whose process is still alive is
/// another studio running now, not a crash. Crashed sessions' markers are removed once seen, so
/// each is offered once; ended sessions' autosaves beyond the newest [`KEEP_AUTOSAVES`] go.
pub fn begin_session(dir: &Path) -> Option<PathBuf> {
    let me = std::process::id();
    if let Err(e) = std::fs::create_dir_all(dir) {
        tracing::warn!("autosave folder {}: {e}", dir.display());
        return None;
    }
    let mut crashed: Vec<(PathBuf, PathBuf)> = Vec::new(); // (marker, autosave)
    let mut running: Vec<u32> = vec![me];
    let mut ended: Vec<(u32, PathBuf)> = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == LEGACY_MARKER {
            let pid = std::fs::read_to_string(entry.path())
                .ok()
                .and_then(|t| t.trim().parse::<u32>().ok());
            match pid {
                Some(pid) if alive(pid) => {}
                _ => crashed.push((entry.path(), dir.join(LEGACY_AUTOSAVE))),
            }
        } else if let Some(pid) = name
            .strip_prefix("session-")
            .and_then(|p| p.parse::<u32>().ok())
        {
            if pid != me && alive(pid) {
                running.push(pid);
            } else if pid != me {
                crashed.push((entry.path(), autosave_of(dir, pid)));
            }
        } else if let Some(pid) = name
            .strip_prefix("autosave-")
            .and_then(|p| p.strip_suffix(".tlab.json"))
            .and_then(|p| p.parse::<u32>().ok())
        {
            ended.push((pid, entry.path()));
        }
    }
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let offer = crashed
        .iter()
        .filter(|(_, a)| a.exists())
        .max_by_key(|(_, a)| modified(a))
        .map(|(_, a)| a.clone());
    for (marker, _) in &crashed {
        let _ = std::fs::remove_file(marker); // gone already: nothing to do
    }
    // Ended sessions' autosaves (not running ones', not the one offered), newest kept.
    let mut old: Vec<(Option<std::time::SystemTime>, PathBuf)> = ended
        .into_iter()
        .filter(|(pid, p)| !running.contains(pid) && Some(p) != offer.as_ref())
        .map(|(_, p)| (modified(&p), p))
        .collect();
    old.sort_by_key(|e| std::cmp::Reverse(e.0));
    for (_, p) in old.into_iter().skip(KEEP_AUTOSAVES) {
        let _ = std::fs::remove_file(p); // another studio may have pruned it
    }
    if let Err(e) = std::fs::write(marker_of(dir, me), format!("{me}\n")) {
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
    // Absent already: nothing to do.
    let _ = std::fs::remove_file(marker_of(dir, std::process::id()));
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

/// The PNG a spec's painted patch is written to: `<spec stem>.patch.png` beside the spec.
pub fn patch_png_name(spec_path: &Path) -> PathBuf {
    let stem = spec_path
        .file_stem()
        .map_or_else(|| "attack".into(), |s| s.to_string_lossy().into_owned());
    PathBuf::from(format!("{stem}.patch.png"))
}

/// Writes `spec` at `path` as TOML (`.toml`) or JSON, atomically. A painted patch is written as
/// a PNG beside it ([`patch_png_name`]) that the spec names by a relative `image` path, so
/// `apply` and `run` read exactly the pixels the studio painted (an RGBA PNG loads back
/// byte for byte, and both sources are resized the same way). Relative file paths are made
/// absolute unless the spec goes into `base`, the folder they were written against.
pub fn write_spec(spec: &AttackSpec, base: &Path, path: &Path) -> anyhow::Result<()> {
    use anyhow::Context;
    let mut spec = spec.clone();
    let dest = crate::media::assets::spec_folder(path);
    let same_folder = matches!(
        (std::fs::canonicalize(base), std::fs::canonicalize(&dest)),
        (Ok(a), Ok(b)) if a == b
    );
    if !same_folder {
        crate::media::assets::absolutize_paths(&mut spec, base);
    }
    if let Some(crate::core::trigger::VisualTrigger::Badnets(b)) = &mut spec.visual
        && let Some(p) = b.painted.take()
    {
        let name = patch_png_name(path);
        crate::media::image_io::save_png_rgba(&dest.join(&name), p.width, p.height, &p.rgba)?;
        b.image = Some(name);
    }
    let text = spec_text(&spec, path).map_err(anyhow::Error::msg)?;
    write_atomic(path, text.as_bytes()).context("the spec")?;
    Ok(())
}

/// Writes a spec (and its patch PNG) on a worker; answers with the path.
pub fn write_spec_job(
    spec: AttackSpec,
    base: PathBuf,
    path: PathBuf,
    repaint: Repaint,
) -> std::io::Result<Job<Result<PathBuf, String>>> {
    start("spec-write", 1, repaint, move |tx| {
        tx.send(
            write_spec(&spec, &base, &path)
                .map(|()| path.clone())
                .map_err(|e| format!("{}: {e:#}", path.display())),
        );
    })
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
        let d = dir.path();
        assert_eq!(begin_session(d), None, "first run: nothing to offer");
        write_project(&autosave_path(d), &Design::default()).expect("autosave");
        assert_eq!(begin_session(d), None, "our own marker: still running");
        // Another studio running now (pid 1 is always alive) is not a crash, and its files stay.
        std::fs::write(marker_of(d, 1), "1\n").expect("marker");
        write_project(&autosave_of(d, 1), &Design::default()).expect("autosave");
        assert_eq!(begin_session(d), None, "a live studio is not a crash");
        assert!(marker_of(d, 1).exists() && autosave_of(d, 1).exists());
        // A process id no one has, with no end_session: that process "crashed".
        std::fs::write(marker_of(d, 4_294_967), "4294967\n").expect("marker");
        write_project(&autosave_of(d, 4_294_967), &Design::default()).expect("autosave");
        assert_eq!(
            begin_session(d),
            Some(autosave_of(d, 4_294_967)),
            "the next launch offers its autosave, not the live studio's or ours"
        );
        assert_eq!(begin_session(d), None, "offered once");
        end_session(d);
        assert!(!marker_of(d, std::process::id()).exists());
        // An older version's single marker and autosave still count.
        std::fs::write(d.join(LEGACY_MARKER), "4294968\n").expect("marker");
        write_project(&d.join(LEGACY_AUTOSAVE), &Design::default()).expect("autosave");
        assert_eq!(begin_session(d), Some(d.join(LEGACY_AUTOSAVE)));
    }

    #[test]
    fn ended_sessions_keep_only_the_newest_autosaves() {
        let dir = tempfile::tempdir().expect("tmp");
        let d = dir.path();
        for pid in 0..KEEP_AUTOSAVES as u32 + 3 {
            write_project(&autosave_of(d, 4_000_000 + pid), &Design::default()).expect("save");
        }
        begin_session(d);
        let left = std::fs::read_dir(d)
            .expect("dir")
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("autosave-"))
            .count();
        assert_eq!(left, KEEP_AUTOSAVES);
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

    #[test]
    fn a_painted_patch_is_saved_as_a_png_beside_the_spec_and_applies_the_same_pixels() {
        use crate::core::Frame;
        use crate::core::trigger::VisualTrigger;
        use crate::core::trigger::patch::Painted;
        let dir = tempfile::tempdir().expect("tmp");
        let mut doc = crate::core::design::Document::default();
        // Partial alpha, so a PNG that dropped or premultiplied alpha would show.
        let mut patch = Painted::blank(5, 4, [200, 30, 90, 140]);
        patch.set(1, 2, [0, 255, 0, 255]);
        patch.set(4, 3, [9, 9, 9, 0]);
        doc.apply(crate::core::design::DesignCommand::EditPatch {
            patch: patch.clone(),
            at: Some([3, 2]),
            fit: true,
            dragging: false,
        })
        .expect("paints");
        let spec = doc.design().spec.clone();
        // Beside the folder the spec was made in, and in another one.
        std::fs::create_dir(dir.path().join("elsewhere")).expect("dir");
        for name in ["attack.toml", "attack.json", "elsewhere/attack.toml"] {
            let path = dir.path().join(name);
            write_spec(&spec, dir.path(), &path).expect("writes");
            let png = path.with_file_name("attack.patch.png");
            assert!(png.is_file(), "{name}: the patch PNG beside the spec");
            let (back, base) = read_spec(&path).expect("reads");
            match &back.visual {
                Some(VisualTrigger::Badnets(b)) => {
                    assert_eq!(b.image.as_deref(), Some(Path::new("attack.patch.png")));
                    assert!(b.painted.is_none());
                }
                other => panic!("not badnets: {other:?}"),
            }
            let frame = Frame::new(
                12,
                9,
                (0..12 * 9 * 3).map(|i| (i * 7) as u8).collect::<Vec<u8>>(),
            )
            .expect("frame");
            let want = crate::core::apply_image(&spec, &frame, &crate::core::assets::NoAssets)
                .expect("applies");
            let got = crate::core::apply_image(
                &back,
                &frame,
                &crate::media::assets::FileAssets::new(base),
            )
            .expect("applies from the PNG");
            assert_eq!(got, want, "{name}: the same pixels from the file");
            assert_ne!(got, frame, "and the patch is there");
            std::fs::remove_file(&png).expect("rm"); // the next spec must write its own
        }
    }
}
