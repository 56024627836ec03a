//! The one error type of the crate: every way the data handed in can make a measure undefined.

use thiserror::Error;

/// Why an evaluation could not be computed. Each message names the value at fault.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum EvalError {
    #[error("{left} has {left_len} entries but {right} has {right_len}; they must match")]
    LengthMismatch {
        left: &'static str,
        left_len: usize,
        right: &'static str,
        right_len: usize,
    },

    #[error("{what} is empty; there is nothing to evaluate")]
    Empty { what: &'static str },

    #[error("none of the {n_pairs} pairs is {missing}; verification needs both kinds")]
    OneSidedPairs {
        n_pairs: usize,
        missing: &'static str,
    },

    #[error("fold {fold} holds no {missing} pair; every fold needs matched and mismatched pairs")]
    FoldMissingClass { fold: usize, missing: &'static str },

    #[error("{what} at index {index} is {value}; it must be finite")]
    NonFinite {
        what: &'static str,
        index: usize,
        value: f32,
    },

    #[error("{what} entry ({row}, {col}) is {value}; distances must be finite")]
    NonFiniteEntry {
        what: &'static str,
        row: usize,
        col: usize,
        value: f32,
    },

    #[error("pair {index} is in fold {fold}, but there are only {n_folds} folds (0-based)")]
    FoldOutOfRange {
        index: usize,
        fold: usize,
        n_folds: usize,
    },

    #[error("n_folds is {n_folds}; cross-validation needs at least 2 folds")]
    TooFewFolds { n_folds: usize },

    #[error("{name} = {value} is invalid: {reason}")]
    InvalidOption {
        name: &'static str,
        value: String,
        reason: &'static str,
    },

    #[error("k = {k} clusters asked for, but there are only {n} points")]
    TooManyClusters { k: usize, n: usize },

    #[error("the assignment step put row {row} in cluster {label}, but there are only {k}")]
    AssignOutOfRange { row: usize, label: u32, k: usize },

    #[error(
        "all {n_probes} probes were excluded ({reason}); \
         hold out identities with at least two images each"
    )]
    NoEvaluableProbes {
        n_probes: usize,
        reason: &'static str,
    },
}
