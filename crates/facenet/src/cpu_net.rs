//! The whole net on the CPU reference ops: the oracle of the GPU net and the fallback engine.

use facenet_ref::{conv, l2norm, linear, pool};

use crate::net::{NetConfig, Tensor};

/// Every activation the backward pass needs, kept from the forward pass.
pub struct Forward {
    pub batch: usize,
    /// Post-ReLU outputs of c1..c6.
    pub conv_out: Vec<Vec<f32>>,
    /// Global average pool output, [batch, widths[5]].
    pub pooled: Vec<f32>,
    /// Fully connected output before normalisation, [batch, embedding_dim].
    pub fc_out: Vec<f32>,
    /// Norms of `fc_out` rows.
    pub norms: Vec<f32>,
    /// L2-normalised embeddings, [batch, embedding_dim].
    pub embeddings: Vec<f32>,
}

fn check_params(net: &NetConfig, params: &[Tensor]) {
    let shapes = net.param_shapes();
    assert_eq!(params.len(), shapes.len(), "parameter count for {net:?}");
    for (tensor, (name, shape)) in params.iter().zip(&shapes) {
        assert!(
            tensor.name == *name && tensor.shape == *shape,
            "{} vs {name}",
            tensor.name
        );
    }
}

/// Runs `images` ([batch, C, H, W]) through the net.
pub fn forward(net: &NetConfig, params: &[Tensor], images: &[f32], batch: usize) -> Forward {
    check_params(net, params);
    assert_eq!(
        images.len(),
        batch * net.image_len(),
        "image buffer for batch {batch}"
    );
    let descs = net.conv_descs(batch);
    let mut conv_out: Vec<Vec<f32>> = Vec::with_capacity(6);
    for (i, desc) in descs.iter().enumerate() {
        let input = if i == 0 { images } else { &conv_out[i - 1] };
        let mut pre = vec![0.0; desc.output_len()];
        conv::conv2d_forward(
            desc,
            input,
            &params[2 * i].data,
            &params[2 * i + 1].data,
            &mut pre,
        );
        let mut out = vec![0.0; pre.len()];
        conv::relu_forward(&pre, &mut out);
        conv_out.push(out);
    }
    let (channels, hw) = (net.pooled_dim(), net.final_size().pow(2));
    let mut pooled = vec![0.0; batch * channels];
    pool::global_avg_pool_forward(batch, channels, hw, &conv_out[5], &mut pooled);
    let dim = net.embedding_dim;
    let mut fc_out = vec![0.0; batch * dim];
    linear::linear_forward(
        batch,
        channels,
        dim,
        &pooled,
        &params[12].data,
        &params[13].data,
        &mut fc_out,
    );
    let mut embeddings = vec![0.0; batch * dim];
    let mut norms = vec![0.0; batch];
    l2norm::l2_normalize_forward(batch, dim, &fc_out, &mut embeddings, &mut norms);
    Forward {
        batch,
        conv_out,
        pooled,
        fc_out,
        norms,
        embeddings,
    }
}

/// Gradients of every parameter (in `param_shapes` order) given dLoss/dEmbeddings.
pub fn backward(
    net: &NetConfig,
    params: &[Tensor],
    images: &[f32],
    fwd: &Forward,
    d_embeddings: &[f32],
) -> Vec<Vec<f32>> {
    let batch = fwd.batch;
    let (channels, hw, dim) = (net.pooled_dim(), net.final_size().pow(2), net.embedding_dim);
    let mut grads: Vec<Vec<f32>> = params.iter().map(|t| vec![0.0; t.data.len()]).collect();

    let mut d_fc = vec![0.0; batch * dim];
    l2norm::l2_normalize_backward(
        batch,
        dim,
        &fwd.embeddings,
        &fwd.norms,
        d_embeddings,
        &mut d_fc,
    );
    let mut d_pooled = vec![0.0; batch * channels];
    let (fc_weight_grad, fc_bias_grad) = grads.split_at_mut(13);
    linear::linear_backward(
        batch,
        channels,
        dim,
        &fwd.pooled,
        &params[12].data,
        &d_fc,
        &mut d_pooled,
        &mut fc_weight_grad[12],
        &mut fc_bias_grad[0],
    );
    let mut d_out = vec![0.0; batch * channels * hw];
    pool::global_avg_pool_backward(batch, channels, hw, &d_pooled, &mut d_out);

    let descs = net.conv_descs(batch);
    for i in (0..6).rev() {
        let desc = &descs[i];
        let mut d_pre = vec![0.0; d_out.len()];
        conv::relu_backward(&fwd.conv_out[i], &d_out, &mut d_pre);
        let input = if i == 0 { images } else { &fwd.conv_out[i - 1] };
        let (weights, biases) = grads.split_at_mut(2 * i + 1);
        conv::conv2d_backward_weight(desc, input, &d_pre, &mut weights[2 * i], &mut biases[0]);
        if i > 0 {
            let mut d_in = vec![0.0; desc.input_len()];
            conv::conv2d_backward_data(desc, &d_pre, &params[2 * i].data, &mut d_in);
            d_out = d_in;
        }
    }
    grads
}
