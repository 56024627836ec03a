//! Convolution forward, data gradient and weight gradient against `facenet_ref::conv`, with and
//! without the fused ReLU, on shapes that miss every tile boundary.

use facenet_gpu::conv::{
    Conv2dDesc, ConvWorkspace, conv2d_backward_data, conv2d_backward_weight, conv2d_forward,
};
use facenet_gpu::{Gpu, GpuBuffer};
use facenet_ref::conv as reference;

use crate::common::{assert_close, gpu, random_vec};

/// The tolerance of a length-`k` f32 reduction of products of values in [-1, 1]: a worst-case
/// rounding error near k * eps, and GPUs may sum in any order, so it grows with k.
fn tolerance(k: usize) -> f32 {
    f32::EPSILON * (k as f32 + 8.0)
}

fn upload(gpu: &Gpu, data: &[f32]) -> GpuBuffer<f32> {
    GpuBuffer::from_slice(gpu, data, &[data.len()])
}

fn zeros(gpu: &Gpu, len: usize) -> GpuBuffer<f32> {
    GpuBuffer::zeros(gpu, &[len])
}

fn read(gpu: &Gpu, buffer: &GpuBuffer<f32>) -> Vec<f32> {
    buffer.read(gpu).expect("readback")
}

/// Runs forward and both gradients of `desc` on the GPU and compares each with the reference.
fn check(desc: Conv2dDesc, relu: bool, seed: u64) {
    let Some(gpu) = gpu() else { return };
    let x = random_vec(seed, desc.input_len());
    let weight = random_vec(seed + 1, desc.weight_len());
    let bias = random_vec(seed + 2, desc.c_out);
    let dy = random_vec(seed + 3, desc.output_len());
    let what = format!("{desc:?} relu {relu}");

    let mut y = vec![0.0; desc.output_len()];
    reference::conv2d_forward(&desc, &x, &weight, &bias, &mut y);
    let pre_activation = y.clone();
    if relu {
        reference::relu_forward(&pre_activation, &mut y);
    }
    // The gradient reaching the convolution: through the ReLU when it is fused.
    let mut g = dy.clone();
    if relu {
        reference::relu_backward(&y, &dy, &mut g);
    }
    let mut dx = vec![0.0; desc.input_len()];
    reference::conv2d_backward_data(&desc, &g, &weight, &mut dx);
    let mut dweight = vec![0.0; desc.weight_len()];
    let mut dbias = vec![0.0; desc.c_out];
    reference::conv2d_backward_weight(&desc, &x, &g, &mut dweight, &mut dbias);

    let (x_gpu, w_gpu, b_gpu) = (upload(gpu, &x), upload(gpu, &weight), upload(gpu, &bias));
    let (dy_gpu, y_ref_gpu) = (upload(gpu, &dy), upload(gpu, &y));
    let y_gpu = zeros(gpu, desc.output_len());
    let dx_gpu = zeros(gpu, desc.input_len());
    let dw_gpu = zeros(gpu, desc.weight_len());
    let db_gpu = zeros(gpu, desc.c_out);
    // The backward passes gate by the reference output, so a forward error cannot leak in.
    let gate = relu.then_some(&y_ref_gpu);
    let mut encoder = gpu.encoder();
    conv2d_forward(
        gpu,
        &mut encoder,
        &desc,
        &x_gpu,
        &w_gpu,
        &b_gpu,
        &y_gpu,
        relu,
    );
    conv2d_backward_data(gpu, &mut encoder, &desc, &dy_gpu, gate, &w_gpu, &dx_gpu);
    conv2d_backward_weight(
        gpu,
        &mut encoder,
        &desc,
        &x_gpu,
        &dy_gpu,
        gate,
        &dw_gpu,
        &db_gpu,
    );
    gpu.submit(encoder);

    let taps = desc.kernel * desc.kernel;
    let pixels = desc.batch * desc.out_h() * desc.out_w();
    let tol = tolerance(desc.c_in * taps + 1);
    assert_close(&format!("forward {what}"), &read(gpu, &y_gpu), &y, tol, tol);
    let tol = tolerance(desc.c_out * taps);
    assert_close(&format!("dx {what}"), &read(gpu, &dx_gpu), &dx, tol, tol);
    let tol = tolerance(pixels);
    assert_close(
        &format!("dweight {what}"),
        &read(gpu, &dw_gpu),
        &dweight,
        tol,
        tol,
    );
    assert_close(
        &format!("dbias {what}"),
        &read(gpu, &db_gpu),
        &dbias,
        tol,
        tol,
    );
    gpu.check().expect("no wgpu error");
}

fn conv(
    batch: usize,
    c_in: usize,
    (h, w): (usize, usize),
    c_out: usize,
    ksp: [usize; 3],
) -> Conv2dDesc {
    let [kernel, stride, padding] = ksp;
    Conv2dDesc {
        batch,
        c_in,
        h,
        w,
        c_out,
        kernel,
        stride,
        padding,
    }
}

#[test]
fn three_by_three_odd_sizes_and_strides() {
    check(conv(1, 1, (9, 7), 5, [3, 1, 1]), false, 100);
    check(conv(7, 3, (11, 9), 33, [3, 2, 1]), true, 110);
    check(conv(2, 4, (13, 13), 6, [3, 2, 0]), false, 120);
    check(conv(1, 3, (7, 5), 5, [3, 1, 2]), true, 130);
}

#[test]
fn one_by_one_kernels() {
    check(conv(3, 4, (7, 9), 6, [1, 1, 0]), true, 200);
    check(conv(2, 5, (9, 9), 7, [1, 2, 0]), false, 210);
    check(conv(1, 3, (5, 6), 33, [1, 1, 1]), true, 220);
}

#[test]
fn five_by_five_and_seven_by_seven() {
    check(conv(2, 3, (13, 11), 5, [5, 1, 2]), false, 300);
    check(conv(1, 1, (12, 11), 33, [5, 2, 1]), true, 310);
    check(conv(1, 2, (15, 13), 33, [7, 2, 0]), false, 320);
    check(conv(2, 1, (10, 10), 8, [7, 1, 2]), true, 330);
    check(conv(1, 3, (9, 11), 4, [7, 3, 2]), false, 340);
}

#[test]
fn every_stride_phase_of_the_data_gradient() {
    // Strides 2 and 3 with kernels 1..7 (some smaller than the stride, so phases without taps),
    // paddings 0..2 and odd sides that do not divide by the stride.
    for stride in [2, 3] {
        for kernel in 1..=7 {
            let padding = (kernel + stride) % 3;
            let seed = 800 + 10 * (stride * 7 + kernel) as u64;
            let side = (kernel + 4, kernel + 6);
            check(
                conv(2, 3, side, 5, [kernel, stride, padding]),
                kernel % 2 == 0,
                seed,
            );
        }
    }
}

#[test]
fn with_and_without_relu() {
    for (i, relu) in [false, true].into_iter().enumerate() {
        check(conv(7, 1, (9, 9), 5, [3, 2, 1]), relu, 400 + i as u64);
        check(conv(1, 3, (8, 10), 33, [5, 1, 0]), relu, 410 + i as u64);
    }
}

#[test]
fn full_tiles_without_bounds_checks() {
    // Forward and data gradient GEMMs with M, N multiples of 64 and K of 16.
    check(conv(1, 64, (8, 8), 64, [3, 1, 1]), true, 500);
}

#[test]
fn weight_gradient_split_over_many_pixels() {
    // 7 * 17 * 15 = 1785 pixels: several K splits, the last one partial.
    check(conv(7, 3, (17, 15), 5, [3, 1, 1]), true, 600);
}

#[test]
fn workspace_serves_layers_of_different_sizes() {
    let Some(gpu) = gpu() else { return };
    let mut workspace = ConvWorkspace::default();
    // Large first, then small: the second call reuses a scratch buffer longer than it needs.
    for (i, desc) in [
        conv(3, 4, (16, 16), 9, [3, 1, 1]),
        conv(2, 2, (5, 7), 3, [3, 2, 1]),
    ]
    .into_iter()
    .enumerate()
    {
        let seed = 700 + 10 * i as u64;
        let x = random_vec(seed, desc.input_len());
        let dy = random_vec(seed + 1, desc.output_len());
        let mut dweight = vec![0.0; desc.weight_len()];
        let mut dbias = vec![0.0; desc.c_out];
        reference::conv2d_backward_weight(&desc, &x, &dy, &mut dweight, &mut dbias);

        let (dw_gpu, db_gpu) = (zeros(gpu, desc.weight_len()), zeros(gpu, desc.c_out));
        let (x_gpu, dy_gpu) = (upload(gpu, &x), upload(gpu, &dy));
        let mut encoder = gpu.encoder();
        workspace.backward_weight(
            gpu,
            &mut encoder,
            &desc,
            &x_gpu,
            &dy_gpu,
            None,
            &dw_gpu,
            &db_gpu,
        );
        gpu.submit(encoder);
        let tol = tolerance(desc.batch * desc.out_h() * desc.out_w());
        assert_close(
            &format!("dweight {desc:?}"),
            &read(gpu, &dw_gpu),
            &dweight,
            tol,
            tol,
        );
        assert_close(
            &format!("dbias {desc:?}"),
            &read(gpu, &db_gpu),
            &dbias,
            tol,
            tol,
        );
    }
}
