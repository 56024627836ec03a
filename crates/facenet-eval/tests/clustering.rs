//! Clustering scores on partitions worked by hand, and k-means on data with a known answer.

use facenet_eval::EvalError;
use facenet_eval::clustering::{
    AssignStep, CpuAssign, KMeansOptions, clustering_scores, kmeans, kmeans_plus_plus,
    write_clusters_csv,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The scores below are short sums of logs and fractions; 1e-12 only absorbs their rounding.
fn close(got: f64, want: f64, what: &str) {
    assert!(
        (got - want).abs() <= 1e-12,
        "{what}: got {got}, want {want}"
    );
}

#[test]
fn identical_partitions_up_to_relabelling_score_one() {
    let s = clustering_scores(&[0, 0, 1, 1, 2, 2, 2], &[5, 5, 9, 9, 3, 3, 3]).unwrap();
    close(s.nmi, 1.0, "nmi");
    for (v, what) in [(s.pairwise_f1, "pairwise f1"), (s.bcubed_f1, "bcubed f1")] {
        close(v, 1.0, what);
    }
    close(s.purity, 1.0, "purity");
}

#[test]
fn independent_partitions_score_zero_nmi() {
    // Every cell of the 2 x 2 table holds one item, so p(i, j) = p(i) p(j) and MI = 0.
    // No pair is together in both: pairwise P = R = 0. BCubed: each item's cluster and class are
    // half its own: P = R = 1/2. Purity: each cluster's largest class has 1 of 2 items: 1/2.
    let s = clustering_scores(&[0, 0, 1, 1], &[0, 1, 0, 1]).unwrap();
    assert_eq!(s.nmi, 0.0);
    assert_eq!(
        (s.pairwise_precision, s.pairwise_recall, s.pairwise_f1),
        (0.0, 0.0, 0.0)
    );
    close(s.bcubed_precision, 0.5, "bcubed p");
    close(s.bcubed_recall, 0.5, "bcubed r");
    close(s.purity, 0.5, "purity");
}

#[test]
fn known_confusion_by_hand() {
    // truth A A A B B B, pred 0 0 1 1 1 2. Table: A -> {0: 2, 1: 1}, B -> {1: 2, 2: 1};
    // class sizes 3, 3; cluster sizes 2, 3, 1; n = 6.
    let s = clustering_scores(&[0, 0, 0, 1, 1, 1], &[0, 0, 1, 1, 1, 2]).unwrap();

    // Pairs together in both: C(2,2) + C(2,2) = 2; in pred: 1 + 3 + 0 = 4; in truth: 3 + 3 = 6.
    // P = 1/2, R = 1/3, F1 = 2 (1/6) / (5/6) = 2/5.
    close(s.pairwise_precision, 0.5, "pairwise p");
    close(s.pairwise_recall, 1.0 / 3.0, "pairwise r");
    close(s.pairwise_f1, 0.4, "pairwise f1");

    // BCubed P = (2*2/2 + 1*1/3 + 2*2/3 + 1*1/1) / 6 = (14/3) / 6 = 7/9;
    // R = (2*2/3 + 1*1/3 + 2*2/3 + 1*1/3) / 6 = (10/3) / 6 = 5/9; F1 = 2 (35/81) / (12/9) = 35/54.
    close(s.bcubed_precision, 7.0 / 9.0, "bcubed p");
    close(s.bcubed_recall, 5.0 / 9.0, "bcubed r");
    close(s.bcubed_f1, 35.0 / 54.0, "bcubed f1");

    // Purity: largest class per cluster 2 + 2 + 1 = 5 of 6.
    close(s.purity, 5.0 / 6.0, "purity");

    // MI = 2/6 ln(6*2/(3*2)) + 1/6 ln(6/(3*3)) + 2/6 ln(6*2/(3*3)) + 1/6 ln(6/(3*1))
    //    = 4/3 ln 2 - 1/2 ln 3 (about 0.3749).
    // H(truth) = ln 2; H(pred) = 1/3 ln 3 + 1/2 ln 2 + 1/6 ln 6. NMI = MI / mean (about 0.4399).
    let (ln2, ln3, ln6) = (2f64.ln(), 3f64.ln(), 6f64.ln());
    let mi = 4.0 / 3.0 * ln2 - 0.5 * ln3;
    let h_pred = ln3 / 3.0 + ln2 / 2.0 + ln6 / 6.0;
    close(s.nmi, mi / ((ln2 + h_pred) / 2.0), "nmi");
    assert!((s.nmi - 0.4399).abs() < 1e-4, "nmi {}", s.nmi);
}

#[test]
fn degenerate_partitions_stay_finite() {
    // Everything in one cluster on both sides: perfect. Every item alone in pred: no predicted
    // pairs, so precision is 1 by convention and recall 0.
    let s = clustering_scores(&[4, 4, 4], &[1, 1, 1]).unwrap();
    assert_eq!((s.nmi, s.pairwise_f1, s.purity), (1.0, 1.0, 1.0));
    let s = clustering_scores(&[0, 0, 1], &[0, 1, 2]).unwrap();
    assert_eq!(
        (s.pairwise_precision, s.pairwise_recall, s.pairwise_f1),
        (1.0, 0.0, 0.0)
    );
    let s = clustering_scores(&[0, 0, 1], &[0, 0, 0]).unwrap();
    assert_eq!(s.nmi, 0.0);
    assert!(clustering_scores(&[0], &[0, 1]).is_err());
    assert_eq!(
        clustering_scores(&[], &[]).unwrap_err(),
        EvalError::Empty { what: "truth" }
    );
}

/// Three 2-d blobs 10 apart with jitter under 0.5, shuffled.
fn blobs(seed: u64) -> (Vec<f32>, Vec<u32>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let centres = [(0.0, 0.0), (10.0, 0.0), (0.0, 10.0)];
    let mut data = Vec::new();
    let mut truth = Vec::new();
    for i in 0..60 {
        let b = (i * 7) % 3;
        let (cx, cy) = centres[b];
        data.push(cx + rng.random_range(-0.5f32..0.5));
        data.push(cy + rng.random_range(-0.5f32..0.5));
        truth.push(b as u32);
    }
    (data, truth)
}

#[test]
fn kmeans_recovers_three_blobs_exactly() {
    let (data, truth) = blobs(3);
    let opts = KMeansOptions {
        seed: 11,
        ..KMeansOptions::default()
    };
    let r = kmeans(&data, 60, 2, 3, &opts, &mut CpuAssign).unwrap();
    let s = clustering_scores(&truth, &r.labels).unwrap();
    assert_eq!(s.purity, 1.0);
    assert_eq!(s.pairwise_f1, 1.0);
    assert!(r.converged);
    // Each blob's points are within 0.5 * sqrt(2) of its centre: inertia < 60 * 0.5.
    assert!(r.inertia < 30.0, "inertia {}", r.inertia);

    let again = kmeans(&data, 60, 2, 3, &opts, &mut CpuAssign).unwrap();
    assert_eq!(r, again, "the same seed must give the same result");
}

#[test]
fn kmeans_plus_plus_never_repeats_a_distinct_point() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let data: Vec<f32> = (0..40).map(|_| rng.random_range(-1.0f32..1.0)).collect();
    for seed in 0..50 {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        // k = n: the last draws leave only weight on the few rows not yet chosen.
        let mut chosen = kmeans_plus_plus(&data, 20, 2, 20, &mut rng, &mut CpuAssign).unwrap();
        chosen.sort_unstable();
        chosen.dedup();
        assert_eq!(chosen.len(), 20, "seed {seed} repeated a row");
    }
}

#[test]
fn kmeans_with_duplicate_points_does_not_panic() {
    // Three rows at 0 and one at 5, k = 3: some cluster must end up empty or duplicated.
    let data = [0.0, 0.0, 0.0, 5.0];
    let opts = KMeansOptions {
        restarts: 4,
        ..KMeansOptions::default()
    };
    let r = kmeans(&data, 4, 1, 3, &opts, &mut CpuAssign).unwrap();
    assert_eq!(r.inertia, 0.0);
    assert!(r.labels.iter().all(|&l| l < 3));
    assert_ne!(r.labels[0], r.labels[3]);
}

/// Counts its calls and delegates, to show the caller's step is the one used.
struct Counting(usize);

impl AssignStep for Counting {
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
        self.0 += 1;
        CpuAssign.assign(data, n, dim, centroids, k, out_labels, out_dist);
    }
}

/// A broken step, as a buggy kernel might be.
struct OutOfRange;

impl AssignStep for OutOfRange {
    fn assign(
        &mut self,
        _: &[f32],
        _: usize,
        _: usize,
        _: &[f32],
        k: usize,
        l: &mut [u32],
        _: &mut [f32],
    ) {
        l.fill(k as u32);
    }
}

#[test]
fn kmeans_uses_the_given_step_and_rejects_bad_output() {
    let (data, _) = blobs(4);
    let mut step = Counting(0);
    let opts = KMeansOptions {
        restarts: 2,
        ..KMeansOptions::default()
    };
    kmeans(&data, 60, 2, 3, &opts, &mut step).unwrap();
    // Per restart: 3 seeding calls and at least 2 Lloyd steps.
    assert!(step.0 >= 10, "{} calls", step.0);

    let e = kmeans(&data, 60, 2, 3, &opts, &mut OutOfRange).unwrap_err();
    assert!(
        matches!(
            e,
            EvalError::AssignOutOfRange {
                row: 0,
                label: 1,
                k: 1
            }
        ),
        "{e}"
    );
}

#[test]
fn kmeans_errors() {
    let opts = KMeansOptions::default();
    let e = kmeans(&[0.0; 4], 2, 2, 3, &opts, &mut CpuAssign).unwrap_err();
    assert_eq!(e, EvalError::TooManyClusters { k: 3, n: 2 });
    let e = kmeans(&[0.0; 5], 2, 2, 1, &opts, &mut CpuAssign).unwrap_err();
    assert!(matches!(
        e,
        EvalError::LengthMismatch {
            left_len: 5,
            right_len: 4,
            ..
        }
    ));
    let e = kmeans(&[0.0, f32::NAN], 2, 1, 1, &opts, &mut CpuAssign).unwrap_err();
    assert!(matches!(e, EvalError::NonFinite { index: 1, .. }));
    let bad = KMeansOptions {
        restarts: 0,
        ..opts
    };
    let e = kmeans(&[0.0; 2], 2, 1, 1, &bad, &mut CpuAssign).unwrap_err();
    assert!(matches!(
        e,
        EvalError::InvalidOption {
            name: "restarts",
            ..
        }
    ));
}

#[test]
fn clusters_csv_quotes_awkward_names() {
    let path = std::env::temp_dir().join(format!("facenet-eval-csv-{}.csv", std::process::id()));
    let files = vec!["a/1.png".to_string(), "b,\"c\".png".to_string()];
    write_clusters_csv(&path, &files, &[2, 0]).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(text, "file,cluster\na/1.png,2\n\"b,\"\"c\"\".png\",0\n");
    assert!(write_clusters_csv(&path, &files, &[1]).is_err());
}
