//! Triplet mining benchmarks: distances, and selection + loss + gradient per rule, at the
//! batch sizes of SPEC section 2 (P identities x K = 40 images, random unit embeddings, d = 128).

mod support;

use criterion::{BenchmarkId, Throughput};
use facenet_gpu::distance::cross_sq_distances;
use facenet_gpu::mining::{Rule, TripletMiner};
use facenet_gpu::{Gpu, GpuBuffer, GpuTimer};

use support::{Record, time_iters, validate};

const D: usize = 128;
const K: usize = 40;
/// Rows of query per distance launch: the 8192 x 8192 matrix does not fit one binding.
const DISTANCE_BLOCK: usize = 1024;

fn sizes() -> &'static [usize] {
    if support::quick() {
        &[256, 512]
    } else {
        &[512, 1800, 4096, 8192]
    }
}

fn rules() -> Vec<Rule> {
    [
        "semi-hard",
        "semi-hard-inside",
        "batch-hard",
        "batch-hard-soft",
        "batch-all",
    ]
    .iter()
    .map(|name| Rule::parse(name).unwrap())
    .collect()
}

fn sphere(n: usize) -> Vec<f32> {
    let mut x = support::random_vec(3, n * D);
    for row in x.chunks_mut(D) {
        let norm = row.iter().map(|v| v * v).sum::<f32>().sqrt();
        row.iter_mut().for_each(|v| *v /= norm);
    }
    x
}

/// Checks the step before timing it: exact pair count, and the loss against the brute-force
/// reference where that is affordable (not batch-all, whose reference is O(N^2 K d)).
fn validate_step(gpu: &Gpu, miner: &TripletMiner, rule: Rule, emb: &[f32], labels: &[u32]) {
    let stats = miner.read_stats(gpu).expect("stats");
    let n = labels.len();
    let pairs: usize = (0..n)
        .map(|a| (0..n).filter(|&p| p != a && labels[p] == labels[a]).count())
        .sum();
    validate(
        &format!("{} positive pairs", rule.name()),
        stats.positive_pairs as f32,
        pairs as f64,
        0.0,
    );
    if n <= 512 && !matches!(rule, Rule::BatchAll { .. }) {
        let expected =
            facenet_ref::mining::triplet_loss(emb, n, D, labels, rule, 0.2, &[]).unwrap();
        let loss = f64::from(expected.stats.loss);
        validate(
            &format!("{} loss at N = {n}", rule.name()),
            stats.loss,
            loss,
            1e-4 * loss + 1e-6,
        );
    }
}

fn main() {
    let gpu = support::gpu();
    let timer = GpuTimer::new(&gpu);
    let mut criterion = support::criterion().configure_from_args();
    let mut group = criterion.benchmark_group("mining");
    for &n in sizes() {
        let shape = format!("{}x{K}x{D}", n / K);
        let shape = if n % K == 0 {
            shape
        } else {
            format!("n{n}-k{K}-d{D}")
        };
        let emb = sphere(n);
        let labels: Vec<u32> = (0..n as u32).map(|i| i / K as u32).collect();
        let emb_gpu = GpuBuffer::from_slice(&gpu, &emb, &[n * D]);
        let labels_gpu = GpuBuffer::from_slice(&gpu, &labels, &[n]);
        let grad = GpuBuffer::<f32>::zeros(&gpu, &[n * D]);

        // Distances in blocks of query rows, as the miner computes them; full blocks share
        // one output buffer, a ragged last block has its own.
        let full = GpuBuffer::<f32>::zeros(&gpu, &[DISTANCE_BLOCK.min(n) * n]);
        let blocks: Vec<(usize, GpuBuffer<f32>, Option<GpuBuffer<f32>>)> = (0..n)
            .step_by(DISTANCE_BLOCK)
            .map(|r0| {
                let rows = DISTANCE_BLOCK.min(n - r0);
                let q = GpuBuffer::from_slice(&gpu, &emb[r0 * D..(r0 + rows) * D], &[rows * D]);
                let ragged = (rows * n != full.len()).then(|| GpuBuffer::zeros(&gpu, &[rows * n]));
                (rows, q, ragged)
            })
            .collect();
        let flops = 2.0 * (n * n * D) as f64;
        group.throughput(Throughput::Elements(flops as u64));
        Record {
            group: "mining",
            kernel: "sq_distances",
            variant: "distances",
            shape: shape.clone(),
            flops: Some(flops),
            bytes: None,
            extra: serde_json::json!({ "peak_bytes": (full.len() + 2 * n * D) * 4 }),
        }
        .save(&gpu, &timer);
        group.bench_function(BenchmarkId::new("distances", &shape), |bencher| {
            bencher.iter_custom(|iters| {
                time_iters(&gpu, &timer, iters, |encoder| {
                    for (rows, q, ragged) in &blocks {
                        let out = ragged.as_ref().unwrap_or(&full);
                        cross_sq_distances(&gpu, encoder, q, *rows, &emb_gpu, n, D, out);
                    }
                })
            })
        });

        let mut miner = TripletMiner::new(&gpu, n, D);
        for rule in rules() {
            let step = |miner: &mut TripletMiner,
                        encoder: &mut facenet_gpu::wgpu::CommandEncoder| {
                miner
                    .record(
                        &gpu,
                        encoder,
                        &emb_gpu,
                        &labels_gpu,
                        n,
                        rule,
                        0.2,
                        None,
                        &grad,
                    )
                    .expect("labels match")
            };
            let mut encoder = gpu.encoder();
            step(&mut miner, &mut encoder);
            gpu.submit(encoder);
            validate_step(&gpu, &miner, rule, &emb, &labels);
            let peak = miner.allocated_bytes() + (grad.len() * 4) as u64;
            let name = rule.name();
            Record {
                group: "mining",
                kernel: "triplet_step",
                variant: &name,
                shape: shape.clone(),
                flops: None,
                bytes: None,
                extra: serde_json::json!({ "peak_bytes": peak }),
            }
            .save(&gpu, &timer);
            group.bench_function(BenchmarkId::new(&name, &shape), |bencher| {
                bencher.iter_custom(|iters| {
                    time_iters(&gpu, &timer, iters, |encoder| step(&mut miner, encoder))
                })
            });
        }
    }
    group.finish();
    criterion.final_summary();
}
