//! Reference L2 normalisation of the rows of an `[n, d]` matrix, with its exact backward.
//!
//! Forward: `norms[r] = |x_r|`, `y_r = x_r / max(|x_r|, EPS)`.
//! Backward: where `|x_r| >= EPS`, `dx_r = (dy_r - y_r <y_r, dy_r>) / |x_r|`; below it the
//! forward is the linear map `x_r / EPS`, so `dx_r = dy_r / EPS`. A zero row gives finite
//! values, never NaN.

use crate::Real;

/// Guards the division for a (near) zero row, as `torch.nn.functional.normalize` does.
pub const EPS: f32 = 1e-12;

fn check(n: usize, d: usize, rows: &[usize], norms: usize) {
    for &len in rows {
        assert_eq!(
            len,
            n * d,
            "a row tensor has {len} values, [{n}, {d}] needs {}",
            n * d
        );
    }
    assert_eq!(
        norms, n,
        "norms has {norms} values, one per row of {n} needed"
    );
}

/// `y = x / max(|x|, EPS)` per row; `norms` receives `|x|` (unclamped).
pub fn l2_normalize_forward<T: Real>(n: usize, d: usize, x: &[T], y: &mut [T], norms: &mut [T]) {
    check(n, d, &[x.len(), y.len()], norms.len());
    for r in 0..n {
        let row = &x[r * d..(r + 1) * d];
        let norm = row.iter().map(|v| v.to_f64().powi(2)).sum::<f64>().sqrt();
        let scale = norm.max(f64::from(EPS));
        for (out, v) in y[r * d..(r + 1) * d].iter_mut().zip(row) {
            *out = T::from_f64(v.to_f64() / scale);
        }
        norms[r] = T::from_f64(norm);
    }
}

/// The gradient of the forward with respect to `x`, from its output `y` and `norms`.
pub fn l2_normalize_backward<T: Real>(
    n: usize,
    d: usize,
    y: &[T],
    norms: &[T],
    dy: &[T],
    dx: &mut [T],
) {
    check(n, d, &[y.len(), dy.len(), dx.len()], norms.len());
    for (r, norm) in norms.iter().enumerate() {
        let range = r * d..(r + 1) * d;
        let norm = norm.to_f64();
        let (y_row, dy_row) = (&y[range.clone()], &dy[range.clone()]);
        // The clamped branch is linear: no projection term.
        let dot = if norm >= f64::from(EPS) {
            y_row
                .iter()
                .zip(dy_row)
                .map(|(a, b)| a.to_f64() * b.to_f64())
                .sum()
        } else {
            0.0
        };
        let scale = norm.max(f64::from(EPS));
        for ((out, yv), dyv) in dx[range].iter_mut().zip(y_row).zip(dy_row) {
            *out = T::from_f64((dyv.to_f64() - yv.to_f64() * dot) / scale);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::{assert_gradient_close, numeric_gradient, pseudo_random, weighted_sum};

    #[test]
    fn three_four_five() {
        let (mut y, mut norms) = ([0.0f32; 4], [0.0f32; 2]);
        l2_normalize_forward(2, 2, &[3.0, 4.0, 0.0, 0.0], &mut y, &mut norms);
        assert_eq!(y, [0.6, 0.8, 0.0, 0.0]);
        assert_eq!(norms, [5.0, 0.0]);
    }

    #[test]
    fn backward_matches_finite_differences() {
        for (n, d) in [(1, 16), (3, 5), (4, 1)] {
            let x = pseudo_random(n as u64 * 31 + d as u64, n * d);
            let w = pseudo_random(1000 + d as u64, n * d);
            let forward = |x: &[f64]| {
                let (mut y, mut norms) = (vec![0.0; n * d], vec![0.0; n]);
                l2_normalize_forward(n, d, x, &mut y, &mut norms);
                weighted_sum(&w, &y)
            };
            let (mut y, mut norms) = (vec![0.0; n * d], vec![0.0; n]);
            l2_normalize_forward(n, d, &x, &mut y, &mut norms);
            let mut dx = vec![0.0; n * d];
            l2_normalize_backward(n, d, &y, &norms, &w, &mut dx);
            let numeric = numeric_gradient(forward, &x, 1e-6);
            assert_gradient_close(&format!("n {n} d {d}"), &dx, &numeric, 1e-6);
        }
    }

    #[test]
    fn clamped_rows_are_linear_and_finite() {
        // A row far below EPS: the forward is x / EPS, so the gradient is dy / EPS.
        let x = [1e-14f64, -2e-14, 0.0];
        let w = [0.5, -0.25, 1.0];
        let forward = |x: &[f64]| {
            let (mut y, mut norms) = (vec![0.0; 3], vec![0.0; 1]);
            l2_normalize_forward(1, 3, x, &mut y, &mut norms);
            weighted_sum(&w, &y)
        };
        let (mut y, mut norms) = ([0.0; 3], [0.0; 1]);
        l2_normalize_forward(1, 3, &x, &mut y, &mut norms);
        let mut dx = [0.0; 3];
        l2_normalize_backward(1, 3, &y, &norms, &w, &mut dx);
        let numeric = numeric_gradient(forward, &x, 1e-15);
        assert_gradient_close("clamped", &dx, &numeric, 1e-6);

        let (mut y, mut norms, mut dx) = ([0.0f32; 3], [0.0f32; 1], [0.0f32; 3]);
        l2_normalize_forward(1, 3, &[0.0; 3], &mut y, &mut norms);
        l2_normalize_backward(1, 3, &y, &norms, &[1.0, -1.0, 0.5], &mut dx);
        assert!(y.iter().chain(&dx).all(|v| v.is_finite()), "{y:?} {dx:?}");
    }
}
