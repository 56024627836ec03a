//! Reference GEMM: `C = alpha * op(A) * op(B) + beta * C + bias`, batched.

/// The shape and scalars of a GEMM. Operands are packed row-major per batch: A is M x K
/// (K x M when `trans_a`), B is K x N (N x K when `trans_b`), C is M x N, and the optional
/// bias holds N values, one per column of C.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GemmDesc {
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub batch: usize,
    pub trans_a: bool,
    pub trans_b: bool,
    pub alpha: f32,
    pub beta: f32,
}

impl GemmDesc {
    /// `C = A * B` for one batch.
    pub fn new(m: usize, n: usize, k: usize) -> Self {
        Self {
            m,
            n,
            k,
            batch: 1,
            trans_a: false,
            trans_b: false,
            alpha: 1.0,
            beta: 0.0,
        }
    }

    pub fn transposed(mut self, trans_a: bool, trans_b: bool) -> Self {
        self.trans_a = trans_a;
        self.trans_b = trans_b;
        self
    }

    pub fn scaled(mut self, alpha: f32, beta: f32) -> Self {
        self.alpha = alpha;
        self.beta = beta;
        self
    }

    pub fn batched(mut self, batch: usize) -> Self {
        self.batch = batch;
        self
    }

    pub fn a_len(&self) -> usize {
        self.batch * self.m * self.k
    }

    pub fn b_len(&self) -> usize {
        self.batch * self.k * self.n
    }

    pub fn c_len(&self) -> usize {
        self.batch * self.m * self.n
    }

    /// Floating-point operations, counting a multiply-add as two.
    pub fn flops(&self) -> f64 {
        2.0 * (self.batch * self.m * self.n * self.k) as f64
    }

    /// Element (row, col) of op(A) in batch b.
    pub fn a_at(&self, a: &[f32], b: usize, row: usize, col: usize) -> f32 {
        let base = b * self.m * self.k;
        if self.trans_a {
            a[base + col * self.m + row]
        } else {
            a[base + row * self.k + col]
        }
    }

    /// Element (row, col) of op(B) in batch b.
    pub fn b_at(&self, bm: &[f32], b: usize, row: usize, col: usize) -> f32 {
        let base = b * self.k * self.n;
        if self.trans_b {
            bm[base + col * self.k + row]
        } else {
            bm[base + row * self.n + col]
        }
    }
}

/// Computes the GEMM described by `desc` in place on `c`, accumulating in f64.
pub fn gemm(desc: &GemmDesc, a: &[f32], b: &[f32], bias: Option<&[f32]>, c: &mut [f32]) {
    assert_eq!(a.len(), desc.a_len(), "A length for {desc:?}");
    assert_eq!(b.len(), desc.b_len(), "B length for {desc:?}");
    assert_eq!(c.len(), desc.c_len(), "C length for {desc:?}");
    if let Some(bias) = bias {
        assert_eq!(bias.len(), desc.n, "bias length for {desc:?}");
    }
    for batch in 0..desc.batch {
        for row in 0..desc.m {
            for col in 0..desc.n {
                let mut acc = 0.0f64;
                for kk in 0..desc.k {
                    acc += f64::from(desc.a_at(a, batch, row, kk))
                        * f64::from(desc.b_at(b, batch, kk, col));
                }
                let out = &mut c[batch * desc.m * desc.n + row * desc.n + col];
                let mut value = f64::from(desc.alpha) * acc;
                if desc.beta != 0.0 {
                    value += f64::from(desc.beta) * f64::from(*out);
                }
                if let Some(bias) = bias {
                    value += f64::from(bias[col]);
                }
                *out = value as f32;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_by_two_by_hand() {
        // [1 2; 3 4] * [5 6; 7 8] = [19 22; 43 50]
        let a = [1.0, 2.0, 3.0, 4.0];
        let b = [5.0, 6.0, 7.0, 8.0];
        let mut c = [0.0; 4];
        gemm(&GemmDesc::new(2, 2, 2), &a, &b, None, &mut c);
        assert_eq!(c, [19.0, 22.0, 43.0, 50.0]);
    }

    #[test]
    fn transposes_alpha_beta_bias() {
        // A^T with A stored 2 x 1 = [1; 2] is the row [1 2]; B^T with B stored 1 x 2 = [3 4]
        // is the column [3; 4]. 0.5 * (1*3 + 2*4) + 2 * 10 + 1 = 26.5
        let desc = GemmDesc::new(1, 1, 2)
            .transposed(true, true)
            .scaled(0.5, 2.0);
        let mut c = [10.0];
        gemm(&desc, &[1.0, 2.0], &[3.0, 4.0], Some(&[1.0]), &mut c);
        assert_eq!(c, [26.5]);
    }

    #[test]
    fn batches_are_independent() {
        let desc = GemmDesc::new(1, 1, 1).batched(2);
        let mut c = [0.0; 2];
        gemm(&desc, &[2.0, 3.0], &[4.0, 5.0], None, &mut c);
        assert_eq!(c, [8.0, 15.0]);
    }

    #[test]
    fn beta_zero_ignores_nan_in_c() {
        let mut c = [f32::NAN];
        gemm(&GemmDesc::new(1, 1, 1), &[2.0], &[3.0], None, &mut c);
        assert_eq!(c, [6.0]);
    }
}
