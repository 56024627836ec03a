//! Procedural faces drawn from a seed: a dataset with no files, for quick runs and tests.
//!
//! Each identity is a random set of face parameters ([`IdentityParams`]): outline, eyes, brows,
//! nose, mouth, skin and hair tone, hairline. Each image of an identity is a fresh draw, seeded
//! by (seed, identity, image), of what should not change identity: pose (in-plane rotation,
//! shift, scale), lighting (a brightness gradient), expression (mouth curve, eye openness, brow
//! raise, gaze), background and pixel noise. `difficulty` scales those nuisances: at 0 the
//! images of one identity are near copies, at 1 the nuisances are as large as the differences
//! between identities, so raw pixel distance no longer tells identities apart.
//!
//! Shapes are signed distance functions in a face frame where the image spans [-1, 1]^2 (y
//! down); coverage `clamp(0.5 - sdf / pixel, 0, 1)` anti-aliases every edge. Colours are RGB
//! in [0, 1]; greyscale output takes the luma.

use std::path::PathBuf;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::{DataError, LoadedImages};

/// What to generate.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SyntheticConfig {
    pub identities: usize,
    pub images_per_identity: usize,
    /// Output side in pixels.
    pub size: usize,
    /// 1 = greyscale, 3 = RGB.
    pub channels: usize,
    pub seed: u64,
    /// Scale of the within-identity nuisances: 0 = near copies, 1 = the default, hard task.
    pub difficulty: f32,
}

impl Default for SyntheticConfig {
    fn default() -> Self {
        SyntheticConfig {
            identities: 100,
            images_per_identity: 10,
            size: 64,
            channels: 1,
            seed: 0,
            difficulty: 1.0,
        }
    }
}

/// The fixed face of one identity, in face-frame units (the image spans [-1, 1], y down).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct IdentityParams {
    /// Semi-axes of the face outline ellipse.
    pub face_rx: f32,
    pub face_ry: f32,
    /// Half the distance between the eye centres.
    pub eye_spacing: f32,
    /// Vertical position of the eyes (negative = above the centre).
    pub eye_height: f32,
    /// Horizontal semi-axis of an eye.
    pub eye_size: f32,
    /// Brow tilt in radians (positive = outer ends up) and stroke half-thickness.
    pub brow_angle: f32,
    pub brow_thickness: f32,
    /// Nose length below the eyes and nostril half-width.
    pub nose_length: f32,
    pub nose_width: f32,
    /// Mouth half-width, curve (positive = smile) and vertical position.
    pub mouth_width: f32,
    pub mouth_curve: f32,
    pub mouth_height: f32,
    pub skin: [f32; 3],
    pub hair: [f32; 3],
    /// Vertical position of the hairline at the face centre.
    pub hairline: f32,
}

/// The per-image draw: pose, lighting, expression, background, noise.
#[derive(Clone, Copy, Debug)]
struct Nuisance {
    angle: f32,
    shift: (f32, f32),
    scale: f32,
    light: (f32, f32),
    mouth_curve: f32,
    eye_open: f32,
    brow_raise: f32,
    gaze: f32,
    background: [f32; 3],
    noise: f32,
}

/// A seeded procedural face dataset.
#[derive(Clone, Debug)]
pub struct SyntheticFaces {
    pub config: SyntheticConfig,
    params: Vec<IdentityParams>,
}

impl SyntheticFaces {
    /// Draws the identities; the images are rendered on demand.
    pub fn new(config: SyntheticConfig) -> Result<SyntheticFaces, DataError> {
        let bad = |msg: String| Err(DataError::InvalidSpec(format!("synthetic faces: {msg}")));
        if config.size < 8 {
            return bad(format!("size must be at least 8, got {}", config.size));
        }
        if config.channels != 1 && config.channels != 3 {
            return bad(format!("channels must be 1 or 3, got {}", config.channels));
        }
        if !(0.0..=2.0).contains(&config.difficulty) {
            return bad(format!(
                "difficulty must be in [0, 2], got {}",
                config.difficulty
            ));
        }
        let params = (0..config.identities)
            .map(|id| draw_identity(&mut rng_for(config.seed, id as u64, u64::MAX)))
            .collect();
        Ok(SyntheticFaces { config, params })
    }

    /// The face parameters of identity `id`.
    pub fn identity_params(&self, id: usize) -> &IdentityParams {
        &self.params[id]
    }

    /// Identity names, `synthetic-0000` onwards, indexed by label.
    pub fn names(&self) -> Vec<String> {
        (0..self.config.identities)
            .map(|id| format!("synthetic-{id:04}"))
            .collect()
    }

    /// Floats per image: `channels * size * size`.
    pub fn image_len(&self) -> usize {
        self.config.channels * self.config.size * self.config.size
    }

    /// Image `image_index` of identity `id`, CHW in [-1, 1].
    pub fn render(&self, id: usize, image_index: usize) -> Vec<f32> {
        let mut out = vec![0.0; self.image_len()];
        self.render_into(id, image_index, &mut out);
        out
    }

    /// As [`SyntheticFaces::render`], into `out` of length [`SyntheticFaces::image_len`].
    pub fn render_into(&self, id: usize, image_index: usize, out: &mut [f32]) {
        assert!(
            id < self.params.len(),
            "identity {id} of {}",
            self.params.len()
        );
        assert_eq!(out.len(), self.image_len(), "output buffer length");
        let mut rng = rng_for(self.config.seed, id as u64, image_index as u64);
        let nuisance = draw_nuisance(&mut rng, self.config.difficulty);
        render_face(&self.params[id], &nuisance, &self.config, &mut rng, out);
    }

    /// Every image of every identity, labelled by identity.
    pub fn to_loaded(&self) -> LoadedImages {
        self.to_loaded_ids(&(0..self.config.identities).collect::<Vec<_>>())
    }

    /// Every image of the identities `ids`; labels index `ids` (label k is identity `ids[k]`).
    pub fn to_loaded_ids(&self, ids: &[usize]) -> LoadedImages {
        let per = self.config.images_per_identity;
        let len = self.image_len();
        let mut pixels = vec![0.0; ids.len() * per * len];
        let jobs: Vec<(usize, usize)> = ids
            .iter()
            .flat_map(|&id| (0..per).map(move |i| (id, i)))
            .collect();

        // Images are independent: split them over the available cores.
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let chunk = jobs.len().div_ceil(threads).max(1);
        std::thread::scope(|scope| {
            for (job_chunk, out_chunk) in jobs.chunks(chunk).zip(pixels.chunks_mut(chunk * len)) {
                scope.spawn(move || {
                    for (&(id, i), out) in job_chunk.iter().zip(out_chunk.chunks_mut(len)) {
                        self.render_into(id, i, out);
                    }
                });
            }
        });

        let names = self.names();
        LoadedImages {
            pixels,
            labels: (0..ids.len() as u32)
                .flat_map(|k| std::iter::repeat_n(k, per))
                .collect(),
            paths: jobs
                .iter()
                .map(|&(id, i)| PathBuf::from(format!("synthetic/{id:04}/{i:03}")))
                .collect(),
            skipped: Vec::new(),
            names: ids.iter().map(|&id| names[id].clone()).collect(),
            channels: self.config.channels,
            size: self.config.size,
        }
    }
}

/// An independent stream for (seed, a, b): splitmix64 over the three values.
fn rng_for(seed: u64, a: u64, b: u64) -> ChaCha8Rng {
    let mut state = seed;
    for v in [a, b] {
        state = splitmix64(state ^ splitmix64(v));
    }
    ChaCha8Rng::seed_from_u64(state)
}

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn draw_identity(rng: &mut ChaCha8Rng) -> IdentityParams {
    let mut u = |lo: f32, hi: f32| rng.random_range(lo..hi);
    let skin_tone = u(0.45, 0.85);
    let skin = [
        skin_tone,
        skin_tone * u(0.75, 0.9),
        skin_tone * u(0.6, 0.78),
    ];
    let hair_tone = u(0.05, 0.7);
    let hair = [
        hair_tone,
        hair_tone * u(0.75, 0.95),
        hair_tone * u(0.55, 0.85),
    ];
    IdentityParams {
        face_rx: u(0.50, 0.66),
        face_ry: u(0.68, 0.84),
        eye_spacing: u(0.19, 0.31),
        eye_height: u(-0.22, -0.05),
        eye_size: u(0.07, 0.12),
        brow_angle: u(-0.3, 0.3),
        brow_thickness: u(0.018, 0.045),
        nose_length: u(0.18, 0.32),
        nose_width: u(0.05, 0.11),
        mouth_width: u(0.13, 0.26),
        mouth_curve: u(-0.05, 0.09),
        mouth_height: u(0.30, 0.45),
        skin,
        hair,
        hairline: u(-0.72, -0.40),
    }
}

fn draw_nuisance(rng: &mut ChaCha8Rng, d: f32) -> Nuisance {
    let mut sym = |half: f32| rng.random_range(-1.0f32..1.0) * half;
    let angle = sym(0.22 * d);
    let shift = (sym(0.10 * d), sym(0.10 * d));
    let scale = 1.0 + sym(0.10 * d);
    let light_angle = sym(std::f32::consts::PI);
    let strength = 0.45 * d * (0.5 + sym(0.5));
    let mouth_curve = sym(0.06 * d);
    let eye_open = 1.0 - 0.4 * d * (1.0 + sym(1.0));
    let brow_raise = sym(0.03 * d);
    let gaze = sym(0.35 * d);
    let grey = 0.5 + sym(0.3 * d.min(1.0));
    let background = [grey + sym(0.05), grey + sym(0.05), grey + sym(0.05)];
    let noise = 0.02 + 0.04 * d;
    Nuisance {
        angle,
        shift,
        scale,
        light: (strength * light_angle.cos(), strength * light_angle.sin()),
        mouth_curve,
        eye_open: eye_open.max(0.08),
        brow_raise,
        gaze,
        background,
        noise,
    }
}

/// Fraction of a pixel of width `pixel` that a shape with signed distance `sdf` covers.
fn coverage(sdf: f32, pixel: f32) -> f32 {
    (0.5 - sdf / pixel).clamp(0.0, 1.0)
}

/// Approximate signed distance to an axis-aligned ellipse (exact on circles).
fn ellipse(x: f32, y: f32, rx: f32, ry: f32) -> f32 {
    let k0 = ((x / rx).powi(2) + (y / ry).powi(2)).sqrt();
    let k1 = ((x / (rx * rx)).powi(2) + (y / (ry * ry)).powi(2)).sqrt();
    if k1 == 0.0 {
        -rx.min(ry)
    } else {
        k0 * (k0 - 1.0) / k1
    }
}

/// Signed distance to a segment from `a` to `b` thickened by `r`.
fn capsule(p: (f32, f32), a: (f32, f32), b: (f32, f32), r: f32) -> f32 {
    let (pax, pay) = (p.0 - a.0, p.1 - a.1);
    let (bax, bay) = (b.0 - a.0, b.1 - a.1);
    let h = ((pax * bax + pay * bay) / (bax * bax + bay * bay)).clamp(0.0, 1.0);
    ((pax - bax * h).powi(2) + (pay - bay * h).powi(2)).sqrt() - r
}

fn blend(dst: &mut [f32; 3], src: [f32; 3], alpha: f32) {
    for c in 0..3 {
        dst[c] += (src[c] - dst[c]) * alpha;
    }
}

fn scaled(colour: [f32; 3], k: f32) -> [f32; 3] {
    colour.map(|c| c * k)
}

/// Colour of the face at face-frame point (x, y); `pixel` is a pixel's width there.
fn shade(f: &IdentityParams, n: &Nuisance, x: f32, y: f32, pixel: f32) -> [f32; 3] {
    let mut colour = n.background;

    // Hair behind and around the head, then the face, then the fringe above the hairline.
    let hair_outline = ellipse(x, y + 0.06, f.face_rx * 1.13, f.face_ry * 1.08);
    blend(&mut colour, f.hair, coverage(hair_outline, pixel));
    let face = ellipse(x, y, f.face_rx, f.face_ry);
    let depth = (1.0 - (x / f.face_rx).powi(2) - (y / f.face_ry).powi(2))
        .max(0.0)
        .sqrt();
    blend(
        &mut colour,
        scaled(f.skin, 0.8 + 0.2 * depth),
        coverage(face, pixel),
    );
    let fringe = hair_outline.max(y - (f.hairline + 0.35 * x * x));
    blend(&mut colour, f.hair, coverage(fringe, pixel));

    // Eyes: white, then the iris clipped to the white; brows above.
    for side in [-1.0f32, 1.0] {
        let (ex, ey) = (x - side * f.eye_spacing, y - f.eye_height);
        let white = ellipse(ex, ey, f.eye_size, f.eye_size * 0.6 * n.eye_open);
        blend(&mut colour, [0.92, 0.92, 0.9], coverage(white, pixel));
        let iris_x = ex - n.gaze * f.eye_size * 0.5;
        let iris = ellipse(iris_x, ey, f.eye_size * 0.45, f.eye_size * 0.45).max(white);
        blend(&mut colour, [0.12, 0.1, 0.08], coverage(iris, pixel));

        let brow_y = -f.eye_size * 0.6 - 0.07 - n.brow_raise;
        let (c, s) = ((side * f.brow_angle).cos(), (side * f.brow_angle).sin());
        let (bx, by) = (ex * c + (ey - brow_y) * s, -ex * s + (ey - brow_y) * c);
        let half = f.eye_size * 1.3;
        let brow = capsule((bx, by), (-half, 0.0), (half, 0.0), f.brow_thickness);
        blend(&mut colour, scaled(f.hair, 0.7), coverage(brow, pixel));
    }

    // Nose: a soft ridge shadow and the nostrils.
    let tip = f.eye_height + f.nose_length;
    let ridge = capsule(
        (x, y),
        (0.0, f.eye_height + 0.05),
        (0.0, tip),
        f.nose_width * 0.22,
    );
    blend(
        &mut colour,
        scaled(f.skin, 0.72),
        0.6 * coverage(ridge, pixel),
    );
    let nostrils = ellipse(x, y - tip, f.nose_width, f.nose_width * 0.4);
    blend(
        &mut colour,
        scaled(f.skin, 0.6),
        0.7 * coverage(nostrils, pixel),
    );

    // Mouth: a parabola stroke, centre lower than the corners when smiling.
    let curve = f.mouth_curve + n.mouth_curve;
    let t = x / f.mouth_width;
    let slope = -2.0 * curve * t / f.mouth_width;
    let along = (y - f.mouth_height - curve * (1.0 - t * t)).abs() / (1.0 + slope * slope).sqrt();
    let mouth = (along - 0.022).max(x.abs() - f.mouth_width);
    let lips = [f.skin[0] * 0.7, f.skin[1] * 0.4, f.skin[2] * 0.42];
    blend(&mut colour, lips, coverage(mouth, pixel));
    colour
}

/// Renders one image into `out` (CHW, [-1, 1]).
fn render_face(
    f: &IdentityParams,
    n: &Nuisance,
    config: &SyntheticConfig,
    rng: &mut ChaCha8Rng,
    out: &mut [f32],
) {
    let size = config.size;
    let step = 2.0 / size as f32;
    let (cos, sin) = (n.angle.cos(), n.angle.sin());
    let pixel = step / n.scale;

    for py in 0..size {
        for px in 0..size {
            // Image point -> face frame: undo the shift, the rotation, then the scale.
            let u = (px as f32 + 0.5) * step - 1.0;
            let v = (py as f32 + 0.5) * step - 1.0;
            let (du, dv) = (u - n.shift.0, v - n.shift.1);
            let x = (cos * du + sin * dv) / n.scale;
            let y = (-sin * du + cos * dv) / n.scale;

            let light = 1.0 + n.light.0 * u + n.light.1 * v;
            let rgb = scaled(shade(f, n, x, y, pixel), light);
            let at = py * size + px;
            if config.channels == 1 {
                let grey = 0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2];
                out[at] = to_signed(grey + n.noise * gaussian(rng));
            } else {
                for (c, value) in rgb.iter().enumerate() {
                    out[c * size * size + at] = to_signed(value + n.noise * gaussian(rng));
                }
            }
        }
    }
}

fn to_signed(v: f32) -> f32 {
    (v.clamp(0.0, 1.0) * 2.0) - 1.0
}

/// Approximately standard normal: the sum of four uniforms, centred and scaled to variance 1.
fn gaussian(rng: &mut ChaCha8Rng) -> f32 {
    let sum: f32 = (0..4).map(|_| rng.random::<f32>()).sum();
    (sum - 2.0) * 3.0f32.sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn faces(seed: u64, difficulty: f32, size: usize, channels: usize) -> SyntheticFaces {
        SyntheticFaces::new(SyntheticConfig {
            identities: 20,
            images_per_identity: 5,
            size,
            channels,
            seed,
            difficulty,
        })
        .unwrap()
    }

    /// Share of images whose nearest other image (squared pixel distance) has their label.
    fn nearest_neighbour_accuracy(loaded: &LoadedImages) -> f32 {
        let n = loaded.len();
        let mut correct = 0;
        for i in 0..n {
            let mut best = (f32::INFINITY, usize::MAX);
            for j in (0..n).filter(|&j| j != i) {
                let d: f32 = loaded
                    .image(i)
                    .iter()
                    .zip(loaded.image(j))
                    .map(|(a, b)| (a - b) * (a - b))
                    .sum();
                if d < best.0 {
                    best = (d, j);
                }
            }
            correct += usize::from(loaded.labels[best.1] == loaded.labels[i]);
        }
        correct as f32 / n as f32
    }

    #[test]
    fn same_seed_same_pixels_other_seed_other_pixels() {
        let a = faces(1, 1.0, 32, 3);
        assert_eq!(a.render(3, 2), faces(1, 1.0, 32, 3).render(3, 2));
        assert_ne!(a.render(3, 2), faces(2, 1.0, 32, 3).render(3, 2));
        assert_ne!(a.render(3, 2), a.render(3, 1));
        assert_ne!(a.identity_params(0), a.identity_params(1));

        let loaded = a.to_loaded();
        assert_eq!(loaded.len(), 100);
        assert_eq!(loaded.pixels.len(), 100 * 3 * 32 * 32);
        assert_eq!(loaded.image(17), a.render(3, 2).as_slice());
        assert_eq!(loaded.labels[17], 3);
        assert!(loaded.pixels.iter().all(|v| (-1.0..=1.0).contains(v)));
    }

    #[test]
    fn raw_pixels_do_not_solve_identity_at_difficulty_one() {
        // 20 identities x 5 images: a random neighbour has the same label 4 times in 99.
        let chance = 4.0 / 99.0;
        let easy = nearest_neighbour_accuracy(&faces(9, 0.0, 32, 1).to_loaded());
        let hard = nearest_neighbour_accuracy(&faces(9, 1.0, 32, 1).to_loaded());
        eprintln!("1-NN accuracy in pixel space: difficulty 0 {easy:.2}, difficulty 1 {hard:.2}");
        assert!(
            easy >= 0.95,
            "difficulty 0 should keep identities apart: {easy}"
        );
        assert!(
            hard < 0.85,
            "difficulty 1 is too easy for raw pixels: {hard}"
        );
        assert!(
            hard > 3.0 * chance,
            "difficulty 1 lost the identity signal: {hard}"
        );
    }

    #[test]
    fn bad_configs_are_errors() {
        let config = SyntheticConfig {
            channels: 2,
            ..Default::default()
        };
        let err = SyntheticFaces::new(config).unwrap_err();
        assert!(err.to_string().contains("got 2"), "{err}");
        let config = SyntheticConfig {
            difficulty: f32::NAN,
            ..Default::default()
        };
        assert!(SyntheticFaces::new(config).is_err());
    }
}
