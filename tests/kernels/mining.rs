//! The GPU triplet miner against the brute-force `facenet_ref::mining::triplet_loss`.

use facenet_gpu::mining::{MiningError, Rule, TripletMiner, TripletStats};
use facenet_gpu::{Gpu, GpuBuffer};
use facenet_ref::mining::triplet_loss;

use crate::common::{assert_close, gpu, random_vec};

const RULES: [&str; 8] = [
    "semi-hard",
    "semi-hard-band",
    "semi-hard-inside",
    "semi-hard-band-inside",
    "batch-hard",
    "batch-hard-soft",
    "batch-all",
    "batch-all-nonzero",
];

/// `n` random unit rows: continuous values, so no two distances tie.
fn sphere(seed: u64, n: usize, d: usize) -> Vec<f32> {
    let mut x = random_vec(seed, n * d);
    for row in x.chunks_mut(d) {
        let norm = row.iter().map(|v| v * v).sum::<f32>().sqrt();
        row.iter_mut().for_each(|v| *v /= norm);
    }
    x
}

struct Step {
    stats: TripletStats,
    grad: Vec<f32>,
    triplets: Vec<(u32, u32, u32)>,
}

#[allow(clippy::too_many_arguments)]
fn run(
    gpu: &Gpu,
    miner: &mut TripletMiner,
    emb: &[f32],
    d: usize,
    labels: &[u32],
    rule: Rule,
    alpha: f32,
    pre_norms: Option<&[f32]>,
) -> Result<Step, MiningError> {
    let n = emb.len() / d;
    let emb_gpu = GpuBuffer::from_slice(gpu, emb, &[n * d]);
    let labels_gpu = GpuBuffer::from_slice(gpu, labels, &[labels.len()]);
    let norms_gpu = pre_norms.map(|v| GpuBuffer::from_slice(gpu, v, &[v.len()]));
    let grad = GpuBuffer::<f32>::zeros(gpu, &[n * d]);
    let mut encoder = gpu.encoder();
    miner.record(
        gpu,
        &mut encoder,
        &emb_gpu,
        &labels_gpu,
        n,
        rule,
        alpha,
        norms_gpu.as_ref(),
        &grad,
    )?;
    gpu.submit(encoder);
    Ok(Step {
        stats: miner.read_stats(gpu).unwrap(),
        grad: grad.read(gpu).unwrap(),
        triplets: miner.read_triplets(gpu).unwrap(),
    })
}

/// Loss and means are f32 sums over up to N * K * N terms of values below 4 + alpha, summed in
/// another order than the f64 reference: relative 1e-4 leaves room for GPUs that reorder.
fn assert_stats_close(what: &str, got: &TripletStats, expected: &TripletStats) {
    assert_eq!(
        got.positive_pairs, expected.positive_pairs,
        "{what}: positive pairs"
    );
    assert_eq!(
        got.semi_hard_found, expected.semi_hard_found,
        "{what}: semi-hard found"
    );
    assert_eq!(got.triplets, expected.triplets, "{what}: triplets");
    assert_eq!(
        got.active_triplets, expected.active_triplets,
        "{what}: active"
    );
    let values = |s: &TripletStats| {
        vec![
            s.loss,
            s.loss_nonzero_mean,
            s.mean_d_ap,
            s.mean_d_an,
            s.mean_norm,
            s.std_norm,
        ]
    };
    assert_close(what, &values(got), &values(expected), 1e-5, 1e-4);
}

/// Each gradient entry sums at most a few hundred contributions of size <= 4 / denominator.
fn assert_grad_close(what: &str, got: &[f32], expected: &[f32]) {
    let scale = expected.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    assert_close(what, got, expected, 1e-4 * scale + 1e-7, 1e-4);
}

fn check_against_reference(gpu: &Gpu, miner: &mut TripletMiner, n: usize, d: usize, seed: u64) {
    let emb = sphere(seed, n, d);
    // Identities of 2 to 8 images, interleaved, plus singletons at the end.
    let labels: Vec<u32> = (0..n as u32)
        .map(|i| {
            if i + 3 >= n as u32 {
                1000 + i
            } else {
                (i * 7) % (n as u32 / 5)
            }
        })
        .collect();
    let norms = random_vec(seed + 1, n)
        .iter()
        .map(|v| 2.0 + v)
        .collect::<Vec<_>>();
    for name in RULES {
        let rule = Rule::parse(name).unwrap();
        let expected = triplet_loss(&emb, n, d, &labels, rule, 0.2, &norms).unwrap();
        let got = run(gpu, miner, &emb, d, &labels, rule, 0.2, Some(&norms)).unwrap();
        let what = format!("{name} n {n} d {d}");
        assert!(
            expected.stats.triplets > 0,
            "{what}: no triplets to compare"
        );
        assert_eq!(got.triplets, expected.triplets, "{what}: selection");
        assert_stats_close(&what, &got.stats, &expected.stats);
        assert_grad_close(&what, &got.grad, &expected.grad);
    }
}

#[test]
fn every_rule_matches_reference() {
    let Some(gpu) = gpu() else { return };
    // One miner serves batches smaller than its n_max.
    let mut miner = TripletMiner::new(gpu, 150, 16);
    check_against_reference(gpu, &mut miner, 45, 16, 11);
    check_against_reference(gpu, &mut miner, 150, 16, 12);
    let mut miner = TripletMiner::new(gpu, 130, 36);
    check_against_reference(gpu, &mut miner, 130, 36, 14);
}

#[test]
fn many_small_blocks_match_reference() {
    let Some(gpu) = gpu() else { return };
    // 97 rows of 4 bytes per block row: 10 blocks of 10 anchor rows, the last one of 7.
    let mut miner = TripletMiner::with_block_bytes(gpu, 97, 8, 97 * 10 * 4);
    check_against_reference(gpu, &mut miner, 97, 8, 13);
}

#[test]
fn ties_go_to_the_lowest_index() {
    let Some(gpu) = gpu() else { return };
    // Rows 2 and 3 are duplicates, as are 4 and 5 (d = 4, the last two coordinates 0).
    let points = [
        [0.0, 0.0],
        [1.0, 0.0],
        [0.0, 2.0],
        [0.0, 2.0],
        [0.0, 0.5],
        [0.0, 0.5],
    ];
    let emb: Vec<f32> = points.iter().flat_map(|p| [p[0], p[1], 0.0, 0.0]).collect();
    let labels = [0, 0, 1, 1, 2, 2];
    let mut miner = TripletMiner::new(gpu, 6, 4);
    for name in RULES {
        let rule = Rule::parse(name).unwrap();
        let expected = triplet_loss(&emb, 6, 4, &labels, rule, 0.2, &[]).unwrap();
        let got = run(gpu, &mut miner, &emb, 4, &labels, rule, 0.2, None).unwrap();
        assert_eq!(got.triplets, expected.triplets, "{name}");
        assert_stats_close(name, &got.stats, &expected.stats);
    }
    let semi_hard = Rule::parse("semi-hard").unwrap();
    let got = run(gpu, &mut miner, &emb, 4, &labels, semi_hard, 0.2, None).unwrap();
    assert_eq!(got.triplets[0], (0, 1, 2));
}

#[test]
fn same_bits_every_run() {
    let Some(gpu) = gpu() else { return };
    let (n, d) = (120, 16);
    let emb = sphere(21, n, d);
    let labels: Vec<u32> = (0..n as u32).map(|i| i / 6).collect();
    let mut miner = TripletMiner::new(gpu, n, d);
    for name in ["semi-hard-inside", "batch-all"] {
        let rule = Rule::parse(name).unwrap();
        let first = run(gpu, &mut miner, &emb, d, &labels, rule, 0.2, None).unwrap();
        let second = run(gpu, &mut miner, &emb, d, &labels, rule, 0.2, None).unwrap();
        assert_eq!(first.grad, second.grad, "{name}: gradient bits differ");
        assert_eq!(first.stats, second.stats, "{name}");
    }
}

#[test]
fn no_positive_pair_singletons_and_length_mismatch() {
    let Some(gpu) = gpu() else { return };
    let (n, d) = (10, 8);
    let emb = sphere(31, n, d);
    let mut miner = TripletMiner::new(gpu, n, d);
    let distinct: Vec<u32> = (0..n as u32).collect();
    let mut singletons = distinct.clone();
    singletons[1] = 0;
    for name in RULES {
        let rule = Rule::parse(name).unwrap();
        let got = run(gpu, &mut miner, &emb, d, &distinct, rule, 0.2, None).unwrap();
        assert_eq!(
            got.stats,
            TripletStats::default(),
            "{name}: no positive pair"
        );
        assert!(
            got.grad.iter().all(|&g| g == 0.0),
            "{name}: gradient without pairs"
        );
        assert!(got.triplets.is_empty());

        // Rows 0 and 1 are the only pair; every other row can only be a negative.
        let got = run(gpu, &mut miner, &emb, d, &singletons, rule, 5.0, None).unwrap();
        assert_eq!(got.stats.positive_pairs, 2, "{name}");
        assert!(got.stats.loss.is_finite() && got.stats.loss > 0.0, "{name}");
        assert!(
            got.triplets
                .iter()
                .all(|&(a, p, n)| a < 2 && p < 2 && n >= 2),
            "{name}"
        );
    }
    let rule = Rule::parse("semi-hard").unwrap();
    let error = run(gpu, &mut miner, &emb, d, &distinct[..7], rule, 0.2, None)
        .err()
        .expect("7 labels for 10 rows");
    assert_eq!(
        error,
        MiningError::LengthMismatch {
            embeddings: 10,
            labels: 7
        }
    );
    assert!(error.to_string().contains("10") && error.to_string().contains('7'));
}

/// f64 distance between rows i and j.
fn dist64(emb: &[f32], d: usize, i: usize, j: usize) -> f64 {
    (0..d)
        .map(|k| (f64::from(emb[i * d + k]) - f64::from(emb[j * d + k])).powi(2))
        .sum()
}

/// The semi-hard predicate on sampled anchors: every positive pair either has a chosen negative
/// farther than its positive with none nearer in between, or no negative farther at all.
/// Distances within `slack` of each other may order either way in f32.
fn check_semi_hard_predicate(emb: &[f32], d: usize, labels: &[u32], triplets: &[(u32, u32, u32)]) {
    let n = labels.len();
    let slack = 1e-5;
    for a in (0..n).step_by(n / 16) {
        let chosen: Vec<_> = triplets.iter().filter(|t| t.0 as usize == a).collect();
        let negatives: Vec<f64> = (0..n)
            .filter(|&j| labels[j] != labels[a])
            .map(|j| dist64(emb, d, a, j))
            .collect();
        for &&(_, p, neg) in &chosen {
            let (d_ap, d_an) = (
                dist64(emb, d, a, p as usize),
                dist64(emb, d, a, neg as usize),
            );
            assert_ne!(
                labels[neg as usize], labels[a],
                "({a}, {p}, {neg}): not a negative"
            );
            assert!(
                d_an > d_ap - slack,
                "({a}, {p}, {neg}): {d_an} not beyond {d_ap}"
            );
            let nearer = negatives
                .iter()
                .filter(|&&v| v > d_ap + slack && v < d_an - slack);
            assert_eq!(
                nearer.count(),
                0,
                "({a}, {p}, {neg}): a nearer semi-hard negative"
            );
        }
        // A skipped pair must have had no negative beyond its positive.
        for p in (0..n).filter(|&p| p != a && labels[p] == labels[a]) {
            if !chosen.iter().any(|t| t.1 as usize == p) {
                let d_ap = dist64(emb, d, a, p);
                assert!(
                    negatives.iter().all(|&v| v <= d_ap + slack),
                    "({a}, {p}) skipped"
                );
            }
        }
    }
}

/// The gradient of the mean hinge loss over the given triplets, in f64.
fn grad_of_triplets(emb: &[f32], d: usize, triplets: &[(u32, u32, u32)], alpha: f64) -> Vec<f32> {
    let mut grad = vec![0.0f64; emb.len()];
    for &(a, p, n) in triplets {
        let (a, p, n) = (a as usize, p as usize, n as usize);
        if dist64(emb, d, a, p) - dist64(emb, d, a, n) + alpha > 0.0 {
            for k in 0..d {
                let (xa, xp, xn) = (emb[a * d + k], emb[p * d + k], emb[n * d + k]);
                grad[a * d + k] += 2.0 * f64::from(xn - xp);
                grad[p * d + k] += 2.0 * f64::from(xp - xa);
                grad[n * d + k] += 2.0 * f64::from(xa - xn);
            }
        }
    }
    let count = triplets.len().max(1) as f64;
    grad.iter().map(|g| (g / count) as f32).collect()
}

fn check_large(p: usize, k: usize, d: usize) {
    let Some(gpu) = gpu() else { return };
    let n = p * k;
    let emb = sphere(41, n, d);
    let labels: Vec<u32> = (0..n as u32).map(|i| i / k as u32).collect();
    let mut miner = TripletMiner::new(gpu, n, d);
    let rule = Rule::parse("semi-hard").unwrap();
    let got = run(gpu, &mut miner, &emb, d, &labels, rule, 0.2, None).unwrap();
    assert_eq!(
        got.stats.positive_pairs as usize,
        p * k * (k - 1),
        "P x K x (K - 1)"
    );
    assert_eq!(got.stats.triplets as usize, got.triplets.len());
    assert_eq!(
        got.stats.semi_hard_found, got.stats.triplets,
        "skip keeps found pairs only"
    );
    check_semi_hard_predicate(&emb, d, &labels, &got.triplets);
    let expected = grad_of_triplets(&emb, d, &got.triplets, 0.2);
    assert_grad_close(&format!("semi-hard n {n}"), &got.grad, &expected);
}

#[test]
fn facenet_batch_45_by_40() {
    check_large(45, 40, 16);
}

#[test]
fn batch_of_4096_in_blocks() {
    check_large(128, 32, 16);
}
