// Gradient of the triplet loss from the weight matrix S of a block of anchors (selection fixed).
// A triplet (a, p, n) with weight w adds 2w (x_n - x_p) to row a, 2w (x_p - x_a) to row p and
// 2w (x_a - x_n) to row n. With S[a][j] = w_a * (+count at negatives, -count at positives):
//   grad_i = sum_j S[i][j] x_j  +  sum_a S[a][i] (x_a - x_i),
// the row term for the block's anchors (grad_rows) and the column term for every row
// (grad_cols); the factor 2 / denominator comes last (mining_scale.wgsl). Each dispatch owns the
// rows it writes and blocks run in order, so the sums are deterministic without float atomics.
// S is sparse for semi-hard and batch-hard (at most 2 (K - 1) non-zeros a row), so a workgroup
// first compacts the non-zeros of its row or column, a tile at a time and in index order, into
// workgroup memory: each weight is loaded once by one invocation instead of once by every
// invocation, and only the non-zeros cost a gather of embedding rows (vec4s, d <= 512).

const WG: u32 = 32u;
const VECS: u32 = 4u;
// The vec4 columns each invocation accumulates, ceil(d / 4 / WG) <= VECS: set per embedding
// size so that the loops over columns have a known trip count.
override COLUMN_VECS: u32 = VECS;
// Consecutive weights each invocation scans per tile.
const SPAN: u32 = 16u;
const TILE: u32 = WG * SPAN;

@group(0) @binding(0) var<uniform> params: MiningParams;
@group(0) @binding(1) var<storage, read> emb: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> weights: array<i32>;
@group(0) @binding(3) var<storage, read> anchor_scale: array<f32>;
@group(0) @binding(4) var<storage, read_write> grad: array<vec4<f32>>;

var<workgroup> tile_index: array<u32, TILE>;
var<workgroup> tile_weight: array<i32, TILE>;
var<workgroup> span_counts: array<u32, WG>;
var<workgroup> tile_count: u32;

// Lists the non-zero weights at base + e * stride for e in start .. min(start + TILE, len) in
// tile_index (e) and tile_weight, in order of e, and returns how many (the same in every
// invocation). The caller waits at a barrier before the next tile overwrites the list.
fn compact_tile(t: u32, base: u32, stride: u32, start: u32, len: u32) -> u32 {
    let first = start + t * SPAN;
    var found: array<i32, SPAN>;
    var count = 0u;
    for (var k = 0u; k < SPAN; k++) {
        let e = first + k;
        if e < len {
            found[k] = weights[base + e * stride];
            count += select(0u, 1u, found[k] != 0);
        }
    }
    span_counts[t] = count;
    workgroupBarrier();

    // The spans' exclusive prefix sum, short enough to add up directly.
    var slot = 0u;
    for (var lane = 0u; lane < t; lane++) {
        slot += span_counts[lane];
    }
    if t == WG - 1u {
        tile_count = slot + count;
    }
    for (var k = 0u; k < SPAN; k++) {
        if found[k] != 0 {
            tile_index[slot] = first + k;
            tile_weight[slot] = found[k];
            slot += 1u;
        }
    }
    return workgroupUniformLoad(&tile_count);
}

@compute @workgroup_size(32)
fn grad_rows(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_index) t: u32,
) {
    let row = wg.x;
    let a = params.row0 + row;
    let dv = params.d / 4u;
    var acc: array<vec4<f32>, VECS>;
    for (var start = 0u; start < params.n; start += TILE) {
        let count = compact_tile(t, row * params.n, 1u, start, params.n);
        for (var e = 0u; e < count; e++) {
            let j = tile_index[e];
            let s = f32(tile_weight[e]);
            for (var c = 0u; c < COLUMN_VECS; c++) {
                let col = t + c * WG;
                if col < dv {
                    acc[c] += s * emb[j * dv + col];
                }
            }
        }
        workgroupBarrier();
    }
    let scale = anchor_scale[a];
    for (var c = 0u; c < COLUMN_VECS; c++) {
        let col = t + c * WG;
        if col < dv {
            grad[a * dv + col] += scale * acc[c];
        }
    }
}

@compute @workgroup_size(32)
fn grad_cols(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_index) t: u32,
) {
    let i = wg.x;
    let dv = params.d / 4u;
    var acc: array<vec4<f32>, VECS>;
    for (var start = 0u; start < params.rows; start += TILE) {
        let count = compact_tile(t, i, params.n, start, params.rows);
        for (var e = 0u; e < count; e++) {
            let a = params.row0 + tile_index[e];
            let w = f32(tile_weight[e]) * anchor_scale[a];
            for (var c = 0u; c < COLUMN_VECS; c++) {
                let col = t + c * WG;
                if col < dv {
                    acc[c] += w * (emb[a * dv + col] - emb[i * dv + col]);
                }
            }
        }
        workgroupBarrier();
    }
    for (var c = 0u; c < COLUMN_VECS; c++) {
        let col = t + c * WG;
        if col < dv {
            grad[i * dv + col] += acc[c];
        }
    }
}
