//! Evaluation measures for face embeddings, as SPEC section 4 defines them.
//!
//! The crate is pure CPU and knows nothing of the GPU: it takes distances, distance matrices or
//! embeddings as flat slices, so that a GPU crate can compute the N x N squared-L2 matrix (and
//! the k-means assignment step, through [`clustering::AssignStep`]) and hand the results in.
//!
//! - [`verification`]: pair verification with k-fold thresholds, ROC AUC, EER, VAL at FAR, and
//!   the ROC curve as an SVG.
//! - [`recognition`]: leave-one-out and gallery/probe k-NN, with an optional open-set threshold.
//! - [`clustering`]: seeded k-means++ with restarts, and NMI, pairwise, BCubed and purity.
//! - [`report`]: the serde structs whose JSON matches the `metrics.json` names of SPEC section 5.
//!
//! Distances everywhere are squared Euclidean, smaller meaning "more alike".

pub mod clustering;
mod error;
pub mod recognition;
pub mod report;
pub mod verification;

pub use error::EvalError;
