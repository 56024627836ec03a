//! Kernel correctness: every GPU kernel against its CPU reference in `facenet-ref`.
//!
//! One test binary, so the GPU device is opened once and shared by all tests.

mod common;
mod distance;
mod gemm;
mod mining;
mod shaders;
