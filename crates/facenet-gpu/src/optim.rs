//! Optimiser steps in place on the GPU, with the semantics (PyTorch's) and the operation order
//! of [`facenet_ref::optim`], whose module doc gives the formulas.
//!
//! One dispatch per parameter tensor, one invocation per parameter, fused: weight decay, the
//! moment updates, bias correction and the parameter update read and write each value once.
//! The learning rate and the per-step scalars (Adam's bias corrections, computed on the host
//! in f64 by [`AdamConfig::scalars`]) travel in the uniform of each step, so a schedule costs
//! nothing. SGD matches the reference bit for bit (given the device's rounding of `fma`, see
//! [`MulAdd`]); Adam and AdaGrad within a few ulp (sqrt and division).

pub use facenet_ref::optim::{
    AdaGradConfig, AdamConfig, AdamScalars, MulAdd, Optimizer, SgdConfig,
};

use crate::grid::{linear_grid, to_u32};
use crate::{Gpu, GpuBuffer, KernelSpec};

/// Invocations per workgroup of the kernels in `shaders/optim.wgsl`.
const WG: usize = 256;

/// Mirrors `SgdParams` in `shaders/optim.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct SgdParams {
    len: u32,
    has_momentum: u32,
    nesterov: u32,
    _pad: u32,
    lr: f32,
    momentum: f32,
    weight_decay: f32,
    _pad1: f32,
}

/// Mirrors `AdamParams` in `shaders/optim.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct AdamParams {
    len: u32,
    _pad0: [u32; 3],
    beta1: f32,
    beta2: f32,
    one_minus_beta1: f32,
    one_minus_beta2: f32,
    eps: f32,
    l2_decay: f32,
    decay: f32,
    step_size: f32,
    bias_correction2_sqrt: f32,
    _pad1: [f32; 3],
}

/// Mirrors `AdaGradParams` in `shaders/optim.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct AdaGradParams {
    len: u32,
    lr: f32,
    eps: f32,
    weight_decay: f32,
}

fn check_lens(params: &GpuBuffer<f32>, others: &[(&str, &GpuBuffer<f32>)]) {
    for (what, buffer) in others {
        assert_eq!(
            buffer.len(),
            params.len(),
            "{what} has {} values, the parameters {}",
            buffer.len(),
            params.len()
        );
    }
}

fn dispatch<P: bytemuck::Pod>(
    gpu: &Gpu,
    encoder: &mut wgpu::CommandEncoder,
    entry: &'static str,
    uniform: &P,
    len: usize,
    buffers: &[&GpuBuffer<f32>],
) {
    let uniform = gpu.uniform(uniform);
    let pipeline = gpu.pipeline(&KernelSpec::new("optim", entry));
    let mut bound = vec![&uniform];
    bound.extend(buffers.iter().map(|b| &b.buffer));
    gpu.dispatch(encoder, &pipeline, &bound, linear_grid(len.div_ceil(WG)));
}

/// Records one SGD step on `params`. `velocity` starts at zero; it may be empty when
/// `cfg.momentum == 0` (no state).
pub fn sgd_step(
    gpu: &Gpu,
    encoder: &mut wgpu::CommandEncoder,
    cfg: &SgdConfig,
    params: &GpuBuffer<f32>,
    grads: &GpuBuffer<f32>,
    velocity: &GpuBuffer<f32>,
) {
    check_lens(params, &[("grads", grads)]);
    let has_momentum = cfg.momentum != 0.0;
    if has_momentum || !velocity.is_empty() {
        check_lens(params, &[("velocity", velocity)]);
    }
    let uniform = SgdParams {
        len: to_u32(params.len(), "parameter count"),
        has_momentum: has_momentum as u32,
        nesterov: cfg.nesterov as u32,
        _pad: 0,
        lr: cfg.lr,
        momentum: cfg.momentum,
        weight_decay: cfg.weight_decay,
        _pad1: 0.0,
    };
    let buffers = [params, grads, velocity];
    dispatch(gpu, encoder, "sgd_step", &uniform, params.len(), &buffers);
}

/// Records one Adam (or AdamW) step on `params`; `step` is 1-based, `m` and `v` start at zero.
#[allow(clippy::too_many_arguments)]
pub fn adam_step(
    gpu: &Gpu,
    encoder: &mut wgpu::CommandEncoder,
    cfg: &AdamConfig,
    step: u32,
    params: &GpuBuffer<f32>,
    grads: &GpuBuffer<f32>,
    m: &GpuBuffer<f32>,
    v: &GpuBuffer<f32>,
) {
    check_lens(params, &[("grads", grads), ("m", m), ("v", v)]);
    let scalars = cfg.scalars(step);
    let uniform = AdamParams {
        len: to_u32(params.len(), "parameter count"),
        _pad0: [0; 3],
        beta1: cfg.beta1,
        beta2: cfg.beta2,
        one_minus_beta1: 1.0 - cfg.beta1,
        one_minus_beta2: 1.0 - cfg.beta2,
        eps: cfg.eps,
        l2_decay: cfg.l2_decay(),
        decay: scalars.decay,
        step_size: scalars.step_size,
        bias_correction2_sqrt: scalars.bias_correction2_sqrt,
        _pad1: [0.0; 3],
    };
    let buffers = [params, grads, m, v];
    dispatch(gpu, encoder, "adam_step", &uniform, params.len(), &buffers);
}

/// Records one AdaGrad step on `params`; `accum` starts at `cfg.initial_accumulator`.
pub fn adagrad_step(
    gpu: &Gpu,
    encoder: &mut wgpu::CommandEncoder,
    cfg: &AdaGradConfig,
    params: &GpuBuffer<f32>,
    grads: &GpuBuffer<f32>,
    accum: &GpuBuffer<f32>,
) {
    check_lens(params, &[("grads", grads), ("accum", accum)]);
    let uniform = AdaGradParams {
        len: to_u32(params.len(), "parameter count"),
        lr: cfg.lr,
        eps: cfg.eps,
        weight_decay: cfg.weight_decay,
    };
    let buffers = [params, grads, accum];
    dispatch(
        gpu,
        encoder,
        "adagrad_step",
        &uniform,
        params.len(),
        &buffers,
    );
}
