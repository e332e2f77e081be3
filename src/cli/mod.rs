//! Headless subcommands (`info`, later `apply`, `synth`, `poison`, `run`, `bench`) sharing
//! `core`, `media`, `train` and `jobs` with the studio. Each prints one line to stderr and exits
//! with status 1 on failure; nothing here panics on user input.

pub mod apply;
pub mod bench;
pub mod info;
pub mod predict;
pub mod run;
pub mod synth;

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "triggerlab",
    version,
    about = "A desktop studio for backdoor triggers on video action recognition",
    long_about = "With no subcommand, opens the studio window on the built-in demo clip."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub studio: StudioArgs,
}

/// Options for the studio window (ignored by subcommands).
#[derive(Debug, Args, Default)]
pub struct StudioArgs {
    /// Render N frames once startup work has finished, then exit (for tests and scripts).
    #[arg(long, value_name = "N")]
    pub exit_after_frames: Option<u64>,
    /// Save a PNG screenshot of the window before exiting (needs --exit-after-frames); repeat
    /// for a sequence, one every --screenshot-interval. Each gets a .json beside it saying
    /// where the canvas is and which frame it shows.
    #[arg(long, value_name = "PNG")]
    pub screenshot: Vec<PathBuf>,
    /// Seconds between repeated --screenshot captures.
    #[arg(long, value_name = "SECS", default_value_t = 1.0)]
    pub screenshot_interval: f64,
    /// Open this video at startup.
    #[arg(long, value_name = "FILE")]
    pub open: Option<PathBuf>,
    /// Open the Experiments tab with this spec and start it (with --exit-after-frames, the
    /// window waits for the run to end).
    #[arg(long, value_name = "EXP.toml")]
    pub experiment: Option<PathBuf>,
    /// Start the design with this attack spec (TOML or JSON file, or inline JSON).
    #[arg(long, value_name = "SPEC")]
    pub attack: Option<String>,
    /// The canvas view: clean, poisoned, difference, side-by-side or wipe.
    #[arg(long, value_name = "MODE")]
    pub view: Option<String>,
    /// Open paused at this frame of the clip.
    #[arg(long, value_name = "N")]
    pub frame: Option<usize>,
    /// Open with the patch editor showing.
    #[arg(long)]
    pub patch_editor: bool,
    /// Open with this run's model in the model lens (a run folder).
    #[arg(long, value_name = "RUN_DIR")]
    pub model: Option<PathBuf>,
    /// Start the guided demo attack (as its button does; with --exit-after-frames, the window
    /// waits for it to end).
    #[arg(long)]
    pub demo: bool,
    /// The run history's output root (default `runs`).
    #[arg(long, value_name = "DIR")]
    pub runs: Option<PathBuf>,
    /// Open the Experiments tab on the run history.
    #[arg(long)]
    pub history: bool,
    /// Tick this run folder in the run history (repeat to overlay several).
    #[arg(long, value_name = "RUN_DIR")]
    pub compare: Vec<PathBuf>,
    /// Run the model lens's sensitivity sweep on this parameter once --model is loaded (e.g.
    /// visual.opacity, visual.size, temporal.frames), over its default range.
    #[arg(long, value_name = "PARAM")]
    pub sweep: Option<String>,
    /// Open this project (*.tlab.json).
    #[arg(long, value_name = "FILE")]
    pub project: Option<PathBuf>,
    /// Open this dataset folder in the library (UCF-101, HMDB-51, list or class folders).
    #[arg(long, value_name = "DIR")]
    pub dataset: Option<PathBuf>,
    /// Where the canvas applies the trigger: gpu (a shader, as soon as the attack is prepared),
    /// cpu (core's result), or auto (the GPU unless the adapter is a CPU rasteriser).
    #[arg(long, value_name = "PATH", default_value = "auto", value_parser = ["auto", "gpu", "cpu"])]
    pub preview: String,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Describe a video file: size, frame rate, frame count, duration, codecs, audio.
    Info(info::InfoArgs),
    /// Apply an attack spec (trigger + placement) to an image, and report its stealth.
    Apply(apply::ApplyArgs),
    /// Measure speed.
    Bench(bench::BenchArgs),
    /// Write the procedural SynthMotion dataset (UCF-101 layout, MP4 with audio).
    Synth(synth::SynthArgs),
    /// Poison a dataset and train and evaluate a backdoored model (an experiment spec, TOML).
    Run(run::RunArgs),
    /// A trained model's top classes for a clip, clean and with an attack applied.
    Predict(predict::PredictArgs),
}

/// Runs a subcommand; the exit code is 0 on success, 1 on failure (after one line on stderr).
pub fn run(command: Command) -> ExitCode {
    let result = match command {
        Command::Info(args) => info::run(&args),
        Command::Apply(args) => apply::run(&args),
        Command::Synth(args) => synth::run(&args),
        Command::Run(args) => run::run(&args),
        Command::Predict(args) => predict::run(&args),
        Command::Bench(args) => match &args.what {
            bench::BenchWhat::Triggers(a) => bench::run(a),
            bench::BenchWhat::Decode(a) => bench::run_decode(a),
            bench::BenchWhat::Train(a) => bench::run_train(a),
            bench::BenchWhat::Export(a) => bench::run_export(a),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("triggerlab: error: {}", one_line(&format!("{e:#}")));
            ExitCode::from(1)
        }
    }
}

/// Error texts from libraries sometimes carry newlines; the contract is one line on stderr.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
