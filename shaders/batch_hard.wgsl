// Batch-hard selection (Hermans et al. 2017): per anchor, the farthest positive and the nearest
// negative; hinge with alpha, or the soft margin log(1 + exp(d_ap - d_an)). Invocations scan
// strided parts of the row in index order, then a tree reduction of (distance, index) keeps ties
// at the lowest index. The choice goes to anchor_table for read-back.

@group(0) @binding(6) var<storage, read_write> anchor_table: array<vec2<u32>>;

var<workgroup> pos_dist: array<f32, WG>;
var<workgroup> pos_index: array<u32, WG>;
var<workgroup> neg_dist: array<f32, WG>;
var<workgroup> neg_index: array<u32, WG>;

// Whether (v2, i2) beats (v1, i1) for `sign` = 1 (larger wins) or -1 (smaller wins).
fn beats(v1: f32, i1: u32, v2: f32, i2: u32, sign: f32) -> bool {
    return i2 != NONE && (i1 == NONE || sign * v2 > sign * v1 || (v2 == v1 && i2 < i1));
}

@compute @workgroup_size(64)
fn batch_hard(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_index) t: u32,
) {
    let row = wg.x;
    let a = params.row0 + row;
    let n = params.n;
    let la = labels[a];
    let base = row * n;
    clear_weight_row(row, t);

    var pairs = 0u;
    var pv = 0.0;
    var pi = NONE;
    var nv = 0.0;
    var ni = NONE;
    for (var j = t; j < n; j += WG) {
        let v = dist[base + j];
        if labels[j] != la {
            if beats(nv, ni, v, j, -1.0) {
                nv = v;
                ni = j;
            }
        } else if j != a {
            pairs += 1u;
            if beats(pv, pi, v, j, 1.0) {
                pv = v;
                pi = j;
            }
        }
    }
    pos_dist[t] = pv;
    pos_index[t] = pi;
    neg_dist[t] = nv;
    neg_index[t] = ni;
    // Also orders the clearing of the weight row before the writes below.
    storageBarrier();
    workgroupBarrier();
    for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
        if t < stride {
            if beats(pos_dist[t], pos_index[t], pos_dist[t + stride], pos_index[t + stride], 1.0) {
                pos_dist[t] = pos_dist[t + stride];
                pos_index[t] = pos_index[t + stride];
            }
            if beats(neg_dist[t], neg_index[t], neg_dist[t + stride], neg_index[t + stride], -1.0) {
                neg_dist[t] = neg_dist[t + stride];
                neg_index[t] = neg_index[t + stride];
            }
        }
        workgroupBarrier();
    }

    var f = vec4(0.0);
    var u = vec4(pairs, 0u, 0u, 0u);
    if t == 0u {
        let p = pos_index[0];
        let neg = neg_index[0];
        var scale = 1.0;
        if p != NONE && neg != NONE {
            let d_ap = pos_dist[0];
            let d_an = neg_dist[0];
            let z = d_ap - d_an;
            var loss = max(z + params.alpha, 0.0);
            if params.soft_margin != 0u {
                // log(1 + e^z) without overflow; its derivative is the logistic function.
                loss = max(z, 0.0) + log(1.0 + exp(-abs(z)));
                scale = 1.0 / (1.0 + exp(-z));
            }
            f = vec4(0.0, d_ap, d_an, 0.0);
            u.y = 1u;
            if loss > 0.0 {
                f.x = loss;
                u.z = 1u;
                atomicStore(&weights[base + neg], 1);
                atomicStore(&weights[base + p], -1);
            }
            anchor_table[a] = vec2(p, neg);
        } else {
            anchor_table[a] = vec2(NONE, NONE);
        }
        anchor_scale[a] = scale;
    }
    store_anchor_stats(a, t, f, u);
}
