//! The WGSL sources in `shaders/` and how they compose into modules.
//!
//! A module is one or more files concatenated: operand definitions first, then a kernel body
//! that uses them. This is how the GEMM tiling is shared by every implicit-GEMM kernel.

/// Embeds files of `shaders/` as (name, text) pairs.
macro_rules! embed {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../../../shaders/", $name)))),*]
    };
}

/// Every file in `shaders/`, embedded at compile time.
pub const FILES: &[(&str, &str)] = embed![
    "gemm_operands.wgsl",
    "gemm_naive.wgsl",
    "gemm_tiled.wgsl",
    "elementwise.wgsl",
    "workgroup_sum.wgsl",
    "reduce.wgsl",
    "pool.wgsl",
    "l2norm.wgsl",
    "optim.wgsl",
    "conv_forward_operands.wgsl",
    "conv_backward_data_operands.wgsl",
    "conv_backward_weight_operands.wgsl",
    "conv_weight_reduce.wgsl",
];

/// Module name -> the files it is made of, in order.
pub const MODULES: &[(&str, &[&str])] = &[
    ("gemm_naive", &["gemm_operands.wgsl", "gemm_naive.wgsl"]),
    ("gemm_tiled", &["gemm_operands.wgsl", "gemm_tiled.wgsl"]),
    ("elementwise", &["elementwise.wgsl"]),
    ("reduce", &["workgroup_sum.wgsl", "reduce.wgsl"]),
    ("l2norm", &["workgroup_sum.wgsl", "l2norm.wgsl"]),
    ("pool", &["pool.wgsl"]),
    ("optim", &["optim.wgsl"]),
    (
        "conv_forward",
        &["conv_forward_operands.wgsl", "gemm_tiled.wgsl"],
    ),
    (
        "conv_backward_data",
        &["conv_backward_data_operands.wgsl", "gemm_tiled.wgsl"],
    ),
    (
        "conv_backward_weight",
        &["conv_backward_weight_operands.wgsl", "gemm_tiled.wgsl"],
    ),
    ("conv_weight_reduce", &["conv_weight_reduce.wgsl"]),
];

fn file(name: &str) -> &'static str {
    FILES
        .iter()
        .find(|(file, _)| *file == name)
        .map(|(_, text)| *text)
        .unwrap_or_else(|| panic!("shader file '{name}' is not listed in shaders::FILES"))
}

/// The full WGSL text of a module.
pub fn module_source(module: &str) -> String {
    let (_, files) = MODULES
        .iter()
        .find(|(name, _)| *name == module)
        .unwrap_or_else(|| panic!("shader module '{module}' is not listed in shaders::MODULES"));
    files.iter().map(|f| file(f)).collect::<Vec<_>>().join("\n")
}
