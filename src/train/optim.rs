//! Optimisers with state that can be saved and restored (checkpoints resume exactly): AdamW
//! (decoupled weight decay, as PyTorch's) and SGD with momentum and weight decay.

use candle_core::backprop::GradStore;
use candle_core::{Result, Tensor, Var};
use std::collections::HashMap;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum OptKind {
    AdamW { beta1: f64, beta2: f64, eps: f64 },
    Sgd { momentum: f64 },
}

pub struct Optimizer {
    kind: OptKind,
    weight_decay: f64,
    /// (name, variable), in name order.
    vars: Vec<(String, Var)>,
    /// First moment (AdamW) or momentum buffer (SGD), and second moment (AdamW).
    m: Vec<Tensor>,
    v: Vec<Tensor>,
    pub step_t: u64,
}

impl Optimizer {
    pub fn new(kind: OptKind, weight_decay: f64, vars: &HashMap<String, Var>) -> Result<Self> {
        let mut named: Vec<(String, Var)> =
            vars.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        named.sort_by(|a, b| a.0.cmp(&b.0));
        let zeros = |v: &Var| v.zeros_like();
        let m = named
            .iter()
            .map(|(_, v)| zeros(v))
            .collect::<Result<Vec<_>>>()?;
        let vv = named
            .iter()
            .map(|(_, v)| zeros(v))
            .collect::<Result<Vec<_>>>()?;
        Ok(Optimizer {
            kind,
            weight_decay,
            vars: named,
            m,
            v: vv,
            step_t: 0,
        })
    }

    /// One update with learning rate `lr`.
    pub fn step(&mut self, grads: &GradStore, lr: f64) -> Result<()> {
        self.step_t += 1;
        let t = self.step_t as i32;
        for (i, (_, var)) in self.vars.iter().enumerate() {
            let Some(g) = grads.get(var.as_tensor()) else {
                continue;
            };
            match self.kind {
                OptKind::AdamW { beta1, beta2, eps } => {
                    let m = ((&self.m[i] * beta1)? + (g * (1.0 - beta1))?)?;
                    let v = ((&self.v[i] * beta2)? + (g.sqr()? * (1.0 - beta2))?)?;
                    let mhat = (&m / (1.0 - beta1.powi(t)))?;
                    let vhat = (&v / (1.0 - beta2.powi(t)))?;
                    let decayed = (var.as_tensor() * (1.0 - lr * self.weight_decay))?;
                    let upd = (mhat / (vhat.sqrt()? + eps)?)?;
                    var.set(&(decayed - (upd * lr)?)?)?;
                    self.m[i] = m;
                    self.v[i] = v;
                }
                OptKind::Sgd { momentum } => {
                    let g = (g + (var.as_tensor() * self.weight_decay)?)?;
                    let buf = if self.step_t == 1 {
                        g
                    } else {
                        ((&self.m[i] * momentum)? + g)?
                    };
                    var.set(&(var.as_tensor() - (&buf * lr)?)?)?;
                    self.m[i] = buf;
                }
            }
        }
        Ok(())
    }

    /// The state as named tensors (for a safetensors checkpoint).
    pub fn state(&self) -> HashMap<String, Tensor> {
        let mut out = HashMap::new();
        for (i, (name, _)) in self.vars.iter().enumerate() {
            out.insert(format!("m.{name}"), self.m[i].clone());
            out.insert(format!("v.{name}"), self.v[i].clone());
        }
        out
    }

    /// Restores what [`Optimizer::state`] saved.
    pub fn load_state(&mut self, state: &HashMap<String, Tensor>, step_t: u64) -> Result<()> {
        for (i, (name, _)) in self.vars.iter().enumerate() {
            let get = |k: String| {
                state.get(&k).cloned().ok_or_else(|| {
                    candle_core::Error::Msg(format!("checkpoint has no optimiser tensor {k}"))
                })
            };
            self.m[i] = get(format!("m.{name}"))?;
            self.v[i] = get(format!("v.{name}"))?;
        }
        self.step_t = step_t;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn adamw_first_step_moves_each_weight_by_lr() {
        // With bias correction, Adam's first step is lr·g/(|g| + eps) ≈ lr·sign(g).
        let v = Var::from_vec(vec![1f32, -2.0], 2, &Device::Cpu).expect("var");
        let vars = HashMap::from([("w".to_string(), v.clone())]);
        let mut opt = Optimizer::new(
            OptKind::AdamW {
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
            },
            0.0,
            &vars,
        )
        .expect("opt");
        let loss = (v.as_tensor().sqr().expect("sq").sum_all().expect("sum") * 0.5).expect("half");
        let grads = loss.backward().expect("grads");
        opt.step(&grads, 0.1).expect("step");
        let w: Vec<f32> = v.to_vec1().expect("w");
        assert!(
            (w[0] - 0.9).abs() < 1e-5 && (w[1] + 1.9).abs() < 1e-5,
            "{w:?}"
        );
        assert_eq!(opt.step_t, 1);
        assert_eq!(opt.state().len(), 2);
    }
}
