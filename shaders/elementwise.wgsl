// Elementwise updates over flat f32 buffers: one invocation per element, 256 per workgroup,
// workgroups laid out by grid::linear_grid so that more than 65535 of them fit a dispatch.

struct ElementwiseParams {
    len: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> params: ElementwiseParams;
@group(0) @binding(1) var<storage, read> source: array<f32>;
@group(0) @binding(2) var<storage, read_write> accumulator: array<f32>;

// accumulator += source
@compute @workgroup_size(256, 1, 1)
fn add_assign(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let i = (wg.y * groups.x + wg.x) * 256u + li;
    if i < params.len {
        accumulator[i] += source[i];
    }
}
