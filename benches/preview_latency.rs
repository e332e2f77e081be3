//! Preview latency: from a design change (a new revision) to the new frame ready for the screen —
//! the preview worker prepares the attack (core's `PreparedAttack`), applies it to the frame at the
//! playhead and computes the difference image and stealth figures, then the UI converts it to an
//! egui image for upload. Median and p95 per trigger at 112², 224² and 1280×720, CPU path.
//!
//! `cargo bench --bench preview_latency --profile dev` (or `-- --quick` for fewer rounds).

use std::sync::Arc;
use std::time::{Duration, Instant};
use triggerlab::core::trigger::{KINDS, VisualTrigger};
use triggerlab::core::{AttackSpec, Clip, Frame, Rational};
use triggerlab::jobs::preview::{
    FrameSource, PreviewEvent, PreviewKey, PreviewRequest, PreviewWorker,
};

fn clip(w: u32, h: u32) -> Arc<Clip> {
    let frames: Vec<Frame> = (0..8u32)
        .map(|t| {
            let px: Vec<u8> = (0..w * h * 3)
                .map(|i| ((i / 3 % w + i / 3 / w + t * 7) % 251) as u8)
                .collect();
            Frame::new(w, h, px).expect("frame")
        })
        .collect();
    Arc::new(Clip::new(frames, Rational::from_int(8), None).expect("clip"))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let worker = PreviewWorker::start(triggerlab::jobs::no_repaint()).expect("worker");
    let mut revision = 0u64;
    println!("trigger       size       median_ms  p95_ms   (n)");
    for (w, h) in [(112u32, 112u32), (224, 224), (1280, 720)] {
        let source = clip(w, h);
        let rounds = match (quick, w) {
            (true, _) => 5,
            (false, 1280) => 15,
            _ => 40,
        };
        for kind in KINDS {
            let Some(trigger) = VisualTrigger::default_of(kind) else {
                continue;
            };
            let mut spec = AttackSpec::visual(trigger);
            let mut times = Vec::with_capacity(rounds);
            let (mut prep, mut apply) = (Vec::new(), Vec::new());
            for r in 0..rounds {
                // A parameter change: a new seed is a new revision, so the attack is prepared
                // again, as after any slider move.
                spec.seed = r as u64;
                revision += 1;
                let key = PreviewKey {
                    clip: 1,
                    frame: 3,
                    revision,
                };
                let t0 = Instant::now();
                worker.request(PreviewRequest {
                    key,
                    spec: Arc::new(spec.clone()),
                    source: FrameSource::Clip(source.clone()),
                    diff_gain: 8.0,
                    assets_dir: ".".into(),
                });
                let frame = loop {
                    match worker.try_recv() {
                        Some(PreviewEvent::Frame { key: k, result }) if k == key => {
                            break result.expect("previews");
                        }
                        Some(_) => {}
                        None => std::thread::sleep(Duration::from_micros(50)),
                    }
                };
                prep.push(frame.prepare_ms);
                apply.push(frame.apply_ms);
                // What the canvas does with it before the upload.
                let img = egui::ColorImage::from_rgb(
                    [
                        frame.poisoned.width() as usize,
                        frame.poisoned.height() as usize,
                    ],
                    frame.poisoned.rgb(),
                );
                std::hint::black_box(img);
                times.push(t0.elapsed().as_secs_f64() * 1e3);
            }
            times.sort_by(f64::total_cmp);
            prep.sort_by(f64::total_cmp);
            apply.sort_by(f64::total_cmp);
            println!(
                "{kind:<13} {:<10} {:>9.2} {:>8.2}   ({rounds})  prepare {:>7.2}  apply {:>7.2}",
                format!("{w}x{h}"),
                percentile(&times, 0.5),
                percentile(&times, 0.95),
                percentile(&prep, 0.5),
                percentile(&apply, 0.5),
            );
        }
    }
}
