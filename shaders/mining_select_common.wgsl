// What the selection kernels (semi_hard, batch_hard, batch_all) share. One workgroup per anchor
// row of the block reads only that row of distances (every rule is row-local) and writes
// - its row of S: integer counts, +c at a negative used c times by active triplets, -c at a
//   positive; integer atomics keep the sums exact and order-independent, so deterministic;
// - the anchor's multiplier of S (1, or the logistic of the soft margin);
// - the anchor's statistics partials.

const WG: u32 = 64u;

@group(0) @binding(0) var<uniform> params: MiningParams;
@group(0) @binding(1) var<storage, read> labels: array<u32>;
@group(0) @binding(2) var<storage, read> dist: array<f32>;
@group(0) @binding(3) var<storage, read_write> weights: array<atomic<i32>>;
@group(0) @binding(4) var<storage, read_write> anchor_scale: array<f32>;
@group(0) @binding(5) var<storage, read_write> anchor_stats: array<AnchorStats>;

var<workgroup> sum_f: array<vec4<f32>, WG>;
var<workgroup> sum_u: array<vec4<u32>, WG>;

fn clear_weight_row(row: u32, t: u32) {
    for (var j = t; j < params.n; j += WG) {
        atomicStore(&weights[row * params.n + j], 0);
    }
}

// f = (loss, d_ap, d_an, -), u = (pairs, triplets, active, found) of this invocation; the sum
// runs as a tree in a fixed order.
fn store_anchor_stats(anchor: u32, t: u32, f: vec4<f32>, u: vec4<u32>) {
    sum_f[t] = f;
    sum_u[t] = u;
    workgroupBarrier();
    for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
        if t < stride {
            sum_f[t] += sum_f[t + stride];
            sum_u[t] += sum_u[t + stride];
        }
        workgroupBarrier();
    }
    if t == 0u {
        let s = sum_f[0];
        let c = sum_u[0];
        anchor_stats[anchor] = AnchorStats(s.x, s.y, s.z, 0.0, c.x, c.y, c.z, c.w);
    }
}
