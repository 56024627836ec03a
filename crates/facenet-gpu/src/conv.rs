//! 2-D convolution, forward and backward, as implicit GEMMs on the tiled GEMM body.
//!
//! Same semantics as [`facenet_ref::conv`]: NCHW activations, weight `[C_out, C_in, R, S]` with
//! R = S = `kernel`, bias `[C_out]`, any stride and zero padding. Each op composes an operand
//! file (`shaders/conv_*_operands.wgsl`) with `shaders/gemm_tiled.wgsl`: the GEMM's tiles and
//! 8 x 8 register blocks stay as they are, and only the operand reads compute convolution
//! addresses, so no im2col matrix is ever written. Each GEMM gets the [`TileShape`] that suits
//! its M x N ([`TileShape::for_output`]): narrow layers (C_out or C_in of 8 to 32) take tall
//! 128 x 8 to 128 x 32 tiles, the weight gradient of few output channels the transposed ones
//! (or one small tile per K split when its whole output is that small).
//!
//! | op | M | N | K | workgroup z |
//! |---|---|---|---|---|
//! | forward | H_out * W_out | C_out | C_in * R * S | image |
//! | data gradient (gather), per phase | H * W / s^2 | C_in | C_out * R * S / s^2 | image |
//! | weight gradient | C_out | C_in * R * S + 1 (bias) | batch * H_out * W_out | K split |
//!
//! Tiles never straddle two images, so layers with fewer output pixels per image than a tile
//! has rows leave part of each tile idle.
//!
//! With stride s > 1 only about 1 / s^2 of the taps of an input pixel land on the output grid,
//! and which ones depends on the pixel's phase ((ih + padding) mod s, (iw + padding) mod s).
//! The data gradient therefore runs one GEMM per phase (s^2 dispatches), each over that
//! phase's pixels (M about H * W / s^2) and its own taps (K about C_out * R * S / s^2), so no
//! multiply-add is spent on a tap between output pixels. At stride 1 there is one phase.
//!
//! The weight gradient reduces over every pixel of the batch while its output is small, so it
//! splits K over workgroup z (enough splits for about [`TARGET_INVOCATIONS`] invocations),
//! writes one partial product per split into a scratch buffer and sums the splits in a second
//! pass. Its last GEMM column multiplies dy by ones, so the same passes yield the bias
//! gradient (at the price of one more column tile when C_in * R * S is a multiple of the tile).
//!
//! Fusions: ReLU in the forward epilogue (`relu`), and the ReLU backward (dy gated by the
//! forward output being > 0) in the dy loads of both gradients (`relu_output`). Kernel size,
//! stride and the fusions are pipeline constants.

pub use facenet_ref::conv::Conv2dDesc;

use crate::gemm::{TILE_K, TileShape};
use crate::{Gpu, GpuBuffer, KernelSpec};

/// Mirrors `ConvParams` in the `shaders/conv_*.wgsl` files, field for field.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
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

/// Invocations per workgroup of `shaders/conv_weight_reduce.wgsl`.
const REDUCE_THREADS: usize = 256;
/// Invocations the weight-gradient split aims for: a few 64-invocation workgroups per compute
/// unit of a large GPU. Counted in invocations because the narrow tiles have fewer of them.
pub const TARGET_INVOCATIONS: usize = 256 * 64;
/// The shortest K range a split covers, so each split's workgroup amortises its epilogue.
const MIN_SPLIT: usize = 256;

fn to_u32(value: usize, what: &str) -> u32 {
    u32::try_from(value).unwrap_or_else(|_| panic!("{what} = {value} does not fit in u32"))
}

fn check_len(what: &str, buffer: &GpuBuffer<f32>, expected: usize, desc: &Conv2dDesc) {
    assert_eq!(
        buffer.len(),
        expected,
        "{what} has {} values, {desc:?} needs {expected}",
        buffer.len()
    );
}

impl ConvParams {
    /// The GEMM view (m, n, k) of `desc`, the reduction length and the split count.
    fn new(desc: &Conv2dDesc, mnk: [usize; 3], k_total: usize, splits: usize) -> Self {
        // Every index the shaders compute must fit in u32.
        to_u32(desc.input_len().max(desc.output_len()), "activation length");
        to_u32(splits * mnk[0] * mnk[1], "partial-product length");
        Self {
            m: to_u32(mnk[0], "M"),
            n: to_u32(mnk[1], "N"),
            k: to_u32(mnk[2], "K"),
            k_total: to_u32(k_total, "K"),
            c_in: to_u32(desc.c_in, "C_in"),
            h: to_u32(desc.h, "H"),
            w: to_u32(desc.w, "W"),
            c_out: to_u32(desc.c_out, "C_out"),
            h_out: to_u32(desc.out_h(), "H_out"),
            w_out: to_u32(desc.out_w(), "W_out"),
            padding: to_u32(desc.padding, "padding"),
            splits: to_u32(splits, "splits"),
        }
    }
}

/// The implicit-GEMM pipeline `module` specialised for `desc`, and its dispatch size for the
/// GEMM (m, n, k) with `z` workgroup layers.
fn gemm_launch(
    module: &'static str,
    desc: &Conv2dDesc,
    relu: bool,
    [m, n, k]: [usize; 3],
    z: usize,
) -> (KernelSpec, [u32; 3]) {
    let shape = TileShape::for_output(m, n);
    let spec = KernelSpec::new(module, "gemm_tiled")
        .with("KERNEL", to_u32(desc.kernel, "kernel"))
        .with("STRIDE", to_u32(desc.stride, "stride"))
        .with("RELU", relu as u32);
    let [x, y] = shape.tiles(m, n);
    let workgroups = [x, y, z].map(|w| to_u32(w, "workgroups"));
    (shape.specialise(spec, [m, n, k]), workgroups)
}

/// Records `y = conv(x) + bias`, then ReLU when `relu` is true (fused in the epilogue).
#[allow(clippy::too_many_arguments)]
pub fn conv2d_forward(
    gpu: &Gpu,
    encoder: &mut wgpu::CommandEncoder,
    desc: &Conv2dDesc,
    x: &GpuBuffer<f32>,
    weight: &GpuBuffer<f32>,
    bias: &GpuBuffer<f32>,
    y: &GpuBuffer<f32>,
    relu: bool,
) {
    check_len("x", x, desc.input_len(), desc);
    check_len("weight", weight, desc.weight_len(), desc);
    check_len("bias", bias, desc.c_out, desc);
    check_len("y", y, desc.output_len(), desc);

    let taps = desc.kernel * desc.kernel;
    let mnk = [desc.out_h() * desc.out_w(), desc.c_out, desc.c_in * taps];
    let params = ConvParams::new(desc, mnk, mnk[2], 1);
    let (spec, workgroups) = gemm_launch("conv_forward", desc, relu, mnk, desc.batch);
    let uniform = gpu.uniform(&params);
    let buffers = [&uniform, &x.buffer, &weight.buffer, &bias.buffer, &y.buffer];
    gpu.dispatch(encoder, &gpu.pipeline(&spec), &buffers, workgroups);
}

/// Records `dx` from `dy`; when `relu_output` is `Some(y)`, dy is first gated by y > 0 (the
/// ReLU backward, fused into the operand load).
pub fn conv2d_backward_data(
    gpu: &Gpu,
    encoder: &mut wgpu::CommandEncoder,
    desc: &Conv2dDesc,
    dy: &GpuBuffer<f32>,
    relu_output: Option<&GpuBuffer<f32>>,
    weight: &GpuBuffer<f32>,
    dx: &GpuBuffer<f32>,
) {
    check_len("dy", dy, desc.output_len(), desc);
    if let Some(y) = relu_output {
        check_len("relu_output", y, desc.output_len(), desc);
    }
    check_len("weight", weight, desc.weight_len(), desc);
    check_len("dx", dx, desc.input_len(), desc);

    let relu = relu_output.is_some();
    let gate = relu_output.map_or(gpu.placeholder(), |y| &y.buffer);
    for ph in 0..desc.stride {
        for pw in 0..desc.stride {
            let (rows, cols) = (
                PhaseAxis::new(desc.h, desc, ph),
                PhaseAxis::new(desc.w, desc, pw),
            );
            if rows.pixels == 0 || cols.pixels == 0 {
                continue;
            }
            let params = DataGradParams::new(desc, &rows, &cols);
            let mnk = [params.m, params.n, params.k].map(|v| v as usize);
            let (spec, workgroups) = gemm_launch("conv_backward_data", desc, relu, mnk, desc.batch);
            let uniform = gpu.uniform(&params);
            let buffers = [&uniform, &dy.buffer, gate, &weight.buffer, &dx.buffer];
            gpu.dispatch(encoder, &gpu.pipeline(&spec), &buffers, workgroups);
        }
    }
}

/// One axis of a stride phase of the data gradient: the input coordinates `first + stride * a`
/// (a < `pixels`) and the kernel offsets `tap + stride * i` (i < `taps`), which are exactly the
/// taps those inputs receive; tap i of input a lands on output `shift + a - i`.
struct PhaseAxis {
    first: usize,
    pixels: usize,
    tap: usize,
    taps: usize,
    shift: usize,
}

impl PhaseAxis {
    /// Phase `phase` (< stride) of an axis of `size` input pixels: the inputs with
    /// (coordinate + padding) mod stride = phase.
    fn new(size: usize, desc: &Conv2dDesc, phase: usize) -> Self {
        let s = desc.stride;
        let first = (phase + s - desc.padding % s) % s;
        let taps = desc.kernel.saturating_sub(phase).div_ceil(s);
        Self {
            first,
            pixels: size.saturating_sub(first).div_ceil(s),
            tap: phase,
            taps,
            // first + padding = phase (mod stride) and is at least phase.
            shift: (first + desc.padding - phase) / s,
        }
    }
}

/// Mirrors `DataGradParams` in `shaders/conv_backward_data_operands.wgsl`, field for field.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
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
    _pad: [u32; 2],
}

impl DataGradParams {
    fn new(desc: &Conv2dDesc, rows: &PhaseAxis, cols: &PhaseAxis) -> Self {
        to_u32(desc.input_len().max(desc.output_len()), "activation length");
        Self {
            m: to_u32(rows.pixels * cols.pixels, "M"),
            n: to_u32(desc.c_in, "C_in"),
            k: to_u32(desc.c_out * rows.taps * cols.taps, "K"),
            c_in: to_u32(desc.c_in, "C_in"),
            h: to_u32(desc.h, "H"),
            w: to_u32(desc.w, "W"),
            c_out: to_u32(desc.c_out, "C_out"),
            h_out: to_u32(desc.out_h(), "H_out"),
            w_out: to_u32(desc.out_w(), "W_out"),
            phase_w: to_u32(cols.pixels, "phase width"),
            first_h: to_u32(rows.first, "first row"),
            first_w: to_u32(cols.first, "first column"),
            tap_h: to_u32(rows.tap, "first tap row"),
            tap_w: to_u32(cols.tap, "first tap column"),
            taps_h: to_u32(rows.taps, "tap rows"),
            taps_w: to_u32(cols.taps, "tap columns"),
            shift_h: to_u32(rows.shift, "row shift"),
            shift_w: to_u32(cols.shift, "column shift"),
            _pad: [0; 2],
        }
    }
}

/// Records `dweight` and `dbias` from `x` and `dy` (dy gated by `relu_output` > 0 when given),
/// with a scratch buffer allocated for this call. [`ConvWorkspace`] keeps it across calls.
#[allow(clippy::too_many_arguments)]
pub fn conv2d_backward_weight(
    gpu: &Gpu,
    encoder: &mut wgpu::CommandEncoder,
    desc: &Conv2dDesc,
    x: &GpuBuffer<f32>,
    dy: &GpuBuffer<f32>,
    relu_output: Option<&GpuBuffer<f32>>,
    dweight: &GpuBuffer<f32>,
    dbias: &GpuBuffer<f32>,
) {
    ConvWorkspace::default().backward_weight(
        gpu,
        encoder,
        desc,
        x,
        dy,
        relu_output,
        dweight,
        dbias,
    );
}

/// How many splits the weight gradient's K = `k_total` gets when its output has `tiles` GEMM
/// tiles of `invocations` each, and the K range of each split (a multiple of the K step).
fn weight_gradient_split(tiles: usize, invocations: usize, k_total: usize) -> (usize, usize) {
    let wanted = TARGET_INVOCATIONS.div_ceil(tiles * invocations);
    let most = (k_total / MIN_SPLIT).max(1);
    let chunk = k_total
        .div_ceil(wanted.clamp(1, most))
        .next_multiple_of(TILE_K);
    (k_total.div_ceil(chunk), chunk)
}

/// The scratch memory of the split weight gradient, kept between calls so that a training
/// step does not allocate. It grows to the largest layer it has served.
#[derive(Default)]
pub struct ConvWorkspace {
    partial: Option<GpuBuffer<f32>>,
}

impl ConvWorkspace {
    /// [`conv2d_backward_weight`] with this workspace's scratch buffer.
    #[allow(clippy::too_many_arguments)]
    pub fn backward_weight(
        &mut self,
        gpu: &Gpu,
        encoder: &mut wgpu::CommandEncoder,
        desc: &Conv2dDesc,
        x: &GpuBuffer<f32>,
        dy: &GpuBuffer<f32>,
        relu_output: Option<&GpuBuffer<f32>>,
        dweight: &GpuBuffer<f32>,
        dbias: &GpuBuffer<f32>,
    ) {
        check_len("x", x, desc.input_len(), desc);
        check_len("dy", dy, desc.output_len(), desc);
        if let Some(y) = relu_output {
            check_len("relu_output", y, desc.output_len(), desc);
        }
        check_len("dweight", dweight, desc.weight_len(), desc);
        check_len("dbias", dbias, desc.c_out, desc);

        // The extra column of ones turns the bias gradient into one more GEMM column.
        let (m, n) = (desc.c_out, desc.c_in * desc.kernel * desc.kernel + 1);
        let k_total = desc.batch * desc.out_h() * desc.out_w();
        let shape = TileShape::for_output(m, n);
        let [cols, rows] = shape.tiles(m, n);
        let (splits, chunk) = weight_gradient_split(cols * rows, shape.invocations(), k_total);
        let params = ConvParams::new(desc, [m, n, chunk], k_total, splits);
        let uniform = gpu.uniform(&params);
        let partial = self.partial(gpu, splits * m * n);

        let relu = relu_output.is_some();
        let (spec, workgroups) =
            gemm_launch("conv_backward_weight", desc, relu, [m, n, chunk], splits);
        let gate = relu_output.map_or(gpu.placeholder(), |y| &y.buffer);
        let buffers = [&uniform, &dy.buffer, gate, &x.buffer, &partial.buffer];
        gpu.dispatch(encoder, &gpu.pipeline(&spec), &buffers, workgroups);

        let spec = KernelSpec::new("conv_weight_reduce", "conv_weight_reduce");
        let buffers = [&uniform, &partial.buffer, &dweight.buffer, &dbias.buffer];
        let workgroups = [to_u32((m * n).div_ceil(REDUCE_THREADS), "workgroups"), 1, 1];
        gpu.dispatch(encoder, &gpu.pipeline(&spec), &buffers, workgroups);
    }

    fn partial(&mut self, gpu: &Gpu, len: usize) -> &GpuBuffer<f32> {
        if self.partial.as_ref().is_none_or(|p| p.len() < len) {
            self.partial = Some(GpuBuffer::zeros(gpu, &[len]));
        }
        self.partial.as_ref().expect("allocated above")
    }
}
