// Gradient of the triplet loss from the weight matrix S of a block of anchors (selection fixed).
// A triplet (a, p, n) with weight w adds 2w (x_n - x_p) to row a, 2w (x_p - x_a) to row p and
// 2w (x_a - x_n) to row n. With S[a][j] = w_a * (+count at negatives, -count at positives):
//   grad_i = sum_j S[i][j] x_j  +  sum_a S[a][i] (x_a - x_i),
// the row term for the block's anchors (grad_rows) and the column term for every row
// (grad_cols); the factor 2 / denominator comes last (mining_scale.wgsl). Each dispatch owns the
// rows it writes and blocks run in order, so the sums are deterministic without float atomics.
// Zero weights are skipped: for semi-hard and batch-hard S is sparse. Rows are vec4s, d <= 512.

const WG: u32 = 32u;
const VECS: u32 = 4u;

@group(0) @binding(0) var<uniform> params: MiningParams;
@group(0) @binding(1) var<storage, read> emb: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> weights: array<i32>;
@group(0) @binding(3) var<storage, read> anchor_scale: array<f32>;
@group(0) @binding(4) var<storage, read_write> grad: array<vec4<f32>>;

@compute @workgroup_size(32)
fn grad_rows(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_index) t: u32,
) {
    let row = wg.x;
    let a = params.row0 + row;
    let dv = params.d / 4u;
    var acc: array<vec4<f32>, VECS>;
    for (var j = 0u; j < params.n; j++) {
        let s = weights[row * params.n + j];
        if s != 0 {
            for (var c = 0u; c < VECS; c++) {
                let col = t + c * WG;
                if col < dv {
                    acc[c] += f32(s) * emb[j * dv + col];
                }
            }
        }
    }
    let scale = anchor_scale[a];
    for (var c = 0u; c < VECS; c++) {
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
    for (var row = 0u; row < params.rows; row++) {
        let s = weights[row * params.n + i];
        if s != 0 {
            let a = params.row0 + row;
            let w = f32(s) * anchor_scale[a];
            for (var c = 0u; c < VECS; c++) {
                let col = t + c * WG;
                if col < dv {
                    acc[c] += w * (emb[a * dv + col] - emb[i * dv + col]);
                }
            }
        }
    }
    for (var c = 0u; c < VECS; c++) {
        let col = t + c * WG;
        if col < dv {
            grad[i * dv + col] += acc[c];
        }
    }
}
