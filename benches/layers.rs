//! Layer and optimiser benchmarks, all memory-bound, reported in GB/s (bytes read + written):
//! L2 normalisation forward + backward at the FaceNet batch, global average pooling at the
//! facenet-s shape, and an Adam step on a million parameters. Each is validated against its
//! reference before it is timed.

mod support;

use criterion::BenchmarkId;
use facenet_gpu::optim::AdamConfig;
use facenet_gpu::{Gpu, GpuBuffer, GpuTimer, l2norm, optim, pool};

use support::{Record, time_iters, validate};

const F32: f64 = 4.0;
const EPS: f64 = f32::EPSILON as f64;

fn upload(gpu: &Gpu, data: &[f32]) -> GpuBuffer<f32> {
    GpuBuffer::from_slice(gpu, data, &[data.len()])
}

/// Fails unless every value is within `atol + rtol * |expected|`.
fn validate_all(what: &str, got: &[f32], expected: &[f32], atol: f64, rtol: f64) {
    for (i, (&g, &e)) in got.iter().zip(expected).enumerate() {
        let e = f64::from(e);
        validate(&format!("{what} [{i}]"), g, e, atol + rtol * e.abs());
    }
}

fn bench(
    gpu: &Gpu,
    timer: &GpuTimer,
    group: &mut criterion::BenchmarkGroup<criterion::measurement::WallTime>,
    record: Record,
    mut run: impl FnMut(&mut facenet_gpu::wgpu::CommandEncoder),
) {
    record.save(gpu, timer);
    let id = BenchmarkId::new(record.variant, &record.shape);
    group.bench_function(id, |bencher| {
        bencher.iter_custom(|iters| time_iters(gpu, timer, iters, &mut run))
    });
}

fn l2norm_forward_backward(
    gpu: &Gpu,
    timer: &GpuTimer,
    group: &mut criterion::BenchmarkGroup<criterion::measurement::WallTime>,
) {
    let (n, d) = if support::quick() {
        (64, 128)
    } else {
        (1800, 128)
    };
    let x = support::random_vec(1, n * d);
    let dy = support::random_vec(2, n * d);
    let (x_gpu, dy_gpu) = (upload(gpu, &x), upload(gpu, &dy));
    let y_gpu = GpuBuffer::<f32>::zeros(gpu, &[n * d]);
    let norms_gpu = GpuBuffer::<f32>::zeros(gpu, &[n]);
    let dx_gpu = GpuBuffer::<f32>::zeros(gpu, &[n * d]);
    let run = |encoder: &mut facenet_gpu::wgpu::CommandEncoder| {
        l2norm::l2_normalize_forward(gpu, encoder, n, d, &x_gpu, &y_gpu, &norms_gpu);
        l2norm::l2_normalize_backward(gpu, encoder, n, d, &y_gpu, &norms_gpu, &dy_gpu, &dx_gpu);
    };

    let mut encoder = gpu.encoder();
    run(&mut encoder);
    gpu.submit(encoder);
    let (mut y, mut norms, mut dx) = (vec![0.0; n * d], vec![0.0; n], vec![0.0; n * d]);
    facenet_ref::l2norm::l2_normalize_forward(n, d, &x, &mut y, &mut norms);
    facenet_ref::l2norm::l2_normalize_backward(n, d, &y, &norms, &dy, &mut dx);
    // The bounds of tests/kernels/layers.rs: d-term reductions.
    let tol = EPS * (d as f64 + 8.0);
    validate_all("l2norm y", &y_gpu.read(gpu).unwrap(), &y, tol, tol);
    let dx_atol = tol * (1.0 + (d as f64).sqrt());
    validate_all("l2norm dx", &dx_gpu.read(gpu).unwrap(), &dx, dx_atol, tol);

    // Forward: x in, y and norms out; backward: y, norms and dy in, dx out.
    let bytes = F32 * (5 * n * d + 2 * n) as f64;
    let record = Record {
        group: "layers",
        kernel: "l2norm",
        variant: "l2norm-forward-backward",
        shape: format!("{n}x{d}"),
        flops: None,
        bytes: Some(bytes),
        extra: serde_json::Value::Null,
    };
    bench(gpu, timer, group, record, run);
}

fn global_avg_pool(
    gpu: &Gpu,
    timer: &GpuTimer,
    group: &mut criterion::BenchmarkGroup<criterion::measurement::WallTime>,
) {
    let (batch, channels, hw) = if support::quick() {
        (4, 16, 64)
    } else {
        (32, 256, 64)
    };
    let x = support::random_vec(3, batch * channels * hw);
    let x_gpu = upload(gpu, &x);
    let y_gpu = GpuBuffer::<f32>::zeros(gpu, &[batch * channels]);
    let run = |encoder: &mut facenet_gpu::wgpu::CommandEncoder| {
        pool::global_avg_pool_forward(gpu, encoder, batch, channels, hw, &x_gpu, &y_gpu);
    };

    let mut encoder = gpu.encoder();
    run(&mut encoder);
    gpu.submit(encoder);
    let mut y = vec![0.0; batch * channels];
    facenet_ref::pool::global_avg_pool_forward(batch, channels, hw, &x, &mut y);
    let tol = EPS * (hw as f64 + 4.0);
    validate_all(
        "global average pool",
        &y_gpu.read(gpu).unwrap(),
        &y,
        tol,
        tol,
    );

    let record = Record {
        group: "layers",
        kernel: "global_avg_pool",
        variant: "global-avg-pool-forward",
        shape: format!("{batch}x{channels}x{hw}"),
        flops: None,
        bytes: Some(F32 * (batch * channels * (hw + 1)) as f64),
        extra: serde_json::Value::Null,
    };
    bench(gpu, timer, group, record, run);
}

fn adam(
    gpu: &Gpu,
    timer: &GpuTimer,
    group: &mut criterion::BenchmarkGroup<criterion::measurement::WallTime>,
) {
    let len = if support::quick() { 65_536 } else { 1 << 20 };
    let cfg = AdamConfig {
        lr: 1e-3,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weight_decay: 1e-4,
        decoupled: true,
    };
    let params = support::random_vec(4, len);
    let grads = support::random_vec(5, len);
    let (params_gpu, grads_gpu) = (upload(gpu, &params), upload(gpu, &grads));
    let m_gpu = GpuBuffer::<f32>::zeros(gpu, &[len]);
    let v_gpu = GpuBuffer::<f32>::zeros(gpu, &[len]);

    let mut encoder = gpu.encoder();
    optim::adam_step(
        gpu,
        &mut encoder,
        &cfg,
        1,
        &params_gpu,
        &grads_gpu,
        &m_gpu,
        &v_gpu,
    );
    gpu.submit(encoder);
    let (mut p, mut m, mut v) = (params.clone(), vec![0.0; len], vec![0.0; len]);
    facenet_ref::optim::adam_step(&cfg, 1, &mut p, &grads, &mut m, &mut v);
    // One step of tests/kernels/optim.rs: sqrt and division rounded within a few ulp.
    let p_atol = 64.0 * EPS * f64::from(cfg.lr);
    validate_all(
        "adam params",
        &params_gpu.read(gpu).unwrap(),
        &p,
        p_atol,
        2.0 * EPS,
    );

    // Steps continue from there; the step number only changes the bias-correction scalars.
    let mut step = 1;
    let run = |encoder: &mut facenet_gpu::wgpu::CommandEncoder| {
        step += 1;
        optim::adam_step(
            gpu,
            encoder,
            &cfg,
            step,
            &params_gpu,
            &grads_gpu,
            &m_gpu,
            &v_gpu,
        );
    };
    // Reads parameters, gradients and both moments; writes parameters and both moments.
    let record = Record {
        group: "layers",
        kernel: "adam",
        variant: "adam-step",
        shape: format!("{len}"),
        flops: None,
        bytes: Some(F32 * (7 * len) as f64),
        extra: serde_json::Value::Null,
    };
    bench(gpu, timer, group, record, run);
}

fn main() {
    let gpu = support::gpu();
    let timer = GpuTimer::new(&gpu);
    let mut criterion = support::criterion().configure_from_args();
    let mut group = criterion.benchmark_group("layers");
    l2norm_forward_backward(&gpu, &timer, &mut group);
    global_avg_pool(&gpu, &timer, &mut group);
    adam(&gpu, &timer, &mut group);
    group.finish();
    criterion.final_summary();
}
