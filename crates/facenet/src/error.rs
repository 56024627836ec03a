//! Errors of training and evaluation runs, each saying what to do next.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Gpu(#[from] facenet_gpu::GpuError),
    #[error(transparent)]
    Data(#[from] facenet_data::DataError),
    #[error(transparent)]
    Eval(#[from] facenet_eval::EvalError),
    #[error(transparent)]
    Mining(#[from] facenet_ref::mining::MiningError),
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("{path}: {message}")]
    Checkpoint { path: PathBuf, message: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "step {step}: the {what} is not finite ({value}); stopping. The last good checkpoint \
         is kept; lower the learning rate or check the data"
    )]
    NonFinite { step: u64, what: String, value: f32 },
    #[error("cross-check failed at step {step}: {details}")]
    CheckFailed { step: u64, details: String },
}

impl TrainError {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        TrainError::Io {
            path: path.into(),
            source,
        }
    }
}
