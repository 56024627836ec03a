//! Pooling, the fully connected layer, L2 normalisation and the reduction they share, forward
//! and backward, against `facenet_ref` on seeded inputs and awkward shapes.

use facenet_gpu::pool::{self, Pool2dDesc};
use facenet_gpu::{GpuBuffer, l2norm, linear, reduce};

use crate::common::{assert_close, gpu, random_vec};

const EPS: f32 = f32::EPSILON;

fn upload(gpu: &facenet_gpu::Gpu, data: &[f32]) -> GpuBuffer<f32> {
    GpuBuffer::from_slice(gpu, data, &[data.len()])
}

fn zeros(gpu: &facenet_gpu::Gpu, len: usize) -> GpuBuffer<f32> {
    GpuBuffer::zeros(gpu, &[len])
}

fn check_max_pool(desc: Pool2dDesc, seed: u64) {
    let Some(gpu) = gpu() else { return };
    let x = random_vec(seed, desc.input_len());
    let dy = random_vec(seed + 1, desc.output_len());
    let (mut y, mut indices) = (vec![0.0; desc.output_len()], vec![0; desc.output_len()]);
    facenet_ref::pool::max_pool2d_forward(&desc, &x, &mut y, &mut indices);
    let mut dx = vec![0.0; desc.input_len()];
    facenet_ref::pool::max_pool2d_backward(&desc, &dy, &indices, &mut dx);

    let (x_gpu, dy_gpu) = (upload(gpu, &x), upload(gpu, &dy));
    let y_gpu = zeros(gpu, desc.output_len());
    let indices_gpu = GpuBuffer::<u32>::zeros(gpu, &[desc.output_len()]);
    // Filled with NaN: every input pixel must be written, including those no window picked.
    let dx_gpu = upload(gpu, &vec![f32::NAN; desc.input_len()]);
    let mut encoder = gpu.encoder();
    pool::max_pool2d_forward(gpu, &mut encoder, &desc, &x_gpu, &y_gpu, &indices_gpu);
    pool::max_pool2d_backward(gpu, &mut encoder, &desc, &dy_gpu, &indices_gpu, &dx_gpu);
    gpu.submit(encoder);

    // The forward copies values and compares them: exact.
    assert_eq!(indices_gpu.read(gpu).unwrap(), indices, "indices {desc:?}");
    assert_close(
        &format!("y {desc:?}"),
        &y_gpu.read(gpu).unwrap(),
        &y,
        0.0,
        0.0,
    );
    // Each pixel sums at most ceil(k / s)^2 values of |dy| < 1, in f32 on the GPU.
    let terms = desc.kernel.div_ceil(desc.stride).pow(2) as f32;
    let tol = EPS * (terms + 2.0);
    assert_close(
        &format!("dx {desc:?}"),
        &dx_gpu.read(gpu).unwrap(),
        &dx,
        tol,
        tol,
    );
}

#[test]
fn max_pool_odd_sizes_strides_and_padding() {
    let mut seed = 100;
    for (batch, channels) in [(1, 1), (7, 5)] {
        for (h, w) in [(7, 9), (8, 5), (3, 3)] {
            for (kernel, stride, padding) in [(2, 2, 0), (2, 2, 1), (3, 2, 1), (3, 1, 0), (3, 2, 0)]
            {
                let desc = Pool2dDesc {
                    batch,
                    channels,
                    h,
                    w,
                    kernel,
                    stride,
                    padding,
                };
                check_max_pool(desc, seed);
                seed += 2;
            }
        }
    }
}

#[test]
fn max_pool_ties_go_to_the_first_and_padding_never_wins() {
    let Some(gpu) = gpu() else { return };
    // All-negative constant planes: every window is one tie, and zero padding would beat it.
    let desc = Pool2dDesc {
        batch: 2,
        channels: 3,
        h: 5,
        w: 6,
        kernel: 3,
        stride: 2,
        padding: 1,
    };
    let x = vec![-0.5f32; desc.input_len()];
    let (mut y, mut indices) = (vec![0.0; desc.output_len()], vec![0; desc.output_len()]);
    facenet_ref::pool::max_pool2d_forward(&desc, &x, &mut y, &mut indices);
    let y_gpu = zeros(gpu, desc.output_len());
    let indices_gpu = GpuBuffer::<u32>::zeros(gpu, &[desc.output_len()]);
    let mut encoder = gpu.encoder();
    pool::max_pool2d_forward(
        gpu,
        &mut encoder,
        &desc,
        &upload(gpu, &x),
        &y_gpu,
        &indices_gpu,
    );
    gpu.submit(encoder);
    assert!(y_gpu.read(gpu).unwrap().iter().all(|&v| v == -0.5));
    assert_eq!(indices_gpu.read(gpu).unwrap(), indices);
    // Window (0, 0) covers rows and columns -1..=1: its first real pixel is (0, 0).
    assert_eq!(indices[0], 0);
}

#[test]
fn global_avg_pool_plane_sizes() {
    let Some(gpu) = gpu() else { return };
    for (i, (batch, channels, hw)) in [(1, 1, 1), (7, 5, 49), (3, 256, 64), (2, 3, 1000)]
        .into_iter()
        .enumerate()
    {
        let seed = 200 + 2 * i as u64;
        let x = random_vec(seed, batch * channels * hw);
        let dy = random_vec(seed + 1, batch * channels);
        let mut y = vec![0.0; batch * channels];
        facenet_ref::pool::global_avg_pool_forward(batch, channels, hw, &x, &mut y);
        let mut dx = vec![0.0; x.len()];
        facenet_ref::pool::global_avg_pool_backward(batch, channels, hw, &dy, &mut dx);

        let (y_gpu, dx_gpu) = (zeros(gpu, y.len()), zeros(gpu, dx.len()));
        let mut encoder = gpu.encoder();
        let (x_gpu, dy_gpu) = (upload(gpu, &x), upload(gpu, &dy));
        pool::global_avg_pool_forward(gpu, &mut encoder, batch, channels, hw, &x_gpu, &y_gpu);
        pool::global_avg_pool_backward(gpu, &mut encoder, batch, channels, hw, &dy_gpu, &dx_gpu);
        gpu.submit(encoder);
        let what = format!("batch {batch} channels {channels} hw {hw}");
        // A sum of hw values in [-1, 1] is off by at most hw * eps * hw in f32, its mean by
        // hw * eps.
        let tol = EPS * (hw as f32 + 4.0);
        assert_close(
            &format!("y {what}"),
            &y_gpu.read(gpu).unwrap(),
            &y,
            tol,
            tol,
        );
        // One division per value, which GPUs may round to within 2.5 ulp.
        assert_close(
            &format!("dx {what}"),
            &dx_gpu.read(gpu).unwrap(),
            &dx,
            0.0,
            4.0 * EPS,
        );
    }
}

#[test]
fn reduce_sum_columns_rows_and_many_outputs() {
    let Some(gpu) = gpu() else { return };
    // More than 65535 outputs exercises the two-dimensional grid.
    for (i, (outer, len, inner, scale)) in [
        (1, 1800, 128, 1.0),
        (3, 7, 5, 0.5),
        (70_000, 3, 1, -2.0),
        (2, 0, 3, 1.0),
    ]
    .into_iter()
    .enumerate()
    {
        let x = random_vec(300 + i as u64, outer * len * inner);
        let mut y = vec![0.0; outer * inner];
        facenet_ref::reduce::reduce_sum(outer, len, inner, scale, &x, &mut y);
        let y_gpu = upload(gpu, &vec![f32::NAN; y.len()]);
        let mut encoder = gpu.encoder();
        reduce::reduce_sum(
            gpu,
            &mut encoder,
            outer,
            len,
            inner,
            scale,
            &upload(gpu, &x),
            &y_gpu,
        );
        gpu.submit(encoder);
        // len terms in [-1, 1], then one multiplication by the scale.
        let tol = EPS * (len as f32 + 4.0) * scale.abs();
        let what = format!("reduce_sum [{outer}, {len}, {inner}] scale {scale}");
        assert_close(&what, &y_gpu.read(gpu).unwrap(), &y, tol, tol);
    }
}

fn check_linear(batch: usize, n_in: usize, n_out: usize, seed: u64) {
    let Some(gpu) = gpu() else { return };
    let x = random_vec(seed, batch * n_in);
    let weight = random_vec(seed + 1, n_out * n_in);
    let bias = random_vec(seed + 2, n_out);
    let dy = random_vec(seed + 3, batch * n_out);
    let mut y = vec![0.0; batch * n_out];
    facenet_ref::linear::linear_forward(batch, n_in, n_out, &x, &weight, &bias, &mut y);
    let (mut dx, mut dw, mut db) = (
        vec![0.0; x.len()],
        vec![0.0; weight.len()],
        vec![0.0; n_out],
    );
    facenet_ref::linear::linear_backward(
        batch, n_in, n_out, &x, &weight, &dy, &mut dx, &mut dw, &mut db,
    );

    let (x_gpu, w_gpu) = (upload(gpu, &x), upload(gpu, &weight));
    let (b_gpu, dy_gpu) = (upload(gpu, &bias), upload(gpu, &dy));
    // NaN-filled outputs: the backward must overwrite, never accumulate.
    let nan = |len: usize| upload(gpu, &vec![f32::NAN; len]);
    let (y_gpu, dx_gpu, dw_gpu, db_gpu) = (nan(y.len()), nan(dx.len()), nan(dw.len()), nan(n_out));
    let mut encoder = gpu.encoder();
    linear::linear_forward(
        gpu,
        &mut encoder,
        batch,
        n_in,
        n_out,
        &x_gpu,
        &w_gpu,
        &b_gpu,
        &y_gpu,
    );
    linear::linear_backward(
        gpu,
        &mut encoder,
        batch,
        n_in,
        n_out,
        &x_gpu,
        &w_gpu,
        &dy_gpu,
        &dx_gpu,
        &dw_gpu,
        &db_gpu,
    );
    gpu.submit(encoder);

    // Dot products of length K over values in [-1, 1]: rounding stays below K * eps, in any
    // summation order, so each bound grows with its own reduction length.
    let what = format!("linear batch {batch} {n_in} -> {n_out}");
    let tol = |k: usize| EPS * (k as f32 + 8.0);
    assert_close(
        &format!("y {what}"),
        &y_gpu.read(gpu).unwrap(),
        &y,
        tol(n_in + 1),
        tol(n_in),
    );
    assert_close(
        &format!("dx {what}"),
        &dx_gpu.read(gpu).unwrap(),
        &dx,
        tol(n_out),
        tol(n_out),
    );
    assert_close(
        &format!("dW {what}"),
        &dw_gpu.read(gpu).unwrap(),
        &dw,
        tol(batch),
        tol(batch),
    );
    assert_close(
        &format!("db {what}"),
        &db_gpu.read(gpu).unwrap(),
        &db,
        tol(batch),
        tol(batch),
    );
}

#[test]
fn linear_batches_and_feature_counts() {
    let mut seed = 400;
    for batch in [1, 7, 64] {
        for (n_in, n_out) in [(1, 1), (63, 65), (64, 64), (65, 1), (1, 63)] {
            check_linear(batch, n_in, n_out, seed);
            seed += 4;
        }
    }
    // The facenet-s head.
    check_linear(32, 256, 128, seed);
}

fn check_l2norm(n: usize, d: usize, zero_row: Option<usize>, seed: u64) {
    let Some(gpu) = gpu() else { return };
    let mut x = random_vec(seed, n * d);
    if let Some(r) = zero_row {
        x[r * d..(r + 1) * d].fill(0.0);
    }
    let dy = random_vec(seed + 1, n * d);
    let (mut y, mut norms, mut dx) = (vec![0.0; n * d], vec![0.0; n], vec![0.0; n * d]);
    facenet_ref::l2norm::l2_normalize_forward(n, d, &x, &mut y, &mut norms);
    facenet_ref::l2norm::l2_normalize_backward(n, d, &y, &norms, &dy, &mut dx);

    let (y_gpu, norms_gpu, dx_gpu) = (zeros(gpu, n * d), zeros(gpu, n), zeros(gpu, n * d));
    let mut encoder = gpu.encoder();
    let (x_gpu, dy_gpu) = (upload(gpu, &x), upload(gpu, &dy));
    l2norm::l2_normalize_forward(gpu, &mut encoder, n, d, &x_gpu, &y_gpu, &norms_gpu);
    l2norm::l2_normalize_backward(
        gpu,
        &mut encoder,
        n,
        d,
        &y_gpu,
        &norms_gpu,
        &dy_gpu,
        &dx_gpu,
    );
    gpu.submit(encoder);

    let what = format!("n {n} d {d} zero row {zero_row:?}");
    // The squared norm sums d positive terms (relative error below d * eps); y and the norm
    // inherit it, plus a square root and a division.
    let tol = EPS * (d as f32 + 8.0);
    assert_close(
        &format!("norms {what}"),
        &norms_gpu.read(gpu).unwrap(),
        &norms,
        0.0,
        tol,
    );
    assert_close(
        &format!("y {what}"),
        &y_gpu.read(gpu).unwrap(),
        &y,
        tol,
        tol,
    );
    // <y, dy> sums d terms whose magnitudes add up to at most sqrt(d) (|y| = 1, |dy| < 1);
    // the random rows have norms above 1, so the final division does not amplify the error.
    // A zero row gives dy / 1e-12, large but finite, covered by the relative term.
    let atol = tol * (1.0 + (d as f32).sqrt());
    assert_close(
        &format!("dx {what}"),
        &dx_gpu.read(gpu).unwrap(),
        &dx,
        atol,
        tol,
    );
}

#[test]
fn l2norm_row_lengths_and_counts() {
    let mut seed = 500;
    for d in [16, 100, 128, 512] {
        for (n, zero_row) in [(1, None), (7, Some(3)), (1800, Some(1799))] {
            check_l2norm(n, d, zero_row, seed);
            seed += 2;
        }
    }
}
