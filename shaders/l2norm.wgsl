// L2 normalisation of the rows of an [n, d] matrix and its backward. One workgroup per row:
// each invocation covers a strided slice of the row, workgroup_sum gives every invocation the
// row's reduction, then each writes its own slice. Workgroups are laid out in two dimensions
// so that more than 65535 rows fit. Composed after workgroup_sum.wgsl.

struct L2Params {
    n: u32,
    d: u32,
    eps: f32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> params: L2Params;

@group(0) @binding(1) var<storage, read> fwd_x: array<f32>;
@group(0) @binding(2) var<storage, read_write> fwd_y: array<f32>;
@group(0) @binding(3) var<storage, read_write> fwd_norms: array<f32>;

// norms[r] = |x_r| (unclamped, kept for the backward and for statistics);
// y_r = x_r / max(|x_r|, eps).
@compute @workgroup_size(REDUCE_WG, 1, 1)
fn l2_normalize_forward(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let row = wg.y * groups.x + wg.x;
    if row >= params.n {
        return;
    }
    let base = row * params.d;
    var acc = 0.0;
    for (var i = li; i < params.d; i += REDUCE_WG) {
        let v = fwd_x[base + i];
        acc = fma(v, v, acc);
    }
    let norm = sqrt(workgroup_sum(li, acc));
    let denom = max(norm, params.eps);
    for (var i = li; i < params.d; i += REDUCE_WG) {
        fwd_y[base + i] = fwd_x[base + i] / denom;
    }
    if li == 0u {
        fwd_norms[row] = norm;
    }
}

@group(0) @binding(1) var<storage, read> bwd_y: array<f32>;
@group(0) @binding(2) var<storage, read> bwd_norms: array<f32>;
@group(0) @binding(3) var<storage, read> bwd_dy: array<f32>;
@group(0) @binding(4) var<storage, read_write> bwd_dx: array<f32>;

// dx = (dy - y <y, dy>) / |x| where |x| >= eps; below it the forward is x / eps, a linear map,
// so dx = dy / eps (finite for a zero row).
@compute @workgroup_size(REDUCE_WG, 1, 1)
fn l2_normalize_backward(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let row = wg.y * groups.x + wg.x;
    if row >= params.n {
        return;
    }
    let base = row * params.d;
    var acc = 0.0;
    for (var i = li; i < params.d; i += REDUCE_WG) {
        acc = fma(bwd_y[base + i], bwd_dy[base + i], acc);
    }
    let norm = bwd_norms[row];
    var dot = workgroup_sum(li, acc);
    if norm < params.eps {
        dot = 0.0;
    }
    let denom = max(norm, params.eps);
    for (var i = li; i < params.d; i += REDUCE_WG) {
        bwd_dx[base + i] = (bwd_dy[base + i] - bwd_y[base + i] * dot) / denom;
    }
}
