//! The fully connected layer in PyTorch's layout, with the semantics of
//! [`facenet_ref::linear`]: `x [batch, in]`, `weight [out, in]`, `bias [out]`, `y [batch, out]`.
//!
//! Three GEMMs on the tiled kernel and one reduction:
//! - forward `y = x W^T + b`: M = batch, N = out, K = in, B transposed, the bias fused into the
//!   GEMM's store;
//! - `dx = dy W`: M = batch, N = in, K = out;
//! - `dW = dy^T x`: M = out, N = in, K = batch, A transposed;
//! - `db` = the column sums of `dy` by [`crate::reduce::reduce_sum`] (deterministic tree).
//!
//! The backward overwrites `dx`, `dweight` and `dbias`; it does not accumulate into them.

use crate::gemm::{GemmDesc, GemmKernel, gemm};
use crate::{Gpu, GpuBuffer};

fn check_len(what: &str, buffer: &GpuBuffer<f32>, rows: usize, cols: usize) {
    assert_eq!(
        buffer.len(),
        rows * cols,
        "{what} has {} values, [{rows}, {cols}] needs {}",
        buffer.len(),
        rows * cols
    );
}

/// Records `y = x W^T + b`.
#[allow(clippy::too_many_arguments)]
pub fn linear_forward(
    gpu: &Gpu,
    encoder: &mut wgpu::CommandEncoder,
    batch: usize,
    in_features: usize,
    out_features: usize,
    x: &GpuBuffer<f32>,
    weight: &GpuBuffer<f32>,
    bias: &GpuBuffer<f32>,
    y: &GpuBuffer<f32>,
) {
    check_len("x", x, batch, in_features);
    check_len("weight", weight, out_features, in_features);
    check_len("bias", bias, out_features, 1);
    check_len("y", y, batch, out_features);
    let desc = GemmDesc::new(batch, out_features, in_features).transposed(false, true);
    gemm(
        gpu,
        encoder,
        GemmKernel::Tiled,
        &desc,
        x,
        weight,
        Some(bias),
        y,
    );
}

/// Records `dx = dy W`, `dweight = dy^T x` and `dbias` = the sum of `dy` over the batch.
#[allow(clippy::too_many_arguments)]
pub fn linear_backward(
    gpu: &Gpu,
    encoder: &mut wgpu::CommandEncoder,
    batch: usize,
    in_features: usize,
    out_features: usize,
    x: &GpuBuffer<f32>,
    weight: &GpuBuffer<f32>,
    dy: &GpuBuffer<f32>,
    dx: &GpuBuffer<f32>,
    dweight: &GpuBuffer<f32>,
    dbias: &GpuBuffer<f32>,
) {
    check_len("x", x, batch, in_features);
    check_len("weight", weight, out_features, in_features);
    check_len("dy", dy, batch, out_features);
    check_len("dx", dx, batch, in_features);
    check_len("dweight", dweight, out_features, in_features);
    check_len("dbias", dbias, out_features, 1);
    let dx_desc = GemmDesc::new(batch, in_features, out_features);
    gemm(
        gpu,
        encoder,
        GemmKernel::Tiled,
        &dx_desc,
        dy,
        weight,
        None,
        dx,
    );
    let dw_desc = GemmDesc::new(out_features, in_features, batch).transposed(true, false);
    gemm(
        gpu,
        encoder,
        GemmKernel::Tiled,
        &dw_desc,
        dy,
        x,
        None,
        dweight,
    );
    crate::reduce::reduce_sum(gpu, encoder, 1, batch, out_features, 1.0, dy, dbias);
}
