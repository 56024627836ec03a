//! Errors a caller cannot foresee. Programming mistakes (mismatched shapes) are asserts instead.

/// What can go wrong on the GPU side at run time.
#[derive(Debug, thiserror::Error)]
pub enum GpuError {
    #[error(
        "no GPU adapter found{detail}. Install a GPU driver, or Mesa's lavapipe CPU driver \
         (`apt-get install mesa-vulkan-drivers` on Debian/Ubuntu), and check WGPU_BACKEND \
         and WGPU_ADAPTER_NAME"
    )]
    NoAdapter { detail: String },
    #[error("the adapter '{adapter}' refused the device request: {reason}")]
    DeviceRequest { adapter: String, reason: String },
    #[error("the GPU ran out of memory: {0}")]
    OutOfMemory(String),
    #[error("the GPU device was lost: {0}")]
    DeviceLost(String),
    #[error("mapping a GPU buffer for readback failed: {0}")]
    BufferMap(String),
    #[error("GPU validation error (a bug in facenet-wgpu, please report it): {0}")]
    Validation(String),
}
