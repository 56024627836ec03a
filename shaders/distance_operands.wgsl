// Operands that turn the tiled GEMM (gemm_tiled.wgsl) into squared Euclidean distances:
//   dist[row][col] = max(|q_i|^2 + |g_col|^2 - 2 q_i . g_col, 0), i = row0 + row,
// with the squared norms computed once beforehand (sq_norms.wgsl). op(A) is the block of query
// rows (rows x d), op(B) the transposed gallery (d x ng), C the rows x ng block of distances.
// With self_pairs set, queries and gallery are the same rows and d(i, i) is exactly 0.

struct DistanceParams {
    m: u32,
    n: u32,
    k: u32,
    row0: u32,
    self_pairs: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

// The gallery is stored ng x d, so op(B) reads it transposed.
const TRANS_A: bool = false;
const TRANS_B: bool = true;

@group(0) @binding(0) var<uniform> params: DistanceParams;
@group(0) @binding(1) var<storage, read> queries: array<f32>;
@group(0) @binding(2) var<storage, read> gallery: array<f32>;
@group(0) @binding(3) var<storage, read> query_norms: array<f32>;
@group(0) @binding(4) var<storage, read> gallery_norms: array<f32>;
@group(0) @binding(5) var<storage, read_write> dist: array<f32>;

fn a_at(b: u32, row: u32, col: u32) -> f32 {
    return queries[(params.row0 + row) * params.k + col];
}

fn b_at(b: u32, row: u32, col: u32) -> f32 {
    return gallery[col * params.k + row];
}

fn c_store(b: u32, row: u32, col: u32, acc: f32) {
    let i = params.row0 + row;
    // Cancellation can leave a tiny negative value for near-identical rows: clamp it.
    var value = max(query_norms[i] + gallery_norms[col] - 2.0 * acc, 0.0);
    if params.self_pairs != 0u && i == col {
        value = 0.0;
    }
    dist[row * params.n + col] = value;
}
