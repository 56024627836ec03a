// Operands of the convolution forward pass as an implicit GEMM, one image per workgroup z:
//   A[p, k] = x[image, c, oh * STRIDE + r - padding, ow * STRIDE + s - padding]  (0 in padding)
//   B[k, o] = weight[o, c, r, s]
//   y[image, o, p] = A * B + bias[o], then ReLU when RELU,
// with p = oh * W_out + ow (M = H_out * W_out) and k = (c * KERNEL + r) * KERNEL + s
// (K = C_in * KERNEL^2). Nothing like im2col is materialised: a_at computes the tap address.
// Composed with gemm_tiled.wgsl.

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

// Kernel side and stride are constants of the pipeline, so the tap arithmetic divides by
// constants; ReLU is fused into the store.
override KERNEL: u32 = 3u;
override STRIDE: u32 = 1u;
override RELU: bool = false;

// Threads walk output pixels (contiguous in x) when loading A and k (contiguous in the
// weight) when loading B.
const TRANS_A: bool = true;
const TRANS_B: bool = true;

@group(0) @binding(0) var<uniform> params: ConvParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

fn a_at(image: u32, p: u32, k: u32) -> f32 {
    let oh = p / params.w_out;
    let ow = p - oh * params.w_out;
    let c = k / (KERNEL * KERNEL);
    let tap = k - c * KERNEL * KERNEL;
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

fn b_at(image: u32, k: u32, o: u32) -> f32 {
    return weight[o * params.k + k];
}

fn c_store(image: u32, p: u32, o: u32, acc: f32) {
    var value = acc + bias[o];
    if RELU {
        value = max(value, 0.0);
    }
    y[(image * params.c_out + o) * params.m + p] = value;
}
