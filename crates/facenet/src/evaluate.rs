//! Held-out evaluation of an engine's embeddings: verification over all matched pairs and as
//! many mismatched ones in 10 folds, leave-one-out k-NN recognition and k-means clustering
//! (SPEC section 4). The N x N work (distance matrix, k-means assignment) runs on the GPU when
//! the engine has one.

use std::collections::HashMap;

use facenet_data::{LoadedImages, PairsFile};
use facenet_eval::clustering::{AssignStep, CpuAssign, KMeansOptions, clustering_scores, kmeans};
use facenet_eval::recognition::knn_leave_one_out;
use facenet_eval::report::{ClusteringReport, EvalReport};
use facenet_eval::verification::{VerificationReport, evaluate_verification};
use facenet_gpu::{Gpu, GpuBuffer};

use crate::engine::Engine;
use crate::error::TrainError;

pub const FOLDS: usize = 10;

/// Pairs of rows of a set, with their match flag and fold.
pub struct Pairs {
    pub rows: Vec<(usize, usize)>,
    pub matched: Vec<bool>,
    pub folds: Vec<usize>,
}

/// Every matched pair of the set and as many random mismatched ones, dealt into folds.
pub fn all_pairs(set: &LoadedImages, folds: usize, seed: u64) -> Result<Pairs, TrainError> {
    let mut rows_of: HashMap<&str, Vec<usize>> = HashMap::new();
    for (row, &label) in set.labels.iter().enumerate() {
        rows_of
            .entry(set.names[label as usize].as_str())
            .or_default()
            .push(row);
    }
    let counts: Vec<(String, usize)> = set
        .names
        .iter()
        .map(|n| (n.clone(), rows_of.get(n.as_str()).map_or(0, Vec::len)))
        .collect();
    let counts: Vec<(String, usize)> = counts.into_iter().filter(|(_, c)| *c > 0).collect();
    let file = PairsFile::all_pairs_from_counts(&counts, folds, seed)?;
    let row = |(name, index): &(String, usize)| rows_of[name.as_str()][index - 1];
    Ok(Pairs {
        rows: file
            .pairs
            .iter()
            .map(|p| (row(&p.first), row(&p.second)))
            .collect(),
        matched: file.pairs.iter().map(|p| p.matched()).collect(),
        folds: file.pairs.iter().map(|p| p.fold).collect(),
    })
}

pub fn squared_distance(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// Verification accuracy and the rest on precomputed pairs.
pub fn verify(emb: &[f32], dim: usize, pairs: &Pairs) -> Result<VerificationReport, TrainError> {
    let row = |i: usize| &emb[i * dim..(i + 1) * dim];
    let distances: Vec<f32> = pairs
        .rows
        .iter()
        .map(|&(a, b)| squared_distance(row(a), row(b)))
        .collect();
    Ok(evaluate_verification(
        &distances,
        &pairs.matched,
        &pairs.folds,
        FOLDS,
    )?)
}

/// Verification, recognition and clustering of a held-out set.
pub fn evaluate_all(
    engine: &mut dyn Engine,
    set: &LoadedImages,
    emb: &[f32],
    dim: usize,
    seed: u64,
) -> Result<EvalReport, TrainError> {
    let n = set.len();
    let verification = verify(emb, dim, &all_pairs(set, FOLDS, seed)?)?;
    let distances = engine.pairwise_distances(emb, n)?;
    let recognition = knn_leave_one_out(&distances, n, &set.labels, &[1, 5])?;
    let k = set.names.len();
    let options = KMeansOptions {
        seed,
        ..KMeansOptions::default()
    };
    let result = match engine.gpu() {
        Some(gpu) => kmeans(emb, n, dim, k, &options, &mut GpuAssign::new(gpu)),
        None => kmeans(emb, n, dim, k, &options, &mut CpuAssign),
    }?;
    let scores = clustering_scores(&set.labels, &result.labels)?;
    Ok(EvalReport {
        verification,
        recognition,
        clustering: ClusteringReport {
            k,
            inertia: result.inertia,
            scores,
        },
    })
}

/// The k-means assignment step on the GPU: nearest centroid per row, never materialising the
/// n x k matrix on the host. Falls back to the CPU (with a warning) if the GPU fails.
pub struct GpuAssign<'a> {
    gpu: &'a Gpu,
}

impl<'a> GpuAssign<'a> {
    pub fn new(gpu: &'a Gpu) -> Self {
        Self { gpu }
    }

    fn try_assign(
        &self,
        data: &[f32],
        n: usize,
        dim: usize,
        centroids: &[f32],
        k: usize,
    ) -> Result<(Vec<u32>, Vec<f32>), facenet_gpu::GpuError> {
        let gpu = self.gpu;
        let rows = GpuBuffer::from_slice(gpu, data, &[n, dim]);
        let centres = GpuBuffer::from_slice(gpu, centroids, &[k, dim]);
        let index = GpuBuffer::<u32>::zeros(gpu, &[n]);
        let dist = GpuBuffer::<f32>::zeros(gpu, &[n]);
        let mut encoder = gpu.encoder();
        facenet_gpu::distance::nearest(
            gpu,
            &mut encoder,
            &rows,
            n,
            &centres,
            k,
            dim,
            &index,
            &dist,
        );
        gpu.submit(encoder);
        Ok((index.read(gpu)?, dist.read(gpu)?))
    }
}

impl AssignStep for GpuAssign<'_> {
    fn assign(
        &mut self,
        data: &[f32],
        n: usize,
        dim: usize,
        centroids: &[f32],
        k: usize,
        out_labels: &mut [u32],
        out_dist: &mut [f32],
    ) {
        match self.try_assign(data, n, dim, centroids, k) {
            Ok((labels, dist)) => {
                out_labels.copy_from_slice(&labels);
                out_dist.copy_from_slice(&dist);
            }
            Err(error) => {
                log::warn!("GPU k-means assignment failed ({error}); using the CPU");
                CpuAssign.assign(data, n, dim, centroids, k, out_labels, out_dist);
            }
        }
    }
}
