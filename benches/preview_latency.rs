//! Preview latency: from a design change (a new revision) to the new frame ready for the screen,
//! median and p95 per trigger at 112², 224² and 1280×720, on both paths the canvas has.
//!
//! - CPU path: the preview worker prepares the attack (core's `PreparedAttack`), applies it to
//!   the frame at the playhead and computes the difference image and PSNR/L∞, then the UI
//!   converts it to an egui image for upload.
//! - GPU path: the worker prepares the attack and sends the frame's `GpuProgram` (before the CPU
//!   result); the canvas's `GpuPreview` uploads what changed and runs the compute shader; the
//!   time ends when the GPU has finished (`device.poll` wait). On a machine without a GPU this
//!   runs on Mesa's llvmpipe, i.e. on the same two CPU cores as the worker. Triggers without a
//!   shader (frame lag, motion blur, JPEG, shake) show "—".
//!
//! The parameter change is a new seed: the attack's tables (a blend pattern, WaNet's grid,
//! TDBA's pattern) are built again, the worst case of a slider move.
//!
//! `cargo bench --bench preview_latency --profile dev` (or `-- --quick` for fewer rounds;
//! `PREVIEW_ONLY=<trigger>` for one trigger, `PREVIEW_CPU_ONLY=1` for the CPU path only).

use std::sync::Arc;
use std::time::{Duration, Instant};
use triggerlab::core::trigger::{KINDS, VisualTrigger};
use triggerlab::core::{AttackSpec, Clip, Frame, Rational};
use triggerlab::gpu::preview::{GpuPreview, headless_device};
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

struct Gpu {
    device: wgpu::Device,
    queue: wgpu::Queue,
    preview: GpuPreview,
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    // `PREVIEW_ONLY=wanet` measures one trigger (e.g. under a profiler).
    let only = std::env::var("PREVIEW_ONLY").ok();
    let worker = PreviewWorker::start(triggerlab::jobs::no_repaint()).expect("worker");
    // `PREVIEW_CPU_ONLY=1` skips the GPU path.
    let cpu_only = std::env::var_os("PREVIEW_CPU_ONLY").is_some();
    let mut gpu = (!cpu_only)
        .then(headless_device)
        .flatten()
        .map(|(device, queue, info)| {
            println!("GPU path on: {}", triggerlab::gpu::adapter_summary(&info));
            let preview = GpuPreview::new(&device);
            Gpu {
                device,
                queue,
                preview,
            }
        });
    if gpu.is_none() {
        println!("GPU path: no wgpu adapter");
    }
    let mut revision = 0u64;
    println!(
        "trigger       size       cpu_median cpu_p95  gpu_median gpu_p95  (n)  cpu: prepare, apply"
    );
    for (w, h) in [(112u32, 112u32), (224, 224), (1280, 720)] {
        let source = clip(w, h);
        // 40 rounds everywhere: with 15 the p95 was the slowest single round, which on this
        // shared 2-core machine is whatever else ran then.
        let rounds = if quick { 5 } else { 40 };
        for kind in KINDS {
            if only.as_deref().is_some_and(|o| o != kind) {
                continue;
            }
            let Some(trigger) = VisualTrigger::default_of(kind) else {
                continue;
            };
            let mut spec = AttackSpec::visual(trigger);
            let (mut cpu, mut on_gpu) = (Vec::new(), Vec::new());
            let (mut prep, mut apply) = (Vec::new(), Vec::new());
            for use_gpu in [false, true] {
                if use_gpu && gpu.is_none() {
                    continue;
                }
                for r in 0..rounds {
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
                        gpu: use_gpu,
                    });
                    loop {
                        match worker.try_recv() {
                            Some(PreviewEvent::Program {
                                key: k,
                                clean,
                                program,
                                ..
                            }) if k == key => {
                                let (Some(g), Some(program)) = (gpu.as_mut(), program) else {
                                    continue;
                                };
                                g.preview
                                    .render(&g.device, &g.queue, &clean, &program)
                                    .expect("renders");
                                g.device
                                    .poll(wgpu::PollType::wait_indefinitely())
                                    .expect("the GPU finishes");
                                on_gpu.push(t0.elapsed().as_secs_f64() * 1e3);
                            }
                            Some(PreviewEvent::Frame { key: k, result }) if k == key => {
                                let frame = result.expect("previews");
                                if use_gpu {
                                    // The CPU result follows the program; waiting for it
                                    // starts the next round from an idle worker.
                                    break;
                                }
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
                                cpu.push(t0.elapsed().as_secs_f64() * 1e3);
                                break;
                            }
                            Some(_) => {}
                            None => std::thread::sleep(Duration::from_micros(50)),
                        }
                    }
                }
            }
            for v in [&mut cpu, &mut on_gpu, &mut prep, &mut apply] {
                v.sort_by(f64::total_cmp);
            }
            let gpu_cols = if on_gpu.is_empty() {
                format!("{:>10} {:>8}", "—", "—")
            } else {
                format!(
                    "{:>10.2} {:>8.2}",
                    percentile(&on_gpu, 0.5),
                    percentile(&on_gpu, 0.95)
                )
            };
            println!(
                "{kind:<13} {:<10} {:>10.2} {:>8.2} {gpu_cols}  ({rounds})  {:.2}, {:.2}",
                format!("{w}x{h}"),
                percentile(&cpu, 0.5),
                percentile(&cpu, 0.95),
                percentile(&prep, 0.5),
                percentile(&apply, 0.5),
            );
        }
    }
}
