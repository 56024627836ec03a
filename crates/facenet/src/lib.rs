//! The facenet-wgpu embedding net, its training loop and its evaluation.
//!
//! - [`net`]: the nets of SPEC section 1 and their parameters;
//! - [`cpu_net`] / [`gpu_net`]: the whole net on the reference ops and on the GPU kernels;
//! - [`engine`]: a training step on either, behind one trait;
//! - [`batch`]: PK sampling with augmentation; [`checkpoint`]: safetensors checkpoints;
//! - [`train`]: the run loop; [`evaluate`]: held-out measures; [`check`]: `--check`.

pub mod batch;
pub mod check;
pub mod checkpoint;
pub mod cpu_net;
pub mod engine;
pub mod error;
pub mod evaluate;
pub mod gpu_net;
pub mod net;
pub mod train;

pub use error::TrainError;
