//! Verification measures on cases small enough to work out by hand (the arithmetic is in the
//! comments), plus random cases checked against brute-force definitions.

use facenet_eval::EvalError;
use facenet_eval::verification::{evaluate_verification, roc_svg, val_at_far, write_roc_svg};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Exact up to f64 rounding of a few sums; every expected value here is a short fraction.
fn close(got: f64, want: f64, what: &str) {
    assert!(
        (got - want).abs() <= 1e-12,
        "{what}: got {got}, want {want}"
    );
}

/// Splits (distance, matched) pairs over two folds, alternating within each class.
fn two_folds(matched_d: &[f32], mismatched_d: &[f32]) -> (Vec<f32>, Vec<bool>, Vec<usize>) {
    let mut d = Vec::new();
    let mut m = Vec::new();
    let mut f = Vec::new();
    for (i, &x) in matched_d.iter().enumerate() {
        d.push(x);
        m.push(true);
        f.push(i % 2);
    }
    for (i, &x) in mismatched_d.iter().enumerate() {
        d.push(x);
        m.push(false);
        f.push(i % 2);
    }
    (d, m, f)
}

#[test]
fn perfect_separation() {
    // fold 0: matched 0.1, 0.3; mismatched 1.0, 1.2. fold 1: matched 0.2, 0.4; mismatched 1.1, 1.3.
    let (d, m, f) = two_folds(&[0.1, 0.2, 0.3, 0.4], &[1.0, 1.1, 1.2, 1.3]);
    let r = evaluate_verification(&d, &m, &f, 2).unwrap();
    close(r.accuracy, 1.0, "accuracy");
    close(r.accuracy_std, 0.0, "std");
    close(r.auc, 1.0, "auc");
    close(r.eer, 0.0, "eer");
    // Best training thresholds are the midpoints of the class gap: (0.4 + 1.1) / 2 when fold 0
    // is held out, (0.3 + 1.0) / 2 when fold 1 is; the f32 inputs make this approximate.
    assert!(
        (r.fold_thresholds[0] - 0.75).abs() < 1e-6,
        "{:?}",
        r.fold_thresholds
    );
    assert!(
        (r.fold_thresholds[1] - 0.65).abs() < 1e-6,
        "{:?}",
        r.fold_thresholds
    );
    close(r.val_at_far_1e3, 1.0, "val 1e-3");
    close(r.far_achieved_1e3, 0.0, "far 1e-3");
    close(r.val_at_far_1e2, 1.0, "val 1e-2");
    assert_eq!(
        (r.n_pairs, r.n_matched, r.n_mismatched, r.n_folds),
        (8, 4, 4, 2)
    );
}

#[test]
fn hand_worked_auc_three_quarters_and_fold_accuracy() {
    // matched 1, 2, 5, 6; mismatched 3, 4, 7, 8. Pairs (m, n) with m < n: 4 + 4 + 2 + 2 = 12 of
    // 16, so AUC = 0.75.
    // Folds: 0 holds matched 1, 5 and mismatched 3, 7; 1 holds matched 2, 6, mismatched 4, 8.
    // Held-out 0, train {2m, 4n, 6m, 8n}: correct per candidate t = 1, 3, 5, 7, 8 is
    //   2, 3, 2, 3, 2; the best (3) first at t = 3. On fold 0: 1 accepted (right), 5 rejected
    //   (wrong), 3 accepted (wrong), 7 rejected (right): 2/4.
    // Held-out 1, train {1m, 3n, 5m, 7n}: best first at t = 2. On fold 1: 2 accepted (right),
    //   6 rejected (wrong), 4 and 8 rejected (right): 3/4.
    // Mean 0.625; population std 0.125 (a sample std would be 0.177); sem 0.125 / sqrt(2).
    let (d, m, f) = two_folds(&[1.0, 2.0, 5.0, 6.0], &[3.0, 4.0, 7.0, 8.0]);
    let r = evaluate_verification(&d, &m, &f, 2).unwrap();
    close(r.auc, 0.75, "auc");
    assert_eq!(r.fold_thresholds, vec![3.0, 2.0]);
    assert_eq!(r.fold_accuracies, vec![0.5, 0.75]);
    close(r.accuracy, 0.625, "accuracy");
    close(r.accuracy_std, 0.125, "accuracy_std");
    close(r.accuracy_sem, 0.125 / 2f64.sqrt(), "accuracy_sem");
    close(r.threshold, 2.5, "mean threshold");
}

#[test]
fn ties_count_half_in_auc() {
    // matched 1, 2, 4, 6; mismatched 3, 4, 5, 7. Ordered pairs: 1 -> 4, 2 -> 4, 4 -> 2 (5, 7)
    // plus a tie with 4 (0.5), 6 -> 1 (7). (4 + 4 + 2.5 + 1) / 16 = 0.71875.
    let (d, m, f) = two_folds(&[1.0, 2.0, 4.0, 6.0], &[3.0, 4.0, 5.0, 7.0]);
    let r = evaluate_verification(&d, &m, &f, 2).unwrap();
    close(r.auc, 0.71875, "auc");
}

#[test]
fn fully_inverted_distances() {
    // Every mismatched pair is closer than every matched pair: no (m, n) pair is ordered right.
    // Each training fold scores best by accepting nothing, t = min - 1 (1.0 and 0.2 here), which
    // accepts nothing on the held-out fold either: half right.
    let (d, m, f) = two_folds(&[5.0, 6.0, 7.0, 8.0], &[1.2, 2.0, 3.0, 4.0]);
    let r = evaluate_verification(&d, &m, &f, 2).unwrap();
    close(r.auc, 0.0, "auc");
    close(r.accuracy, 0.5, "accuracy");
    // far reaches frr only once every mismatched pair is accepted: far = frr = 1 at t = 4.
    close(r.eer, 1.0, "eer");
}

#[test]
fn eer_is_interpolated_between_roc_points() {
    // matched 1, 2, 5; mismatched 3, 4. At t = 2: far 0, frr 1/3 (far - frr = -1/3).
    // At t = 3: far 1/2, frr 1/3 (+1/6). The sign changes 2/3 of the way along that segment,
    // where far = 0 + 2/3 * 1/2 = 1/3 and frr is still 1/3: EER = 1/3.
    let (d, m, f) = two_folds(&[1.0, 2.0, 5.0], &[3.0, 4.0]);
    let r = evaluate_verification(&d, &m, &f, 2).unwrap();
    close(r.eer, 1.0 / 3.0, "eer");
    let far_tar: Vec<(f64, f64)> = r.roc.iter().map(|p| (p.far, p.tar)).collect();
    let third = 1.0 / 3.0;
    let two_thirds = 2.0 / 3.0;
    let want = [
        (0.0, 0.0),
        (0.0, third),
        (0.0, two_thirds),
        (0.5, two_thirds),
        (1.0, two_thirds),
    ];
    assert_eq!(far_tar, [want.as_slice(), &[(1.0, 1.0)]].concat());
    assert_eq!(r.roc[0].threshold, 0.0, "reject-all threshold is min - 1");
}

#[test]
fn val_at_far_by_hand() {
    // fold 0: matched 1, 4; mismatched 3, 5, 7, 9. fold 1: matched 2, 6; mismatched 4.5, 8, 10, 11.
    let d = [1.0, 4.0, 3.0, 5.0, 7.0, 9.0, 2.0, 6.0, 4.5, 8.0, 10.0, 11.0];
    let m = [
        true, true, false, false, false, false, true, true, false, false, false, false,
    ];
    let f = [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1];

    // Target 0.1. Held-out 0, train = fold 1 {2m, 4.5n, 6m, 8n, 10n, 11n}: FAR is 0 at the
    //   candidate 3.25 = (2 + 4.5) / 2 and 1/4 at the next, 5.25, so t = 3.25 + 0.4 * 2 = 4.05.
    //   Fold 0: matched 1, 4 accepted (VAL 1); mismatched 3 accepted, 5 not (FAR 1/4).
    // Held-out 1, train = fold 0 {1m, 3n, 4m, 5n, 7n, 9n}: FAR 0 at 2, 1/4 at 3.5, so
    //   t = 2 + 0.4 * 1.5 = 2.6. Fold 1: matched 2 accepted, 6 not (VAL 1/2); no mismatched
    //   accepted (FAR 0).
    let v = val_at_far(&d, &m, &f, 2, 0.1).unwrap();
    close(v.val, 0.75, "val");
    close(v.val_std, 0.25, "val_std");
    close(v.far, 0.125, "far");
    close(v.threshold, 3.325, "threshold");
}

#[test]
fn auc_matches_brute_force_with_ties() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let n = 600;
    // Quantised distances force many ties, the case the rank formula must get right.
    let d: Vec<f32> = (0..n)
        .map(|_| rng.random_range(0..40) as f32 / 10.0)
        .collect();
    let m: Vec<bool> = (0..n)
        .map(|i| rng.random_bool(0.3 + 0.4 * (i % 2) as f64))
        .collect();
    let f: Vec<usize> = (0..n).map(|i| i % 10).collect();
    let r = evaluate_verification(&d, &m, &f, 10).unwrap();

    let mut score = 0.0;
    let mut count = 0.0;
    for i in (0..n).filter(|&i| m[i]) {
        for j in (0..n).filter(|&j| !m[j]) {
            score += if d[i] < d[j] {
                1.0
            } else if d[i] == d[j] {
                0.5
            } else {
                0.0
            };
            count += 1.0;
        }
    }
    // Both sides sum the same halves and integers; only the final divisions differ.
    assert!(
        (r.auc - score / count).abs() < 1e-12,
        "{} vs {}",
        r.auc,
        score / count
    );
}

#[test]
fn random_labels_give_chance_auc() {
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let n = 20_000;
    let d: Vec<f32> = (0..n).map(|_| rng.random_range(0.0..4.0)).collect();
    let m: Vec<bool> = (0..n).map(|_| rng.random_bool(0.5)).collect();
    let f: Vec<usize> = (0..n).map(|i| i % 10).collect();
    let r = evaluate_verification(&d, &m, &f, 10).unwrap();
    // The AUC's standard error here is about sqrt((n + 1) / (12 * n/2 * n/2)) = 0.004; 0.02 is
    // five of them.
    assert!((r.auc - 0.5).abs() < 0.02, "auc {}", r.auc);
    assert!((r.eer - 0.5).abs() < 0.03, "eer {}", r.eer);
    assert!(r.accuracy < 0.53, "accuracy {}", r.accuracy);
    assert!(r.roc.windows(2).all(|w| w[0].threshold < w[1].threshold));
}

#[test]
fn errors_name_the_value_at_fault() {
    let d = [0.1, 0.9, 0.2, 0.8];
    let m = [true, false, true, false];
    let f = [0, 0, 1, 1];

    let e = evaluate_verification(&d, &m[..3], &f, 2).unwrap_err();
    assert!(
        matches!(
            e,
            EvalError::LengthMismatch {
                left_len: 4,
                right_len: 3,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains('4') && e.to_string().contains('3'));

    let e = evaluate_verification(&[], &[], &[], 2).unwrap_err();
    assert_eq!(e, EvalError::Empty { what: "distances" });

    let e = evaluate_verification(&d, &[true; 4], &f, 2).unwrap_err();
    assert!(
        matches!(
            e,
            EvalError::OneSidedPairs {
                missing: "mismatched",
                ..
            }
        ),
        "{e}"
    );
    let e = evaluate_verification(&d, &[false; 4], &f, 2).unwrap_err();
    assert!(
        matches!(
            e,
            EvalError::OneSidedPairs {
                missing: "matched",
                ..
            }
        ),
        "{e}"
    );

    let e = evaluate_verification(&[0.1, f32::NAN, 0.2, 0.8], &m, &f, 2).unwrap_err();
    assert!(matches!(e, EvalError::NonFinite { index: 1, .. }), "{e}");
    assert!(e.to_string().contains("index 1"), "{e}");

    let e = evaluate_verification(&d, &m, &[0, 0, 1, 2], 2).unwrap_err();
    assert_eq!(
        e,
        EvalError::FoldOutOfRange {
            index: 3,
            fold: 2,
            n_folds: 2
        }
    );

    let e = evaluate_verification(&d, &m, &[0, 0, 0, 0], 1).unwrap_err();
    assert_eq!(e, EvalError::TooFewFolds { n_folds: 1 });

    let e = evaluate_verification(&d, &m, &[0, 1, 0, 0], 2).unwrap_err();
    assert_eq!(
        e,
        EvalError::FoldMissingClass {
            fold: 1,
            missing: "matched"
        }
    );

    let e = val_at_far(&d, &m, &f, 2, 0.0).unwrap_err();
    assert!(
        matches!(
            e,
            EvalError::InvalidOption {
                name: "target_far",
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn roc_svg_has_axes_curve_and_scores() {
    let (d, m, f) = two_folds(&[1.0, 2.0, 5.0, 6.0], &[3.0, 4.0, 7.0, 8.0]);
    let r = evaluate_verification(&d, &m, &f, 2).unwrap();
    let svg = roc_svg(&r, "held-out <ORL> & co");
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    assert!(svg.contains("AUC 0.7500"), "{svg}");
    assert!(svg.contains("accuracy 0.6250"), "{svg}");
    assert!(
        svg.contains("&lt;ORL&gt; &amp; co"),
        "title must be escaped"
    );
    for label in [
        "1e-4",
        "1e-3",
        "1e-2",
        "0.1",
        ">1<",
        "0.0",
        "1.0",
        "FAR, log scale",
        "TAR",
    ] {
        assert!(svg.contains(label), "missing {label}");
    }
    assert!(svg.contains("<polyline"));

    let path = std::env::temp_dir().join(format!("facenet-eval-roc-{}.svg", std::process::id()));
    write_roc_svg(&r, &path, "roc").unwrap();
    let written = std::fs::read_to_string(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(written, roc_svg(&r, "roc"));
}
