//! The whole net: the reference's own gradients against finite differences, and the GPU net
//! against the reference, forward and every parameter gradient.

use facenet::cpu_net;
use facenet::gpu_net::GpuNet;
use facenet::net::{NetConfig, Tensor};
use facenet_gpu::Gpu;
use facenet_ref::optim::{AdamConfig, Optimizer};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn random(seed: u64, len: usize) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..len).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

/// A fixed linear function of the embeddings, so dLoss/dEmbedding = `weights`.
fn loss(emb: &[f32], weights: &[f32]) -> f64 {
    emb.iter()
        .zip(weights)
        .map(|(e, w)| f64::from(*e) * f64::from(*w))
        .sum()
}

fn small_net() -> NetConfig {
    NetConfig {
        preset: "test".into(),
        in_channels: 1,
        input_size: 8,
        widths: [3, 4, 3, 4, 3, 5],
        embedding_dim: 6,
    }
}

#[test]
fn reference_gradients_match_finite_differences() {
    let net = small_net();
    let batch = 2;
    let mut params = net.init_params(3);
    // Non-zero biases, so their gradients are exercised away from ReLU kinks too.
    for t in params.iter_mut().filter(|t| t.name.ends_with("bias")) {
        t.data = random(t.data.len() as u64, t.data.len())
            .iter()
            .map(|v| 0.1 * v)
            .collect();
    }
    let images = random(1, batch * net.image_len());
    let weights = random(2, batch * net.embedding_dim);
    let fwd = cpu_net::forward(&net, &params, &images, batch);
    let grads = cpu_net::backward(&net, &params, &images, &fwd, &weights);

    let h = 1e-3f32;
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    for (p, tensor) in params.clone().iter().enumerate() {
        for _ in 0..3 {
            let i = rng.random_range(0..tensor.data.len());
            let at = |delta: f32| {
                let mut shifted = params.clone();
                shifted[p].data[i] += delta;
                loss(
                    &cpu_net::forward(&net, &shifted, &images, batch).embeddings,
                    &weights,
                )
            };
            let numeric = (at(h) - at(-h)) / (2.0 * f64::from(h));
            let analytic = f64::from(grads[p][i]);
            // f32 activations: central differences with h = 1e-3 carry about 1e-4 of noise.
            let bound = 2e-3 + 2e-2 * numeric.abs();
            assert!(
                (numeric - analytic).abs() <= bound,
                "{}[{i}]: analytic {analytic:e}, numeric {numeric:e}, bound {bound:e}",
                tensor.name
            );
        }
    }
}

fn compare(what: &str, gpu: &[f32], reference: &[f32], rtol: f64) {
    assert_eq!(gpu.len(), reference.len(), "{what}");
    let (mut diff, mut norm) = (0.0f64, 0.0f64);
    for (&g, &r) in gpu.iter().zip(reference) {
        assert!(g.is_finite(), "{what}: GPU value {g}");
        diff += (f64::from(g) - f64::from(r)).powi(2);
        norm += f64::from(r).powi(2);
    }
    let relative = diff.sqrt() / norm.sqrt().max(1e-12);
    // Several f32 layers summed in another order than the f64 reference: 1e-3 is ample for a
    // correct kernel and far below what a wrong index or missing term gives.
    assert!(
        relative <= rtol,
        "{what}: relative L2 error {relative:e} > {rtol:e}"
    );
}

fn gpu_against_reference(net: &NetConfig, batch: usize, seed: u64) {
    let Some(gpu) = Gpu::for_tests() else { return };
    let params = net.init_params(seed);
    let images = random(seed + 1, batch * net.image_len());
    let weights = random(seed + 2, batch * net.embedding_dim);
    let fwd = cpu_net::forward(net, &params, &images, batch);
    let grads = cpu_net::backward(net, &params, &images, &fwd, &weights);

    let adam = Optimizer::Adam(AdamConfig {
        lr: 1e-3,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weight_decay: 0.0,
        decoupled: false,
    });
    let mut gpu_net = GpuNet::new(&gpu, net, adam, &params);
    let ws = gpu_net.workspace(&gpu, batch);
    gpu_net.upload_images(&gpu, &ws, &images);
    ws.d_embeddings.write(&gpu, &weights);
    let mut encoder = gpu.encoder();
    gpu_net.record_forward(&gpu, &mut encoder, &ws);
    gpu_net.record_backward(&gpu, &mut encoder, &ws);
    gpu.submit(encoder);

    compare(
        "embeddings",
        &ws.embeddings.read(&gpu).unwrap(),
        &fwd.embeddings,
        1e-4,
    );
    compare("norms", &ws.norms.read(&gpu).unwrap(), &fwd.norms, 1e-4);
    let gpu_grads: Vec<Tensor> = gpu_net.download_grads(&gpu).unwrap();
    for (tensor, reference) in gpu_grads.iter().zip(&grads) {
        compare(
            &format!("grad {}", tensor.name),
            &tensor.data,
            reference,
            1e-3,
        );
    }
}

#[test]
fn tiny_net_on_the_gpu_matches_the_reference() {
    let net = NetConfig::preset("tiny", 1, 16, 128).unwrap();
    gpu_against_reference(&net, 3, 10);
}

#[test]
fn odd_batch_and_three_channels() {
    let net = NetConfig::preset("tiny", 3, 24, 64).unwrap();
    gpu_against_reference(&net, 7, 20);
}
