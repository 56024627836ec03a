// Optimiser steps, in place, one invocation per parameter, 256 per workgroup, workgroups laid
// out in two dimensions so that large tensors fit. The formulas and their operation order are
// those of facenet_ref::optim (see its module doc): every multiply-add is an explicit fma, and
// the per-step scalars come from the host in the uniform, so SGD matches the reference bit for
// bit and Adam and AdaGrad differ only in how the GPU rounds sqrt and division. WGSL lets a
// device round fma once or twice (facenet_ref::optim::MulAdd); it does so the same way for all.

const WG: u32 = 256u;

fn flat_id(wg: vec3<u32>, groups: vec3<u32>, lid: vec3<u32>) -> u32 {
    return (wg.y * groups.x + wg.x) * WG + lid.x;
}

@group(0) @binding(1) var<storage, read_write> param: array<f32>;
@group(0) @binding(2) var<storage, read> grad: array<f32>;

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

@group(0) @binding(0) var<uniform> sgd: SgdParams;
@group(0) @binding(3) var<storage, read_write> velocity: array<f32>;

@compute @workgroup_size(WG, 1, 1)
fn sgd_step(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let i = flat_id(wg, groups, lid);
    if i >= sgd.len {
        return;
    }
    let g = fma(sgd.weight_decay, param[i], grad[i]);
    var d = g;
    if sgd.has_momentum != 0u {
        let v = fma(sgd.momentum, velocity[i], g);
        velocity[i] = v;
        d = v;
        if sgd.nesterov != 0u {
            d = fma(sgd.momentum, v, g);
        }
    }
    param[i] = fma(-sgd.lr, d, param[i]);
}

struct AdamParams {
    len: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
    beta1: f32,
    beta2: f32,
    one_minus_beta1: f32,
    one_minus_beta2: f32,
    eps: f32,
    // Zero for AdamW: its decay is the `decay` factor instead.
    l2_decay: f32,
    // 1 - lr * weight_decay for AdamW, else 1.
    decay: f32,
    // lr / (1 - beta1^t)
    step_size: f32,
    // sqrt(1 - beta2^t)
    bias_correction2_sqrt: f32,
    _pad3: f32,
    _pad4: f32,
    _pad5: f32,
}

@group(0) @binding(0) var<uniform> adam: AdamParams;
@group(0) @binding(3) var<storage, read_write> exp_avg: array<f32>;
@group(0) @binding(4) var<storage, read_write> exp_avg_sq: array<f32>;

@compute @workgroup_size(WG, 1, 1)
fn adam_step(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let i = flat_id(wg, groups, lid);
    if i >= adam.len {
        return;
    }
    let p = param[i] * adam.decay;
    let g = fma(adam.l2_decay, p, grad[i]);
    let m = fma(adam.beta1, exp_avg[i], adam.one_minus_beta1 * g);
    let v = fma(adam.beta2, exp_avg_sq[i], adam.one_minus_beta2 * g * g);
    exp_avg[i] = m;
    exp_avg_sq[i] = v;
    let denom = sqrt(v) / adam.bias_correction2_sqrt + adam.eps;
    param[i] = fma(-adam.step_size, m / denom, p);
}

struct AdaGradParams {
    len: u32,
    lr: f32,
    eps: f32,
    weight_decay: f32,
}

@group(0) @binding(0) var<uniform> adagrad: AdaGradParams;
@group(0) @binding(3) var<storage, read_write> accum: array<f32>;

@compute @workgroup_size(WG, 1, 1)
fn adagrad_step(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let i = flat_id(wg, groups, lid);
    if i >= adagrad.len {
        return;
    }
    let g = fma(adagrad.weight_decay, param[i], grad[i]);
    let s = fma(g, g, accum[i]);
    accum[i] = s;
    param[i] = fma(-adagrad.lr, g / (sqrt(s) + adagrad.eps), param[i]);
}
