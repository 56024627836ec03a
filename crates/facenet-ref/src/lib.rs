//! Plain CPU reference implementations of every facenet-wgpu kernel.
//!
//! This crate is the oracle for the GPU tests and for the trainer's cross-check: each function
//! is written for obvious correctness, accumulates in f64 and has no dependencies. Speed is
//! not a goal here.

pub mod gemm;
pub mod mining;
