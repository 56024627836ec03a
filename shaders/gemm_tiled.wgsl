// Tiled GEMM: a workgroup of (TILE_M / 8) x (TILE_N / 8) invocations computes a TILE_M x TILE_N
// block of C; each invocation holds an 8 x 8 register block, so every value read from workgroup
// memory feeds 8 multiply-adds. Per step of K, TILE_M x 16 and 16 x TILE_N panels of op(A) and
// op(B) are staged in workgroup memory as vec4s. The tile shape is a pipeline constant: 64 x 64
// by default, 128 x 128 for large outputs (half the staging per multiply-add), taller and
// narrower (128 x 32, 128 x 16, 128 x 8) for GEMMs with few columns, 32 x 128 or 16 x 128 for
// few rows, or 16 x 32 for a tiny output, so narrow convolution layers do not compute mostly
// padding. Every shape the launchers use stays within 16 KiB of workgroup memory and 256
// invocations.
// Composed after gemm_operands.wgsl (or any file defining params, a_at, b_at and c_store).

// False only when M and N are multiples of the tile and K of TILE_K: then no edge checks run.
override CHECK_BOUNDS: bool = true;
// Multiples of 8 (the register block) with TILE_M * TILE_N / 64 invocations at most 256.
override TILE_M: u32 = 64u;
override TILE_N: u32 = 64u;

const TILE_K: u32 = 16u;
const BLOCK: u32 = 8u;
override THREADS: u32 = (TILE_M / BLOCK) * (TILE_N / BLOCK);

// panel_a[k * TILE_M / 4 + i / 4][i % 4] holds row i of op(A) at step k; panel_b likewise
// column i of op(B).
var<workgroup> panel_a: array<vec4<f32>, TILE_K * TILE_M / 4u>;
var<workgroup> panel_b: array<vec4<f32>, TILE_K * TILE_N / 4u>;

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

@compute @workgroup_size(TILE_N / BLOCK, TILE_M / BLOCK, 1)
fn gemm_tiled(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let batch = wg.z;
    let row0 = wg.y * TILE_M;
    let col0 = wg.x * TILE_N;
    // acc[2 * i + j]: row i of this invocation's block, columns 4 * j .. 4 * j + 3.
    var acc: array<vec4<f32>, 16>;

    for (var k0 = 0u; k0 < params.k; k0 += TILE_K) {
        // Neighbouring invocations walk the operand's contiguous dimension, so loads coalesce.
        // One loop stages both panels (the longer one takes more steps), so a square tile
        // interleaves the loads of A and B. Both panel sizes are multiples of THREADS, so each
        // guard is uniform across the workgroup, and constant for a square tile.
        for (var i = 0u; i < max(TILE_M, TILE_N) * TILE_K / THREADS; i++) {
            let e = li + i * THREADS;
            if e < TILE_M * TILE_K {
                var ka = e % TILE_K;
                var ra = e / TILE_K;
                if TRANS_A {
                    ka = e / TILE_M;
                    ra = e % TILE_M;
                }
                panel_a[(ka * TILE_M + ra) / 4u][ra % 4u] = load_a(batch, row0 + ra, k0 + ka);
            }
            if e < TILE_N * TILE_K {
                var kb = e / TILE_N;
                var cb = e % TILE_N;
                if TRANS_B {
                    kb = e % TILE_K;
                    cb = e / TILE_K;
                }
                panel_b[(kb * TILE_N + cb) / 4u][cb % 4u] = load_b(batch, k0 + kb, col0 + cb);
            }
        }
        workgroupBarrier();

        for (var kk = 0u; kk < TILE_K; kk++) {
            let a_lo = panel_a[kk * TILE_M / 4u + lid.y * 2u];
            let a_hi = panel_a[kk * TILE_M / 4u + lid.y * 2u + 1u];
            let b_lo = panel_b[kk * TILE_N / 4u + lid.x * 2u];
            let b_hi = panel_b[kk * TILE_N / 4u + lid.x * 2u + 1u];
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
