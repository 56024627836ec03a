//! The whole net on the GPU kernels: forward, backward and the optimiser step, recorded into
//! one command encoder so that a training step is a single submission.
//!
//! A batch is processed in chunks whose largest activation fits the adapter's storage-binding
//! limit (the FaceNet batch of 1800 at 64x64 does not fit whole into 128 MiB bindings). The
//! chunks share one embedding buffer, so normalisation and triplet mining see the whole batch;
//! weight gradients of later chunks are accumulated into the first chunk's.

use facenet_gpu::{Gpu, GpuBuffer, conv, elementwise, l2norm, linear, optim, pool};
use facenet_ref::optim::Optimizer;

use crate::net::{NetConfig, Tensor};

/// Parameters, gradients and optimiser state on the GPU.
pub struct GpuNet {
    pub net: NetConfig,
    pub optimizer: Optimizer,
    pub params: Vec<GpuBuffer<f32>>,
    pub grads: Vec<GpuBuffer<f32>>,
    /// Gradients of the current chunk when a batch has more than one.
    chunk_grads: Vec<GpuBuffer<f32>>,
    /// Optimiser state: `state[param][slot]`.
    pub state: Vec<Vec<GpuBuffer<f32>>>,
    /// An empty buffer standing for absent state.
    no_state: GpuBuffer<f32>,
    /// Scratch of the split weight-gradient reduction, reused by every layer and step.
    conv_scratch: conv::ConvWorkspace,
}

/// Activations and their gradients for one chunk of a batch.
struct Chunk {
    batch: usize,
    /// First image of the chunk within the batch.
    offset: usize,
    input: GpuBuffer<f32>,
    conv_out: Vec<GpuBuffer<f32>>,
    d_conv_out: Vec<GpuBuffer<f32>>,
    pooled: GpuBuffer<f32>,
    d_pooled: GpuBuffer<f32>,
    fc_out: GpuBuffer<f32>,
    d_fc: GpuBuffer<f32>,
}

/// Everything a batch of a fixed size needs on the GPU.
pub struct Workspace {
    pub batch: usize,
    chunks: Vec<Chunk>,
    pub fc_out: GpuBuffer<f32>,
    pub norms: GpuBuffer<f32>,
    pub embeddings: GpuBuffer<f32>,
    pub d_embeddings: GpuBuffer<f32>,
    d_fc: GpuBuffer<f32>,
}

impl GpuNet {
    pub fn new(gpu: &Gpu, net: &NetConfig, optimizer: Optimizer, params: &[Tensor]) -> Self {
        let upload = |t: &Tensor| GpuBuffer::from_slice(gpu, &t.data, &t.shape);
        let zeros = |t: &Tensor| GpuBuffer::<f32>::zeros(gpu, &t.shape);
        Self {
            net: net.clone(),
            optimizer,
            params: params.iter().map(upload).collect(),
            grads: params.iter().map(zeros).collect(),
            chunk_grads: Vec::new(),
            state: params
                .iter()
                .map(|t| {
                    let init = vec![optimizer.initial_state(); t.data.len()];
                    (0..optimizer.state_slots())
                        .map(|_| GpuBuffer::from_slice(gpu, &init, &t.shape))
                        .collect()
                })
                .collect(),
            no_state: GpuBuffer::zeros(gpu, &[0]),
            conv_scratch: conv::ConvWorkspace::default(),
        }
    }

    /// The largest chunk whose biggest activation (c1's output) fits one storage binding.
    pub fn max_chunk(&self, gpu: &Gpu) -> usize {
        let per_image = self.net.conv_descs(1)[0]
            .output_len()
            .max(self.net.image_len())
            * 4;
        let limit = gpu.limits.max_storage_buffer_binding_size as usize;
        (limit / per_image).clamp(1, 512)
    }

    pub fn workspace(&self, gpu: &Gpu, batch: usize) -> Workspace {
        let chunk_size = self.max_chunk(gpu).min(batch);
        let net = &self.net;
        let dim = net.embedding_dim;
        let chunks = (0..batch)
            .step_by(chunk_size)
            .map(|offset| {
                let n = chunk_size.min(batch - offset);
                let descs = net.conv_descs(n);
                let act = |i: usize| GpuBuffer::<f32>::zeros(gpu, &[descs[i].output_len()]);
                Chunk {
                    batch: n,
                    offset,
                    input: GpuBuffer::zeros(gpu, &[n * net.image_len()]),
                    conv_out: (0..6).map(act).collect(),
                    d_conv_out: (0..6).map(act).collect(),
                    pooled: GpuBuffer::zeros(gpu, &[n * net.pooled_dim()]),
                    d_pooled: GpuBuffer::zeros(gpu, &[n * net.pooled_dim()]),
                    fc_out: GpuBuffer::zeros(gpu, &[n * dim]),
                    d_fc: GpuBuffer::zeros(gpu, &[n * dim]),
                }
            })
            .collect();
        Workspace {
            batch,
            chunks,
            fc_out: GpuBuffer::zeros(gpu, &[batch * dim]),
            norms: GpuBuffer::zeros(gpu, &[batch]),
            embeddings: GpuBuffer::zeros(gpu, &[batch * dim]),
            d_embeddings: GpuBuffer::zeros(gpu, &[batch * dim]),
            d_fc: GpuBuffer::zeros(gpu, &[batch * dim]),
        }
    }

    /// Queues the upload of a batch of images ([batch, C, H, W]) into the workspace.
    pub fn upload_images(&self, gpu: &Gpu, ws: &Workspace, images: &[f32]) {
        let len = self.net.image_len();
        assert_eq!(
            images.len(),
            ws.batch * len,
            "image buffer for a batch of {}",
            ws.batch
        );
        for chunk in &ws.chunks {
            let range = chunk.offset * len..(chunk.offset + chunk.batch) * len;
            chunk.input.write(gpu, &images[range]);
        }
    }

    /// Records the forward pass: images -> `ws.embeddings` (and `ws.norms`).
    pub fn record_forward(
        &self,
        gpu: &Gpu,
        encoder: &mut facenet_gpu::wgpu::CommandEncoder,
        ws: &Workspace,
    ) {
        let net = &self.net;
        let (channels, hw, dim) = (net.pooled_dim(), net.final_size().pow(2), net.embedding_dim);
        for chunk in &ws.chunks {
            let descs = net.conv_descs(chunk.batch);
            for (i, desc) in descs.iter().enumerate() {
                let input = if i == 0 {
                    &chunk.input
                } else {
                    &chunk.conv_out[i - 1]
                };
                let (w, b) = (&self.params[2 * i], &self.params[2 * i + 1]);
                conv::conv2d_forward(gpu, encoder, desc, input, w, b, &chunk.conv_out[i], true);
            }
            pool::global_avg_pool_forward(
                gpu,
                encoder,
                chunk.batch,
                channels,
                hw,
                &chunk.conv_out[5],
                &chunk.pooled,
            );
            linear::linear_forward(
                gpu,
                encoder,
                chunk.batch,
                channels,
                dim,
                &chunk.pooled,
                &self.params[12],
                &self.params[13],
                &chunk.fc_out,
            );
            let bytes = |rows: usize| (rows * dim * 4) as u64;
            encoder.copy_buffer_to_buffer(
                &chunk.fc_out.buffer,
                0,
                &ws.fc_out.buffer,
                bytes(chunk.offset),
                bytes(chunk.batch),
            );
        }
        l2norm::l2_normalize_forward(
            gpu,
            encoder,
            ws.batch,
            dim,
            &ws.fc_out,
            &ws.embeddings,
            &ws.norms,
        );
    }

    /// Records the backward pass from `ws.d_embeddings` into `self.grads`.
    pub fn record_backward(
        &mut self,
        gpu: &Gpu,
        encoder: &mut facenet_gpu::wgpu::CommandEncoder,
        ws: &Workspace,
    ) {
        let net = self.net.clone();
        let (channels, hw, dim) = (net.pooled_dim(), net.final_size().pow(2), net.embedding_dim);
        l2norm::l2_normalize_backward(
            gpu,
            encoder,
            ws.batch,
            dim,
            &ws.embeddings,
            &ws.norms,
            &ws.d_embeddings,
            &ws.d_fc,
        );
        if ws.chunks.len() > 1 && self.chunk_grads.is_empty() {
            self.chunk_grads = self
                .grads
                .iter()
                .map(|g| GpuBuffer::zeros(gpu, g.shape()))
                .collect();
        }
        for (c, chunk) in ws.chunks.iter().enumerate() {
            let grads = if c == 0 {
                &self.grads
            } else {
                &self.chunk_grads
            };
            let bytes = |rows: usize| (rows * dim * 4) as u64;
            encoder.copy_buffer_to_buffer(
                &ws.d_fc.buffer,
                bytes(chunk.offset),
                &chunk.d_fc.buffer,
                0,
                bytes(chunk.batch),
            );
            linear::linear_backward(
                gpu,
                encoder,
                chunk.batch,
                channels,
                dim,
                &chunk.pooled,
                &self.params[12],
                &chunk.d_fc,
                &chunk.d_pooled,
                &grads[12],
                &grads[13],
            );
            pool::global_avg_pool_backward(
                gpu,
                encoder,
                chunk.batch,
                channels,
                hw,
                &chunk.d_pooled,
                &chunk.d_conv_out[5],
            );
            let descs = net.conv_descs(chunk.batch);
            for i in (0..6).rev() {
                let input = if i == 0 {
                    &chunk.input
                } else {
                    &chunk.conv_out[i - 1]
                };
                let (dy, y) = (&chunk.d_conv_out[i], &chunk.conv_out[i]);
                self.conv_scratch.backward_weight(
                    gpu,
                    encoder,
                    &descs[i],
                    input,
                    dy,
                    Some(y),
                    &grads[2 * i],
                    &grads[2 * i + 1],
                );
                if i > 0 {
                    conv::conv2d_backward_data(
                        gpu,
                        encoder,
                        &descs[i],
                        dy,
                        Some(y),
                        &self.params[2 * i],
                        &chunk.d_conv_out[i - 1],
                    );
                }
            }
            if c > 0 {
                for (total, part) in self.grads.iter().zip(&self.chunk_grads) {
                    elementwise::add_assign(gpu, encoder, total, part);
                }
            }
        }
    }

    /// Records one optimiser update of every parameter. `step` is 1-based.
    pub fn record_update(
        &self,
        gpu: &Gpu,
        encoder: &mut facenet_gpu::wgpu::CommandEncoder,
        step: u32,
        lr: f32,
    ) {
        let params = self.params.iter().zip(&self.grads).zip(&self.state);
        for ((param, grad), state) in params {
            match self.optimizer.with_lr(lr) {
                Optimizer::Sgd(cfg) => {
                    // Plain SGD keeps no velocity; the kernel accepts an empty buffer then.
                    let velocity = state.first().unwrap_or(&self.no_state);
                    optim::sgd_step(gpu, encoder, &cfg, param, grad, velocity);
                }
                Optimizer::Adam(cfg) => {
                    optim::adam_step(gpu, encoder, &cfg, step, param, grad, &state[0], &state[1]);
                }
                Optimizer::AdaGrad(cfg) => {
                    optim::adagrad_step(gpu, encoder, &cfg, param, grad, &state[0]);
                }
            }
        }
    }

    /// Reads the parameters back to the host.
    pub fn download_params(&self, gpu: &Gpu) -> Result<Vec<Tensor>, facenet_gpu::GpuError> {
        download(gpu, &self.net.param_shapes(), &self.params)
    }

    pub fn download_grads(&self, gpu: &Gpu) -> Result<Vec<Tensor>, facenet_gpu::GpuError> {
        download(gpu, &self.net.param_shapes(), &self.grads)
    }

    /// Optimiser state as named tensors (`opt.<slot>.<param>`), for checkpoints.
    pub fn download_state(&self, gpu: &Gpu) -> Result<Vec<Tensor>, facenet_gpu::GpuError> {
        let mut out = Vec::new();
        for ((name, shape), slots) in self.net.param_shapes().iter().zip(&self.state) {
            for (slot, buffer) in slots.iter().enumerate() {
                out.push(Tensor {
                    name: format!("opt.{slot}.{name}"),
                    shape: shape.clone(),
                    data: buffer.read(gpu)?,
                });
            }
        }
        Ok(out)
    }

    /// Overwrites parameters and optimiser state (from a checkpoint).
    pub fn load(&self, gpu: &Gpu, params: &[Tensor], state: &[Tensor]) {
        for (buffer, tensor) in self.params.iter().zip(params) {
            buffer.write(gpu, &tensor.data);
        }
        let buffers = self.state.iter().flatten();
        for (buffer, tensor) in buffers.zip(state) {
            buffer.write(gpu, &tensor.data);
        }
    }
}

fn download(
    gpu: &Gpu,
    shapes: &[(String, Vec<usize>)],
    buffers: &[GpuBuffer<f32>],
) -> Result<Vec<Tensor>, facenet_gpu::GpuError> {
    shapes
        .iter()
        .zip(buffers)
        .map(|((name, shape), buffer)| {
            Ok(Tensor {
                name: name.clone(),
                shape: shape.clone(),
                data: buffer.read(gpu)?,
            })
        })
        .collect()
}
