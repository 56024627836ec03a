//! Squared Euclidean distances between embedding rows (SPEC section 2).
//!
//! - [`pairwise_sq_distances`] (`n x n`) and [`cross_sq_distances`] (queries `nq x d` against a
//!   gallery `ng x d`, giving `nq x ng`) use the GEMM form `|x|^2 + |y|^2 - 2 x.y`: the squared
//!   norms are computed once, and the dot products run on the tiled GEMM body
//!   (`gemm_tiled.wgsl`) through its own operand file (`distance_operands.wgsl`), whose store
//!   adds the norms, clamps at 0 and sets the diagonal of the pairwise form to exactly 0. The
//!   GEMM is the N^2 d part of every mining step, so it gets the register-blocked kernel rather
//!   than a dedicated loop. The triplet miner calls the same operands block by block
//!   ([`distance_block`]), so the full matrix never has to fit one binding.
//! - [`nearest`] gives each query its nearest gallery row and distance without materialising
//!   `nq x ng` (k-means assignment, 1-NN): one workgroup per query, `|q - g|^2` summed directly.

use crate::gemm::TileShape;
use crate::{Gpu, GpuBuffer, KernelSpec};

/// Mirrors `NormParams` in `shaders/sq_norms.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct NormParams {
    n: u32,
    d: u32,
    _pad: [u32; 2],
}

/// Mirrors `DistanceParams` in `shaders/distance_operands.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct DistanceParams {
    m: u32,
    n: u32,
    k: u32,
    row0: u32,
    self_pairs: u32,
    _pad: [u32; 3],
}

/// Mirrors `NearestParams` in `shaders/nearest.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct NearestParams {
    nq: u32,
    ng: u32,
    d: u32,
    groups_x: u32,
}

fn check_rows(what: &str, x: &GpuBuffer<f32>, rows: usize, d: usize) {
    assert_eq!(
        x.len(),
        rows * d,
        "{what} has {} values, {rows} x {d} expected",
        x.len()
    );
}

/// Records the squared norm of each of the `n` rows of `x` into `out[..n]`.
pub(crate) fn sq_norms(
    gpu: &Gpu,
    encoder: &mut wgpu::CommandEncoder,
    x: &GpuBuffer<f32>,
    n: usize,
    d: usize,
    out: &GpuBuffer<f32>,
) {
    assert!(
        out.len() >= n,
        "norms buffer holds {} values, {n} needed",
        out.len()
    );
    let params = NormParams {
        n: n as u32,
        d: d as u32,
        _pad: [0; 2],
    };
    let uniform = gpu.uniform(&params);
    let pipeline = gpu.pipeline(&KernelSpec::new("sq_norms", "sq_norms"));
    let workgroups = [n.div_ceil(64) as u32, 1, 1];
    gpu.dispatch(
        encoder,
        &pipeline,
        &[&uniform, &x.buffer, &out.buffer],
        workgroups,
    );
}

/// The rows of one block: query rows `row0 .. row0 + rows` against all `ng` gallery rows,
/// written row-major (`rows x ng`) to the start of `out`. `self_pairs`: queries and gallery
/// are the same rows, so `d(i, i)` is set to exactly 0.
#[allow(clippy::too_many_arguments)]
pub(crate) fn distance_block(
    gpu: &Gpu,
    encoder: &mut wgpu::CommandEncoder,
    (q, q_norms): (&GpuBuffer<f32>, &GpuBuffer<f32>),
    (row0, rows): (usize, usize),
    (g, g_norms): (&GpuBuffer<f32>, &GpuBuffer<f32>),
    ng: usize,
    d: usize,
    self_pairs: bool,
    out: &GpuBuffer<f32>,
) {
    assert!(
        out.len() >= rows * ng,
        "distance block of {rows} x {ng} in {}",
        out.len()
    );
    let params = DistanceParams {
        m: rows as u32,
        n: ng as u32,
        k: d as u32,
        row0: row0 as u32,
        self_pairs: self_pairs as u32,
        _pad: [0; 3],
    };
    let uniform = gpu.uniform(&params);
    let shape = TileShape::for_output(rows, ng);
    let spec = shape.specialise(
        KernelSpec::new("distance_tiled", "gemm_tiled"),
        [rows, ng, d],
    );
    let pipeline = gpu.pipeline(&spec);
    let buffers = [
        &uniform,
        &q.buffer,
        &g.buffer,
        &q_norms.buffer,
        &g_norms.buffer,
        &out.buffer,
    ];
    let [x, y] = shape.tiles(rows, ng);
    let workgroups = [x as u32, y as u32, 1];
    gpu.dispatch(encoder, &pipeline, &buffers, workgroups);
}

/// Records the `n x n` squared distances between the rows of `x` (`n x d`) into `out`: for `n`
/// small enough that the matrix fits one storage binding (the miner works in blocks instead).
pub fn pairwise_sq_distances(
    gpu: &Gpu,
    encoder: &mut wgpu::CommandEncoder,
    x: &GpuBuffer<f32>,
    n: usize,
    d: usize,
    out: &GpuBuffer<f32>,
) {
    check_rows("x", x, n, d);
    assert_eq!(
        out.len(),
        n * n,
        "out has {} values, {n} x {n} expected",
        out.len()
    );
    let norms = GpuBuffer::<f32>::zeros(gpu, &[n]);
    sq_norms(gpu, encoder, x, n, d, &norms);
    distance_block(
        gpu,
        encoder,
        (x, &norms),
        (0, n),
        (x, &norms),
        n,
        d,
        true,
        out,
    );
}

/// Records the `nq x ng` squared distances from each query row to each gallery row into `out`.
#[allow(clippy::too_many_arguments)]
pub fn cross_sq_distances(
    gpu: &Gpu,
    encoder: &mut wgpu::CommandEncoder,
    q: &GpuBuffer<f32>,
    nq: usize,
    g: &GpuBuffer<f32>,
    ng: usize,
    d: usize,
    out: &GpuBuffer<f32>,
) {
    check_rows("queries", q, nq, d);
    check_rows("gallery", g, ng, d);
    assert_eq!(
        out.len(),
        nq * ng,
        "out has {} values, {nq} x {ng} expected",
        out.len()
    );
    let q_norms = GpuBuffer::<f32>::zeros(gpu, &[nq]);
    let g_norms = GpuBuffer::<f32>::zeros(gpu, &[ng]);
    sq_norms(gpu, encoder, q, nq, d, &q_norms);
    sq_norms(gpu, encoder, g, ng, d, &g_norms);
    distance_block(
        gpu,
        encoder,
        (q, &q_norms),
        (0, nq),
        (g, &g_norms),
        ng,
        d,
        false,
        out,
    );
}

/// Records, for each query row, the index of the nearest gallery row (ties to the lowest index)
/// and its squared distance, without materialising `nq x ng`.
#[allow(clippy::too_many_arguments)]
pub fn nearest(
    gpu: &Gpu,
    encoder: &mut wgpu::CommandEncoder,
    q: &GpuBuffer<f32>,
    nq: usize,
    g: &GpuBuffer<f32>,
    ng: usize,
    d: usize,
    index_out: &GpuBuffer<u32>,
    dist_out: &GpuBuffer<f32>,
) {
    check_rows("queries", q, nq, d);
    check_rows("gallery", g, ng, d);
    assert!(ng > 0, "nearest needs a non-empty gallery");
    assert_eq!(
        index_out.len(),
        nq,
        "index_out has {} values, {nq} expected",
        index_out.len()
    );
    assert_eq!(
        dist_out.len(),
        nq,
        "dist_out has {} values, {nq} expected",
        dist_out.len()
    );
    let max = gpu.limits.max_compute_workgroups_per_dimension as usize;
    let groups_x = nq.clamp(1, max);
    let params = NearestParams {
        nq: nq as u32,
        ng: ng as u32,
        d: d as u32,
        groups_x: groups_x as u32,
    };
    let uniform = gpu.uniform(&params);
    let pipeline = gpu.pipeline(&KernelSpec::new("nearest", "nearest"));
    let buffers = [
        &uniform,
        &q.buffer,
        &g.buffer,
        &index_out.buffer,
        &dist_out.buffer,
    ];
    let workgroups = [groups_x as u32, nq.div_ceil(groups_x) as u32, 1];
    gpu.dispatch(encoder, &pipeline, &buffers, workgroups);
}
