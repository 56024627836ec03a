// Operands of the convolution data gradient as an implicit GEMM in gather form, one image per
// workgroup z. For input pixel q = ih * W + iw (M = H * W), input channel c (N = C_in) and
// k = (o * KERNEL + r) * KERNEL + s (K = C_out * KERNEL^2):
//   A[q, k] = g[image, o, oh, ow] where oh * STRIDE = ih + padding - r and
//             ow * STRIDE = iw + padding - s land on the output grid, else 0
//   B[k, c] = weight[o, c, r, s]
//   dx[image, c, q] = A * B,
// where g = dy, or dy gated by relu_output > 0 when RELU (the ReLU backward, fused into the
// load). Taps that fall between output pixels (stride > 1) or outside them read 0.
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

override KERNEL: u32 = 3u;
override STRIDE: u32 = 1u;
override RELU: bool = false;

// Threads walk input pixels when loading A (contiguous in dy along a row) and k when loading B
// (contiguous in the weight within one output channel).
const TRANS_A: bool = true;
const TRANS_B: bool = true;

@group(0) @binding(0) var<uniform> params: ConvParams;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> relu_output: array<f32>;
@group(0) @binding(3) var<storage, read> weight: array<f32>;
@group(0) @binding(4) var<storage, read_write> dx: array<f32>;

// Output coordinate on the grid a tap reaches, or -1 when it lies between or outside outputs.
fn output_coordinate(input: u32, offset: u32, size: u32) -> i32 {
    let t = i32(input + params.padding) - i32(offset);
    if t < 0 || t % i32(STRIDE) != 0 || t / i32(STRIDE) >= i32(size) {
        return -1;
    }
    return t / i32(STRIDE);
}

fn a_at(image: u32, q: u32, k: u32) -> f32 {
    let ih = q / params.w;
    let iw = q - ih * params.w;
    let o = k / (KERNEL * KERNEL);
    let tap = k - o * KERNEL * KERNEL;
    let r = tap / KERNEL;
    let oh = output_coordinate(ih, r, params.h_out);
    let ow = output_coordinate(iw, tap - r * KERNEL, params.w_out);
    if oh < 0 || ow < 0 {
        return 0.0;
    }
    let i = ((image * params.c_out + o) * params.h_out + u32(oh)) * params.w_out + u32(ow);
    if RELU && relu_output[i] <= 0.0 {
        return 0.0;
    }
    return dy[i];
}

fn b_at(image: u32, k: u32, c: u32) -> f32 {
    let o = k / (KERNEL * KERNEL);
    let tap = k - o * KERNEL * KERNEL;
    return weight[(o * params.c_in + c) * KERNEL * KERNEL + tap];
}

fn c_store(image: u32, q: u32, c: u32, acc: f32) {
    dx[(image * params.c_in + c) * params.m + q] = acc;
}
