// Multiplies the accumulated gradient by the step's grad_scale (2 / loss denominator), which
// only the GPU knows: the counts never travel to the host within a step.

@group(0) @binding(0) var<uniform> params: MiningParams;
@group(0) @binding(1) var<storage, read> stats: StepStats;
@group(0) @binding(2) var<storage, read_write> grad: array<vec4<f32>>;

@compute @workgroup_size(64)
fn scale_grad(@builtin(global_invocation_id) id: vec3<u32>) {
    let i = id.x;
    if i < params.n * params.d / 4u {
        grad[i] *= stats.grad_scale;
    }
}
