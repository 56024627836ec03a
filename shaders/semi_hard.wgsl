// Semi-hard selection (FaceNet): for each positive pair (a, p), the nearest negative with
// d(a,n) > d(a,p) (and < d(a,p) + alpha with `band`); without one, `inside` takes the farthest
// negative with d(a,n) <= d(a,p), else the pair is skipped. Invocations take positives in turn
// and scan the anchor's row of distances in index order, so strict comparisons keep ties at the
// lowest index. The choice of each pair goes to its slot in the pair table for read-back.

@group(0) @binding(6) var<storage, read> pair_offsets: array<u32>;
@group(0) @binding(7) var<storage, read> label_ranks: array<u32>;
@group(0) @binding(8) var<storage, read_write> pair_table: array<vec2<u32>>;

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
    storageBarrier();

    var f = vec4(0.0);
    var u = vec4(0u);
    for (var p = t; p < n; p += WG) {
        if p == a || labels[p] != la {
            continue;
        }
        u.x += 1u;
        let d_ap = dist[base + p];
        var above = 0.0;
        var above_index = NONE;
        var below = 0.0;
        var below_index = NONE;
        for (var m = 0u; m < n; m++) {
            if labels[m] == la {
                continue;
            }
            let v = dist[base + m];
            if v > d_ap {
                if above_index == NONE || v < above {
                    above = v;
                    above_index = m;
                }
            } else if below_index == NONE || v > below {
                below = v;
                below_index = m;
            }
        }

        var chosen = NONE;
        if above_index != NONE && (params.band == 0u || above < d_ap + params.alpha) {
            chosen = above_index;
            u.w += 1u;
        } else if params.inside != 0u {
            chosen = below_index;
        }
        // Pairs of anchor a sit in the order of p; p's rank in its label skips a itself.
        let slot = pair_offsets[a] + label_ranks[p] - select(0u, 1u, a < p);
        if slot < params.pair_capacity {
            pair_table[slot] = vec2(p, chosen);
        }
        if chosen != NONE {
            let d_an = dist[base + chosen];
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
