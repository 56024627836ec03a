// Elementwise updates over flat f32 buffers: one invocation per element, 256 per workgroup,
// the grid folded into x and y so that more than 65535 workgroups fit a dispatch.

struct ElementwiseParams {
    len: u32,
    // Invocations per row of the folded grid: 256 * number of workgroups in x.
    row_stride: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: ElementwiseParams;
@group(0) @binding(1) var<storage, read> source: array<f32>;
@group(0) @binding(2) var<storage, read_write> accumulator: array<f32>;

// accumulator += source
@compute @workgroup_size(256, 1, 1)
fn add_assign(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.y * params.row_stride + gid.x;
    if i < params.len {
        accumulator[i] += source[i];
    }
}
