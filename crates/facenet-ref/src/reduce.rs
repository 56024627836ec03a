//! Reference sum over the middle axis: `x` viewed as `[outer, len, inner]`,
//! `y[o, i] = scale * sum_r x[o, r, i]`.
//!
//! Column sums (the bias gradient: `outer = 1`, `len = batch`, `inner = features`) and row
//! means (global average pooling: `inner = 1`, `scale = 1 / len`) are both this one shape.

use crate::Real;

/// `y[o * inner + i] = scale * sum_r x[(o * len + r) * inner + i]`, accumulated in f64.
pub fn reduce_sum<T: Real>(
    outer: usize,
    len: usize,
    inner: usize,
    scale: f32,
    x: &[T],
    y: &mut [T],
) {
    assert_eq!(
        x.len(),
        outer * len * inner,
        "x is not [{outer}, {len}, {inner}]"
    );
    assert_eq!(y.len(), outer * inner, "y is not [{outer}, {inner}]");
    for o in 0..outer {
        for i in 0..inner {
            let sum: f64 = (0..len)
                .map(|r| x[(o * len + r) * inner + i].to_f64())
                .sum();
            y[o * inner + i] = T::from_f64(f64::from(scale) * sum);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_and_rows_by_hand() {
        // [[1, 2, 3], [4, 5, 6]]
        let x = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];
        let mut columns = [0.0f32; 3];
        reduce_sum(1, 2, 3, 1.0, &x, &mut columns);
        assert_eq!(columns, [5.0, 7.0, 9.0]);
        let mut row_means = [0.0f32; 2];
        reduce_sum(2, 3, 1, 1.0 / 3.0, &x, &mut row_means);
        assert_eq!(row_means, [2.0, 5.0]);
    }

    #[test]
    fn empty_reduction_is_zero() {
        let mut y = [7.0f32; 2];
        reduce_sum(2, 0, 1, 1.0, &[], &mut y);
        assert_eq!(y, [0.0, 0.0]);
    }
}
