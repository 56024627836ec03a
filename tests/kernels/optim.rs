//! Optimiser steps on the GPU against `facenet_ref::optim` over several steps, with a learning
//! rate that changes every step (as a schedule sets it) and a tensor length that is not a
//! multiple of the 256-invocation workgroup.

use facenet_gpu::optim::{self, AdaGradConfig, AdamConfig, MulAdd, SgdConfig};
use facenet_gpu::{Gpu, GpuBuffer, wgpu};

use crate::common::{assert_close, gpu, random_vec};

const LEN: usize = 1037;
const STEPS: u32 = 5;
const EPS: f32 = f32::EPSILON;

fn upload(gpu: &Gpu, data: &[f32]) -> GpuBuffer<f32> {
    GpuBuffer::from_slice(gpu, data, &[data.len()])
}

/// A decaying schedule: each step's learning rate differs from the last.
fn lr_at(base: f32, step: u32) -> f32 {
    base * (1.0 - 0.1 * step as f32)
}

/// Runs `STEPS` steps on both sides from the same start and returns, for each tensor
/// (parameters, then state), the GPU values and the reference values.
fn run_steps(
    gpu: &Gpu,
    seed: u64,
    state: &[f32],
    slots: usize,
    mut step_ref: impl FnMut(u32, &mut [f32], &[f32], &mut [Vec<f32>]),
    mut step_gpu: impl FnMut(
        u32,
        &mut wgpu::CommandEncoder,
        &GpuBuffer<f32>,
        &GpuBuffer<f32>,
        &[GpuBuffer<f32>],
    ),
) -> Vec<(Vec<f32>, Vec<f32>)> {
    let mut params = random_vec(seed, LEN);
    let mut states: Vec<Vec<f32>> = (0..slots).map(|_| state.to_vec()).collect();
    let params_gpu = upload(gpu, &params);
    let states_gpu: Vec<GpuBuffer<f32>> = states.iter().map(|s| upload(gpu, s)).collect();
    for step in 1..=STEPS {
        let grads = random_vec(seed + u64::from(step), LEN);
        step_ref(step, &mut params, &grads, &mut states);
        let grads_gpu = upload(gpu, &grads);
        let mut encoder = gpu.encoder();
        step_gpu(step, &mut encoder, &params_gpu, &grads_gpu, &states_gpu);
        gpu.submit(encoder);
    }
    let mut out = vec![(params_gpu.read(gpu).unwrap(), params)];
    for (buffer, reference) in states_gpu.iter().zip(states) {
        out.push((buffer.read(gpu).unwrap(), reference));
    }
    out
}

#[test]
fn sgd_matches_the_reference_bit_for_bit() {
    let Some(gpu) = gpu() else { return };
    let base = SgdConfig {
        lr: 0.1,
        momentum: 0.9,
        weight_decay: 0.0,
        nesterov: false,
    };
    let configs = [
        base,
        SgdConfig {
            nesterov: true,
            weight_decay: 5e-4,
            ..base
        },
        SgdConfig {
            momentum: 0.0,
            weight_decay: 1e-2,
            ..base
        },
    ];
    for (i, cfg) in configs.into_iter().enumerate() {
        // Without momentum there is no state: the velocity buffers are empty.
        let velocity = vec![0.0; LEN * optim::Optimizer::Sgd(cfg).state_slots()];
        let at = |step| SgdConfig {
            lr: lr_at(cfg.lr, step),
            ..cfg
        };
        let run = |mul_add: MulAdd| {
            run_steps(
                gpu,
                600 + 10 * i as u64,
                &velocity,
                1,
                |step, p, g, s| {
                    facenet_ref::optim::sgd_step_rounded(&at(step), mul_add, p, g, &mut s[0])
                },
                |step, encoder, p, g, s| optim::sgd_step(gpu, encoder, &at(step), p, g, &s[0]),
            )
        };
        // The same multiply-adds in the same order on both sides: identical bits, with the
        // reference rounding them as this device rounds WGSL's fma (once or twice).
        let bits = |values: &[f32]| values.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        let identical = |results: &[(Vec<f32>, Vec<f32>)]| {
            results.iter().all(|(got, want)| bits(got) == bits(want))
        };
        assert!(
            identical(&run(MulAdd::Fused)) || identical(&run(MulAdd::Separate)),
            "SGD {cfg:?}: the GPU matches the reference neither with fused nor with separate \
             multiply-adds"
        );
    }
}

#[test]
fn adam_and_adamw_over_several_steps() {
    let Some(gpu) = gpu() else { return };
    let base = AdamConfig {
        lr: 1e-2,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weight_decay: 0.0,
        decoupled: false,
    };
    let configs = [
        base,
        AdamConfig {
            weight_decay: 1e-2,
            ..base
        },
        AdamConfig {
            weight_decay: 1e-1,
            decoupled: true,
            ..base
        },
    ];
    for (i, cfg) in configs.into_iter().enumerate() {
        let at = |step| AdamConfig {
            lr: lr_at(cfg.lr, step),
            ..cfg
        };
        let results = run_steps(
            gpu,
            700 + 10 * i as u64,
            &vec![0.0; LEN],
            2,
            |step, p, g, s| {
                let (m, v) = s.split_at_mut(1);
                facenet_ref::optim::adam_step(&at(step), step, p, g, &mut m[0], &mut v[0])
            },
            |step, encoder, p, g, s| {
                optim::adam_step(gpu, encoder, &at(step), step, p, g, &s[0], &s[1])
            },
        );
        // Each step moves a parameter by lr times m_hat / (sqrt(v_hat) + eps), a ratio of a few
        // units at most, whose sqrt and division GPUs may round within 2.5 ulp each; errors add
        // up over the steps. The moments see those differences only through the decay terms.
        let steps = STEPS as f32;
        let p_tol = (steps * 64.0 * EPS * cfg.lr, 2.0 * steps * EPS);
        let state_tol = 4.0 * steps * EPS;
        let what = format!("Adam {cfg:?}");
        let [params, m, v] = &results[..] else {
            unreachable!()
        };
        assert_close(
            &format!("params {what}"),
            &params.0,
            &params.1,
            p_tol.0,
            p_tol.1,
        );
        assert_close(&format!("m {what}"), &m.0, &m.1, state_tol, state_tol);
        assert_close(&format!("v {what}"), &v.0, &v.1, state_tol, state_tol);
    }
}

#[test]
fn adagrad_over_several_steps() {
    let Some(gpu) = gpu() else { return };
    let base = AdaGradConfig {
        lr: 0.05,
        eps: 1e-10,
        weight_decay: 0.0,
        initial_accumulator: 0.0,
    };
    let configs = [
        base,
        AdaGradConfig {
            weight_decay: 1e-2,
            initial_accumulator: 0.1,
            ..base
        },
    ];
    for (i, cfg) in configs.into_iter().enumerate() {
        let at = |step| AdaGradConfig {
            lr: lr_at(cfg.lr, step),
            ..cfg
        };
        let start = vec![optim::Optimizer::AdaGrad(cfg).initial_state(); LEN];
        let results = run_steps(
            gpu,
            800 + 10 * i as u64,
            &start,
            1,
            |step, p, g, s| facenet_ref::optim::adagrad_step(&at(step), p, g, &mut s[0]),
            |step, encoder, p, g, s| optim::adagrad_step(gpu, encoder, &at(step), p, g, &s[0]),
        );
        // Each step moves a parameter by lr * g / (sqrt(s) + eps), at most lr in size since
        // s >= g^2, with a sqrt and a division that GPUs may round within 2.5 ulp each.
        let steps = STEPS as f32;
        let what = format!("AdaGrad {cfg:?}");
        let [params, accum] = &results[..] else {
            unreachable!()
        };
        let (atol, rtol) = (steps * 16.0 * EPS * cfg.lr, 2.0 * steps * EPS);
        assert_close(&format!("params {what}"), &params.0, &params.1, atol, rtol);
        let tol = 4.0 * steps * EPS;
        assert_close(&format!("accum {what}"), &accum.0, &accum.1, tol, tol);
    }
}
