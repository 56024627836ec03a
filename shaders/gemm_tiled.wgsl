// Tiled GEMM: a workgroup of 8 x 8 invocations computes a 64 x 64 block of C; each invocation
// holds an 8 x 8 register block, so every value read from workgroup memory feeds 8 multiply-adds.
// Per step of K, 64 x 16 panels of op(A) and op(B) are staged in workgroup memory as vec4s
// (8 KiB in all, within the 16 KiB every adapter has). Composed after gemm_operands.wgsl (or
// any file defining params, a_at, b_at and c_store).

// False only when M and N are multiples of TILE and K of TILE_K: then no edge checks run.
override CHECK_BOUNDS: bool = true;

const TILE: u32 = 64u;
const TILE_K: u32 = 16u;
const BLOCK: u32 = 8u;
const THREADS: u32 = 64u;
const VECS_PER_ROW: u32 = TILE / 4u;

// panel[k * VECS_PER_ROW + i / 4][i % 4] holds element i (row of A, column of B) at step k.
var<workgroup> panel_a: array<vec4<f32>, TILE_K * VECS_PER_ROW>;
var<workgroup> panel_b: array<vec4<f32>, TILE_K * VECS_PER_ROW>;

fn load_a(b: u32, row: u32, kk: u32) -> f32 {
    if CHECK_BOUNDS && (row >= params.m || kk >= params.k) {
        return 0.0;
    }
    return a_at(b, row, kk);
}

fn load_b(b: u32, kk: u32, col: u32) -> f32 {
    if CHECK_BOUNDS && (kk >= params.k || col >= params.n) {
        return 0.0;
    }
    return b_at(b, kk, col);
}

@compute @workgroup_size(8, 8, 1)
fn gemm_tiled(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let batch = wg.z;
    let row0 = wg.y * TILE;
    let col0 = wg.x * TILE;
    // acc[2 * i + j]: row i of this invocation's block, columns 4 * j .. 4 * j + 3.
    var acc: array<vec4<f32>, 16>;

    for (var k0 = 0u; k0 < params.k; k0 += TILE_K) {
        // Neighbouring invocations walk the operand's contiguous dimension, so loads coalesce.
        for (var i = 0u; i < TILE * TILE_K / THREADS; i++) {
            let e = li + i * THREADS;
            var ka = e % TILE_K;
            var ra = e / TILE_K;
            if TRANS_A {
                ka = e / TILE;
                ra = e % TILE;
            }
            panel_a[ka * VECS_PER_ROW + ra / 4u][ra % 4u] = load_a(batch, row0 + ra, k0 + ka);
            var kb = e / TILE;
            var cb = e % TILE;
            if TRANS_B {
                kb = e % TILE_K;
                cb = e / TILE_K;
            }
            panel_b[kb * VECS_PER_ROW + cb / 4u][cb % 4u] = load_b(batch, k0 + kb, col0 + cb);
        }
        workgroupBarrier();

        for (var kk = 0u; kk < TILE_K; kk++) {
            let a_lo = panel_a[kk * VECS_PER_ROW + lid.y * 2u];
            let a_hi = panel_a[kk * VECS_PER_ROW + lid.y * 2u + 1u];
            let b_lo = panel_b[kk * VECS_PER_ROW + lid.x * 2u];
            let b_hi = panel_b[kk * VECS_PER_ROW + lid.x * 2u + 1u];
        acc[0u] = fma(vec4(a_lo.x), b_lo, acc[0u]);
        acc[1u] = fma(vec4(a_lo.x), b_hi, acc[1u]);
        acc[2u] = fma(vec4(a_lo.y), b_lo, acc[2u]);
        acc[3u] = fma(vec4(a_lo.y), b_hi, acc[3u]);
        acc[4u] = fma(vec4(a_lo.z), b_lo, acc[4u]);
        acc[5u] = fma(vec4(a_lo.z), b_hi, acc[5u]);
        acc[6u] = fma(vec4(a_lo.w), b_lo, acc[6u]);
        acc[7u] = fma(vec4(a_lo.w), b_hi, acc[7u]);
        acc[8u] = fma(vec4(a_hi.x), b_lo, acc[8u]);
        acc[9u] = fma(vec4(a_hi.x), b_hi, acc[9u]);
        acc[10u] = fma(vec4(a_hi.y), b_lo, acc[10u]);
        acc[11u] = fma(vec4(a_hi.y), b_hi, acc[11u]);
        acc[12u] = fma(vec4(a_hi.z), b_lo, acc[12u]);
        acc[13u] = fma(vec4(a_hi.z), b_hi, acc[13u]);
        acc[14u] = fma(vec4(a_hi.w), b_lo, acc[14u]);
        acc[15u] = fma(vec4(a_hi.w), b_hi, acc[15u]);
        }
        workgroupBarrier();
    }

    for (var i = 0u; i < BLOCK; i++) {
        let row = row0 + lid.y * BLOCK + i;
        for (var j = 0u; j < BLOCK; j++) {
            let col = col0 + lid.x * BLOCK + j;
            if !CHECK_BOUNDS || (row < params.m && col < params.n) {
                c_store(batch, row, col, acc[2u * i + j / 4u][j % 4u]);
            }
        }
    }
}
