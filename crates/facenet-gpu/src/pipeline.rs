//! The key of the pipeline cache: which module, which entry point, which specialisation.

/// One compiled variant of a kernel. Tile sizes and bounds-check variants are WGSL `override`
/// constants, so each specialisation is its own pipeline.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct KernelSpec {
    /// A module name known to [`crate::shaders::module_source`].
    pub module: &'static str,
    pub entry: &'static str,
    /// WGSL `override` values. Integers and booleans only, so the key stays hashable.
    pub constants: Vec<(&'static str, u32)>,
}

impl KernelSpec {
    pub fn new(module: &'static str, entry: &'static str) -> Self {
        Self {
            module,
            entry,
            constants: Vec::new(),
        }
    }

    pub fn with(mut self, name: &'static str, value: u32) -> Self {
        self.constants.push((name, value));
        self
    }
}
