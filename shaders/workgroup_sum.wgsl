// A deterministic sum across one workgroup of REDUCE_WG invocations: a fixed binary tree in
// workgroup memory, so the same inputs give the same bits on every run (no atomics).
// Composed before the kernels that reduce rows (reduce.wgsl, l2norm.wgsl).

const REDUCE_WG: u32 = 64u;

var<workgroup> partial: array<f32, REDUCE_WG>;

// Every invocation contributes `value` and receives the workgroup total. Must be called from
// uniform control flow; the closing barrier lets the caller reuse it straight away.
fn workgroup_sum(li: u32, value: f32) -> f32 {
    partial[li] = value;
    workgroupBarrier();
    for (var stride = REDUCE_WG / 2u; stride > 0u; stride >>= 1u) {
        if li < stride {
            partial[li] += partial[li + stride];
        }
        workgroupBarrier();
    }
    let total = partial[0];
    workgroupBarrier();
    return total;
}
