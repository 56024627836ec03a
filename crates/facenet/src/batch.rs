//! PK batches (P identities x K images each) with seeded augmentation.

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use facenet_data::LoadedImages;

/// Random horizontal flips and shifts of up to `max_shift` pixels (edges replicated).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Augment {
    pub flip: bool,
    pub max_shift: usize,
}

/// A batch ready for a training step.
pub struct Batch {
    /// [P * K, C, H, W]
    pub images: Vec<f32>,
    pub labels: Vec<u32>,
}

/// Draws PK batches from a set of images. The whole draw sequence follows from the RNG, whose
/// position a checkpoint records, so a resumed run sees the same batches.
pub struct PkSampler {
    by_identity: Vec<Vec<usize>>,
    pub p: usize,
    pub k: usize,
    pub augment: Augment,
    pub rng: ChaCha8Rng,
}

impl PkSampler {
    pub fn new(
        set: &LoadedImages,
        p: usize,
        k: usize,
        augment: Augment,
        seed: u64,
    ) -> Result<Self, String> {
        if p < 2 || k < 2 {
            return Err(format!(
                "a batch needs P >= 2 identities and K >= 2 images (got {p} x {k})"
            ));
        }
        let labels = set.labels.iter().max().map_or(0, |&m| m as usize + 1);
        let mut by_identity = vec![Vec::new(); labels];
        for (row, &label) in set.labels.iter().enumerate() {
            by_identity[label as usize].push(row);
        }
        by_identity.retain(|rows| rows.len() >= 2);
        if by_identity.len() < p {
            return Err(format!(
                "P = {p} identities per batch, but only {} training identities have 2+ images",
                by_identity.len()
            ));
        }
        Ok(Self {
            by_identity,
            p,
            k,
            augment,
            rng: ChaCha8Rng::seed_from_u64(seed),
        })
    }

    pub fn batch_size(&self) -> usize {
        self.p * self.k
    }

    /// The next batch: P distinct identities, K images of each (drawn with replacement only
    /// when an identity has fewer than K), augmented.
    pub fn next(&mut self, set: &LoadedImages) -> Batch {
        let image_len = set.channels * set.size * set.size;
        let mut images = Vec::with_capacity(self.batch_size() * image_len);
        let mut labels = Vec::with_capacity(self.batch_size());
        let identities: Vec<usize> =
            rand::seq::index::sample(&mut self.rng, self.by_identity.len(), self.p).into_vec();
        for identity in identities {
            let mut rows = self.by_identity[identity].clone();
            rows.shuffle(&mut self.rng);
            for j in 0..self.k {
                let row = if j < rows.len() {
                    rows[j]
                } else {
                    rows[self.rng.random_range(0..rows.len())]
                };
                let start = images.len();
                images.extend_from_slice(set.image(row));
                self.augment_in_place(&mut images[start..], set.channels, set.size);
                labels.push(set.labels[row]);
            }
        }
        Batch { images, labels }
    }

    fn augment_in_place(&mut self, image: &mut [f32], channels: usize, size: usize) {
        let flip = self.augment.flip && self.rng.random_bool(0.5);
        let s = self.augment.max_shift as i64;
        let (dx, dy) = if s > 0 {
            (self.rng.random_range(-s..=s), self.rng.random_range(-s..=s))
        } else {
            (0, 0)
        };
        if !flip && dx == 0 && dy == 0 {
            return;
        }
        let source = image.to_vec();
        let last = size as i64 - 1;
        for c in 0..channels {
            let plane = &source[c * size * size..(c + 1) * size * size];
            for y in 0..size {
                for x in 0..size {
                    let mut sx = (x as i64 - dx).clamp(0, last);
                    if flip {
                        sx = last - sx;
                    }
                    let sy = (y as i64 - dy).clamp(0, last);
                    image[c * size * size + y * size + x] = plane[(sy * (last + 1) + sx) as usize];
                }
            }
        }
    }
}
