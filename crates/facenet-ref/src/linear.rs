//! Reference fully connected layer in PyTorch's layout.
//!
//! `x [batch, in]`, `weight [out, in]`, `bias [out]`, `y [batch, out]`:
//! `y = x W^T + b`. Backward: `dx = dy W`, `dW = dy^T x`, `db = sum over the batch of dy`.
//! The backward overwrites its outputs; it does not accumulate into them.

use crate::Real;

fn check_len(what: &str, len: usize, rows: usize, cols: usize) {
    assert_eq!(
        len,
        rows * cols,
        "{what} has {len} values, [{rows}, {cols}] needs {}",
        rows * cols
    );
}

/// `y[b, o] = bias[o] + sum_i x[b, i] * weight[o, i]`, accumulated in f64.
pub fn linear_forward<T: Real>(
    batch: usize,
    in_features: usize,
    out_features: usize,
    x: &[T],
    weight: &[T],
    bias: &[T],
    y: &mut [T],
) {
    check_len("x", x.len(), batch, in_features);
    check_len("weight", weight.len(), out_features, in_features);
    check_len("bias", bias.len(), out_features, 1);
    check_len("y", y.len(), batch, out_features);
    for b in 0..batch {
        let x_row = &x[b * in_features..(b + 1) * in_features];
        for o in 0..out_features {
            let w_row = &weight[o * in_features..(o + 1) * in_features];
            let dot: f64 = x_row
                .iter()
                .zip(w_row)
                .map(|(a, w)| a.to_f64() * w.to_f64())
                .sum();
            y[b * out_features + o] = T::from_f64(bias[o].to_f64() + dot);
        }
    }
}

/// The gradients of [`linear_forward`] with respect to `x`, `weight` and `bias`.
#[allow(clippy::too_many_arguments)]
pub fn linear_backward<T: Real>(
    batch: usize,
    in_features: usize,
    out_features: usize,
    x: &[T],
    weight: &[T],
    dy: &[T],
    dx: &mut [T],
    dweight: &mut [T],
    dbias: &mut [T],
) {
    check_len("x", x.len(), batch, in_features);
    check_len("weight", weight.len(), out_features, in_features);
    check_len("dy", dy.len(), batch, out_features);
    check_len("dx", dx.len(), batch, in_features);
    check_len("dweight", dweight.len(), out_features, in_features);
    check_len("dbias", dbias.len(), out_features, 1);
    let (n_in, n_out) = (in_features, out_features);
    for b in 0..batch {
        for i in 0..n_in {
            let sum: f64 = (0..n_out)
                .map(|o| dy[b * n_out + o].to_f64() * weight[o * n_in + i].to_f64())
                .sum();
            dx[b * n_in + i] = T::from_f64(sum);
        }
    }
    for o in 0..n_out {
        for i in 0..n_in {
            let sum: f64 = (0..batch)
                .map(|b| dy[b * n_out + o].to_f64() * x[b * n_in + i].to_f64())
                .sum();
            dweight[o * n_in + i] = T::from_f64(sum);
        }
    }
    crate::reduce::reduce_sum(1, batch, n_out, 1.0, dy, dbias);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::{assert_gradient_close, numeric_gradient, pseudo_random, weighted_sum};

    #[test]
    fn by_hand() {
        // x = [1 2], W = [[1 0], [2 -1], [0 3]], b = [0.5 0 -1] -> y = [1.5 0 5]
        let mut y = [0.0f32; 3];
        linear_forward(
            1,
            2,
            3,
            &[1.0, 2.0],
            &[1.0, 0.0, 2.0, -1.0, 0.0, 3.0],
            &[0.5, 0.0, -1.0],
            &mut y,
        );
        assert_eq!(y, [1.5, 0.0, 5.0]);
    }

    #[test]
    fn backward_matches_finite_differences() {
        let (batch, n_in, n_out) = (3, 4, 5);
        let x = pseudo_random(1, batch * n_in);
        let weight = pseudo_random(2, n_out * n_in);
        let bias = pseudo_random(3, n_out);
        let w = pseudo_random(4, batch * n_out);
        let loss = |x: &[f64], weight: &[f64], bias: &[f64]| {
            let mut y = vec![0.0; batch * n_out];
            linear_forward(batch, n_in, n_out, x, weight, bias, &mut y);
            weighted_sum(&w, &y)
        };
        let mut dx = vec![0.0; x.len()];
        let mut dweight = vec![0.0; weight.len()];
        let mut dbias = vec![0.0; bias.len()];
        linear_backward(
            batch,
            n_in,
            n_out,
            &x,
            &weight,
            &w,
            &mut dx,
            &mut dweight,
            &mut dbias,
        );

        let h = 1e-6;
        let numeric = numeric_gradient(|p| loss(p, &weight, &bias), &x, h);
        assert_gradient_close("dx", &dx, &numeric, 1e-7);
        let numeric = numeric_gradient(|p| loss(&x, p, &bias), &weight, h);
        assert_gradient_close("dweight", &dweight, &numeric, 1e-7);
        let numeric = numeric_gradient(|p| loss(&x, &weight, p), &bias, h);
        assert_gradient_close("dbias", &dbias, &numeric, 1e-7);
    }
}
