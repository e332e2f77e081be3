//! Datasets in the library: the worker reads a folder and lists the unreadable files with their
//! reasons; the panel (driven by label) shows the classes with their counts, filters the clip
//! rows, opens a clicked clip in the studio, and makes thumbnails of the visible rows.

use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use triggerlab::app::{StudioOptions, TriggerLabApp};
use triggerlab::core::synth::SynthSpec;
use triggerlab::jobs::library::{DatasetEvent, first_frame, open_dataset};
use triggerlab::jobs::no_repaint;
use triggerlab::media::dataset::write_synth;
use triggerlab::ui::ClipSource;

const CORRUPT: &str = "MoveUp/v_MoveUp_g01_c02.mp4";

/// 3 classes × 4 clips (the first of each class tests), one of MoveUp's overwritten with junk.
fn dataset(dir: &Path) -> PathBuf {
    let spec = SynthSpec {
        classes: 3,
        per_class: 4,
        frames: 6,
        size: 64,
        fps: 6,
        sample_rate_hz: 8000,
        seed: 5,
        ..SynthSpec::default()
    };
    let root = dir.join("synth");
    write_synth(&spec, &root).expect("writes the dataset");
    std::fs::write(root.join(CORRUPT), b"not a video").expect("corrupt one");
    root
}

#[test]
fn the_job_counts_classes_and_lists_the_corrupt_file_with_its_reason() {
    let dir = tempfile::tempdir().expect("tmp");
    let root = dataset(dir.path());
    let job = open_dataset(root.clone(), no_repaint()).expect("starts");
    let mut progress = Vec::new();
    let mut view = None;
    while let Some(ev) = job.recv() {
        match ev {
            DatasetEvent::Progress(p) => progress.push(p),
            DatasetEvent::Loaded(v) => view = Some(v),
            DatasetEvent::Failed(e) => panic!("failed: {e}"),
        }
    }
    let view = view.expect("loaded");
    assert_eq!(view.layout, "ucf101");
    let counts: Vec<(&str, usize, usize)> = view
        .classes
        .iter()
        .map(|c| (c.name.as_str(), c.train, c.test))
        .collect();
    assert_eq!(
        counts,
        [("MoveLeft", 3, 1), ("MoveRight", 3, 1), ("MoveUp", 2, 1)]
    );
    assert_eq!(view.clips.len(), 11);
    assert!(view.clips.iter().all(|c| !c.path.ends_with(CORRUPT)));
    assert_eq!(view.skipped.len(), 1, "{:?}", view.skipped);
    assert!(view.skipped[0].0.ends_with(CORRUPT));
    assert!(
        view.skipped[0].1.contains("not a media file"),
        "{}",
        view.skipped[0].1
    );
    assert_eq!(
        progress.first().map(String::as_str),
        Some("read 12 files, probing 0/12")
    );
    assert_eq!(
        progress.last().map(String::as_str),
        Some("read 12 files, probing 12/12")
    );

    // A thumbnail is a small first frame; a corrupt file says why it has none.
    let f = first_frame(&view.clips[0].path).expect("first frame");
    assert!(f.width() <= 64 && f.height() <= 64 && f.width() > 0);
    let e = first_frame(&root.join(CORRUPT)).expect_err("corrupt");
    assert!(e.contains("v_MoveUp_g01_c02.mp4"), "{e}");
}

#[test]
fn a_folder_that_is_no_dataset_fails_naming_it() {
    let dir = tempfile::tempdir().expect("tmp");
    let job = open_dataset(dir.path().join("nothing"), no_repaint()).expect("starts");
    let events: Vec<DatasetEvent> = std::iter::from_fn(|| job.recv()).collect();
    match events.as_slice() {
        [DatasetEvent::Failed(e)] => assert!(e.contains("nothing"), "{e}"),
        other => panic!("{other:?}"),
    }
}

fn harness(opts: StudioOptions) -> Harness<'static, TriggerLabApp> {
    Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .build_eframe(move |cc| TriggerLabApp::new(cc, opts, Default::default()))
}

/// A small studio that opens the dataset at `root` at startup.
fn opening(dir: &Path, root: &Path) -> StudioOptions {
    StudioOptions {
        library: Some(SynthSpec {
            per_class: 1,
            size: 48,
            ..triggerlab::app::library_spec()
        }),
        autosave_dir: Some(dir.join("autosave")),
        dataset: Some(root.to_path_buf()),
        ..Default::default()
    }
}

/// Steps until `done` holds (or fails after a minute).
fn step_until(
    h: &mut Harness<'static, TriggerLabApp>,
    what: &str,
    done: impl Fn(&TriggerLabApp) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        h.step();
        if done(h.state()) {
            break;
        }
        assert!(Instant::now() < deadline, "never: {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
    h.step();
}

/// Steps until a node with this label is there (a header opening animates over a few frames).
fn wait_label(h: &mut Harness<'static, TriggerLabApp>, label: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while h.query_by_label(label).is_none() {
        assert!(Instant::now() < deadline, "never shown: {label}");
        h.step();
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The dataset clip rows on screen (their labels: `file (class, split)`).
fn rows(h: &Harness<'static, TriggerLabApp>) -> Vec<String> {
    h.query_all_by(|n| {
        n.label()
            .is_some_and(|l| l.ends_with(", train)") || l.ends_with(", test)"))
    })
    .filter_map(|n| n.accesskit_node().label())
    .collect()
}

#[test]
fn the_panel_counts_filters_and_opens_a_clicked_clip() {
    let dir = tempfile::tempdir().expect("tmp");
    let root = dataset(dir.path());
    let mut h = harness(opening(dir.path(), &root));
    step_until(&mut h, "the dataset loaded", |a| {
        !a.busy() && a.state().library.datasets.len() == 1
    });
    assert_eq!(
        h.state().state().doc.design().datasets,
        std::slice::from_ref(&root),
        "recorded in the design, so a saved project reopens it"
    );
    // Classes with their usable clips (the corrupt MoveUp clip is not counted).
    h.get_by_label("MoveLeft: 3 train, 1 test");
    h.get_by_label("MoveUp: 2 train, 1 test");
    h.get_by_label("11 of 11 clips");
    let all = rows(&h);
    assert!(all.len() >= 4, "{all:?}");
    assert!(all.iter().any(|r| r.contains("MoveLeft")), "{all:?}");

    // Thumbnails for the visible rows arrive from the worker.
    let visible = all.len();
    step_until(&mut h, "thumbnails of the visible rows", move |a| {
        a.state().library.thumbs.len() >= visible
    });

    // The filter keeps only the matching rows.
    let filter = h.get_by_label("Filter");
    filter.focus();
    h.step();
    h.get_by_label("Filter").type_text("moveup");
    h.step();
    h.step();
    h.get_by_label("3 of 11 clips");
    let up = rows(&h);
    assert_eq!(up.len(), 3, "{up:?}");
    assert!(up.iter().all(|r| r.contains("MoveUp")), "{up:?}");

    // Clicking a row opens that clip in the studio, once however often it is clicked.
    let file = "v_MoveUp_g01_c03.mp4";
    for _ in 0..2 {
        h.get_by_label(&format!("{file} (MoveUp, train)")).click();
        step_until(&mut h, "the clicked clip is selected", |a| {
            a.state()
                .selected_entry()
                .is_some_and(|e| e.source == ClipSource::File(root.join("MoveUp").join(file)))
        });
    }
    let files = h
        .state()
        .state()
        .clips
        .iter()
        .filter(|e| matches!(e.source, ClipSource::File(_)))
        .count();
    assert_eq!(files, 1, "no duplicate entry");

    // The corrupt file is listed with its reason.
    h.get_by_label("Unreadable (1)").click();
    let deadline = Instant::now() + Duration::from_secs(20);
    while h
        .query_by_label_contains("v_MoveUp_g01_c02.mp4: not a media file FFmpeg can read")
        .is_none()
    {
        assert!(
            Instant::now() < deadline,
            "the unreadable file is never listed"
        );
        h.step();
    }
}

#[test]
fn a_project_reopens_its_dataset_folders_and_the_recent_list_remembers_them() {
    let dir = tempfile::tempdir().expect("tmp");
    let root = dataset(dir.path());
    let autosave = dir.path().join("autosave");
    let design = triggerlab::core::design::Design {
        datasets: vec![root.clone()],
        ..Default::default()
    };
    let opts = |project| StudioOptions {
        library: Some(SynthSpec {
            per_class: 1,
            size: 48,
            ..triggerlab::app::library_spec()
        }),
        autosave_dir: Some(autosave.clone()),
        project,
        ..Default::default()
    };
    let mut h = harness(opts(Some((dir.path().join("p.tlab.json"), design))));
    step_until(&mut h, "the project's dataset loaded", |a| {
        !a.busy()
            && a.state()
                .library
                .datasets
                .iter()
                .any(|d| d.data.root == root && d.data.clips.len() == 11)
    });
    // The recent list is written on a worker; a new session reads it back.
    let stored = autosave.join("recent-library.json");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !std::fs::read_to_string(&stored).is_ok_and(|t| t.contains("synth")) {
        assert!(
            Instant::now() < deadline,
            "the recent list was never stored"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(h);
    let mut h = harness(opts(None));
    // Settled first: clips still arriving would move the rows under the click.
    step_until(&mut h, "the recent list read back", |a| {
        !a.busy() && !a.state().library.recent.is_empty()
    });
    let recent = &h.state().state().library.recent;
    assert_eq!(recent[0].path, root);
    assert_eq!(
        recent[0].kind,
        triggerlab::jobs::library::RecentKind::Dataset
    );
    assert!(
        h.state().state().library.datasets.is_empty(),
        "recent is offered, not opened"
    );
    h.get_by_label("Recent (1)").click();
    wait_label(&mut h, "synth (folder)");
    h.get_by_label("synth (folder)").click();
    step_until(&mut h, "the recent folder opened", |a| {
        !a.busy() && a.state().library.datasets.len() == 1
    });
}

/// A UCF-101-sized dataset (13,000 clips in 101 classes), as the worker would send it.
fn big_view() -> triggerlab::jobs::library::DatasetView {
    use triggerlab::jobs::library::{ClassRow, ClipRow, DatasetView};
    let classes: Vec<ClassRow> = (0..101)
        .map(|c| ClassRow {
            name: format!("Class{c:03}"),
            train: 0,
            test: 0,
        })
        .collect();
    let clips = (0..13_000)
        .map(|i| {
            let class = i % 101;
            let file = format!(
                "v_Class{class:03}_g{:02}_c{:02}.avi",
                i / 101 % 25 + 1,
                i / 2525 + 1
            );
            ClipRow {
                path: PathBuf::from(format!("/nowhere/Class{class:03}/{file}")),
                file,
                class,
                test: i % 3 == 0,
            }
        })
        .collect();
    DatasetView {
        root: "/nowhere".into(),
        name: "ucf-like".into(),
        layout: "ucf101".into(),
        classes,
        clips,
        skipped: Vec::new(),
    }
}

#[test]
fn thirteen_thousand_clips_lay_out_only_the_visible_rows() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut h = harness(StudioOptions {
        library: Some(SynthSpec {
            per_class: 1,
            size: 48,
            ..triggerlab::app::library_spec()
        }),
        autosave_dir: Some(dir.path().join("autosave")),
        ..Default::default()
    });
    step_until(&mut h, "startup", |a| !a.busy());
    h.state_mut()
        .state_mut()
        .library
        .datasets
        .push(triggerlab::ui::DatasetPanel::new(big_view()));
    h.step();
    h.step();
    h.get_by_label("13000 of 13000 clips");
    let shown = rows(&h).len();
    assert!((3..40).contains(&shown), "{shown} rows laid out");
    // Drawing a frame does not scale with the list.
    let t = Instant::now();
    for _ in 0..20 {
        h.step();
    }
    let per_frame = t.elapsed() / 20;
    assert!(
        per_frame < Duration::from_millis(200),
        "{per_frame:?} a frame"
    );
    // The filter runs over all 13,000 (a class has 128 or 129 of them).
    h.get_by_label("Filter").focus();
    h.step();
    h.get_by_label("Filter").type_text("class042");
    h.step();
    h.step();
    h.get_by_label("129 of 13000 clips");
    let shown = rows(&h);
    assert!(
        !shown.is_empty() && shown.iter().all(|r| r.contains("Class042")),
        "{shown:?}"
    );
}

/// A file dropped on the window, as the integration hands it over.
#[derive(Debug)]
struct Dropped(PathBuf);

impl egui::DroppedFile for Dropped {
    fn path(&self) -> &Path {
        &self.0
    }

    fn bytes(&self) -> Result<Vec<u8>, String> {
        std::fs::read(&self.0).map_err(|e| e.to_string())
    }
}

#[test]
fn a_dropped_folder_opens_as_a_dataset_and_a_dropped_file_as_a_clip() {
    let dir = tempfile::tempdir().expect("tmp");
    let root = dataset(dir.path());
    let video = root.join("MoveRight/v_MoveRight_g01_c02.mp4");
    let mut h = harness(StudioOptions {
        library: Some(SynthSpec {
            per_class: 1,
            size: 48,
            ..triggerlab::app::library_spec()
        }),
        autosave_dir: Some(dir.path().join("autosave")),
        ..Default::default()
    });
    step_until(&mut h, "startup", |a| !a.busy());
    for p in [root.clone(), video.clone()] {
        h.input_mut()
            .dropped_files
            .push(std::sync::Arc::new(Dropped(p)));
    }
    step_until(&mut h, "the folder read and the file opened", |a| {
        let s = a.state();
        !a.busy()
            && s.library.datasets.len() == 1
            && s.selected_entry()
                .is_some_and(|e| e.source == ClipSource::File(video.clone()))
    });
    assert_eq!(h.state().state().library.datasets[0].data.root, root);
}

/// Close takes a dataset out of the panel and the design; undo opens it again, redo closes it.
#[test]
fn a_closed_dataset_goes_and_undo_brings_it_back() {
    let dir = tempfile::tempdir().expect("tmp");
    let root = dataset(dir.path());
    let mut h = harness(opening(dir.path(), &root));
    step_until(&mut h, "the dataset loaded", |a| {
        !a.busy() && a.state().library.datasets.len() == 1
    });
    wait_label(&mut h, "11 of 11 clips");
    h.get_by_label("Close").click();
    step_until(&mut h, "the dataset closed", |a| {
        a.state().library.datasets.is_empty() && a.state().doc.design().datasets.is_empty()
    });
    assert!(rows(&h).is_empty(), "no clip rows left: {:?}", rows(&h));

    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Z);
    step_until(&mut h, "undo reopened it", |a| {
        !a.busy()
            && a.state().library.datasets.len() == 1
            && a.state().doc.design().datasets == [root.clone()]
    });
    wait_label(&mut h, "11 of 11 clips");

    h.key_press_modifiers(
        egui::Modifiers::COMMAND | egui::Modifiers::SHIFT,
        egui::Key::Z,
    );
    step_until(&mut h, "redo closed it again", |a| {
        a.state().library.datasets.is_empty() && a.state().doc.design().datasets.is_empty()
    });
}
