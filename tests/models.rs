//! The models: parameter counts, the fused CPU path against candle's own convolutions, and
//! finite-difference checks of each whole (tiny-input) model's gradient.

use candle_core::{DType, Device, Tensor};
use candle_nn::VarMap;
use triggerlab::train::models::r2plus1d::R2Plus1dTiny;
use triggerlab::train::models::{FusionConfig, Model, ModelKind, builder, parameter_count};

fn input(shape: &[usize], seed: u64) -> Tensor {
    let n: usize = shape.iter().product();
    let mut s = seed.wrapping_add(12345);
    let v: Vec<f32> = (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) % 2001) as f32 / 1000.0 - 1.0
        })
        .collect();
    Tensor::from_vec(v, shape, &Device::Cpu).expect("input")
}

#[test]
fn r2plus1d_tiny_has_the_specified_parameter_count() {
    let vm = VarMap::new();
    let _m = Model::new(
        ModelKind::R2plus1dTiny,
        FusionConfig::default(),
        10,
        builder(&vm, &Device::Cpu),
    )
    .expect("model");
    assert_eq!(parameter_count(&vm), 164_250);
}

#[test]
fn fused_cpu_path_equals_candles_own_convolutions() {
    let vm = VarMap::new();
    let m = R2Plus1dTiny::new(builder(&vm, &Device::Cpu).pp("video"), 10).expect("model");
    for (t, h, w) in [(16, 32, 32), (8, 28, 36)] {
        let x = input(&[2, t, h, w, 3], 1);
        let a: Vec<f32> = m
            .forward(&x)
            .and_then(|y| y.flatten_all())
            .and_then(|y| y.to_vec1())
            .expect("fused");
        let b: Vec<f32> = m
            .forward_reference(&x)
            .and_then(|y| y.flatten_all())
            .and_then(|y| y.to_vec1())
            .expect("reference");
        for (p, q) in a.iter().zip(&b) {
            assert!((p - q).abs() < 1e-4 * (1.0 + q.abs()), "{p} vs {q}");
        }
    }
}

#[test]
fn every_model_runs_and_gives_one_logit_row_per_clip() {
    let video = input(&[2, 8, 32, 32, 3], 2);
    let audio = input(&[2, 98, 64, 1], 3);
    for kind in [
        ModelKind::R2plus1dTiny,
        ModelKind::TsmTiny,
        ModelKind::AudioCnn,
        ModelKind::AvFusion,
    ] {
        let vm = VarMap::new();
        let m = Model::new(kind, FusionConfig::default(), 7, builder(&vm, &Device::Cpu))
            .expect("model");
        let out = m.forward(Some(&video), Some(&audio)).expect("forward");
        assert_eq!(out.logits.dims(), &[2, 7], "{kind:?}");
    }
}

/// Overwrites every parameter in `vm` with seeded values: weights uniform in ±√(6/fan_in)
/// (Kaiming's ReLU gain, fan_in from the trailing dimensions) and biases in ±0.1.
///
/// Not the models' own scale (PyTorch's ±1/√fan_in): that shrinks the signal's variance about
/// sixfold per ReLU layer. This check once used it (with biases in ±1), and the first layer's
/// largest gradient through r2plus1d_tiny's eight layers was 3e-5, under the absolute slack, so
/// the check passed anything there. With this gain every checked gradient is 1e-2 to 0.3.
/// Seeded (candle's own init is not), every run sees the same weights, so the check (the fused
/// ops are deterministic bit for bit, see `ops::spatial`) passes or fails the same each time,
/// whichever ReLU inputs happen to lie near their kink.
fn seed_weights(vm: &VarMap) {
    let data = vm.data().lock().expect("vars");
    let mut names: Vec<&String> = data.keys().collect();
    names.sort();
    for (k, name) in names.into_iter().enumerate() {
        let var = &data[name];
        let bound = if name.ends_with(".bias") {
            0.1
        } else {
            let fan_in: usize = var.dims()[1..].iter().product::<usize>().max(1);
            (6.0 / fan_in as f64).sqrt()
        };
        let w = (input(var.dims(), 100 + k as u64) * bound).expect("scale");
        var.set(&w).expect("set");
    }
}

/// A model of `kind` over seeded weights, and its variables.
fn seeded_model(kind: ModelKind, fusion: FusionConfig, classes: usize) -> (VarMap, Model) {
    let vm = VarMap::new();
    let m = Model::new(kind, fusion, classes, builder(&vm, &Device::Cpu)).expect("model");
    seed_weights(&vm);
    (vm, m)
}

/// Finite-difference step. The difference converges on backward's value as ε shrinks (the error
/// at 1e-2 comes from ReLU kinks and is up to 16 % for some coordinates here, at 5e-3 up to
/// 6 %, at 1e-3 under 3 %) until f32 rounding of the loss takes over: an f32 of about
/// ln(classes) ≈ 1.4 is good to ~1e-7, so over 2ε = 2e-3 the difference carries noise of ~1e-4,
/// which is what it shows at 2e-4 (errors of 0.1–1.7 %). 1e-3 sits between the two.
const EPS: f32 = 1e-3;

/// Checks the backward pass of `loss` (a scalar built from the variables in `vm`) against
/// central finite differences in f32, `(L(θ+ε) − L(θ−ε)) / 2ε`, for each parameter in `names`
/// at up to three coordinates: the largest gradient and the largest ones of up to two other
/// output rows (first index) with at least a quarter of it. The largest must be at least 1e-2,
/// so the absolute slack below is at most 4 % of any gradient checked.
///
/// Tolerance: `|fd − g| ≤ 0.05·|g| + 1e-4`. With every ReLU on the same side at θ ± ε the logits
/// are affine in one parameter (each conv/linear is linear in its weights and the pool is a
/// mean), so the central difference is off only by ε²/6 · (cross-entropy's third derivative) ·
/// (∂z/∂θ)³, negligible at this ε; 1e-4 covers the rounding noise above, and 5 % is slack for
/// those of the hundreds of ReLU inputs a parameter moves that cross zero within ±ε (under 3 %
/// here, see `EPS`). A backward pass off by a tenth, a dropped term (a tap, an edge, a tile, a
/// shifted channel block) or a wrong fusion weight is off by more.
fn assert_gradients_match_finite_differences(
    vm: &VarMap,
    loss: impl Fn() -> candle_core::Result<Tensor>,
    names: &[&str],
) {
    let scalar = || -> f32 {
        loss()
            .and_then(|l| l.to_dtype(DType::F32))
            .and_then(|l| l.to_scalar::<f32>())
            .expect("loss")
    };
    let grads = loss().and_then(|l| l.backward()).expect("backward");
    let data = vm.data().lock().expect("vars").clone();
    let at = |var: &candle_core::Var, v: Vec<f32>| {
        var.set(&Tensor::from_vec(v, var.shape(), &Device::Cpu).expect("t"))
            .expect("set");
    };
    let l0 = scalar();
    for name in names {
        let var = data
            .get(*name)
            .unwrap_or_else(|| panic!("no parameter {name}"));
        let g: Vec<f32> = grads
            .get(var.as_tensor())
            .unwrap_or_else(|| panic!("no gradient for {name}"))
            .flatten_all()
            .and_then(|t| t.to_vec1())
            .expect("g");
        let base: Vec<f32> = var.flatten_all().and_then(|t| t.to_vec1()).expect("v");
        let mut order: Vec<usize> = (0..g.len()).collect();
        order.sort_by(|&a, &b| g[b].abs().total_cmp(&g[a].abs()).then(a.cmp(&b)));
        let top = g[order[0]].abs();
        assert!(
            top >= 1e-2,
            "{name}: backward's largest gradient is {top}, too small for the check to mean much"
        );
        let row_len = g.len() / var.dims()[0];
        let mut picked: Vec<usize> = Vec::new();
        for &i in &order {
            if picked.len() == 3 || g[i].abs() < 0.25 * top {
                break;
            }
            if picked.iter().all(|&j| j / row_len != i / row_len) {
                picked.push(i);
            }
        }
        for idx in picked {
            let mut p = base.clone();
            p[idx] = base[idx] + EPS;
            at(var, p.clone());
            let up = scalar();
            p[idx] = base[idx] - EPS;
            at(var, p);
            let down = scalar();
            at(var, base.clone());
            let fd = (up - down) / (2.0 * EPS);
            assert!(
                (fd - g[idx]).abs() <= 0.05 * g[idx].abs() + 1e-4,
                "{name}[{idx}]: finite difference {fd}, backward {} (one-sided {} / {}: \
                 far apart means a ReLU kink within ±ε)",
                g[idx],
                (up - l0) / EPS,
                (l0 - down) / EPS,
            );
        }
    }
}

/// Cross-entropy of the model's logits for `labels`, as a closure for the check above.
fn cross_entropy<'a>(
    m: &'a Model,
    video: Option<&'a Tensor>,
    audio: Option<&'a Tensor>,
    labels: &'a [u32],
) -> impl Fn() -> candle_core::Result<Tensor> + 'a {
    move || {
        let labels = Tensor::new(labels, &Device::Cpu)?;
        candle_nn::loss::cross_entropy(&m.forward(video, audio)?.logits, &labels)
    }
}

#[test]
fn whole_model_gradient_matches_finite_differences() {
    let (vm, m) = seeded_model(ModelKind::R2plus1dTiny, FusionConfig::default(), 4);
    let x = input(&[2, 6, 17, 17, 3], 4);
    assert_gradients_match_finite_differences(
        &vm,
        cross_entropy(&m, Some(&x), None, &[1, 3]),
        &[
            "video.blocks.0.spatial.weight",
            "video.blocks.1.temporal.weight",
            "video.blocks.3.spatial.bias",
            "video.blocks.3.temporal.weight",
            "video.fc.weight",
            "video.fc.bias",
        ],
    );
}

#[test]
fn tsm_tiny_gradient_matches_finite_differences() {
    let (vm, m) = seeded_model(ModelKind::TsmTiny, FusionConfig::default(), 4);
    // T = 4 so the shifted channel blocks carry real frames and zeros at both ends; 17 × 13
    // gives odd, unequal sizes at every stride-2 layer (17×13 → 9×7 → 5×4 → 3×2 → 2×1).
    let x = input(&[2, 4, 17, 13, 3], 5);
    assert_gradients_match_finite_differences(
        &vm,
        cross_entropy(&m, Some(&x), None, &[0, 2]),
        &[
            // The first conv (no shift before it: 3 channels)…
            "video.blocks.0.conv.weight",
            "video.blocks.0.conv.bias",
            // …the first with a temporal shift before it, and the last…
            "video.blocks.1.conv.weight",
            "video.blocks.3.conv.weight",
            "video.blocks.3.conv.bias",
            // …and the linear head.
            "video.fc.weight",
            "video.fc.bias",
        ],
    );
}

#[test]
fn audio_cnn_gradient_matches_finite_differences() {
    let (vm, m) = seeded_model(ModelKind::AudioCnn, FusionConfig::default(), 4);
    // A log-mel clip is `[B, frames, mels, 1]` (98 × 64 for a second at 16 kHz, see
    // `train::features`); its values are standardised per clip, which the ±1 input stands for.
    // 19 frames × 12 mels keeps it tiny with unequal, odd sizes (→ 10×6 → 5×3 → 3×2 → 2×1).
    let x = input(&[2, 19, 12, 1], 6);
    assert_gradients_match_finite_differences(
        &vm,
        cross_entropy(&m, None, Some(&x), &[3, 1]),
        &[
            "audio.blocks.0.conv.weight",
            "audio.blocks.0.conv.bias",
            "audio.blocks.2.conv.weight",
            "audio.blocks.3.conv.weight",
            "audio.blocks.3.conv.bias",
            "audio.fc.weight",
            "audio.fc.bias",
        ],
    );
}

#[test]
fn av_fusion_gradient_matches_finite_differences() {
    // The fused logits are w·video + (1 − w)·audio; an uneven w (not the default ½) makes a
    // gradient that swaps or drops the weights fail.
    let fusion = FusionConfig {
        video_weight: 0.7,
        ..FusionConfig::default()
    };
    let (vm, m) = seeded_model(ModelKind::AvFusion, fusion, 4);
    let video = input(&[2, 6, 17, 17, 3], 7);
    let audio = input(&[2, 19, 12, 1], 8);
    assert_gradients_match_finite_differences(
        &vm,
        cross_entropy(&m, Some(&video), Some(&audio), &[2, 0]),
        &[
            // The video branch (r2plus1d_tiny): its first and last convolutions…
            "video.blocks.0.spatial.weight",
            "video.blocks.3.temporal.weight",
            // …and the audio branch's…
            "audio.blocks.0.conv.weight",
            "audio.blocks.3.conv.bias",
            // …and the fusion head: the fusion itself has no parameters, so it is the two
            // linear layers whose logits it weighs.
            "video.fc.weight",
            "video.fc.bias",
            "audio.fc.weight",
            "audio.fc.bias",
        ],
    );
}
