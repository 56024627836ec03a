//! L2 normalisation of the rows of an `[n, d]` matrix, with the semantics of
//! [`facenet_ref::l2norm`]: `norms[r] = |x_r|`, `y_r = x_r / max(|x_r|, EPS)`, and the exact
//! backward (`dx = (dy - y <y, dy>) / |x|`, or `dy / EPS` on a clamped row).
//!
//! One workgroup of 64 invocations per row: a fixed-tree reduction in workgroup memory (no
//! atomics, deterministic), then each invocation writes its strided slice of the row. Fused:
//! the forward computes the norm, keeps it for the backward and the step statistics, and
//! scales the row in one kernel; the backward computes `<y, dy>` and `dx` in one kernel.

pub use facenet_ref::l2norm::EPS;

use crate::grid::{linear_grid, to_u32};
use crate::{Gpu, GpuBuffer, KernelSpec};

/// Mirrors `L2Params` in `shaders/l2norm.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct L2Params {
    n: u32,
    d: u32,
    eps: f32,
    _pad: u32,
}

fn dispatch(
    gpu: &Gpu,
    encoder: &mut wgpu::CommandEncoder,
    entry: &'static str,
    n: usize,
    d: usize,
    buffers: &[&wgpu::Buffer],
) {
    let params = L2Params {
        n: to_u32(n, "n"),
        d: to_u32(d, "d"),
        eps: EPS,
        _pad: 0,
    };
    let uniform = gpu.uniform(&params);
    let pipeline = gpu.pipeline(&KernelSpec::new("l2norm", entry));
    let mut bound = vec![&uniform];
    bound.extend_from_slice(buffers);
    gpu.dispatch(encoder, &pipeline, &bound, linear_grid(n));
}

fn check(n: usize, d: usize, rows: &[(&str, &GpuBuffer<f32>)], norms: &GpuBuffer<f32>) {
    for (what, buffer) in rows {
        assert_eq!(
            buffer.len(),
            n * d,
            "{what} has {} values, [{n}, {d}] needs",
            buffer.len()
        );
    }
    assert_eq!(
        norms.len(),
        n,
        "norms has {} values, one per row of {n} needed",
        norms.len()
    );
}

/// Records `y = x / max(|x|, EPS)` per row and `norms = |x|`.
pub fn l2_normalize_forward(
    gpu: &Gpu,
    encoder: &mut wgpu::CommandEncoder,
    n: usize,
    d: usize,
    x: &GpuBuffer<f32>,
    y: &GpuBuffer<f32>,
    norms: &GpuBuffer<f32>,
) {
    check(n, d, &[("x", x), ("y", y)], norms);
    let buffers = [&x.buffer, &y.buffer, &norms.buffer];
    dispatch(gpu, encoder, "l2_normalize_forward", n, d, &buffers);
}

/// Records `dx`, the gradient of the forward, from its output `y`, `norms` and `dy`.
#[allow(clippy::too_many_arguments)]
pub fn l2_normalize_backward(
    gpu: &Gpu,
    encoder: &mut wgpu::CommandEncoder,
    n: usize,
    d: usize,
    y: &GpuBuffer<f32>,
    norms: &GpuBuffer<f32>,
    dy: &GpuBuffer<f32>,
    dx: &GpuBuffer<f32>,
) {
    check(n, d, &[("y", y), ("dy", dy), ("dx", dx)], norms);
    let buffers = [&y.buffer, &norms.buffer, &dy.buffer, &dx.buffer];
    dispatch(gpu, encoder, "l2_normalize_backward", n, d, &buffers);
}
