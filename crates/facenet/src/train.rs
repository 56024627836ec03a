//! A training run: data, engine, the step loop, evaluation, checkpoints and the run folder
//! (`config.json`, `metrics.jsonl`, `metrics.json`, `checkpoint.safetensors`, `roc.svg`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use facenet_data::{
    Crop, Dataset, ImageSpec, LoadedImages, OnDecodeError, OpenOptions, Split, SyntheticConfig,
    SyntheticFaces,
};
use facenet_ref::mining::{Rule, TripletStats};
use facenet_ref::optim::{AdaGradConfig, AdamConfig, Optimizer, SgdConfig};
use indicatif::{ProgressBar, ProgressStyle};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::batch::{Augment, PkSampler};
use crate::checkpoint::{Checkpoint, Progress};
use crate::engine::{CpuEngine, Engine, GpuEngine};
use crate::error::TrainError;
use crate::evaluate::{self, Pairs};
use crate::net::NetConfig;

/// Where the training images come from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum DataConfig {
    /// The built-in procedural faces: `identities` for training, `held_out` more for evaluation.
    Synthetic {
        identities: usize,
        held_out: usize,
        images_per_identity: usize,
        difficulty: f32,
    },
    /// A one-folder-per-identity dataset, `held_out` identities kept out of training.
    Folder { path: PathBuf, held_out: usize },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OptimizerConfig {
    /// `adam`, `adamw`, `sgd` or `adagrad`.
    pub kind: String,
    pub lr: f32,
    pub weight_decay: f32,
    pub momentum: f32,
    /// `constant` or `cosine` (decays to 5% of `lr` over the run).
    pub schedule: String,
}

impl OptimizerConfig {
    pub fn build(&self) -> Result<Optimizer, TrainError> {
        let (lr, weight_decay) = (self.lr, self.weight_decay);
        if !(lr.is_finite() && lr > 0.0) {
            return Err(TrainError::Config(format!(
                "learning rate must be positive, not {lr}"
            )));
        }
        let adam = |decoupled| AdamConfig {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay,
            decoupled,
        };
        Ok(match self.kind.as_str() {
            "adam" => Optimizer::Adam(adam(false)),
            "adamw" => Optimizer::Adam(adam(true)),
            "sgd" => Optimizer::Sgd(SgdConfig {
                lr,
                momentum: self.momentum,
                weight_decay,
                nesterov: false,
            }),
            "adagrad" => Optimizer::AdaGrad(AdaGradConfig {
                lr,
                eps: 1e-10,
                weight_decay,
                initial_accumulator: 0.1,
            }),
            other => {
                return Err(TrainError::Config(format!(
                    "unknown optimiser '{other}' (adam, adamw, sgd, adagrad)"
                )));
            }
        })
    }

    /// The learning rate at 0-based `step` of `total`.
    pub fn lr_at(&self, step: u64, total: u64) -> f32 {
        match self.schedule.as_str() {
            "cosine" => {
                let t = step as f32 / total.max(1) as f32;
                let floor = 0.05;
                self.lr * (floor + (1.0 - floor) * 0.5 * (1.0 + (std::f32::consts::PI * t).cos()))
            }
            _ => self.lr,
        }
    }
}

/// Everything needed to repeat a run; written to `config.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    pub net: NetConfig,
    pub data: DataConfig,
    /// Datasets evaluated at the end with every identity, never trained on (e.g. Yale).
    pub extra_eval: Vec<PathBuf>,
    pub p: usize,
    pub k: usize,
    pub rule: String,
    pub alpha: f32,
    pub optimizer: OptimizerConfig,
    pub epochs: u64,
    /// Steps per epoch; by default enough batches to show every training image once.
    pub steps_per_epoch: Option<u64>,
    pub augment: Augment,
    pub seed: u64,
    /// Cross-check against the CPU reference at step 1 and every this many steps.
    pub check_every: Option<u64>,
    /// `auto` (GPU, else the CPU reference), `gpu` or `cpu`.
    pub backend: String,
    /// Skip undecodable images with a warning instead of failing.
    pub skip_bad_images: bool,
}

impl TrainConfig {
    pub fn rule(&self) -> Result<Rule, TrainError> {
        Rule::parse(&self.rule).map_err(TrainError::Config)
    }

    fn image_spec(&self) -> ImageSpec {
        ImageSpec {
            size: self.net.input_size,
            channels: self.net.in_channels,
            crop: Crop::CentreSquare,
        }
    }
}

/// The train and held-out image sets of a run, and the split that made them.
pub struct RunData {
    pub train: LoadedImages,
    pub held_out: LoadedImages,
    pub split: Option<Split>,
}

pub fn load_data(config: &TrainConfig) -> Result<RunData, TrainError> {
    match &config.data {
        DataConfig::Synthetic {
            identities,
            held_out,
            images_per_identity,
            difficulty,
        } => {
            let faces = SyntheticFaces::new(SyntheticConfig {
                identities: identities + held_out,
                images_per_identity: *images_per_identity,
                size: config.net.input_size,
                channels: config.net.in_channels,
                seed: config.seed,
                difficulty: *difficulty,
            })?;
            let train: Vec<usize> = (0..*identities).collect();
            let held: Vec<usize> = (*identities..identities + held_out).collect();
            Ok(RunData {
                train: faces.to_loaded_ids(&train),
                held_out: faces.to_loaded_ids(&held),
                split: None,
            })
        }
        DataConfig::Folder { path, held_out } => {
            let dataset =
                Dataset::open(path, &OpenOptions::new().require_identities(held_out + 2))?;
            let split = Split::new(&dataset, *held_out, config.seed)?;
            let (train, held) = split.apply(&dataset)?;
            let on_error = if config.skip_bad_images {
                OnDecodeError::Skip
            } else {
                OnDecodeError::Fail
            };
            let spec = config.image_spec();
            Ok(RunData {
                train: train.load_all(&spec, on_error)?,
                held_out: held.load_all(&spec, on_error)?,
                split: Some(split),
            })
        }
    }
}

/// Opens the engine the config asks for; `auto` falls back to the CPU reference with a
/// message saying how to get an adapter.
pub fn open_engine(
    backend: &str,
    net: &NetConfig,
    optimizer: Optimizer,
    params: &[crate::net::Tensor],
) -> Result<Box<dyn Engine>, TrainError> {
    match backend {
        "cpu" => Ok(Box::new(CpuEngine::new(net, optimizer, params))),
        "gpu" => Ok(Box::new(GpuEngine::new(
            facenet_gpu::Gpu::new()?,
            net,
            optimizer,
            params,
        ))),
        "auto" => match facenet_gpu::Gpu::new() {
            Ok(gpu) => Ok(Box::new(GpuEngine::new(gpu, net, optimizer, params))),
            Err(error) => {
                log::warn!("{error}");
                log::warn!("falling back to the CPU reference: correct but far slower");
                Ok(Box::new(CpuEngine::new(net, optimizer, params)))
            }
        },
        other => Err(TrainError::Config(format!(
            "unknown backend '{other}' (auto, gpu, cpu)"
        ))),
    }
}

/// What a finished run reports (also written as `metrics.json`).
pub struct RunSummary {
    pub metrics: serde_json::Value,
    pub out_dir: PathBuf,
}

struct RunFiles {
    dir: PathBuf,
    metrics: std::fs::File,
}

impl RunFiles {
    fn log(&mut self, record: serde_json::Value) -> Result<(), TrainError> {
        let path = self.dir.join("metrics.jsonl");
        writeln!(self.metrics, "{record}").map_err(|e| TrainError::io(path, e))
    }

    fn write_json(&self, name: &str, value: &serde_json::Value) -> Result<(), TrainError> {
        let path = self.dir.join(name);
        let text = serde_json::to_string_pretty(value).expect("JSON value") + "\n";
        std::fs::write(&path, text).map_err(|e| TrainError::io(path, e))
    }
}

fn stats_json(stats: &TripletStats) -> serde_json::Value {
    json!({
        "loss": stats.loss,
        "loss_nonzero_mean": stats.loss_nonzero_mean,
        "positive_pairs": stats.positive_pairs,
        "semi_hard_found": stats.semi_hard_found,
        "triplets": stats.triplets,
        "active_triplets": stats.active_triplets,
        "mean_d_ap": stats.mean_d_ap,
        "mean_d_an": stats.mean_d_an,
        "mean_norm": stats.mean_norm,
        "std_norm": stats.std_norm,
    })
}

/// Trains as configured into `out_dir`, or continues the run of `resume`.
pub fn train(
    config: &TrainConfig,
    out_dir: &Path,
    resume: Option<&Path>,
) -> Result<RunSummary, TrainError> {
    config.net.validate().map_err(TrainError::Config)?;
    let rule = config.rule()?;
    let optimizer = config.optimizer.build()?;
    std::fs::create_dir_all(out_dir).map_err(|e| TrainError::io(out_dir, e))?;

    let data = load_data(config)?;
    log::info!(
        "training on {} images of {} identities, evaluating on {} images of {} held-out ones",
        data.train.len(),
        data.train.names.len(),
        data.held_out.len(),
        data.held_out.names.len()
    );
    let mut sampler = PkSampler::new(&data.train, config.p, config.k, config.augment, config.seed)
        .map_err(TrainError::Config)?;

    let checkpoint = resume.map(Checkpoint::load).transpose()?;
    if let Some(ck) = &checkpoint {
        if ck.net != config.net {
            return Err(TrainError::Config(
                "the checkpoint's net differs from the config".into(),
            ));
        }
        sampler.rng = ChaCha8Rng::seed_from_u64(ck.progress.rng_seed);
        sampler.rng.set_word_pos(ck.progress.rng_word_pos);
    }
    let params = match &checkpoint {
        Some(ck) => ck.params.clone(),
        None => config.net.init_params(config.seed),
    };
    let mut engine = open_engine(&config.backend, &config.net, optimizer, &params)?;
    if let Some(ck) = &checkpoint {
        engine.load(&ck.params, &ck.state)?;
    }
    let adapter = engine.adapter();
    println!("engine: {adapter}");

    let mut config_json = serde_json::to_value(config).expect("config to JSON");
    config_json["split"] = serde_json::to_value(&data.split).expect("split to JSON");
    config_json["adapter"] = json!(adapter);
    let metrics_path = out_dir.join("metrics.jsonl");
    let metrics_file = std::fs::OpenOptions::new()
        .create(true)
        .append(resume.is_some())
        .write(true)
        .truncate(resume.is_none())
        .open(&metrics_path)
        .map_err(|e| TrainError::io(&metrics_path, e))?;
    let mut files = RunFiles {
        dir: out_dir.to_path_buf(),
        metrics: metrics_file,
    };
    files.write_json("config.json", &config_json)?;

    let batch_size = sampler.batch_size();
    let steps_per_epoch = config
        .steps_per_epoch
        .unwrap_or_else(|| data.train.len().div_ceil(batch_size) as u64)
        .max(1);
    let total_steps = steps_per_epoch * config.epochs;
    let (mut step, first_epoch) = checkpoint
        .as_ref()
        .map_or((0, 0), |ck| (ck.progress.step, ck.progress.epoch));
    let held_pairs = evaluate::all_pairs(&data.held_out, evaluate::FOLDS, config.seed)?;

    let progress = ProgressBar::new(total_steps).with_position(step);
    progress.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} {msg} ETA {eta}")
            .expect("progress template"),
    );
    let mut last_stats = TripletStats::default();
    let mut train_seconds = 0.0;
    let mut trained_images = 0u64;
    let mut collapse_warned = false;
    let dim = config.net.embedding_dim;

    for epoch in first_epoch..config.epochs {
        for _ in 0..steps_per_epoch {
            step += 1;
            let batch = sampler.next(&data.train);
            let check = config
                .check_every
                .is_some_and(|every| step == 1 || step % every == 0);
            let params_before = if check { Some(engine.params()?) } else { None };
            let lr = config.optimizer.lr_at(step - 1, total_steps);
            let started = Instant::now();
            let stats = engine.train_step(&batch, rule, config.alpha, step as u32, lr)?;
            train_seconds += started.elapsed().as_secs_f64();
            trained_images += batch_size as u64;
            if !stats.loss.is_finite() {
                progress.abandon();
                return Err(TrainError::NonFinite {
                    step,
                    what: "loss".into(),
                    value: stats.loss,
                });
            }
            if let Some(before) = params_before {
                let details = engine.last_step()?;
                let report = crate::check::cross_check(
                    &config.net,
                    &before,
                    &batch,
                    rule,
                    config.alpha,
                    &details,
                    &stats,
                )?;
                progress.suspend(|| {
                    println!("cross-check at step {step}:");
                    for line in &report.lines {
                        println!("  {line}");
                    }
                });
                if !report.failures.is_empty() {
                    progress.abandon();
                    return Err(TrainError::CheckFailed {
                        step,
                        details: report.failures.join("; "),
                    });
                }
            }
            if !collapse_warned
                && stats.mean_d_an < 1e-4
                && stats.mean_d_ap < 1e-4
                && stats.triplets > 0
            {
                log::warn!(
                    "step {step}: every distance is near zero and the loss sits at alpha: the \
                     embedding has collapsed; lower the learning rate or change the rule"
                );
                collapse_warned = true;
            }
            let images_per_second = trained_images as f64 / train_seconds.max(1e-9);
            let share = stats.semi_hard_found as f32 / stats.positive_pairs.max(1) as f32;
            progress.set_message(format!(
                "loss {:.4} active {} semi-hard {:.0}% {:.0} img/s",
                stats.loss,
                stats.active_triplets,
                100.0 * share,
                images_per_second
            ));
            progress.inc(1);
            files.log(json!({
                "step": step, "epoch": epoch, "lr": lr,
                "images_per_second": images_per_second, "stats": stats_json(&stats),
            }))?;
            last_stats = stats;
        }

        let emb = engine.embed(&data.held_out.pixels, data.held_out.len())?;
        let verification = evaluate::verify(&emb, dim, &held_pairs)?;
        progress.suspend(|| {
            println!(
                "epoch {}/{}: step {step}, loss {:.4}, held-out accuracy {:.3} ± {:.3}, AUC {:.3}",
                epoch + 1,
                config.epochs,
                last_stats.loss,
                verification.accuracy,
                verification.accuracy_std,
                verification.auc
            )
        });
        files.log(json!({
            "epoch": epoch + 1, "step": step,
            "held_out": {"accuracy": verification.accuracy, "auc": verification.auc},
        }))?;
        let params = engine.params()?;
        if let Some(bad) = params
            .iter()
            .find(|t| t.data.iter().any(|v| !v.is_finite()))
        {
            progress.abandon();
            return Err(TrainError::NonFinite {
                step,
                what: format!("weight {}", bad.name),
                value: f32::NAN,
            });
        }
        Checkpoint {
            net: config.net.clone(),
            config: config_json.clone(),
            progress: Progress {
                step,
                epoch: epoch + 1,
                rng_seed: config.seed,
                rng_word_pos: sampler.rng.get_word_pos(),
            },
            params,
            state: engine.optimizer_state()?,
        }
        .save(&out_dir.join("checkpoint.safetensors"))?;
    }
    progress.finish_and_clear();

    let metrics = final_metrics(
        engine.as_mut(),
        config,
        &data,
        &held_pairs,
        &files,
        step,
        last_stats,
        trained_images,
        train_seconds,
        &adapter,
    )?;
    files.write_json("metrics.json", &metrics)?;
    Ok(RunSummary {
        metrics,
        out_dir: out_dir.to_path_buf(),
    })
}

#[allow(clippy::too_many_arguments)]
fn final_metrics(
    engine: &mut dyn Engine,
    config: &TrainConfig,
    data: &RunData,
    _pairs: &Pairs,
    files: &RunFiles,
    step: u64,
    last: TripletStats,
    trained_images: u64,
    train_seconds: f64,
    adapter: &str,
) -> Result<serde_json::Value, TrainError> {
    let dim = config.net.embedding_dim;
    let emb = engine.embed(&data.held_out.pixels, data.held_out.len())?;
    let report = evaluate::evaluate_all(engine, &data.held_out, &emb, dim, config.seed)?;
    let roc_path = files.dir.join("roc.svg");
    facenet_eval::verification::write_roc_svg(
        &report.verification,
        &roc_path,
        "held-out identities",
    )
    .map_err(|e| TrainError::io(&roc_path, e))?;

    let mut extra = serde_json::Map::new();
    for path in &config.extra_eval {
        let dataset = Dataset::open(path, &OpenOptions::new().require_identities(2))?;
        let set = dataset.load_all(&config.image_spec(), OnDecodeError::Fail)?;
        let emb = engine.embed(&set.pixels, set.len())?;
        let r = evaluate::evaluate_all(engine, &set, &emb, dim, config.seed)?;
        println!(
            "{}: accuracy {:.3}, AUC {:.3}, top-1 {:.3}, NMI {:.3}",
            path.display(),
            r.verification.accuracy,
            r.verification.auc,
            r.recognition.top1,
            r.clustering.scores.nmi
        );
        extra.insert(path.display().to_string(), summary_json(&r));
    }

    let v = &report.verification;
    println!(
        "held-out: accuracy {:.3} ± {:.3} (sem {:.3}), AUC {:.4}, EER {:.3}, VAL@FAR=1e-3 {:.3}, \
         top-1 {:.3}, top-5 {:.3}, NMI {:.3}, pairwise F1 {:.3}",
        v.accuracy,
        v.accuracy_std,
        v.accuracy_sem,
        v.auc,
        v.eer,
        v.val_at_far_1e3,
        report.recognition.top1,
        report.recognition.top5,
        report.clustering.scores.nmi,
        report.clustering.scores.pairwise_f1
    );
    let mut metrics = summary_json(&report);
    let epochs = config.epochs;
    metrics["steps"] = json!(step);
    metrics["epochs"] = json!(epochs);
    metrics["images_per_second"] = json!(trained_images as f64 / train_seconds.max(1e-9));
    metrics["final_loss"] = json!(last.loss);
    metrics["adapter"] = json!(adapter);
    metrics["other_datasets"] = serde_json::Value::Object(extra);
    Ok(metrics)
}

/// The SPEC section 5 measures of one evaluation.
pub fn summary_json(r: &facenet_eval::report::EvalReport) -> serde_json::Value {
    let v = &r.verification;
    let c = &r.clustering.scores;
    json!({
        "verification": {
            "accuracy": v.accuracy, "accuracy_std": v.accuracy_std, "accuracy_sem": v.accuracy_sem,
            "auc": v.auc, "eer": v.eer, "val_at_far_1e-3": v.val_at_far_1e3,
            "val_at_far_1e-2": v.val_at_far_1e2, "threshold": v.threshold,
        },
        "recognition": {"top1": r.recognition.top1, "top5": r.recognition.top5},
        "clustering": {
            "nmi": c.nmi, "pairwise_f1": c.pairwise_f1, "bcubed_f1": c.bcubed_f1,
            "purity": c.purity,
        },
    })
}
