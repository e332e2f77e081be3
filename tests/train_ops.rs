//! The fused convolution and shift ops against naive loop implementations (forward) and
//! finite differences (backward).

use candle_core::{Device, Tensor, Var};
use triggerlab::train::ops::shift::temporal_shift;
use triggerlab::train::ops::spatial::spatial_conv;
use triggerlab::train::ops::temporal::temporal_conv;
use triggerlab::train::ops::trunk::{Layer, LayerKind, trunk};

fn rand(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_add(0x9e3779b97f4a7c15);
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s % 2001) as f32 / 1000.0 - 1.0
        })
        .collect()
}

fn naive_spatial(
    x: &[f32],
    [n, h, w, ci]: [usize; 4],
    wt: &[f32],
    co: usize,
    b: &[f32],
    st: usize,
) -> Vec<f32> {
    let (ho, wo) = ((h - 1) / st + 1, (w - 1) / st + 1);
    let mut y = vec![0f32; n * ho * wo * co];
    for img in 0..n {
        for oh in 0..ho {
            for ow in 0..wo {
                for o in 0..co {
                    let mut acc = b[o];
                    for kh in 0..3 {
                        for kw in 0..3 {
                            let (ih, iw) =
                                ((oh * st + kh) as isize - 1, (ow * st + kw) as isize - 1);
                            if ih < 0 || iw < 0 || ih >= h as isize || iw >= w as isize {
                                continue;
                            }
                            for c in 0..ci {
                                acc += x[((img * h + ih as usize) * w + iw as usize) * ci + c]
                                    * wt[((o * 3 + kh) * 3 + kw) * ci + c];
                            }
                        }
                    }
                    y[((img * ho + oh) * wo + ow) * co + o] = acc.max(0.0);
                }
            }
        }
    }
    y
}

fn naive_temporal(
    x: &[f32],
    [nb, t, s, ci]: [usize; 4],
    wt: &[f32],
    co: usize,
    b: &[f32],
    st: usize,
) -> Vec<f32> {
    let to_n = (t - 1) / st + 1;
    let mut y = vec![0f32; nb * to_n * s * co];
    for bi in 0..nb {
        for to in 0..to_n {
            for p in 0..s {
                for o in 0..co {
                    let mut acc = b[o];
                    for k in 0..3 {
                        let ti = (to * st + k) as isize - 1;
                        if ti < 0 || ti >= t as isize {
                            continue;
                        }
                        for c in 0..ci {
                            acc += x[((bi * t + ti as usize) * s + p) * ci + c]
                                * wt[(o * 3 + k) * ci + c];
                        }
                    }
                    y[((bi * to_n + to) * s + p) * co + o] = acc.max(0.0);
                }
            }
        }
    }
    y
}

fn close(a: &[f32], b: &[f32], tol: f32) {
    assert_eq!(a.len(), b.len());
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= tol * (1.0 + y.abs()),
            "element {i}: {x} vs {y}"
        );
    }
}

#[test]
fn spatial_conv_matches_the_naive_loop() {
    let dev = Device::Cpu;
    for (dims, co, st) in [
        ([2, 7, 9, 3], 5, 1),
        ([3, 11, 8, 4], 6, 2),
        ([1, 5, 5, 16], 8, 2),
        // Several tiles of whole images, the last one partial.
        ([40, 5, 5, 3], 4, 1),
        ([13, 9, 9, 4], 5, 2),
    ] {
        let [n, h, w, ci] = dims;
        let (xv, wv, bv) = (rand(n * h * w * ci, 1), rand(co * 9 * ci, 2), rand(co, 3));
        let x = Tensor::from_vec(xv.clone(), (n, h, w, ci), &dev).expect("x");
        let wt = Tensor::from_vec(wv.clone(), (co, 3, 3, ci), &dev).expect("w");
        let b = Tensor::from_vec(bv.clone(), co, &dev).expect("b");
        let y = spatial_conv(&x, &wt, &b, st, true).expect("fwd");
        let got: Vec<f32> = y.flatten_all().and_then(|t| t.to_vec1()).expect("vec");
        close(&got, &naive_spatial(&xv, dims, &wv, co, &bv, st), 1e-5);
    }
}

#[test]
fn temporal_conv_matches_the_naive_loop() {
    let dev = Device::Cpu;
    for (dims, co, st) in [
        ([2, 5, 6, 3], 4, 1),
        ([2, 8, 5, 4], 3, 2),
        ([1, 3, 2, 2], 2, 2),
    ] {
        let [nb, t, s, ci] = dims;
        let (xv, wv, bv) = (rand(nb * t * s * ci, 4), rand(co * 3 * ci, 5), rand(co, 6));
        let x = Tensor::from_vec(xv.clone(), (nb, t, s, ci), &dev).expect("x");
        let wt = Tensor::from_vec(wv.clone(), (co, 3, ci), &dev).expect("w");
        let b = Tensor::from_vec(bv.clone(), co, &dev).expect("b");
        let y = temporal_conv(&x, &wt, &b, st).expect("fwd");
        let got: Vec<f32> = y.flatten_all().and_then(|t| t.to_vec1()).expect("vec");
        close(&got, &naive_temporal(&xv, dims, &wv, co, &bv, st), 1e-5);
    }
}

#[test]
fn temporal_shift_moves_an_eighth_each_way() {
    let dev = Device::Cpu;
    // [1, 3, 1, 16]: value = 100·t + channel.
    let xv: Vec<f32> = (0..3)
        .flat_map(|t| (0..16).map(move |c| (100 * t + c) as f32))
        .collect();
    let x = Tensor::from_vec(xv, (1, 3, 1, 16), &dev).expect("x");
    let y: Vec<f32> = temporal_shift(&x)
        .and_then(|t| t.flatten_all())
        .and_then(|t| t.to_vec1())
        .expect("shift");
    let at = |t: usize, c: usize| y[t * 16 + c];
    assert_eq!(
        (at(0, 0), at(1, 0), at(2, 1)),
        (0.0, 0.0, 101.0),
        "channels 0-1 come from the frame before"
    );
    assert_eq!(
        (at(0, 2), at(1, 3), at(2, 2)),
        (102.0, 203.0, 0.0),
        "channels 2-3 come from the frame after"
    );
    assert_eq!(at(1, 9), 109.0, "the rest stay");
}

/// Central finite differences of `loss` with respect to a few coordinates of `v`.
fn check_grad(v: &Var, grad: &Tensor, loss: &dyn Fn() -> f32, what: &str) {
    let base: Vec<f32> = v.flatten_all().and_then(|t| t.to_vec1()).expect("v");
    let g: Vec<f32> = grad.flatten_all().and_then(|t| t.to_vec1()).expect("g");
    let eps = 1e-2f32;
    for idx in [0, base.len() / 3, base.len() / 2, base.len() - 1] {
        let mut p = base.clone();
        p[idx] += eps;
        v.set(&Tensor::from_vec(p.clone(), v.shape(), v.device()).expect("t"))
            .expect("set");
        let up = loss();
        p[idx] -= 2.0 * eps;
        v.set(&Tensor::from_vec(p, v.shape(), v.device()).expect("t"))
            .expect("set");
        let down = loss();
        v.set(&Tensor::from_vec(base.clone(), v.shape(), v.device()).expect("t"))
            .expect("set");
        let fd = (up - down) / (2.0 * eps);
        assert!(
            (fd - g[idx]).abs() <= 2e-2 * (1.0 + fd.abs()),
            "{what}[{idx}]: finite difference {fd}, backward {}",
            g[idx]
        );
    }
}

#[test]
fn spatial_and_temporal_gradients_match_finite_differences() {
    let dev = Device::Cpu;
    // A tiny two-layer net: spatial conv (stride 2) then temporal conv (stride 2), loss Σ y·r.
    let (nb, t, h, w, ci, c1, c2) = (2, 4, 5, 6, 3, 4, 3);
    let x = Var::from_vec(rand(nb * t * h * w * ci, 7), (nb * t, h, w, ci), &dev).expect("x");
    let w1 = Var::from_vec(rand(c1 * 9 * ci, 8), (c1, 3, 3, ci), &dev).expect("w1");
    // Positive biases keep most units away from the ReLU kink, where differences are unstable.
    let b1 = Var::from_vec(rand(c1, 9).iter().map(|v| v + 1.5).collect(), c1, &dev).expect("b1");
    let w2 = Var::from_vec(rand(c2 * 3 * c1, 10), (c2, 3, c1), &dev).expect("w2");
    let b2 = Var::from_vec(rand(c2, 11).iter().map(|v| v + 1.5).collect(), c2, &dev).expect("b2");
    let forward = || -> candle_core::Result<Tensor> {
        let y1 = spatial_conv(x.as_tensor(), w1.as_tensor(), b1.as_tensor(), 2, true)?;
        let (h1, w1d) = (y1.dims()[1], y1.dims()[2]);
        let y2 = temporal_conv(
            &y1.reshape((nb, t, h1 * w1d, c1))?,
            w2.as_tensor(),
            b2.as_tensor(),
            2,
        )?;
        let r = Tensor::from_vec(rand(y2.elem_count(), 12), y2.shape(), &dev)?;
        (y2 * r)?.sum_all()
    };
    let loss = || forward().and_then(|l| l.to_scalar::<f32>()).expect("loss");
    let grads = forward().and_then(|l| l.backward()).expect("backward");
    for (v, name) in [
        (&x, "x"),
        (&w1, "w1"),
        (&b1, "b1"),
        (&w2, "w2"),
        (&b2, "b2"),
    ] {
        let g = grads
            .get(v.as_tensor())
            .unwrap_or_else(|| panic!("no gradient for {name}"));
        check_grad(v, g, &loss, name);
    }
}

#[test]
fn shift_gradient_is_the_reverse_shift() {
    let dev = Device::Cpu;
    let x = Var::from_vec(rand(2 * 4 * 3 * 16, 13), (2, 4, 3, 16), &dev).expect("x");
    let r = Tensor::from_vec(rand(2 * 4 * 3 * 16, 14), (2, 4, 3, 16), &dev).expect("r");
    let forward = || temporal_shift(x.as_tensor()).and_then(|y| (y * &r)?.sum_all());
    let grads = forward().and_then(|l| l.backward()).expect("backward");
    let g = grads.get(x.as_tensor()).expect("gradient");
    check_grad(
        &x,
        g,
        &|| forward().and_then(|l| l.to_scalar::<f32>()).expect("loss"),
        "x",
    );
}

/// Gradients of `Σ y·r` for a spatial conv: (dx, dW, db), with the fused op or with candle's own
/// conv2d (NCHW, an independent implementation).
fn spatial_grads(dims: [usize; 4], co: usize, st: usize, fused: bool) -> Vec<Vec<f32>> {
    let dev = Device::Cpu;
    let [n, h, w, ci] = dims;
    let x = Var::from_vec(rand(n * h * w * ci, 21), (n, h, w, ci), &dev).expect("x");
    let wt = Var::from_vec(rand(co * 9 * ci, 22), (co, 3, 3, ci), &dev).expect("w");
    let b = Var::from_vec(rand(co, 23), co, &dev).expect("b");
    let y = if fused {
        spatial_conv(x.as_tensor(), wt.as_tensor(), b.as_tensor(), st, true)
    } else {
        x.as_tensor()
            .permute((0, 3, 1, 2))
            .and_then(|xc| xc.conv2d(&wt.as_tensor().permute((0, 3, 1, 2))?, 1, st, 1, 1))
            .and_then(|y| y.broadcast_add(&b.as_tensor().reshape((1, co, 1, 1))?))
            .and_then(|y| y.relu())
            .and_then(|y| y.permute((0, 2, 3, 1)))
    }
    .expect("forward");
    let r = Tensor::from_vec(rand(y.elem_count(), 24), y.shape(), &dev).expect("r");
    let grads = (y * r)
        .and_then(|l| l.sum_all())
        .and_then(|l| l.backward())
        .expect("backward");
    [&x, &wt, &b]
        .iter()
        .map(|v| {
            grads
                .get(v.as_tensor())
                .expect("gradient")
                .flatten_all()
                .and_then(|t| t.to_vec1())
                .expect("vec")
        })
        .collect()
}

#[test]
fn spatial_gradients_match_candles_conv2d_across_tiles() {
    for (dims, co, st) in [([40, 5, 5, 3], 4, 1), ([13, 9, 9, 4], 5, 2)] {
        let ours = spatial_grads(dims, co, st, true);
        let reference = spatial_grads(dims, co, st, false);
        for (a, b) in ours.iter().zip(&reference) {
            close(a, b, 1e-4);
        }
    }
}

/// A small trunk: (spatial s2 3→4, temporal s2 4→4, spatial s1 4→5, temporal s1 5→5).
const LAYERS: [Layer; 4] = [
    Layer {
        kind: LayerKind::Spatial,
        stride: 2,
        ci: 3,
        co: 4,
    },
    Layer {
        kind: LayerKind::Temporal,
        stride: 2,
        ci: 4,
        co: 4,
    },
    Layer {
        kind: LayerKind::Spatial,
        stride: 1,
        ci: 4,
        co: 5,
    },
    Layer {
        kind: LayerKind::Temporal,
        stride: 1,
        ci: 5,
        co: 5,
    },
];

/// Pooled features and the gradients of `Σ features·r` for the per-layer weights, through the
/// trunk op (`fused`) or the chain of per-layer ops and candle's mean.
fn trunk_run(fused: bool) -> Vec<Vec<f32>> {
    let dev = Device::Cpu;
    let (nb, t, h, w) = (3, 6, 9, 9);
    let x = Tensor::from_vec(rand(nb * t * h * w * 3, 31), (nb, t, h, w, 3), &dev).expect("x");
    let params: Vec<(Var, Var)> = LAYERS
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let wl = l.weight_len();
            let shape: Vec<usize> = match l.kind {
                LayerKind::Spatial => vec![l.co, 3, 3, l.ci],
                LayerKind::Temporal => vec![l.co, 3, l.ci],
            };
            let wv = Var::from_vec(rand(wl, 40 + i as u64), shape, &dev).expect("w");
            // Positive biases keep units alive, so the comparison exercises every path.
            let bv: Vec<f32> = rand(l.co, 50 + i as u64).iter().map(|v| v + 0.5).collect();
            (wv, Var::from_vec(bv, l.co, &dev).expect("b"))
        })
        .collect();
    let feats = if fused {
        let ws: Vec<Tensor> = params
            .iter()
            .map(|(w, _)| w.flatten_all().expect("flat"))
            .collect();
        let bs: Vec<Tensor> = params.iter().map(|(_, b)| b.as_tensor().clone()).collect();
        trunk(
            &x,
            &Tensor::cat(&ws, 0).expect("cat"),
            &Tensor::cat(&bs, 0).expect("cat"),
            &LAYERS,
        )
    } else {
        let mut cur = x.clone();
        for (l, (w, b)) in LAYERS.iter().zip(&params) {
            cur = match l.kind {
                LayerKind::Spatial => {
                    spatial_conv(&cur, w.as_tensor(), b.as_tensor(), l.stride, true)
                }
                LayerKind::Temporal => temporal_conv(&cur, w.as_tensor(), b.as_tensor(), l.stride),
            }
            .expect("layer");
        }
        let (b, t, h, w, c) = cur.dims5().expect("dims");
        cur.reshape((b, t * h * w, c)).and_then(|v| v.mean(1))
    }
    .expect("features");
    let r = Tensor::from_vec(rand(feats.elem_count(), 60), feats.shape(), &dev).expect("r");
    let grads = (&feats * r)
        .and_then(|l| l.sum_all())
        .and_then(|l| l.backward())
        .expect("backward");
    let mut out = vec![
        feats
            .flatten_all()
            .and_then(|t| t.to_vec1())
            .expect("feats"),
    ];
    for (w, b) in &params {
        for v in [w, b] {
            out.push(
                grads
                    .get(v.as_tensor())
                    .expect("gradient")
                    .flatten_all()
                    .and_then(|t| t.to_vec1())
                    .expect("vec"),
            );
        }
    }
    out
}

#[test]
fn trunk_matches_the_chain_of_per_layer_ops() {
    let fused = trunk_run(true);
    let chain = trunk_run(false);
    assert_eq!(fused.len(), 9);
    for (a, b) in fused.iter().zip(&chain) {
        close(a, b, 1e-5);
    }
}

#[test]
fn gradients_do_not_depend_on_the_thread_count() {
    // Exact resume and reproducible runs need bit-identical sums on any machine.
    let on = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("pool")
            .install(|| (trunk_run(true), spatial_grads([40, 5, 5, 3], 4, 1, true)))
    };
    assert!(on(1) == on(3), "results differ between 1 and 3 threads");
}
