//! The JSON of an evaluation carries every `metrics.json` name of SPEC section 5.

use facenet_eval::clustering::{CpuAssign, KMeansOptions, clustering_scores, kmeans};
use facenet_eval::recognition::knn_leave_one_out;
use facenet_eval::report::{ClusteringReport, EvalReport};
use facenet_eval::verification::evaluate_verification;

#[test]
fn json_has_the_spec_names() {
    // Four 1-d embeddings, two identities: every measure has something to chew on.
    let x = [0.0f32, 0.1, 1.0, 1.2];
    let labels = [0u32, 0, 1, 1];
    let dist: Vec<f32> = x
        .iter()
        .flat_map(|a| x.iter().map(move |b| (a - b) * (a - b)))
        .collect();

    let d = [0.1, 0.2, 0.9, 1.0];
    let verification = evaluate_verification(&d, &[true, true, false, false], &[0, 1, 0, 1], 2);
    let recognition = knn_leave_one_out(&dist, 4, &labels, &[1, 5]).unwrap();
    let km = kmeans(&x, 4, 1, 2, &KMeansOptions::default(), &mut CpuAssign).unwrap();
    let clustering = ClusteringReport {
        k: 2,
        inertia: km.inertia,
        scores: clustering_scores(&labels, &km.labels).unwrap(),
    };
    let report = EvalReport {
        verification: verification.unwrap(),
        recognition,
        clustering,
    };

    let json = serde_json::to_value(&report).unwrap();
    let names = [
        ("verification", "accuracy"),
        ("verification", "accuracy_std"),
        ("verification", "auc"),
        ("verification", "eer"),
        ("verification", "val_at_far_1e-3"),
        ("recognition", "top1"),
        ("recognition", "top5"),
        ("clustering", "nmi"),
        ("clustering", "pairwise_f1"),
        ("clustering", "bcubed_f1"),
        ("clustering", "purity"),
    ];
    for (block, name) in names {
        let v = &json[block][name];
        assert!(
            v.as_f64().is_some_and(f64::is_finite),
            "{block}.{name} is {v}"
        );
    }
    assert_eq!(json["clustering"]["nmi"], 1.0);

    let back: EvalReport = serde_json::from_value(json).unwrap();
    assert_eq!(back, report);
}
