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
    "distance_operands.wgsl",
    "sq_norms.wgsl",
    "nearest.wgsl",
    "mining_params.wgsl",
    "mining_select_common.wgsl",
    "semi_hard.wgsl",
    "batch_hard.wgsl",
    "batch_all.wgsl",
    "mining_gradient.wgsl",
    "mining_labels.wgsl",
    "mining_offsets.wgsl",
    "mining_finalize.wgsl",
    "mining_scale.wgsl",
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
    (
        "distance_tiled",
        &["distance_operands.wgsl", "gemm_tiled.wgsl"],
    ),
    ("sq_norms", &["sq_norms.wgsl"]),
    ("nearest", &["nearest.wgsl"]),
    (
        "semi_hard",
        &[
            "mining_params.wgsl",
            "mining_select_common.wgsl",
            "semi_hard.wgsl",
        ],
    ),
    (
        "batch_hard",
        &[
            "mining_params.wgsl",
            "mining_select_common.wgsl",
            "batch_hard.wgsl",
        ],
    ),
    (
        "batch_all",
        &[
            "mining_params.wgsl",
            "mining_select_common.wgsl",
            "batch_all.wgsl",
        ],
    ),
    (
        "mining_gradient",
        &["mining_params.wgsl", "mining_gradient.wgsl"],
    ),
    (
        "mining_labels",
        &["mining_params.wgsl", "mining_labels.wgsl"],
    ),
    (
        "mining_offsets",
        &["mining_params.wgsl", "mining_offsets.wgsl"],
    ),
    (
        "mining_finalize",
        &["mining_params.wgsl", "mining_finalize.wgsl"],
    ),
    ("mining_scale", &["mining_params.wgsl", "mining_scale.wgsl"]),
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
