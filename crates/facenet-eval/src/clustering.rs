//! Clustering: seeded k-means with k-means++ seeding, and scores against the true identities.
//!
//! Data is row-major f32, `n` rows of `dim` values. The assignment step (nearest centroid per
//! row by squared L2, ties to the lowest centroid index) is the O(n k dim) part, so it sits
//! behind [`AssignStep`] for a GPU to implement; [`CpuAssign`] is the plain loop. The seeding
//! also goes through it, with one centroid at a time, to get each row's distance to a new centre.
//!
//! k-means (Lloyd): k-means++ seeding (first centre uniform, each next one drawn with
//! probability proportional to the squared distance to the nearest chosen centre), then assign
//! and update until the labels stop changing, the relative drop in inertia is at most `tol`, or
//! `max_iters` assignments have run. A cluster left empty takes the row farthest from its
//! centroid (from a cluster with more than one member). Of `restarts` runs the one with the
//! lowest inertia (sum of squared distances to the assigned centroid) is kept, the first on ties.
//! Every draw comes from one `ChaCha8Rng` seeded with `seed`.
//!
//! Scores ([`clustering_scores`]), from the contingency table `n_ij` of true class i and
//! predicted cluster j, with class sizes `a_i`, cluster sizes `b_j` and `n` items:
//! - **NMI** = `MI / ((H(truth) + H(pred)) / 2)`: arithmetic-mean normalisation, scikit-learn's
//!   default; natural logarithms. Two single-cluster partitions score 1; otherwise MI = 0 scores 0.
//! - **pairwise** over unordered pairs of items: precision = pairs together in both / pairs
//!   together in `pred` = `sum C(n_ij, 2) / sum C(b_j, 2)`, recall divides by `sum C(a_i, 2)`.
//!   With no pairs in the denominator the rate is 1 (nothing was put together wrongly, or
//!   nothing was to be found); F1 is their harmonic mean, 0 when both are 0.
//! - **BCubed** per item, averaged over items: precision `n_ij / b_j` (share of the item's
//!   cluster in its class), recall `n_ij / a_i`; F1 is the harmonic mean of the averages.
//! - **purity** = `sum_j max_i n_ij / n`.

use std::collections::HashMap;
use std::io::{self, Write};
use std::path::Path;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::EvalError;

/// The nearest-centroid step of k-means, the part worth running on a GPU.
pub trait AssignStep {
    /// For each of the `n` rows of `data` (`n x dim`), writes the index of the nearest of the
    /// `k` rows of `centroids` (`k x dim`) by squared L2, ties to the lowest index, into
    /// `out_labels[i]`, and that squared distance into `out_dist[i]`.
    // The flat slices and sizes are the shape a GPU launcher takes; a struct would only wrap them.
    #[allow(clippy::too_many_arguments)]
    fn assign(
        &mut self,
        data: &[f32],
        n: usize,
        dim: usize,
        centroids: &[f32],
        k: usize,
        out_labels: &mut [u32],
        out_dist: &mut [f32],
    );
}

/// The plain CPU assignment: every row against every centroid.
#[derive(Debug, Default, Clone, Copy)]
pub struct CpuAssign;

impl AssignStep for CpuAssign {
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
        assert_eq!(data.len(), n * dim, "data is not n x dim");
        assert_eq!(centroids.len(), k * dim, "centroids are not k x dim");
        for (i, row) in data.chunks_exact(dim).enumerate() {
            let mut best = (0u32, f32::INFINITY);
            for (c, centre) in centroids.chunks_exact(dim).enumerate() {
                let d: f32 = row.iter().zip(centre).map(|(x, y)| (x - y) * (x - y)).sum();
                if d < best.1 {
                    best = (c as u32, d);
                }
            }
            out_labels[i] = best.0;
            out_dist[i] = best.1;
        }
    }
}

/// Knobs of [`kmeans`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct KMeansOptions {
    /// Independent seedings; the lowest inertia wins.
    pub restarts: usize,
    /// Most assignment steps per restart.
    pub max_iters: usize,
    /// Stop when `(previous - inertia) <= tol * previous`.
    pub tol: f64,
    pub seed: u64,
}

impl Default for KMeansOptions {
    fn default() -> Self {
        KMeansOptions {
            restarts: 10,
            max_iters: 300,
            tol: 1e-6,
            seed: 0,
        }
    }
}

/// The best of the restarts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KMeansResult {
    /// Cluster of each row, below k.
    pub labels: Vec<u32>,
    /// `k x dim`, row-major.
    pub centroids: Vec<f32>,
    /// Sum over rows of the squared distance to their centroid.
    pub inertia: f64,
    /// Assignment steps the best restart ran.
    pub iterations: usize,
    /// Whether the best restart stopped before `max_iters`.
    pub converged: bool,
    pub best_restart: usize,
}

/// Scores of a predicted partition against the truth; see the module doc.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ClusteringScores {
    pub nmi: f64,
    pub pairwise_precision: f64,
    pub pairwise_recall: f64,
    pub pairwise_f1: f64,
    pub bcubed_precision: f64,
    pub bcubed_recall: f64,
    pub bcubed_f1: f64,
    pub purity: f64,
}

/// Seeded k-means++ / Lloyd with restarts; see the module doc.
pub fn kmeans(
    data: &[f32],
    n: usize,
    dim: usize,
    k: usize,
    opts: &KMeansOptions,
    assign: &mut dyn AssignStep,
) -> Result<KMeansResult, EvalError> {
    check_data(data, n, dim, k)?;
    for (name, value) in [("restarts", opts.restarts), ("max_iters", opts.max_iters)] {
        if value == 0 {
            return Err(EvalError::InvalidOption {
                name,
                value: "0".into(),
                reason: "k-means needs at least one",
            });
        }
    }
    if !(opts.tol >= 0.0 && opts.tol.is_finite()) {
        return Err(EvalError::InvalidOption {
            name: "tol",
            value: opts.tol.to_string(),
            reason: "the tolerance must be finite and not negative",
        });
    }

    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    let mut best: Option<KMeansResult> = None;
    for restart in 0..opts.restarts {
        let seeds = kmeans_plus_plus(data, n, dim, k, &mut rng, assign)?;
        let mut run = lloyd(data, n, dim, k, &seeds, opts, assign)?;
        run.best_restart = restart;
        log::debug!(
            "k-means restart {restart}: inertia {:.6} after {} iterations",
            run.inertia,
            run.iterations
        );
        if best.as_ref().is_none_or(|b| run.inertia < b.inertia) {
            best = Some(run);
        }
    }
    Ok(best.expect("restarts >= 1 was checked"))
}

/// Picks `k` distinct rows by k-means++ and returns their indices in order of choice. Rows at
/// distance 0 from a chosen centre have weight 0, so only when every remaining row coincides with
/// a centre is the next one drawn uniformly from the rows not yet chosen.
pub fn kmeans_plus_plus(
    data: &[f32],
    n: usize,
    dim: usize,
    k: usize,
    rng: &mut ChaCha8Rng,
    assign: &mut dyn AssignStep,
) -> Result<Vec<usize>, EvalError> {
    check_data(data, n, dim, k)?;
    let mut chosen = vec![rng.random_range(0..n)];
    let mut nearest_d2 = vec![0.0f32; n];
    let mut labels = vec![0u32; n];
    let mut fresh_d2 = vec![0.0f32; n];
    let first = &data[chosen[0] * dim..(chosen[0] + 1) * dim];
    assign.assign(data, n, dim, first, 1, &mut labels, &mut nearest_d2);
    check_assign(&labels, &mut nearest_d2, 1)?;

    while chosen.len() < k {
        let next =
            draw_weighted(&nearest_d2, rng).unwrap_or_else(|| draw_unchosen(n, &chosen, rng));
        chosen.push(next);
        let centre = &data[next * dim..(next + 1) * dim];
        assign.assign(data, n, dim, centre, 1, &mut labels, &mut fresh_d2);
        check_assign(&labels, &mut fresh_d2, 1)?;
        for (d, &f) in nearest_d2.iter_mut().zip(&fresh_d2) {
            *d = d.min(f);
        }
        // A chosen row must never be drawn again, even if the step rounds its distance above 0.
        nearest_d2[next] = 0.0;
    }
    Ok(chosen)
}

/// Index drawn with probability proportional to `weights`, or `None` if they are all 0.
fn draw_weighted(weights: &[f32], rng: &mut ChaCha8Rng) -> Option<usize> {
    let total: f64 = weights.iter().map(|&w| f64::from(w)).sum();
    if total <= 0.0 {
        return None;
    }
    let r = rng.random::<f64>() * total;
    // The first index whose running sum passes r never has weight 0; the fallback guards
    // against r landing on the very end through rounding.
    let mut acc = 0.0;
    for (i, &w) in weights.iter().enumerate() {
        acc += f64::from(w);
        if acc > r {
            return Some(i);
        }
    }
    weights.iter().rposition(|&w| w > 0.0)
}

fn draw_unchosen(n: usize, chosen: &[usize], rng: &mut ChaCha8Rng) -> usize {
    let free: Vec<usize> = (0..n).filter(|i| !chosen.contains(i)).collect();
    free[rng.random_range(0..free.len())]
}

/// One Lloyd run from the given seed rows.
fn lloyd(
    data: &[f32],
    n: usize,
    dim: usize,
    k: usize,
    seeds: &[usize],
    opts: &KMeansOptions,
    assign: &mut dyn AssignStep,
) -> Result<KMeansResult, EvalError> {
    let mut centroids: Vec<f32> = seeds
        .iter()
        .flat_map(|&s| &data[s * dim..(s + 1) * dim])
        .copied()
        .collect();
    let mut labels = vec![0u32; n];
    let mut dist = vec![0.0f32; n];
    let mut previous: Option<(Vec<u32>, f64)> = None;

    for iteration in 1..=opts.max_iters {
        assign.assign(data, n, dim, &centroids, k, &mut labels, &mut dist);
        check_assign(&labels, &mut dist, k)?;
        refill_empty(data, dim, k, &mut centroids, &mut labels, &mut dist);
        let inertia: f64 = dist.iter().map(|&d| f64::from(d)).sum();

        let converged = previous
            .as_ref()
            .is_some_and(|(prev_labels, prev_inertia)| {
                *prev_labels == labels || prev_inertia - inertia <= opts.tol * prev_inertia
            });
        if converged || iteration == opts.max_iters {
            // Labels, distances and centroids agree here: the update below has not run.
            return Ok(KMeansResult {
                labels,
                centroids,
                inertia,
                iterations: iteration,
                converged,
                best_restart: 0,
            });
        }
        update_centroids(data, dim, k, &labels, &mut centroids);
        previous = Some((labels.clone(), inertia));
    }
    unreachable!("the loop returns at iteration max_iters >= 1")
}

/// Gives each empty cluster the row farthest from its centroid, taken from a cluster that keeps
/// at least one member; when every such row already sits on its centroid nothing can help.
fn refill_empty(
    data: &[f32],
    dim: usize,
    k: usize,
    centroids: &mut [f32],
    labels: &mut [u32],
    dist: &mut [f32],
) {
    let mut sizes = vec![0usize; k];
    for &l in labels.iter() {
        sizes[l as usize] += 1;
    }
    for c in 0..k {
        if sizes[c] > 0 {
            continue;
        }
        let farthest = (0..labels.len())
            .filter(|&i| sizes[labels[i] as usize] > 1 && dist[i] > 0.0)
            .max_by(|&a, &b| dist[a].total_cmp(&dist[b]).then(b.cmp(&a)));
        let Some(i) = farthest else {
            log::debug!("k-means: cluster {c} stays empty, every row sits on its centroid");
            continue;
        };
        sizes[labels[i] as usize] -= 1;
        sizes[c] = 1;
        labels[i] = c as u32;
        dist[i] = 0.0;
        centroids[c * dim..(c + 1) * dim].copy_from_slice(&data[i * dim..(i + 1) * dim]);
    }
}

/// Centroids become the means of their members, summed in f64 so large clusters keep precision.
fn update_centroids(data: &[f32], dim: usize, k: usize, labels: &[u32], centroids: &mut [f32]) {
    let mut sums = vec![0.0f64; k * dim];
    let mut sizes = vec![0usize; k];
    for (row, &l) in data.chunks_exact(dim).zip(labels) {
        let l = l as usize;
        sizes[l] += 1;
        for (s, &x) in sums[l * dim..(l + 1) * dim].iter_mut().zip(row) {
            *s += f64::from(x);
        }
    }
    for c in (0..k).filter(|&c| sizes[c] > 0) {
        for (out, s) in centroids[c * dim..(c + 1) * dim]
            .iter_mut()
            .zip(&sums[c * dim..])
        {
            *out = (s / sizes[c] as f64) as f32;
        }
    }
}

fn check_data(data: &[f32], n: usize, dim: usize, k: usize) -> Result<(), EvalError> {
    if n.checked_mul(dim) != Some(data.len()) {
        return Err(EvalError::LengthMismatch {
            left: "data",
            left_len: data.len(),
            right: "n * dim",
            right_len: n.saturating_mul(dim),
        });
    }
    if n == 0 {
        return Err(EvalError::Empty { what: "data" });
    }
    if dim == 0 || k == 0 {
        let (name, value) = if dim == 0 { ("dim", dim) } else { ("k", k) };
        return Err(EvalError::InvalidOption {
            name,
            value: value.to_string(),
            reason: "it must be at least 1",
        });
    }
    if k > n {
        return Err(EvalError::TooManyClusters { k, n });
    }
    if let Some(index) = data.iter().position(|x| !x.is_finite()) {
        return Err(EvalError::NonFinite {
            what: "data value",
            index,
            value: data[index],
        });
    }
    Ok(())
}

/// Guards against a faulty assignment step; a GPU using `|x|^2 - 2 x.c + |c|^2` may round a
/// distance slightly below 0, which is clamped as SPEC section 2 clamps distances.
fn check_assign(labels: &[u32], dist: &mut [f32], k: usize) -> Result<(), EvalError> {
    if let Some(row) = labels.iter().position(|&l| l as usize >= k) {
        return Err(EvalError::AssignOutOfRange {
            row,
            label: labels[row],
            k,
        });
    }
    if let Some(index) = dist.iter().position(|d| !d.is_finite()) {
        return Err(EvalError::NonFinite {
            what: "assignment distance",
            index,
            value: dist[index],
        });
    }
    for d in dist.iter_mut() {
        *d = d.max(0.0);
    }
    Ok(())
}

/// Scores `pred` against `truth` (any label values; only equality matters); see the module doc.
pub fn clustering_scores(truth: &[u32], pred: &[u32]) -> Result<ClusteringScores, EvalError> {
    if truth.len() != pred.len() {
        return Err(EvalError::LengthMismatch {
            left: "truth",
            left_len: truth.len(),
            right: "pred",
            right_len: pred.len(),
        });
    }
    if truth.is_empty() {
        return Err(EvalError::Empty { what: "truth" });
    }

    let mut cells: HashMap<(u32, u32), u64> = HashMap::new();
    let mut class_sizes: HashMap<u32, u64> = HashMap::new();
    let mut cluster_sizes: HashMap<u32, u64> = HashMap::new();
    for (&t, &p) in truth.iter().zip(pred) {
        *cells.entry((t, p)).or_default() += 1;
        *class_sizes.entry(t).or_default() += 1;
        *cluster_sizes.entry(p).or_default() += 1;
    }
    let n = truth.len() as f64;
    let pairs = |x: u64| (x * x.saturating_sub(1) / 2) as f64;

    let together_both: f64 = cells.values().map(|&c| pairs(c)).sum();
    let together_pred: f64 = cluster_sizes.values().map(|&b| pairs(b)).sum();
    let together_truth: f64 = class_sizes.values().map(|&a| pairs(a)).sum();
    let rate_or_one = |num: f64, den: f64| if den > 0.0 { num / den } else { 1.0 };
    let pairwise_precision = rate_or_one(together_both, together_pred);
    let pairwise_recall = rate_or_one(together_both, together_truth);

    let mut bcubed_precision = 0.0;
    let mut bcubed_recall = 0.0;
    let mut largest_class_in_cluster: HashMap<u32, u64> = HashMap::new();
    for (&(t, p), &c) in &cells {
        let c = c as f64;
        bcubed_precision += c * c / cluster_sizes[&p] as f64;
        bcubed_recall += c * c / class_sizes[&t] as f64;
        let largest = largest_class_in_cluster.entry(p).or_default();
        *largest = (*largest).max(c as u64);
    }
    let (bcubed_precision, bcubed_recall) = (bcubed_precision / n, bcubed_recall / n);
    let purity = largest_class_in_cluster.values().sum::<u64>() as f64 / n;

    Ok(ClusteringScores {
        nmi: nmi(&cells, &class_sizes, &cluster_sizes, n),
        pairwise_precision,
        pairwise_recall,
        pairwise_f1: harmonic_mean(pairwise_precision, pairwise_recall),
        bcubed_precision,
        bcubed_recall,
        bcubed_f1: harmonic_mean(bcubed_precision, bcubed_recall),
        purity,
    })
}

fn nmi(
    cells: &HashMap<(u32, u32), u64>,
    class_sizes: &HashMap<u32, u64>,
    cluster_sizes: &HashMap<u32, u64>,
    n: f64,
) -> f64 {
    // Two one-cluster partitions agree perfectly, though both entropies are 0.
    if class_sizes.len() == 1 && cluster_sizes.len() == 1 {
        return 1.0;
    }
    let entropy = |sizes: &HashMap<u32, u64>| -> f64 {
        sizes
            .values()
            .map(|&s| s as f64 / n)
            .map(|p| -p * p.ln())
            .sum()
    };
    let mi: f64 = cells
        .iter()
        .map(|(&(t, p), &c)| {
            let c = c as f64;
            let expected = class_sizes[&t] as f64 * cluster_sizes[&p] as f64;
            c / n * (n * c / expected).ln()
        })
        .sum();
    // One partition with a single cluster makes MI 0 and one entropy 0; the score is 0, not 0/x.
    if mi <= 0.0 {
        return 0.0;
    }
    mi / ((entropy(class_sizes) + entropy(cluster_sizes)) / 2.0)
}

fn harmonic_mean(a: f64, b: f64) -> f64 {
    if a + b > 0.0 {
        2.0 * a * b / (a + b)
    } else {
        0.0
    }
}

/// Writes `file,cluster` with one line per file, quoting names that need it.
pub fn write_clusters_csv(
    path: impl AsRef<Path>,
    files: &[String],
    labels: &[u32],
) -> io::Result<()> {
    if files.len() != labels.len() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{} files but {} cluster labels; they must match",
                files.len(),
                labels.len()
            ),
        ));
    }
    let mut out = io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(out, "file,cluster")?;
    for (file, label) in files.iter().zip(labels) {
        if file.contains([',', '"', '\n', '\r']) {
            writeln!(out, "\"{}\",{label}", file.replace('"', "\"\""))?;
        } else {
            writeln!(out, "{file},{label}")?;
        }
    }
    out.flush()
}
