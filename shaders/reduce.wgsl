// Sum over the middle axis of x viewed as [outer, len, inner]:
//   y[o, i] = scale * sum_r x[(o * len + r) * inner + i].
// One workgroup per output value: each invocation sums a strided slice of the reduced axis in
// a fixed order, then workgroup_sum adds the partials in a fixed tree. Workgroups are laid out
// in two dimensions so that more than 65535 outputs fit. Composed after workgroup_sum.wgsl.

struct ReduceParams {
    outer: u32,
    len: u32,
    inner: u32,
    scale: f32,
}

@group(0) @binding(0) var<uniform> params: ReduceParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(REDUCE_WG, 1, 1)
fn reduce_sum(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let out = wg.y * groups.x + wg.x;
    if out >= params.outer * params.inner {
        return;
    }
    let o = out / params.inner;
    let i = out % params.inner;
    let base = o * params.len * params.inner + i;
    var acc = 0.0;
    for (var r = li; r < params.len; r += REDUCE_WG) {
        acc += x[base + r * params.inner];
    }
    let total = workgroup_sum(li, acc);
    if li == 0u {
        y[out] = params.scale * total;
    }
}
