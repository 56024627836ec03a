// Second pass of the conv weight gradient: sums the split-K partial products of
// conv_backward_weight_operands.wgsl (partial[split, o, j], j < C_in * KERNEL^2 + 1) into
// dweight[o, j] and, from the last column, dbias[o]. One invocation per output value; the
// splits are few (tens), so a serial sum per value is the cheap part of the gradient.

struct ConvParams {
    m: u32,
    n: u32,
    k: u32,
    k_total: u32,
    c_in: u32,
    h: u32,
    w: u32,
    c_out: u32,
    h_out: u32,
    w_out: u32,
    padding: u32,
    splits: u32,
}

@group(0) @binding(0) var<uniform> params: ConvParams;
@group(0) @binding(1) var<storage, read> partial: array<f32>;
@group(0) @binding(2) var<storage, read_write> dweight: array<f32>;
@group(0) @binding(3) var<storage, read_write> dbias: array<f32>;

@compute @workgroup_size(256, 1, 1)
fn conv_weight_reduce(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    let size = params.m * params.n;
    if i >= size {
        return;
    }
    var sum = 0.0;
    for (var split = 0u; split < params.splits; split++) {
        sum += partial[split * size + i];
    }
    let o = i / params.n;
    let j = i - o * params.n;
    if j == params.n - 1u {
        dbias[o] = sum;
    } else {
        dweight[o * (params.n - 1u) + j] = sum;
    }
}
