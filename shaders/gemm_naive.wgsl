// Baseline kept for the benchmarks only: one output per invocation, every operand from memory.
// Composed after gemm_operands.wgsl (or any file defining params, a_at, b_at and c_store).

@compute @workgroup_size(16, 16, 1)
fn gemm_naive(@builtin(global_invocation_id) gid: vec3<u32>) {
    let col = gid.x;
    let row = gid.y;
    let batch = gid.z;
    if row >= params.m || col >= params.n {
        return;
    }
    var acc = 0.0;
    for (var kk = 0u; kk < params.k; kk++) {
        acc = fma(a_at(batch, row, kk), b_at(batch, kk, col), acc);
    }
    c_store(batch, row, col, acc);
}
