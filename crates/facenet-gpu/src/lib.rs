//! GPU runtime and WGSL kernel launchers for facenet-wgpu.
//!
//! - [`Gpu`]: a headless wgpu device with a pipeline cache, error capture and timing.
//! - [`GpuBuffer`]: a typed storage buffer that knows its shape.
//! - [`gemm`]: general matrix multiply, the engine the other kernels build on.
//! - [`distance`]: squared distances, pairwise, cross and nearest.
//! - [`mining`]: in-batch triplet selection, loss, gradient and statistics.
//!
//! Every kernel here has a plain CPU twin in the `facenet-ref` crate, and the top-level `tests/`
//! hold one against the other.

mod buffer;
mod context;
pub mod distance;
mod error;
pub mod gemm;
pub mod mining;
mod pipeline;
pub mod shaders;
mod timing;

pub use buffer::GpuBuffer;
pub use context::{Gpu, GpuOptions};
pub use error::GpuError;
pub use pipeline::KernelSpec;
pub use timing::{GpuTimer, TimerKind};

/// Re-exported so that callers can name wgpu types without a direct dependency.
pub use wgpu;
