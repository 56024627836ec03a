//! Timing of recorded GPU work: timestamp queries where the adapter has them, wall clock
//! around submit-and-wait otherwise. Every figure says which timer produced it.

use std::time::Instant;

use crate::context::Gpu;
use crate::error::GpuError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimerKind {
    GpuTimestamp,
    Wall,
}

impl TimerKind {
    /// The name used in benchmark records (SPEC section 5).
    pub fn name(self) -> &'static str {
        match self {
            TimerKind::GpuTimestamp => "gpu-timestamp",
            TimerKind::Wall => "wall",
        }
    }
}

/// Measures how long the work recorded by a closure takes on the GPU.
pub struct GpuTimer {
    queries: Option<(wgpu::QuerySet, wgpu::Buffer)>,
}

impl GpuTimer {
    pub fn new(gpu: &Gpu) -> Self {
        let queries = gpu.has_timestamps().then(|| {
            let set = gpu.device.create_query_set(&wgpu::QuerySetDescriptor {
                label: Some("timer"),
                ty: wgpu::QueryType::Timestamp,
                count: 2,
            });
            let resolve = gpu.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("timer resolve"),
                size: 16,
                usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
                mapped_at_creation: false,
            });
            (set, resolve)
        });
        Self { queries }
    }

    pub fn kind(&self) -> TimerKind {
        if self.queries.is_some() {
            TimerKind::GpuTimestamp
        } else {
            TimerKind::Wall
        }
    }

    /// Runs `record` into one submission and returns its duration in milliseconds.
    pub fn time_ms(
        &self,
        gpu: &Gpu,
        record: impl FnOnce(&mut wgpu::CommandEncoder),
    ) -> Result<f64, GpuError> {
        let mut encoder = gpu.encoder();
        let Some((set, resolve)) = &self.queries else {
            record(&mut encoder);
            let start = Instant::now();
            gpu.submit(encoder);
            gpu.sync()?;
            return Ok(start.elapsed().as_secs_f64() * 1e3);
        };
        encoder.write_timestamp(set, 0);
        record(&mut encoder);
        encoder.write_timestamp(set, 1);
        encoder.resolve_query_set(set, 0..2, resolve, 0);
        let ticks = crate::GpuBuffer::<u64>::from_raw(resolve.clone(), &[2]);
        gpu.submit(encoder);
        let stamps = ticks.read(gpu)?;
        let period_ns = f64::from(gpu.queue.get_timestamp_period());
        Ok(stamps[1].wrapping_sub(stamps[0]) as f64 * period_ns * 1e-6)
    }
}
