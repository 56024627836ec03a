//! Where a training step runs: the GPU kernels ([`GpuEngine`]) or the CPU reference
//! ([`CpuEngine`], the fallback without an adapter and the oracle of `--check`).

use facenet_gpu::mining::TripletMiner;
use facenet_gpu::{Gpu, GpuBuffer};
use facenet_ref::mining::{Rule, TripletStats};
use facenet_ref::optim::Optimizer;

use crate::batch::Batch;
use crate::cpu_net;
use crate::error::TrainError;
use crate::gpu_net::{GpuNet, Workspace};
use crate::net::{NetConfig, Tensor};

/// Embeddings are computed in batches of this many images outside training.
const EMBED_BATCH: usize = 64;

/// What the last training step saw and produced, for the cross-check.
pub struct StepDetails {
    pub embeddings: Vec<f32>,
    pub grads: Vec<Tensor>,
    pub triplets: Vec<(u32, u32, u32)>,
}

pub trait Engine {
    /// The adapter (or "cpu-reference"), for logs and metrics.
    fn adapter(&self) -> String;

    /// The GPU, where the engine runs on one.
    fn gpu(&self) -> Option<&Gpu>;

    /// One step: forward, mining, loss, backward and the optimiser update. `step` is 1-based.
    fn train_step(
        &mut self,
        batch: &Batch,
        rule: Rule,
        alpha: f32,
        step: u32,
        lr: f32,
    ) -> Result<TripletStats, TrainError>;

    /// L2-normalised embeddings of `n` images, [n, embedding_dim].
    fn embed(&mut self, images: &[f32], n: usize) -> Result<Vec<f32>, TrainError>;

    /// The N x N squared-distance matrix of `n` embeddings.
    fn pairwise_distances(&mut self, emb: &[f32], n: usize) -> Result<Vec<f32>, TrainError>;

    fn params(&self) -> Result<Vec<Tensor>, TrainError>;
    fn optimizer_state(&self) -> Result<Vec<Tensor>, TrainError>;
    fn load(&mut self, params: &[Tensor], state: &[Tensor]) -> Result<(), TrainError>;

    /// Embeddings, gradients and triplets of the last training step.
    fn last_step(&self) -> Result<StepDetails, TrainError>;
}

/// Padded batches of at most [`EMBED_BATCH`] images through `run`.
fn embed_in_batches(
    net: &NetConfig,
    images: &[f32],
    n: usize,
    mut run: impl FnMut(&[f32]) -> Result<Vec<f32>, TrainError>,
) -> Result<Vec<f32>, TrainError> {
    let len = net.image_len();
    assert_eq!(images.len(), n * len, "{n} images");
    let mut out = Vec::with_capacity(n * net.embedding_dim);
    for start in (0..n).step_by(EMBED_BATCH) {
        let count = EMBED_BATCH.min(n - start);
        let mut chunk = images[start * len..(start + count) * len].to_vec();
        chunk.resize(EMBED_BATCH.min(n) * len, 0.0);
        let emb = run(&chunk)?;
        out.extend_from_slice(&emb[..count * net.embedding_dim]);
    }
    Ok(out)
}

pub struct GpuEngine {
    gpu: Gpu,
    net: GpuNet,
    train: Option<(Workspace, GpuBuffer<u32>, GpuBuffer<f32>)>,
    embed: Option<Workspace>,
    miner: Option<TripletMiner>,
    last_triplets_valid: bool,
}

impl GpuEngine {
    pub fn new(gpu: Gpu, net: &NetConfig, optimizer: Optimizer, params: &[Tensor]) -> Self {
        let gpu_net = GpuNet::new(&gpu, net, optimizer, params);
        Self {
            gpu,
            net: gpu_net,
            train: None,
            embed: None,
            miner: None,
            last_triplets_valid: false,
        }
    }
}

impl Engine for GpuEngine {
    fn adapter(&self) -> String {
        self.gpu.info.name.clone()
    }

    fn gpu(&self) -> Option<&Gpu> {
        Some(&self.gpu)
    }

    fn train_step(
        &mut self,
        batch: &Batch,
        rule: Rule,
        alpha: f32,
        step: u32,
        lr: f32,
    ) -> Result<TripletStats, TrainError> {
        let n = batch.labels.len();
        let dim = self.net.net.embedding_dim;
        if self.train.as_ref().is_none_or(|(ws, _, _)| ws.batch != n) {
            let ws = self.net.workspace(&self.gpu, n);
            let labels = GpuBuffer::<u32>::zeros(&self.gpu, &[n]);
            let pre_norms = GpuBuffer::<f32>::zeros(&self.gpu, &[n]);
            self.train = Some((ws, labels, pre_norms));
            self.miner = Some(TripletMiner::new(&self.gpu, n, dim));
        }
        let (ws, labels, _) = self.train.as_ref().expect("workspace allocated above");
        self.net.upload_images(&self.gpu, ws, &batch.images);
        labels.write(&self.gpu, &batch.labels);

        let mut encoder = self.gpu.encoder();
        self.net.record_forward(&self.gpu, &mut encoder, ws);
        let miner = self
            .miner
            .as_mut()
            .expect("miner allocated with the workspace");
        miner.record(
            &self.gpu,
            &mut encoder,
            &ws.embeddings,
            labels,
            n,
            rule,
            alpha,
            Some(&ws.norms),
            &ws.d_embeddings,
        )?;
        self.net.record_backward(&self.gpu, &mut encoder, ws);
        self.net.record_update(&self.gpu, &mut encoder, step, lr);
        self.gpu.submit(encoder);
        self.last_triplets_valid = true;
        Ok(miner.read_stats(&self.gpu)?)
    }

    fn embed(&mut self, images: &[f32], n: usize) -> Result<Vec<f32>, TrainError> {
        let batch = EMBED_BATCH.min(n);
        if self.embed.as_ref().is_none_or(|ws| ws.batch != batch) {
            self.embed = Some(self.net.workspace(&self.gpu, batch));
        }
        let ws = self.embed.as_ref().expect("allocated above");
        let (gpu, net) = (&self.gpu, &self.net);
        embed_in_batches(&net.net, images, n, |chunk| {
            net.upload_images(gpu, ws, chunk);
            let mut encoder = gpu.encoder();
            net.record_forward(gpu, &mut encoder, ws);
            gpu.submit(encoder);
            Ok(ws.embeddings.read(gpu)?)
        })
    }

    fn pairwise_distances(&mut self, emb: &[f32], n: usize) -> Result<Vec<f32>, TrainError> {
        let dim = self.net.net.embedding_dim;
        let x = GpuBuffer::from_slice(&self.gpu, emb, &[n, dim]);
        let out = GpuBuffer::<f32>::zeros(&self.gpu, &[n, n]);
        let mut encoder = self.gpu.encoder();
        facenet_gpu::distance::pairwise_sq_distances(&self.gpu, &mut encoder, &x, n, dim, &out);
        self.gpu.submit(encoder);
        Ok(out.read(&self.gpu)?)
    }

    fn params(&self) -> Result<Vec<Tensor>, TrainError> {
        Ok(self.net.download_params(&self.gpu)?)
    }

    fn optimizer_state(&self) -> Result<Vec<Tensor>, TrainError> {
        Ok(self.net.download_state(&self.gpu)?)
    }

    fn load(&mut self, params: &[Tensor], state: &[Tensor]) -> Result<(), TrainError> {
        self.net.load(&self.gpu, params, state);
        Ok(self.gpu.sync()?)
    }

    fn last_step(&self) -> Result<StepDetails, TrainError> {
        let (Some((ws, _, _)), Some(miner), true) =
            (&self.train, &self.miner, self.last_triplets_valid)
        else {
            return Err(TrainError::Config("no training step has run yet".into()));
        };
        Ok(StepDetails {
            embeddings: ws.embeddings.read(&self.gpu)?,
            grads: self.net.download_grads(&self.gpu)?,
            triplets: miner.read_triplets(&self.gpu)?,
        })
    }
}

/// The CPU reference as a training engine: slow, exact, needs no adapter.
pub struct CpuEngine {
    net: NetConfig,
    optimizer: Optimizer,
    params: Vec<Tensor>,
    state: Vec<Vec<Vec<f32>>>,
    last: Option<StepDetails>,
}

impl CpuEngine {
    pub fn new(net: &NetConfig, optimizer: Optimizer, params: &[Tensor]) -> Self {
        let state = params
            .iter()
            .map(|t| {
                let init = optimizer.initial_state();
                (0..optimizer.state_slots())
                    .map(|_| vec![init; t.data.len()])
                    .collect()
            })
            .collect();
        Self {
            net: net.clone(),
            optimizer,
            params: params.to_vec(),
            state,
            last: None,
        }
    }
}

impl Engine for CpuEngine {
    fn adapter(&self) -> String {
        "cpu-reference".into()
    }

    fn gpu(&self) -> Option<&Gpu> {
        None
    }

    fn train_step(
        &mut self,
        batch: &Batch,
        rule: Rule,
        alpha: f32,
        step: u32,
        lr: f32,
    ) -> Result<TripletStats, TrainError> {
        let n = batch.labels.len();
        let dim = self.net.embedding_dim;
        let fwd = cpu_net::forward(&self.net, &self.params, &batch.images, n);
        let out = facenet_ref::mining::triplet_loss(
            &fwd.embeddings,
            n,
            dim,
            &batch.labels,
            rule,
            alpha,
            &fwd.norms,
        )?;
        let grads = cpu_net::backward(&self.net, &self.params, &batch.images, &fwd, &out.grad);
        for ((param, grad), state) in self.params.iter_mut().zip(&grads).zip(&mut self.state) {
            use facenet_ref::optim as o;
            match self.optimizer.with_lr(lr) {
                Optimizer::Sgd(cfg) => {
                    let mut none = Vec::new();
                    let velocity = state.first_mut().unwrap_or(&mut none);
                    o::sgd_step(&cfg, &mut param.data, grad, velocity);
                }
                Optimizer::Adam(cfg) => {
                    let (m, v) = state.split_at_mut(1);
                    o::adam_step(&cfg, step, &mut param.data, grad, &mut m[0], &mut v[0]);
                }
                Optimizer::AdaGrad(cfg) => {
                    o::adagrad_step(&cfg, &mut param.data, grad, &mut state[0]);
                }
            }
        }
        let shapes = self.net.param_shapes();
        self.last = Some(StepDetails {
            embeddings: fwd.embeddings,
            grads: shapes
                .into_iter()
                .zip(grads)
                .map(|((name, shape), data)| Tensor { name, shape, data })
                .collect(),
            triplets: out.triplets,
        });
        Ok(out.stats)
    }

    fn embed(&mut self, images: &[f32], n: usize) -> Result<Vec<f32>, TrainError> {
        let (net, params) = (&self.net, &self.params);
        embed_in_batches(net, images, n, |chunk| {
            let batch = chunk.len() / net.image_len();
            Ok(cpu_net::forward(net, params, chunk, batch).embeddings)
        })
    }

    fn pairwise_distances(&mut self, emb: &[f32], n: usize) -> Result<Vec<f32>, TrainError> {
        Ok(facenet_ref::mining::pairwise_sq_distances(
            emb,
            n,
            self.net.embedding_dim,
        ))
    }

    fn params(&self) -> Result<Vec<Tensor>, TrainError> {
        Ok(self.params.clone())
    }

    fn optimizer_state(&self) -> Result<Vec<Tensor>, TrainError> {
        let mut out = Vec::new();
        for (param, slots) in self.params.iter().zip(&self.state) {
            for (slot, data) in slots.iter().enumerate() {
                out.push(Tensor {
                    name: format!("opt.{slot}.{}", param.name),
                    shape: param.shape.clone(),
                    data: data.clone(),
                });
            }
        }
        Ok(out)
    }

    fn load(&mut self, params: &[Tensor], state: &[Tensor]) -> Result<(), TrainError> {
        self.params = params.to_vec();
        let mut tensors = state.iter();
        for slots in &mut self.state {
            for slot in slots {
                *slot = tensors
                    .next()
                    .expect("checkpoint state matches the optimiser")
                    .data
                    .clone();
            }
        }
        Ok(())
    }

    fn last_step(&self) -> Result<StepDetails, TrainError> {
        let last = self
            .last
            .as_ref()
            .ok_or_else(|| TrainError::Config("no step yet".into()))?;
        Ok(StepDetails {
            embeddings: last.embeddings.clone(),
            grads: last.grads.clone(),
            triplets: last.triplets.clone(),
        })
    }
}
