//! The one error type of the crate: every variant names the file, line or value at fault.

use std::path::PathBuf;

/// What went wrong while reading, splitting or pairing a dataset.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("dataset root {0} does not exist or is not a folder")]
    RootMissing(PathBuf),

    #[error(
        "dataset root {0} holds no identity folders with images \
         (expected one sub-folder of images per person)"
    )]
    EmptyRoot(PathBuf),

    #[error(
        "identity folder {0} holds no images (pgm, png, jpeg or gif); \
         remove it or open with skip_empty"
    )]
    EmptyIdentity(PathBuf),

    #[error("dataset {root} has {found} identities, but {required} are required")]
    TooFewIdentities {
        root: PathBuf,
        found: usize,
        required: usize,
    },

    #[error("cannot decode image {path}: {reason}")]
    Decode { path: PathBuf, reason: String },

    #[error("invalid image spec: {0}")]
    InvalidSpec(String),

    #[error("unknown identity `{name}` (not a folder of {root})")]
    UnknownIdentity { name: String, root: PathBuf },

    #[error("identity `{0}` is listed twice")]
    DuplicateIdentity(String),

    #[error("invalid split: {0}")]
    InvalidSplit(String),

    #[error("{source_name}:{line}: {reason}: `{text}`")]
    PairsSyntax {
        source_name: String,
        line: usize,
        text: String,
        reason: String,
    },

    #[error("pair refers to image {index} of `{name}`, but {folder} holds only {available} images")]
    PairIndex {
        name: String,
        index: usize,
        available: usize,
        folder: PathBuf,
    },

    #[error("cannot draw pairs: {0}")]
    NotEnoughPairs(String),

    #[error("cannot write pairs file: {0}")]
    UnwritablePairs(String),
}

impl DataError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        DataError::Io {
            path: path.into(),
            source,
        }
    }
}
