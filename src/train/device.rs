//! Choosing where tensors live.

use candle_core::Device;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DevicePref {
    /// CUDA when this build has it and a GPU answers, else the CPU.
    #[default]
    Auto,
    Cpu,
    Cuda,
}

/// The device picked and, when it is not what was asked for, why.
#[derive(Debug)]
pub struct DeviceChoice {
    pub device: Device,
    pub fallback_reason: Option<String>,
}

impl DeviceChoice {
    pub fn label(&self) -> String {
        match self.device.location() {
            candle_core::DeviceLocation::Cpu => "CPU".to_string(),
            candle_core::DeviceLocation::Cuda { gpu_id } => format!("CUDA:{gpu_id}"),
            candle_core::DeviceLocation::Metal { gpu_id } => format!("Metal:{gpu_id}"),
        }
    }
}

/// Picks a device. Never fails: `Device::cuda_if_available` errors on a machine with no GPU, so
/// the CPU is the fallback and the reason is kept for the UI and the results file.
pub fn select_device(pref: DevicePref) -> DeviceChoice {
    if pref == DevicePref::Cpu {
        return DeviceChoice {
            device: Device::Cpu,
            fallback_reason: None,
        };
    }
    if !candle_core::utils::cuda_is_available() {
        return DeviceChoice {
            device: Device::Cpu,
            fallback_reason: (pref == DevicePref::Cuda)
                .then(|| "this build has no CUDA support (build with --features cuda)".into()),
        };
    }
    match Device::new_cuda(0) {
        Ok(device) => DeviceChoice {
            device,
            fallback_reason: None,
        },
        Err(e) => DeviceChoice {
            device: Device::Cpu,
            // candle appends a backtrace to the message: keep its first line.
            fallback_reason: Some(format!(
                "no usable CUDA device: {}",
                e.to_string().lines().next().unwrap_or("unknown error")
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Tensor};
    use candle_nn::{Module, VarBuilder, VarMap};

    #[test]
    fn cpu_is_always_available() {
        let c = select_device(DevicePref::Cpu);
        assert!(c.device.is_cpu());
        assert_eq!(c.label(), "CPU");
        assert!(c.fallback_reason.is_none());
    }

    #[test]
    fn cuda_request_gets_cuda_or_falls_back_with_a_reason() {
        let c = select_device(DevicePref::Cuda);
        let auto = select_device(DevicePref::Auto);
        if candle_core::utils::cuda_is_available() {
            // A CUDA build: either a GPU answered and no reason is given, or the CPU stands in
            // and says why.
            match &c.fallback_reason {
                None => assert!(c.device.is_cuda(), "no reason given, but on {}", c.label()),
                Some(r) => {
                    assert!(c.device.is_cpu(), "a reason ({r}), but on {}", c.label());
                    assert!(r.starts_with("no usable CUDA device"), "{r}");
                }
            }
            // Auto tries the same GPU, so it lands where Cuda did, for the same reason.
            assert_eq!(auto.device.location(), c.device.location());
            assert_eq!(auto.fallback_reason, c.fallback_reason);
        } else {
            assert!(c.device.is_cpu(), "on {}", c.label());
            let r = c.fallback_reason.as_deref().unwrap_or_default();
            assert!(r.starts_with("this build has no CUDA support"), "{r:?}");
            // Auto asked for no GPU in particular: the CPU, with nothing to explain.
            assert!(auto.device.is_cpu(), "on {}", auto.label());
            assert_eq!(auto.fallback_reason, None);
        }
    }

    #[test]
    fn candle_nn_linear_runs_on_the_chosen_device() -> candle_core::Result<()> {
        let dev = select_device(DevicePref::Auto).device;
        let mut varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &dev);
        let lin = candle_nn::linear(2, 2, vb.pp("fc"))?;
        // Overwrite the random init with known weights: y = W x + b.
        varmap.set_one("fc.weight", Tensor::new(&[[1f32, 2.], [3., 4.]], &dev)?)?;
        varmap.set_one("fc.bias", Tensor::new(&[0.5f32, -0.5], &dev)?)?;
        let y = lin.forward(&Tensor::new(&[[1f32, 1.]], &dev)?)?;
        assert_eq!(y.to_vec2::<f32>()?, vec![vec![3.5, 6.5]]);
        Ok(())
    }
}
