//! Whole-net benchmarks: forward + backward of tiny and facenet-s at batch 64, and the full
//! training step (forward, semi-hard mining, loss, backward, Adam) at batch 64 = 16 x 4.

mod support;

use criterion::{BenchmarkId, Throughput};
use facenet::batch::Batch;
use facenet::cpu_net;
use facenet::engine::{Engine, GpuEngine};
use facenet::gpu_net::GpuNet;
use facenet::net::NetConfig;
use facenet_gpu::GpuTimer;
use facenet_ref::mining::{Fallback, Rule};
use facenet_ref::optim::{AdamConfig, Optimizer};

use support::{Record, time_iters, validate};

const BATCH: usize = 64;

fn adam() -> Optimizer {
    Optimizer::Adam(AdamConfig {
        lr: 1e-3,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weight_decay: 0.0,
        decoupled: false,
    })
}

fn nets() -> Vec<NetConfig> {
    let size = if support::quick() { 16 } else { 64 };
    let mut nets = vec![NetConfig::preset("tiny", 1, size, 128).unwrap()];
    if !support::quick() {
        nets.push(NetConfig::preset("facenet-s", 1, size, 128).unwrap());
    }
    nets
}

/// Two images through the GPU net against the reference before any timing.
fn validate_net(gpu: &facenet_gpu::Gpu, net: &NetConfig) {
    let params = net.init_params(1);
    let images = support::random_vec(2, 2 * net.image_len());
    let expected = cpu_net::forward(net, &params, &images, 2).embeddings;
    let gpu_net = GpuNet::new(gpu, net, adam(), &params);
    let ws = gpu_net.workspace(gpu, 2);
    gpu_net.upload_images(gpu, &ws, &images);
    let mut encoder = gpu.encoder();
    gpu_net.record_forward(gpu, &mut encoder, &ws);
    gpu.submit(encoder);
    let got = ws.embeddings.read(gpu).expect("readback");
    for (i, (&g, &e)) in got.iter().zip(&expected).enumerate() {
        validate(
            &format!("{} embedding {i}", net.preset),
            g,
            f64::from(e),
            1e-3,
        );
    }
}

fn main() {
    let gpu = support::gpu();
    let timer = GpuTimer::new(&gpu);
    let mut criterion = support::criterion().configure_from_args();

    let mut group = criterion.benchmark_group("net");
    for net in nets() {
        validate_net(&gpu, &net);
        let params = net.init_params(1);
        let mut gpu_net = GpuNet::new(&gpu, &net, adam(), &params);
        let ws = gpu_net.workspace(&gpu, BATCH);
        gpu_net.upload_images(&gpu, &ws, &support::random_vec(3, BATCH * net.image_len()));
        ws.d_embeddings
            .write(&gpu, &support::random_vec(4, BATCH * net.embedding_dim));
        let shape = format!("{}-batch{BATCH}-{}px", net.preset, net.input_size);
        // A backward pass costs about twice the forward one.
        let flops = 3.0 * net.forward_flops() * BATCH as f64;
        group.throughput(Throughput::Elements(BATCH as u64));
        Record {
            group: "net",
            kernel: "net-forward-backward",
            variant: "gpu",
            shape: shape.clone(),
            flops: Some(flops),
            bytes: None,
            extra: serde_json::json!({ "images": BATCH }),
        }
        .save(&gpu, &timer);
        group.bench_function(BenchmarkId::new("gpu", &shape), |bencher| {
            bencher.iter_custom(|iters| {
                time_iters(&gpu, &timer, iters, |encoder| {
                    gpu_net.record_forward(&gpu, encoder, &ws);
                    gpu_net.record_backward(&gpu, encoder, &ws);
                })
            })
        });
    }
    group.finish();

    let mut group = criterion.benchmark_group("train-step");
    let rule = Rule::SemiHard {
        band: false,
        fallback: Fallback::Skip,
    };
    for net in nets() {
        let params = net.init_params(1);
        let mut engine = GpuEngine::new(support::gpu(), &net, adam(), &params);
        let labels: Vec<u32> = (0..BATCH as u32).map(|i| i / 4).collect();
        let batch = Batch {
            images: support::random_vec(5, BATCH * net.image_len()),
            labels,
        };
        let shape = format!("{}-batch{BATCH}-{}px", net.preset, net.input_size);
        Record {
            group: "train-step",
            kernel: "train-step",
            variant: "semi-hard",
            shape: shape.clone(),
            flops: Some(3.0 * net.forward_flops() * BATCH as f64),
            bytes: None,
            extra: serde_json::json!({ "images": BATCH }),
        }
        .save_wall(&gpu);
        let stats = engine
            .train_step(&batch, rule, 0.2, 1, 1e-3)
            .expect("training step");
        assert!(
            stats.loss.is_finite(),
            "training step gave loss {}",
            stats.loss
        );
        // Wall clock: a step includes its uploads and the statistics readback.
        group.bench_function(BenchmarkId::new("semi-hard", &shape), |bencher| {
            let mut step = 1;
            bencher.iter(|| {
                step += 1;
                engine
                    .train_step(&batch, rule, 0.2, step, 1e-3)
                    .expect("training step")
            })
        });
    }
    group.finish();
    criterion.final_summary();
}
