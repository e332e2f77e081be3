//! The models: parameter counts, the fused CPU path against candle's own convolutions, and a
//! finite-difference check of a whole (tiny-input) model's gradient.

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

#[test]
fn whole_model_gradient_matches_finite_differences() {
    let vm = VarMap::new();
    let m = Model::new(
        ModelKind::R2plus1dTiny,
        FusionConfig::default(),
        4,
        builder(&vm, &Device::Cpu),
    )
    .expect("model");
    // Seeded weights (candle's own init is unseeded): with random ones, now and then a ReLU
    // input lies within ε of zero and the finite difference straddles the kink.
    {
        let data = vm.data().lock().expect("vars");
        let mut names: Vec<&String> = data.keys().collect();
        names.sort();
        for (k, name) in names.into_iter().enumerate() {
            let var = &data[name];
            let fan_in: usize = var.dims()[1..].iter().product::<usize>().max(1);
            let w = (input(var.dims(), 100 + k as u64) / (fan_in as f64).sqrt()).expect("scale");
            var.set(&w).expect("set");
        }
    }
    let x = input(&[2, 6, 17, 17, 3], 4);
    let labels = Tensor::new(&[1u32, 3], &Device::Cpu).expect("labels");
    let loss = || -> f32 {
        let l = m
            .forward(Some(&x), None)
            .and_then(|o| candle_nn::loss::cross_entropy(&o.logits, &labels));
        l.and_then(|l| l.to_dtype(DType::F32))
            .and_then(|l| l.to_scalar::<f32>())
            .expect("loss")
    };
    let l = m
        .forward(Some(&x), None)
        .and_then(|o| candle_nn::loss::cross_entropy(&o.logits, &labels))
        .expect("loss");
    let grads = l.backward().expect("backward");
    let data = vm.data().lock().expect("vars").clone();
    for name in [
        "video.blocks.0.spatial.weight",
        "video.blocks.1.temporal.weight",
        "video.blocks.3.spatial.bias",
        "video.fc.weight",
    ] {
        let var = &data[name];
        let g: Vec<f32> = grads
            .get(var.as_tensor())
            .expect("grad")
            .flatten_all()
            .and_then(|t| t.to_vec1())
            .expect("g");
        let base: Vec<f32> = var.flatten_all().and_then(|t| t.to_vec1()).expect("v");
        // The coordinate with the largest gradient: well above f32 noise.
        let idx = g
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
            .map(|(i, _)| i)
            .expect("non-empty");
        let eps = 1e-2f32;
        let mut p = base.clone();
        p[idx] += eps;
        var.set(&Tensor::from_vec(p.clone(), var.shape(), &Device::Cpu).expect("t"))
            .expect("set");
        let up = loss();
        p[idx] -= 2.0 * eps;
        var.set(&Tensor::from_vec(p, var.shape(), &Device::Cpu).expect("t"))
            .expect("set");
        let down = loss();
        var.set(&Tensor::from_vec(base, var.shape(), &Device::Cpu).expect("t"))
            .expect("set");
        let fd = (up - down) / (2.0 * eps);
        assert!(
            (fd - g[idx]).abs() <= 0.05 * g[idx].abs() + 1e-4,
            "{name}[{idx}]: finite difference {fd}, backward {}",
            g[idx]
        );
    }
}
