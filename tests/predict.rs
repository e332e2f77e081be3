//! `train::predict` and `triggerlab predict` answer as the run's own evaluation did: over the
//! run's test clips, the predictor's top class gives exactly the run's clean accuracy, and with
//! the run's attack exactly its attack success rate; the CLI prints those classes (text and
//! JSON) for a video file and refuses a folder that is not a run with one clear line.

use std::path::Path;
use std::process::Command;
use std::sync::atomic::AtomicBool;
use triggerlab::core::assets::NoAssets;
use triggerlab::core::experiment::parse_experiment;
use triggerlab::train::predict::Predictor;

mod common;

fn cli(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_triggerlab"))
        .args(args)
        .output()
        .expect("runs")
}

/// Small enough to train in seconds, long enough that the model's answers differ from clip to
/// clip (a model stuck at the class prior would make the comparison below trivial).
const LENS: &str = r#"
version = 1
name = "lens"
seed = 7
epochs = 30
batch_size = 4
[dataset]
synth = { classes = 3, per_class = 10 }
frames = 6
size = 32
[model]
kind = "r2plus1d_tiny"
[optimizer]
lr = 0.005
[attack]
visual = { kind = "badnets", size = 6, margin = 4, checkerboard = { cell = 2, colors = [[0, 0, 0], [255, 255, 255]] } }
temporal = { frames = { random = { k = 4 } }, mode = "dynamic" }
[poison]
target = "MoveLeft"
ratio = 0.25
"#;

/// Trains [`LENS`] into `out` (about 3 s here).
fn trained(out: &Path) -> triggerlab::train::report::RunResults {
    let spec = parse_experiment(LENS).expect("parses");
    triggerlab::jobs::experiment::run_experiment(
        &spec,
        out,
        false,
        &AtomicBool::new(false),
        &mut |_| {},
    )
    .expect("trains")
}

#[test]
fn the_predictor_reproduces_the_runs_accuracy_and_attack_success() {
    let dir = tempfile::tempdir().expect("tmp");
    let run = dir.path().join("small");
    let results = trained(&run);
    let p = Predictor::load(&run, &candle_core::Device::Cpu).expect("loads");
    assert_eq!(p.classes, results.classes);
    let spec = p.spec().clone();
    let data = triggerlab::train::dataset::load(
        &spec,
        &triggerlab::jobs::experiment::MediaClips,
        &|_, _| {},
    )
    .expect("the run's dataset");
    let attack = triggerlab::train::trainer::attack_for(&spec);
    let (mut correct, mut hits, mut others, mut clean_to_target) = (0, 0, 0, 0);
    let mut answers = std::collections::BTreeSet::new();
    for (j, s) in data.test.iter().enumerate() {
        let clean = p.probabilities(&s.clip, j, None, &NoAssets).expect("clean");
        assert!((clean.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        answers.insert(Predictor::predicted(&clean));
        if Predictor::predicted(&clean) == s.label {
            correct += 1;
        }
        if s.label != results.target {
            if Predictor::predicted(&clean) == results.target {
                clean_to_target += 1;
            }
            let trig = p
                .probabilities(&s.clip, j, Some(&attack), &NoAssets)
                .expect("triggered");
            others += 1;
            if Predictor::predicted(&trig) == results.target {
                hits += 1;
            }
        }
    }
    let n = data.test.len();
    assert!(n > 0 && others > 0);
    assert!(
        answers.len() > 1,
        "the model answers differently for different clips"
    );
    assert_eq!(
        correct as f64 / n as f64,
        results.final_metrics.ca,
        "clean accuracy as the run measured it"
    );
    assert_eq!(
        hits as f64 / others as f64,
        results.final_metrics.asr,
        "attack success as the run measured it"
    );
    let last = results.epochs.last().expect("epochs");
    assert_eq!(
        clean_to_target as f64 / others as f64,
        last.clean_target_rate
    );
    assert_eq!(
        results.asr_meaningful,
        last.clean_target_rate < 0.5,
        "the rule, as results.json records it"
    );

    // A clip the model cannot take is refused with the sizes named.
    let small = triggerlab::core::Clip::new(
        vec![triggerlab::core::Frame::new(8, 8, vec![0; 8 * 8 * 3]).expect("frame"); 2],
        triggerlab::core::Rational::from_int(8),
        None,
    )
    .expect("clip");
    let e = p
        .probabilities(&small, 0, None, &NoAssets)
        .expect_err("too small");
    assert!(e.to_string().contains("8×8 with 2 frames"), "{e}");

    // The command line on a video file: the same model, text and JSON.
    let video = common::mp4_h264_aac();
    let (run_s, video_s) = (run.to_string_lossy(), video.to_string_lossy());
    let attack_json = serde_json::to_string(&attack).expect("json");
    let out = cli(&[
        "predict",
        "--model",
        &run_s,
        "--input",
        &video_s,
        "--attack",
        &attack_json,
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    let top = v["clean"]["top"].as_array().expect("clean top");
    assert_eq!(top.len(), 3, "--top 5 of a 3-class model lists 3");
    let sum: f64 = top.iter().map(|c| c["prob"].as_f64().expect("prob")).sum();
    assert!((sum - 1.0).abs() < 1e-9);
    assert!(
        top.windows(2)
            .all(|w| w[0]["prob"].as_f64() >= w[1]["prob"].as_f64()),
        "most probable first"
    );
    assert_eq!(v["triggered"]["top"].as_array().map(Vec::len), Some(3));
    assert_eq!(v["model"]["target"], "MoveLeft");
    assert_eq!(v["model"]["ca"].as_f64(), Some(results.final_metrics.ca));

    let text = cli(&[
        "predict", "--model", &run_s, "--input", &video_s, "--top", "2",
    ]);
    assert!(text.status.success());
    let stdout = String::from_utf8_lossy(&text.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "model and clean lines only: {stdout}");
    assert!(lines[1].starts_with("clean") && lines[1].matches(" · ").count() == 1);

    // Not a run folder: one line naming the missing file, exit 1.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).expect("dir");
    let bad = cli(&[
        "predict",
        "--model",
        &empty.to_string_lossy(),
        "--input",
        &video_s,
    ]);
    assert_eq!(bad.status.code(), Some(1));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("results.json"), "{err}");
}

/// A run too short to learn sits at the class prior: every clip, clean or not, is called the
/// target, and ASR is 1.0. The run says that this ASR means nothing, in its table and results.
#[test]
fn an_asr_from_a_model_that_answers_the_target_for_everything_is_flagged() {
    let dir = tempfile::tempdir().expect("tmp");
    let spec = dir.path().join("small.toml");
    std::fs::write(&spec, common::SMALL_EXPERIMENT).expect("spec");
    let out = dir.path().join("run");
    let r = cli(&[
        "run",
        &spec.to_string_lossy(),
        "--out",
        &out.to_string_lossy(),
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).expect("read"))
            .expect("json");
    let last = results["epochs"]
        .as_array()
        .and_then(|e| e.last())
        .expect("epochs");
    let rate = last["clean_target_rate"].as_f64().expect("rate");
    let stdout = String::from_utf8_lossy(&r.stdout);
    if rate >= 0.5 {
        assert_eq!(results["asr_meaningful"], false);
        assert!(stdout.contains("ASR means nothing"), "{stdout}");
    } else {
        assert_eq!(results["asr_meaningful"], true);
        assert!(!stdout.contains("ASR means nothing"), "{stdout}");
    }
    // This spec, seed 7, 3 epochs: the prior (checked so the branch above is the flagged one).
    assert_eq!(results["final"]["ca"].as_f64(), Some(1.0 / 3.0));
    assert_eq!(rate, 1.0);
    assert!(
        results["asr_rule"]
            .as_str()
            .is_some_and(|s| s.contains("0.5"))
    );
}
