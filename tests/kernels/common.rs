//! What the kernel tests share: the device, seeded inputs and the tolerance check.

use std::sync::OnceLock;

use facenet_gpu::Gpu;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The shared device, or `None` (with a message) where no adapter exists outside CI.
pub fn gpu() -> Option<&'static Gpu> {
    static GPU: OnceLock<Option<Gpu>> = OnceLock::new();
    GPU.get_or_init(Gpu::for_tests).as_ref()
}

/// `len` values uniform in [-1, 1), the same for the same seed on every machine.
pub fn random_vec(seed: u64, len: usize) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..len).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

/// Fails unless `|gpu - reference| <= atol + rtol * |reference|` everywhere. NaN always fails.
/// The message names the first mismatching indices, both values and the bound.
#[track_caller]
pub fn assert_close(what: &str, gpu: &[f32], reference: &[f32], atol: f32, rtol: f32) {
    assert_eq!(gpu.len(), reference.len(), "{what}: length differs");
    let mut failures = Vec::new();
    let mut worst = 0.0f32;
    for (i, (&g, &r)) in gpu.iter().zip(reference).enumerate() {
        let bound = atol + rtol * r.abs();
        let error = (g - r).abs();
        if g.is_nan() || r.is_nan() || error > bound {
            failures.push(format!(
                "  [{i}] gpu {g:e} reference {r:e} |diff| {error:e} > {bound:e}"
            ));
        } else {
            worst = worst.max(error);
        }
    }
    assert!(
        failures.is_empty(),
        "{what}: {} of {} values out of tolerance (atol {atol:e}, rtol {rtol:e}); first:\n{}",
        failures.len(),
        gpu.len(),
        failures
            .iter()
            .take(8)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
