//! What every bench shares: the device, the quick/full switch, criterion settings and the
//! records `cargo xtask bench` joins with criterion's medians to write the summary.

use std::io::Write;
use std::time::Duration;

use criterion::Criterion;
use facenet_gpu::{Gpu, GpuTimer};

/// `FACENET_BENCH_QUICK=1` (set by `cargo xtask bench --quick`): small shapes, few samples.
pub fn quick() -> bool {
    std::env::var("FACENET_BENCH_QUICK").is_ok_and(|v| v == "1")
}

pub fn criterion() -> Criterion {
    let c = Criterion::default().sample_size(10).without_plots();
    if quick() {
        c.warm_up_time(Duration::from_millis(200))
            .measurement_time(Duration::from_millis(500))
    } else {
        c.warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(3))
    }
}

pub fn gpu() -> Gpu {
    Gpu::new().unwrap_or_else(|e| panic!("benchmarks need a GPU adapter: {e}"))
}

/// What one benchmark measures, written next to criterion's output for `cargo xtask bench`.
pub struct Record<'a> {
    pub group: &'a str,
    pub kernel: &'a str,
    pub variant: &'a str,
    pub shape: String,
    /// Floating-point operations per iteration, where GFLOP/s has a meaning.
    pub flops: Option<f64>,
    /// Bytes moved per iteration, where GB/s has a meaning.
    pub bytes: Option<f64>,
    /// Extra fields, e.g. peak memory or images per iteration.
    pub extra: serde_json::Value,
}

impl Record<'_> {
    /// The criterion benchmark id this record belongs to.
    pub fn id(&self) -> String {
        format!("{}/{}/{}", self.group, self.variant, self.shape)
    }

    /// Appends the record to `target/bench/records.jsonl`, timed by `timer`.
    pub fn save(&self, gpu: &Gpu, timer: &GpuTimer) {
        self.write(gpu, timer.kind().name());
    }

    /// Appends the record for a benchmark criterion times by wall clock (host work included).
    #[allow(dead_code)] // Used by the benches that time whole steps, not by every bench target.
    pub fn save_wall(&self, gpu: &Gpu) {
        self.write(gpu, facenet_gpu::TimerKind::Wall.name());
    }

    fn write(&self, gpu: &Gpu, timer: &str) {
        let line = serde_json::json!({
            "id": self.id(),
            "criterion_dir": format!("{}/{}/{}", self.group, self.variant, self.shape),
            "kernel": self.kernel,
            "variant": self.variant,
            "shape": self.shape,
            "adapter": gpu.info.name,
            "driver": gpu.driver(),
            "timer": timer,
            "flops": self.flops,
            "bytes": self.bytes,
            "extra": self.extra,
        });
        let dir = target_dir().join("bench");
        std::fs::create_dir_all(&dir).expect("create target/bench");
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("records.jsonl"))
            .expect("open target/bench/records.jsonl");
        writeln!(file, "{line}").expect("write bench record");
    }
}

fn target_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(Into::into)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target"))
}

/// Times `iters` runs of the recorded work, each in its own submission, on the GPU timer.
pub fn time_iters(
    gpu: &Gpu,
    timer: &GpuTimer,
    iters: u64,
    mut record: impl FnMut(&mut facenet_gpu::wgpu::CommandEncoder),
) -> Duration {
    let mut total_ms = 0.0;
    for _ in 0..iters {
        total_ms += timer.time_ms(gpu, &mut record).expect("timed GPU run");
    }
    Duration::from_secs_f64(total_ms * 1e-3)
}

/// Panics with the first mismatch when `got` and `expected` differ beyond the bound.
pub fn validate(what: &str, got: f32, expected: f64, bound: f64) {
    let error = (f64::from(got) - expected).abs();
    assert!(
        got.is_finite() && error <= bound,
        "{what}: kernel gave {got}, reference {expected}, |diff| {error:e} > {bound:e}; \
         not timing a wrong kernel"
    );
}

/// `len` values uniform in [-1, 1), the same for the same seed everywhere.
pub fn random_vec(seed: u64, len: usize) -> Vec<f32> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    (0..len).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}
