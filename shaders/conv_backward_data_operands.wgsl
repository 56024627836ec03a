// Operands of the convolution data gradient as an implicit GEMM in gather form, one stride
// phase per dispatch and one image per workgroup z. Input pixel ih only receives taps r with
// r = (ih + padding) mod STRIDE (the others fall between output pixels), so the launcher splits
// the input into STRIDE^2 phases (ph, pw) and runs one GEMM per phase over its pixels and taps
// alone: no multiply-add is spent on a tap that misses the output grid.
//
// A phase holds the pixels ih = first_h + STRIDE * a (a < phase_h), iw = first_w + STRIDE * b
// (b < phase_w), and the taps r = tap_h + STRIDE * i (i < taps_h), s = tap_w + STRIDE * j
// (j < taps_w). Such a tap reaches oh = shift_h + a - i, ow = shift_w + b - j exactly, with
// shift_h = (first_h + padding - tap_h) / STRIDE. For q = a * phase_w + b (M = phase_h *
// phase_w), input channel c (N = C_in) and k = (o * taps_h + i) * taps_w + j
// (K = C_out * taps_h * taps_w):
//   A[q, k] = g[image, o, oh, ow] when (oh, ow) lies on the output grid, else 0
//   B[k, c] = weight[o, c, r, s]
//   dx[image, c, ih, iw] = A * B,
// where g = dy, or dy gated by relu_output > 0 when RELU (the ReLU backward, fused into the
// load). A phase without taps (kernel < stride) has K = 0 and stores zeros.
// Composed with gemm_tiled.wgsl.

struct DataGradParams {
    m: u32,
    n: u32,
    k: u32,
    c_in: u32,
    h: u32,
    w: u32,
    c_out: u32,
    h_out: u32,
    w_out: u32,
    phase_w: u32,
    first_h: u32,
    first_w: u32,
    tap_h: u32,
    tap_w: u32,
    taps_h: u32,
    taps_w: u32,
    shift_h: u32,
    shift_w: u32,
    _pad0: u32,
    _pad1: u32,
}

override KERNEL: u32 = 3u;
override STRIDE: u32 = 1u;
override RELU: bool = false;

// Threads walk input pixels when loading A (contiguous in dy along a row) and k when loading B.
const TRANS_A: bool = true;
const TRANS_B: bool = true;

@group(0) @binding(0) var<uniform> params: DataGradParams;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> relu_output: array<f32>;
@group(0) @binding(3) var<storage, read> weight: array<f32>;
@group(0) @binding(4) var<storage, read_write> dx: array<f32>;

// Taps per phase along each axis. At stride 1 the one phase has every tap, and the constant
// lets the compiler turn the tap divisions into multiplications.
fn taps_h() -> u32 {
    if STRIDE == 1u {
        return KERNEL;
    }
    return params.taps_h;
}

fn taps_w() -> u32 {
    if STRIDE == 1u {
        return KERNEL;
    }
    return params.taps_w;
}

fn a_at(image: u32, q: u32, k: u32) -> f32 {
    let a = q / params.phase_w;
    let b = q - a * params.phase_w;
    let taps = taps_h() * taps_w();
    let o = k / taps;
    let tap = k - o * taps;
    let i = tap / taps_w();
    // Unsigned: a tap above or left of the output grid wraps to a huge value, so one
    // comparison per axis rejects both sides.
    let oh = params.shift_h + a - i;
    let ow = params.shift_w + b - (tap - i * taps_w());
    if oh >= params.h_out || ow >= params.w_out {
        return 0.0;
    }
    let index = ((image * params.c_out + o) * params.h_out + oh) * params.w_out + ow;
    if RELU && relu_output[index] <= 0.0 {
        return 0.0;
    }
    return dy[index];
}

fn b_at(image: u32, k: u32, c: u32) -> f32 {
    let taps = taps_h() * taps_w();
    let o = k / taps;
    let tap = k - o * taps;
    let i = tap / taps_w();
    let r = params.tap_h + STRIDE * i;
    let s = params.tap_w + STRIDE * (tap - i * taps_w());
    return weight[((o * params.c_in + c) * KERNEL + r) * KERNEL + s];
}

fn c_store(image: u32, q: u32, c: u32, acc: f32) {
    // At stride 1 the phase is the whole image and q the pixel index.
    if STRIDE == 1u {
        dx[(image * params.c_in + c) * params.m + q] = acc;
        return;
    }
    let a = q / params.phase_w;
    let ih = params.first_h + STRIDE * a;
    let iw = params.first_w + STRIDE * (q - a * params.phase_w);
    dx[((image * params.c_in + c) * params.h + ih) * params.w + iw] = acc;
}
