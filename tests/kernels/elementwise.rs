//! Elementwise updates against plain loops.

use facenet_gpu::{GpuBuffer, elementwise};

use crate::common::{assert_close, gpu, random_vec};

#[test]
fn add_assign_matches_a_loop_at_awkward_lengths() {
    let Some(gpu) = gpu() else { return };
    for (i, len) in [1usize, 255, 257, 70_001].into_iter().enumerate() {
        let (a, b) = (
            random_vec(200 + i as u64, len),
            random_vec(300 + i as u64, len),
        );
        let target = GpuBuffer::from_slice(gpu, &a, &[len]);
        let source = GpuBuffer::from_slice(gpu, &b, &[len]);
        let mut encoder = gpu.encoder();
        elementwise::add_assign(gpu, &mut encoder, &target, &source);
        gpu.submit(encoder);
        let expected: Vec<f32> = a.iter().zip(&b).map(|(x, y)| x + y).collect();
        // One f32 addition in the same order on both sides: exact.
        assert_close(
            &format!("add_assign len {len}"),
            &target.read(gpu).unwrap(),
            &expected,
            0.0,
            0.0,
        );
    }
}
