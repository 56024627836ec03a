//! Elementwise updates of flat buffers (the accumulation of per-chunk gradients).
//!
//! One invocation per element, laid out by [`crate::grid::linear_grid`].

use crate::grid::{linear_grid, to_u32};
use crate::{Gpu, GpuBuffer, KernelSpec};

/// Mirrors `ElementwiseParams` in `shaders/elementwise.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct ElementwiseParams {
    len: u32,
    _pad: [u32; 3],
}

const WORKGROUP: usize = 256;

/// Records `target += source`.
pub fn add_assign(
    gpu: &Gpu,
    encoder: &mut wgpu::CommandEncoder,
    target: &GpuBuffer<f32>,
    source: &GpuBuffer<f32>,
) {
    assert_eq!(
        target.len(),
        source.len(),
        "add_assign of {:?} into {:?}",
        source.shape(),
        target.shape()
    );
    let params = ElementwiseParams {
        len: to_u32(target.len(), "length"),
        _pad: [0; 3],
    };
    let uniform = gpu.uniform(&params);
    let pipeline = gpu.pipeline(&KernelSpec::new("elementwise", "add_assign"));
    let grid = linear_grid(target.len().div_ceil(WORKGROUP));
    gpu.dispatch(
        encoder,
        &pipeline,
        &[&uniform, &source.buffer, &target.buffer],
        grid,
    );
}
