//! GPU preview: wgpu pipelines drawn inside egui through paint callbacks. Uniforms mirror `core`
//! specs; the WGSL lives in `shaders/` and is checked against the CPU result in `core`, which
//! stays the single source of truth.
//!
//! Belongs here: pipelines, textures and `egui_wgpu::CallbackTrait` impls. Depends only on `core`.

pub mod preview;
pub mod preview_callback;

/// One line about the adapter eframe rendered with, e.g. "llvmpipe (LLVM 15.0.6, 256 bits) · Vulkan · Cpu".
pub fn adapter_summary(info: &wgpu::AdapterInfo) -> String {
    format!(
        "{} · {:?} · {:?}",
        info.name, info.backend, info.device_type
    )
}
