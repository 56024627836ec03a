// Pooling over NCHW planes: 2-D max pooling with argmax indices, and the backward of global
// average pooling (its forward is reduce_sum over each plane). One invocation per output
// value (per input pixel for the backward), 256 per workgroup, workgroups laid out in two
// dimensions so that large tensors fit.

const WG: u32 = 256u;

struct PoolParams {
    planes: u32,
    h: u32,
    w: u32,
    out_h: u32,
    out_w: u32,
    kernel: u32,
    stride: u32,
    padding: u32,
}

@group(0) @binding(0) var<uniform> pool: PoolParams;

fn flat_id(wg: vec3<u32>, groups: vec3<u32>, lid: vec3<u32>) -> u32 {
    return (wg.y * groups.x + wg.x) * WG + lid.x;
}

@group(0) @binding(1) var<storage, read> fwd_x: array<f32>;
@group(0) @binding(2) var<storage, read_write> fwd_y: array<f32>;
@group(0) @binding(3) var<storage, read_write> fwd_indices: array<u32>;

// Scans the window in row-major order; padding is skipped (never wins) and a later value
// must be strictly greater to replace the maximum, so ties go to the first in scan order.
@compute @workgroup_size(WG, 1, 1)
fn max_pool2d_forward(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let o = flat_id(wg, groups, lid);
    let out_plane = pool.out_h * pool.out_w;
    if o >= pool.planes * out_plane {
        return;
    }
    let plane = o / out_plane;
    let oh = (o % out_plane) / pool.out_w;
    let ow = o % pool.out_w;
    let x_base = plane * pool.h * pool.w;
    var best = 0.0;
    var best_index = 0u;
    var found = false;
    for (var kh = 0u; kh < pool.kernel; kh++) {
        // Unsigned wrap-around turns a row above the image into one past its end.
        let ih = oh * pool.stride + kh - pool.padding;
        if ih >= pool.h {
            continue;
        }
        for (var kw = 0u; kw < pool.kernel; kw++) {
            let iw = ow * pool.stride + kw - pool.padding;
            if iw >= pool.w {
                continue;
            }
            let value = fwd_x[x_base + ih * pool.w + iw];
            if !found || value > best {
                best = value;
                best_index = ih * pool.w + iw;
                found = true;
            }
        }
    }
    fwd_y[o] = best;
    fwd_indices[o] = best_index;
}

@group(0) @binding(1) var<storage, read> bwd_dy: array<f32>;
@group(0) @binding(2) var<storage, read> bwd_indices: array<u32>;
@group(0) @binding(3) var<storage, read_write> bwd_dx: array<f32>;

// The outputs [first, end) along one axis whose window holds input position i: window o holds
// i when i + padding - (kernel - 1) <= o * stride <= i + padding.
fn window_range(i: u32, out_len: u32) -> vec2<u32> {
    let last = i + pool.padding;
    let end = min(last / pool.stride + 1u, out_len);
    let lowest = i32(last) - i32(pool.kernel) + 1;
    var first = 0u;
    if lowest > 0 {
        first = (u32(lowest) + pool.stride - 1u) / pool.stride;
    }
    return vec2<u32>(first, end);
}

// Gather form: each input pixel visits the windows that contain it, in ascending output order,
// and adds the dy of those whose argmax is this pixel. No atomics, deterministic.
@compute @workgroup_size(WG, 1, 1)
fn max_pool2d_backward(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let i = flat_id(wg, groups, lid);
    let in_plane = pool.h * pool.w;
    if i >= pool.planes * in_plane {
        return;
    }
    let plane = i / in_plane;
    let pixel = i % in_plane;
    let ih = pixel / pool.w;
    let iw = pixel % pool.w;
    let rows = window_range(ih, pool.out_h);
    let cols = window_range(iw, pool.out_w);
    var acc = 0.0;
    for (var oh = rows.x; oh < rows.y; oh++) {
        for (var ow = cols.x; ow < cols.y; ow++) {
            let o = (plane * pool.out_h + oh) * pool.out_w + ow;
            if bwd_indices[o] == pixel {
                acc += bwd_dy[o];
            }
        }
    }
    bwd_dx[i] = acc;
}

struct SpreadParams {
    len: u32,
    hw: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> spread: SpreadParams;
@group(0) @binding(1) var<storage, read> gap_dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> gap_dx: array<f32>;

// dx[plane, i] = dy[plane] / hw: the mean's gradient spread evenly over its plane.
@compute @workgroup_size(WG, 1, 1)
fn global_avg_pool_backward(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let i = flat_id(wg, groups, lid);
    if i >= spread.len {
        return;
    }
    gap_dx[i] = gap_dy[i / spread.hw] / f32(spread.hw);
}
