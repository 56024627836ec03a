//! Prints the adapter facenet-wgpu would use, or why there is none.

fn main() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    match facenet_gpu::Gpu::new() {
        Ok(gpu) => {
            println!("{}", gpu.describe());
            println!("timer: {}", facenet_gpu::GpuTimer::new(&gpu).kind().name());
        }
        Err(error) => {
            eprintln!("error: {error}");
            std::process::exit(1);
        }
    }
}
