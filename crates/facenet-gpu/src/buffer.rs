//! Typed GPU storage buffers that carry their shape.

use std::marker::PhantomData;

use wgpu::util::DeviceExt;

use crate::context::Gpu;
use crate::error::GpuError;

/// A storage buffer of `T` with a logical shape (row-major, outermost first).
pub struct GpuBuffer<T: bytemuck::Pod> {
    pub buffer: wgpu::Buffer,
    shape: Vec<usize>,
    _element: PhantomData<T>,
}

fn storage_usage() -> wgpu::BufferUsages {
    wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST
}

impl<T: bytemuck::Pod> GpuBuffer<T> {
    /// Uploads `data`, whose length must equal the product of `shape`.
    pub fn from_slice(gpu: &Gpu, data: &[T], shape: &[usize]) -> Self {
        let len: usize = shape.iter().product();
        assert_eq!(
            data.len(),
            len,
            "data length {} does not match shape {shape:?}",
            data.len()
        );
        // wgpu rejects zero-sized bindings; an empty tensor still gets one element of storage.
        let padding = [T::zeroed()];
        let contents = if data.is_empty() { &padding[..] } else { data };
        let buffer = gpu
            .device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: None,
                contents: bytemuck::cast_slice(contents),
                usage: storage_usage(),
            });
        Self {
            buffer,
            shape: shape.to_vec(),
            _element: PhantomData,
        }
    }

    /// A zero-filled buffer of the given shape.
    pub fn zeros(gpu: &Gpu, shape: &[usize]) -> Self {
        let len: usize = shape.iter().product::<usize>().max(1);
        let buffer = gpu.device.create_buffer(&wgpu::BufferDescriptor {
            label: None,
            size: (len * size_of::<T>()) as u64,
            usage: storage_usage(),
            mapped_at_creation: false,
        });
        Self {
            buffer,
            shape: shape.to_vec(),
            _element: PhantomData,
        }
    }

    /// Wraps an existing buffer; it must hold at least the shape's elements.
    pub(crate) fn from_raw(buffer: wgpu::Buffer, shape: &[usize]) -> Self {
        let len: usize = shape.iter().product();
        assert!(
            buffer.size() >= (len * size_of::<T>()) as u64,
            "buffer too small for {shape:?}"
        );
        Self {
            buffer,
            shape: shape.to_vec(),
            _element: PhantomData,
        }
    }

    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Same storage, another shape with as many elements.
    pub fn reshape(mut self, shape: &[usize]) -> Self {
        let len: usize = shape.iter().product();
        assert_eq!(
            len,
            self.len(),
            "cannot reshape {:?} to {shape:?}",
            self.shape
        );
        self.shape = shape.to_vec();
        self
    }

    /// Overwrites the whole buffer from the host.
    pub fn write(&self, gpu: &Gpu, data: &[T]) {
        assert_eq!(
            data.len(),
            self.len(),
            "write of {} into shape {:?}",
            data.len(),
            self.shape
        );
        if !data.is_empty() {
            gpu.queue
                .write_buffer(&self.buffer, 0, bytemuck::cast_slice(data));
        }
    }

    /// Copies the buffer back to the host, waiting for all submitted work first.
    pub fn read(&self, gpu: &Gpu) -> Result<Vec<T>, GpuError> {
        let mut out = vec![T::zeroed(); self.len()];
        self.read_into(gpu, &mut out)?;
        Ok(out)
    }

    /// Copies the buffer back into `out`, reusing a pooled staging buffer.
    pub fn read_into(&self, gpu: &Gpu, out: &mut [T]) -> Result<(), GpuError> {
        assert_eq!(
            out.len(),
            self.len(),
            "read of shape {:?} into {}",
            self.shape,
            out.len()
        );
        if out.is_empty() {
            return Ok(());
        }
        let bytes = size_of_val(out) as u64;
        let copy_bytes = bytes.next_multiple_of(wgpu::COPY_BUFFER_ALIGNMENT);
        let staging = gpu.take_staging(copy_bytes);
        let mut encoder = gpu.encoder();
        encoder.copy_buffer_to_buffer(&self.buffer, 0, &staging, 0, copy_bytes);
        gpu.submit(encoder);

        let (sender, receiver) = std::sync::mpsc::channel();
        staging.map_async(wgpu::MapMode::Read, 0..copy_bytes, move |result| {
            let _ = sender.send(result);
        });
        gpu.sync()?;
        receiver
            .recv()
            .map_err(|e| GpuError::BufferMap(e.to_string()))?
            .map_err(|e| GpuError::BufferMap(e.to_string()))?;
        {
            let view = staging
                .get_mapped_range(0..copy_bytes)
                .map_err(|e| GpuError::BufferMap(e.to_string()))?;
            out.copy_from_slice(bytemuck::cast_slice(&view[..bytes as usize]));
        }
        staging.unmap();
        gpu.return_staging(staging);
        Ok(())
    }
}
