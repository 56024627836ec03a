// Per row: how many other rows share its label (its positives) and its rank among the rows of
// its label (how many lower rows share it). Gives each positive pair (a, p) a slot in the pair
// table: offset(a) + rank(p) - [a < p]. One invocation per row, O(n) each.

@group(0) @binding(0) var<uniform> params: MiningParams;
@group(0) @binding(1) var<storage, read> labels: array<u32>;
@group(0) @binding(2) var<storage, read_write> positive_counts: array<u32>;
@group(0) @binding(3) var<storage, read_write> label_ranks: array<u32>;

@compute @workgroup_size(64)
fn label_ranks_of(@builtin(global_invocation_id) id: vec3<u32>) {
    let i = id.x;
    if i >= params.n {
        return;
    }
    let label = labels[i];
    var count = 0u;
    var rank = 0u;
    for (var j = 0u; j < params.n; j++) {
        if labels[j] == label {
            count += 1u;
            rank += select(0u, 1u, j < i);
        }
    }
    positive_counts[i] = count - 1u;
    label_ranks[i] = rank;
}
