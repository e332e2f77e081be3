//! A prepared trigger on one frame as plain data, for the GPU preview (`gpu::preview`).
//!
//! Each program is what the CPU kernel computes for that frame, with the same tables (patch
//! pixels and coverage, blend pattern, SIG row table, gain lookup tables, WaNet's bilinear taps,
//! FTrojan's block map, TDBA's spatial pattern), so a shader only repeats the final per-pixel
//! arithmetic and rounding. The CPU result stays the single source of truth; a parity test holds
//! the shader to it.
//!
//! Large tables are shared (`Arc`): for a trigger whose tables do not change from frame to frame,
//! every frame's program points at the same allocation, so the GPU side uploads them once.

use super::{Kernel, Prepared};
use crate::core::placement::FrameCtx;
use crate::core::spec_error::SpecError;
use std::borrow::Cow;
use std::sync::{Arc, OnceLock};

/// One frame's trigger as data a shader can apply. Every byte value below is 0..=255 and every
/// result is rounded to nearest (ties to even) and clipped, as [`super::to_u8`] does.
#[derive(Clone)]
pub enum GpuProgram {
    /// The frame as it is (a frame the placement does not select).
    Identity,
    /// A patch pasted with its top-left corner at (`x`, `y`): `x' = (1 − a)·x + a·p`, where `a`
    /// is the coverage; an opaque patch is copied.
    Patch {
        x: u32,
        y: u32,
        w: u32,
        h: u32,
        /// `w × h × 3` bytes.
        rgb: Arc<[u8]>,
        /// `w × h` coverages in [0, 1].
        cover: Arc<[f32]>,
        opaque: bool,
    },
    /// `x' = x·(1 − α) + t·α` per byte, `t` frame-sized RGB.
    Blend { pattern: Arc<[u8]>, alpha: f32 },
    /// `x' = x + row[3·column + channel]` (SIG); the same row for every line.
    AddRow { row: Arc<[f32]> },
    /// `x' = lut[channel][x]` (flicker, colour cast).
    Luts { luts: Arc<[[u8; 256]; 3]> },
    /// `x'[p] = Σₖ weights[p][k] · x[indices[p][k]]` per channel, summed in order k = 0..4
    /// (WaNet's bilinear `grid_sample`; taps outside the frame have weight 0).
    Warp {
        indices: Arc<[[u32; 4]]>,
        weights: Arc<[[f32; 4]]>,
    },
    /// FTrojan: inside the whole `window`×`window` blocks,
    /// `x'_c = m[c][0]·r + m[c][1]·g + m[c][2]·b + offset[c] + delta[(y mod n)·n + x mod n][c]`
    /// (summed left to right); pixels outside whole blocks stay as they are.
    BlockAffine {
        window: u32,
        m: [[f32; 3]; 3],
        offset: [f32; 3],
        delta: Arc<[[f32; 3]]>,
    },
    /// `x' = x + pattern·weight` per byte (TDBA: one frame's temporal weight).
    AddScaled { pattern: Arc<[f32]>, weight: f32 },
}

impl GpuProgram {
    /// A short name for logs, benchmarks and test messages.
    pub fn name(&self) -> &'static str {
        match self {
            GpuProgram::Identity => "identity",
            GpuProgram::Patch { .. } => "patch",
            GpuProgram::Blend { .. } => "blend",
            GpuProgram::AddRow { .. } => "add_row",
            GpuProgram::Luts { .. } => "luts",
            GpuProgram::Warp { .. } => "warp",
            GpuProgram::BlockAffine { .. } => "block_affine",
            GpuProgram::AddScaled { .. } => "add_scaled",
        }
    }
}

impl std::fmt::Debug for GpuProgram {
    // The tables run to megabytes; their sizes are what a log needs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GpuProgram::Patch {
                x, y, w, h, opaque, ..
            } => write!(f, "Patch {{ {w}×{h} at ({x}, {y}), opaque: {opaque} }}"),
            GpuProgram::Blend { pattern, alpha } => {
                write!(f, "Blend {{ {} bytes, α = {alpha} }}", pattern.len())
            }
            GpuProgram::AddRow { row } => write!(f, "AddRow {{ {} entries }}", row.len()),
            GpuProgram::Warp { indices, .. } => write!(f, "Warp {{ {} pixels }}", indices.len()),
            GpuProgram::BlockAffine { window, .. } => {
                write!(f, "BlockAffine {{ window {window} }}")
            }
            GpuProgram::AddScaled { pattern, weight } => {
                write!(
                    f,
                    "AddScaled {{ {} bytes, weight {weight} }}",
                    pattern.len()
                )
            }
            other => f.write_str(other.name()),
        }
    }
}

/// The tables that do not change from frame to frame, built on first use and shared by every
/// frame's program.
#[derive(Clone, Debug, Default)]
pub(super) struct GpuCache {
    bytes: OnceLock<Arc<[u8]>>,
    floats: OnceLock<Arc<[f32]>>,
    #[allow(clippy::type_complexity)]
    taps: OnceLock<(Arc<[[u32; 4]]>, Arc<[[f32; 4]]>)>,
}

impl Prepared {
    /// This trigger on the frame at `ctx`, as a program for the GPU preview; `None` for the
    /// triggers that stay on the CPU: frame lag (it re-orders frames), motion blur and shake
    /// (many taps per pixel), JPEG (a codec). TDBA fails, as the CPU path does, when a temporal
    /// index does not fit `ctx.count` selected frames.
    ///
    /// The result is what [`Prepared::apply_frame`] (or, for TDBA, [`Prepared::apply_tdba`] with
    /// the frame's weight) does to the frame; call it only for frames the placement selects.
    pub fn gpu_program(&self, ctx: &FrameCtx) -> Result<Option<GpuProgram>, SpecError> {
        let program = match &self.kernel {
            Kernel::Badnets(p) => {
                let (x, y) = p.position_at(ctx);
                let patch = p.patch_at(ctx);
                GpuProgram::Patch {
                    x: x as u32,
                    y: y as u32,
                    w: patch.w as u32,
                    h: patch.h as u32,
                    rgb: patch.rgb.as_slice().into(),
                    cover: patch.cover.as_slice().into(),
                    opaque: patch.opaque,
                }
            }
            Kernel::Blend(p) => {
                let (pattern, alpha) = p.pattern_at(ctx);
                let pattern = match pattern {
                    // The prepared pattern: one copy shared by every frame.
                    Cow::Borrowed(t) => self.gpu.bytes.get_or_init(|| t.into()).clone(),
                    Cow::Owned(t) => t.into(),
                };
                GpuProgram::Blend { pattern, alpha }
            }
            Kernel::Sig(p) => {
                let mut scratch = Vec::new();
                GpuProgram::AddRow {
                    row: p.row_for(ctx, &mut scratch).into(),
                }
            }
            Kernel::Wanet(p) => {
                let table = || {
                    let taps = p.taps_at(ctx);
                    (taps.indices().into(), taps.weights().into())
                };
                // The prepared grid's table is built once, for the first frame the GPU draws.
                let (indices, weights) = if p.varies_per_frame() {
                    table()
                } else {
                    self.gpu.taps.get_or_init(table).clone()
                };
                GpuProgram::Warp { indices, weights }
            }
            Kernel::Ftrojan(p) => {
                let a = p.affine_at(ctx);
                GpuProgram::BlockAffine {
                    window: a.window as u32,
                    m: a.m,
                    offset: a.offset,
                    delta: a.delta.into(),
                }
            }
            Kernel::Tdba(t) => {
                let weights = t.profile(ctx.count)?;
                let weight = weights.get(ctx.ordinal).copied().ok_or_else(|| {
                    SpecError::new(
                        "temporal",
                        format!(
                            "frame {} of {} selected frames does not exist",
                            ctx.ordinal, ctx.count
                        ),
                    )
                })?;
                let pattern = self.gpu.floats.get_or_init(|| t.spatial().into()).clone();
                // The CPU multiplies by the weight as f32 (`apply_frame`).
                GpuProgram::AddScaled {
                    pattern,
                    weight: weight as f32,
                }
            }
            Kernel::Flicker(s) => {
                let g = s.gain(ctx.index);
                GpuProgram::Luts {
                    luts: Arc::new(super::natural::gain_luts([g, g, g])),
                }
            }
            Kernel::ColorCast(luts) => GpuProgram::Luts {
                luts: Arc::new(**luts),
            },
            Kernel::FrameLag(_) | Kernel::MotionBlur(_) | Kernel::Jpeg(_) | Kernel::Shake(..) => {
                return Ok(None);
            }
        };
        Ok(Some(program))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::assets::NoAssets;
    use crate::core::placement::{Mode, TemporalSpec};
    use crate::core::trigger::{Scratch, VisualTrigger, to_u8};

    /// The programs' documented arithmetic, on the CPU: holds the export to the kernels exactly,
    /// so a parity failure on the GPU can only be the shader's.
    fn interpret(p: &GpuProgram, px: &mut [u8], w: usize, h: usize) {
        let src = px.to_vec();
        match p {
            GpuProgram::Identity => {}
            GpuProgram::Patch {
                x,
                y,
                w: pw,
                h: ph,
                rgb,
                cover,
                opaque,
            } => {
                for py in 0..*ph as usize {
                    for qx in 0..*pw as usize {
                        let d = ((*y as usize + py) * w + *x as usize + qx) * 3;
                        let s = (py * *pw as usize + qx) * 3;
                        let a = cover[py * *pw as usize + qx];
                        for c in 0..3 {
                            px[d + c] = if *opaque {
                                rgb[s + c]
                            } else {
                                to_u8((1.0 - a) * f32::from(src[d + c]) + a * f32::from(rgb[s + c]))
                            };
                        }
                    }
                }
            }
            GpuProgram::Blend { pattern, alpha } => {
                for (v, &t) in px.iter_mut().zip(pattern.iter()) {
                    *v = to_u8(f32::from(*v) * (1.0 - alpha) + f32::from(t) * alpha);
                }
            }
            GpuProgram::AddRow { row } => {
                for line in px.chunks_exact_mut(w * 3) {
                    for (v, &s) in line.iter_mut().zip(row.iter()) {
                        *v = to_u8(f32::from(*v) + s);
                    }
                }
            }
            GpuProgram::Luts { luts } => {
                for (i, v) in px.iter_mut().enumerate() {
                    *v = luts[i % 3][*v as usize];
                }
            }
            GpuProgram::Warp { indices, weights } => {
                for (p, (ii, ww)) in indices.iter().zip(weights.iter()).enumerate() {
                    for c in 0..3 {
                        let mut v = 0f32;
                        for k in 0..4 {
                            v += ww[k] * f32::from(src[ii[k] as usize * 3 + c]);
                        }
                        px[p * 3 + c] = to_u8(v);
                    }
                }
            }
            GpuProgram::BlockAffine {
                window,
                m,
                offset,
                delta,
            } => {
                let n = *window as usize;
                for y in 0..h / n * n {
                    for x in 0..w / n * n {
                        let i = (y * w + x) * 3;
                        let d = delta[(y % n) * n + x % n];
                        let v = [src[i], src[i + 1], src[i + 2]].map(f32::from);
                        for c in 0..3 {
                            let o = m[c][0] * v[0] + m[c][1] * v[1] + m[c][2] * v[2];
                            px[i + c] = to_u8(o + offset[c] + d[c]);
                        }
                    }
                }
            }
            GpuProgram::AddScaled { pattern, weight } => {
                for (v, &s) in px.iter_mut().zip(pattern.iter()) {
                    *v = to_u8(f32::from(*v) + s * weight);
                }
            }
        }
    }

    fn frame(w: usize, h: usize) -> Vec<u8> {
        (0..w * h * 3).map(|i| (i * 7919 % 251) as u8).collect()
    }

    const CASES: [(&str, bool); 14] = [
        (
            r#"{"kind":"badnets","size":5,"anchor":"top_left","margin":2}"#,
            false,
        ),
        (
            r#"{"kind":"badnets","size":[7,4],"opacity":0.6,"checkerboard":{}}"#,
            false,
        ),
        (r#"{"kind":"badnets","size":6,"noise":{}}"#, true),
        (r#"{"kind":"blend","alpha":0.3}"#, false),
        (r#"{"kind":"blend","alpha":0.3}"#, true),
        (r#"{"kind":"sig","delta":30,"freq":3}"#, false),
        (r#"{"kind":"sig","delta":30,"freq":3}"#, true),
        (r#"{"kind":"wanet","k":4,"s":2.0}"#, false),
        (r#"{"kind":"wanet","k":3,"s":1.5,"noise_mode":true}"#, true),
        (r#"{"kind":"ftrojan","window":8,"magnitude":40}"#, false),
        (r#"{"kind":"ftrojan","window":8,"magnitude":40}"#, true),
        (r#"{"kind":"tdba","pert":3000}"#, false),
        (r#"{"kind":"flicker","amplitude":0.3}"#, false),
        (r#"{"kind":"color_cast","gains":[1.3,0.9,0.7]}"#, false),
    ];

    #[test]
    fn programs_reproduce_the_cpu_kernels_exactly() {
        let (w, h) = (29, 19);
        for (json, dynamic) in CASES {
            let t: VisualTrigger = serde_json::from_str(json).expect(json);
            let temporal = TemporalSpec {
                mode: if dynamic { Mode::Dynamic } else { Mode::Static },
                ..Default::default()
            };
            let p = t.prepare("v", w, h, &temporal, 7, &NoAssets).expect(json);
            let count = 4;
            let weights = p.tdba_profile(count).expect("profile");
            for ordinal in 0..count {
                let ctx = FrameCtx {
                    index: 2 * ordinal + 1,
                    ordinal,
                    count,
                };
                let mut cpu = frame(w, h);
                match &weights {
                    Some(wt) => p.apply_tdba(&mut cpu, wt[ordinal]),
                    None => p
                        .apply_frame(&mut cpu, &ctx, &mut Scratch::default())
                        .expect("applies"),
                }
                let program = p.gpu_program(&ctx).expect("program").expect(json);
                let mut via = frame(w, h);
                interpret(&program, &mut via, w, h);
                assert_ne!(cpu, frame(w, h), "{json} changes the frame");
                assert_eq!(
                    via, cpu,
                    "{json} dynamic={dynamic} frame {ordinal}: {program:?}"
                );
            }
        }
    }

    #[test]
    fn static_tables_are_shared_and_cpu_only_kinds_have_none() {
        let ctx = |i| FrameCtx {
            index: i,
            ordinal: i,
            count: 3,
        };
        for kind in ["blend", "wanet", "tdba"] {
            let t = VisualTrigger::default_of(kind).expect("defaults");
            let p = t
                .prepare("v", 40, 40, &TemporalSpec::default(), 1, &NoAssets)
                .expect("prepares");
            let (a, b) = (
                p.gpu_program(&ctx(0)).expect("ok").expect("gpu"),
                p.gpu_program(&ctx(2)).expect("ok").expect("gpu"),
            );
            let shared = match (&a, &b) {
                (GpuProgram::Blend { pattern: x, .. }, GpuProgram::Blend { pattern: y, .. }) => {
                    Arc::ptr_eq(x, y)
                }
                (GpuProgram::Warp { indices: x, .. }, GpuProgram::Warp { indices: y, .. }) => {
                    Arc::ptr_eq(x, y)
                }
                (
                    GpuProgram::AddScaled { pattern: x, .. },
                    GpuProgram::AddScaled { pattern: y, .. },
                ) => Arc::ptr_eq(x, y),
                _ => false,
            };
            assert!(shared, "{kind}: {a:?} / {b:?}");
        }
        for kind in ["frame_lag", "motion_blur", "jpeg", "shake"] {
            let t = VisualTrigger::default_of(kind).expect("defaults");
            let p = t
                .prepare("v", 40, 40, &TemporalSpec::default(), 1, &NoAssets)
                .expect("prepares");
            assert!(p.gpu_program(&ctx(0)).expect("ok").is_none(), "{kind}");
        }
    }
}
