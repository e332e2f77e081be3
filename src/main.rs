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
    let opts = StudioOptions {
        exit_after_frames: cli.studio.exit_after_frames,
        screenshots: cli.studio.screenshot,
        screenshot_interval,
        library: None,
        open: cli.studio.open,
        experiment,
    };
    match run(opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("triggerlab: {msg}");
            ExitCode::from(1)
        }
    }
}
