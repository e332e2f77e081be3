//! Entry point: no subcommand opens the studio, a subcommand runs headless.

use clap::Parser;
use std::process::ExitCode;
use triggerlab::app::{StudioOptions, run};
use triggerlab::cli::{Cli, run as run_cli};

fn main() -> ExitCode {
    // Named threads in profiles and panics; training builds its own pool (train::pool). It can
    // only fail if rayon already started its pool, and then its threads just stay unnamed.
    let _ = triggerlab::train::pool::name_global_pool();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let cli = Cli::parse();
    if let Some(command) = cli.command {
        return run_cli(command);
    }
    let experiment = match &cli.studio.experiment {
        None => None,
        Some(path) => match std::fs::read_to_string(path) {
            Ok(text) => Some((path.display().to_string(), text)),
            Err(e) => {
                eprintln!("triggerlab: {}: cannot read the spec: {e}", path.display());
                return ExitCode::FAILURE;
            }
        },
    };
    let Ok(screenshot_interval) =
        std::time::Duration::try_from_secs_f64(cli.studio.screenshot_interval)
    else {
        eprintln!(
            "triggerlab: --screenshot-interval: {} is not a number of seconds >= 0",
            cli.studio.screenshot_interval
        );
        return ExitCode::FAILURE;
    };
    let attack = match &cli.studio.attack {
        None => None,
        Some(arg) => match triggerlab::cli::apply::load_spec(arg) {
            Ok(s) => Some(s),
            Err(e) => {
                eprintln!("triggerlab: --attack: {e:#}");
                return ExitCode::FAILURE;
            }
        },
    };
    let view = match cli.studio.view.as_deref() {
        None => None,
        Some(v) => match triggerlab::core::design::ViewMode::parse(v) {
            Some(m) => Some(m),
            None => {
                eprintln!(
                    "triggerlab: --view: `{v}` is not a view; one of clean, poisoned, difference, side-by-side, wipe"
                );
                return ExitCode::FAILURE;
            }
        },
    };
    let project = match cli.studio.project {
        None => None,
        Some(p) => match triggerlab::jobs::project::read_project(&p) {
            Ok(d) => Some((p, d)),
            Err(e) => {
                eprintln!("triggerlab: --project: {e}");
                return ExitCode::FAILURE;
            }
        },
    };
    if let Some(p) = &cli.studio.open
        && !p.is_file()
    {
        eprintln!("triggerlab: --open: {}: no such file", p.display());
        return ExitCode::FAILURE;
    }
    if let Some(d) = &cli.studio.dataset
        && !d.is_dir()
    {
        eprintln!("triggerlab: --dataset: {}: not a folder", d.display());
        return ExitCode::FAILURE;
    }
    let opts = StudioOptions {
        exit_after_frames: cli.studio.exit_after_frames,
        screenshots: cli.studio.screenshot,
        screenshot_interval,
        library: None,
        open: cli.studio.open,
        experiment,
        attack,
        view,
        frame: cli.studio.frame,
        patch_editor: cli.studio.patch_editor,
        model: cli.studio.model.clone(),
        demo: cli.studio.demo,
        demo_spec: None,
        runs_root: cli.studio.runs.clone(),
        history: cli.studio.history,
        compare: cli.studio.compare.clone(),
        sweep: cli.studio.sweep.clone(),
        project,
        autosave_dir: None,
        dialog_answer: None,
        dataset: cli.studio.dataset,
        gpu_preview: match cli.studio.preview.as_str() {
            "gpu" => Some(true),
            "cpu" => Some(false),
            _ => None,
        },
    };
    match run(opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("triggerlab: {msg}");
            ExitCode::from(1)
        }
    }
}
