//! Criterion benchmark of the trigger kernels on a batch of 8 clips × 16 frames at 112×112
//! (the same workload as `triggerlab bench triggers`, with criterion's statistics).
//! Run: `cargo bench --bench triggers`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rand::{RngCore, SeedableRng};
use triggerlab::core::assets::NoAssets;
use triggerlab::core::placement::{FrameCtx, TemporalSpec};
use triggerlab::core::trigger::VisualTrigger;

fn triggers(c: &mut Criterion) {
    let (size, frames) = (112usize, 8 * 16);
    let len = size * size * 3;
    let mut batch = vec![0u8; frames * len];
    rand_chacha::ChaCha8Rng::seed_from_u64(0).fill_bytes(&mut batch);
    let mut group = c.benchmark_group("triggers_112");
    group.throughput(Throughput::Elements(frames as u64));
    for kind in [
        "badnets",
        "blend",
        "sig",
        "wanet",
        "ftrojan",
        "motion_blur",
        "color_cast",
    ] {
        let mut t = VisualTrigger::default_of(kind).expect("defaults");
        if let VisualTrigger::Ftrojan(f) = &mut t {
            f.window = 16;
        }
        let p = t
            .prepare("visual", size, size, &TemporalSpec::default(), 0, &NoAssets)
            .expect("prepares");
        group.bench_function(kind, |b| {
            b.iter(|| {
                p.apply_batch(&mut batch, |i| FrameCtx {
                    index: i % 16,
                    ordinal: i % 16,
                    count: 16,
                })
                .expect("applies")
            })
        });
    }
    group.finish();
}

criterion_group!(benches, triggers);
criterion_main!(benches);
