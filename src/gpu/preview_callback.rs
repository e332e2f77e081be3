//! The trigger preview on the canvas: an `egui_wgpu` paint callback that renders one frame's
//! [`GpuProgram`] with [`GpuPreview`] and draws clean, poisoned, difference, side by side or a
//! wipe into the callback's rect (`shaders/preview_view.wgsl`).
//!
//! Wiring: call [`install`] once with eframe's render state, then each UI frame add
//! `egui_wgpu::Callback::new_paint_callback(rect, PreviewCallback { … })`. The callback is cheap
//! to build (the frame's pixels and the program's tables are shared); the compute pass runs only
//! when `key` changes, e.g. a hash of (clip, frame, design revision).

use super::preview::{GpuPreview, PreviewError};
use crate::core::Frame;
use crate::core::trigger::GpuProgram;

const SHADER: &str = include_str!("../../shaders/preview_view.wgsl");

/// What the canvas shows.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ViewMode {
    Clean,
    Poisoned,
    /// `|poisoned − clean| × gain`, per channel, clipped to white.
    Difference {
        gain: f32,
    },
    /// Clean on the left half, poisoned on the right.
    SideBySide,
    /// Clean left of `x` (0..1 of the rect's width), poisoned right of it.
    Wipe {
        x: f32,
    },
}

impl ViewMode {
    /// The uniform block: mode, gain, wipe x, padding.
    fn uniform(self) -> [u8; 16] {
        let (mode, gain, x) = match self {
            ViewMode::Clean => (0u32, 1.0, 0.0),
            ViewMode::Poisoned => (1, 1.0, 0.0),
            ViewMode::Difference { gain } => (2, gain, 0.0),
            ViewMode::SideBySide => (3, 1.0, 0.0),
            ViewMode::Wipe { x } => (4, 1.0, x.clamp(0.0, 1.0)),
        };
        let mut out = [0u8; 16];
        out[..4].copy_from_slice(&mode.to_le_bytes());
        out[4..8].copy_from_slice(&gain.to_le_bytes());
        out[8..12].copy_from_slice(&x.to_le_bytes());
        out
    }
}

/// The view pass: draws the preview's two textures into a render pass of `target_format`.
pub struct PreviewView {
    pipeline: wgpu::RenderPipeline,
    layout: wgpu::BindGroupLayout,
    sampler: wgpu::Sampler,
    uniform: wgpu::Buffer,
    bind_group: Option<wgpu::BindGroup>,
}

impl PreviewView {
    pub fn new(device: &wgpu::Device, target_format: wgpu::TextureFormat) -> Self {
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("preview_view.wgsl"),
            source: wgpu::ShaderSource::Wgsl(SHADER.into()),
        });
        let texture = |binding| wgpu::BindGroupLayoutEntry {
            binding,
            visibility: wgpu::ShaderStages::FRAGMENT,
            ty: wgpu::BindingType::Texture {
                sample_type: wgpu::TextureSampleType::Float { filterable: true },
                view_dimension: wgpu::TextureViewDimension::D2,
                multisampled: false,
            },
            count: None,
        };
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("preview view"),
            entries: &[
                texture(0),
                texture(1),
                wgpu::BindGroupLayoutEntry {
                    binding: 2,
                    visibility: wgpu::ShaderStages::FRAGMENT,
                    ty: wgpu::BindingType::Sampler(wgpu::SamplerBindingType::Filtering),
                    count: None,
                },
                wgpu::BindGroupLayoutEntry {
                    binding: 3,
                    visibility: wgpu::ShaderStages::FRAGMENT,
                    ty: wgpu::BindingType::Buffer {
                        ty: wgpu::BufferBindingType::Uniform,
                        has_dynamic_offset: false,
                        min_binding_size: None,
                    },
                    count: None,
                },
            ],
        });
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("preview view"),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let constants = [(
            "SRGB_TARGET",
            if target_format.is_srgb() { 1.0 } else { 0.0 },
        )];
        let pipeline = device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
            label: Some("preview view"),
            layout: Some(&pipeline_layout),
            vertex: wgpu::VertexState {
                module: &module,
                entry_point: Some("vs_main"),
                compilation_options: wgpu::PipelineCompilationOptions::default(),
                buffers: &[],
            },
            fragment: Some(wgpu::FragmentState {
                module: &module,
                entry_point: Some("fs_main"),
                compilation_options: wgpu::PipelineCompilationOptions {
                    constants: &constants,
                    ..Default::default()
                },
                targets: &[Some(wgpu::ColorTargetState {
                    format: target_format,
                    blend: None,
                    write_mask: wgpu::ColorWrites::ALL,
                })],
            }),
            primitive: wgpu::PrimitiveState::default(),
            depth_stencil: None,
            multisample: wgpu::MultisampleState::default(),
            multiview_mask: None,
            cache: None,
        });
        // Nearest when magnified, so zoomed-in pixels stay crisp (the pixel grid the canvas
        // draws lines up with them); linear when minified.
        let sampler = device.create_sampler(&wgpu::SamplerDescriptor {
            label: Some("preview view"),
            mag_filter: wgpu::FilterMode::Nearest,
            min_filter: wgpu::FilterMode::Linear,
            ..Default::default()
        });
        let uniform = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("preview view"),
            size: 16,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        PreviewView {
            pipeline,
            layout,
            sampler,
            uniform,
            bind_group: None,
        }
    }

    /// Points the view at `preview`'s current textures; call after each render.
    pub fn bind(&mut self, device: &wgpu::Device, preview: &GpuPreview) {
        let (Some(clean), Some(poisoned)) = (preview.clean_view(), preview.output_view()) else {
            self.bind_group = None;
            return;
        };
        self.bind_group = Some(device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("preview view"),
            layout: &self.layout,
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: wgpu::BindingResource::TextureView(clean),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: wgpu::BindingResource::TextureView(poisoned),
                },
                wgpu::BindGroupEntry {
                    binding: 2,
                    resource: wgpu::BindingResource::Sampler(&self.sampler),
                },
                wgpu::BindGroupEntry {
                    binding: 3,
                    resource: self.uniform.as_entire_binding(),
                },
            ],
        }));
    }

    /// Sets the view mode for the next draw.
    pub fn set_mode(&self, queue: &wgpu::Queue, mode: ViewMode) {
        queue.write_buffer(&self.uniform, 0, &mode.uniform());
    }

    /// Draws over the pass's current viewport; nothing until [`PreviewView::bind`] found both
    /// textures.
    pub fn draw(&self, pass: &mut wgpu::RenderPass<'_>) {
        if let Some(bg) = &self.bind_group {
            pass.set_pipeline(&self.pipeline);
            pass.set_bind_group(0, bg, &[]);
            pass.draw(0..3, 0..1);
        }
    }
}

/// What egui-wgpu keeps between frames: the compute preview, the view pass, and what was last
/// rendered.
pub struct PreviewResources {
    pub preview: GpuPreview,
    pub view: PreviewView,
    last_key: Option<u64>,
    /// The last render's key and error, for the app to read: the canvas then draws the CPU
    /// result for that key instead.
    pub last_error: Option<(u64, String)>,
}

/// One paint of the preview. `key` identifies (clip, frame, design revision): the compute pass
/// runs only when it changes; the mode can change every frame for free.
pub struct PreviewCallback {
    pub clean: Frame,
    pub program: GpuProgram,
    pub mode: ViewMode,
    pub key: u64,
}

impl PreviewResources {
    fn update(
        &mut self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        cb: &PreviewCallback,
    ) -> Result<(), PreviewError> {
        if self.last_key != Some(cb.key) {
            self.last_key = None;
            self.preview.render(device, queue, &cb.clean, &cb.program)?;
            self.view.bind(device, &self.preview);
            self.last_key = Some(cb.key);
        }
        Ok(())
    }
}

impl egui_wgpu::CallbackTrait for PreviewCallback {
    fn prepare(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        _screen: &egui_wgpu::ScreenDescriptor,
        _encoder: &mut wgpu::CommandEncoder,
        resources: &mut egui_wgpu::CallbackResources,
    ) -> Vec<wgpu::CommandBuffer> {
        if let Some(r) = resources.get_mut::<PreviewResources>() {
            r.last_error = r
                .update(device, queue, self)
                .err()
                .map(|e| (self.key, e.to_string()));
            r.view.set_mode(queue, self.mode);
        }
        Vec::new()
    }

    fn paint(
        &self,
        _info: egui::PaintCallbackInfo,
        pass: &mut wgpu::RenderPass<'static>,
        resources: &egui_wgpu::CallbackResources,
    ) {
        if let Some(r) = resources.get::<PreviewResources>()
            && r.last_error.is_none()
        {
            r.view.draw(pass);
        }
    }
}

/// Registers the preview's resources with eframe's renderer.
pub fn install(render_state: &egui_wgpu::RenderState) {
    let resources = PreviewResources {
        preview: GpuPreview::new(&render_state.device),
        view: PreviewView::new(&render_state.device, render_state.target_format),
        last_key: None,
        last_error: None,
    };
    render_state
        .renderer
        .write()
        .callback_resources
        .insert(resources);
}
