//! Dispatch geometry shared by the element-wise and one-workgroup-per-row kernels.

/// Converts a size for a uniform or a dispatch; sizes past u32 are a programming mistake.
pub(crate) fn to_u32(value: usize, what: &str) -> u32 {
    u32::try_from(value).unwrap_or_else(|_| panic!("{what} = {value} does not fit in u32"))
}

/// `workgroups` laid out as `[x, y, 1]` within the 65535-per-dimension limit. Kernels recover
/// the linear workgroup id as `wg.y * num_workgroups.x + wg.x` and skip ids past the end.
pub(crate) fn linear_grid(workgroups: usize) -> [u32; 3] {
    const MAX: usize = 65_535;
    if workgroups <= MAX {
        return [to_u32(workgroups, "workgroups"), 1, 1];
    }
    let rows = workgroups.div_ceil(MAX);
    assert!(
        rows <= MAX,
        "{workgroups} workgroups exceed a 65535 x 65535 grid"
    );
    [MAX as u32, rows as u32, 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grids_cover_every_workgroup() {
        assert_eq!(linear_grid(0), [0, 1, 1]);
        assert_eq!(linear_grid(65_535), [65_535, 1, 1]);
        assert_eq!(linear_grid(65_536), [65_535, 2, 1]);
        let [x, y, _] = linear_grid(200_000);
        assert!(x as usize * y as usize >= 200_000);
    }
}
