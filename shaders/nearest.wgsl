// For each query row, the nearest gallery row by squared Euclidean distance (ties to the lowest
// index) and that distance, without materialising the nq x ng matrix. One workgroup per query:
// invocations take gallery rows in turn and compute |q - g|^2 directly (no cancellation), then
// a tree reduction in workgroup memory keeps the (distance, index) minimum.

struct NearestParams {
    nq: u32,
    ng: u32,
    d: u32,
    // Workgroups along x: query = wg.y * groups_x + wg.x, for more than 65535 queries.
    groups_x: u32,
}

const WG: u32 = 64u;
const NONE: u32 = 0xffffffffu;

@group(0) @binding(0) var<uniform> params: NearestParams;
@group(0) @binding(1) var<storage, read> queries: array<f32>;
@group(0) @binding(2) var<storage, read> gallery: array<f32>;
@group(0) @binding(3) var<storage, read_write> index_out: array<u32>;
@group(0) @binding(4) var<storage, read_write> dist_out: array<f32>;

var<workgroup> best_dist: array<f32, WG>;
var<workgroup> best_index: array<u32, WG>;

// Whether (v2, i2) beats (v1, i1): smaller distance, or the same distance at a lower index.
fn better(v1: f32, i1: u32, v2: f32, i2: u32) -> bool {
    return i2 != NONE && (i1 == NONE || v2 < v1 || (v2 == v1 && i2 < i1));
}

@compute @workgroup_size(64)
fn nearest(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_index) t: u32,
) {
    let query = wg.y * params.groups_x + wg.x;
    if query >= params.nq {
        return;
    }
    var v = 0.0;
    var idx = NONE;
    // Each invocation walks its gallery rows in increasing order, so strict < keeps ties low.
    for (var j = t; j < params.ng; j += WG) {
        var sum = 0.0;
        for (var k = 0u; k < params.d; k++) {
            let diff = queries[query * params.d + k] - gallery[j * params.d + k];
            sum = fma(diff, diff, sum);
        }
        if idx == NONE || sum < v {
            v = sum;
            idx = j;
        }
    }
    best_dist[t] = v;
    best_index[t] = idx;
    workgroupBarrier();
    for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
        if t < stride && better(best_dist[t], best_index[t], best_dist[t + stride],
                                best_index[t + stride]) {
            best_dist[t] = best_dist[t + stride];
            best_index[t] = best_index[t + stride];
        }
        workgroupBarrier();
    }
    if t == 0u {
        index_out[query] = best_index[0];
        dist_out[query] = best_dist[0];
    }
}
