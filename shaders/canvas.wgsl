// Canvas: draws the current RGB frame into the egui rect given by the paint callback's viewport.
// A single full-viewport triangle; the texture is sampled bilinearly.
// Trigger previews (issue 3) extend this: they apply the same spec as core/ to the clean frame.

// egui-wgpu renders to a non-sRGB target and expects gamma-space colours; if the target is sRGB,
// the hardware would encode again, so we decode first.
override SRGB_TARGET: bool = false;

struct VsOut {
    @builtin(position) pos: vec4<f32>,
    @location(0) uv: vec2<f32>,
};

@vertex
fn vs_main(@builtin(vertex_index) i: u32) -> VsOut {
    // (0,0), (2,0), (0,2) in uv: covers the viewport with one triangle.
    let uv = vec2<f32>(f32((i << 1u) & 2u), f32(i & 2u));
    var out: VsOut;
    out.pos = vec4<f32>(uv.x * 2.0 - 1.0, 1.0 - uv.y * 2.0, 0.0, 1.0);
    out.uv = uv;
    return out;
}

@group(0) @binding(0) var frame_tex: texture_2d<f32>;
@group(0) @binding(1) var frame_smp: sampler;

fn srgb_to_linear(c: vec3<f32>) -> vec3<f32> {
    let lo = c / 12.92;
    let hi = pow((c + 0.055) / 1.055, vec3<f32>(2.4));
    return select(hi, lo, c <= vec3<f32>(0.04045));
}

@fragment
fn fs_main(in: VsOut) -> @location(0) vec4<f32> {
    let c = textureSample(frame_tex, frame_smp, in.uv).rgb;
    if SRGB_TARGET {
        return vec4<f32>(srgb_to_linear(c), 1.0);
    }
    return vec4<f32>(c, 1.0);
}
