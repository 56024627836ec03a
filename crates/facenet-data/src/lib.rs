//! Face datasets for facenet-wgpu.
//!
//! - [`dataset`]: one-folder-per-identity readers (AT&T/ORL, Yale, LFW) and the preprocessing
//!   to CHW `f32` in [-1, 1] that SPEC section 1 fixes.
//! - [`split`]: identity-disjoint train / held-out splits, seeded.
//! - [`pairs`]: the LFW `pairs.txt` format of SPEC section 4: parse, write, resolve, generate.
//! - [`synthetic`]: procedural faces drawn from a seed, for quick runs and tests.

pub mod dataset;
pub mod error;
pub mod pairs;
pub mod preprocess;
pub mod split;
pub mod synthetic;

pub use dataset::{Dataset, Identity, LoadedImages, OnDecodeError, OpenOptions};
pub use error::DataError;
pub use pairs::{Pair, PairsFile};
pub use preprocess::{Crop, ImageSpec};
pub use split::Split;
pub use synthetic::{IdentityParams, SyntheticConfig, SyntheticFaces};
