// Preview view: draws the clean frame and the trigger preview (trigger.wgsl's output) into the
// canvas rect, as one of: clean, poisoned, difference (|poisoned − clean| × gain), side by side
// (clean left, poisoned right, each squeezed to half the width) or a wipe (clean left of
// `wipe_x`, poisoned right of it; the canvas draws the divider's handle with egui).

override SRGB_TARGET: bool = false;

const VIEW_CLEAN: u32 = 0u;
const VIEW_POISONED: u32 = 1u;
const VIEW_DIFFERENCE: u32 = 2u;
const VIEW_SIDE_BY_SIDE: u32 = 3u;
const VIEW_WIPE: u32 = 4u;

struct View {
    mode: u32,
    // Difference: the amplification of |poisoned − clean|.
    gain: f32,
    // Wipe: the divider's position in [0, 1] of the rect's width.
    wipe_x: f32,
    _pad: f32,
};

struct VsOut {
    @builtin(position) pos: vec4<f32>,
    @location(0) uv: vec2<f32>,
};

@vertex
fn vs_main(@builtin(vertex_index) i: u32) -> VsOut {
    let uv = vec2<f32>(f32((i << 1u) & 2u), f32(i & 2u));
    var out: VsOut;
    out.pos = vec4<f32>(uv.x * 2.0 - 1.0, 1.0 - uv.y * 2.0, 0.0, 1.0);
    out.uv = uv;
    return out;
}

@group(0) @binding(0) var clean_tex: texture_2d<f32>;
@group(0) @binding(1) var poisoned_tex: texture_2d<f32>;
@group(0) @binding(2) var smp: sampler;
@group(0) @binding(3) var<uniform> view: View;

fn srgb_to_linear(c: vec3<f32>) -> vec3<f32> {
    let lo = c / 12.92;
    let hi = pow((c + 0.055) / 1.055, vec3<f32>(2.4));
    return select(hi, lo, c <= vec3<f32>(0.04045));
}

@fragment
fn fs_main(in: VsOut) -> @location(0) vec4<f32> {
    let uv = in.uv;
    var c: vec3<f32>;
    switch view.mode {
        case VIEW_CLEAN: {
            c = textureSample(clean_tex, smp, uv).rgb;
        }
        case VIEW_DIFFERENCE: {
            let d = abs(textureSample(poisoned_tex, smp, uv).rgb - textureSample(clean_tex, smp, uv).rgb);
            c = min(d * view.gain, vec3<f32>(1.0));
        }
        case VIEW_SIDE_BY_SIDE: {
            // Sample both before branching: textureSample needs uniform control flow.
            let left = textureSample(clean_tex, smp, vec2<f32>(uv.x * 2.0, uv.y)).rgb;
            let right = textureSample(poisoned_tex, smp, vec2<f32>(uv.x * 2.0 - 1.0, uv.y)).rgb;
            c = select(right, left, uv.x < 0.5);
        }
        case VIEW_WIPE: {
            let left = textureSample(clean_tex, smp, uv).rgb;
            let right = textureSample(poisoned_tex, smp, uv).rgb;
            c = select(right, left, uv.x < view.wipe_x);
        }
        default: {
            c = textureSample(poisoned_tex, smp, uv).rgb;
        }
    }
    if SRGB_TARGET {
        return vec4<f32>(srgb_to_linear(c), 1.0);
    }
    return vec4<f32>(c, 1.0);
}
