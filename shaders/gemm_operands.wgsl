// Operands of a strided, optionally transposed, optionally batched GEMM:
//   C[b] = alpha * op(A[b]) * op(B[b]) + beta * C[b] + bias (one value per column),
// op(A) is M x K, op(B) is K x N, C is M x N. The kernel bodies (gemm_naive.wgsl,
// gemm_tiled.wgsl) read operands only through a_at / b_at and write only through c_store,
// so an implicit-GEMM kernel (convolution) supplies its own operand file and keeps the tiling.

struct GemmParams {
    m: u32,
    n: u32,
    k: u32,
    batch: u32,
    lda: u32,
    ldb: u32,
    ldc: u32,
    has_bias: u32,
    batch_stride_a: u32,
    batch_stride_b: u32,
    batch_stride_c: u32,
    _pad0: u32,
    alpha: f32,
    beta: f32,
    _pad1: f32,
    _pad2: f32,
}

override TRANS_A: bool = false;
override TRANS_B: bool = false;

@group(0) @binding(0) var<uniform> params: GemmParams;
@group(0) @binding(1) var<storage, read> mat_a: array<f32>;
@group(0) @binding(2) var<storage, read> mat_b: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> mat_c: array<f32>;

// Element (row, col) of op(A) in batch b.
fn a_at(b: u32, row: u32, col: u32) -> f32 {
    let base = b * params.batch_stride_a;
    if TRANS_A {
        return mat_a[base + col * params.lda + row];
    }
    return mat_a[base + row * params.lda + col];
}

// Element (row, col) of op(B) in batch b.
fn b_at(b: u32, row: u32, col: u32) -> f32 {
    let base = b * params.batch_stride_b;
    if TRANS_B {
        return mat_b[base + col * params.ldb + row];
    }
    return mat_b[base + row * params.ldb + col];
}

fn c_store(b: u32, row: u32, col: u32, acc: f32) {
    let i = b * params.batch_stride_c + row * params.ldc + col;
    var value = params.alpha * acc;
    // beta = 0 must not read C: it may hold garbage, NaN included (BLAS semantics).
    if params.beta != 0.0 {
        value += params.beta * mat_c[i];
    }
    if params.has_bias != 0u {
        value += bias[col];
    }
    mat_c[i] = value;
}
