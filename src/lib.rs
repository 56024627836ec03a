//! Root package: owns the top-level tests and benches.
