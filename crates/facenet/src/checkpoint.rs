//! Checkpoints in safetensors: weights, optimiser state, and in the metadata the run
//! configuration, the step and the RNG position. Written atomically (a temporary file in the
//! same folder, synced, then renamed), so a crash never leaves a broken checkpoint behind.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};
use serde::{Deserialize, Serialize};

use crate::error::TrainError;
use crate::net::{NetConfig, Tensor};

const FORMAT: &str = "facenet-wgpu/1";

/// Where a run stands, stored in the checkpoint's metadata.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    pub step: u64,
    pub epoch: u64,
    /// The sampler RNG's seed and word position: together they restore the batch sequence.
    pub rng_seed: u64,
    pub rng_word_pos: u128,
}

pub struct Checkpoint {
    pub net: NetConfig,
    /// The whole run configuration as JSON, so `--resume` can rebuild the run.
    pub config: serde_json::Value,
    pub progress: Progress,
    pub params: Vec<Tensor>,
    /// Optimiser state tensors, `opt.<slot>.<param>`.
    pub state: Vec<Tensor>,
}

fn checkpoint_error(path: &Path, message: impl Into<String>) -> TrainError {
    TrainError::Checkpoint {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

impl Checkpoint {
    pub fn save(&self, path: &Path) -> Result<(), TrainError> {
        for t in self.params.iter().chain(&self.state) {
            if let Some(bad) = t.data.iter().find(|v| !v.is_finite()) {
                return Err(checkpoint_error(
                    path,
                    format!("refusing to save: tensor {} holds {bad}", t.name),
                ));
            }
        }
        let bytes: Vec<(String, Vec<u8>, Vec<usize>)> = self
            .params
            .iter()
            .chain(&self.state)
            .map(|t| {
                (
                    t.name.clone(),
                    bytemuck::cast_slice(&t.data).to_vec(),
                    t.shape.clone(),
                )
            })
            .collect();
        let views = bytes
            .iter()
            .map(|(name, data, shape)| {
                TensorView::new(Dtype::F32, shape.clone(), data).map(|v| (name.clone(), v))
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| checkpoint_error(path, e.to_string()))?;
        let metadata = HashMap::from([
            ("format".to_string(), FORMAT.to_string()),
            (
                "net".to_string(),
                serde_json::to_string(&self.net).expect("net config to JSON"),
            ),
            ("config".to_string(), self.config.to_string()),
            (
                "progress".to_string(),
                serde_json::to_string(&self.progress).expect("progress"),
            ),
        ]);
        let serialized = safetensors::serialize(views, Some(metadata))
            .map_err(|e| checkpoint_error(path, e.to_string()))?;

        let tmp = path.with_extension("safetensors.tmp");
        let write = || -> std::io::Result<()> {
            let mut file = std::fs::File::create(&tmp)?;
            file.write_all(&serialized)?;
            file.sync_all()?;
            std::fs::rename(&tmp, path)
        };
        write().map_err(|e| TrainError::io(path, e))
    }

    pub fn load(path: &Path) -> Result<Self, TrainError> {
        let bytes = std::fs::read(path).map_err(|e| TrainError::io(path, e))?;
        let file = SafeTensors::deserialize(&bytes)
            .map_err(|e| checkpoint_error(path, format!("not a safetensors file: {e}")))?;
        let (_, header) = SafeTensors::read_metadata(&bytes)
            .map_err(|e| checkpoint_error(path, e.to_string()))?;
        let metadata = header.metadata().clone().unwrap_or_default();
        let field = |key: &str| {
            metadata
                .get(key)
                .ok_or_else(|| checkpoint_error(path, format!("metadata has no '{key}'")))
        };
        if field("format")? != FORMAT {
            return Err(checkpoint_error(path, format!("format is not {FORMAT}")));
        }
        let json_error = |key: &str, e: serde_json::Error| {
            checkpoint_error(path, format!("metadata '{key}': {e}"))
        };
        let net: NetConfig =
            serde_json::from_str(field("net")?).map_err(|e| json_error("net", e))?;
        let config = serde_json::from_str(field("config")?).map_err(|e| json_error("config", e))?;
        let progress =
            serde_json::from_str(field("progress")?).map_err(|e| json_error("progress", e))?;

        let read = |name: &str, shape: &[usize]| -> Result<Tensor, TrainError> {
            let view = file
                .tensor(name)
                .map_err(|_| checkpoint_error(path, format!("tensor '{name}' is missing")))?;
            if view.dtype() != Dtype::F32 || view.shape() != shape {
                return Err(checkpoint_error(
                    path,
                    format!(
                        "tensor '{name}' is {:?} {:?}, expected F32 {shape:?}",
                        view.dtype(),
                        view.shape()
                    ),
                ));
            }
            let data: Vec<f32> = view
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            Ok(Tensor {
                name: name.to_string(),
                shape: shape.to_vec(),
                data,
            })
        };
        let shapes = net.param_shapes();
        let params = shapes
            .iter()
            .map(|(name, shape)| read(name, shape))
            .collect::<Result<Vec<_>, _>>()?;
        let mut state = Vec::new();
        for slot in 0.. {
            let Ok(_) = file.tensor(&format!("opt.{slot}.{}", shapes[0].0)) else {
                break;
            };
            for (name, shape) in &shapes {
                state.push(read(&format!("opt.{slot}.{name}"), shape)?);
            }
        }
        // Slot-major on disk order is irrelevant; engines take state parameter-major.
        let slots = state.len() / shapes.len().max(1);
        let state = (0..shapes.len())
            .flat_map(|p| (0..slots).map(move |s| (s, p)))
            .map(|(s, p)| state[s * shapes.len() + p].clone())
            .collect();
        Ok(Self {
            net,
            config,
            progress,
            params,
            state,
        })
    }
}
