//! The GPU trigger preview: one frame's [`GpuProgram`] applied to the clean frame by a compute
//! shader (`shaders/trigger.wgsl`), into an `Rgba8Unorm` texture the canvas can draw and tests
//! can read back.
//!
//! Why compute rather than a full-screen fragment pass: every program is per pixel with an exact
//! integer result, WaNet gathers from arbitrary source pixels, and the output is a texture either
//! way; a compute pass needs no render target, vertex stage or viewport, and writes the byte it
//! computed through a storage texture with no blending or sRGB conversion in the way.
//!
//! Uploads are skipped when nothing changed: the clean frame is compared by identity (frames share
//! their pixels through an `Arc`), the program's table by the identity of its `Arc`s, so a static
//! trigger's large tables (a blend pattern, WaNet's taps, TDBA's pattern) go up once.

use crate::core::Frame;
use crate::core::trigger::GpuProgram;
use std::sync::Arc;
use wgpu::util::DeviceExt;

const SHADER: &str = include_str!("../../shaders/trigger.wgsl");
const WORKGROUP: u32 = 8;

/// Why a preview could not be rendered or read back.
#[derive(Debug, thiserror::Error)]
pub enum PreviewError {
    #[error("the {program} program does not fit a {width}×{height} frame: {why}")]
    Mismatch {
        program: &'static str,
        width: u32,
        height: u32,
        why: String,
    },
    #[error(
        "the {program} program's table is {bytes} bytes, more than this GPU binds ({limit} bytes)"
    )]
    TooLarge {
        program: &'static str,
        bytes: u64,
        limit: u64,
    },
    #[error("nothing has been rendered yet")]
    NothingRendered,
    #[error("reading the preview back from the GPU failed: {0}")]
    ReadBack(String),
}

/// Matches `struct Params` in `trigger.wgsl` (std140-compatible: 16-byte rows).
#[derive(Clone, Copy, Default)]
struct Params {
    mode: u32,
    width: u32,
    height: u32,
    opaque: u32,
    rect: [u32; 4],
    scalars: [f32; 4],
    m: [[f32; 4]; 3],
}

impl Params {
    const BYTES: usize = 16 * 6;

    fn to_bytes(self) -> Vec<u8> {
        let mut out = Vec::with_capacity(Self::BYTES);
        for v in [self.mode, self.width, self.height, self.opaque]
            .into_iter()
            .chain(self.rect)
            .chain(self.scalars.map(f32::to_bits))
            .chain(self.m.into_iter().flatten().map(f32::to_bits))
        {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out
    }
}

fn mode_of(p: &GpuProgram) -> u32 {
    match p {
        GpuProgram::Identity => 0,
        GpuProgram::Patch { .. } => 1,
        GpuProgram::Blend { .. } => 2,
        GpuProgram::AddRow { .. } => 3,
        GpuProgram::Luts { .. } => 4,
        GpuProgram::Warp { .. } => 5,
        GpuProgram::BlockAffine { .. } => 6,
        GpuProgram::AddScaled { .. } => 7,
    }
}

/// Checks that `p` fits a `w`×`h` frame, so a wrong table is an error, not a garbled preview.
fn check(p: &GpuProgram, w: u32, h: u32) -> Result<(), PreviewError> {
    let n = w as usize * h as usize;
    let why = match p {
        GpuProgram::Identity | GpuProgram::Luts { .. } => None,
        GpuProgram::Patch {
            x,
            y,
            w: pw,
            h: ph,
            rgb,
            cover,
            ..
        } => {
            let px = *pw as usize * *ph as usize;
            if x.saturating_add(*pw) > w || y.saturating_add(*ph) > h {
                Some(format!("a {pw}×{ph} patch at ({x}, {y}) leaves the frame"))
            } else if rgb.len() != px * 3 || cover.len() != px {
                Some(format!(
                    "a {pw}×{ph} patch needs {} RGB bytes and {px} coverages, not {} and {}",
                    px * 3,
                    rgb.len(),
                    cover.len()
                ))
            } else {
                None
            }
        }
        GpuProgram::Blend { pattern, .. } => (pattern.len() != n * 3)
            .then(|| format!("the pattern holds {} bytes, not {}", pattern.len(), n * 3)),
        GpuProgram::AddRow { row } => (row.len() != w as usize * 3)
            .then(|| format!("the row holds {} entries, not {}", row.len(), w * 3)),
        GpuProgram::Warp { indices, weights } => {
            if indices.len() != n || weights.len() != n {
                Some(format!(
                    "{} taps and {} weights for {n} pixels",
                    indices.len(),
                    weights.len()
                ))
            } else {
                indices
                    .iter()
                    .flatten()
                    .find(|&&i| i as usize >= n)
                    .map(|bad| format!("tap {bad} is outside the frame"))
            }
        }
        GpuProgram::BlockAffine { window, delta, .. } => {
            let k = *window as usize;
            if k == 0 || k > w.min(h) as usize {
                Some(format!("window {k} does not fit"))
            } else if delta.len() != k * k {
                Some(format!("{} deltas for a {k}×{k} block", delta.len()))
            } else {
                None
            }
        }
        GpuProgram::AddScaled { pattern, .. } => (pattern.len() != n * 3)
            .then(|| format!("the pattern holds {} values, not {}", pattern.len(), n * 3)),
    };
    match why {
        Some(why) => Err(PreviewError::Mismatch {
            program: p.name(),
            width: w,
            height: h,
            why,
        }),
        None => Ok(()),
    }
}

fn params_of(p: &GpuProgram, w: u32, h: u32) -> Params {
    let mut params = Params {
        mode: mode_of(p),
        width: w,
        height: h,
        ..Default::default()
    };
    match p {
        GpuProgram::Patch {
            x,
            y,
            w: pw,
            h: ph,
            opaque,
            ..
        } => {
            params.rect = [*x, *y, *pw, *ph];
            params.opaque = u32::from(*opaque);
        }
        // The CPU computes 1 − α in f32 once; so does this.
        GpuProgram::Blend { alpha, .. } => params.scalars = [*alpha, 1.0 - *alpha, 0.0, 0.0],
        GpuProgram::BlockAffine {
            window, m, offset, ..
        } => {
            params.rect = [*window, w / window * window, h / window * window, 0];
            for c in 0..3 {
                params.m[c] = [m[c][0], m[c][1], m[c][2], offset[c]];
            }
        }
        GpuProgram::AddScaled { weight, .. } => params.scalars[0] = *weight,
        _ => {}
    }
    params
}

/// Bytes packed four to a little-endian word, as `byte_at` in the shader reads them.
fn pack_bytes(out: &mut Vec<u32>, bytes: &[u8]) {
    out.extend(bytes.chunks(4).map(|c| {
        let mut w = [0u8; 4];
        w[..c.len()].copy_from_slice(c);
        u32::from_le_bytes(w)
    }));
}

fn pack_floats(out: &mut Vec<u32>, floats: impl IntoIterator<Item = f32>) {
    out.extend(floats.into_iter().map(f32::to_bits));
}

/// The program's table in the layout `trigger.wgsl` reads (documented there, per mode).
fn pack_table(p: &GpuProgram) -> Vec<u32> {
    let mut t = Vec::new();
    match p {
        GpuProgram::Identity => {}
        GpuProgram::Patch { rgb, cover, .. } => {
            pack_bytes(&mut t, rgb);
            pack_floats(&mut t, cover.iter().copied());
        }
        GpuProgram::Blend { pattern, .. } => pack_bytes(&mut t, pattern),
        GpuProgram::AddRow { row } => pack_floats(&mut t, row.iter().copied()),
        GpuProgram::Luts { luts } => pack_bytes(&mut t, luts.as_flattened()),
        GpuProgram::Warp { indices, weights } => {
            t.extend(indices.iter().flatten());
            pack_floats(&mut t, weights.iter().flatten().copied());
        }
        GpuProgram::BlockAffine { delta, .. } => {
            pack_floats(&mut t, delta.iter().flatten().copied())
        }
        GpuProgram::AddScaled { pattern, .. } => pack_floats(&mut t, pattern.iter().copied()),
    }
    // A binding must not be empty.
    if t.is_empty() {
        t.push(0);
    }
    t
}

/// Whether two programs carry the very same table (the same allocations, the same values), so
/// the uploaded one can stay.
fn same_table(a: &GpuProgram, b: &GpuProgram) -> bool {
    use GpuProgram as P;
    match (a, b) {
        (P::Identity, P::Identity) => true,
        (
            P::Patch {
                rgb: r1, cover: c1, ..
            },
            P::Patch {
                rgb: r2, cover: c2, ..
            },
        ) => Arc::ptr_eq(r1, r2) && Arc::ptr_eq(c1, c2),
        (P::Blend { pattern: x, .. }, P::Blend { pattern: y, .. }) => Arc::ptr_eq(x, y),
        (P::AddRow { row: x }, P::AddRow { row: y }) => Arc::ptr_eq(x, y),
        (P::Luts { luts: x }, P::Luts { luts: y }) => Arc::ptr_eq(x, y),
        (
            P::Warp {
                indices: i1,
                weights: w1,
            },
            P::Warp {
                indices: i2,
                weights: w2,
            },
        ) => Arc::ptr_eq(i1, i2) && Arc::ptr_eq(w1, w2),
        (P::BlockAffine { delta: x, .. }, P::BlockAffine { delta: y, .. }) => Arc::ptr_eq(x, y),
        (P::AddScaled { pattern: x, .. }, P::AddScaled { pattern: y, .. }) => Arc::ptr_eq(x, y),
        _ => false,
    }
}

struct CleanTexture {
    /// Held so its pixels cannot be freed and their address reused while we compare by it.
    frame: Frame,
    texture: wgpu::Texture,
    view: wgpu::TextureView,
}

struct Output {
    texture: wgpu::Texture,
    view: wgpu::TextureView,
    size: (u32, u32),
}

/// The preview pipeline and the textures it renders with. Create one per device and keep it.
pub struct GpuPreview {
    pipeline: wgpu::ComputePipeline,
    layout: wgpu::BindGroupLayout,
    params: wgpu::Buffer,
    clean: Option<CleanTexture>,
    out: Option<Output>,
    /// The uploaded table and the program it came from (its `Arc`s keep the identity valid).
    table: Option<(wgpu::Buffer, GpuProgram)>,
    uploads: Uploads,
}

/// How many uploads the preview has made; for tests and benchmarks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Uploads {
    pub frames: u64,
    pub tables: u64,
}

impl GpuPreview {
    pub fn new(device: &wgpu::Device) -> Self {
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("trigger.wgsl"),
            source: wgpu::ShaderSource::Wgsl(SHADER.into()),
        });
        let entry = |binding, ty| wgpu::BindGroupLayoutEntry {
            binding,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty,
            count: None,
        };
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("trigger preview"),
            entries: &[
                entry(
                    0,
                    wgpu::BindingType::Texture {
                        sample_type: wgpu::TextureSampleType::Float { filterable: false },
                        view_dimension: wgpu::TextureViewDimension::D2,
                        multisampled: false,
                    },
                ),
                entry(
                    1,
                    wgpu::BindingType::StorageTexture {
                        access: wgpu::StorageTextureAccess::WriteOnly,
                        format: wgpu::TextureFormat::Rgba8Unorm,
                        view_dimension: wgpu::TextureViewDimension::D2,
                    },
                ),
                entry(
                    2,
                    wgpu::BindingType::Buffer {
                        ty: wgpu::BufferBindingType::Uniform,
                        has_dynamic_offset: false,
                        min_binding_size: None,
                    },
                ),
                entry(
                    3,
                    wgpu::BindingType::Buffer {
                        ty: wgpu::BufferBindingType::Storage { read_only: true },
                        has_dynamic_offset: false,
                        min_binding_size: None,
                    },
                ),
            ],
        });
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("trigger preview"),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some("trigger preview"),
            layout: Some(&pipeline_layout),
            module: &module,
            entry_point: Some("cs_main"),
            compilation_options: wgpu::PipelineCompilationOptions::default(),
            cache: None,
        });
        let params = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("trigger preview params"),
            size: Params::BYTES as u64,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        GpuPreview {
            pipeline,
            layout,
            params,
            clean: None,
            out: None,
            table: None,
            uploads: Uploads::default(),
        }
    }

    /// Applies `program` to `clean` into the preview's output texture (`Rgba8Unorm`, the frame's
    /// size; usable as a sampled texture) and returns it. The work is submitted, not waited for.
    pub fn render(
        &mut self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        clean: &Frame,
        program: &GpuProgram,
    ) -> Result<&wgpu::Texture, PreviewError> {
        let (w, h) = (clean.width(), clean.height());
        check(program, w, h)?;
        self.upload_clean(device, queue, clean);
        self.upload_table(device, program)?;
        if self.out.as_ref().map(|o| o.size) != Some((w, h)) {
            let texture = device.create_texture(&wgpu::TextureDescriptor {
                label: Some("trigger preview output"),
                size: extent(w, h),
                mip_level_count: 1,
                sample_count: 1,
                dimension: wgpu::TextureDimension::D2,
                format: wgpu::TextureFormat::Rgba8Unorm,
                usage: wgpu::TextureUsages::STORAGE_BINDING
                    | wgpu::TextureUsages::TEXTURE_BINDING
                    | wgpu::TextureUsages::COPY_SRC,
                view_formats: &[],
            });
            let view = texture.create_view(&wgpu::TextureViewDescriptor::default());
            self.out = Some(Output {
                texture,
                view,
                size: (w, h),
            });
        }
        let (Some(clean_tex), Some(out), Some((table, _))) = (&self.clean, &self.out, &self.table)
        else {
            // Each was set just above.
            return Err(PreviewError::NothingRendered);
        };
        queue.write_buffer(&self.params, 0, &params_of(program, w, h).to_bytes());
        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("trigger preview"),
            layout: &self.layout,
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: wgpu::BindingResource::TextureView(&clean_tex.view),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: wgpu::BindingResource::TextureView(&out.view),
                },
                wgpu::BindGroupEntry {
                    binding: 2,
                    resource: self.params.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 3,
                    resource: table.as_entire_binding(),
                },
            ],
        });
        let mut encoder = device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("trigger preview"),
        });
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("trigger preview"),
                timestamp_writes: None,
            });
            pass.set_pipeline(&self.pipeline);
            pass.set_bind_group(0, &bind_group, &[]);
            pass.dispatch_workgroups(w.div_ceil(WORKGROUP), h.div_ceil(WORKGROUP), 1);
        }
        queue.submit([encoder.finish()]);
        Ok(&out.texture)
    }

    /// The last render's output, for drawing (e.g. in a paint callback).
    pub fn output_view(&self) -> Option<&wgpu::TextureView> {
        self.out.as_ref().map(|o| &o.view)
    }

    /// The clean frame as uploaded, for views that show it next to the poisoned one.
    pub fn clean_view(&self) -> Option<&wgpu::TextureView> {
        self.clean.as_ref().map(|c| &c.view)
    }

    pub fn uploads(&self) -> Uploads {
        self.uploads
    }

    /// Waits for the last render and copies its output back as an RGB frame (tests, benchmarks).
    pub fn read_back(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
    ) -> Result<Frame, PreviewError> {
        let out = self.out.as_ref().ok_or(PreviewError::NothingRendered)?;
        let (w, h) = out.size;
        let row = (w * 4).next_multiple_of(wgpu::COPY_BYTES_PER_ROW_ALIGNMENT);
        let buffer = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("trigger preview read-back"),
            size: u64::from(row) * u64::from(h),
            usage: wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::MAP_READ,
            mapped_at_creation: false,
        });
        let mut encoder = device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("trigger preview read-back"),
        });
        encoder.copy_texture_to_buffer(
            wgpu::TexelCopyTextureInfo {
                texture: &out.texture,
                mip_level: 0,
                origin: wgpu::Origin3d::ZERO,
                aspect: wgpu::TextureAspect::All,
            },
            wgpu::TexelCopyBufferInfo {
                buffer: &buffer,
                layout: wgpu::TexelCopyBufferLayout {
                    offset: 0,
                    bytes_per_row: Some(row),
                    rows_per_image: Some(h),
                },
            },
            extent(w, h),
        );
        queue.submit([encoder.finish()]);
        let (tx, rx) = std::sync::mpsc::channel();
        buffer.map_async(wgpu::MapMode::Read, .., move |r| {
            // The receiver waits below; if it is gone there is no one to tell.
            let _ = tx.send(r);
        });
        device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| PreviewError::ReadBack(e.to_string()))?;
        rx.recv()
            .map_err(|e| PreviewError::ReadBack(e.to_string()))?
            .map_err(|e| PreviewError::ReadBack(e.to_string()))?;
        let mut rgb = Vec::with_capacity(w as usize * h as usize * 3);
        {
            let data = buffer
                .get_mapped_range(..)
                .map_err(|e| PreviewError::ReadBack(e.to_string()))?;
            for line in data.chunks_exact(row as usize) {
                for p in line[..w as usize * 4].chunks_exact(4) {
                    rgb.extend_from_slice(&p[..3]);
                }
            }
        }
        buffer.unmap();
        Frame::new(w, h, rgb).map_err(|e| PreviewError::ReadBack(e.to_string()))
    }

    fn upload_clean(&mut self, device: &wgpu::Device, queue: &wgpu::Queue, frame: &Frame) {
        if let Some(c) = &self.clean
            && std::ptr::eq(c.frame.rgb(), frame.rgb())
        {
            return;
        }
        let (w, h) = (frame.width(), frame.height());
        let texture = match self.clean.take() {
            Some(c) if (c.frame.width(), c.frame.height()) == (w, h) => c.texture,
            _ => device.create_texture(&wgpu::TextureDescriptor {
                label: Some("trigger preview clean"),
                size: extent(w, h),
                mip_level_count: 1,
                sample_count: 1,
                dimension: wgpu::TextureDimension::D2,
                format: wgpu::TextureFormat::Rgba8Unorm,
                usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
                view_formats: &[],
            }),
        };
        queue.write_texture(
            wgpu::TexelCopyTextureInfo {
                texture: &texture,
                mip_level: 0,
                origin: wgpu::Origin3d::ZERO,
                aspect: wgpu::TextureAspect::All,
            },
            &frame.to_rgba(),
            wgpu::TexelCopyBufferLayout {
                offset: 0,
                bytes_per_row: Some(4 * w),
                rows_per_image: Some(h),
            },
            extent(w, h),
        );
        let view = texture.create_view(&wgpu::TextureViewDescriptor::default());
        self.clean = Some(CleanTexture {
            frame: frame.clone(),
            texture,
            view,
        });
        self.uploads.frames += 1;
    }

    fn upload_table(
        &mut self,
        device: &wgpu::Device,
        program: &GpuProgram,
    ) -> Result<(), PreviewError> {
        if let Some((_, last)) = &self.table
            && same_table(last, program)
        {
            // Same table; keep the newest program (its scalars) with it.
            if let Some((_, p)) = &mut self.table {
                *p = program.clone();
            }
            return Ok(());
        }
        let words = pack_table(program);
        let bytes = words.len() as u64 * 4;
        let limits = device.limits();
        let limit = limits
            .max_storage_buffer_binding_size
            .min(limits.max_buffer_size);
        if bytes > limit {
            return Err(PreviewError::TooLarge {
                program: program.name(),
                bytes,
                limit,
            });
        }
        let contents: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        let buffer = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("trigger preview table"),
            contents: &contents,
            usage: wgpu::BufferUsages::STORAGE,
        });
        self.table = Some((buffer, program.clone()));
        self.uploads.tables += 1;
        Ok(())
    }
}

fn extent(width: u32, height: u32) -> wgpu::Extent3d {
    wgpu::Extent3d {
        width,
        height,
        depth_or_array_layers: 1,
    }
}

/// A device without a window, for tests and benchmarks: the first adapter wgpu finds (on a
/// machine without a GPU, Mesa's llvmpipe through Vulkan). `WGPU_BACKEND` and
/// `WGPU_ADAPTER_NAME` choose as usual. `None` when there is no adapter.
pub fn headless_device() -> Option<(wgpu::Device, wgpu::Queue, wgpu::AdapterInfo)> {
    let instance =
        wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
    let adapter =
        block_on(instance.request_adapter(&wgpu::RequestAdapterOptions::default())).ok()?;
    let (device, queue) = block_on(adapter.request_device(&wgpu::DeviceDescriptor {
        label: Some("triggerlab headless"),
        // The adapter's own limits, so large frames' tables fit where the hardware allows.
        required_limits: adapter.limits(),
        ..Default::default()
    }))
    .ok()?;
    Some((device, queue, adapter.get_info()))
}

/// Drives a future to completion on this thread. wgpu's native futures resolve at once or after
/// a device poll, so a spin with a no-op waker is enough and needs no executor crate.
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(v) = future.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::yield_now();
    }
}
