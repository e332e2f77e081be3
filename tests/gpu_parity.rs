//! The GPU preview against the CPU: every trigger with a GPU path, rendered offscreen (llvmpipe on
//! machines without a GPU) for each triggered frame of a short clip, must match what
//! `core::apply_clip` makes of the same spec and clip to within 1 of 255 per channel.
//!
//! Skips, saying why, only when wgpu finds no adapter at all.

use std::path::Path;
use std::sync::OnceLock;
use triggerlab::core::assets::{AssetLoader, RgbaImage};
use triggerlab::core::placement::FrameCtx;
use triggerlab::core::trigger::GpuProgram;
use triggerlab::core::{AttackSpec, AudioBuffer, Clip, Frame, Rational, apply_clip};
use triggerlab::gpu::preview::{GpuPreview, headless_device};

/// The largest difference the preview may show, per channel (of 255).
const TOLERANCE: u8 = 1;

struct Gpu {
    device: wgpu::Device,
    queue: wgpu::Queue,
}

/// One device for the whole test binary (creating one on llvmpipe takes a while).
fn gpu() -> Option<&'static Gpu> {
    static GPU: OnceLock<Option<Gpu>> = OnceLock::new();
    GPU.get_or_init(|| {
        let (device, queue, info) = headless_device()?;
        eprintln!("gpu_parity on {}", triggerlab::gpu::adapter_summary(&info));
        Some(Gpu { device, queue })
    })
    .as_ref()
}

macro_rules! gpu_or_skip {
    () => {
        match gpu() {
            Some(g) => g,
            None => {
                eprintln!("SKIPPED: wgpu found no adapter (no GPU and no software rasteriser)");
                return;
            }
        }
    };
}

/// A pattern image for blend specs that name one, whatever the path.
struct Pattern;

impl AssetLoader for Pattern {
    fn load_image(&self, _: &Path) -> Result<RgbaImage, String> {
        let (w, h) = (37u32, 23u32);
        let rgba = (0..w * h)
            .flat_map(|i| {
                let (x, y) = (i % w, i / w);
                [(x * 7) as u8, (y * 11) as u8, ((x * y) % 256) as u8, 255]
            })
            .collect();
        Ok(RgbaImage {
            width: w,
            height: h,
            rgba,
        })
    }
    fn load_audio(&self, p: &Path) -> Result<AudioBuffer, String> {
        Err(format!("{}: no audio here", p.display()))
    }
}

/// A deterministic clip with smooth gradients (where rounding ties happen), hard edges, saturated
/// pixels (where clipping happens) and noise; it changes from frame to frame.
fn clip(w: u32, h: u32, frames: usize) -> Clip {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let frames = (0..frames)
        .map(|t| {
            let rgb: Vec<u8> = (0..w * h)
                .flat_map(|i| {
                    let (x, y) = ((i % w) as usize, (i / w) as usize);
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    let noise = (state >> 56) as u8;
                    let r = (x * 255 / w as usize + t * 9) as u8;
                    let g = if (x / 9 + y / 7) % 2 == 0 { 250 } else { 4 };
                    let b = if y < h as usize / 4 {
                        noise
                    } else {
                        (y * 2 + t) as u8
                    };
                    [r, g, b]
                })
                .collect();
            Frame::new(w, h, rgb).expect("frame")
        })
        .collect();
    Clip::new(frames, Rational::from_int(25), None).expect("clip")
}

fn spec(visual: &str, temporal: &str, seed: u64) -> AttackSpec {
    let json = format!(r#"{{"version":1,"visual":{visual},"temporal":{temporal},"seed":{seed}}}"#);
    triggerlab::core::attack::parse_json(&json).unwrap_or_else(|e| panic!("{json}: {e}"))
}

/// Largest per-channel difference and how many bytes differ at all.
fn compare(a: &Frame, b: &Frame) -> (u8, usize) {
    a.rgb()
        .iter()
        .zip(b.rgb())
        .fold((0, 0), |(max, n), (&x, &y)| {
            let d = x.abs_diff(y);
            (max.max(d), n + usize::from(d > 0))
        })
}

/// Renders every triggered frame of `spec` on the GPU and compares it with the CPU's result.
/// Returns the number of differing bytes, for the report.
fn check(g: &Gpu, preview: &mut GpuPreview, spec: &AttackSpec, w: u32, h: u32, n: usize) -> usize {
    let clip = clip(w, h, n);
    let poisoned = apply_clip(spec, &clip, &Pattern).expect("CPU applies");
    let visual = spec.visual.as_ref().expect("a visual trigger");
    let prepared = visual
        .prepare(
            "visual",
            w as usize,
            h as usize,
            &spec.temporal,
            spec.seed,
            &Pattern,
        )
        .expect("prepares");
    let count = poisoned.selected.len();
    let mut differing = 0;
    let mut changed = false;
    for (ordinal, &index) in poisoned.selected.iter().enumerate() {
        let ctx = FrameCtx {
            index,
            ordinal,
            count,
        };
        let program = prepared
            .gpu_program(&ctx)
            .expect("program")
            .unwrap_or_else(|| panic!("{} has a GPU path", visual.kind()));
        let clean = &clip.frames()[index];
        preview
            .render(&g.device, &g.queue, clean, &program)
            .expect("renders");
        let got = preview.read_back(&g.device, &g.queue).expect("reads back");
        let want = &poisoned.clip.frames()[index];
        let (max, n_diff) = compare(&got, want);
        assert!(
            max <= TOLERANCE,
            "{} {w}×{h} frame {index}: GPU differs from CPU by {max} ({n_diff} bytes; {program:?})",
            visual.kind()
        );
        differing += n_diff;
        changed |= want != clean;
    }
    assert!(
        changed,
        "{} changed no frame: a vacuous check",
        visual.kind()
    );
    differing
}

fn run(cases: &[(&str, &str)], sizes: &[(u32, u32)]) {
    let g = gpu_or_skip!();
    let mut preview = GpuPreview::new(&g.device);
    for &(visual, temporal) in cases {
        for &(w, h) in sizes {
            let s = spec(visual, temporal, 11);
            let d = check(g, &mut preview, &s, w, h, 4);
            let short: String = visual.chars().take(60).collect();
            match d {
                0 => eprintln!("{short} {temporal} {w}×{h}: identical"),
                d => eprintln!("{short} {temporal} {w}×{h}: {d} bytes differ by 1"),
            }
        }
    }
}

const SIZES: [(u32, u32); 2] = [(113, 71), (224, 224)];
const STATIC: &str = r#"{}"#;
const EVERY_OTHER: &str = r#"{"frames":{"every":{"n":2,"offset":1}}}"#;

#[test]
fn badnets_patches() {
    let painted = {
        let (w, h) = (5u32, 3u32);
        let rgba: Vec<String> = (0..w * h)
            .flat_map(|i| [(i * 40) % 256, 255 - i * 9, 77, (i * 17) % 256])
            .map(|v| v.to_string())
            .collect();
        format!(
            r#"{{"kind":"badnets","size":[9,6],"anchor":"center","painted":{{"width":{w},"height":{h},"rgba":[{}]}}}}"#,
            rgba.join(",")
        )
    };
    run(
        &[
            (r#"{"kind":"badnets","size":16,"color":[255,0,0]}"#, STATIC),
            (
                r#"{"kind":"badnets","size":[11,7],"anchor":"top_left","margin":3,"opacity":0.55,"checkerboard":{"cell":2}}"#,
                EVERY_OTHER,
            ),
            (&painted, STATIC),
            (
                r#"{"kind":"badnets","size":12,"noise":{}}"#,
                r#"{"mode":"dynamic","variation":{"kind":"noise_reseed"}}"#,
            ),
            (
                r#"{"kind":"badnets","size":10,"opacity":0.7}"#,
                r#"{"mode":"dynamic"}"#,
            ),
            (
                r#"{"kind":"badnets","size":[14,9]}"#,
                r#"{"mode":"dynamic","variation":{"kind":"position_path"}}"#,
            ),
        ],
        &SIZES,
    );
}

#[test]
fn blend_patterns_and_schedules() {
    run(
        &[
            (r#"{"kind":"blend","alpha":0.2}"#, STATIC),
            (
                r#"{"kind":"blend","alpha":0.35,"pattern":{"image":"p.png"}}"#,
                EVERY_OTHER,
            ),
            (r#"{"kind":"blend","alpha":0.1}"#, r#"{"mode":"dynamic"}"#),
            (
                r#"{"kind":"blend","alpha":0.5,"pattern":{"image":"p.png"}}"#,
                r#"{"mode":"dynamic","variation":{"kind":"alpha_sine","min":0.1,"max":0.6,"period_frames":3}}"#,
            ),
        ],
        &SIZES,
    );
}

#[test]
fn sig_static_and_moving() {
    run(
        &[
            (r#"{"kind":"sig","delta":40,"freq":6}"#, STATIC),
            (r#"{"kind":"sig","delta":90,"freq":2.5}"#, EVERY_OTHER),
            (
                r#"{"kind":"sig","delta":20,"freq":6}"#,
                r#"{"mode":"dynamic"}"#,
            ),
            (
                r#"{"kind":"sig","delta":30,"freq":6}"#,
                r#"{"mode":"dynamic","variation":{"kind":"frequency","from":2,"to":9}}"#,
            ),
        ],
        &SIZES,
    );
}

#[test]
fn wanet_grids() {
    run(
        &[
            (r#"{"kind":"wanet","k":4,"s":0.5}"#, STATIC),
            (
                r#"{"kind":"wanet","k":8,"s":4,"grid_rescale":0.98}"#,
                EVERY_OTHER,
            ),
            (r#"{"kind":"wanet","k":4,"s":1,"noise_mode":true}"#, STATIC),
            (r#"{"kind":"wanet","k":3,"s":2}"#, r#"{"mode":"dynamic"}"#),
        ],
        &SIZES,
    );
}

#[test]
fn ftrojan_blocks() {
    run(
        &[
            (r#"{"kind":"ftrojan"}"#, STATIC),
            (
                r#"{"kind":"ftrojan","window":8,"magnitude":60,"channels":["y","cb"]}"#,
                EVERY_OTHER,
            ),
            (
                r#"{"kind":"ftrojan","window":16,"magnitude":45,"positions":[[3,5],[15,15],[7,0]]}"#,
                r#"{"mode":"dynamic"}"#,
            ),
        ],
        &SIZES,
    );
}

#[test]
fn tdba_over_the_selected_frames() {
    run(
        &[
            (r#"{"kind":"tdba","pert":6000}"#, STATIC),
            (
                r#"{"kind":"tdba","pert":9000,"temporal":[0,-1],"spatial":[[3,4],[-2,-1]],"channels":["r","b"]}"#,
                EVERY_OTHER,
            ),
        ],
        &SIZES,
    );
}

#[test]
fn flicker_and_color_cast() {
    run(
        &[
            (
                r#"{"kind":"flicker","amplitude":0.3,"period_frames":3}"#,
                STATIC,
            ),
            (r#"{"kind":"color_cast"}"#, EVERY_OTHER),
            (r#"{"kind":"color_cast","gains":[0.5,1.7,1.01]}"#, STATIC),
        ],
        &SIZES,
    );
}

#[test]
fn unselected_frames_and_odd_sizes_pass_through_exactly() {
    let g = gpu_or_skip!();
    let mut preview = GpuPreview::new(&g.device);
    for (w, h) in [(1, 1), (113, 71), (7, 300)] {
        let clean = clip(w, h, 1).frames()[0].clone();
        let clean = &clean;
        preview
            .render(&g.device, &g.queue, clean, &GpuProgram::Identity)
            .expect("renders");
        let got = preview.read_back(&g.device, &g.queue).expect("reads back");
        assert_eq!(&got, clean, "{w}×{h}");
    }
}

#[test]
fn a_static_table_is_uploaded_once_and_a_mismatch_is_an_error() {
    let g = gpu_or_skip!();
    let mut preview = GpuPreview::new(&g.device);
    let s = spec(r#"{"kind":"wanet","k":4,"s":0.5}"#, STATIC, 3);
    let c = clip(64, 48, 3);
    let prepared = s
        .visual
        .as_ref()
        .expect("visual")
        .prepare("visual", 64, 48, &s.temporal, s.seed, &Pattern)
        .expect("prepares");
    for (i, frame) in c.frames().iter().enumerate() {
        let ctx = FrameCtx {
            index: i,
            ordinal: i,
            count: 3,
        };
        let program = prepared.gpu_program(&ctx).expect("ok").expect("gpu");
        preview
            .render(&g.device, &g.queue, frame, &program)
            .expect("renders");
        // Rendering the same frame again uploads nothing.
        preview
            .render(&g.device, &g.queue, frame, &program)
            .expect("renders");
    }
    let up = preview.uploads();
    assert_eq!((up.frames, up.tables), (3, 1), "{up:?}");

    // The 64×48 program on a 50×64 frame: refused, naming the program.
    let other = clip(50, 64, 1).frames()[0].clone();
    let other = &other;
    let program = prepared
        .gpu_program(&FrameCtx {
            index: 0,
            ordinal: 0,
            count: 1,
        })
        .expect("ok")
        .expect("gpu");
    let e = preview
        .render(&g.device, &g.queue, other, &program)
        .expect_err("wrong size");
    assert!(e.to_string().contains("warp"), "{e}");
}

/// Reads an `Rgba8Unorm` texture back as RGB.
fn read_texture(g: &Gpu, texture: &wgpu::Texture) -> Frame {
    let (w, h) = (texture.width(), texture.height());
    let row = (w * 4).next_multiple_of(wgpu::COPY_BYTES_PER_ROW_ALIGNMENT);
    let buffer = g.device.create_buffer(&wgpu::BufferDescriptor {
        label: None,
        size: u64::from(row * h),
        usage: wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::MAP_READ,
        mapped_at_creation: false,
    });
    let mut enc = g.device.create_command_encoder(&Default::default());
    enc.copy_texture_to_buffer(
        texture.as_image_copy(),
        wgpu::TexelCopyBufferInfo {
            buffer: &buffer,
            layout: wgpu::TexelCopyBufferLayout {
                offset: 0,
                bytes_per_row: Some(row),
                rows_per_image: Some(h),
            },
        },
        texture.size(),
    );
    g.queue.submit([enc.finish()]);
    buffer.map_async(wgpu::MapMode::Read, .., |r| r.expect("maps"));
    g.device
        .poll(wgpu::PollType::wait_indefinitely())
        .expect("GPU finishes");
    let data = buffer.get_mapped_range(..).expect("mapped");
    let rgb: Vec<u8> = data
        .chunks_exact(row as usize)
        .flat_map(|line| {
            line[..w as usize * 4]
                .chunks_exact(4)
                .flat_map(|p| [p[0], p[1], p[2]])
        })
        .collect();
    Frame::new(w, h, rgb).expect("frame")
}

#[test]
fn view_modes_show_clean_poisoned_difference_and_wipe() {
    use triggerlab::gpu::preview_callback::{PreviewView, ViewMode};
    let g = gpu_or_skip!();
    let (w, h) = (64u32, 40u32);
    let s = spec(
        r#"{"kind":"badnets","size":8,"color":[255,0,0]}"#,
        STATIC,
        1,
    );
    let c = clip(w, h, 1);
    let clean = &c.frames()[0];
    let poisoned = apply_clip(&s, &c, &Pattern).expect("CPU").clip.frames()[0].clone();
    let prepared = s
        .visual
        .as_ref()
        .expect("visual")
        .prepare(
            "visual",
            w as usize,
            h as usize,
            &s.temporal,
            s.seed,
            &Pattern,
        )
        .expect("prepares");
    let ctx = FrameCtx {
        index: 0,
        ordinal: 0,
        count: 1,
    };
    let program = prepared.gpu_program(&ctx).expect("ok").expect("gpu");
    let mut preview = GpuPreview::new(&g.device);
    preview
        .render(&g.device, &g.queue, clean, &program)
        .expect("renders");
    let format = wgpu::TextureFormat::Rgba8Unorm;
    let mut view = PreviewView::new(&g.device, format);
    view.bind(&g.device, &preview);
    let target = g.device.create_texture(&wgpu::TextureDescriptor {
        label: None,
        size: wgpu::Extent3d {
            width: w,
            height: h,
            depth_or_array_layers: 1,
        },
        mip_level_count: 1,
        sample_count: 1,
        dimension: wgpu::TextureDimension::D2,
        format,
        usage: wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::COPY_SRC,
        view_formats: &[],
    });
    let target_view = target.create_view(&Default::default());
    let draw = |mode| {
        view.set_mode(&g.queue, mode);
        let mut enc = g.device.create_command_encoder(&Default::default());
        {
            let mut pass = enc.begin_render_pass(&wgpu::RenderPassDescriptor {
                label: None,
                color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                    view: &target_view,
                    depth_slice: None,
                    resolve_target: None,
                    ops: wgpu::Operations {
                        load: wgpu::LoadOp::Clear(wgpu::Color::BLACK),
                        store: wgpu::StoreOp::Store,
                    },
                })],
                ..Default::default()
            });
            view.draw(&mut pass);
        }
        g.queue.submit([enc.finish()]);
        read_texture(g, &target)
    };
    let near = |a: &Frame, b: &Frame, what: &str| {
        let (max, _) = compare(a, b);
        assert!(max <= TOLERANCE, "{what}: off by {max}");
    };
    near(&draw(ViewMode::Clean), clean, "clean");
    near(&draw(ViewMode::Poisoned), &poisoned, "poisoned");
    let gain = 3.0;
    let want_diff: Vec<u8> = clean
        .rgb()
        .iter()
        .zip(poisoned.rgb())
        .map(|(&a, &b)| (f32::from(a.abs_diff(b)) * gain).min(255.0).round() as u8)
        .collect();
    near(
        &draw(ViewMode::Difference { gain }),
        &Frame::new(w, h, want_diff).expect("frame"),
        "difference",
    );
    // Wipe at a quarter: columns left of 16 clean, the rest poisoned (the patch is bottom right).
    let wipe = draw(ViewMode::Wipe { x: 0.25 });
    let want_wipe: Vec<u8> = (0..(w * h) as usize)
        .flat_map(|p| {
            let src = if (p % w as usize) < 16 {
                clean
            } else {
                &poisoned
            };
            [src.rgb()[p * 3], src.rgb()[p * 3 + 1], src.rgb()[p * 3 + 2]]
        })
        .collect();
    near(&wipe, &Frame::new(w, h, want_wipe).expect("frame"), "wipe");
    assert_ne!(&poisoned, clean, "the patch shows");
}
