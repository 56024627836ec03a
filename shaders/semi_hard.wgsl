// Semi-hard selection (FaceNet): for each positive pair (a, p), the nearest negative with
// d(a,n) > d(a,p) (and < d(a,p) + alpha with `band`); without one, `inside` takes the farthest
// negative with d(a,n) <= d(a,p), else the pair is skipped. The choice of each pair goes to its
// slot in the pair table for read-back.
//
// Each invocation takes one positive (by its rank among the anchor's positives, WG at a time)
// and scans the anchor's row in index order, so strict comparisons keep ties at the lowest
// index. The row is staged in workgroup memory a chunk at a time, as vec4s, with every
// non-negative masked to -1 (below any distance, so never chosen): the scan reads one vec4 per
// four entries and updates its choice with selects, instead of a label and a distance load and
// branches per entry.

// Distances staged per chunk: 8 KiB of workgroup memory.
const CHUNK: u32 = 2048u;
const MASKED: f32 = -1.0;

@group(0) @binding(6) var<storage, read> pair_offsets: array<u32>;
@group(0) @binding(7) var<storage, read> label_ranks: array<u32>;
@group(0) @binding(8) var<storage, read_write> pair_table: array<vec2<u32>>;

var<workgroup> negatives: array<vec4<f32>, CHUNK / 4u>;
var<workgroup> positives: array<u32, WG>;
var<workgroup> positive_count: u32;

@compute @workgroup_size(64)
fn semi_hard(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_index) t: u32,
) {
    let row = wg.x;
    let a = params.row0 + row;
    let n = params.n;
    let la = labels[a];
    let base = row * n;
    clear_weight_row(row, t);
    if t == 0u {
        positive_count = pair_offsets[a + 1u] - pair_offsets[a];
    }
    // Also orders the clearing of the weight row before the atomic adds below.
    storageBarrier();
    let count = workgroupUniformLoad(&positive_count);

    var f = vec4(0.0);
    var u = vec4(0u);
    for (var first = 0u; first < count; first += WG) {
        // The positives of ranks first .. first + WG; p's rank skips a itself.
        for (var j = t; j < n; j += WG) {
            if j != a && labels[j] == la {
                let rank = label_ranks[j] - select(0u, 1u, a < j);
                if rank >= first && rank < first + WG {
                    positives[rank - first] = j;
                }
            }
        }
        workgroupBarrier();
        let has_pair = first + t < count;
        var p = 0u;
        var d_ap = 0.0;
        if has_pair {
            p = positives[t];
            d_ap = dist[base + p];
        }

        // An infinite start lets every finite distance in; masked entries never beat `below`.
        var above = bitcast<f32>(0x7f800000u);
        var above_index = NONE;
        var below = MASKED;
        var below_index = NONE;
        for (var start = 0u; start < n; start += CHUNK) {
            let len = min(CHUNK, n - start);
            let quads = (len + 3u) / 4u;
            // The previous chunk (and list of positives) is read by every invocation.
            workgroupBarrier();
            for (var q = t; q < quads; q += WG) {
                var v = vec4(MASKED);
                for (var k = 0u; k < 4u; k++) {
                    let j = start + 4u * q + k;
                    if j < n && labels[j] != la {
                        v[k] = dist[base + j];
                    }
                }
                negatives[q] = v;
            }
            workgroupBarrier();
            let scan = select(0u, quads, has_pair);
            for (var q = 0u; q < scan; q++) {
                let v = negatives[q];
                for (var k = 0u; k < 4u; k++) {
                    // Non-short-circuit `&`: selects, not branches, in the hot loop.
                    let is_above = v[k] > d_ap;
                    let take_above = is_above & (v[k] < above);
                    let take_below = !is_above & (v[k] > below);
                    let index = start + 4u * q + k;
                    above = select(above, v[k], take_above);
                    above_index = select(above_index, index, take_above);
                    below = select(below, v[k], take_below);
                    below_index = select(below_index, index, take_below);
                }
            }
        }
        if !has_pair {
            continue;
        }

        u.x += 1u;
        var chosen = NONE;
        var d_an = 0.0;
        if above_index != NONE && (params.band == 0u || above < d_ap + params.alpha) {
            chosen = above_index;
            d_an = above;
            u.w += 1u;
        } else if params.inside != 0u {
            chosen = below_index;
            d_an = below;
        }
        let slot = pair_offsets[a] + first + t;
        if slot < params.pair_capacity {
            pair_table[slot] = vec2(p, chosen);
        }
        if chosen != NONE {
            let loss = d_ap - d_an + params.alpha;
            u.y += 1u;
            f.y += d_ap;
            f.z += d_an;
            if loss > 0.0 {
                u.z += 1u;
                f.x += loss;
                atomicAdd(&weights[base + chosen], 1);
                atomicAdd(&weights[base + p], -1);
            }
        }
    }
    if t == 0u {
        anchor_scale[a] = 1.0;
    }
    store_anchor_stats(a, t, f, u);
}
