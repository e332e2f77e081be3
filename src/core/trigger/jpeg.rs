//! The lossy half of baseline JPEG (ITU-T T.81), 4:4:4: what an encode and a decode do to the
//! pixels, without the entropy coding in between, which is lossless and changes none of them.
//!
//! Per 8×8 block (edges replicated past the frame, as encoders pad), per channel:
//! 1. RGB → Y, Cb, Cr as 8-bit samples (JFIF; the integer form libjpeg and `jpeg-encoder` use);
//! 2. level shift −128 and the 2-D DCT `F = M·f·Mᵀ`, `M[u][x] = ½·C(u)·cos((2x + 1)uπ/16)`,
//!    `C(0) = 1/√2`, `C(u) = 1` otherwise;
//! 3. quantisation with the Annex K tables scaled by quality as IJG does
//!    (`s = 5000/q` below 50, else `200 − 2q`; `Q = clamp((T·s + 50)/100, 1, 255)`):
//!    `F' = round(F / Q)·Q`, rounding half away from zero;
//! 4. the inverse DCT `f' = Mᵀ·F'·M`, +128, rounded and clipped to 8 bits;
//! 5. Y, Cb, Cr → RGB (JFIF), rounded and clipped.
//!
//! Codecs differ from this and from each other only in how they approximate the transforms
//! (integer DCTs, fixed-point colour): against `jpeg-encoder` + zune-jpeg the tests measure the
//! same PSNR to the source and under a level apart on average. In f32 with adds and multiplies
//! kept apart (no fused multiply-add), so every machine gives the same bytes.
//!
//! Speed: the blocks of an 8-row strip are laid out so the transforms (Arai–Agui–Nakajima,
//! 29 adds and 5 multiplies per 8 samples) run as long vector loops across all of them; at
//! 1280×720 about 8 ms on one core of this machine, where the encode and decode it replaced
//! took 19 ms on two (`PREVIEW_ONLY=jpeg cargo bench --bench preview_latency --profile dev`).

use super::to_u8;

type Block = [[f32; 8]; 8];

/// Annex K.1, luminance, row-major (row = vertical frequency).
const LUMA: [u16; 64] = [
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113,
    92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
];

/// Annex K.2, chrominance.
const CHROMA: [u16; 64] = [
    17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99, 24, 26, 56, 99, 99, 99, 99, 99,
    47, 66, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
];

/// `cos(kπ/16)` for k = 0..=8, written out so no platform's libm enters the result.
const COS16: [f64; 9] = [
    1.0,
    0.980_785_280_403_230_4,
    0.923_879_532_511_286_7,
    0.831_469_612_302_545_2,
    std::f64::consts::FRAC_1_SQRT_2,
    0.555_570_233_019_602_2,
    0.382_683_432_365_089_8,
    0.195_090_322_016_128_25,
    0.0,
];

/// `cos(kπ/16)` for any k ≥ 0, from [`COS16`] by symmetry.
fn cos16(k: usize) -> f64 {
    let k = k % 32;
    let k = if k > 16 { 32 - k } else { k };
    if k > 8 { -COS16[16 - k] } else { COS16[k] }
}

/// An IJG-scaled quantisation table, as a block.
fn scaled(table: &[u16; 64], quality: u8) -> Block {
    let q = u32::from(quality.clamp(1, 100));
    let s = if q < 50 { 5000 / q } else { 200 - 2 * q };
    std::array::from_fn(|r| {
        std::array::from_fn(|c| ((u32::from(table[r * 8 + c]) * s + 50) / 100).clamp(1, 255) as f32)
    })
}

/// What one quality needs: per channel kind, the divisor that quantises a coefficient of the
/// scaled transform below and the multiplier that dequantises it for the inverse.
#[derive(Clone, Debug)]
pub struct Tables {
    luma: Quant,
    chroma: Quant,
}

#[derive(Clone, Debug)]
struct Quant {
    div: Block,
    mul: Block,
}

/// The AAN transform's per-frequency scale: 1, then `√2·cos(kπ/16)`.
fn aan(k: usize) -> f64 {
    if k == 0 {
        1.0
    } else {
        std::f64::consts::SQRT_2 * cos16(k)
    }
}

impl Quant {
    fn new(q: &Block) -> Quant {
        // The forward transform leaves `8·aan(v)·aan(u)·F(v, u)`; the inverse takes
        // `aan(v)·aan(u)·F(v, u) / 8` and gives pixels.
        let s = |v: usize, u: usize| aan(v) * aan(u);
        Quant {
            div: std::array::from_fn(|v| {
                std::array::from_fn(|u| (f64::from(q[v][u]) * s(v, u) * 8.0) as f32)
            }),
            mul: std::array::from_fn(|v| {
                std::array::from_fn(|u| (f64::from(q[v][u]) * s(v, u) / 8.0) as f32)
            }),
        }
    }
}

impl Tables {
    pub fn new(quality: u8) -> Tables {
        Tables {
            luma: Quant::new(&scaled(&LUMA, quality)),
            chroma: Quant::new(&scaled(&CHROMA, quality)),
        }
    }
}

// The 1-D transforms are the Arai–Agui–Nakajima factorisation (as in IJG's float DCT): 29 adds
// and 5 multiplies per 8 samples where a matrix product takes 120, the scale folded into the
// quantisation. Each takes 8 slices (one per sample position) and runs along them: one vector
// loop over all the blocks of a strip.

const R2: f32 = std::f32::consts::FRAC_1_SQRT_2;

#[inline(always)]
fn fdct8(i: [&[f32]; 8], o: [&mut [f32]; 8]) {
    let [o0, o1, o2, o3, o4, o5, o6, o7] = o;
    for k in 0..o0.len() {
        let d: [f32; 8] = std::array::from_fn(|j| i[j][k]);
        let (t0, t7) = (d[0] + d[7], d[0] - d[7]);
        let (t1, t6) = (d[1] + d[6], d[1] - d[6]);
        let (t2, t5) = (d[2] + d[5], d[2] - d[5]);
        let (t3, t4) = (d[3] + d[4], d[3] - d[4]);
        let (t10, t13) = (t0 + t3, t0 - t3);
        let (t11, t12) = (t1 + t2, t1 - t2);
        o0[k] = t10 + t11;
        o4[k] = t10 - t11;
        let z1 = (t12 + t13) * R2;
        o2[k] = t13 + z1;
        o6[k] = t13 - z1;
        let (t10, t11, t12) = (t4 + t5, t5 + t6, t6 + t7);
        let z5 = (t10 - t12) * 0.382_683_43;
        let z2 = 0.541_196_1 * t10 + z5;
        let z4 = 1.306_563 * t12 + z5;
        let z3 = t11 * R2;
        let (z11, z13) = (t7 + z3, t7 - z3);
        o5[k] = z13 + z2;
        o3[k] = z13 - z2;
        o1[k] = z11 + z4;
        o7[k] = z11 - z4;
    }
}

#[inline(always)]
fn idct8(i: [&[f32]; 8], o: [&mut [f32]; 8]) {
    let [o0, o1, o2, o3, o4, o5, o6, o7] = o;
    for k in 0..o0.len() {
        let d: [f32; 8] = std::array::from_fn(|j| i[j][k]);
        let (t10, t11) = (d[0] + d[4], d[0] - d[4]);
        let t13 = d[2] + d[6];
        let t12 = (d[2] - d[6]) * std::f32::consts::SQRT_2 - t13;
        let (e0, e3) = (t10 + t13, t10 - t13);
        let (e1, e2) = (t11 + t12, t11 - t12);
        let (z13, z10) = (d[5] + d[3], d[5] - d[3]);
        let (z11, z12) = (d[1] + d[7], d[1] - d[7]);
        let t7 = z11 + z13;
        let t11 = (z11 - z13) * std::f32::consts::SQRT_2;
        let z5 = (z10 + z12) * 1.847_759;
        let t10 = 1.082_392_2 * z12 - z5;
        let t12 = -2.613_126 * z10 + z5;
        let t6 = t12 - t7;
        let t5 = t11 - t6;
        let t4 = t10 + t5;
        o0[k] = e0 + t7;
        o7[k] = e0 - t7;
        o1[k] = e1 + t6;
        o6[k] = e1 - t6;
        o2[k] = e2 + t5;
        o5[k] = e2 - t5;
        o4[k] = e3 + t4;
        o3[k] = e3 - t4;
    }
}

// Its methods are inlined into [`round_trip`], so they get its AVX2 (and `round` an
// instruction rather than a libm call).
/// The blocks of one 8-row strip of one channel, laid out `[row][column][block]`: entry
/// `(r·8 + c)·nb + b` is row `r`, column `c` of block `b`. The transforms then run over all the
/// strip's blocks at once as long, contiguous loops, which compile to vector code at any
/// optimisation level (a per-block 8×8 form stays scalar below opt-level 3).
struct Strip {
    nb: usize,
    a: Vec<f32>,
    b: Vec<f32>,
}

impl Strip {
    fn new(nb: usize) -> Strip {
        Strip {
            nb,
            a: vec![0.0; 64 * nb],
            b: vec![0.0; 64 * nb],
        }
    }

    /// The 8 slices of column `c` (rows 0..8) of every block, of `a` and of `b`.
    #[inline(always)]
    fn column(&mut self, c: usize) -> ([&[f32]; 8], [&mut [f32]; 8]) {
        let nb = self.nb;
        let a: [&[f32]; 8] = std::array::from_fn(|y| &self.a[(y * 8 + c) * nb..][..nb]);
        let mut it = self.b.chunks_exact_mut(nb).skip(c).step_by(8);
        (a, std::array::from_fn(|_| it.next().expect("8 rows")))
    }

    /// The 8 slices of row `r` (columns 0..8) of every block, of `b` and of `a`.
    #[inline(always)]
    fn row(&mut self, r: usize) -> ([&[f32]; 8], [&mut [f32]; 8]) {
        let nb = self.nb;
        let b: [&[f32]; 8] = std::array::from_fn(|x| &self.b[(r * 8 + x) * nb..][..nb]);
        let mut it = self.a[r * 8 * nb..].chunks_exact_mut(nb);
        (b, std::array::from_fn(|_| it.next().expect("8 columns")))
    }

    /// A 1-D transform down every column (`a` → `b`), then along every row (`b` → `a`): the
    /// forward DCT, or with `INVERSE` the inverse one. (Not a closure argument: that kept the
    /// transforms out of line, without the caller's AVX2.)
    #[inline(always)]
    fn transform<const INVERSE: bool>(&mut self) {
        for c in 0..8 {
            let (i, o) = self.column(c);
            if INVERSE { idct8(i, o) } else { fdct8(i, o) }
        }
        for r in 0..8 {
            let (i, o) = self.row(r);
            if INVERSE { idct8(i, o) } else { fdct8(i, o) }
        }
    }

    /// Row `yy` of every block, from a row-major line (`8·nb` samples).
    #[inline(always)]
    fn put_line(&mut self, yy: usize, line: &[f32]) {
        let nb = self.nb;
        let mut it = self.a[yy * 8 * nb..].chunks_exact_mut(nb);
        let out: [&mut [f32]; 8] = std::array::from_fn(|_| it.next().expect("8 columns"));
        for (b, px) in line.chunks_exact(8).enumerate() {
            for c in 0..8 {
                out[c][b] = px[c];
            }
        }
    }

    /// Row `yy` of every block into a row-major line.
    #[inline(always)]
    fn get_line(&self, yy: usize, line: &mut [f32]) {
        let nb = self.nb;
        let src: [&[f32]; 8] = std::array::from_fn(|c| &self.a[(yy * 8 + c) * nb..][..nb]);
        for (b, px) in line.chunks_exact_mut(8).enumerate() {
            for c in 0..8 {
                px[c] = src[c][b];
            }
        }
    }

    /// DCT, quantise, dequantise, inverse DCT of every level-shifted block in `a`.
    #[inline(always)]
    fn requantise(&mut self, q: &Quant) {
        self.transform::<false>();
        let nb = self.nb;
        for v in 0..8 {
            for u in 0..8 {
                let (div, mul) = (q.div[v][u], q.mul[v][u]);
                for f in &mut self.a[(v * 8 + u) * nb..][..nb] {
                    *f = (*f / div).round() * mul;
                }
            }
        }
        self.transform::<true>();
    }
}

/// JFIF RGB → Y, Cb, Cr in 16-bit fixed point, rounded: libjpeg's and `jpeg-encoder`'s form.
#[inline(always)]
fn to_ycc(p: &[u8]) -> [f32; 3] {
    let (r, g, b) = (i32::from(p[0]), i32::from(p[1]), i32::from(p[2]));
    let y = (19595 * r + 38470 * g + 7471 * b + 0x7FFF) >> 16;
    let cb = (-11059 * r - 21709 * g + 32768 * b + (128 << 16) + 0x7FFF) >> 16;
    let cr = (32768 * r - 27439 * g - 5329 * b + (128 << 16) + 0x7FFF) >> 16;
    // Level shift for the DCT.
    [(y - 128) as f32, (cb - 128) as f32, (cr - 128) as f32]
}

super::simd_kernel! {
/// The lossy round trip of `rows` whole rows of a `w`-wide RGB frame, in place. Blocks are
/// 8×8 from the band's first row, so a band starting on a multiple of 8 rows gives the same
/// pixels as the whole frame.
pub fn round_trip(px: &mut [u8], w: usize, rows: usize, t: &Tables) {
    if w == 0 || rows == 0 {
        return;
    }
    let stride = w * 3;
    let nb = w.div_ceil(8);
    let mut planes = [Strip::new(nb), Strip::new(nb), Strip::new(nb)];
    // One row of each channel, row-major: the colour conversions run over it contiguously, and
    // only the copies to and from the strips stride (within rows that stay in L1).
    let mut line = [vec![0f32; nb * 8], vec![0f32; nb * 8], vec![0f32; nb * 8]];
    for y0 in (0..rows).step_by(8) {
        let sh = (rows - y0).min(8);
        for yy in 0..8 {
            // Past the frame's edge the last row and column repeat, as encoders pad.
            let row = &px[(y0 + yy.min(sh - 1)) * stride..][..stride];
            let [ly, lb, lr] = &mut line;
            for (((p, y), cb), cr) in row.chunks_exact(3).zip(ly.iter_mut()).zip(lb.iter_mut()).zip(lr.iter_mut()) {
                [*y, *cb, *cr] = to_ycc(p);
            }
            for l in &mut line {
                let last = l[w - 1];
                l[w..].fill(last);
            }
            for (plane, l) in planes.iter_mut().zip(&line) {
                plane.put_line(yy, l);
            }
        }
        planes[0].requantise(&t.luma);
        planes[1].requantise(&t.chroma);
        planes[2].requantise(&t.chroma);
        for yy in 0..sh {
            for (plane, l) in planes.iter().zip(&mut line) {
                plane.get_line(yy, l);
                // Decoded 8-bit samples.
                for v in l.iter_mut() {
                    *v = f32::from(to_u8(*v + 128.0));
                }
            }
            let row = &mut px[(y0 + yy) * stride..][..stride];
            let [ly, lb, lr] = &line;
            for (((out, &y), &cb), &cr) in row.chunks_exact_mut(3).zip(ly).zip(lb).zip(lr) {
                // JFIF's YCbCr → RGB.
                let (cb, cr) = (cb - 128.0, cr - 128.0);
                out[0] = to_u8(y + 1.402 * cr);
                out[1] = to_u8(y - 0.344_136 * cb - 0.714_136 * cr);
                out[2] = to_u8(y + 1.772 * cb);
            }
        }
    }
}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tables_scale_as_ijg() {
        // Quality 50 is the tables themselves; 100 is all ones; 1 clips at 255.
        assert_eq!(scaled(&LUMA, 50)[0][0], 16.0);
        assert_eq!(scaled(&CHROMA, 50)[7][7], 99.0);
        assert!(scaled(&LUMA, 100).iter().flatten().all(|&q| q == 1.0));
        assert_eq!(scaled(&LUMA, 1)[7][7], 255.0);
        assert_eq!(scaled(&LUMA, 10)[0][0], 80.0); // (16·500 + 50) / 100
    }

    /// The fast transforms against the definitions: on two blocks side by side (the strip
    /// layout), the forward one gives `8·aan(v)·aan(u)·F(v, u)` with `F` JPEG's 2-D DCT, and the
    /// inverse one takes `aan(v)·aan(u)·F / 8` back to the samples.
    #[test]
    fn the_fast_dct_is_the_dct() {
        let nb = 2;
        let sample =
            |b: usize, y: usize, x: usize| ((b * 64 + y * 8 + x) * 37 % 255) as f32 - 128.0;
        let mut strip = Strip::new(nb);
        for b in 0..nb {
            for y in 0..8 {
                for x in 0..8 {
                    strip.a[(y * 8 + x) * nb + b] = sample(b, y, x);
                }
            }
        }
        strip.transform::<false>();
        let pi = std::f64::consts::PI;
        let c = |k: usize| {
            if k == 0 {
                std::f64::consts::FRAC_1_SQRT_2
            } else {
                1.0
            }
        };
        for b in 0..nb {
            for v in 0..8 {
                for u in 0..8 {
                    let mut f = 0.0;
                    for y in 0..8 {
                        for x in 0..8 {
                            f += f64::from(sample(b, y, x))
                                * ((2 * x + 1) as f64 * u as f64 * pi / 16.0).cos()
                                * ((2 * y + 1) as f64 * v as f64 * pi / 16.0).cos();
                        }
                    }
                    let want = 0.25 * c(u) * c(v) * f;
                    let at = (v * 8 + u) * nb + b;
                    let got = f64::from(strip.a[at]) / (8.0 * aan(v) * aan(u));
                    assert!(
                        (got - want).abs() < 1e-3,
                        "block {b} ({v}, {u}): {got} vs {want}"
                    );
                    strip.a[at] = (want * aan(v) * aan(u) / 8.0) as f32;
                }
            }
        }
        strip.transform::<true>();
        for b in 0..nb {
            for y in 0..8 {
                for x in 0..8 {
                    let got = strip.a[(y * 8 + x) * nb + b];
                    assert!(
                        (got - sample(b, y, x)).abs() < 1e-3,
                        "block {b} ({y}, {x}): {got}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_flat_block_survives_and_a_dc_step_is_quantised() {
        // A flat grey stays (its DC is a multiple of every step it meets here).
        let mut px = vec![128u8; 8 * 8 * 3];
        round_trip(&mut px, 8, 8, &Tables::new(10));
        assert!(px.iter().all(|&v| v == 128));
        // Flat 200 at quality 10: DC = 8·72 = 576, step 80 → 560 → 128 + 70 = 198.
        let mut px = vec![200u8; 8 * 8 * 3];
        round_trip(&mut px, 8, 8, &Tables::new(10));
        assert!(px.iter().all(|&v| v == 198), "{:?}", &px[..3]);
    }
}
