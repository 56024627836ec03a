//! Reference 2-D convolution and ReLU, forward and backward.
//!
//! Layouts: activations NCHW, weight `[C_out, C_in, R, S]` with square kernels (R = S), bias
//! `[C_out]`. `y[n, o, oh, ow] = bias[o] + sum_{c, r, s} x[n, c, oh * stride + r - padding,
//! ow * stride + s - padding] * w[o, c, r, s]`, where taps outside the input read zero.
//! The loops below follow that formula directly and accumulate in f64; the f32 functions wrap
//! f64 twins, which the finite-difference tests differentiate.

/// The shape of one convolution layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Conv2dDesc {
    pub batch: usize,
    pub c_in: usize,
    pub h: usize,
    pub w: usize,
    pub c_out: usize,
    /// Side of the square kernel (R = S).
    pub kernel: usize,
    pub stride: usize,
    pub padding: usize,
}

impl Conv2dDesc {
    pub fn out_h(&self) -> usize {
        self.out_size(self.h)
    }

    pub fn out_w(&self) -> usize {
        self.out_size(self.w)
    }

    fn out_size(&self, size: usize) -> usize {
        assert!(self.stride > 0, "stride must be positive in {self:?}");
        assert!(
            size + 2 * self.padding >= self.kernel,
            "kernel larger than the padded input in {self:?}"
        );
        (size + 2 * self.padding - self.kernel) / self.stride + 1
    }

    pub fn input_len(&self) -> usize {
        self.batch * self.c_in * self.h * self.w
    }

    pub fn output_len(&self) -> usize {
        self.batch * self.c_out * self.out_h() * self.out_w()
    }

    pub fn weight_len(&self) -> usize {
        self.c_out * self.c_in * self.kernel * self.kernel
    }

    /// Floating-point operations of the forward pass, a multiply-add counted as two:
    /// `2 * N * C_out * H_out * W_out * C_in * R * S`. Each backward does the same work.
    pub fn flops(&self) -> f64 {
        2.0 * (self.output_len() * self.c_in * self.kernel * self.kernel) as f64
    }

    /// The input coordinate tap (r, s) of output (oh, ow) reads, or `None` in the padding.
    fn tap(&self, oh: usize, ow: usize, r: usize, s: usize) -> Option<(usize, usize)> {
        let ih = (oh * self.stride + r).checked_sub(self.padding)?;
        let iw = (ow * self.stride + s).checked_sub(self.padding)?;
        (ih < self.h && iw < self.w).then_some((ih, iw))
    }

    fn x_index(&self, n: usize, c: usize, ih: usize, iw: usize) -> usize {
        ((n * self.c_in + c) * self.h + ih) * self.w + iw
    }

    fn y_index(&self, n: usize, o: usize, oh: usize, ow: usize) -> usize {
        ((n * self.c_out + o) * self.out_h() + oh) * self.out_w() + ow
    }

    fn w_index(&self, o: usize, c: usize, r: usize, s: usize) -> usize {
        ((o * self.c_in + c) * self.kernel + r) * self.kernel + s
    }

    fn check_lengths(&self, x: usize, weight: usize, y: usize) {
        assert_eq!(x, self.input_len(), "input length for {self:?}");
        assert_eq!(weight, self.weight_len(), "weight length for {self:?}");
        assert_eq!(y, self.output_len(), "output length for {self:?}");
    }
}

fn widen(values: &[f32]) -> Vec<f64> {
    values.iter().map(|&v| f64::from(v)).collect()
}

fn narrow(values: &[f64], out: &mut [f32]) {
    for (o, &v) in out.iter_mut().zip(values) {
        *o = v as f32;
    }
}

/// `y = conv(x, weight) + bias`, overwriting `y`.
pub fn conv2d_forward(desc: &Conv2dDesc, x: &[f32], weight: &[f32], bias: &[f32], y: &mut [f32]) {
    let mut out = vec![0.0; y.len()];
    conv2d_forward_f64(desc, &widen(x), &widen(weight), &widen(bias), &mut out);
    narrow(&out, y);
}

/// `dx = d(sum(y * dy)) / dx` for `y = conv(x)`, overwriting `dx`.
pub fn conv2d_backward_data(desc: &Conv2dDesc, dy: &[f32], weight: &[f32], dx: &mut [f32]) {
    let mut out = vec![0.0; dx.len()];
    conv2d_backward_data_f64(desc, &widen(dy), &widen(weight), &mut out);
    narrow(&out, dx);
}

/// The weight and bias gradients of `sum(y * dy)`, overwriting `dweight` and `dbias`.
pub fn conv2d_backward_weight(
    desc: &Conv2dDesc,
    x: &[f32],
    dy: &[f32],
    dweight: &mut [f32],
    dbias: &mut [f32],
) {
    let mut dw = vec![0.0; dweight.len()];
    let mut db = vec![0.0; dbias.len()];
    conv2d_backward_weight_f64(desc, &widen(x), &widen(dy), &mut dw, &mut db);
    narrow(&dw, dweight);
    narrow(&db, dbias);
}

/// The f64 twin of [`conv2d_forward`].
pub fn conv2d_forward_f64(
    desc: &Conv2dDesc,
    x: &[f64],
    weight: &[f64],
    bias: &[f64],
    y: &mut [f64],
) {
    desc.check_lengths(x.len(), weight.len(), y.len());
    assert_eq!(bias.len(), desc.c_out, "bias length for {desc:?}");
    let k = desc.kernel;
    for n in 0..desc.batch {
        for o in 0..desc.c_out {
            for oh in 0..desc.out_h() {
                for ow in 0..desc.out_w() {
                    let mut acc = bias[o];
                    for c in 0..desc.c_in {
                        for r in 0..k {
                            for s in 0..k {
                                if let Some((ih, iw)) = desc.tap(oh, ow, r, s) {
                                    acc += x[desc.x_index(n, c, ih, iw)]
                                        * weight[desc.w_index(o, c, r, s)];
                                }
                            }
                        }
                    }
                    y[desc.y_index(n, o, oh, ow)] = acc;
                }
            }
        }
    }
}

/// The f64 twin of [`conv2d_backward_data`]: every output pixel scatters `dy * w` back onto
/// the input pixels its taps read.
pub fn conv2d_backward_data_f64(desc: &Conv2dDesc, dy: &[f64], weight: &[f64], dx: &mut [f64]) {
    desc.check_lengths(dx.len(), weight.len(), dy.len());
    dx.fill(0.0);
    let k = desc.kernel;
    for n in 0..desc.batch {
        for o in 0..desc.c_out {
            for oh in 0..desc.out_h() {
                for ow in 0..desc.out_w() {
                    let g = dy[desc.y_index(n, o, oh, ow)];
                    for c in 0..desc.c_in {
                        for r in 0..k {
                            for s in 0..k {
                                if let Some((ih, iw)) = desc.tap(oh, ow, r, s) {
                                    dx[desc.x_index(n, c, ih, iw)] +=
                                        g * weight[desc.w_index(o, c, r, s)];
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The f64 twin of [`conv2d_backward_weight`].
pub fn conv2d_backward_weight_f64(
    desc: &Conv2dDesc,
    x: &[f64],
    dy: &[f64],
    dweight: &mut [f64],
    dbias: &mut [f64],
) {
    desc.check_lengths(x.len(), dweight.len(), dy.len());
    assert_eq!(dbias.len(), desc.c_out, "bias gradient length for {desc:?}");
    dweight.fill(0.0);
    dbias.fill(0.0);
    let k = desc.kernel;
    for n in 0..desc.batch {
        for o in 0..desc.c_out {
            for oh in 0..desc.out_h() {
                for ow in 0..desc.out_w() {
                    let g = dy[desc.y_index(n, o, oh, ow)];
                    dbias[o] += g;
                    for c in 0..desc.c_in {
                        for r in 0..k {
                            for s in 0..k {
                                if let Some((ih, iw)) = desc.tap(oh, ow, r, s) {
                                    dweight[desc.w_index(o, c, r, s)] +=
                                        g * x[desc.x_index(n, c, ih, iw)];
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `y = max(x, 0)`.
pub fn relu_forward(x: &[f32], y: &mut [f32]) {
    assert_eq!(x.len(), y.len(), "relu input and output lengths");
    for (y, &x) in y.iter_mut().zip(x) {
        *y = x.max(0.0);
    }
}

/// `dx = dy` where the forward output `y > 0`, else 0 (the subgradient 0 at the kink).
pub fn relu_backward(y: &[f32], dy: &[f32], dx: &mut [f32]) {
    assert_eq!(y.len(), dy.len(), "relu output and gradient lengths");
    assert_eq!(y.len(), dx.len(), "relu gradient lengths");
    for ((dx, &dy), &y) in dx.iter_mut().zip(dy).zip(y) {
        *dx = if y > 0.0 { dy } else { 0.0 };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::{
        assert_gradient_close, numeric_gradient, pseudo_random as values, weighted_sum as dot,
    };

    /// Central differences with h = 1e-5 in f64 leave about 1e-9 of error on these smooth
    /// (piecewise linear) functions; 1e-6 is far above that and far below any real mistake.
    #[track_caller]
    fn assert_gradient(what: &str, f: impl Fn(&[f64]) -> f64, x: &[f64], analytic: &[f64]) {
        assert_gradient_close(what, analytic, &numeric_gradient(f, x, 1e-5), 1e-6);
    }

    fn desc(
        batch: usize,
        c_in: usize,
        hw: (usize, usize),
        c_out: usize,
        ksp: [usize; 3],
    ) -> Conv2dDesc {
        Conv2dDesc {
            batch,
            c_in,
            h: hw.0,
            w: hw.1,
            c_out,
            kernel: ksp[0],
            stride: ksp[1],
            padding: ksp[2],
        }
    }

    /// Small shapes covering stride 1 and 2, padding 0 to 2, kernels 1 to 5, odd sizes.
    fn shapes() -> Vec<Conv2dDesc> {
        vec![
            desc(1, 1, (4, 5), 2, [3, 1, 1]),
            desc(2, 3, (5, 5), 2, [3, 2, 1]),
            desc(1, 2, (7, 6), 3, [5, 2, 2]),
            desc(2, 2, (3, 4), 3, [1, 1, 0]),
            desc(1, 2, (6, 7), 2, [2, 3, 0]),
        ]
    }

    #[test]
    fn one_channel_by_hand() {
        // 3x3 input 1..9, 2x2 kernel of ones, no padding: each output sums a 2x2 window.
        let d = desc(1, 1, (3, 3), 1, [2, 1, 0]);
        let x: Vec<f32> = (1..=9).map(|v| v as f32).collect();
        let mut y = [0.0; 4];
        conv2d_forward(&d, &x, &[1.0; 4], &[0.5], &mut y);
        assert_eq!(y, [12.5, 16.5, 24.5, 28.5]);
    }

    #[test]
    fn padding_and_stride_shape() {
        let d = desc(1, 1, (7, 6), 1, [3, 2, 1]);
        assert_eq!((d.out_h(), d.out_w()), (4, 3));
        assert_eq!(d.flops(), 2.0 * 12.0 * 9.0);
    }

    #[test]
    fn backward_data_matches_finite_differences() {
        for (i, d) in shapes().into_iter().enumerate() {
            let (x, w, b) = (
                values(i as u64, d.input_len()),
                values(50, d.weight_len()),
                values(60, d.c_out),
            );
            // loss = sum(y * r) for a fixed r, so dL/dy = r.
            let r = values(70, d.output_len());
            let loss = |x: &[f64]| {
                let mut y = vec![0.0; d.output_len()];
                conv2d_forward_f64(&d, x, &w, &b, &mut y);
                dot(&y, &r)
            };
            let mut dx = vec![0.0; d.input_len()];
            conv2d_backward_data_f64(&d, &r, &w, &mut dx);
            assert_gradient(&format!("dx {d:?}"), loss, &x, &dx);
        }
    }

    #[test]
    fn backward_weight_and_bias_match_finite_differences() {
        for (i, d) in shapes().into_iter().enumerate() {
            let (x, w, b) = (
                values(i as u64, d.input_len()),
                values(50, d.weight_len()),
                values(60, d.c_out),
            );
            let r = values(70, d.output_len());
            let mut dw = vec![0.0; d.weight_len()];
            let mut db = vec![0.0; d.c_out];
            conv2d_backward_weight_f64(&d, &x, &r, &mut dw, &mut db);
            let loss_w = |w: &[f64]| {
                let mut y = vec![0.0; d.output_len()];
                conv2d_forward_f64(&d, &x, w, &b, &mut y);
                dot(&y, &r)
            };
            assert_gradient(&format!("dw {d:?}"), loss_w, &w, &dw);
            let loss_b = |b: &[f64]| {
                let mut y = vec![0.0; d.output_len()];
                conv2d_forward_f64(&d, &x, &w, b, &mut y);
                dot(&y, &r)
            };
            assert_gradient(&format!("db {d:?}"), loss_b, &b, &db);
        }
    }

    #[test]
    fn relu_backward_matches_finite_differences() {
        // Keep inputs away from the kink at 0, where the derivative does not exist.
        let x: Vec<f64> = values(3, 40)
            .into_iter()
            .map(|v| if v.abs() < 0.05 { v + 0.1 } else { v })
            .collect();
        let r = values(4, 40);
        let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
        let mut y = vec![0.0; 40];
        relu_forward(&x32, &mut y);
        let r32: Vec<f32> = r.iter().map(|&v| v as f32).collect();
        let mut dx = vec![0.0; 40];
        relu_backward(&y, &r32, &mut dx);
        let loss = |x: &[f64]| x.iter().zip(&r).map(|(x, r)| x.max(0.0) * r).sum::<f64>();
        let analytic: Vec<f64> = dx.iter().map(|&v| f64::from(v)).collect();
        assert_gradient("relu", loss, &x, &analytic);
    }

    #[test]
    fn f32_wrappers_agree_with_f64() {
        let d = shapes()[1];
        let (x, w, b, r) = (
            values(1, d.input_len()),
            values(2, d.weight_len()),
            values(3, d.c_out),
            values(4, d.output_len()),
        );
        let f = |v: &[f64]| v.iter().map(|&v| v as f32).collect::<Vec<f32>>();
        let mut y64 = vec![0.0; d.output_len()];
        conv2d_forward_f64(&d, &x, &w, &b, &mut y64);
        let mut y = vec![0.0; d.output_len()];
        conv2d_forward(&d, &f(&x), &f(&w), &f(&b), &mut y);
        // Inputs are rounded to f32 first, so agreement is to f32 precision of the sums.
        for (a, e) in y.iter().zip(&y64) {
            assert!((f64::from(*a) - e).abs() < 1e-5, "{a} vs {e}");
        }
        let mut dx = vec![0.0; d.input_len()];
        conv2d_backward_data(&d, &f(&r), &f(&w), &mut dx);
        let mut dx64 = vec![0.0; d.input_len()];
        conv2d_backward_data_f64(&d, &r, &w, &mut dx64);
        for (a, e) in dx.iter().zip(&dx64) {
            assert!((f64::from(*a) - e).abs() < 1e-5, "{a} vs {e}");
        }
    }
}
