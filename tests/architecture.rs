//! The dependency rule: layers only import downwards, and `core` stays pure.
//!
//! core ← media, train, gpu ← jobs ← ui ← app; cli uses core, media, train, jobs.
//! Each layer may also use only the external crates that belong to it (e.g. only `media`
//! touches FFmpeg or cpal, only `train` touches candle).

use regex::Regex;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Which crate modules each layer may import.
fn allowed_modules(layer: &str) -> &'static [&'static str] {
    match layer {
        "core" => &[],
        "media" | "train" | "gpu" => &["core"],
        "jobs" => &["core", "media", "train", "gpu"],
        // Panels see plain data from core and jobs (and the GPU preview's paint callbacks).
        "ui" => &["core", "gpu", "jobs"],
        "app" => &["core", "media", "train", "gpu", "jobs", "ui"],
        "cli" => &["core", "media", "train", "jobs"],
        // main.rs picks studio or CLI; lib.rs only declares modules.
        "main" | "lib" => &["app", "cli", "core", "media", "train", "gpu", "jobs", "ui"],
        _ => &[],
    }
}

/// Forbidden external paths per layer: (pattern, what it is).
fn forbidden_uses(layer: &str) -> Vec<(&'static str, &'static str)> {
    let gui = [
        (r"\begui(_plot|_wgpu|_kittest)?\b", "egui"),
        (r"\beframe\b", "eframe"),
        (r"\bwgpu\b", "wgpu"),
    ];
    let media = [
        (r"\bffmpeg(_next|_sys_next)?\b", "ffmpeg"),
        (r"\bcpal\b", "cpal"),
    ];
    let candle = [(r"\bcandle(_core|_nn)?\b", "candle")];
    let io = [
        (r"\bstd::(thread|fs)\b", "std::thread/std::fs"),
        (r"\bstd::\{[^}]*\b(thread|fs)\b", "std::thread/std::fs"),
    ];
    let mut v: Vec<(&str, &str)> = Vec::new();
    match layer {
        "core" => {
            v.extend(gui);
            v.extend(media);
            v.extend(candle);
            v.extend(io);
            v.push((r"\brfd\b", "rfd"));
        }
        "media" => {
            v.extend(gui);
            v.extend(candle);
        }
        "train" => {
            v.extend(gui);
            v.extend(media);
        }
        "gpu" => {
            v.extend(media);
            v.extend(candle);
        }
        // The repaint hook is a plain closure: jobs needs no GUI crate.
        "jobs" => v.extend(gui),
        // Panels ask `app` for work; they never do file, FFmpeg or candle work themselves.
        "ui" => {
            v.extend(media);
            v.extend(candle);
            v.push((r"\bstd::fs\b", "std::fs"));
            v.push((r"\brfd\b", "rfd"));
        }
        "cli" => v.extend(gui),
        _ => {}
    }
    v
}

/// Strips comments and string literals so prose and messages never count as imports.
fn code_only(src: &str) -> String {
    let block = Regex::new(r"(?s)/\*.*?\*/").expect("regex");
    let line = Regex::new(r"(?m)//.*$").expect("regex");
    let strings = Regex::new(r##"(?s)r#*".*?"#*|"(\\.|[^"\\])*""##).expect("regex");
    let s = strings.replace_all(src, "\"\"");
    let s = block.replace_all(&s, " ");
    line.replace_all(&s, "").into_owned()
}

/// Finds every violation in one file's source, as "file: message" lines.
fn check_source(layer: &str, file: &str, src: &str) -> Vec<String> {
    let code = code_only(src);
    let mut errors = Vec::new();
    let crate_path = Regex::new(r"\b(?:crate|triggerlab)::(\w+)").expect("regex");
    let grouped = Regex::new(r"\b(?:crate|triggerlab)::\{([^}]*)\}").expect("regex");
    let super_escape = Regex::new(r"\bsuper::super::super\b").expect("regex");
    let mut used: Vec<String> = crate_path
        .captures_iter(&code)
        .map(|c| c[1].to_string())
        .collect();
    for g in grouped.captures_iter(&code) {
        used.extend(
            g[1].split(',')
                .filter_map(|p| p.trim().split("::").next())
                .filter(|m| !m.is_empty())
                .map(str::to_string),
        );
    }
    for m in used {
        if m != layer && !allowed_modules(layer).contains(&m.as_str()) {
            errors.push(format!(
                "{file}: layer `{layer}` imports `{m}`, which is not below it"
            ));
        }
    }
    if super_escape.is_match(&code) {
        errors.push(format!(
            "{file}: `super::super::super` reaches out of its layer"
        ));
    }
    for (pat, what) in forbidden_uses(layer) {
        if Regex::new(pat).expect("regex").is_match(&code) {
            errors.push(format!("{file}: layer `{layer}` uses {what}"));
        }
    }
    errors
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn layer_of(src_dir: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src_dir).expect("under src");
    let first = rel
        .components()
        .next()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .unwrap_or_default();
    first.trim_end_matches(".rs").to_string()
}

#[test]
fn layers_only_depend_downwards() {
    let src_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src_dir, &mut files);
    let mut per_layer: BTreeMap<String, usize> = BTreeMap::new();
    let mut errors = Vec::new();
    for f in &files {
        let layer = layer_of(&src_dir, f);
        *per_layer.entry(layer.clone()).or_default() += 1;
        let src = std::fs::read_to_string(f).expect("readable source");
        errors.extend(check_source(&layer, &f.display().to_string(), &src));
    }
    // Every layer of the design exists, so the rule is checked against real code.
    for layer in [
        "core", "media", "train", "gpu", "jobs", "ui", "app", "cli", "main", "lib",
    ] {
        assert!(
            per_layer.contains_key(layer),
            "missing layer {layer}: {per_layer:?}"
        );
    }
    assert!(
        errors.is_empty(),
        "dependency rule broken:\n{}",
        errors.join("\n")
    );
}

#[test]
fn the_checker_catches_violations() {
    let bad = [
        ("core", "use egui::Ui;"),
        ("core", "fn f() { let _ = std::fs::read(\"x\"); }"),
        ("core", "use std::{fs, io};"),
        ("core", "fn f() { std::thread::spawn(|| {}); }"),
        ("core", "use candle_core::Tensor;"),
        (
            "core",
            "use ffmpeg_next as ffmpeg; fn f() { ffmpeg::init(); }",
        ),
        ("core", "use wgpu;"),
        ("gpu", "extern crate cpal;"),
        ("core", "use crate::media::probe;"),
        ("media", "use crate::jobs::Job;"),
        ("media", "use crate::{core::Clip, ui::StudioState};"),
        ("train", "use crate::gpu::canvas;"),
        ("jobs", "use crate::ui::StudioState;"),
        ("jobs", "fn f(c: &egui::Context) {}"),
        ("ui", "use crate::app::TriggerLabApp;"),
        ("ui", "fn f() { ffmpeg_next::init(); }"),
        ("cli", "use crate::ui::StudioState;"),
        ("cli", "use triggerlab::app::run;"),
    ];
    for (layer, src) in bad {
        assert!(
            !check_source(layer, "t.rs", src).is_empty(),
            "not caught in {layer}: {src}"
        );
    }
    let fine = [
        (
            "core",
            "// egui:: is mentioned in a comment\nuse super::time::Rational;",
        ),
        ("core", "const S: &str = \"std::fs::read\";"),
        ("media", "use crate::core::Clip; use ffmpeg_next as ffmpeg;"),
        ("app", "use crate::{core::Clip, ui::StudioState};"),
        ("jobs", "use crate::{media::probe, train::device};"),
    ];
    for (layer, src) in fine {
        let errs = check_source(layer, "t.rs", src);
        assert!(errs.is_empty(), "false alarm in {layer}: {src}: {errs:?}");
    }
}
