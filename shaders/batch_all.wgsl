// Batch-all: every valid triplet (a, p, n) of the anchor. Invocations take positives in turn
// and scan all negatives of the row: O(K * N) per anchor, nothing stored per triplet. Each
// active triplet adds +1 at its negative (integer atomics, exact) and -1 at its positive.

@compute @workgroup_size(64)
fn batch_all(
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
        var active_here = 0i;
        for (var m = 0u; m < n; m++) {
            if labels[m] == la {
                continue;
            }
            let d_an = dist[base + m];
            let loss = d_ap - d_an + params.alpha;
            u.y += 1u;
            f.y += d_ap;
            f.z += d_an;
            if loss > 0.0 {
                u.z += 1u;
                f.x += loss;
                active_here += 1i;
                atomicAdd(&weights[base + m], 1);
            }
        }
        atomicAdd(&weights[base + p], -active_here);
    }
    if t == 0u {
        anchor_scale[a] = 1.0;
    }
    store_anchor_stats(a, t, f, u);
}
