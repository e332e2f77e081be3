//! Triggers held to independent, straightforward (slow, obviously correct) implementations of
//! the published formulas, written here from scratch in f64. A result may differ by one grey
//! level only where the exact value sits within 1e-3 of a rounding tie (x.5), where f32 and f64
//! may legitimately round differently.

use triggerlab::core::assets::NoAssets;
use triggerlab::core::attack::{AttackSpec, apply_clip, parse_json};
use triggerlab::core::{Clip, Frame, Rational};

/// Round half to even, clip to 0..=255 (NumPy's rint + clip).
fn rint_clip(v: f64) -> u8 {
    v.round_ties_even().clamp(0.0, 255.0) as u8
}

/// Compares with the reference: exact, or off by one right at a tie.
fn assert_close(got: &[u8], exact: &[f64], what: &str) {
    assert_eq!(got.len(), exact.len());
    let mut ties = 0;
    for (i, (&g, &e)) in got.iter().zip(exact).enumerate() {
        let want = rint_clip(e);
        if g != want {
            let near_tie = (e - e.floor() - 0.5).abs() < 1e-3;
            assert!(
                near_tie && g.abs_diff(want) == 1,
                "{what}: byte {i}: got {g}, reference {e} → {want}"
            );
            ties += 1;
        }
    }
    assert!(
        ties * 1000 <= got.len().max(1000),
        "{what}: {ties} tie differences"
    );
}

fn noise_frame(w: usize, h: usize, seed: u64) -> Vec<u8> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..w * h * 3)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (s >> 56) as u8
        })
        .collect()
}

fn clip_of(frames: Vec<Vec<u8>>, w: usize, h: usize) -> Clip {
    let f = frames
        .into_iter()
        .map(|px| Frame::new(w as u32, h as u32, px).expect("sized"))
        .collect();
    Clip::new(f, Rational::from_int(8), None).expect("clip")
}

fn apply_one(spec: &AttackSpec, px: &[u8], w: usize, h: usize) -> Vec<u8> {
    let clip = clip_of(vec![px.to_vec()], w, h);
    apply_clip(spec, &clip, &NoAssets)
        .expect("applies")
        .clip
        .frames()[0]
        .rgb()
        .to_vec()
}

// ---------- WaNet ----------

/// Keys's cubic convolution kernel W(x), a = −0.75, as a function of distance.
fn keys(x: f64) -> f64 {
    let a = -0.75;
    let x = x.abs();
    if x <= 1.0 {
        (a + 2.0) * x.powi(3) - (a + 3.0) * x.powi(2) + 1.0
    } else if x < 2.0 {
        a * x.powi(3) - 5.0 * a * x.powi(2) + 8.0 * a * x - 4.0 * a
    } else {
        0.0
    }
}

/// 1-D bicubic resample of `src` to `n` samples, align_corners = true, border taps clamped.
fn bicubic_1d(src: &[f64], n: usize) -> Vec<f64> {
    let k = src.len();
    (0..n)
        .map(|o| {
            let pos = if n > 1 {
                o as f64 * (k - 1) as f64 / (n - 1) as f64
            } else {
                0.0
            };
            let base = pos.floor() as i64;
            (base - 1..=base + 2)
                .map(|i| keys(pos - i as f64) * src[i.clamp(0, k as i64 - 1) as usize])
                .sum()
        })
        .collect()
}

/// Separable 2-D bicubic: rows first, then columns.
fn bicubic_2d(grid: &[Vec<f64>], h: usize, w: usize) -> Vec<Vec<f64>> {
    let rows: Vec<Vec<f64>> = grid.iter().map(|r| bicubic_1d(r, w)).collect();
    let mut out = vec![vec![0.0; w]; h];
    for j in 0..w {
        let col: Vec<f64> = rows.iter().map(|r| r[j]).collect();
        for (i, v) in bicubic_1d(&col, h).into_iter().enumerate() {
            out[i][j] = v;
        }
    }
    out
}

fn wanet_reference(
    px: &[u8],
    w: usize,
    h: usize,
    ctrl: &[Vec<Vec<f64>>],
    s: f64,
    rescale: f64,
) -> Vec<f64> {
    let nx = bicubic_2d(&ctrl[0], h, w);
    let ny = bicubic_2d(&ctrl[1], h, w);
    let lin = |i: usize, n: usize| -1.0 + 2.0 * i as f64 / (n - 1) as f64;
    let mut out = vec![0.0; w * h * 3];
    for i in 0..h {
        for j in 0..w {
            let gx = ((lin(j, w) + s * nx[i][j] / h as f64) * rescale).clamp(-1.0, 1.0);
            let gy = ((lin(i, h) + s * ny[i][j] / h as f64) * rescale).clamp(-1.0, 1.0);
            // grid_sample, bilinear, align_corners = true, zeros outside.
            let x = (gx + 1.0) / 2.0 * (w - 1) as f64;
            let y = (gy + 1.0) / 2.0 * (h - 1) as f64;
            let (x0, y0) = (x.floor(), y.floor());
            for c in 0..3 {
                let mut v = 0.0;
                for (xx, yy) in [
                    (x0, y0),
                    (x0 + 1.0, y0),
                    (x0, y0 + 1.0),
                    (x0 + 1.0, y0 + 1.0),
                ] {
                    let wgt = (1.0 - (x - xx).abs()) * (1.0 - (y - yy).abs());
                    if xx >= 0.0 && yy >= 0.0 && (xx as usize) < w && (yy as usize) < h {
                        v += wgt * f64::from(px[(yy as usize * w + xx as usize) * 3 + c]);
                    }
                }
                out[(i * w + j) * 3 + c] = v;
            }
        }
    }
    out
}

#[test]
fn wanet_matches_the_straightforward_implementation() {
    for (w, h, k, s, rescale) in [
        (32, 32, 4, 0.5, 1.0),
        (37, 23, 4, 1.0, 1.0),
        (24, 40, 5, 2.0, 1.02),
    ] {
        // A strong, fixed control grid, so the warp moves pixels by several positions.
        let ctrl: Vec<Vec<Vec<f64>>> = (0..2)
            .map(|c| {
                (0..k)
                    .map(|i| {
                        (0..k)
                            .map(|j| ((i * 7 + j * 3 + c * 5) % 11) as f64 / 2.5 - 2.0)
                            .collect()
                    })
                    .collect()
            })
            .collect();
        let spec = parse_json(
            &serde_json::json!({"kind": "wanet", "k": k, "s": s, "grid_rescale": rescale, "control_grid": ctrl})
                .to_string(),
        )
        .expect("spec");
        let px = noise_frame(w, h, 1);
        let got = apply_one(&spec, &px, w, h);
        assert_close(
            &got,
            &wanet_reference(&px, w, h, &ctrl, s, rescale),
            &format!("wanet {w}x{h}"),
        );
        assert_ne!(got, px, "the warp moved something");
    }
}

// ---------- FTrojan ----------

fn dct_1d(x: &[f64]) -> Vec<f64> {
    let n = x.len() as f64;
    (0..x.len())
        .map(|k| {
            let c = if k == 0 {
                (1.0 / n).sqrt()
            } else {
                (2.0 / n).sqrt()
            };
            c * x
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    v * (std::f64::consts::PI * (2.0 * i as f64 + 1.0) * k as f64 / (2.0 * n)).cos()
                })
                .sum::<f64>()
        })
        .collect()
}

fn idct_1d(c: &[f64]) -> Vec<f64> {
    let n = c.len() as f64;
    (0..c.len())
        .map(|i| {
            c.iter()
                .enumerate()
                .map(|(k, v)| {
                    let ck = if k == 0 {
                        (1.0 / n).sqrt()
                    } else {
                        (2.0 / n).sqrt()
                    };
                    ck * v
                        * (std::f64::consts::PI * (2.0 * i as f64 + 1.0) * k as f64 / (2.0 * n))
                            .cos()
                })
                .sum()
        })
        .collect()
}

/// 2-D transform of an n×n block by rows then columns.
fn block_2d(b: &[f64], n: usize, f: fn(&[f64]) -> Vec<f64>) -> Vec<f64> {
    let mut rows = vec![0.0; n * n];
    for r in 0..n {
        rows[r * n..(r + 1) * n].copy_from_slice(&f(&b[r * n..(r + 1) * n]));
    }
    let mut out = vec![0.0; n * n];
    for c in 0..n {
        let col: Vec<f64> = (0..n).map(|r| rows[r * n + c]).collect();
        for (r, v) in f(&col).into_iter().enumerate() {
            out[r * n + c] = v;
        }
    }
    out
}

fn ftrojan_reference(
    px: &[u8],
    w: usize,
    h: usize,
    n: usize,
    mag: f64,
    pos: &[[usize; 2]],
    chans: &[usize],
) -> Vec<f64> {
    let mut ycc: Vec<[f64; 3]> = px
        .chunks(3)
        .map(|p| {
            let (r, g, b) = (f64::from(p[0]), f64::from(p[1]), f64::from(p[2]));
            let y = 0.299 * r + 0.587 * g + 0.114 * b;
            [y, 0.713 * (r - y) + 128.0, 0.564 * (b - y) + 128.0]
        })
        .collect();
    for by in 0..h / n {
        for bx in 0..w / n {
            for &c in chans {
                let mut blk: Vec<f64> = (0..n * n)
                    .map(|p| ycc[(by * n + p / n) * w + bx * n + p % n][c])
                    .collect();
                blk = block_2d(&blk, n, dct_1d);
                for &[r, col] in pos {
                    blk[r * n + col] += mag;
                }
                blk = block_2d(&blk, n, idct_1d);
                for p in 0..n * n {
                    ycc[(by * n + p / n) * w + bx * n + p % n][c] = blk[p];
                }
            }
        }
    }
    let mut out = Vec::with_capacity(px.len());
    for (i, [y, cr, cb]) in ycc.iter().enumerate() {
        let (x, yy) = (i % w, i / w);
        if x >= w / n * n || yy >= h / n * n {
            out.extend(px[i * 3..i * 3 + 3].iter().map(|&v| f64::from(v))); // remainder untouched
        } else {
            out.extend([
                y + 1.403 * (cr - 128.0),
                y - 0.714 * (cr - 128.0) - 0.344 * (cb - 128.0),
                y + 1.773 * (cb - 128.0),
            ]);
        }
    }
    out
}

#[test]
fn ftrojan_matches_dct_add_inverse() {
    let cases = [
        (64, 64, 32, 30.0, vec![[15, 15], [31, 31]], vec!["cr", "cb"]),
        (40, 36, 16, 50.0, vec![[3, 9], [15, 15]], vec!["y"]),
        (33, 17, 8, -20.0, vec![[1, 1]], vec!["y", "cr", "cb"]),
    ];
    for (w, h, n, mag, pos, chans) in cases {
        let spec = parse_json(
            &serde_json::json!({"kind": "ftrojan", "window": n, "magnitude": mag, "positions": pos, "channels": chans})
                .to_string(),
        )
        .expect("spec");
        let idx: Vec<usize> = chans
            .iter()
            .map(|c| match *c {
                "y" => 0,
                "cr" => 1,
                _ => 2,
            })
            .collect();
        let px = noise_frame(w, h, 2);
        let got = apply_one(&spec, &px, w, h);
        assert_close(
            &got,
            &ftrojan_reference(&px, w, h, n, mag, &pos, &idx),
            &format!("ftrojan {w}x{h}/{n}"),
        );
    }
}

// ---------- TDBA ----------

#[test]
fn tdba_matches_a_literal_3d_dct() {
    let (t, w, h) = (6, 10, 8);
    let (pert, temporal, spatial) = (900.0, [-1i64, 2], [[1i64, 2], [-1, 0]]);
    let spec = parse_json(
        &serde_json::json!({"kind": "tdba", "pert": pert, "temporal": temporal, "spatial": spatial, "channels": ["r", "b"]})
            .to_string(),
    )
    .expect("spec");
    let frames: Vec<Vec<u8>> = (0..t).map(|k| noise_frame(w, h, 10 + k as u64)).collect();
    let out = apply_clip(&spec, &clip_of(frames.clone(), w, h), &NoAssets).expect("applies");
    let resolve = |i: i64, n: usize| {
        if i < 0 {
            (n as i64 + i) as usize
        } else {
            i as usize
        }
    };
    for c in [0usize, 1, 2] {
        // The channel as a T×H×W volume, transformed along each axis in turn.
        let mut vol: Vec<f64> = (0..t * h * w)
            .map(|p| f64::from(frames[p / (h * w)][(p % (h * w)) * 3 + c]))
            .collect();
        let along = |vol: &mut Vec<f64>, axis: usize, f: fn(&[f64]) -> Vec<f64>| {
            let dims = [t, h, w];
            let stride = [h * w, w, 1];
            for start in 0..t * h * w {
                let coord = [start / (h * w), start / w % h, start % w];
                if coord[axis] != 0 {
                    continue;
                }
                let line: Vec<f64> = (0..dims[axis])
                    .map(|k| vol[start + k * stride[axis]])
                    .collect();
                for (k, v) in f(&line).into_iter().enumerate() {
                    vol[start + k * stride[axis]] = v;
                }
            }
        };
        for axis in 0..3 {
            along(&mut vol, axis, dct_1d);
        }
        if c != 1 {
            for &kt in &temporal {
                for &[u, v] in &spatial {
                    vol[resolve(kt, t) * h * w + resolve(u, h) * w + resolve(v, w)] += pert;
                }
            }
        }
        for axis in 0..3 {
            along(&mut vol, axis, idct_1d);
        }
        let got: Vec<u8> = (0..t * h * w)
            .map(|p| out.clip.frames()[p / (h * w)].rgb()[(p % (h * w)) * 3 + c])
            .collect();
        assert_close(&got, &vol, &format!("tdba channel {c}"));
        if c == 1 {
            let clean: Vec<u8> = (0..t * h * w)
                .map(|p| frames[p / (h * w)][(p % (h * w)) * 3 + 1])
                .collect();
            assert_eq!(got, clean, "green was not chosen and is untouched");
        }
    }
}

// ---------- Blend, SIG on random data ----------

#[test]
fn blend_and_sig_match_f64_formulas() {
    let (w, h) = (29, 13);
    let px = noise_frame(w, h, 5);
    for alpha in [0.0, 0.2, 0.37, 0.5, 1.0] {
        // An image pattern: a 1×1 colour, resized to the frame, is that colour everywhere.
        let spec = parse_json(&serde_json::json!({"kind": "blend", "alpha": alpha, "pattern": {"noise": {"seed": 9}}}).to_string())
            .expect("spec");
        let got = apply_one(&spec, &px, w, h);
        // Recover the noise pattern from α = 1, then check the formula at α.
        let t = apply_one(
            &parse_json(r#"{"kind":"blend","alpha":1.0,"pattern":{"noise":{"seed":9}}}"#)
                .expect("spec"),
            &px,
            w,
            h,
        );
        let exact: Vec<f64> = px
            .iter()
            .zip(&t)
            .map(|(&x, &t)| (1.0 - alpha) * f64::from(x) + alpha * f64::from(t))
            .collect();
        assert_close(&got, &exact, &format!("blend α={alpha}"));
    }
    for (delta, freq) in [(40.0, 6.0), (255.0, 1.5), (3.0, 14.0)] {
        let spec = parse_json(
            &serde_json::json!({"kind": "sig", "delta": delta, "freq": freq}).to_string(),
        )
        .expect("spec");
        let got = apply_one(&spec, &px, w, h);
        let exact: Vec<f64> = (0..px.len())
            .map(|i| {
                let j = (i / 3) % w;
                f64::from(px[i])
                    + delta * (2.0 * std::f64::consts::PI * j as f64 * freq / w as f64).sin()
            })
            .collect();
        assert_close(&got, &exact, &format!("sig δ={delta} f={freq}"));
    }
}
