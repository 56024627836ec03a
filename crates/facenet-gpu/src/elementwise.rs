//! Elementwise updates of flat buffers (the accumulation of per-chunk gradients).
//!
//! One invocation per element; the launch grid is folded into two dimensions so that buffers
//! of more than 65535 * 256 elements still fit one dispatch.

use crate::{Gpu, GpuBuffer, KernelSpec};

/// Mirrors `ElementwiseParams` in `shaders/elementwise.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct ElementwiseParams {
    len: u32,
    row_stride: u32,
    _pad: [u32; 2],
}

const WORKGROUP: usize = 256;

/// Workgroups for `len` elements, folded into (x, y) under the per-dimension limit.
pub fn folded_grid(gpu: &Gpu, len: usize) -> [u32; 3] {
    let groups = len.div_ceil(WORKGROUP);
    let max_x = gpu.limits.max_compute_workgroups_per_dimension as usize;
    let x = groups.min(max_x);
    [x as u32, groups.div_ceil(x.max(1)) as u32, 1]
}

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
    let grid = folded_grid(gpu, target.len());
    let params = ElementwiseParams {
        len: u32::try_from(target.len()).expect("buffer length fits u32"),
        row_stride: grid[0] * WORKGROUP as u32,
        _pad: [0; 2],
    };
    let uniform = gpu.uniform(&params);
    let pipeline = gpu.pipeline(&KernelSpec::new("elementwise", "add_assign"));
    gpu.dispatch(
        encoder,
        &pipeline,
        &[&uniform, &source.buffer, &target.buffer],
        grid,
    );
}
