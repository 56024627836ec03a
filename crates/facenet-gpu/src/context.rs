//! Headless device acquisition, the pipeline cache and submission helpers.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use wgpu::util::DeviceExt;

use crate::error::GpuError;
use crate::pipeline::KernelSpec;

/// How to choose the adapter. [`GpuOptions::from_env`] follows wgpu's own conventions.
#[derive(Clone, Debug)]
pub struct GpuOptions {
    pub backends: wgpu::Backends,
    /// Case-insensitive substring of the adapter name; the first match wins.
    pub adapter_name: Option<String>,
    pub power_preference: wgpu::PowerPreference,
}

impl GpuOptions {
    /// `WGPU_BACKEND` (e.g. `vulkan`, `metal`, `dx12`), `WGPU_ADAPTER_NAME`, `WGPU_POWER_PREF`.
    pub fn from_env() -> Self {
        Self {
            backends: wgpu::Backends::from_env().unwrap_or(wgpu::Backends::PRIMARY),
            adapter_name: std::env::var("WGPU_ADAPTER_NAME")
                .ok()
                .filter(|s| !s.is_empty()),
            power_preference: wgpu::PowerPreference::from_env()
                .unwrap_or(wgpu::PowerPreference::HighPerformance),
        }
    }
}

/// A wgpu device and queue with what every kernel launch needs.
pub struct Gpu {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub info: wgpu::AdapterInfo,
    pub limits: wgpu::Limits,
    pub features: wgpu::Features,
    modules: Mutex<HashMap<&'static str, wgpu::ShaderModule>>,
    pipelines: Mutex<HashMap<KernelSpec, Arc<wgpu::ComputePipeline>>>,
    staging: Mutex<Vec<wgpu::Buffer>>,
    /// Bound where a kernel's optional input is absent: bindings cannot be left empty.
    placeholder: wgpu::Buffer,
    /// The first error wgpu reported outside an error scope (OOM, validation, device loss).
    fault: Arc<Mutex<Option<GpuError>>>,
}

impl Gpu {
    /// Opens the adapter chosen by the environment (see [`GpuOptions::from_env`]).
    pub fn new() -> Result<Self, GpuError> {
        Self::with_options(&GpuOptions::from_env())
    }

    pub fn with_options(options: &GpuOptions) -> Result<Self, GpuError> {
        pollster::block_on(Self::open(options))
    }

    async fn open(options: &GpuOptions) -> Result<Self, GpuError> {
        let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
        desc.backends = options.backends;
        let instance = wgpu::Instance::new(desc);
        let adapter = match &options.adapter_name {
            Some(wanted) => {
                let wanted_lower = wanted.to_lowercase();
                let adapters = instance.enumerate_adapters(options.backends).await;
                let names: Vec<String> = adapters.iter().map(|a| a.get_info().name).collect();
                adapters
                    .into_iter()
                    .find(|a| a.get_info().name.to_lowercase().contains(&wanted_lower))
                    .ok_or_else(|| GpuError::NoAdapter {
                        detail: format!(
                            " matching WGPU_ADAPTER_NAME='{wanted}' (adapters seen: {names:?})"
                        ),
                    })?
            }
            None => instance
                .request_adapter(&wgpu::RequestAdapterOptions {
                    power_preference: options.power_preference,
                    force_fallback_adapter: false,
                    compatible_surface: None,
                    ..Default::default()
                })
                .await
                .map_err(|e| GpuError::NoAdapter {
                    detail: format!(" for backends {:?} ({e})", options.backends),
                })?,
        };
        let info = adapter.get_info();

        // Kernels stay within wgpu's default limits, so they run on every adapter; only the
        // storage-buffer size is raised where the adapter allows, for large batches.
        let adapter_limits = adapter.limits();
        let limits = wgpu::Limits {
            max_storage_buffer_binding_size: adapter_limits.max_storage_buffer_binding_size,
            max_buffer_size: adapter_limits.max_buffer_size,
            ..wgpu::Limits::default()
        };
        let wanted = wgpu::Features::TIMESTAMP_QUERY
            | wgpu::Features::TIMESTAMP_QUERY_INSIDE_ENCODERS
            | wgpu::Features::SUBGROUP
            | wgpu::Features::SHADER_F16;
        let features = adapter.features() & wanted;
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("facenet-wgpu"),
                required_features: features,
                required_limits: limits.clone(),
                experimental_features: wgpu::ExperimentalFeatures::disabled(),
                memory_hints: wgpu::MemoryHints::Performance,
                trace: wgpu::Trace::Off,
            })
            .await
            .map_err(|e| GpuError::DeviceRequest {
                adapter: info.name.clone(),
                reason: e.to_string(),
            })?;

        let fault: Arc<Mutex<Option<GpuError>>> = Arc::default();
        let sink = fault.clone();
        device.on_uncaptured_error(Arc::new(move |error: wgpu::Error| {
            let error = match error {
                wgpu::Error::OutOfMemory { source } => GpuError::OutOfMemory(source.to_string()),
                wgpu::Error::Validation { description, .. } => GpuError::Validation(description),
                wgpu::Error::Internal { description, .. } => GpuError::DeviceLost(description),
            };
            log::error!("{error}");
            sink.lock().unwrap().get_or_insert(error);
        }));
        let sink = fault.clone();
        device.set_device_lost_callback(move |reason, message| {
            if reason != wgpu::DeviceLostReason::Destroyed {
                let error = GpuError::DeviceLost(format!("{reason:?}: {message}"));
                sink.lock().unwrap().get_or_insert(error);
            }
        });

        let placeholder = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("placeholder"),
            size: 16,
            usage: wgpu::BufferUsages::STORAGE,
            mapped_at_creation: false,
        });
        let gpu = Self {
            device,
            queue,
            info,
            limits,
            features,
            modules: Mutex::default(),
            pipelines: Mutex::default(),
            staging: Mutex::default(),
            placeholder,
            fault,
        };
        log::info!("{}", gpu.describe());
        log::info!(
            "limits: workgroup storage {} B, invocations {}, storage binding {} MiB, \
             features {:?}",
            gpu.limits.max_compute_workgroup_storage_size,
            gpu.limits.max_compute_invocations_per_workgroup,
            gpu.limits.max_storage_buffer_binding_size >> 20,
            gpu.features,
        );
        Ok(gpu)
    }

    /// The device for GPU tests: `None` with a visible message where no adapter exists, but
    /// a panic under `CI=true`, where a missing adapter is a failure and never a silent skip.
    pub fn for_tests() -> Option<Self> {
        match Self::new() {
            Ok(gpu) => Some(gpu),
            Err(error) if std::env::var("CI").is_ok_and(|v| v == "true") => {
                panic!("CI=true and no GPU adapter: {error}")
            }
            Err(error) => {
                eprintln!("SKIPPED (no GPU adapter): {error}");
                None
            }
        }
    }

    /// One line naming the adapter, its backend, type and driver.
    pub fn describe(&self) -> String {
        format!(
            "adapter '{}' ({:?}, {:?}), driver '{} {}'",
            self.info.name,
            self.info.backend,
            self.info.device_type,
            self.info.driver,
            self.info.driver_info
        )
    }

    /// The driver name and version, for benchmark records.
    pub fn driver(&self) -> String {
        format!("{} {}", self.info.driver, self.info.driver_info)
            .trim()
            .to_string()
    }

    pub fn has_timestamps(&self) -> bool {
        self.features.contains(
            wgpu::Features::TIMESTAMP_QUERY | wgpu::Features::TIMESTAMP_QUERY_INSIDE_ENCODERS,
        )
    }

    /// The compute pipeline for `spec`, compiled once per device.
    pub fn pipeline(&self, spec: &KernelSpec) -> Arc<wgpu::ComputePipeline> {
        if let Some(found) = self.pipelines.lock().unwrap().get(spec) {
            return found.clone();
        }
        let module = {
            let mut modules = self.modules.lock().unwrap();
            modules
                .entry(spec.module)
                .or_insert_with(|| {
                    let source = crate::shaders::module_source(spec.module);
                    self.device
                        .create_shader_module(wgpu::ShaderModuleDescriptor {
                            label: Some(spec.module),
                            source: wgpu::ShaderSource::Wgsl(source.into()),
                        })
                })
                .clone()
        };
        let constants: Vec<(&str, f64)> = spec
            .constants
            .iter()
            .map(|&(name, value)| (name, f64::from(value)))
            .collect();
        let pipeline = Arc::new(self.device.create_compute_pipeline(
            &wgpu::ComputePipelineDescriptor {
                label: Some(spec.entry),
                layout: None,
                module: &module,
                entry_point: Some(spec.entry),
                compilation_options: wgpu::PipelineCompilationOptions {
                    constants: &constants,
                    // Every kernel writes its workgroup memory before reading it.
                    zero_initialize_workgroup_memory: false,
                },
                cache: None,
            },
        ));
        self.pipelines
            .lock()
            .unwrap()
            .insert(spec.clone(), pipeline.clone());
        pipeline
    }

    /// A small storage buffer to bind in place of an absent optional input.
    pub fn placeholder(&self) -> &wgpu::Buffer {
        &self.placeholder
    }

    /// A uniform buffer holding one parameter struct.
    pub fn uniform<P: bytemuck::Pod>(&self, params: &P) -> wgpu::Buffer {
        self.device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some("params"),
                contents: bytemuck::bytes_of(params),
                usage: wgpu::BufferUsages::UNIFORM,
            })
    }

    /// Records one dispatch of `pipeline` with `buffers` bound to bindings 0, 1, ... of group 0.
    pub fn dispatch(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        pipeline: &wgpu::ComputePipeline,
        buffers: &[&wgpu::Buffer],
        workgroups: [u32; 3],
    ) {
        let max = self.limits.max_compute_workgroups_per_dimension;
        assert!(
            workgroups.iter().all(|&w| w <= max),
            "dispatch {workgroups:?} exceeds {max} workgroups per dimension"
        );
        if workgroups.contains(&0) {
            return;
        }
        let entries: Vec<wgpu::BindGroupEntry> = buffers
            .iter()
            .enumerate()
            .map(|(i, buffer)| wgpu::BindGroupEntry {
                binding: i as u32,
                resource: buffer.as_entire_binding(),
            })
            .collect();
        let bind_group = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &pipeline.get_bind_group_layout(0),
            entries: &entries,
        });
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor::default());
        pass.set_pipeline(pipeline);
        pass.set_bind_group(0, &bind_group, &[]);
        pass.dispatch_workgroups(workgroups[0], workgroups[1], workgroups[2]);
    }

    pub fn encoder(&self) -> wgpu::CommandEncoder {
        self.device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor::default())
    }

    /// Submits the recorded work without waiting for it.
    pub fn submit(&self, encoder: wgpu::CommandEncoder) -> wgpu::SubmissionIndex {
        self.queue.submit([encoder.finish()])
    }

    /// Waits until all submitted work is done, then reports any error wgpu raised meanwhile.
    pub fn sync(&self) -> Result<(), GpuError> {
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| GpuError::DeviceLost(e.to_string()))?;
        self.check()
    }

    /// Reports (once) the first error wgpu raised since the last check.
    pub fn check(&self) -> Result<(), GpuError> {
        match self.fault.lock().unwrap().take() {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    /// A mappable staging buffer of at least `size` bytes, reused across readbacks.
    pub(crate) fn take_staging(&self, size: u64) -> wgpu::Buffer {
        let mut pool = self.staging.lock().unwrap();
        if let Some(i) = pool.iter().position(|b| b.size() >= size) {
            return pool.swap_remove(i);
        }
        self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("staging"),
            size: size.next_multiple_of(wgpu::COPY_BUFFER_ALIGNMENT),
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        })
    }

    pub(crate) fn return_staging(&self, buffer: wgpu::Buffer) {
        let mut pool = self.staging.lock().unwrap();
        // A few buffers cover the readback pattern of a training step; drop the rest.
        if pool.len() < 4 {
            pool.push(buffer);
        }
    }
}
