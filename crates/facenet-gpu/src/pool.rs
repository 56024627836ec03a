//! Pooling over NCHW tensors, with the semantics of [`facenet_ref::pool`].
//!
//! - [`max_pool2d_forward`]: one invocation per output, scanning its window; it writes the
//!   maximum and, fused into the same pass, the argmax index in the input plane.
//! - [`max_pool2d_backward`]: gather form, one invocation per input pixel, summing the `dy` of
//!   the windows whose saved index points at it: deterministic, no float atomics.
//! - [`global_avg_pool_forward`]: [`crate::reduce::reduce_sum`] over each plane with the
//!   `1 / hw` scale fused; [`global_avg_pool_backward`]: one invocation per input pixel.
//!
//! Batch normalisation has no kernel: SPEC section 1 records the same held-out accuracy
//! without it.

pub use facenet_ref::pool::Pool2dDesc;

use crate::grid::{linear_grid, to_u32};
use crate::{Gpu, GpuBuffer, KernelSpec};

/// Invocations per workgroup of the kernels in `shaders/pool.wgsl`.
const WG: usize = 256;

/// Mirrors `PoolParams` in `shaders/pool.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct PoolParams {
    planes: u32,
    h: u32,
    w: u32,
    out_h: u32,
    out_w: u32,
    kernel: u32,
    stride: u32,
    padding: u32,
}

impl PoolParams {
    fn new(desc: &Pool2dDesc) -> Self {
        Self {
            planes: to_u32(desc.batch * desc.channels, "batch * channels"),
            h: to_u32(desc.h, "h"),
            w: to_u32(desc.w, "w"),
            out_h: to_u32(desc.out_h(), "out_h"),
            out_w: to_u32(desc.out_w(), "out_w"),
            kernel: to_u32(desc.kernel, "kernel"),
            stride: to_u32(desc.stride, "stride"),
            padding: to_u32(desc.padding, "padding"),
        }
    }
}

/// Mirrors `SpreadParams` in `shaders/pool.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct SpreadParams {
    len: u32,
    hw: u32,
    _pad: [u32; 2],
}

fn check_len<T: bytemuck::Pod>(what: &str, buffer: &GpuBuffer<T>, len: usize, desc: &Pool2dDesc) {
    assert_eq!(
        buffer.len(),
        len,
        "{what} has {} values, {desc:?} needs {len}",
        buffer.len()
    );
}

/// Records `y` = the window maxima of `x` and `indices` = their positions in the input plane.
pub fn max_pool2d_forward(
    gpu: &Gpu,
    encoder: &mut wgpu::CommandEncoder,
    desc: &Pool2dDesc,
    x: &GpuBuffer<f32>,
    y: &GpuBuffer<f32>,
    indices: &GpuBuffer<u32>,
) {
    check_len("x", x, desc.input_len(), desc);
    check_len("y", y, desc.output_len(), desc);
    check_len("indices", indices, desc.output_len(), desc);
    let uniform = gpu.uniform(&PoolParams::new(desc));
    let pipeline = gpu.pipeline(&KernelSpec::new("pool", "max_pool2d_forward"));
    let buffers = [&uniform, &x.buffer, &y.buffer, &indices.buffer];
    let grid = linear_grid(desc.output_len().div_ceil(WG));
    gpu.dispatch(encoder, &pipeline, &buffers, grid);
}

/// Records `dx` = for each input pixel, the sum of `dy` over the windows whose argmax it is.
pub fn max_pool2d_backward(
    gpu: &Gpu,
    encoder: &mut wgpu::CommandEncoder,
    desc: &Pool2dDesc,
    dy: &GpuBuffer<f32>,
    indices: &GpuBuffer<u32>,
    dx: &GpuBuffer<f32>,
) {
    check_len("dy", dy, desc.output_len(), desc);
    check_len("indices", indices, desc.output_len(), desc);
    check_len("dx", dx, desc.input_len(), desc);
    let uniform = gpu.uniform(&PoolParams::new(desc));
    let pipeline = gpu.pipeline(&KernelSpec::new("pool", "max_pool2d_backward"));
    let buffers = [&uniform, &dy.buffer, &indices.buffer, &dx.buffer];
    let grid = linear_grid(desc.input_len().div_ceil(WG));
    gpu.dispatch(encoder, &pipeline, &buffers, grid);
}

/// Records `y[b, c]` = the mean of the `hw` values of plane `(b, c)` of `x`.
pub fn global_avg_pool_forward(
    gpu: &Gpu,
    encoder: &mut wgpu::CommandEncoder,
    batch: usize,
    channels: usize,
    hw: usize,
    x: &GpuBuffer<f32>,
    y: &GpuBuffer<f32>,
) {
    assert!(hw > 0, "global average pooling over an empty plane");
    let scale = 1.0 / hw as f32;
    crate::reduce::reduce_sum(gpu, encoder, batch * channels, hw, 1, scale, x, y);
}

/// Records `dx[b, c, i] = dy[b, c] / hw`.
pub fn global_avg_pool_backward(
    gpu: &Gpu,
    encoder: &mut wgpu::CommandEncoder,
    batch: usize,
    channels: usize,
    hw: usize,
    dy: &GpuBuffer<f32>,
    dx: &GpuBuffer<f32>,
) {
    assert!(hw > 0, "global average pooling over an empty plane");
    let len = batch * channels * hw;
    assert_eq!(
        dy.len(),
        batch * channels,
        "dy is not [{batch}, {channels}]"
    );
    assert_eq!(dx.len(), len, "dx is not [{batch}, {channels}, {hw}]");
    let params = SpreadParams {
        len: to_u32(len, "batch * channels * hw"),
        hw: to_u32(hw, "hw"),
        _pad: [0; 2],
    };
    let uniform = gpu.uniform(&params);
    let pipeline = gpu.pipeline(&KernelSpec::new("pool", "global_avg_pool_backward"));
    let buffers = [&uniform, &dy.buffer, &dx.buffer];
    gpu.dispatch(encoder, &pipeline, &buffers, linear_grid(len.div_ceil(WG)));
}
