//! The embedding net of SPEC section 1 and its parameters.
//!
//! Six 3x3 convolutions (padding 1, stride 2 at c2, c4 and c6), each with a bias and a ReLU,
//! global average pooling, a fully connected layer to the embedding and L2 normalisation.
//! The presets differ only in widths; input size, channels and embedding size are options.

use facenet_ref::conv::Conv2dDesc;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Strides of c1..c6.
pub const STRIDES: [usize; 6] = [1, 2, 1, 2, 1, 2];

/// The shape of a net: everything needed to rebuild it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetConfig {
    /// `tiny` or `facenet-s`, for the record; the widths are what count.
    pub preset: String,
    pub in_channels: usize,
    pub input_size: usize,
    /// Output channels of c1..c6.
    pub widths: [usize; 6],
    pub embedding_dim: usize,
}

/// A parameter tensor on the host, with its name (`c1.weight`, ..., `fc.bias`).
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

impl NetConfig {
    /// Builds a preset by name: `tiny` or `facenet-s`.
    pub fn preset(
        name: &str,
        in_channels: usize,
        input_size: usize,
        embedding_dim: usize,
    ) -> Result<Self, String> {
        let widths = match name {
            "tiny" => [8, 16, 16, 32, 32, 64],
            "facenet-s" => [32, 64, 64, 128, 128, 256],
            other => {
                return Err(format!(
                    "unknown preset '{other}' (expected tiny or facenet-s)"
                ));
            }
        };
        let config = Self {
            preset: name.to_string(),
            in_channels,
            input_size,
            widths,
            embedding_dim,
        };
        config.validate()?;
        Ok(config)
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.input_size < 8 || !self.input_size.is_multiple_of(8) {
            return Err(format!(
                "input size {} must be a positive multiple of 8 (three stride-2 layers)",
                self.input_size
            ));
        }
        if self.in_channels != 1 && self.in_channels != 3 {
            return Err(format!(
                "input channels must be 1 or 3, not {}",
                self.in_channels
            ));
        }
        if !(2..=4096).contains(&self.embedding_dim) {
            return Err(format!(
                "embedding size {} is out of range 2..=4096",
                self.embedding_dim
            ));
        }
        if self.widths.contains(&0) {
            return Err(format!("widths {:?} contain a zero", self.widths));
        }
        Ok(())
    }

    /// Values in one input image (C x H x W).
    pub fn image_len(&self) -> usize {
        self.in_channels * self.input_size * self.input_size
    }

    /// The six convolutions at a batch size.
    pub fn conv_descs(&self, batch: usize) -> [Conv2dDesc; 6] {
        let mut c_in = self.in_channels;
        let mut size = self.input_size;
        std::array::from_fn(|i| {
            let desc = Conv2dDesc {
                batch,
                c_in,
                h: size,
                w: size,
                c_out: self.widths[i],
                kernel: 3,
                stride: STRIDES[i],
                padding: 1,
            };
            c_in = desc.c_out;
            size = desc.out_h();
            desc
        })
    }

    /// Spatial size (H = W) after c6, the plane that global pooling averages.
    pub fn final_size(&self) -> usize {
        self.conv_descs(1)[5].out_h()
    }

    pub fn pooled_dim(&self) -> usize {
        self.widths[5]
    }

    /// Names and shapes of every parameter, in the order used everywhere.
    pub fn param_shapes(&self) -> Vec<(String, Vec<usize>)> {
        let mut shapes = Vec::new();
        for (i, desc) in self.conv_descs(1).iter().enumerate() {
            shapes.push((
                format!("c{}.weight", i + 1),
                vec![desc.c_out, desc.c_in, 3, 3],
            ));
            shapes.push((format!("c{}.bias", i + 1), vec![desc.c_out]));
        }
        shapes.push((
            "fc.weight".into(),
            vec![self.embedding_dim, self.pooled_dim()],
        ));
        shapes.push(("fc.bias".into(), vec![self.embedding_dim]));
        shapes
    }

    pub fn num_params(&self) -> usize {
        self.param_shapes()
            .iter()
            .map(|(_, s)| s.iter().product::<usize>())
            .sum()
    }

    /// Forward FLOPs per image, counting a multiply-add as two.
    pub fn forward_flops(&self) -> f64 {
        let conv: f64 = self.conv_descs(1).iter().map(Conv2dDesc::flops).sum();
        conv + 2.0 * (self.pooled_dim() * self.embedding_dim) as f64
    }

    /// He-initialised parameters: weights ~ N(0, 2 / fan_in), biases 0. The fully connected
    /// layer has no ReLU after it, so it gets N(0, 1 / fan_in).
    pub fn init_params(&self, seed: u64) -> Vec<Tensor> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        self.param_shapes()
            .into_iter()
            .map(|(name, shape)| {
                let len: usize = shape.iter().product();
                let data = if name.ends_with(".bias") {
                    vec![0.0; len]
                } else {
                    let fan_in: usize = shape[1..].iter().product();
                    let gain = if name.starts_with("fc") { 1.0 } else { 2.0 };
                    let std = (gain / fan_in as f64).sqrt();
                    (0..len).map(|_| (normal(&mut rng) * std) as f32).collect()
                };
                Tensor { name, shape, data }
            })
            .collect()
    }
}

/// A standard normal draw (Box-Muller), so initialisation needs no extra crate.
fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = rng.random_range(f64::MIN_POSITIVE..1.0);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiny_matches_spec_table() {
        let net = NetConfig::preset("tiny", 1, 64, 128).unwrap();
        let descs = net.conv_descs(1);
        let sizes: Vec<usize> = descs.iter().map(|d| d.out_h()).collect();
        assert_eq!(sizes, [64, 32, 32, 16, 16, 8]);
        assert_eq!(net.final_size(), 8);
        // SPEC: tiny costs about 17 MFLOP per 64x64 image, facenet-s about 266.
        assert!(
            (net.forward_flops() / 1e6 - 17.0).abs() < 1.5,
            "{}",
            net.forward_flops()
        );
        let big = NetConfig::preset("facenet-s", 1, 64, 128).unwrap();
        assert!(
            (big.forward_flops() / 1e6 - 266.0).abs() < 10.0,
            "{}",
            big.forward_flops()
        );
    }

    #[test]
    fn bad_configs_are_errors() {
        assert!(
            NetConfig::preset("huge", 1, 64, 128)
                .unwrap_err()
                .contains("huge")
        );
        assert!(
            NetConfig::preset("tiny", 1, 60, 128)
                .unwrap_err()
                .contains("60")
        );
        assert!(
            NetConfig::preset("tiny", 2, 64, 128)
                .unwrap_err()
                .contains("2")
        );
    }

    #[test]
    fn init_is_seeded_and_scaled() {
        let net = NetConfig::preset("tiny", 1, 32, 64).unwrap();
        let a = net.init_params(1);
        assert_eq!(a, net.init_params(1));
        assert_ne!(a[0].data, net.init_params(2)[0].data);
        let c5 = a.iter().find(|t| t.name == "c5.weight").unwrap();
        let var = c5.data.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / c5.data.len() as f64;
        let expected = 2.0 / (32.0 * 9.0);
        assert!(
            (var / expected - 1.0).abs() < 0.1,
            "variance {var} vs {expected}"
        );
        assert!(
            a.iter()
                .filter(|t| t.name.ends_with("bias"))
                .all(|t| t.data.iter().all(|&v| v == 0.0))
        );
    }
}
