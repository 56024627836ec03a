//! Reference distances and in-batch triplet selection (SPEC sections 2 and 3).
//!
//! Embeddings are `n x d` row-major, labels one `u32` per row. Distances are squared Euclidean,
//! computed as `sum (x_i - x_j)^2` in f64 (no cancellation), with `d(i, i) = 0`.
//!
//! [`triplet_loss`] enumerates every candidate triplet by brute force in f64: it is the oracle
//! for the GPU miner, not a fast path. Conventions shared with the GPU:
//! - ties go to the lowest index (scans run in index order and only a strictly better value
//!   replaces the current choice);
//! - the `inside` fallback of semi-hard takes the farthest negative with `d(a,n) <= d(a,p)`;
//!   with `band`, a pair whose negatives all lie beyond `d(a,p) + alpha` has none and is skipped
//!   (its loss would be zero anyway);
//! - the gradient belongs to `stats.loss` with the selection held fixed, and a hinge at exactly
//!   zero has derivative zero;
//! - batch-all does not list its triplets: there are O(N^3) of them.

use std::fmt;

/// What semi-hard does with a positive pair that has no semi-hard negative.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fallback {
    /// Drop the pair.
    Skip,
    /// Take the farthest negative that is not farther than the positive (TensorFlow Addons).
    Inside,
}

/// A selection rule of SPEC section 3.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Rule {
    SemiHard { band: bool, fallback: Fallback },
    BatchHard { soft_margin: bool },
    BatchAll { nonzero_mean: bool },
}

impl Rule {
    /// Every rule [`Rule::parse`] accepts, by name.
    pub const NAMES: [&'static str; 7] = [
        "semi-hard",
        "semi-hard-band",
        "semi-hard-inside",
        "batch-hard",
        "batch-hard-soft",
        "batch-all",
        "batch-all-nonzero",
    ];

    /// The name [`Rule::parse`] reads back. Semi-hard with both options is
    /// `semi-hard-band-inside`.
    pub fn name(&self) -> String {
        match *self {
            Rule::SemiHard { band, fallback } => {
                let mut name = String::from("semi-hard");
                if band {
                    name.push_str("-band");
                }
                if fallback == Fallback::Inside {
                    name.push_str("-inside");
                }
                name
            }
            Rule::BatchHard { soft_margin } => if soft_margin {
                "batch-hard-soft"
            } else {
                "batch-hard"
            }
            .to_string(),
            Rule::BatchAll { nonzero_mean } => if nonzero_mean {
                "batch-all-nonzero"
            } else {
                "batch-all"
            }
            .to_string(),
        }
    }

    pub fn parse(s: &str) -> Result<Rule, String> {
        let rule = match s {
            "semi-hard" | "semi-hard-band" | "semi-hard-inside" | "semi-hard-band-inside" => {
                Rule::SemiHard {
                    band: s.contains("-band"),
                    fallback: if s.ends_with("-inside") {
                        Fallback::Inside
                    } else {
                        Fallback::Skip
                    },
                }
            }
            "batch-hard" => Rule::BatchHard { soft_margin: false },
            "batch-hard-soft" => Rule::BatchHard { soft_margin: true },
            "batch-all" => Rule::BatchAll {
                nonzero_mean: false,
            },
            "batch-all-nonzero" => Rule::BatchAll { nonzero_mean: true },
            _ => {
                return Err(format!(
                    "unknown triplet rule '{s}'; expected one of {}",
                    Rule::NAMES.join(", ")
                ));
            }
        };
        Ok(rule)
    }
}

/// The statistics of one step (SPEC section 3).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct TripletStats {
    /// The batch loss the gradient belongs to: the mean over the selected triplets, or over
    /// the non-zero ones for batch-all with `nonzero_mean`.
    pub loss: f32,
    /// The mean loss over the triplets with a non-zero loss (0 when there are none).
    pub loss_nonzero_mean: f32,
    /// Ordered pairs (a, p), a != p, with the same label.
    pub positive_pairs: u32,
    /// Positive pairs that found a semi-hard negative (within the band when asked); 0 for the
    /// other rules.
    pub semi_hard_found: u32,
    /// Selected triplets: the denominator of the mean loss.
    pub triplets: u32,
    /// Selected triplets with a non-zero loss.
    pub active_triplets: u32,
    /// Mean `d(a,p)` and `d(a,n)` over the selected triplets.
    pub mean_d_ap: f32,
    pub mean_d_an: f32,
    /// Mean and standard deviation (population) of the norms before normalisation.
    pub mean_norm: f32,
    pub std_norm: f32,
}

/// Mistakes in user data that a caller cannot rule out by construction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MiningError {
    LengthMismatch { embeddings: usize, labels: usize },
    PreNormsMismatch { embeddings: usize, pre_norms: usize },
}

impl fmt::Display for MiningError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MiningError::LengthMismatch { embeddings, labels } => write!(
                f,
                "{embeddings} embeddings but {labels} labels: give one label per embedding row"
            ),
            MiningError::PreNormsMismatch {
                embeddings,
                pre_norms,
            } => write!(
                f,
                "{embeddings} embeddings but {pre_norms} pre-normalisation norms: give one per \
                 row, or none"
            ),
        }
    }
}

impl std::error::Error for MiningError {}

/// What [`triplet_loss`] returns.
#[derive(Clone, Debug, PartialEq)]
pub struct TripletOutput {
    pub stats: TripletStats,
    /// dLoss/dEmbedding, `n x d`.
    pub grad: Vec<f32>,
    /// The selected (a, p, n), ordered by anchor then positive; empty for batch-all.
    pub triplets: Vec<(u32, u32, u32)>,
}

/// Squared distances between all rows of `x` (`n x d`): `n x n`, diagonal exactly 0.
pub fn pairwise_sq_distances(x: &[f32], n: usize, d: usize) -> Vec<f32> {
    cross_sq_distances(x, n, x, n, d)
}

/// Squared distances from each query row (`nq x d`) to each gallery row (`ng x d`): `nq x ng`.
pub fn cross_sq_distances(q: &[f32], nq: usize, g: &[f32], ng: usize, d: usize) -> Vec<f32> {
    assert_eq!(
        q.len(),
        nq * d,
        "queries have {} values, {nq} x {d} expected",
        q.len()
    );
    assert_eq!(
        g.len(),
        ng * d,
        "gallery has {} values, {ng} x {d} expected",
        g.len()
    );
    let mut out = Vec::with_capacity(nq * ng);
    for i in 0..nq {
        for j in 0..ng {
            out.push(sq_distance(&q[i * d..(i + 1) * d], &g[j * d..(j + 1) * d]) as f32);
        }
    }
    out
}

fn sq_distance<T: Copy + Into<f64>>(x: &[T], y: &[T]) -> f64 {
    x.iter()
        .zip(y)
        .map(|(&a, &b)| {
            let diff = a.into() - b.into();
            diff * diff
        })
        .sum()
}

/// Brute-force triplet selection, loss, gradient and statistics for one batch.
///
/// `pre_norms`: norms before normalisation for the statistics; may be empty (then
/// `mean_norm` and `std_norm` are 0).
pub fn triplet_loss(
    emb: &[f32],
    n: usize,
    d: usize,
    labels: &[u32],
    rule: Rule,
    alpha: f32,
    pre_norms: &[f32],
) -> Result<TripletOutput, MiningError> {
    assert_eq!(
        emb.len(),
        n * d,
        "embeddings have {} values, {n} x {d} expected",
        emb.len()
    );
    if labels.len() != n {
        return Err(MiningError::LengthMismatch {
            embeddings: n,
            labels: labels.len(),
        });
    }
    if !pre_norms.is_empty() && pre_norms.len() != n {
        return Err(MiningError::PreNormsMismatch {
            embeddings: n,
            pre_norms: pre_norms.len(),
        });
    }

    let x: Vec<f64> = emb.iter().map(|&v| f64::from(v)).collect();
    let eval = evaluate(&x, n, d, labels, rule, f64::from(alpha));
    let mut stats = TripletStats {
        loss: eval.loss as f32,
        ..eval.stats
    };
    if stats.positive_pairs == 0 {
        log::warn!("triplet batch of {n} rows has no positive pair: loss 0, no gradient");
    }
    if !pre_norms.is_empty() {
        let mean = pre_norms.iter().map(|&v| f64::from(v)).sum::<f64>() / n as f64;
        let var = pre_norms
            .iter()
            .map(|&v| (f64::from(v) - mean).powi(2))
            .sum::<f64>()
            / n as f64;
        stats.mean_norm = mean as f32;
        stats.std_norm = var.sqrt() as f32;
    }
    Ok(TripletOutput {
        stats,
        grad: eval.grad.iter().map(|&v| v as f32).collect(),
        triplets: eval.triplets,
    })
}

/// The loss (f64, for finite differences), its gradient and the selection.
pub(crate) struct Evaluation {
    pub loss: f64,
    pub grad: Vec<f64>,
    pub stats: TripletStats,
    pub triplets: Vec<(u32, u32, u32)>,
}

/// Running sums over the selected triplets; the gradient is accumulated unscaled.
struct Accumulator<'a> {
    x: &'a [f64],
    d: usize,
    dist: &'a [f64],
    n: usize,
    alpha: f64,
    soft_margin: bool,
    loss_sum: f64,
    d_ap_sum: f64,
    d_an_sum: f64,
    triplets: u32,
    active: u32,
    grad: Vec<f64>,
}

impl Accumulator<'_> {
    fn add(&mut self, a: usize, p: usize, neg: usize) {
        let d_ap = self.dist[a * self.n + p];
        let d_an = self.dist[a * self.n + neg];
        let (loss, weight) = if self.soft_margin {
            let z = d_ap - d_an;
            // log(1 + e^z) without overflow; its derivative is the logistic function.
            (
                z.max(0.0) + (-z.abs()).exp().ln_1p(),
                1.0 / (1.0 + (-z).exp()),
            )
        } else {
            let loss = (d_ap - d_an + self.alpha).max(0.0);
            (loss, if loss > 0.0 { 1.0 } else { 0.0 })
        };
        self.triplets += 1;
        self.d_ap_sum += d_ap;
        self.d_an_sum += d_an;
        if loss > 0.0 {
            self.active += 1;
            self.loss_sum += loss;
        }
        if weight != 0.0 {
            // d|x_a - x_p|^2 = 2 (x_a - x_p) . (dx_a - dx_p), likewise for (a, n).
            let d = self.d;
            for k in 0..d {
                let (xa, xp, xn) = (self.x[a * d + k], self.x[p * d + k], self.x[neg * d + k]);
                self.grad[a * d + k] += weight * 2.0 * (xn - xp);
                self.grad[p * d + k] += weight * 2.0 * (xp - xa);
                self.grad[neg * d + k] += weight * 2.0 * (xa - xn);
            }
        }
    }
}

pub(crate) fn evaluate(
    x: &[f64],
    n: usize,
    d: usize,
    labels: &[u32],
    rule: Rule,
    alpha: f64,
) -> Evaluation {
    let mut dist = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            if i != j {
                dist[i * n + j] = sq_distance(&x[i * d..(i + 1) * d], &x[j * d..(j + 1) * d]);
            }
        }
    }
    let positive = |a: usize, p: usize| a != p && labels[a] == labels[p];
    let negative = |a: usize, j: usize| labels[a] != labels[j];

    let mut acc = Accumulator {
        x,
        d,
        dist: &dist,
        n,
        alpha,
        soft_margin: matches!(rule, Rule::BatchHard { soft_margin: true }),
        loss_sum: 0.0,
        d_ap_sum: 0.0,
        d_an_sum: 0.0,
        triplets: 0,
        active: 0,
        grad: vec![0.0; n * d],
    };
    let mut positive_pairs = 0u32;
    let mut found = 0u32;
    let mut triplets = Vec::new();
    for a in 0..n {
        let row = &dist[a * n..(a + 1) * n];
        let positives: Vec<usize> = (0..n).filter(|&p| positive(a, p)).collect();
        let negatives: Vec<usize> = (0..n).filter(|&j| negative(a, j)).collect();
        positive_pairs += positives.len() as u32;
        match rule {
            Rule::SemiHard { band, fallback } => {
                for &p in &positives {
                    let d_ap = row[p];
                    let semi_hard = argmin_by(&negatives, row, |v| v > d_ap)
                        .filter(|&j| !band || row[j] < d_ap + alpha);
                    let chosen = match (semi_hard, fallback) {
                        (Some(j), _) => {
                            found += 1;
                            Some(j)
                        }
                        (None, Fallback::Inside) => argmax_by(&negatives, row, |v| v <= d_ap),
                        (None, Fallback::Skip) => None,
                    };
                    if let Some(j) = chosen {
                        acc.add(a, p, j);
                        triplets.push((a as u32, p as u32, j as u32));
                    }
                }
            }
            Rule::BatchHard { .. } => {
                let hardest_positive = argmax_by(&positives, row, |_| true);
                let hardest_negative = argmin_by(&negatives, row, |_| true);
                if let (Some(p), Some(j)) = (hardest_positive, hardest_negative) {
                    acc.add(a, p, j);
                    triplets.push((a as u32, p as u32, j as u32));
                }
            }
            Rule::BatchAll { .. } => {
                for &p in &positives {
                    for &j in &negatives {
                        acc.add(a, p, j);
                    }
                }
            }
        }
    }

    let mean = |sum: f64, count: u32| {
        if count == 0 {
            0.0
        } else {
            sum / f64::from(count)
        }
    };
    let denominator = match rule {
        Rule::BatchAll { nonzero_mean: true } => acc.active,
        _ => acc.triplets,
    };
    let scale = if denominator == 0 {
        0.0
    } else {
        1.0 / f64::from(denominator)
    };
    let loss = acc.loss_sum * scale;
    let stats = TripletStats {
        loss_nonzero_mean: mean(acc.loss_sum, acc.active) as f32,
        positive_pairs,
        semi_hard_found: found,
        triplets: acc.triplets,
        active_triplets: acc.active,
        mean_d_ap: mean(acc.d_ap_sum, acc.triplets) as f32,
        mean_d_an: mean(acc.d_an_sum, acc.triplets) as f32,
        ..TripletStats::default()
    };
    Evaluation {
        loss,
        grad: acc.grad.iter().map(|g| g * scale).collect(),
        stats,
        triplets,
    }
}

/// The candidate with the smallest distance among those `keep` accepts; ties to the lowest index.
fn argmin_by(candidates: &[usize], row: &[f64], keep: impl Fn(f64) -> bool) -> Option<usize> {
    let mut best: Option<usize> = None;
    for &j in candidates {
        if keep(row[j]) && best.is_none_or(|b| row[j] < row[b]) {
            best = Some(j);
        }
    }
    best
}

/// The candidate with the largest distance among those `keep` accepts; ties to the lowest index.
fn argmax_by(candidates: &[usize], row: &[f64], keep: impl Fn(f64) -> bool) -> Option<usize> {
    let mut best: Option<usize> = None;
    for &j in candidates {
        if keep(row[j]) && best.is_none_or(|b| row[j] > row[b]) {
            best = Some(j);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL_RULES: [&str; 8] = [
        "semi-hard",
        "semi-hard-band",
        "semi-hard-inside",
        "semi-hard-band-inside",
        "batch-hard",
        "batch-hard-soft",
        "batch-all",
        "batch-all-nonzero",
    ];

    /// Deterministic values in [-1, 1) without a dependency (64-bit LCG, top bits).
    fn lcg_vec(seed: u64, len: usize) -> Vec<f64> {
        let mut state = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (0..len)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (state >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
            })
            .collect()
    }

    #[test]
    fn names_round_trip() {
        for name in ALL_RULES {
            assert_eq!(Rule::parse(name).unwrap().name(), name);
        }
        assert!(
            Rule::parse("hard")
                .unwrap_err()
                .contains("batch-all-nonzero")
        );
    }

    #[test]
    fn gradient_matches_central_differences() {
        // 3 identities x 4 images plus a singleton that can only be a negative.
        let (n, d) = (13, 5);
        let labels: Vec<u32> = (0..n as u32)
            .map(|i| (i % 4).min(3) + 10 * (i / 12))
            .collect();
        let x = lcg_vec(3, n * d);
        for name in ALL_RULES {
            let rule = Rule::parse(name).unwrap();
            let base = evaluate(&x, n, d, &labels, rule, 0.8);
            assert!(
                base.stats.active_triplets > 0,
                "{name}: no active triplet to check"
            );
            // Step 1e-6 in f64: truncation error ~1e-12, rounding ~1e-10; random points sit far
            // from hinge kinks and selection ties, checked by the selection staying the same.
            let eps = 1e-6;
            for i in 0..n * d {
                let mut shifted = x.clone();
                shifted[i] = x[i] + eps;
                let plus = evaluate(&shifted, n, d, &labels, rule, 0.8);
                shifted[i] = x[i] - eps;
                let minus = evaluate(&shifted, n, d, &labels, rule, 0.8);
                assert_eq!(
                    plus.triplets, base.triplets,
                    "{name}: selection moved at {i}"
                );
                assert_eq!(plus.stats.active_triplets, base.stats.active_triplets);
                assert_eq!(minus.stats.active_triplets, base.stats.active_triplets);
                let numeric = (plus.loss - minus.loss) / (2.0 * eps);
                let bound = 1e-6 + 1e-5 * numeric.abs();
                assert!(
                    (numeric - base.grad[i]).abs() <= bound,
                    "{name}: dL/dx[{i}] analytic {} numeric {numeric}",
                    base.grad[i]
                );
            }
        }
    }

    #[test]
    fn ties_go_to_the_lowest_index() {
        // Rows 0, 1 share a label; rows 2 and 3 are duplicates, as are 4 and 5.
        let emb = [0.0, 0.0, 1.0, 0.0, 0.0, 2.0, 0.0, 2.0, 0.0, 0.5, 0.0, 0.5];
        let labels = [0, 0, 1, 1, 2, 2];
        let run =
            |name: &str| triplet_loss(&emb, 6, 2, &labels, Rule::parse(name).unwrap(), 0.2, &[]);
        // d(0,1) = 1: rows 2 and 3 (d = 4) are the nearest farther negatives of anchor 0.
        assert_eq!(run("semi-hard").unwrap().triplets[0], (0, 1, 2));
        // Band 0.2: nothing in (1, 1.2); inside takes the farthest of 4, 5 (d = 0.25).
        let inside = run("semi-hard-band-inside").unwrap();
        assert_eq!(inside.triplets[0], (0, 1, 4));
        // No pair has a negative inside its band, so all of them fell back.
        assert_eq!(inside.stats.semi_hard_found, 0);
        // Anchor 2: its positive 3 is at distance 0, and 4 and 5 tie as hardest negatives.
        let hard = run("batch-hard").unwrap();
        assert_eq!(hard.triplets[2], (2, 3, 4));
        assert_eq!(hard.triplets[4], (4, 5, 0));
    }

    #[test]
    fn counts_and_means_by_hand() {
        // Two identities of two on a line: 0 and 1 at 0 and 1, 2 and 3 at 3 and 5.
        let emb = [0.0, 1.0, 3.0, 5.0];
        let labels = [7, 7, 9, 9];
        let out = triplet_loss(
            &emb,
            4,
            1,
            &labels,
            Rule::parse("batch-all").unwrap(),
            0.2,
            &[1.0, 2.0, 3.0, 4.0],
        )
        .unwrap();
        assert_eq!(out.stats.positive_pairs, 4);
        assert_eq!(out.stats.triplets, 8);
        // d_ap: 1, 1, 4, 4 (each with two negatives). The only active triplet is (2, 3, 1):
        // 4 - 4 + 0.2 = 0.2.
        assert_eq!(out.stats.active_triplets, 1);
        assert!((out.stats.loss - 0.2 / 8.0).abs() < 1e-7);
        assert!((out.stats.loss_nonzero_mean - 0.2).abs() < 1e-7);
        assert_eq!(out.stats.mean_d_ap, 2.5);
        assert_eq!(out.stats.mean_d_an, 108.0 / 8.0);
        assert_eq!(out.stats.mean_norm, 2.5);
        assert!((out.stats.std_norm - 1.25f32.sqrt()).abs() < 1e-6);
        // 2 (x_n - x_p) / 8 at the anchor, 2 (x_p - x_a) / 8 at p, 2 (x_a - x_n) / 8 at n.
        assert_eq!(out.grad, [0.0, 0.5, -1.0, 0.5]);
    }

    #[test]
    fn no_positive_pair_gives_zero_loss_and_singletons_are_negatives() {
        let emb = lcg_vec(5, 8).iter().map(|&v| v as f32).collect::<Vec<_>>();
        for name in ALL_RULES {
            let rule = Rule::parse(name).unwrap();
            let out = triplet_loss(&emb, 4, 2, &[1, 2, 3, 4], rule, 0.2, &[]).unwrap();
            assert_eq!(out.stats, TripletStats::default(), "{name}");
            assert!(out.grad.iter().all(|&g| g == 0.0));
            // Rows 2 and 3 are singletons: they appear only as negatives.
            let out = triplet_loss(&emb, 4, 2, &[1, 1, 3, 4], rule, 5.0, &[]).unwrap();
            assert_eq!(out.stats.positive_pairs, 2);
            assert!(
                out.triplets
                    .iter()
                    .all(|&(a, p, n)| a < 2 && p < 2 && n >= 2)
            );
        }
    }

    #[test]
    fn length_mismatch_is_an_error_naming_both() {
        let err = triplet_loss(
            &[0.0; 6],
            3,
            2,
            &[1, 2],
            Rule::parse("batch-all").unwrap(),
            0.2,
            &[],
        )
        .unwrap_err();
        assert_eq!(
            err,
            MiningError::LengthMismatch {
                embeddings: 3,
                labels: 2
            }
        );
        let text = err.to_string();
        assert!(text.contains('3') && text.contains('2'), "{text}");
    }
}
