// Trigger preview: applies one frame's `core::trigger::GpuProgram` to the clean frame.
//
// A compute pass, one invocation per pixel: every program is a per-pixel formula over bytes with
// one rounding at the end, and WaNet gathers from arbitrary source pixels, which a compute shader
// reads with textureLoad as easily as its own pixel. The arithmetic follows the CPU kernels in
// src/core/trigger/ operation for operation, in f32, and rounds as `to_u8` does: clip to
// [0, 255], then round half to even (WGSL's round()). The result is written as k/255 to an
// Rgba8Unorm storage texture, which stores exactly the byte k.

struct Params {
    mode: u32,
    width: u32,
    height: u32,
    // Patch: 1 when every pixel is fully covered (a plain copy).
    opaque: u32,
    // Patch: x, y, w, h. Block affine: window, whole-block width, whole-block height, unused.
    rect: vec4<u32>,
    // Blend: α, 1 − α. Add scaled: weight.
    scalars: vec4<f32>,
    // Block affine: rows of the 3×3 matrix, offsets in .w.
    m0: vec4<f32>,
    m1: vec4<f32>,
    m2: vec4<f32>,
};

const MODE_IDENTITY: u32 = 0u;
const MODE_PATCH: u32 = 1u;
const MODE_BLEND: u32 = 2u;
const MODE_ADD_ROW: u32 = 3u;
const MODE_LUTS: u32 = 4u;
const MODE_WARP: u32 = 5u;
const MODE_BLOCK_AFFINE: u32 = 6u;
const MODE_ADD_SCALED: u32 = 7u;

@group(0) @binding(0) var clean: texture_2d<f32>;
@group(0) @binding(1) var out_tex: texture_storage_2d<rgba8unorm, write>;
@group(0) @binding(2) var<uniform> params: Params;
// The program's table, laid out per mode (see src/gpu/preview.rs, `pack_table`). Floats are
// stored as their bits.
@group(0) @binding(3) var<storage, read> table: array<u32>;

// A byte of the clean frame as an exact integer-valued float.
fn load_bytes(x: i32, y: i32) -> vec3<f32> {
    return round(textureLoad(clean, vec2<i32>(x, y), 0).rgb * 255.0);
}

// `core::trigger::to_u8`: clip, then round half to even.
fn to_u8(v: vec3<f32>) -> vec3<f32> {
    return round(clamp(v, vec3<f32>(0.0), vec3<f32>(255.0)));
}

fn f(i: u32) -> f32 {
    return bitcast<f32>(table[i]);
}

// Byte `i` of a byte table packed four to a word (little-endian).
fn byte_at(i: u32) -> f32 {
    return f32((table[i >> 2u] >> ((i & 3u) * 8u)) & 0xffu);
}

fn f3(i: u32) -> vec3<f32> {
    return vec3<f32>(f(i), f(i + 1u), f(i + 2u));
}

fn b3(i: u32) -> vec3<f32> {
    return vec3<f32>(byte_at(i), byte_at(i + 1u), byte_at(i + 2u));
}

@compute @workgroup_size(8, 8, 1)
fn cs_main(@builtin(global_invocation_id) id: vec3<u32>) {
    if id.x >= params.width || id.y >= params.height {
        return;
    }
    let x = id.x;
    let y = id.y;
    let p = y * params.width + x;
    let v = load_bytes(i32(x), i32(y));
    var o = v;
    switch params.mode {
        case MODE_PATCH: {
            // Table: the patch's RGB bytes, packed, then its coverages as f32 (from word
            // ceil(3·w·h / 4)).
            let r = params.rect;
            if x >= r.x && y >= r.y && x < r.x + r.z && y < r.y + r.w {
                let q = (y - r.y) * r.z + (x - r.x);
                let s = b3(q * 3u);
                if params.opaque == 1u {
                    o = s;
                } else {
                    let cover_base = (3u * r.z * r.w + 3u) / 4u;
                    let a = f(cover_base + q);
                    o = to_u8((1.0 - a) * v + a * s);
                }
            }
        }
        case MODE_BLEND: {
            // Table: the frame-sized RGB pattern, packed bytes.
            let t = b3(p * 3u);
            o = to_u8(v * params.scalars.y + t * params.scalars.x);
        }
        case MODE_ADD_ROW: {
            // Table: 3·width f32, one per byte of a row.
            o = to_u8(v + f3(x * 3u));
        }
        case MODE_LUTS: {
            // Table: 3 × 256 bytes, packed.
            let iv = vec3<u32>(v);
            o = vec3<f32>(byte_at(iv.x), byte_at(256u + iv.y), byte_at(512u + iv.z));
        }
        case MODE_WARP: {
            // Table: per pixel 4 source indices, then (from word 4·width·height) 4 f32 weights.
            let n = params.width * params.height;
            var acc = vec3<f32>(0.0);
            for (var k = 0u; k < 4u; k++) {
                let src = table[p * 4u + k];
                let wt = f(4u * n + p * 4u + k);
                let sx = i32(src % params.width);
                let sy = i32(src / params.width);
                acc += wt * load_bytes(sx, sy);
            }
            o = to_u8(acc);
        }
        case MODE_BLOCK_AFFINE: {
            // Table: window² RGB f32 deltas.
            let r = params.rect;
            if x < r.y && y < r.z {
                let d = f3(((y % r.x) * r.x + x % r.x) * 3u);
                let lin = vec3<f32>(
                    params.m0.x * v.x + params.m0.y * v.y + params.m0.z * v.z,
                    params.m1.x * v.x + params.m1.y * v.y + params.m1.z * v.z,
                    params.m2.x * v.x + params.m2.y * v.y + params.m2.z * v.z,
                );
                let offset = vec3<f32>(params.m0.w, params.m1.w, params.m2.w);
                o = to_u8(lin + offset + d);
            }
        }
        case MODE_ADD_SCALED: {
            // Table: 3·width·height f32.
            o = to_u8(v + f3(p * 3u) * params.scalars.x);
        }
        default: {}
    }
    textureStore(out_tex, vec2<i32>(i32(x), i32(y)), vec4<f32>(o / 255.0, 1.0));
}
