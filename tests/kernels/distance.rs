//! Squared distances (pairwise, cross, nearest) against `facenet_ref::mining`.

use facenet_gpu::GpuBuffer;
use facenet_gpu::distance::{cross_sq_distances, nearest, pairwise_sq_distances};

use crate::common::{assert_close, gpu, random_vec};

/// The GEMM form cancels: with values in [-1, 1] the norms reach d, and a length-d dot product
/// errs by up to d * eps times that, so the bound grows as d^2.
fn tolerance(d: usize) -> f32 {
    f32::EPSILON * 4.0 * (d * (d + 8)) as f32
}

#[test]
fn pairwise_and_cross_match_reference() {
    let Some(gpu) = gpu() else { return };
    for (seed, n, d) in [(1, 1, 4), (2, 67, 20), (3, 128, 16), (4, 130, 33)] {
        let x = random_vec(seed, n * d);
        let x_gpu = GpuBuffer::from_slice(gpu, &x, &[n * d]);
        let out = GpuBuffer::<f32>::zeros(gpu, &[n * n]);
        let mut encoder = gpu.encoder();
        pairwise_sq_distances(gpu, &mut encoder, &x_gpu, n, d, &out);
        gpu.submit(encoder);
        let got = out.read(gpu).unwrap();
        let expected = facenet_ref::mining::pairwise_sq_distances(&x, n, d);
        assert_close(
            &format!("pairwise {n} x {d}"),
            &got,
            &expected,
            tolerance(d),
            1e-5,
        );
        for i in 0..n {
            assert_eq!(got[i * n + i], 0.0, "d({i}, {i})");
        }
        assert!(got.iter().all(|&v| v >= 0.0), "negative distance");
    }
    for (seed, nq, ng, d) in [(5, 33, 70, 16), (6, 65, 7, 24)] {
        let q = random_vec(seed, nq * d);
        let g = random_vec(seed + 100, ng * d);
        let q_gpu = GpuBuffer::from_slice(gpu, &q, &[nq * d]);
        let g_gpu = GpuBuffer::from_slice(gpu, &g, &[ng * d]);
        let out = GpuBuffer::<f32>::zeros(gpu, &[nq * ng]);
        let mut encoder = gpu.encoder();
        cross_sq_distances(gpu, &mut encoder, &q_gpu, nq, &g_gpu, ng, d, &out);
        gpu.submit(encoder);
        let expected = facenet_ref::mining::cross_sq_distances(&q, nq, &g, ng, d);
        let what = format!("cross {nq} x {ng} x {d}");
        assert_close(
            &what,
            &out.read(gpu).unwrap(),
            &expected,
            tolerance(d),
            1e-5,
        );
    }
}

#[test]
fn nearest_matches_argmin_with_ties_low() {
    let Some(gpu) = gpu() else { return };
    let (nq, ng, d) = (70, 131, 12);
    let q = random_vec(7, nq * d);
    let mut g = random_vec(8, ng * d);
    // Gallery row 100 duplicates row 3 and query 0 is that row: the tie goes to 3.
    g.copy_within(3 * d..4 * d, 100 * d);
    let mut q = q;
    q[..d].copy_from_slice(&g[3 * d..4 * d]);
    let q_gpu = GpuBuffer::from_slice(gpu, &q, &[nq * d]);
    let g_gpu = GpuBuffer::from_slice(gpu, &g, &[ng * d]);
    let index = GpuBuffer::<u32>::zeros(gpu, &[nq]);
    let dist = GpuBuffer::<f32>::zeros(gpu, &[nq]);
    let mut encoder = gpu.encoder();
    nearest(gpu, &mut encoder, &q_gpu, nq, &g_gpu, ng, d, &index, &dist);
    gpu.submit(encoder);
    let (index, dist) = (index.read(gpu).unwrap(), dist.read(gpu).unwrap());

    let all = facenet_ref::mining::cross_sq_distances(&q, nq, &g, ng, d);
    let mut expected = Vec::new();
    for i in 0..nq {
        let row = &all[i * ng..(i + 1) * ng];
        let best = (0..ng).fold(0, |b, j| if row[j] < row[b] { j } else { b });
        assert_eq!(index[i] as usize, best, "nearest of query {i}");
        expected.push(row[best]);
    }
    assert_eq!(index[0], 3);
    // Direct |q - g|^2: a length-d sum of squares of values within [-2, 2].
    let tol = f32::EPSILON * 4.0 * (d + 8) as f32;
    assert_close("nearest distance", &dist, &expected, tol, tol);
}
