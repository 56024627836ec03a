//! `--check`: the same batch through the CPU reference, compared with the GPU step.
//!
//! Tolerances are loose on purpose: the GPU sums in f32 in its own order while the reference
//! accumulates in f64, and a ReLU or a triplet choice at a near-tie may flip between the two.
//! What the check catches is a kernel that is wrong, not one that rounds differently.

use facenet_ref::mining::{Rule, TripletStats, pairwise_sq_distances, triplet_loss};

use crate::batch::Batch;
use crate::cpu_net;
use crate::engine::StepDetails;
use crate::error::TrainError;
use crate::net::{NetConfig, Tensor};

/// Largest absolute embedding difference allowed (embeddings have unit norm).
const EMBEDDING_ATOL: f32 = 2e-3;
/// Relative L2 error allowed per gradient tensor.
const GRAD_RTOL: f64 = 5e-2;
/// Distance slack when judging whether a GPU triplet obeys the rule on reference distances.
const DISTANCE_SLACK: f32 = 1e-3;

/// One line per compared quantity: the largest error and its bound.
pub struct CheckReport {
    pub lines: Vec<String>,
    pub failures: Vec<String>,
}

#[allow(clippy::too_many_arguments)]
pub fn cross_check(
    net: &NetConfig,
    params_before: &[Tensor],
    batch: &Batch,
    rule: Rule,
    alpha: f32,
    gpu: &StepDetails,
    gpu_stats: &TripletStats,
) -> Result<CheckReport, TrainError> {
    let n = batch.labels.len();
    let dim = net.embedding_dim;
    let fwd = cpu_net::forward(net, params_before, &batch.images, n);
    let reference = triplet_loss(
        &fwd.embeddings,
        n,
        dim,
        &batch.labels,
        rule,
        alpha,
        &fwd.norms,
    )?;
    let grads = cpu_net::backward(net, params_before, &batch.images, &fwd, &reference.grad);
    let mut report = CheckReport {
        lines: Vec::new(),
        failures: Vec::new(),
    };

    let emb_error = max_abs_diff(&gpu.embeddings, &fwd.embeddings);
    report.push(
        "embeddings max |diff|",
        emb_error as f64,
        EMBEDDING_ATOL as f64,
    );

    let loss_bound = 1e-3 + 1e-2 * reference.stats.loss.abs();
    let loss_error = (gpu_stats.loss - reference.stats.loss).abs();
    report.push("loss |diff|", loss_error as f64, loss_bound as f64);

    let distances = pairwise_sq_distances(&fwd.embeddings, n, dim);
    let bad = violations(rule, &distances, n, &batch.labels, &gpu.triplets);
    report.push("triplets breaking the rule", bad as f64, 0.0);

    for (tensor, reference) in gpu.grads.iter().zip(&grads) {
        let error = relative_l2(&tensor.data, reference);
        report.push(
            &format!("grad {} relative L2", tensor.name),
            error,
            GRAD_RTOL,
        );
    }
    Ok(report)
}

impl CheckReport {
    fn push(&mut self, what: &str, error: f64, bound: f64) {
        let line = format!("{what}: {error:.3e} (bound {bound:.1e})");
        if error.is_nan() || error > bound {
            self.failures.push(line.clone());
        }
        self.lines.push(line);
    }
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, |m, e| if e.is_nan() { f32::NAN } else { m.max(e) })
}

fn relative_l2(got: &[f32], reference: &[f32]) -> f64 {
    let (mut diff, mut norm) = (0.0f64, 0.0f64);
    for (&g, &r) in got.iter().zip(reference) {
        diff += (f64::from(g) - f64::from(r)).powi(2);
        norm += f64::from(r).powi(2);
    }
    diff.sqrt() / norm.sqrt().max(1e-12)
}

/// How many GPU triplets break the rule's predicate on the reference distances.
fn violations(
    rule: Rule,
    dist: &[f32],
    n: usize,
    labels: &[u32],
    triplets: &[(u32, u32, u32)],
) -> usize {
    let d = |i: u32, j: u32| dist[i as usize * n + j as usize];
    triplets
        .iter()
        .filter(|&&(a, p, neg)| {
            let valid = labels[a as usize] == labels[p as usize]
                && labels[a as usize] != labels[neg as usize]
                && a != p;
            if !valid {
                return true;
            }
            match rule {
                Rule::SemiHard { .. } => {
                    let (d_ap, d_an) = (d(a, p), d(a, neg));
                    // A nearer negative that is still farther than the positive breaks the rule
                    // (a fallback negative has d_an <= d_ap, so none can exist for it).
                    (0..n as u32).any(|m| {
                        labels[m as usize] != labels[a as usize]
                            && d(a, m) > d_ap + DISTANCE_SLACK
                            && d(a, m) < d_an - DISTANCE_SLACK
                    })
                }
                _ => false,
            }
        })
        .count()
}
