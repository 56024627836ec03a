//! Convolution benchmarks: forward, data gradient and weight gradient at the facenet-s layer
//! shapes (SPEC section 1) at batch 32, each with the ReLU fusion the network uses, next to the
//! tiled GEMM at c3's implicit-GEMM size (M = 32768, N = 64, K = 576), so the ratio reads from
//! one run (`cargo bench --bench conv -- c3`).

mod support;

use criterion::{BenchmarkId, Throughput};
use facenet_gpu::conv::{Conv2dDesc, ConvWorkspace, conv2d_backward_data, conv2d_forward};
use facenet_gpu::gemm::{GemmDesc, GemmKernel, gemm};
use facenet_gpu::wgpu::CommandEncoder;
use facenet_gpu::{Gpu, GpuBuffer, GpuTimer};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use support::{Record, time_iters, validate};

/// (label, C_in, input side, C_out, stride): facenet-s c2..c6, 3x3 kernels with padding 1.
const FACENET_S: [(&str, usize, usize, usize, usize); 5] = [
    ("c2", 32, 64, 64, 2),
    ("c3", 64, 32, 64, 1),
    ("c4", 64, 32, 128, 2),
    ("c5", 128, 16, 128, 1),
    ("c6", 128, 16, 256, 2),
];

fn layer(batch: usize, c_in: usize, side: usize, c_out: usize, stride: usize) -> Conv2dDesc {
    Conv2dDesc {
        batch,
        c_in,
        h: side,
        w: side,
        c_out,
        kernel: 3,
        stride,
        padding: 1,
    }
}

/// The layers to time, and the label of the layer whose GEMM equivalent is timed alongside.
fn shapes() -> Vec<(String, Conv2dDesc)> {
    if support::quick() {
        return vec![("quick-c3-b2".to_string(), layer(2, 16, 16, 16, 1))];
    }
    FACENET_S
        .iter()
        .map(|&(label, c_in, side, c_out, stride)| {
            (
                format!("facenet-s-{label}-b32"),
                layer(32, c_in, side, c_out, stride),
            )
        })
        .collect()
}

#[derive(Clone, Copy)]
enum Pass {
    Forward,
    BackwardData,
    BackwardWeight,
}

impl Pass {
    const ALL: [Pass; 3] = [Pass::Forward, Pass::BackwardData, Pass::BackwardWeight];

    fn name(self) -> &'static str {
        match self {
            Pass::Forward => "forward",
            Pass::BackwardData => "backward_data",
            Pass::BackwardWeight => "backward_weight",
        }
    }
}

/// The bound for a sampled entry: f32 rounding of a length-k reduction of values in [-1, 1].
fn bound(k: usize) -> f64 {
    f64::from(f32::EPSILON) * (k as f64 + 8.0)
}

/// One layer's operands, on the host for validation and on the GPU for timing.
struct Layer {
    desc: Conv2dDesc,
    x: Vec<f32>,
    weight: Vec<f32>,
    bias: Vec<f32>,
    dy: Vec<f32>,
    /// Stands in for the forward output the backward passes gate by: about half positive.
    relu_output: Vec<f32>,
    /// x, weight, bias, dy, relu_output, then the outputs y, dx, dweight, dbias.
    buffers: Vec<GpuBuffer<f32>>,
    workspace: ConvWorkspace,
}

impl Layer {
    fn new(gpu: &Gpu, desc: Conv2dDesc) -> Self {
        let x = support::random_vec(1, desc.input_len());
        let weight = support::random_vec(2, desc.weight_len());
        let bias = support::random_vec(3, desc.c_out);
        let dy = support::random_vec(4, desc.output_len());
        let relu_output = support::random_vec(5, desc.output_len());
        let mut buffers: Vec<GpuBuffer<f32>> = [&x, &weight, &bias, &dy, &relu_output]
            .into_iter()
            .map(|v| GpuBuffer::from_slice(gpu, v, &[v.len()]))
            .collect();
        for len in [
            desc.output_len(),
            desc.input_len(),
            desc.weight_len(),
            desc.c_out,
        ] {
            buffers.push(GpuBuffer::zeros(gpu, &[len]));
        }
        Self {
            desc,
            x,
            weight,
            bias,
            dy,
            relu_output,
            buffers,
            workspace: ConvWorkspace::default(),
        }
    }

    fn record(&mut self, gpu: &Gpu, encoder: &mut CommandEncoder, pass: Pass) {
        let [x, weight, bias, dy, gate, y, dx, dweight, dbias] = &self.buffers[..] else {
            unreachable!("Layer::new makes nine buffers")
        };
        let desc = &self.desc;
        match pass {
            Pass::Forward => conv2d_forward(gpu, encoder, desc, x, weight, bias, y, true),
            Pass::BackwardData => {
                conv2d_backward_data(gpu, encoder, desc, dy, Some(gate), weight, dx)
            }
            Pass::BackwardWeight => self.workspace.backward_weight(
                gpu,
                encoder,
                desc,
                x,
                dy,
                Some(gate),
                dweight,
                dbias,
            ),
        }
    }

    /// x at channel c of image n under tap (r, s) of output (oh, ow); 0 in the padding.
    fn tap(&self, n: usize, c: usize, (oh, ow): (usize, usize), (r, s): (usize, usize)) -> f64 {
        let d = &self.desc;
        let ih = (oh * d.stride + r).checked_sub(d.padding);
        let iw = (ow * d.stride + s).checked_sub(d.padding);
        match (ih, iw) {
            (Some(ih), Some(iw)) if ih < d.h && iw < d.w => {
                f64::from(self.x[((n * d.c_in + c) * d.h + ih) * d.w + iw])
            }
            _ => 0.0,
        }
    }

    /// dy at (n, o, oh, ow), gated by the ReLU output as the fused backward loads it.
    fn gated_dy(&self, n: usize, o: usize, oh: usize, ow: usize) -> f64 {
        let d = &self.desc;
        let i = ((n * d.c_out + o) * d.out_h() + oh) * d.out_w() + ow;
        if self.relu_output[i] > 0.0 {
            f64::from(self.dy[i])
        } else {
            0.0
        }
    }

    fn w(&self, o: usize, c: usize, r: usize, s: usize) -> f64 {
        let k = self.desc.kernel;
        f64::from(self.weight[((o * self.desc.c_in + c) * k + r) * k + s])
    }

    /// Runs `pass` once and checks 64 sampled outputs against f64 sums, before any timing.
    fn validate(&mut self, gpu: &Gpu, pass: Pass) {
        let mut encoder = gpu.encoder();
        self.record(gpu, &mut encoder, pass);
        gpu.submit(encoder);
        let d = self.desc;
        let (k, taps) = (d.kernel, d.kernel * d.kernel);
        let (oh_n, ow_n) = (d.out_h(), d.out_w());
        let output = match pass {
            Pass::Forward => 5,
            Pass::BackwardData => 6,
            Pass::BackwardWeight => 7,
        };
        let got = self.buffers[output].read(gpu).expect("readback");
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for _ in 0..64 {
            let i = rng.random_range(0..got.len());
            let (expected, reduction) = match pass {
                Pass::Forward => {
                    let (n, o, p) = (
                        i / (d.c_out * oh_n * ow_n),
                        i / (oh_n * ow_n) % d.c_out,
                        i % (oh_n * ow_n),
                    );
                    let (oh, ow) = (p / ow_n, p % ow_n);
                    let mut sum = f64::from(self.bias[o]);
                    for c in 0..d.c_in {
                        for (r, s) in (0..k).flat_map(|r| (0..k).map(move |s| (r, s))) {
                            sum += self.tap(n, c, (oh, ow), (r, s)) * self.w(o, c, r, s);
                        }
                    }
                    (sum.max(0.0), d.c_in * taps + 1)
                }
                Pass::BackwardData => {
                    let (n, c, q) = (
                        i / (d.c_in * d.h * d.w),
                        i / (d.h * d.w) % d.c_in,
                        i % (d.h * d.w),
                    );
                    let (ih, iw) = (q / d.w, q % d.w);
                    let mut sum = 0.0;
                    for o in 0..d.c_out {
                        for (oh, ow) in (0..oh_n).flat_map(|a| (0..ow_n).map(move |b| (a, b))) {
                            let r = (ih + d.padding).checked_sub(oh * d.stride);
                            let s = (iw + d.padding).checked_sub(ow * d.stride);
                            if let (Some(r), Some(s)) = (r, s)
                                && r < k
                                && s < k
                            {
                                sum += self.gated_dy(n, o, oh, ow) * self.w(o, c, r, s);
                            }
                        }
                    }
                    (sum, d.c_out * taps)
                }
                Pass::BackwardWeight => {
                    let (o, c, tap) = (i / (d.c_in * taps), i / taps % d.c_in, i % taps);
                    let mut sum = 0.0;
                    for n in 0..d.batch {
                        for (oh, ow) in (0..oh_n).flat_map(|a| (0..ow_n).map(move |b| (a, b))) {
                            let x = self.tap(n, c, (oh, ow), (tap / k, tap % k));
                            sum += self.gated_dy(n, o, oh, ow) * x;
                        }
                    }
                    (sum, d.batch * oh_n * ow_n)
                }
            };
            let what = format!("conv {} {d:?} at {i}", pass.name());
            validate(&what, got[i], expected, bound(reduction));
        }
    }
}

/// Checks 64 sampled entries of the tiled GEMM against f64 dot products before any timing.
fn validate_gemm(gpu: &Gpu, desc: &GemmDesc, a: &[f32], b: &[f32], c_gpu: &GpuBuffer<f32>) {
    let (a_gpu, b_gpu) = (
        GpuBuffer::from_slice(gpu, a, &[a.len()]),
        GpuBuffer::from_slice(gpu, b, &[b.len()]),
    );
    let mut encoder = gpu.encoder();
    gemm(
        gpu,
        &mut encoder,
        GemmKernel::Tiled,
        desc,
        &a_gpu,
        &b_gpu,
        None,
        c_gpu,
    );
    gpu.submit(encoder);
    let c = c_gpu.read(gpu).expect("readback");
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for _ in 0..64 {
        let (row, col) = (rng.random_range(0..desc.m), rng.random_range(0..desc.n));
        let expected: f64 = (0..desc.k)
            .map(|kk| f64::from(a[row * desc.k + kk]) * f64::from(b[kk * desc.n + col]))
            .sum();
        validate(
            &format!("tiled gemm {desc:?} at ({row}, {col})"),
            c[row * desc.n + col],
            expected,
            bound(desc.k),
        );
    }
}

fn main() {
    let gpu = support::gpu();
    let timer = GpuTimer::new(&gpu);
    let mut criterion = support::criterion().configure_from_args();
    let mut group = criterion.benchmark_group("conv");
    let shapes = shapes();

    // The tiled GEMM with the implicit-GEMM size of c3's forward pass (or the quick layer's).
    let (c3_label, c3) = shapes
        .iter()
        .find(|(label, _)| label.contains("c3"))
        .expect("a c3 shape");
    let desc = GemmDesc::new(c3.batch * c3.out_h() * c3.out_w(), c3.c_out, c3.c_in * 9);
    let a = support::random_vec(11, desc.a_len());
    let b = support::random_vec(12, desc.b_len());
    let c_gpu = GpuBuffer::<f32>::zeros(&gpu, &[desc.c_len()]);
    validate_gemm(&gpu, &desc, &a, &b, &c_gpu);
    let (a_gpu, b_gpu) = (
        GpuBuffer::from_slice(&gpu, &a, &[a.len()]),
        GpuBuffer::from_slice(&gpu, &b, &[b.len()]),
    );
    let label = format!("{c3_label}-as-gemm-{}x{}x{}", desc.m, desc.n, desc.k);
    let record = Record {
        group: "conv",
        kernel: "gemm",
        variant: "gemm_tiled",
        shape: label.clone(),
        flops: Some(desc.flops()),
        bytes: None,
        extra: serde_json::Value::Null,
    };
    record.save(&gpu, &timer);
    group.throughput(Throughput::Elements(desc.flops() as u64));
    group.bench_function(BenchmarkId::new("gemm_tiled", &label), |bencher| {
        bencher.iter_custom(|iters| {
            time_iters(&gpu, &timer, iters, |encoder| {
                gemm(
                    &gpu,
                    encoder,
                    GemmKernel::Tiled,
                    &desc,
                    &a_gpu,
                    &b_gpu,
                    None,
                    &c_gpu,
                )
            })
        })
    });

    for (label, desc) in shapes {
        let mut layer = Layer::new(&gpu, desc);
        group.throughput(Throughput::Elements(desc.flops() as u64));
        for pass in Pass::ALL {
            layer.validate(&gpu, pass);
            let record = Record {
                group: "conv",
                kernel: "conv2d",
                variant: pass.name(),
                shape: label.clone(),
                flops: Some(desc.flops()),
                bytes: None,
                extra: serde_json::Value::Null,
            };
            record.save(&gpu, &timer);
            group.bench_function(BenchmarkId::new(pass.name(), &label), |bencher| {
                bencher.iter_custom(|iters| {
                    time_iters(&gpu, &timer, iters, |encoder| {
                        layer.record(&gpu, encoder, pass)
                    })
                })
            });
        }
    }
    group.finish();
    criterion.final_summary();
}
