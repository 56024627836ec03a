//! Deterministic sum over the middle axis: `x` viewed as `[outer, len, inner]`,
//! `y[o, i] = scale * sum_r x[o, r, i]`, the semantics of [`facenet_ref::reduce`].
//!
//! One workgroup of 64 invocations per output value; each sums a strided slice of the reduced
//! axis, then a fixed tree in workgroup memory adds the partials (no atomics: the same inputs
//! give the same bits). The scale is fused, so a row mean costs no second pass. Used for the
//! bias gradient of [`crate::linear`] (column sums) and global average pooling (row means).
//! With `inner > 1` neighbouring invocations read `inner` apart: fine for the short column
//! sums of a bias gradient, not a kernel for long strided reductions.

use crate::grid::{linear_grid, to_u32};
use crate::{Gpu, GpuBuffer, KernelSpec};

/// Mirrors `ReduceParams` in `shaders/reduce.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct ReduceParams {
    outer: u32,
    len: u32,
    inner: u32,
    scale: f32,
}

/// Records `y[o * inner + i] = scale * sum_r x[(o * len + r) * inner + i]`.
#[allow(clippy::too_many_arguments)]
pub fn reduce_sum(
    gpu: &Gpu,
    encoder: &mut wgpu::CommandEncoder,
    outer: usize,
    len: usize,
    inner: usize,
    scale: f32,
    x: &GpuBuffer<f32>,
    y: &GpuBuffer<f32>,
) {
    assert_eq!(
        x.len(),
        outer * len * inner,
        "x is not [{outer}, {len}, {inner}]"
    );
    assert_eq!(y.len(), outer * inner, "y is not [{outer}, {inner}]");
    let params = ReduceParams {
        outer: to_u32(outer, "outer"),
        len: to_u32(len, "len"),
        inner: to_u32(inner, "inner"),
        scale,
    };
    let uniform = gpu.uniform(&params);
    let pipeline = gpu.pipeline(&KernelSpec::new("reduce", "reduce_sum"));
    gpu.dispatch(
        encoder,
        &pipeline,
        &[&uniform, &x.buffer, &y.buffer],
        linear_grid(outer * inner),
    );
}
