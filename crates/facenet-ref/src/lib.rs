//! Plain CPU reference implementations of every facenet-wgpu kernel.
//!
//! This crate is the oracle for the GPU tests and for the trainer's cross-check: each function
//! is written for obvious correctness, accumulates in f64 and has no dependencies. Speed is
//! not a goal here.
//!
//! Layer references are generic over [`Real`], so the same code that checks the GPU in f32
//! runs in f64 for the finite-difference checks of [`gradcheck`].

pub mod conv;
pub mod gemm;
pub mod gradcheck;
pub mod l2norm;
pub mod linear;
pub mod mining;
pub mod optim;
pub mod pool;
pub mod reduce;

/// A float type the layer references run in: f32 as the GPU does, f64 for gradient checks.
pub trait Real: Copy + PartialOrd + std::fmt::Debug {
    fn to_f64(self) -> f64;
    /// Rounds to nearest where `Self` is narrower than f64.
    fn from_f64(value: f64) -> Self;
}

impl Real for f32 {
    fn to_f64(self) -> f64 {
        f64::from(self)
    }

    fn from_f64(value: f64) -> Self {
        value as f32
    }
}

impl Real for f64 {
    fn to_f64(self) -> f64 {
        self
    }

    fn from_f64(value: f64) -> Self {
        value
    }
}
