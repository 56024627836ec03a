// Sums the per-anchor partials and the pre-normalisation norms into the step statistics, in a
// fixed order (one workgroup, strided partial sums, then a tree), so every run gives the same
// bits. Also sets grad_scale = 2 / denominator for mining_scale.wgsl.

const WG: u32 = 64u;

@group(0) @binding(0) var<uniform> params: MiningParams;
@group(0) @binding(1) var<storage, read> anchor_stats: array<AnchorStats>;
@group(0) @binding(2) var<storage, read> pre_norms: array<f32>;
@group(0) @binding(3) var<storage, read_write> stats: StepStats;

var<workgroup> sum_f: array<vec4<f32>, WG>;
var<workgroup> sum_u: array<vec4<u32>, WG>;

fn reduce(t: u32, f: vec4<f32>, u: vec4<u32>) {
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
}

fn mean(sum: f32, count: u32) -> f32 {
    return select(sum / f32(count), 0.0, count == 0u);
}

@compute @workgroup_size(64)
fn finalize(@builtin(local_invocation_index) t: u32) {
    let n = params.n;
    var f = vec4(0.0);
    var u = vec4(0u);
    var norm_sum = 0.0;
    for (var i = t; i < n; i += WG) {
        let s = anchor_stats[i];
        f += vec4(s.loss, s.d_ap, s.d_an, 0.0);
        u += vec4(s.pairs, s.triplets, s.active_count, s.found);
        if params.has_norms != 0u {
            norm_sum += pre_norms[i];
        }
    }
    f.w = norm_sum;
    reduce(t, f, u);
    let total_f = sum_f[0];
    let total_u = sum_u[0];
    let norm_mean = total_f.w / f32(max(n, 1u));
    workgroupBarrier();

    // The spread in a second pass around the mean: no cancellation of large squares.
    var sq = 0.0;
    if params.has_norms != 0u {
        for (var i = t; i < n; i += WG) {
            let diff = pre_norms[i] - norm_mean;
            sq = fma(diff, diff, sq);
        }
    }
    reduce(t, vec4(sq, 0.0, 0.0, 0.0), vec4(0u));
    if t == 0u {
        var denominator = total_u.y;
        if params.nonzero_mean != 0u {
            denominator = total_u.z;
        }
        var out: StepStats;
        out.loss = mean(total_f.x, denominator);
        out.loss_nonzero_mean = mean(total_f.x, total_u.z);
        out.mean_d_ap = mean(total_f.y, total_u.y);
        out.mean_d_an = mean(total_f.z, total_u.y);
        if params.has_norms != 0u {
            out.mean_norm = norm_mean;
            out.std_norm = sqrt(sum_f[0].x / f32(max(n, 1u)));
        }
        out.grad_scale = select(2.0 / f32(denominator), 0.0, denominator == 0u);
        out.positive_pairs = total_u.x;
        out.semi_hard_found = total_u.w;
        out.triplets = total_u.y;
        out.active_triplets = total_u.z;
        stats = out;
    }
}
