//! Criterion benchmark of the trigger preview, CPU path against GPU path, per trigger at 112²,
//! 224² and 1280×720:
//!
//! - `cpu_apply`: the CPU kernel on one frame (`apply_frame_rows`, as the poisoner runs it);
//! - `gpu_frame`: the next clean frame uploaded, the prepared program rendered, and the GPU
//!   waited for (what playback with an unchanged design costs; the canvas samples the texture);
//! - `gpu_readback`: the same plus copying the result back to the CPU;
//! - `cpu_change` / `gpu_change`: a parameter change: prepare the trigger again, then apply it
//!   (CPU) or build its program, upload its tables, render and wait (GPU).
//!
//! Run: `cargo bench --bench preview --profile dev` (the dev profile already optimises
//! dependencies at opt-level 3 and this crate at 2, and reuses the test build) or plain
//! `cargo bench --bench preview`. Without an adapter, the GPU rows are skipped with a note.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use rand::{RngCore, SeedableRng};
use std::time::Duration;
use triggerlab::core::Frame;
use triggerlab::core::assets::NoAssets;
use triggerlab::core::placement::{FrameCtx, TemporalSpec};
use triggerlab::core::trigger::{Prepared, Scratch, VisualTrigger};
use triggerlab::gpu::preview::{GpuPreview, headless_device};

const KINDS: [&str; 8] = [
    "badnets",
    "blend",
    "sig",
    "wanet",
    "ftrojan",
    "tdba",
    "flicker",
    "color_cast",
];
const SIZES: [(usize, usize); 3] = [(112, 112), (224, 224), (1280, 720)];
const CTX: FrameCtx = FrameCtx {
    index: 1,
    ordinal: 1,
    count: 16,
};

fn trigger(kind: &str) -> VisualTrigger {
    let mut t = VisualTrigger::default_of(kind).expect("defaults");
    if let VisualTrigger::Ftrojan(f) = &mut t {
        // The default window (32) does not fit a 112² frame's blocks evenly; 16 does.
        f.window = 16;
    }
    t
}

fn prepare(t: &VisualTrigger, w: usize, h: usize) -> Prepared {
    t.prepare("visual", w, h, &TemporalSpec::default(), 0, &NoAssets)
        .expect("prepares")
}

fn cpu_apply(p: &Prepared, px: &mut [u8], scratch: &mut Scratch) {
    match p.tdba_profile(CTX.count).expect("profile") {
        Some(wt) => p.apply_tdba(px, wt[CTX.ordinal]),
        None => p.apply_frame_rows(px, &CTX, scratch).expect("applies"),
    }
}

fn frames(w: usize, h: usize) -> [Frame; 2] {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    std::array::from_fn(|_| {
        let mut px = vec![0u8; w * h * 3];
        rng.fill_bytes(&mut px);
        Frame::new(w as u32, h as u32, px).expect("frame")
    })
}

fn preview(c: &mut Criterion) {
    let gpu = headless_device();
    match &gpu {
        Some((_, _, info)) => eprintln!("GPU: {}", triggerlab::gpu::adapter_summary(info)),
        None => eprintln!("no wgpu adapter: GPU rows skipped"),
    }
    let mut gp = gpu.as_ref().map(|(d, _, _)| GpuPreview::new(d));
    for (w, h) in SIZES {
        let mut group = c.benchmark_group(format!("preview_{w}x{h}"));
        group
            .sample_size(10)
            .warm_up_time(Duration::from_millis(200))
            .measurement_time(Duration::from_secs(1));
        let clean = frames(w, h);
        for kind in KINDS {
            let t = trigger(kind);
            let p = prepare(&t, w, h);
            let mut scratch = Scratch::default();
            let mut px = clean[0].rgb().to_vec();
            group.bench_function(BenchmarkId::new(kind, "cpu_apply"), |b| {
                b.iter(|| {
                    px.copy_from_slice(clean[0].rgb());
                    cpu_apply(&p, &mut px, &mut scratch);
                })
            });
            group.bench_function(BenchmarkId::new(kind, "cpu_change"), |b| {
                b.iter(|| {
                    let p = prepare(&t, w, h);
                    px.copy_from_slice(clean[0].rgb());
                    cpu_apply(&p, &mut px, &mut scratch);
                })
            });
            let (Some((device, queue, _)), Some(gp)) = (&gpu, gp.as_mut()) else {
                continue;
            };
            let program = p.gpu_program(&CTX).expect("ok").expect("a GPU path");
            let wait = || {
                device
                    .poll(wgpu::PollType::wait_indefinitely())
                    .expect("GPU finishes");
            };
            let mut i = 0;
            group.bench_function(BenchmarkId::new(kind, "gpu_frame"), |b| {
                b.iter(|| {
                    i += 1;
                    gp.render(device, queue, &clean[i % 2], &program)
                        .expect("renders");
                    wait();
                })
            });
            group.bench_function(BenchmarkId::new(kind, "gpu_readback"), |b| {
                b.iter(|| {
                    i += 1;
                    gp.render(device, queue, &clean[i % 2], &program)
                        .expect("renders");
                    gp.read_back(device, queue).expect("reads back")
                })
            });
            group.bench_function(BenchmarkId::new(kind, "gpu_change"), |b| {
                b.iter(|| {
                    let p = prepare(&t, w, h);
                    let program = p.gpu_program(&CTX).expect("ok").expect("a GPU path");
                    gp.render(device, queue, &clean[0], &program)
                        .expect("renders");
                    wait();
                })
            });
        }
        group.finish();
    }
}

criterion_group! {
    name = benches;
    // No plots: they need fonts this machine may not have, and the figures are the numbers.
    config = Criterion::default().without_plots();
    targets = preview
}
criterion_main!(benches);
