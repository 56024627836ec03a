//! General matrix multiply: `C = alpha * op(A) * op(B) + beta * C + bias`, batched.
//!
//! Two kernels with the same semantics as [`facenet_ref::gemm`]:
//! - [`GemmKernel::Naive`]: one output per invocation, the benchmark baseline;
//! - [`GemmKernel::Tiled`]: workgroup tiles of 64 x 64 (128 x 128 for large outputs, a
//!   narrower [`TileShape`] when M or N is small), 8 x 8 register blocks per invocation, panels
//!   of A and B shared through workgroup memory.
//!
//! Operands are packed row-major per batch: A is M x K (K x M when transposed), B is K x N
//! (N x K when transposed), C is M x N, the bias has N values.

pub use facenet_ref::gemm::GemmDesc;

use crate::{Gpu, GpuBuffer, KernelSpec};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GemmKernel {
    Naive,
    Tiled,
}

impl GemmKernel {
    pub const ALL: [GemmKernel; 2] = [GemmKernel::Naive, GemmKernel::Tiled];

    pub fn name(self) -> &'static str {
        match self {
            GemmKernel::Naive => "naive",
            GemmKernel::Tiled => "tiled",
        }
    }
}

/// Mirrors `GemmParams` in `shaders/gemm_operands.wgsl`, field for field.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct GemmParams {
    m: u32,
    n: u32,
    k: u32,
    batch: u32,
    lda: u32,
    ldb: u32,
    ldc: u32,
    has_bias: u32,
    batch_stride_a: u32,
    batch_stride_b: u32,
    batch_stride_c: u32,
    _pad0: u32,
    alpha: f32,
    beta: f32,
    _pad1: [f32; 2],
}

/// The K step of `shaders/gemm_tiled.wgsl`.
pub(crate) const TILE_K: usize = 16;

/// What staging one panel value (a global load and a workgroup store) costs in multiply-adds,
/// in [`TileShape::for_output`]: a moderate weight, so it mostly breaks ties of padding.
const LOAD_COST: usize = 8;

/// [`TileShape::Large`] only for outputs that still give this many workgroups, so that a GPU
/// with many cores is not left with a handful of large workgroups to run.
const LARGE_MIN_WORKGROUPS: usize = 64;

/// The workgroup tile of `shaders/gemm_tiled.wgsl` (its `TILE_M` x `TILE_N` constants). Every
/// shape keeps 8 x 8 register blocks; the narrow ones are taller (or wider) so that a GEMM with
/// few columns (or rows), like a narrow convolution layer, does not compute mostly padding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TileShape {
    /// 64 x 64, 64 invocations.
    Square,
    /// 128 x 128, 256 invocations: half the panel loads per multiply-add of [`Self::Square`],
    /// for large outputs (1.07x to 1.25x faster at 1024^3 on lavapipe, bench and isolated runs).
    Large,
    /// 128 x 32, 64 invocations.
    Narrow32,
    /// 128 x 16, 32 invocations.
    Narrow16,
    /// 128 x 8, 16 invocations: for N = 8, where a wider tile's extra invocations would only
    /// compute padding.
    Narrow8,
    /// 32 x 128, 64 invocations.
    Short32,
    /// 16 x 128, 32 invocations.
    Short16,
    /// 16 x 32, 8 invocations: only for an output that fits in one such tile (a weight
    /// gradient of few channels, split over K into many workgroups), where the other shapes
    /// would compute 4 to 8 times more padding than output.
    Small,
}

impl TileShape {
    /// In order of preference when two shapes pad a GEMM equally.
    pub const ALL: [TileShape; 8] = [
        TileShape::Square,
        TileShape::Large,
        TileShape::Narrow32,
        TileShape::Short32,
        TileShape::Narrow16,
        TileShape::Short16,
        TileShape::Narrow8,
        TileShape::Small,
    ];

    /// Rows and columns of C one workgroup computes.
    pub fn tile(self) -> [usize; 2] {
        match self {
            TileShape::Square => [64, 64],
            TileShape::Large => [128, 128],
            TileShape::Narrow32 => [128, 32],
            TileShape::Narrow16 => [128, 16],
            TileShape::Narrow8 => [128, 8],
            TileShape::Short32 => [32, 128],
            TileShape::Short16 => [16, 128],
            TileShape::Small => [16, 32],
        }
    }

    /// [`TileShape::Small`] for an output that fits in one, else the cheapest shape for an
    /// M x N output, the earliest in [`Self::ALL`] on a tie. A tile costs its multiply-adds
    /// (padding included) plus [`LOAD_COST`] per panel value it stages, per step of K: so
    /// padding decides, and among shapes that pad alike the one that reloads less (a wide tile
    /// rather than several narrow ones across N). Small workgroups are kept to outputs that
    /// fit in one tile so that large GEMMs always get 16 invocations or more, and large ones
    /// to outputs that give [`LARGE_MIN_WORKGROUPS`] of them.
    pub fn for_output(m: usize, n: usize) -> Self {
        let [rows, cols] = TileShape::Small.tile();
        if m <= rows && n <= cols {
            return TileShape::Small;
        }
        let cost = |shape: TileShape| {
            let [rows, cols] = shape.tile();
            let [x, y] = shape.tiles(m, n);
            x * y * (rows * cols + LOAD_COST * (rows + cols))
        };
        let large_fits = {
            let [x, y] = TileShape::Large.tiles(m, n);
            x * y >= LARGE_MIN_WORKGROUPS
        };
        Self::ALL
            .into_iter()
            .filter(|&shape| shape != TileShape::Small)
            .filter(|&shape| shape != TileShape::Large || large_fits)
            .min_by_key(|&shape| cost(shape))
            .expect("ALL is not empty")
    }

    /// Invocations per workgroup: one per 8 x 8 register block.
    pub fn invocations(self) -> usize {
        let [rows, cols] = self.tile();
        rows * cols / 64
    }

    /// Workgroups covering an M x N output: `[column tiles, row tiles]`.
    pub(crate) fn tiles(self, m: usize, n: usize) -> [usize; 2] {
        let [rows, cols] = self.tile();
        [n.div_ceil(cols), m.div_ceil(rows)]
    }

    /// `spec` (a module ending in `gemm_tiled.wgsl`) specialised for this tile and a GEMM of
    /// M x N x K: the bounds checks are compiled out when no tile reaches past an edge.
    pub(crate) fn specialise(self, spec: KernelSpec, [m, n, k]: [usize; 3]) -> KernelSpec {
        let [rows, cols] = self.tile();
        let aligned = m % rows == 0 && n % cols == 0 && k % TILE_K == 0;
        spec.with("TILE_M", rows as u32)
            .with("TILE_N", cols as u32)
            .with("CHECK_BOUNDS", !aligned as u32)
    }
}

fn to_u32(value: usize, what: &str) -> u32 {
    u32::try_from(value).unwrap_or_else(|_| panic!("{what} = {value} does not fit in u32"))
}

/// Records `C = alpha * op(A) * op(B) + beta * C + bias` into `encoder`.
#[allow(clippy::too_many_arguments)] // The BLAS argument list: shape, three operands, bias.
pub fn gemm(
    gpu: &Gpu,
    encoder: &mut wgpu::CommandEncoder,
    kernel: GemmKernel,
    desc: &GemmDesc,
    a: &GpuBuffer<f32>,
    b: &GpuBuffer<f32>,
    bias: Option<&GpuBuffer<f32>>,
    c: &GpuBuffer<f32>,
) {
    assert_eq!(
        a.len(),
        desc.a_len(),
        "A has {} values, {desc:?} needs {}",
        a.len(),
        desc.a_len()
    );
    assert_eq!(
        b.len(),
        desc.b_len(),
        "B has {} values, {desc:?} needs {}",
        b.len(),
        desc.b_len()
    );
    assert_eq!(
        c.len(),
        desc.c_len(),
        "C has {} values, {desc:?} needs {}",
        c.len(),
        desc.c_len()
    );
    if let Some(bias) = bias {
        assert_eq!(
            bias.len(),
            desc.n,
            "bias has {} values, N = {}",
            bias.len(),
            desc.n
        );
    }

    let params = GemmParams {
        m: to_u32(desc.m, "M"),
        n: to_u32(desc.n, "N"),
        k: to_u32(desc.k, "K"),
        batch: to_u32(desc.batch, "batch"),
        lda: to_u32(if desc.trans_a { desc.m } else { desc.k }, "lda"),
        ldb: to_u32(if desc.trans_b { desc.k } else { desc.n }, "ldb"),
        ldc: to_u32(desc.n, "ldc"),
        has_bias: bias.is_some() as u32,
        batch_stride_a: to_u32(desc.m * desc.k, "M * K"),
        batch_stride_b: to_u32(desc.k * desc.n, "K * N"),
        batch_stride_c: to_u32(desc.m * desc.n, "M * N"),
        _pad0: 0,
        alpha: desc.alpha,
        beta: desc.beta,
        _pad1: [0.0; 2],
    };
    let uniform = gpu.uniform(&params);
    let bias_buffer = bias.map_or(gpu.placeholder(), |b| &b.buffer);
    let buffers = [&uniform, &a.buffer, &b.buffer, bias_buffer, &c.buffer];

    // Each GEMM module is named after its entry point.
    let name = match kernel {
        GemmKernel::Naive => "gemm_naive",
        GemmKernel::Tiled => "gemm_tiled",
    };
    let spec = KernelSpec::new(name, name)
        .with("TRANS_A", desc.trans_a as u32)
        .with("TRANS_B", desc.trans_b as u32);
    let (spec, workgroups) = match kernel {
        GemmKernel::Naive => (spec, [desc.n.div_ceil(16), desc.m.div_ceil(16), desc.batch]),
        GemmKernel::Tiled => {
            let shape = TileShape::for_output(desc.m, desc.n);
            let [x, y] = shape.tiles(desc.m, desc.n);
            (
                shape.specialise(spec, [desc.m, desc.n, desc.k]),
                [x, y, desc.batch],
            )
        }
    };
    let pipeline = gpu.pipeline(&spec);
    gpu.dispatch(
        encoder,
        &pipeline,
        &buffers,
        workgroups.map(|w| to_u32(w, "workgroups")),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narrow_outputs_get_narrow_tiles() {
        // Tiny-net conv GEMMs: forward c1 and c3, a phase of c2's data gradient, weight
        // gradients of c1 and c2, and a square GEMM.
        assert_eq!(TileShape::for_output(4096, 8), TileShape::Narrow8);
        assert_eq!(TileShape::for_output(1024, 16), TileShape::Narrow16);
        assert_eq!(TileShape::for_output(256, 32), TileShape::Narrow32);
        assert_eq!(TileShape::for_output(8, 10), TileShape::Small);
        assert_eq!(TileShape::for_output(16, 73), TileShape::Short16);
        assert_eq!(TileShape::for_output(512, 512), TileShape::Square);
        assert_eq!(TileShape::for_output(1024, 1024), TileShape::Large);
        // 8192 x 128 (facenet-s c4 at batch 32) still gives 64 large workgroups; 2048 x 256
        // would give only 32.
        assert_eq!(TileShape::for_output(8192, 128), TileShape::Large);
        assert_eq!(TileShape::for_output(2048, 256), TileShape::Square);
        // Three 8-wide column tiles would reload A three times: one 32-wide tile instead.
        assert_eq!(TileShape::for_output(1024, 24), TileShape::Narrow32);
    }

    #[test]
    fn every_tile_fits_the_default_limits() {
        for shape in TileShape::ALL {
            let [rows, cols] = shape.tile();
            assert!(
                rows % 8 == 0 && cols % 8 == 0,
                "{shape:?}: 8 x 8 register blocks"
            );
            assert!(shape.invocations() <= 256, "{shape:?}: invocations");
            assert!(
                (rows + cols) * TILE_K * 4 <= 16 * 1024,
                "{shape:?}: workgroup memory"
            );
        }
    }
}
