//! GPU runtime and WGSL kernel launchers for facenet-wgpu.
//!
//! - [`Gpu`]: a headless wgpu device with a pipeline cache, error capture and timing.
//! - [`GpuBuffer`]: a typed storage buffer that knows its shape.
//! - [`gemm`]: general matrix multiply, the engine the other kernels build on.
//! - [`pool`], [`linear`], [`l2norm`]: the non-convolution layers of the embedding net, each
//!   forward and backward; [`reduce`]: the deterministic sums they share.
//! - [`optim`]: SGD, Adam(W) and AdaGrad steps in place.
//! - [`conv`]: 2-D convolution forward and backward, implicit GEMMs with fused ReLU.
//! - [`distance`]: squared distances, pairwise, cross and nearest.
//! - [`mining`]: in-batch triplet selection, loss, gradient and statistics.
//!
//! Every kernel here has a plain CPU twin in the `facenet-ref` crate, and the top-level `tests/`
//! hold one against the other.

mod buffer;
mod context;
pub mod conv;
pub mod distance;
pub mod elementwise;
mod error;
pub mod gemm;
mod grid;
pub mod l2norm;
pub mod linear;
pub mod mining;
pub mod optim;
mod pipeline;
pub mod pool;
pub mod reduce;
pub mod shaders;
mod timing;

pub use buffer::GpuBuffer;
pub use context::{Gpu, GpuOptions};
pub use error::GpuError;
pub use pipeline::KernelSpec;
pub use timing::{GpuTimer, TimerKind};

/// Re-exported so that callers can name wgpu types without a direct dependency.
pub use wgpu;
