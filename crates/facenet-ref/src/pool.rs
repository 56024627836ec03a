//! Reference pooling: 2-D max pooling with saved argmax indices, and global average pooling.
//!
//! Layout NCHW. Max pooling follows PyTorch (`ceil_mode = false`, no dilation): padded
//! positions never win, ties go to the first position in row-major scan order of the window,
//! and the index saved per output is the position `ih * w + iw` inside the input plane.
//!
//! Batch normalisation has no kernel: SPEC section 1 records that the reference nets reach
//! the same held-out accuracy without it.

use crate::Real;

/// The shape of a 2-D max pooling over an NCHW tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Pool2dDesc {
    pub batch: usize,
    pub channels: usize,
    pub h: usize,
    pub w: usize,
    /// Square window side.
    pub kernel: usize,
    pub stride: usize,
    /// Implicit padding on each side; at most `kernel / 2`, so no window is all padding.
    pub padding: usize,
}

impl Pool2dDesc {
    pub fn out_h(&self) -> usize {
        self.check();
        (self.h + 2 * self.padding - self.kernel) / self.stride + 1
    }

    pub fn out_w(&self) -> usize {
        self.check();
        (self.w + 2 * self.padding - self.kernel) / self.stride + 1
    }

    pub fn input_len(&self) -> usize {
        self.batch * self.channels * self.h * self.w
    }

    pub fn output_len(&self) -> usize {
        self.batch * self.channels * self.out_h() * self.out_w()
    }

    fn check(&self) {
        assert!(
            self.kernel >= 1 && self.stride >= 1,
            "{self:?}: kernel and stride >= 1"
        );
        assert!(
            self.padding <= self.kernel / 2,
            "{self:?}: padding must be at most kernel / 2 (a window of only padding)"
        );
        assert!(
            self.h + 2 * self.padding >= self.kernel && self.w + 2 * self.padding >= self.kernel,
            "{self:?}: the window is larger than the padded input"
        );
    }
}

/// `y[b, c, oh, ow]` = the maximum of the window, `indices` = where it was in the input plane.
pub fn max_pool2d_forward<T: Real>(desc: &Pool2dDesc, x: &[T], y: &mut [T], indices: &mut [u32]) {
    let (out_h, out_w) = (desc.out_h(), desc.out_w());
    assert_eq!(x.len(), desc.input_len(), "x length for {desc:?}");
    assert_eq!(y.len(), desc.output_len(), "y length for {desc:?}");
    assert_eq!(
        indices.len(),
        desc.output_len(),
        "indices length for {desc:?}"
    );
    let plane = desc.h * desc.w;
    for bc in 0..desc.batch * desc.channels {
        let x_plane = &x[bc * plane..(bc + 1) * plane];
        for oh in 0..out_h {
            for ow in 0..out_w {
                let mut best: Option<(T, usize)> = None;
                for kh in 0..desc.kernel {
                    for kw in 0..desc.kernel {
                        let ih = (oh * desc.stride + kh).checked_sub(desc.padding);
                        let iw = (ow * desc.stride + kw).checked_sub(desc.padding);
                        let (Some(ih), Some(iw)) = (ih, iw) else {
                            continue;
                        };
                        if ih >= desc.h || iw >= desc.w {
                            continue;
                        }
                        let value = x_plane[ih * desc.w + iw];
                        // Strictly greater: the first maximum in scan order keeps its place.
                        if best.is_none_or(|(b, _)| value > b) {
                            best = Some((value, ih * desc.w + iw));
                        }
                    }
                }
                let (value, index) = best.expect("padding <= kernel / 2 leaves a real pixel");
                let o = (bc * out_h + oh) * out_w + ow;
                y[o] = value;
                indices[o] = index as u32;
            }
        }
    }
}

/// `dx[b, c, i]` = the sum of `dy` over the windows whose maximum was input pixel `i`.
pub fn max_pool2d_backward<T: Real>(desc: &Pool2dDesc, dy: &[T], indices: &[u32], dx: &mut [T]) {
    assert_eq!(dy.len(), desc.output_len(), "dy length for {desc:?}");
    assert_eq!(
        indices.len(),
        desc.output_len(),
        "indices length for {desc:?}"
    );
    assert_eq!(dx.len(), desc.input_len(), "dx length for {desc:?}");
    let plane = desc.h * desc.w;
    let out_plane = desc.out_h() * desc.out_w();
    let mut sums = vec![0.0f64; plane];
    for bc in 0..desc.batch * desc.channels {
        sums.fill(0.0);
        for o in bc * out_plane..(bc + 1) * out_plane {
            let index = indices[o] as usize;
            assert!(
                index < plane,
                "index {index} at output {o} outside the {plane}-pixel plane"
            );
            sums[index] += dy[o].to_f64();
        }
        for (d, &s) in dx[bc * plane..(bc + 1) * plane].iter_mut().zip(&sums) {
            *d = T::from_f64(s);
        }
    }
}

/// `y[b, c]` = the mean of the `hw` values of plane `(b, c)`.
pub fn global_avg_pool_forward<T: Real>(
    batch: usize,
    channels: usize,
    hw: usize,
    x: &[T],
    y: &mut [T],
) {
    assert!(hw > 0, "global average pooling over an empty plane");
    crate::reduce::reduce_sum(batch * channels, hw, 1, 1.0 / hw as f32, x, y);
}

/// `dx[b, c, i] = dy[b, c] / hw`.
pub fn global_avg_pool_backward<T: Real>(
    batch: usize,
    channels: usize,
    hw: usize,
    dy: &[T],
    dx: &mut [T],
) {
    assert!(hw > 0, "global average pooling over an empty plane");
    assert_eq!(
        dy.len(),
        batch * channels,
        "dy is not [{batch}, {channels}]"
    );
    assert_eq!(
        dx.len(),
        batch * channels * hw,
        "dx is not [{batch}, {channels}, {hw}]"
    );
    for (plane, &d) in dx.chunks_exact_mut(hw).zip(dy) {
        plane.fill(T::from_f64(d.to_f64() / hw as f64));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::{assert_gradient_close, numeric_gradient, pseudo_random, weighted_sum};

    #[test]
    fn max_pool_by_hand_with_padding_and_ties() {
        // 3 x 3 plane, kernel 2, stride 2, padding 1: windows cover rows/cols {-1,0}, {1,2}.
        let desc = Pool2dDesc {
            batch: 1,
            channels: 1,
            h: 3,
            w: 3,
            kernel: 2,
            stride: 2,
            padding: 1,
        };
        let x = [-5.0f32, 1.0, 1.0, 2.0, 0.0, 3.0, -1.0, 3.0, 3.0];
        let (mut y, mut idx) = ([0.0f32; 4], [0u32; 4]);
        max_pool2d_forward(&desc, &x, &mut y, &mut idx);
        // A negative maximum beside padding: padding (zero) must not win.
        assert_eq!(y, [-5.0, 1.0, 2.0, 3.0]);
        // The tie 1, 1 in the top-right window and 0, 3, 3, 3 in the last: the first wins.
        assert_eq!(idx, [0, 1, 3, 5]);
        let mut dx = [0.0f32; 9];
        max_pool2d_backward(&desc, &[1.0, 2.0, 3.0, 4.0], &idx, &mut dx);
        assert_eq!(dx, [1.0, 2.0, 0.0, 3.0, 0.0, 4.0, 0.0, 0.0, 0.0]);
    }

    #[test]
    fn overlapping_windows_sum_into_one_pixel() {
        // kernel 3 stride 1 on a 3 x 4 plane with one big value: every window picks it.
        let desc = Pool2dDesc {
            batch: 1,
            channels: 1,
            h: 3,
            w: 4,
            kernel: 3,
            stride: 1,
            padding: 0,
        };
        let mut x = [0.0f32; 12];
        x[6] = 9.0;
        let (mut y, mut idx) = ([0.0f32; 2], [0u32; 2]);
        max_pool2d_forward(&desc, &x, &mut y, &mut idx);
        assert_eq!((y, idx), ([9.0, 9.0], [6, 6]));
        let mut dx = [0.0f32; 12];
        max_pool2d_backward(&desc, &[0.5, 0.25], &idx, &mut dx);
        assert_eq!(dx[6], 0.75);
        assert_eq!(dx.iter().sum::<f32>(), 0.75);
    }

    #[test]
    fn max_pool_backward_matches_finite_differences() {
        for (seed, desc) in [
            Pool2dDesc {
                batch: 2,
                channels: 3,
                h: 5,
                w: 7,
                kernel: 3,
                stride: 2,
                padding: 1,
            },
            Pool2dDesc {
                batch: 1,
                channels: 2,
                h: 6,
                w: 5,
                kernel: 2,
                stride: 1,
                padding: 0,
            },
        ]
        .into_iter()
        .enumerate()
        {
            let x = pseudo_random(seed as u64, desc.input_len());
            let w = pseudo_random(100 + seed as u64, desc.output_len());
            let forward = |x: &[f64]| {
                let (mut y, mut idx) = (vec![0.0; desc.output_len()], vec![0; desc.output_len()]);
                max_pool2d_forward(&desc, x, &mut y, &mut idx);
                weighted_sum(&w, &y)
            };
            let (mut y, mut idx) = (vec![0.0; desc.output_len()], vec![0; desc.output_len()]);
            max_pool2d_forward(&desc, &x, &mut y, &mut idx);
            let mut dx = vec![0.0; desc.input_len()];
            max_pool2d_backward(&desc, &w, &idx, &mut dx);
            // The step is far below the gap between distinct random values: no argmax flips.
            let numeric = numeric_gradient(forward, &x, 1e-6);
            assert_gradient_close(&format!("{desc:?}"), &dx, &numeric, 1e-6);
        }
    }

    #[test]
    fn global_avg_pool_backward_matches_finite_differences() {
        let (batch, channels, hw) = (2, 3, 5);
        let x = pseudo_random(7, batch * channels * hw);
        let w = pseudo_random(8, batch * channels);
        let forward = |x: &[f64]| {
            let mut y = vec![0.0; batch * channels];
            global_avg_pool_forward(batch, channels, hw, x, &mut y);
            weighted_sum(&w, &y)
        };
        let mut dx = vec![0.0; x.len()];
        global_avg_pool_backward(batch, channels, hw, &w, &mut dx);
        let numeric = numeric_gradient(forward, &x, 1e-5);
        assert_gradient_close("global average pool", &dx, &numeric, 1e-8);
    }

    #[test]
    fn output_sizes_follow_pytorch() {
        let desc = Pool2dDesc {
            batch: 1,
            channels: 1,
            h: 7,
            w: 8,
            kernel: 3,
            stride: 2,
            padding: 1,
        };
        assert_eq!((desc.out_h(), desc.out_w()), (4, 4));
        let desc = Pool2dDesc {
            kernel: 2,
            padding: 0,
            ..desc
        };
        assert_eq!((desc.out_h(), desc.out_w()), (3, 4));
    }

    #[test]
    #[should_panic(expected = "padding must be at most kernel / 2")]
    fn too_much_padding_is_refused() {
        let desc = Pool2dDesc {
            batch: 1,
            channels: 1,
            h: 4,
            w: 4,
            kernel: 2,
            stride: 2,
            padding: 2,
        };
        desc.out_h();
    }
}
