//! The evaluation block of a run's `metrics.json` (SPEC section 5).
//!
//! SPEC names the fields a reader can rely on: `verification.{accuracy, accuracy_std, auc, eer,
//! val_at_far_1e-3}`, `recognition.{top1, top5}` and `clustering.{nmi, pairwise_f1, bcubed_f1,
//! purity}`. The structs carry more (fold details, the ROC points, counts); those are extra fields
//! and readers may ignore them.

use serde::{Deserialize, Serialize};

use crate::clustering::ClusteringScores;
use crate::recognition::RecognitionReport;
use crate::verification::VerificationReport;

/// The k-means result on the held-out identities, with its scores at the top level of the JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusteringReport {
    pub k: usize,
    pub inertia: f64,
    #[serde(flatten)]
    pub scores: ClusteringScores,
}

/// Verification, recognition and clustering on the held-out identities.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    pub verification: VerificationReport,
    pub recognition: RecognitionReport,
    pub clustering: ClusteringReport,
}
