//! k-NN recognition on matrices small enough to rank by hand.

use facenet_eval::EvalError;
use facenet_eval::recognition::{knn_gallery, knn_leave_one_out};

/// Squared distances between points on a line, row-major.
fn line_matrix(x: &[f32]) -> Vec<f32> {
    x.iter()
        .flat_map(|a| x.iter().map(move |b| (a - b) * (a - b)))
        .collect()
}

#[test]
fn leave_one_out_by_hand() {
    // index:  0  1  2    3  4  5    6   7   8    9
    let x = [0.0, 1.0, 2.5, 4.0, 5.0, 100.0, 50.0, 51.0, -20.0, 200.0];
    let labels = [0, 0, 1, 1, 0, 2, 3, 3, 4, 4];
    // Neighbour labels, nearest first (first five):
    //   0: 1(0) 2(1) 3(1) 4(0) 8(4)   top1 yes, top5 yes, k2 tie -> 0 yes, k3 -> 1 no,
    //                                 k5 tie -> 0 yes
    //   1: 0(0) 2(1) 3(1) 4(0) 8(4)   the same pattern as probe 0
    //   2: 1(0) 3(1) 0(0) 4(0) 8(4)   1 and 3 tie at 2.25, so index 1 first: top1 no, top5 yes,
    //                                 k2 tie -> 0 no, k3 no, k5 no
    //   3: 4(0) 2(1) 1(0) 0(0) 8(4)   top1 no, top5 yes, k2 tie -> 0 no, k3 no, k5 no
    //   4: 3(1) 2(1) 1(0) 0(0) 8(4)   top1 no, top5 yes, k2 no, k3 no, k5 tie -> 1 no
    //   5: singleton identity, excluded
    //   6: 7(3) 4(0) 3(1) 2(1) 1(0)   top1 yes, top5 yes, k2 tie -> 3 yes, k3 tie -> 3 yes,
    //                                 k5: 0 and 1 have two votes each, 0 nearer -> no
    //   7: 6(3) 4(0) 3(1) 2(1) 5(2)   top1 yes, top5 yes, k2 yes, k3 yes, k5 -> 1 no
    //   8: 0 1 2 3 4 (labels 0 0 1 1 0), own label last of all: everything no
    //   9: 5(2) 7(3) 6(3) 4(0) 3(1), own label last: everything no
    // Over 9 probes: top1 4, top5 7, k1 4, k2 4, k3 2, k5 2.
    let r = knn_leave_one_out(&line_matrix(&x), 10, &labels, &[1, 2, 3, 5]).unwrap();
    assert_eq!((r.n_probes, r.n_evaluated, r.n_excluded), (10, 9, 1));
    assert_eq!(r.top1, 4.0 / 9.0);
    assert_eq!(r.top5, 7.0 / 9.0);
    let knn: Vec<(usize, f64)> = r.knn.iter().map(|a| (a.k, a.accuracy)).collect();
    assert_eq!(
        knn,
        vec![
            (1, 4.0 / 9.0),
            (2, 4.0 / 9.0),
            (3, 2.0 / 9.0),
            (5, 2.0 / 9.0)
        ]
    );
}

#[test]
fn k_larger_than_the_neighbours_uses_them_all() {
    // Three images: 0 and 1 of identity 7, 2 of identity 8. Probe 0 sees 1 (7) then 2 (8):
    // a k = 10 vote is 1 : 1, a tie that goes to the nearer, 7. Probe 2 is a singleton.
    let r = knn_leave_one_out(&line_matrix(&[0.0, 1.0, 3.0]), 3, &[7, 7, 8], &[10]).unwrap();
    assert_eq!((r.n_evaluated, r.n_excluded), (2, 1));
    assert_eq!(r.knn[0].accuracy, 1.0);
}

#[test]
fn gallery_open_and_closed_set() {
    let gallery_labels = [10, 20, 30];
    let probe_labels = [10, 20, 40, 50];
    #[rustfmt::skip]
    let dist = [
        0.1, 0.5, 0.9,  // known, nearest 10 (right), 0.1
        0.3, 0.6, 0.2,  // known, nearest 30 (wrong), 0.2
        0.8, 0.7, 0.9,  // unknown, nearest 0.7
        0.4, 0.9, 0.95, // unknown, nearest 0.4
    ];
    // Closed set over the two known probes: top1 1/2; top5 covers the whole gallery: 2/2.
    let r = knn_gallery(&dist, 4, 3, &probe_labels, &gallery_labels, &[1], None).unwrap();
    assert_eq!((r.top1, r.top5, r.n_excluded), (0.5, 1.0, 2));
    assert!(r.open_set.is_none());

    // At 0.5 both known probes are accepted (none falsely rejected, one of two right) and only
    // the unknown at 0.7 is rejected.
    let r = knn_gallery(&dist, 4, 3, &probe_labels, &gallery_labels, &[1], Some(0.5)).unwrap();
    let o = r.open_set.unwrap();
    assert_eq!((o.n_known, o.n_unknown), (2, 2));
    assert_eq!(o.unknown_rejected, Some(0.5));
    assert_eq!(o.known_false_rejected, Some(0.0));
    assert_eq!(o.top1_known_accepted, Some(0.5));

    // At 0.15 the known probe at 0.2 is falsely rejected; the accepted one is right; both
    // unknowns are rejected.
    let r = knn_gallery(
        &dist,
        4,
        3,
        &probe_labels,
        &gallery_labels,
        &[1],
        Some(0.15),
    )
    .unwrap();
    let o = r.open_set.unwrap();
    assert_eq!(o.unknown_rejected, Some(1.0));
    assert_eq!(o.known_false_rejected, Some(0.5));
    assert_eq!(o.top1_known_accepted, Some(1.0));
}

#[test]
fn recognition_errors() {
    let d = line_matrix(&[0.0, 1.0]);
    let e = knn_leave_one_out(&d, 3, &[0, 0, 0], &[1]).unwrap_err();
    assert!(
        matches!(
            e,
            EvalError::LengthMismatch {
                left_len: 4,
                right_len: 9,
                ..
            }
        ),
        "{e}"
    );

    let e = knn_leave_one_out(&d, 2, &[0, 1], &[1]).unwrap_err();
    assert!(
        matches!(e, EvalError::NoEvaluableProbes { n_probes: 2, .. }),
        "{e}"
    );

    let e = knn_leave_one_out(&[0.0, f32::NAN, 1.0, 0.0], 2, &[0, 0], &[1]).unwrap_err();
    assert!(
        matches!(e, EvalError::NonFiniteEntry { row: 0, col: 1, .. }),
        "{e}"
    );

    let e = knn_leave_one_out(&d, 2, &[0, 0], &[1, 0]).unwrap_err();
    assert!(
        matches!(e, EvalError::InvalidOption { name: "ks", .. }),
        "{e}"
    );

    let e = knn_gallery(&[0.1, 0.2], 1, 2, &[5], &[1, 2], &[1], None).unwrap_err();
    assert!(matches!(e, EvalError::NoEvaluableProbes { .. }), "{e}");

    let e = knn_gallery(&[0.1, 0.2], 1, 2, &[1], &[1, 2], &[1], Some(f32::NAN)).unwrap_err();
    assert!(
        matches!(
            e,
            EvalError::InvalidOption {
                name: "open_set_threshold",
                ..
            }
        ),
        "{e}"
    );
}
