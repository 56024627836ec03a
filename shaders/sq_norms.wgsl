// Squared L2 norm of each row of an n x d matrix: one invocation per row.

struct NormParams {
    n: u32,
    d: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: NormParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> norms: array<f32>;

@compute @workgroup_size(64)
fn sq_norms(@builtin(global_invocation_id) id: vec3<u32>) {
    let row = id.x;
    if row >= params.n {
        return;
    }
    var sum = 0.0;
    for (var k = 0u; k < params.d; k++) {
        let v = x[row * params.d + k];
        sum = fma(v, v, sum);
    }
    norms[row] = sum;
}
