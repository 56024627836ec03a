//! Reference optimiser steps, with PyTorch's semantics, updating parameters in place.
//!
//! Each step reads one parameter tensor, its gradient and its state buffers, and writes the
//! parameters and state back: one fused pass per tensor (weight decay, moment updates, bias
//! correction and the parameter update together).
//!
//! Unlike the layer references, these run in f32 with the exact operation order of
//! `shaders/optim.wgsl`: every multiply-add is one `fma` there and one [`MulAdd`] here, and the
//! per-step scalars (bias corrections) are computed once on the host by the same functions.
//! SGD has no other operation, so the GPU matches [`sgd_step_rounded`] bit for bit with the
//! device's [`MulAdd`] rounding; Adam and AdaGrad add a square root and divisions, which GPUs
//! may round differently by a few ulp.
//!
//! - SGD (`torch.optim.SGD`, dampening 0): `g = grad + wd * p`; `v = mu * v + g`;
//!   `d = g + mu * v` (Nesterov) or `d = v`; `p = p - lr * d`. The velocity buffer must start
//!   at zero: step 1 then gives `v = g` exactly, as PyTorch's initialisation to `g` does.
//!   With `momentum = 0` there is no state and the velocity buffer may be empty.
//! - Adam (`torch.optim.Adam` / `AdamW` with `decoupled`): L2 decay `g = grad + wd * p`, or
//!   decoupled decay `p = p * (1 - lr * wd)` first; `m = b1 * m + (1 - b1) * g`;
//!   `v = b2 * v + (1 - b2) * g^2`; `p = p - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t)
//!   + eps)`, with `t` the 1-based step. `m` and `v` start at zero.
//! - AdaGrad (`torch.optim.Adagrad`, no learning-rate decay): `g = grad + wd * p`;
//!   `s = s + g^2`; `p = p - lr * g / (sqrt(s) + eps)`; `s` starts at `initial_accumulator`.

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SgdConfig {
    pub lr: f32,
    pub momentum: f32,
    pub weight_decay: f32,
    pub nesterov: bool,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamConfig {
    pub lr: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    pub weight_decay: f32,
    /// AdamW: decay the parameters directly instead of adding `wd * p` to the gradient.
    pub decoupled: bool,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdaGradConfig {
    pub lr: f32,
    pub eps: f32,
    pub weight_decay: f32,
    /// The value the accumulator buffer is filled with before the first step.
    pub initial_accumulator: f32,
}

/// An optimiser and its hyper-parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Optimizer {
    Sgd(SgdConfig),
    Adam(AdamConfig),
    AdaGrad(AdaGradConfig),
}

impl Optimizer {
    /// How many state buffers, each as long as the parameter tensor, one tensor needs.
    pub fn state_slots(&self) -> usize {
        match self {
            Optimizer::Sgd(cfg) if cfg.momentum == 0.0 => 0,
            Optimizer::Sgd(_) | Optimizer::AdaGrad(_) => 1,
            Optimizer::Adam(_) => 2,
        }
    }

    /// The value every state buffer starts with.
    pub fn initial_state(&self) -> f32 {
        match self {
            Optimizer::AdaGrad(cfg) => cfg.initial_accumulator,
            Optimizer::Sgd(_) | Optimizer::Adam(_) => 0.0,
        }
    }

    pub fn lr(&self) -> f32 {
        match self {
            Optimizer::Sgd(cfg) => cfg.lr,
            Optimizer::Adam(cfg) => cfg.lr,
            Optimizer::AdaGrad(cfg) => cfg.lr,
        }
    }

    /// The same optimiser with another learning rate (a schedule sets it every step).
    pub fn with_lr(self, lr: f32) -> Self {
        match self {
            Optimizer::Sgd(cfg) => Optimizer::Sgd(SgdConfig { lr, ..cfg }),
            Optimizer::Adam(cfg) => Optimizer::Adam(AdamConfig { lr, ..cfg }),
            Optimizer::AdaGrad(cfg) => Optimizer::AdaGrad(AdaGradConfig { lr, ..cfg }),
        }
    }
}

/// The scalars of one Adam step, computed on the host in f64 and rounded once to f32.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamScalars {
    /// `lr / (1 - beta1^t)`.
    pub step_size: f32,
    /// `sqrt(1 - beta2^t)`.
    pub bias_correction2_sqrt: f32,
    /// `1 - lr * wd` where the decay is decoupled, else 1.
    pub decay: f32,
}

impl AdamConfig {
    pub fn scalars(&self, step: u32) -> AdamScalars {
        assert!(
            step >= 1,
            "Adam steps count from 1 (bias correction divides by 1 - beta^t)"
        );
        let t = step as i32;
        let lr = f64::from(self.lr);
        let decay = if self.decoupled {
            1.0 - lr * f64::from(self.weight_decay)
        } else {
            1.0
        };
        AdamScalars {
            step_size: (lr / (1.0 - f64::from(self.beta1).powi(t))) as f32,
            bias_correction2_sqrt: (1.0 - f64::from(self.beta2).powi(t)).sqrt() as f32,
            decay: decay as f32,
        }
    }

    /// The weight decay added to the gradient: zero where it is decoupled.
    pub fn l2_decay(&self) -> f32 {
        if self.decoupled {
            0.0
        } else {
            self.weight_decay
        }
    }
}

/// How a multiply-add `a * b + c` is rounded. WGSL's `fma` leaves the choice to the device:
/// GPUs with FMA units round once, lavapipe (measured) rounds the product and the sum apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MulAdd {
    Fused,
    Separate,
}

impl MulAdd {
    pub fn apply(self, a: f32, b: f32, c: f32) -> f32 {
        match self {
            MulAdd::Fused => a.mul_add(b, c),
            MulAdd::Separate => a * b + c,
        }
    }
}

fn check_lens(params: usize, others: &[(&str, usize)]) {
    for &(what, len) in others {
        assert_eq!(
            len, params,
            "{what} has {len} values, the parameters {params}"
        );
    }
}

/// One SGD step in place (see the module doc for the formula), multiply-adds fused.
pub fn sgd_step(cfg: &SgdConfig, params: &mut [f32], grads: &[f32], velocity: &mut [f32]) {
    sgd_step_rounded(cfg, MulAdd::Fused, params, grads, velocity);
}

/// [`sgd_step`] with the multiply-adds rounded as `mul_add` says.
pub fn sgd_step_rounded(
    cfg: &SgdConfig,
    mul_add: MulAdd,
    params: &mut [f32],
    grads: &[f32],
    velocity: &mut [f32],
) {
    check_lens(params.len(), &[("grads", grads.len())]);
    let has_momentum = cfg.momentum != 0.0;
    if has_momentum || !velocity.is_empty() {
        check_lens(params.len(), &[("velocity", velocity.len())]);
    }
    for i in 0..params.len() {
        let g = mul_add.apply(cfg.weight_decay, params[i], grads[i]);
        let mut d = g;
        if has_momentum {
            velocity[i] = mul_add.apply(cfg.momentum, velocity[i], g);
            d = if cfg.nesterov {
                mul_add.apply(cfg.momentum, velocity[i], g)
            } else {
                velocity[i]
            };
        }
        params[i] = mul_add.apply(-cfg.lr, d, params[i]);
    }
}

/// One Adam (or AdamW) step in place; `step` is 1-based.
pub fn adam_step(
    cfg: &AdamConfig,
    step: u32,
    params: &mut [f32],
    grads: &[f32],
    m: &mut [f32],
    v: &mut [f32],
) {
    check_lens(
        params.len(),
        &[("grads", grads.len()), ("m", m.len()), ("v", v.len())],
    );
    let s = cfg.scalars(step);
    let l2 = cfg.l2_decay();
    for i in 0..params.len() {
        let p = params[i] * s.decay;
        let g = l2.mul_add(p, grads[i]);
        m[i] = cfg.beta1.mul_add(m[i], (1.0 - cfg.beta1) * g);
        v[i] = cfg.beta2.mul_add(v[i], (1.0 - cfg.beta2) * g * g);
        let denom = v[i].sqrt() / s.bias_correction2_sqrt + cfg.eps;
        params[i] = (-s.step_size).mul_add(m[i] / denom, p);
    }
}

/// One AdaGrad step in place.
pub fn adagrad_step(cfg: &AdaGradConfig, params: &mut [f32], grads: &[f32], accum: &mut [f32]) {
    check_lens(
        params.len(),
        &[("grads", grads.len()), ("accum", accum.len())],
    );
    for i in 0..params.len() {
        let g = cfg.weight_decay.mul_add(params[i], grads[i]);
        accum[i] = g.mul_add(g, accum[i]);
        let denom = accum[i].sqrt() + cfg.eps;
        params[i] = (-cfg.lr).mul_add(g / denom, params[i]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sgd_by_hand() {
        let cfg = SgdConfig {
            lr: 0.5,
            momentum: 0.5,
            weight_decay: 0.0,
            nesterov: false,
        };
        let (mut p, mut v) = ([1.0f32], [0.0f32]);
        sgd_step(&cfg, &mut p, &[2.0], &mut v);
        // v = g = 2, p = 1 - 0.5 * 2 = 0
        assert_eq!((p, v), ([0.0], [2.0]));
        sgd_step(&cfg, &mut p, &[1.0], &mut v);
        // v = 0.5 * 2 + 1 = 2, p = 0 - 1 = -1
        assert_eq!((p, v), ([-1.0], [2.0]));

        let nesterov = SgdConfig {
            nesterov: true,
            weight_decay: 1.0,
            ..cfg
        };
        let (mut p, mut v) = ([1.0f32], [0.0f32]);
        sgd_step(&nesterov, &mut p, &[1.0], &mut v);
        // g = 1 + 1 * 1 = 2, v = 2, d = 2 + 0.5 * 2 = 3, p = 1 - 1.5 = -0.5
        assert_eq!((p, v), ([-0.5], [2.0]));
    }

    #[test]
    fn fused_and_separate_multiply_adds_differ() {
        // 1 + 2^-12 squared is 1 + 2^-11 + 2^-24: the last term is lost when the product is
        // rounded before the subtraction of 1.
        let a = 1.0 + 2f32.powi(-12);
        assert_eq!(
            MulAdd::Fused.apply(a, a, -1.0),
            2f32.powi(-11) + 2f32.powi(-24)
        );
        assert_eq!(MulAdd::Separate.apply(a, a, -1.0), 2f32.powi(-11));
    }

    #[test]
    fn sgd_without_momentum_needs_no_state() {
        let cfg = SgdConfig {
            lr: 0.25,
            momentum: 0.0,
            weight_decay: 0.0,
            nesterov: false,
        };
        assert_eq!(Optimizer::Sgd(cfg).state_slots(), 0);
        let mut p = [1.0f32, 2.0];
        sgd_step(&cfg, &mut p, &[4.0, -4.0], &mut []);
        assert_eq!(p, [0.0, 3.0]);
    }

    #[test]
    fn adam_first_step_moves_each_parameter_by_lr() {
        // At t = 1, m_hat = g and v_hat = g^2, so the step is lr * g / (|g| + eps).
        let cfg = AdamConfig {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            decoupled: false,
        };
        let mut p = [0.5f32, 0.5, 0.5];
        let (mut m, mut v) = ([0.0f32; 3], [0.0f32; 3]);
        adam_step(&cfg, 1, &mut p, &[3.0, -0.01, 0.0], &mut m, &mut v);
        for (got, want) in p.iter().zip([0.499, 0.501, 0.5]) {
            assert!((got - want).abs() < 1e-6, "{p:?}");
        }
    }

    #[test]
    fn adamw_decays_the_parameters_not_the_gradient() {
        let cfg = AdamConfig {
            lr: 0.1,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.5,
            decoupled: true,
        };
        let (mut p, mut m, mut v) = ([2.0f32], [0.0f32], [0.0f32]);
        adam_step(&cfg, 1, &mut p, &[0.0], &mut m, &mut v);
        // Zero gradient: only the decay acts, p = 2 * (1 - 0.05), and no moment builds up.
        assert!(
            (p[0] - 1.9).abs() < 1e-6 && m[0] == 0.0 && v[0] == 0.0,
            "{p:?} {m:?}"
        );
        let coupled = AdamConfig {
            decoupled: false,
            ..cfg
        };
        let (mut p, mut m, mut v) = ([2.0f32], [0.0f32], [0.0f32]);
        adam_step(&coupled, 1, &mut p, &[0.0], &mut m, &mut v);
        // L2 decay: g = 1 enters the moments, and the first step is lr * sign(g).
        assert!((p[0] - 1.9).abs() < 1e-6 && m[0] > 0.0, "{p:?} {m:?}");
    }

    #[test]
    fn adagrad_by_hand() {
        let cfg = AdaGradConfig {
            lr: 0.5,
            eps: 0.0,
            weight_decay: 0.0,
            initial_accumulator: 0.0,
        };
        let (mut p, mut s) = ([1.0f32], [0.0f32]);
        adagrad_step(&cfg, &mut p, &[3.0], &mut s);
        // s = 9, p = 1 - 0.5 * 3 / 3 = 0.5
        assert_eq!((p, s), ([0.5], [9.0]));
        adagrad_step(&cfg, &mut p, &[4.0], &mut s);
        // s = 25, p = 0.5 - 0.5 * 4 / 5 = 0.1
        assert!((p[0] - 0.1).abs() < 1e-7 && s == [25.0], "{p:?} {s:?}");
    }

    #[test]
    fn state_slots_and_learning_rate() {
        let adam = Optimizer::Adam(AdamConfig {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            decoupled: false,
        });
        assert_eq!(adam.state_slots(), 2);
        assert_eq!(adam.with_lr(0.5).lr(), 0.5);
        let adagrad = Optimizer::AdaGrad(AdaGradConfig {
            lr: 0.1,
            eps: 1e-10,
            weight_decay: 0.0,
            initial_accumulator: 0.25,
        });
        assert_eq!((adagrad.state_slots(), adagrad.initial_state()), (1, 0.25));
    }
}
