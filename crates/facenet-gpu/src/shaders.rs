//! The WGSL sources in `shaders/` and how they compose into modules.
//!
//! A module is one or more files concatenated: operand definitions first, then a kernel body
//! that uses them. This is how the GEMM tiling is shared by every implicit-GEMM kernel.

/// Every file in `shaders/`, embedded at compile time.
pub const FILES: &[(&str, &str)] = &[
    (
        "gemm_operands.wgsl",
        include_str!("../../../shaders/gemm_operands.wgsl"),
    ),
    (
        "gemm_naive.wgsl",
        include_str!("../../../shaders/gemm_naive.wgsl"),
    ),
    (
        "gemm_tiled.wgsl",
        include_str!("../../../shaders/gemm_tiled.wgsl"),
    ),
    (
        "conv_forward_operands.wgsl",
        include_str!("../../../shaders/conv_forward_operands.wgsl"),
    ),
    (
        "conv_backward_data_operands.wgsl",
        include_str!("../../../shaders/conv_backward_data_operands.wgsl"),
    ),
    (
        "conv_backward_weight_operands.wgsl",
        include_str!("../../../shaders/conv_backward_weight_operands.wgsl"),
    ),
    (
        "conv_weight_reduce.wgsl",
        include_str!("../../../shaders/conv_weight_reduce.wgsl"),
    ),
];

/// Module name -> the files it is made of, in order.
pub const MODULES: &[(&str, &[&str])] = &[
    ("gemm_naive", &["gemm_operands.wgsl", "gemm_naive.wgsl"]),
    ("gemm_tiled", &["gemm_operands.wgsl", "gemm_tiled.wgsl"]),
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
