//! Central finite differences in f64, the check every reference backward is held to.

/// The gradient of the scalar function `f` at `x` by central differences with step `h`:
/// `(f(x + h e_i) - f(x - h e_i)) / 2h` for every coordinate i. The truncation error is
/// O(h^2) on smooth functions, so h around 1e-5 leaves about 1e-9 of error in f64.
pub fn central_difference(f: impl Fn(&[f64]) -> f64, x: &[f64], h: f64) -> Vec<f64> {
    let mut probe = x.to_vec();
    (0..x.len())
        .map(|i| {
            probe[i] = x[i] + h;
            let up = f(&probe);
            probe[i] = x[i] - h;
            let down = f(&probe);
            probe[i] = x[i];
            (up - down) / (2.0 * h)
        })
        .collect()
}

/// Panics unless `analytic` matches the finite-difference gradient of `f` at `x` within
/// `tol * (1 + |fd|)` everywhere, naming the first mismatch.
#[track_caller]
pub fn assert_gradient(what: &str, f: impl Fn(&[f64]) -> f64, x: &[f64], analytic: &[f64]) {
    assert_eq!(x.len(), analytic.len(), "{what}: gradient length");
    let numeric = central_difference(f, x, 1e-5);
    // O(h^2) truncation on the smooth pieces plus f64 cancellation in f(x+h) - f(x-h).
    let tol = 1e-6;
    for (i, (&a, &n)) in analytic.iter().zip(&numeric).enumerate() {
        assert!(
            (a - n).abs() <= tol * (1.0 + n.abs()),
            "{what}: d/dx[{i}] analytic {a:e}, finite difference {n:e}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gradient_of_a_known_polynomial() {
        // f = x0^2 * x1 + 3 x1: df/dx0 = 2 x0 x1, df/dx1 = x0^2 + 3
        let f = |x: &[f64]| x[0] * x[0] * x[1] + 3.0 * x[1];
        let x = [1.5, -2.0];
        assert_gradient("polynomial", f, &x, &[2.0 * 1.5 * -2.0, 1.5 * 1.5 + 3.0]);
    }

    #[test]
    #[should_panic(expected = "analytic")]
    fn a_wrong_gradient_is_caught() {
        let f = |x: &[f64]| x[0] * x[0];
        assert_gradient("square", f, &[1.0], &[1.0]);
    }
}
