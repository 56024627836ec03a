// Operands of the convolution weight gradient as an implicit GEMM, split over K. For output
// channel o (M = C_out), column j = (c * KERNEL + r) * KERNEL + s (N = C_in * KERNEL^2 + 1: the
// last column is the bias) and reduction index t = image * H_out * W_out + oh * W_out + ow
// (K_total = batch * H_out * W_out):
//   A[o, t] = g[image, o, oh, ow]
//   B[t, j] = x[image, c, oh * STRIDE + r - padding, ow * STRIDE + s - padding] (0 in padding),
//             and 1 in the bias column, so that column sums g into the bias gradient,
// where g = dy, or dy gated by relu_output > 0 when RELU (the ReLU backward, fused into the
// load). Workgroup z is the split: it covers t in [z * k, (z + 1) * k) and writes its partial
// product to partial[z], which conv_weight_reduce.wgsl sums. Composed with gemm_tiled.wgsl.

struct ConvParams {
    m: u32,
    n: u32,
    k: u32,
    k_total: u32,
    c_in: u32,
    h: u32,
    w: u32,
    c_out: u32,
    h_out: u32,
    w_out: u32,
    padding: u32,
    splits: u32,
}

override KERNEL: u32 = 3u;
override STRIDE: u32 = 1u;
override RELU: bool = false;

// Threads walk t (contiguous in dy and, along a row, in x) when loading either operand.
const TRANS_A: bool = false;
const TRANS_B: bool = true;

@group(0) @binding(0) var<uniform> params: ConvParams;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> relu_output: array<f32>;
@group(0) @binding(3) var<storage, read> x: array<f32>;
@group(0) @binding(4) var<storage, read_write> partial: array<f32>;

fn a_at(split: u32, o: u32, t_local: u32) -> f32 {
    let t = split * params.k + t_local;
    if t >= params.k_total {
        return 0.0;
    }
    let pixels = params.h_out * params.w_out;
    let image = t / pixels;
    let i = (image * params.c_out + o) * pixels + (t - image * pixels);
    if RELU && relu_output[i] <= 0.0 {
        return 0.0;
    }
    return dy[i];
}

fn b_at(split: u32, t_local: u32, j: u32) -> f32 {
    let t = split * params.k + t_local;
    if t >= params.k_total {
        return 0.0;
    }
    if j == params.n - 1u {
        return 1.0;
    }
    let pixels = params.h_out * params.w_out;
    let image = t / pixels;
    let p = t - image * pixels;
    let oh = p / params.w_out;
    let ow = p - oh * params.w_out;
    let c = j / (KERNEL * KERNEL);
    let tap = j - c * KERNEL * KERNEL;
    let r = tap / KERNEL;
    // Unsigned: a tap above or left of the image wraps to a huge value, so one comparison
    // per axis rejects both sides of the padding.
    let ih = oh * STRIDE + r - params.padding;
    let iw = ow * STRIDE + (tap - r * KERNEL) - params.padding;
    if ih >= params.h || iw >= params.w {
        return 0.0;
    }
    return x[((image * params.c_in + c) * params.h + ih) * params.w + iw];
}

fn c_store(split: u32, o: u32, j: u32, acc: f32) {
    partial[(split * params.m + o) * params.n + j] = acc;
}
