//! The canvas pipeline: the current frame as a wgpu texture, drawn inside egui by a paint callback.

use crate::core::Frame;

const SHADER: &str = include_str!("../../shaders/canvas.wgsl");

struct FrameTexture {
    bind_group: wgpu::BindGroup,
    texture: wgpu::Texture,
    size: (u32, u32),
}

/// GPU state for the canvas, created once and kept in egui-wgpu's callback resources.
pub struct CanvasPipeline {
    pipeline: wgpu::RenderPipeline,
    layout: wgpu::BindGroupLayout,
    sampler: wgpu::Sampler,
    current: Option<FrameTexture>,
    uploaded_key: Option<u64>,
}

impl CanvasPipeline {
    pub fn new(device: &wgpu::Device, target_format: wgpu::TextureFormat) -> Self {
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("canvas.wgsl"),
            source: wgpu::ShaderSource::Wgsl(SHADER.into()),
        });
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("canvas"),
            entries: &[
                wgpu::BindGroupLayoutEntry {
                    binding: 0,
                    visibility: wgpu::ShaderStages::FRAGMENT,
                    ty: wgpu::BindingType::Texture {
                        sample_type: wgpu::TextureSampleType::Float { filterable: true },
                        view_dimension: wgpu::TextureViewDimension::D2,
                        multisampled: false,
                    },
                    count: None,
                },
                wgpu::BindGroupLayoutEntry {
                    binding: 1,
                    visibility: wgpu::ShaderStages::FRAGMENT,
                    ty: wgpu::BindingType::Sampler(wgpu::SamplerBindingType::Filtering),
                    count: None,
                },
            ],
        });
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("canvas"),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let constants = [(
            "SRGB_TARGET",
            if target_format.is_srgb() { 1.0 } else { 0.0 },
        )];
        let pipeline = device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
            label: Some("canvas"),
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
        let sampler = device.create_sampler(&wgpu::SamplerDescriptor {
            label: Some("canvas"),
            mag_filter: wgpu::FilterMode::Linear,
            min_filter: wgpu::FilterMode::Linear,
            ..Default::default()
        });
        CanvasPipeline {
            pipeline,
            layout,
            sampler,
            current: None,
            uploaded_key: None,
        }
    }

    /// Uploads `frame` unless the frame with the same `key` is already on the GPU.
    pub fn upload(&mut self, device: &wgpu::Device, queue: &wgpu::Queue, frame: &Frame, key: u64) {
        if self.uploaded_key == Some(key) {
            return;
        }
        let size = (frame.width(), frame.height());
        if self.current.as_ref().map(|c| c.size) != Some(size) {
            let texture = device.create_texture(&wgpu::TextureDescriptor {
                label: Some("canvas frame"),
                size: extent(size),
                mip_level_count: 1,
                sample_count: 1,
                dimension: wgpu::TextureDimension::D2,
                format: wgpu::TextureFormat::Rgba8Unorm,
                usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
                view_formats: &[],
            });
            let view = texture.create_view(&wgpu::TextureViewDescriptor::default());
            let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some("canvas frame"),
                layout: &self.layout,
                entries: &[
                    wgpu::BindGroupEntry {
                        binding: 0,
                        resource: wgpu::BindingResource::TextureView(&view),
                    },
                    wgpu::BindGroupEntry {
                        binding: 1,
                        resource: wgpu::BindingResource::Sampler(&self.sampler),
                    },
                ],
            });
            self.current = Some(FrameTexture {
                bind_group,
                texture,
                size,
            });
        }
        if let Some(cur) = &self.current {
            queue.write_texture(
                wgpu::TexelCopyTextureInfo {
                    texture: &cur.texture,
                    mip_level: 0,
                    origin: wgpu::Origin3d::ZERO,
                    aspect: wgpu::TextureAspect::All,
                },
                &frame.to_rgba(),
                wgpu::TexelCopyBufferLayout {
                    offset: 0,
                    bytes_per_row: Some(4 * size.0),
                    rows_per_image: Some(size.1),
                },
                extent(size),
            );
            self.uploaded_key = Some(key);
        }
    }

    /// Draws the uploaded frame over the render pass's current viewport.
    pub fn draw(&self, pass: &mut wgpu::RenderPass<'_>) {
        if let Some(cur) = &self.current {
            pass.set_pipeline(&self.pipeline);
            pass.set_bind_group(0, &cur.bind_group, &[]);
            pass.draw(0..3, 0..1);
        }
    }
}

fn extent((w, h): (u32, u32)) -> wgpu::Extent3d {
    wgpu::Extent3d {
        width: w,
        height: h,
        depth_or_array_layers: 1,
    }
}

/// One paint of the canvas: which frame to show. Cheap to build every UI frame (the pixels are
/// shared); the upload happens only when `key` changes.
pub struct CanvasCallback {
    pub frame: Frame,
    pub key: u64,
}

impl egui_wgpu::CallbackTrait for CanvasCallback {
    fn prepare(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        _screen: &egui_wgpu::ScreenDescriptor,
        _encoder: &mut wgpu::CommandEncoder,
        resources: &mut egui_wgpu::CallbackResources,
    ) -> Vec<wgpu::CommandBuffer> {
        if let Some(p) = resources.get_mut::<CanvasPipeline>() {
            p.upload(device, queue, &self.frame, self.key);
        }
        Vec::new()
    }

    fn paint(
        &self,
        _info: egui::PaintCallbackInfo,
        pass: &mut wgpu::RenderPass<'static>,
        resources: &egui_wgpu::CallbackResources,
    ) {
        if let Some(p) = resources.get::<CanvasPipeline>() {
            p.draw(pass);
        }
    }
}

/// Registers the pipeline with eframe's renderer; returns a one-line adapter summary.
pub fn install(render_state: &egui_wgpu::RenderState) -> String {
    let pipeline = CanvasPipeline::new(&render_state.device, render_state.target_format);
    render_state
        .renderer
        .write()
        .callback_resources
        .insert(pipeline);
    super::adapter_summary(&render_state.adapter.get_info())
}
