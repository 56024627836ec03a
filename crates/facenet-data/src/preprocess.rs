//! Image preprocessing: decode, centre-crop, resize, scale to [-1, 1], CHW `f32`.
//!
//! SPEC section 1 fixes the crops: ORL (92x112) and Yale (320x243) take the centre square of the
//! shorter side ([`Crop::CentreSquare`]), aligned LFW (250x250) the centre 128x128
//! ([`Crop::CentreFraction`] of 0.512). The crop is then resized to `size` x `size`: area
//! averaging when shrinking, so every source pixel counts, and bilinear when enlarging. The
//! resize is separable: one pass along rows, one along columns, with the same weights.

use std::path::Path;

use image::DynamicImage;

use crate::DataError;

/// Which part of the decoded image becomes the network input.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Crop {
    /// The centre square of side `min(width, height)`.
    CentreSquare,
    /// The centre square of side `fraction * min(width, height)` (rounded, at least 1 pixel).
    CentreFraction(f32),
}

/// How an image file becomes a `channels x size x size` tensor.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ImageSpec {
    /// Output side in pixels.
    pub size: usize,
    /// 1 = greyscale (colour converted by luma), 3 = RGB (grey replicated).
    pub channels: usize,
    /// The crop taken before resizing.
    pub crop: Crop,
}

impl ImageSpec {
    /// Greyscale `size` x `size` from the centre square: the ORL and Yale preset.
    pub fn grey(size: usize) -> Self {
        ImageSpec {
            size,
            channels: 1,
            crop: Crop::CentreSquare,
        }
    }

    /// Floats per image: `channels * size * size`.
    pub fn len(&self) -> usize {
        self.channels * self.size * self.size
    }

    /// True when the spec describes zero pixels (never true for a validated spec).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Checks the values a config file may get wrong.
    pub fn validate(&self) -> Result<(), DataError> {
        if self.size == 0 {
            return Err(DataError::InvalidSpec("size must be at least 1".into()));
        }
        if self.channels != 1 && self.channels != 3 {
            let msg = format!("channels must be 1 or 3, got {}", self.channels);
            return Err(DataError::InvalidSpec(msg));
        }
        if let Crop::CentreFraction(f) = self.crop
            && !(f > 0.0 && f <= 1.0)
        {
            let msg = format!("crop fraction must be in (0, 1], got {f}");
            return Err(DataError::InvalidSpec(msg));
        }
        Ok(())
    }
}

/// Decodes `path` (format sniffed from its content, not its name) and preprocesses it.
pub fn load_image(path: &Path, spec: &ImageSpec) -> Result<Vec<f32>, DataError> {
    spec.validate()?;
    let image = decode(path)?;
    Ok(preprocess(&image, spec))
}

/// Decodes an image file, guessing its format from the first bytes.
pub fn decode(path: &Path) -> Result<DynamicImage, DataError> {
    let reader = image::ImageReader::open(path).map_err(|e| DataError::io(path, e))?;
    let reader = reader
        .with_guessed_format()
        .map_err(|e| DataError::io(path, e))?;
    reader.decode().map_err(|e| DataError::Decode {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

/// Crops, resizes and scales a decoded image to CHW `f32` in [-1, 1].
pub fn preprocess(image: &DynamicImage, spec: &ImageSpec) -> Vec<f32> {
    assert!(
        spec.validate().is_ok(),
        "preprocess needs a valid spec: {spec:?}"
    );
    let (width, height) = (image.width() as usize, image.height() as usize);

    // Planes in [0, 1], one per output channel, row-major.
    let planes: Vec<Vec<f32>> = if spec.channels == 1 {
        vec![image.to_luma32f().into_raw()]
    } else if image.color().has_color() {
        let rgb = image.to_rgb32f().into_raw();
        (0..3)
            .map(|c| rgb.iter().skip(c).step_by(3).copied().collect())
            .collect()
    } else {
        let grey = image.to_luma32f().into_raw();
        vec![grey.clone(), grey.clone(), grey]
    };

    let (x0, y0, side) = crop_rect(width, height, spec.crop);
    let weights = resample_weights(side, spec.size);
    let mut out = Vec::with_capacity(spec.len());
    for plane in &planes {
        let resized = resize_square(plane, width, (x0, y0), side, &weights, spec.size);
        out.extend(resized.iter().map(|v| (v * 2.0 - 1.0).clamp(-1.0, 1.0)));
    }
    out
}

/// The crop as `(x0, y0, side)`: a centred square inside a `width` x `height` image.
/// An odd margin puts the extra pixel on the right or bottom.
pub fn crop_rect(width: usize, height: usize, crop: Crop) -> (usize, usize, usize) {
    let short = width.min(height);
    let side = match crop {
        Crop::CentreSquare => short,
        Crop::CentreFraction(f) => ((f * short as f32).round() as usize).clamp(1, short.max(1)),
    };
    ((width - side) / 2, (height - side) / 2, side)
}

/// For every output index, the source indices and weights (summing to 1) of a 1-D resample
/// from `src` to `dst` samples: area averaging when shrinking, bilinear (pixel centres aligned)
/// when enlarging, identity when equal.
pub fn resample_weights(src: usize, dst: usize) -> Vec<Vec<(usize, f32)>> {
    assert!(src > 0 && dst > 0, "resample from {src} to {dst} samples");
    let scale = src as f64 / dst as f64;
    (0..dst)
        .map(|o| {
            if src >= dst {
                area_weights(o, scale, src)
            } else {
                bilinear_weights(o, scale, src)
            }
        })
        .collect()
}

/// Output sample `o` covers source interval `[o * scale, (o + 1) * scale)`; each source pixel
/// weighs by its overlap with it.
fn area_weights(o: usize, scale: f64, src: usize) -> Vec<(usize, f32)> {
    let (lo, hi) = (o as f64 * scale, (o as f64 + 1.0) * scale);
    let first = lo.floor() as usize;
    let last = (hi.ceil() as usize).min(src);
    (first..last)
        .map(|s| {
            let overlap = (hi.min(s as f64 + 1.0) - lo.max(s as f64)).max(0.0);
            (s, (overlap / scale) as f32)
        })
        .filter(|&(_, w)| w > 0.0)
        .collect()
}

fn bilinear_weights(o: usize, scale: f64, src: usize) -> Vec<(usize, f32)> {
    let x = ((o as f64 + 0.5) * scale - 0.5).clamp(0.0, (src - 1) as f64);
    let left = x.floor() as usize;
    let right = (left + 1).min(src - 1);
    let t = (x - left as f64) as f32;
    if right == left || t == 0.0 {
        vec![(left, 1.0)]
    } else {
        vec![(left, 1.0 - t), (right, t)]
    }
}

/// Resizes the `side` x `side` square at `origin` of a row-major plane of width `stride`.
fn resize_square(
    plane: &[f32],
    stride: usize,
    origin: (usize, usize),
    side: usize,
    weights: &[Vec<(usize, f32)>],
    size: usize,
) -> Vec<f32> {
    let (x0, y0) = origin;

    // Rows first: side rows of `size` samples each.
    let mut rows = vec![0.0f32; side * size];
    for y in 0..side {
        let src = &plane[(y0 + y) * stride + x0..][..side];
        for (ox, taps) in weights.iter().enumerate() {
            rows[y * size + ox] = taps.iter().map(|&(s, w)| src[s] * w).sum();
        }
    }

    // Then columns.
    let mut out = vec![0.0f32; size * size];
    for (oy, taps) in weights.iter().enumerate() {
        for &(s, w) in taps {
            let src = &rows[s * size..][..size];
            for (o, v) in out[oy * size..][..size].iter_mut().zip(src) {
                *o += v * w;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{GrayImage, Luma, Rgb, RgbImage};

    fn grey_image(width: u32, height: u32, values: &[u8]) -> DynamicImage {
        let buf = GrayImage::from_raw(width, height, values.to_vec()).unwrap();
        DynamicImage::ImageLuma8(buf)
    }

    fn to_unit(v: f32) -> f32 {
        (v + 1.0) / 2.0
    }

    #[test]
    fn crop_rect_matches_spec_presets() {
        // ORL 92x112 -> 92x92 starting 10 rows down; Yale 320x243 -> 243x243 at column 38.
        assert_eq!(crop_rect(92, 112, Crop::CentreSquare), (0, 10, 92));
        assert_eq!(crop_rect(320, 243, Crop::CentreSquare), (38, 0, 243));
        // LFW 250x250 -> centre 128x128.
        assert_eq!(
            crop_rect(250, 250, Crop::CentreFraction(0.512)),
            (61, 61, 128)
        );
    }

    #[test]
    fn four_by_two_crops_to_centre_and_averages_to_one_pixel() {
        // Columns 1 and 2 form the centre 2x2 square: values 20, 30, 60, 70.
        let image = grey_image(4, 2, &[10, 20, 30, 40, 50, 60, 70, 80]);
        let out = preprocess(&image, &ImageSpec::grey(1));
        let expected = (20.0 + 30.0 + 60.0 + 70.0) / 4.0 / 255.0;
        assert_eq!(out.len(), 1);
        assert!((to_unit(out[0]) - expected).abs() < 1e-6, "{out:?}");
    }

    #[test]
    fn area_shrink_by_non_integer_factor_weighs_partial_pixels() {
        // 3 -> 2: output 0 covers source [0, 1.5): pixel 0 fully, pixel 1 half.
        let w = resample_weights(3, 2);
        assert_eq!(w[0], vec![(0, 2.0 / 3.0), (1, 1.0 / 3.0)]);
        assert_eq!(w[1], vec![(1, 1.0 / 3.0), (2, 2.0 / 3.0)]);
        for taps in resample_weights(112, 64) {
            let total: f32 = taps.iter().map(|t| t.1).sum();
            assert!((total - 1.0).abs() < 1e-5, "{taps:?}");
        }
    }

    #[test]
    fn enlarging_is_bilinear_with_aligned_centres() {
        // 2 -> 4: output centres at source -0.25, 0.25, 0.75, 1.25 (clamped at the edges).
        let spec = ImageSpec::grey(4);
        let image = grey_image(2, 2, &[0, 255, 0, 255]);
        let out: Vec<f32> = preprocess(&image, &spec)
            .iter()
            .map(|&v| to_unit(v))
            .collect();
        let row = &out[..4];
        let expected = [0.0, 0.25, 0.75, 1.0];
        for (got, want) in row.iter().zip(expected) {
            assert!((got - want).abs() < 1e-6, "{row:?}");
        }
    }

    #[test]
    fn colour_becomes_luma_and_grey_is_replicated() {
        let red = DynamicImage::ImageRgb8(RgbImage::from_pixel(2, 2, Rgb([255, 0, 0])));
        let grey = to_unit(preprocess(&red, &ImageSpec::grey(1))[0]);
        assert!((grey - 0.2126).abs() < 0.01, "luma of pure red: {grey}");

        let spec = ImageSpec {
            size: 2,
            channels: 3,
            crop: Crop::CentreSquare,
        };
        let rgb = preprocess(&red, &spec);
        assert_eq!(&rgb[..4], &[1.0; 4]);
        assert_eq!(&rgb[4..], &[-1.0; 8]);

        let mid = DynamicImage::ImageLuma8(GrayImage::from_pixel(3, 3, Luma([51])));
        let out = preprocess(&mid, &spec);
        assert_eq!(out.len(), 12);
        assert!(
            out.iter().all(|&v| (to_unit(v) - 0.2).abs() < 1e-6),
            "{out:?}"
        );
    }

    #[test]
    fn invalid_specs_are_errors_that_name_the_value() {
        let bad = ImageSpec {
            size: 64,
            channels: 2,
            crop: Crop::CentreSquare,
        };
        assert!(bad.validate().unwrap_err().to_string().contains("got 2"));
        let bad = ImageSpec {
            crop: Crop::CentreFraction(1.5),
            ..ImageSpec::grey(64)
        };
        assert!(bad.validate().unwrap_err().to_string().contains("1.5"));
        let bad = ImageSpec::grey(0);
        assert!(bad.validate().is_err());
    }
}
