//! GEMM benchmarks: naive against tiled, square and at the facenet-s layer shapes.

mod support;

use criterion::{BenchmarkId, Throughput};
use facenet_gpu::gemm::{GemmDesc, GemmKernel, gemm};
use facenet_gpu::{Gpu, GpuBuffer, GpuTimer};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use support::{Record, time_iters, validate};

/// (label, M, N, K). The facenet-s convolutions as implicit GEMMs at batch 32 and 64x64 input
/// (M = batch * H_out * W_out, N = C_out, K = C_in * 3 * 3), then the fully connected layer.
const FACENET_S_BATCH_32: [(&str, usize, usize, usize); 7] = [
    ("c1", 131_072, 32, 9),
    ("c2", 32_768, 64, 288),
    ("c3", 32_768, 64, 576),
    ("c4", 8_192, 128, 576),
    ("c5", 8_192, 128, 1_152),
    ("c6", 2_048, 256, 1_152),
    ("fc", 32, 128, 256),
];

fn shapes() -> Vec<(String, GemmDesc)> {
    let square: &[usize] = if support::quick() {
        &[64, 128]
    } else {
        &[256, 512, 1024]
    };
    let mut shapes: Vec<(String, GemmDesc)> = square
        .iter()
        .map(|&s| (format!("{s}x{s}x{s}"), GemmDesc::new(s, s, s)))
        .collect();
    if !support::quick() {
        for (layer, m, n, k) in FACENET_S_BATCH_32 {
            shapes.push((
                format!("facenet-s-{layer}-{m}x{n}x{k}"),
                GemmDesc::new(m, n, k),
            ));
        }
    }
    shapes
}

/// Checks 64 sampled entries of C against an f64 dot product before any timing.
fn validate_gemm(gpu: &Gpu, kernel: GemmKernel, desc: &GemmDesc, a: &[f32], b: &[f32]) {
    let (a_gpu, b_gpu) = (
        GpuBuffer::from_slice(gpu, a, &[a.len()]),
        GpuBuffer::from_slice(gpu, b, &[b.len()]),
    );
    let c_gpu = GpuBuffer::<f32>::zeros(gpu, &[desc.c_len()]);
    let mut encoder = gpu.encoder();
    gemm(
        gpu,
        &mut encoder,
        kernel,
        desc,
        &a_gpu,
        &b_gpu,
        None,
        &c_gpu,
    );
    gpu.submit(encoder);
    let c = c_gpu.read(gpu).expect("readback");
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for _ in 0..64 {
        let (row, col) = (rng.random_range(0..desc.m), rng.random_range(0..desc.n));
        let expected: f64 = (0..desc.k)
            .map(|kk| f64::from(desc.a_at(a, 0, row, kk)) * f64::from(desc.b_at(b, 0, kk, col)))
            .sum();
        let bound = f64::from(f32::EPSILON) * (desc.k as f64 + 8.0);
        validate(
            &format!("{} {desc:?} at ({row}, {col})", kernel.name()),
            c[row * desc.n + col],
            expected,
            bound,
        );
    }
}

fn main() {
    let gpu = support::gpu();
    let timer = GpuTimer::new(&gpu);
    let mut criterion = support::criterion().configure_from_args();
    let mut group = criterion.benchmark_group("gemm");
    for (label, desc) in shapes() {
        let a = support::random_vec(1, desc.a_len());
        let b = support::random_vec(2, desc.b_len());
        let a_gpu = GpuBuffer::from_slice(&gpu, &a, &[a.len()]);
        let b_gpu = GpuBuffer::from_slice(&gpu, &b, &[b.len()]);
        let c_gpu = GpuBuffer::<f32>::zeros(&gpu, &[desc.c_len()]);
        group.throughput(Throughput::Elements(desc.flops() as u64));
        for kernel in GemmKernel::ALL {
            validate_gemm(&gpu, kernel, &desc, &a, &b);
            let record = Record {
                group: "gemm",
                kernel: "gemm",
                variant: kernel.name(),
                shape: label.clone(),
                flops: Some(desc.flops()),
                bytes: None,
                extra: serde_json::Value::Null,
            };
            record.save(&gpu, &timer);
            group.bench_function(BenchmarkId::new(kernel.name(), &label), |bencher| {
                bencher.iter_custom(|iters| {
                    time_iters(&gpu, &timer, iters, |encoder| {
                        gemm(&gpu, encoder, kernel, &desc, &a_gpu, &b_gpu, None, &c_gpu)
                    })
                })
            });
        }
    }
    group.finish();
    criterion.final_summary();
}
