//! GEMM, both kernels, against `facenet_ref::gemm` on awkward shapes.

use facenet_gpu::GpuBuffer;
use facenet_gpu::gemm::{GemmDesc, GemmKernel, TileShape, gemm};

use crate::common::{assert_close, gpu, random_vec};

/// Runs `desc` on the GPU with both kernels and compares each with the reference.
fn check(desc: GemmDesc, with_bias: bool, seed: u64) {
    let Some(gpu) = gpu() else { return };
    let a = random_vec(seed, desc.a_len());
    let b = random_vec(seed + 1, desc.b_len());
    let c0 = random_vec(seed + 2, desc.c_len());
    let bias = with_bias.then(|| random_vec(seed + 3, desc.n));

    let mut expected = c0.clone();
    facenet_ref::gemm::gemm(&desc, &a, &b, bias.as_deref(), &mut expected);

    let a_gpu = GpuBuffer::from_slice(gpu, &a, &[desc.a_len()]);
    let b_gpu = GpuBuffer::from_slice(gpu, &b, &[desc.b_len()]);
    let bias_gpu = bias
        .as_ref()
        .map(|v| GpuBuffer::from_slice(gpu, v, &[desc.n]));
    for kernel in GemmKernel::ALL {
        let c_gpu = GpuBuffer::from_slice(gpu, &c0, &[desc.c_len()]);
        let mut encoder = gpu.encoder();
        gemm(
            gpu,
            &mut encoder,
            kernel,
            &desc,
            &a_gpu,
            &b_gpu,
            bias_gpu.as_ref(),
            &c_gpu,
        );
        gpu.submit(encoder);
        let got = c_gpu.read(gpu).expect("readback");
        // Inputs lie in [-1, 1]: the rounding error of a length-K f32 dot product stays below
        // K * eps in the worst case, and GPUs may sum in any order, so the bound grows with K.
        let tol = f32::EPSILON * (desc.k as f32 + 8.0);
        let what = format!("{} {desc:?} bias {with_bias}", kernel.name());
        assert_close(&what, &got, &expected, tol, tol);
    }
}

#[test]
fn tiny_and_prime_shapes() {
    for (i, &(m, n, k)) in [
        (1, 1, 1),
        (2, 3, 5),
        (7, 11, 13),
        (17, 19, 23),
        (31, 37, 41),
    ]
    .iter()
    .enumerate()
    {
        check(GemmDesc::new(m, n, k), false, 10 + i as u64);
    }
}

#[test]
fn around_the_tile_edges() {
    let shapes = [
        (63, 64, 65),
        (64, 64, 64),
        (65, 63, 64),
        (64, 65, 15),
        (127, 129, 127),
    ];
    for (i, &(m, n, k)) in shapes.iter().enumerate() {
        check(GemmDesc::new(m, n, k), i % 2 == 0, 20 + i as u64);
    }
    check(GemmDesc::new(129, 127, 129), true, 30);
}

#[test]
fn tall_skinny_and_wide() {
    check(GemmDesc::new(1, 37, 4096), false, 40);
    check(GemmDesc::new(300, 1, 77), true, 41);
    check(GemmDesc::new(1, 1, 4096), false, 42);
}

#[test]
fn every_tile_shape() {
    // Narrow N (8, 16, 24, 32) with tall M, and their transposes, exactly on and around the
    // narrow tiles' edges, and one output large enough for 128 x 128 tiles; the shapes must
    // exercise every tile the launcher can pick.
    let shapes = [
        (64, 64, 48),
        (256, 32, 40),
        (300, 24, 33),
        (513, 16, 17),
        (129, 8, 64),
        (128, 16, 16),
        (32, 256, 40),
        (24, 300, 33),
        (16, 513, 17),
        (8, 129, 64),
        (8, 10, 300),
        (16, 32, 32),
        (1100, 1020, 19),
    ];
    let picked: Vec<TileShape> = shapes
        .iter()
        .map(|&(m, n, _)| TileShape::for_output(m, n))
        .collect();
    for shape in TileShape::ALL {
        assert!(picked.contains(&shape), "no test shape picks {shape:?}");
    }
    for (i, &(m, n, k)) in shapes.iter().enumerate() {
        let desc = GemmDesc::new(m, n, k).transposed(i % 2 == 1, i % 3 == 1);
        check(desc, i % 2 == 0, 100 + i as u64);
    }
    check(GemmDesc::new(200, 8, 16).batched(2), true, 120);
}

#[test]
fn every_transpose_combination() {
    for (i, (ta, tb)) in [(false, false), (true, false), (false, true), (true, true)]
        .into_iter()
        .enumerate()
    {
        check(
            GemmDesc::new(63, 65, 67).transposed(ta, tb),
            false,
            50 + i as u64,
        );
        check(
            GemmDesc::new(5, 3, 1).transposed(ta, tb),
            true,
            60 + i as u64,
        );
        check(
            GemmDesc::new(128, 64, 32).transposed(ta, tb),
            false,
            70 + i as u64,
        );
    }
}

#[test]
fn alpha_beta_and_bias() {
    let desc = GemmDesc::new(70, 45, 33).scaled(0.75, -0.5);
    check(desc, true, 80);
    check(desc.transposed(true, false), false, 81);
    check(GemmDesc::new(64, 64, 64).scaled(-2.0, 1.0), true, 82);
}

#[test]
fn batched_with_strides() {
    check(GemmDesc::new(33, 17, 40).batched(3), true, 90);
    check(
        GemmDesc::new(64, 64, 16)
            .batched(2)
            .transposed(true, true)
            .scaled(1.5, 0.25),
        false,
        91,
    );
}

#[test]
fn empty_k_gives_bias_and_beta_only() {
    check(GemmDesc::new(5, 4, 0).scaled(1.0, 0.5), true, 95);
}
