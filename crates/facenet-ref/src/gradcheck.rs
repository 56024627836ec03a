//! Central finite differences in f64, to check every hand-written backward pass.
//!
//! The usual check of a layer `y = f(x)`: pick fixed random weights `w`, form the scalar
//! `L(x) = sum_j w_j * f(x)_j`, and compare the layer's backward (with `dy = w`) against
//! [`numeric_gradient`] of `L` with [`assert_gradient_close`].

/// The gradient of `f` at `x` by central differences: `(f(x + h e_i) - f(x - h e_i)) / 2h`.
///
/// The truncation error is `O(h^2)` and the rounding error `O(eps / h)`; `h` around 1e-5 to
/// 1e-6 balances the two for smooth f64 functions of values near 1.
pub fn numeric_gradient(f: impl Fn(&[f64]) -> f64, x: &[f64], h: f64) -> Vec<f64> {
    assert!(h > 0.0, "finite-difference step must be positive, got {h}");
    let mut point = x.to_vec();
    (0..x.len())
        .map(|i| {
            point[i] = x[i] + h;
            let up = f(&point);
            point[i] = x[i] - h;
            let down = f(&point);
            point[i] = x[i];
            (up - down) / (2.0 * h)
        })
        .collect()
}

/// `sum_j w_j * y_j`: the scalar that turns a layer output into a loss for gradient checks.
pub fn weighted_sum(w: &[f64], y: &[f64]) -> f64 {
    assert_eq!(w.len(), y.len(), "weights and values differ in length");
    w.iter().zip(y).map(|(a, b)| a * b).sum()
}

/// Panics unless `|analytic - numeric| <= tol * max(1, |numeric|)` everywhere, naming the
/// first mismatch.
#[track_caller]
pub fn assert_gradient_close(what: &str, analytic: &[f64], numeric: &[f64], tol: f64) {
    assert_eq!(
        analytic.len(),
        numeric.len(),
        "{what}: gradient lengths differ"
    );
    for (i, (&a, &n)) in analytic.iter().zip(numeric).enumerate() {
        let bound = tol * n.abs().max(1.0);
        assert!(
            (a - n).abs() <= bound && a.is_finite(),
            "{what}: d/dx[{i}] analytic {a:e} numeric {n:e} |diff| {:e} > {bound:e}",
            (a - n).abs()
        );
    }
}

/// `len` values uniform in [-1, 1) from a splitmix64 stream: seeded test inputs without a
/// dependency on a random-number crate.
pub fn pseudo_random(seed: u64, len: usize) -> Vec<f64> {
    let mut state = seed;
    (0..len)
        .map(|_| {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            // The top 53 bits as a fraction in [0, 1), then mapped to [-1, 1).
            (z >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gradient_of_a_cubic() {
        // f(x) = x0^3 + x0 x1, so df = (3 x0^2 + x1, x0).
        let f = |x: &[f64]| x[0].powi(3) + x[0] * x[1];
        let x = [0.7, -1.3];
        let numeric = numeric_gradient(f, &x, 1e-5);
        assert_gradient_close("cubic", &[3.0 * 0.49 - 1.3, 0.7], &numeric, 1e-8);
    }

    #[test]
    #[should_panic(expected = "analytic")]
    fn a_wrong_gradient_is_caught() {
        let numeric = numeric_gradient(|x| x[0] * x[0], &[2.0], 1e-5);
        assert_gradient_close("square", &[3.0], &numeric, 1e-6);
    }

    #[test]
    fn pseudo_random_is_seeded_and_in_range() {
        let a = pseudo_random(3, 1000);
        assert_eq!(a, pseudo_random(3, 1000));
        assert_ne!(a, pseudo_random(4, 1000));
        assert!(a.iter().all(|v| (-1.0..1.0).contains(v)));
        let mean = a.iter().sum::<f64>() / a.len() as f64;
        assert!(mean.abs() < 0.1, "mean {mean}");
    }
}
