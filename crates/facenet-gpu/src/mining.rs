//! In-batch triplet selection, loss, gradient and statistics on the GPU (SPEC sections 2, 3).
//!
//! [`TripletMiner::record`] takes `n x d` L2-normalised embeddings and `n` labels and records:
//! 1. the squared norms of the rows, once;
//! 2. for each block of anchor rows (as many as fit [`BLOCK_BYTES`], e.g. all 1800 rows at
//!    N = 1800, 1024 rows at N = 8192): the `rows x n` distances by the tiled GEMM
//!    ([`crate::distance`]), then the rule's selection with one workgroup per anchor row (every
//!    rule is row-local), which writes the anchor's row of an integer weight matrix S and its
//!    statistics partials, then the gradient contributions of those anchors gathered per row
//!    (`mining_gradient.wgsl`);
//! 3. the statistics, summed in a fixed order into one small buffer, and the gradient scaled
//!    by `2 / denominator`, read from that buffer on the GPU.
//!
//! Memory is two `rows x n` blocks (distances and S) plus O(n) and the pair table for
//! read-back: O(N^2) at most, never O(N^3), and no binding above [`BLOCK_BYTES`]. Nothing of
//! size `n x n` crosses to the host. No float atomics: S holds integer counts, and each
//! gradient row is summed by one workgroup in a fixed order, so every run gives the same bits.

pub use facenet_ref::mining::{Fallback, MiningError, Rule, TripletStats};

use crate::distance::{distance_block, sq_norms};
use crate::{Gpu, GpuBuffer, GpuError, KernelSpec};

/// Largest distance (and weight) block: 1024 anchor rows at N = 8192, within the default
/// 128 MiB storage-binding limit with room to spare.
pub const BLOCK_BYTES: usize = 32 << 20;

/// Positive pairs per row the pair table keeps for [`TripletMiner::read_triplets`]: enough for
/// identities of up to 129 images in a batch. The loss and gradient do not depend on it.
const PAIR_SLOTS_PER_ROW: usize = 128;

const NONE: u32 = u32::MAX;

/// Invocations of a gradient workgroup (`WG` in `shaders/mining_gradient.wgsl`).
const GRAD_WG: usize = 32;

/// Mirrors `MiningParams` in `shaders/mining_params.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
struct MiningParams {
    n: u32,
    d: u32,
    row0: u32,
    rows: u32,
    alpha: f32,
    band: u32,
    inside: u32,
    soft_margin: u32,
    pair_capacity: u32,
    nonzero_mean: u32,
    has_norms: u32,
    _pad0: u32,
}

/// Mirrors `StepStats` in `shaders/mining_params.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct StepStats {
    loss: f32,
    loss_nonzero_mean: f32,
    mean_d_ap: f32,
    mean_d_an: f32,
    mean_norm: f32,
    std_norm: f32,
    grad_scale: f32,
    _pad0: f32,
    positive_pairs: u32,
    semi_hard_found: u32,
    triplets: u32,
    active_triplets: u32,
    _pad1: [u32; 4],
}

const STATS_WORDS: usize = size_of::<StepStats>() / 4;
/// Words of `AnchorStats` in `shaders/mining_params.wgsl`.
const ANCHOR_STATS_WORDS: usize = 8;

/// Triplet selection with scratch buffers sized for `n_max x d`, reused across steps.
pub struct TripletMiner {
    n_max: usize,
    d: usize,
    /// Elements of each `rows x n` block buffer.
    block_len: usize,
    pair_capacity: usize,
    norms: GpuBuffer<f32>,
    dist: GpuBuffer<f32>,
    weights: GpuBuffer<i32>,
    anchor_scale: GpuBuffer<f32>,
    anchor_stats: GpuBuffer<u32>,
    positive_counts: GpuBuffer<u32>,
    label_ranks: GpuBuffer<u32>,
    pair_offsets: GpuBuffer<u32>,
    pair_table: GpuBuffer<u32>,
    anchor_table: GpuBuffer<u32>,
    stats: GpuBuffer<u32>,
    /// The rule and batch size of the last recorded step, for read-back.
    last: Option<(Rule, usize)>,
}

impl TripletMiner {
    pub fn new(gpu: &Gpu, n_max: usize, d: usize) -> Self {
        Self::with_block_bytes(gpu, n_max, d, BLOCK_BYTES)
    }

    /// As [`TripletMiner::new`] with another bound on each `rows x n` block buffer (tests use
    /// small blocks to run many of them at small `n`).
    pub fn with_block_bytes(gpu: &Gpu, n_max: usize, d: usize, block_bytes: usize) -> Self {
        assert!(n_max > 0, "a miner for empty batches");
        assert!(
            d.is_multiple_of(4) && (4..=512).contains(&d),
            "embedding size {d}: the gradient kernel takes multiples of 4 up to 512"
        );
        let max_groups = gpu.limits.max_compute_workgroups_per_dimension as usize;
        assert!(
            n_max <= max_groups,
            "n_max {n_max} above {max_groups} workgroups"
        );
        let binding = gpu.limits.max_storage_buffer_binding_size as usize;
        let block_len = (n_max * n_max).min(block_bytes.min(binding) / 4);
        assert!(
            block_len >= n_max,
            "one row of {n_max} distances exceeds the binding limit"
        );
        let pair_capacity = (n_max * (n_max - 1))
            .min(n_max * PAIR_SLOTS_PER_ROW)
            .min(binding / 8)
            .max(1);
        Self {
            n_max,
            d,
            block_len,
            pair_capacity,
            norms: GpuBuffer::zeros(gpu, &[n_max]),
            dist: GpuBuffer::zeros(gpu, &[block_len]),
            weights: GpuBuffer::zeros(gpu, &[block_len]),
            anchor_scale: GpuBuffer::zeros(gpu, &[n_max]),
            anchor_stats: GpuBuffer::zeros(gpu, &[n_max * ANCHOR_STATS_WORDS]),
            positive_counts: GpuBuffer::zeros(gpu, &[n_max]),
            label_ranks: GpuBuffer::zeros(gpu, &[n_max]),
            pair_offsets: GpuBuffer::zeros(gpu, &[n_max + 1]),
            pair_table: GpuBuffer::zeros(gpu, &[pair_capacity * 2]),
            anchor_table: GpuBuffer::zeros(gpu, &[n_max * 2]),
            stats: GpuBuffer::zeros(gpu, &[STATS_WORDS]),
            last: None,
        }
    }

    /// Records distances, selection, loss, gradient (into `grad`, `n x d`) and the statistics
    /// into the miner's small stats buffer. `pre_norms`: optional `[n]` norms before
    /// normalisation for the statistics.
    #[allow(clippy::too_many_arguments)]
    pub fn record(
        &mut self,
        gpu: &Gpu,
        encoder: &mut wgpu::CommandEncoder,
        emb: &GpuBuffer<f32>,
        labels: &GpuBuffer<u32>,
        n: usize,
        rule: Rule,
        alpha: f32,
        pre_norms: Option<&GpuBuffer<f32>>,
        grad: &GpuBuffer<f32>,
    ) -> Result<(), MiningError> {
        if labels.len() != n {
            return Err(MiningError::LengthMismatch {
                embeddings: n,
                labels: labels.len(),
            });
        }
        if let Some(norms) = pre_norms.filter(|b| b.len() != n) {
            return Err(MiningError::PreNormsMismatch {
                embeddings: n,
                pre_norms: norms.len(),
            });
        }
        let d = self.d;
        assert!(
            n <= self.n_max,
            "batch of {n} rows in a miner for {}",
            self.n_max
        );
        assert_eq!(
            emb.len(),
            n * d,
            "embeddings hold {}, {n} x {d} expected",
            emb.len()
        );
        assert_eq!(
            grad.len(),
            n * d,
            "grad holds {}, {n} x {d} expected",
            grad.len()
        );
        self.last = Some((rule, n));
        if n == 0 {
            encoder.clear_buffer(&self.stats.buffer, 0, None);
            return Ok(());
        }

        let mut params = MiningParams {
            n: n as u32,
            d: d as u32,
            alpha,
            pair_capacity: self.pair_capacity as u32,
            has_norms: pre_norms.is_some() as u32,
            ..MiningParams::default()
        };
        let (module, extra): (&'static str, Vec<&wgpu::Buffer>) = match rule {
            Rule::SemiHard { band, fallback } => {
                params.band = band as u32;
                params.inside = (fallback == Fallback::Inside) as u32;
                (
                    "semi_hard",
                    vec![
                        &self.pair_offsets.buffer,
                        &self.label_ranks.buffer,
                        &self.pair_table.buffer,
                    ],
                )
            }
            Rule::BatchHard { soft_margin } => {
                params.soft_margin = soft_margin as u32;
                ("batch_hard", vec![&self.anchor_table.buffer])
            }
            Rule::BatchAll { nonzero_mean } => {
                params.nonzero_mean = nonzero_mean as u32;
                ("batch_all", vec![])
            }
        };

        sq_norms(gpu, encoder, emb, n, d, &self.norms);
        if module == "semi_hard" {
            self.record_pair_offsets(gpu, encoder, labels, &params);
        }
        encoder.clear_buffer(&grad.buffer, 0, Some((n * d * 4) as u64));

        let select = gpu.pipeline(&KernelSpec::new(module, module));
        let column_vecs = d.div_ceil(4 * GRAD_WG) as u32;
        let grad_rows = gpu.pipeline(
            &KernelSpec::new("mining_gradient", "grad_rows").with("COLUMN_VECS", column_vecs),
        );
        let grad_cols = gpu.pipeline(
            &KernelSpec::new("mining_gradient", "grad_cols").with("COLUMN_VECS", column_vecs),
        );
        let block_rows = (self.block_len / n).min(n);
        for row0 in (0..n).step_by(block_rows) {
            let rows = block_rows.min(n - row0);
            let emb_norms = (emb, &self.norms);
            distance_block(
                gpu,
                encoder,
                emb_norms,
                (row0, rows),
                emb_norms,
                n,
                d,
                true,
                &self.dist,
            );

            params.row0 = row0 as u32;
            params.rows = rows as u32;
            let uniform = gpu.uniform(&params);
            let mut buffers = vec![
                &uniform,
                &labels.buffer,
                &self.dist.buffer,
                &self.weights.buffer,
                &self.anchor_scale.buffer,
                &self.anchor_stats.buffer,
            ];
            buffers.extend(&extra);
            gpu.dispatch(encoder, &select, &buffers, [rows as u32, 1, 1]);

            let buffers = [
                &uniform,
                &emb.buffer,
                &self.weights.buffer,
                &self.anchor_scale.buffer,
                &grad.buffer,
            ];
            gpu.dispatch(encoder, &grad_rows, &buffers, [rows as u32, 1, 1]);
            gpu.dispatch(encoder, &grad_cols, &buffers, [n as u32, 1, 1]);
        }

        let uniform = gpu.uniform(&params);
        let norms = pre_norms.map_or(gpu.placeholder(), |b| &b.buffer);
        let finalize = gpu.pipeline(&KernelSpec::new("mining_finalize", "finalize"));
        let buffers = [
            &uniform,
            &self.anchor_stats.buffer,
            norms,
            &self.stats.buffer,
        ];
        gpu.dispatch(encoder, &finalize, &buffers, [1, 1, 1]);
        let scale = gpu.pipeline(&KernelSpec::new("mining_scale", "scale_grad"));
        let buffers = [&uniform, &self.stats.buffer, &grad.buffer];
        gpu.dispatch(
            encoder,
            &scale,
            &buffers,
            [(n * d / 4).div_ceil(64) as u32, 1, 1],
        );
        Ok(())
    }

    /// Slots of the positive pairs in the pair table: per-row counts and ranks, then a scan.
    fn record_pair_offsets(
        &self,
        gpu: &Gpu,
        encoder: &mut wgpu::CommandEncoder,
        labels: &GpuBuffer<u32>,
        params: &MiningParams,
    ) {
        let uniform = gpu.uniform(params);
        let ranks = gpu.pipeline(&KernelSpec::new("mining_labels", "label_ranks_of"));
        let buffers = [
            &uniform,
            &labels.buffer,
            &self.positive_counts.buffer,
            &self.label_ranks.buffer,
        ];
        gpu.dispatch(encoder, &ranks, &buffers, [params.n.div_ceil(64), 1, 1]);
        let offsets = gpu.pipeline(&KernelSpec::new("mining_offsets", "pair_offsets"));
        let buffers = [
            &uniform,
            &self.positive_counts.buffer,
            &self.pair_offsets.buffer,
        ];
        gpu.dispatch(encoder, &offsets, &buffers, [1, 1, 1]);
    }

    /// Reads back the statistics of the last recorded step (one small buffer; waits for the
    /// GPU). Warns when the batch had no positive pair.
    pub fn read_stats(&self, gpu: &Gpu) -> Result<TripletStats, GpuError> {
        let words = self.stats.read(gpu)?;
        let raw: StepStats = bytemuck::pod_read_unaligned(bytemuck::cast_slice(&words));
        if raw.positive_pairs == 0 {
            let n = self.last.map_or(0, |(_, n)| n);
            log::warn!("triplet batch of {n} rows has no positive pair: loss 0, no gradient");
        }
        Ok(TripletStats {
            loss: raw.loss,
            loss_nonzero_mean: raw.loss_nonzero_mean,
            positive_pairs: raw.positive_pairs,
            semi_hard_found: raw.semi_hard_found,
            triplets: raw.triplets,
            active_triplets: raw.active_triplets,
            mean_d_ap: raw.mean_d_ap,
            mean_d_an: raw.mean_d_an,
            mean_norm: raw.mean_norm,
            std_norm: raw.std_norm,
        })
    }

    /// Peak bytes of GPU memory the miner allocated (all of it, at construction).
    pub fn allocated_bytes(&self) -> u64 {
        [
            &self.norms.buffer,
            &self.dist.buffer,
            &self.weights.buffer,
            &self.anchor_scale.buffer,
            &self.anchor_stats.buffer,
            &self.positive_counts.buffer,
            &self.label_ranks.buffer,
            &self.pair_offsets.buffer,
            &self.pair_table.buffer,
            &self.anchor_table.buffer,
            &self.stats.buffer,
        ]
        .iter()
        .map(|b| b.size())
        .sum()
    }

    /// The selected (a, p, n) of the last step, ordered by anchor then positive (reads back
    /// O(N * K)). Empty for batch-all, whose O(N^3) triplets are never listed. Semi-hard keeps
    /// at most `128 * n_max` pairs; pairs beyond are left out with a warning.
    pub fn read_triplets(&self, gpu: &Gpu) -> Result<Vec<(u32, u32, u32)>, GpuError> {
        let Some((rule, n)) = self.last else {
            return Ok(Vec::new());
        };
        let mut triplets = Vec::new();
        match rule {
            Rule::SemiHard { .. } => {
                let offsets = self.pair_offsets.read(gpu)?;
                let table = self.pair_table.read(gpu)?;
                if offsets[n] as usize > self.pair_capacity {
                    log::warn!(
                        "{} positive pairs, the pair table lists the first {}",
                        offsets[n],
                        self.pair_capacity
                    );
                }
                for a in 0..n {
                    let slots =
                        offsets[a] as usize..(offsets[a + 1] as usize).min(self.pair_capacity);
                    for slot in slots {
                        let (p, neg) = (table[2 * slot], table[2 * slot + 1]);
                        if neg != NONE {
                            triplets.push((a as u32, p, neg));
                        }
                    }
                }
            }
            Rule::BatchHard { .. } => {
                let table = self.anchor_table.read(gpu)?;
                for a in 0..n {
                    if table[2 * a] != NONE {
                        triplets.push((a as u32, table[2 * a], table[2 * a + 1]));
                    }
                }
            }
            Rule::BatchAll { .. } => {}
        }
        Ok(triplets)
    }
}
