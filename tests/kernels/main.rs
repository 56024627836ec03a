//! Kernel correctness: every GPU kernel against its CPU reference in `facenet-ref`.
//!
//! One test binary, so the GPU device is opened once and shared by all tests.

mod common;
mod conv;
mod distance;
mod elementwise;
mod gemm;
mod layers;
mod mining;
mod optim;
mod shaders;
