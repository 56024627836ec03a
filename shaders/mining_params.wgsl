// Definitions shared by every mining kernel (mining.rs mirrors both structs field for field).
// The step works on blocks of anchor rows: rows row0 .. row0 + rows of the n x n distance
// matrix, and the n x n weight matrix S of the same rows (see mining_gradient.wgsl).

struct MiningParams {
    n: u32,
    d: u32,
    row0: u32,
    rows: u32,
    alpha: f32,
    band: u32,
    inside: u32,
    soft_margin: u32,
    pair_capacity: u32,
    nonzero_mean: u32,
    has_norms: u32,
    _pad0: u32,
}

// Per-anchor sums, added up by mining_finalize.wgsl in a fixed order.
struct AnchorStats {
    loss: f32,
    d_ap: f32,
    d_an: f32,
    _pad0: f32,
    pairs: u32,
    triplets: u32,
    active_count: u32,
    found: u32,
}

// The statistics of a step; grad_scale is 2 / (the loss denominator), or 0 without triplets.
struct StepStats {
    loss: f32,
    loss_nonzero_mean: f32,
    mean_d_ap: f32,
    mean_d_an: f32,
    mean_norm: f32,
    std_norm: f32,
    grad_scale: f32,
    _pad0: f32,
    positive_pairs: u32,
    semi_hard_found: u32,
    triplets: u32,
    active_triplets: u32,
    _pad1: u32,
    _pad2: u32,
    _pad3: u32,
    _pad4: u32,
}

const NONE: u32 = 0xffffffffu;
