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
        "distance_operands.wgsl",
        include_str!("../../../shaders/distance_operands.wgsl"),
    ),
    (
        "sq_norms.wgsl",
        include_str!("../../../shaders/sq_norms.wgsl"),
    ),
    (
        "nearest.wgsl",
        include_str!("../../../shaders/nearest.wgsl"),
    ),
    (
        "mining_params.wgsl",
        include_str!("../../../shaders/mining_params.wgsl"),
    ),
    (
        "mining_select_common.wgsl",
        include_str!("../../../shaders/mining_select_common.wgsl"),
    ),
    (
        "semi_hard.wgsl",
        include_str!("../../../shaders/semi_hard.wgsl"),
    ),
    (
        "batch_hard.wgsl",
        include_str!("../../../shaders/batch_hard.wgsl"),
    ),
    (
        "batch_all.wgsl",
        include_str!("../../../shaders/batch_all.wgsl"),
    ),
    (
        "mining_gradient.wgsl",
        include_str!("../../../shaders/mining_gradient.wgsl"),
    ),
    (
        "mining_labels.wgsl",
        include_str!("../../../shaders/mining_labels.wgsl"),
    ),
    (
        "mining_offsets.wgsl",
        include_str!("../../../shaders/mining_offsets.wgsl"),
    ),
    (
        "mining_finalize.wgsl",
        include_str!("../../../shaders/mining_finalize.wgsl"),
    ),
    (
        "mining_scale.wgsl",
        include_str!("../../../shaders/mining_scale.wgsl"),
    ),
];

/// Module name -> the files it is made of, in order.
pub const MODULES: &[(&str, &[&str])] = &[
    ("gemm_naive", &["gemm_operands.wgsl", "gemm_naive.wgsl"]),
    ("gemm_tiled", &["gemm_operands.wgsl", "gemm_tiled.wgsl"]),
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
