//! The subcommands: building configs from flags, running, printing and writing results.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use facenet::checkpoint::Checkpoint;
use facenet::engine::Engine;
use facenet::evaluate;
use facenet::net::{NetConfig, Tensor};
use facenet::train::{self, DataConfig, OptimizerConfig, TrainConfig};
use facenet_data::{Crop, Dataset, ImageSpec, LoadedImages, OnDecodeError, OpenOptions, PairsFile};
use facenet_eval::clustering::{KMeansOptions, clustering_scores, kmeans, write_clusters_csv};
use facenet_eval::recognition::knn_leave_one_out;
use facenet_eval::verification::{evaluate_verification, write_roc_svg};
use serde_json::json;

use crate::{ClusterArgs, EmbedArgs, ModelArgs, ModelDataArgs, PairsArgs, TrainArgs, VerifyArgs};

fn config_from_args(args: &TrainArgs) -> Result<TrainConfig> {
    // Synthetic faces are simple drawings: 32 pixels keep the default run to a few minutes.
    let input_size = args
        .input_size
        .unwrap_or(if args.data.is_some() { 64 } else { 32 });
    let net = NetConfig::preset(&args.preset, args.channels, input_size, args.embedding_dim)
        .map_err(anyhow::Error::msg)?;
    let data = match &args.data {
        Some(path) => DataConfig::Folder {
            path: path.clone(),
            held_out: args.held_out,
        },
        None => DataConfig::Synthetic {
            identities: args.synthetic_identities,
            held_out: 50,
            images_per_identity: args.synthetic_images,
            difficulty: args.synthetic_difficulty,
        },
    };
    let (p, k) = if args.facenet_profile {
        (45, 40)
    } else {
        (args.p, args.k)
    };
    let default_epochs = if args.data.is_some() { 60 } else { 15 };
    Ok(TrainConfig {
        net,
        data,
        extra_eval: args.eval_data.clone(),
        p,
        k,
        rule: args.rule.clone(),
        alpha: args.alpha,
        optimizer: OptimizerConfig {
            kind: args.optimizer.clone(),
            lr: args.lr,
            weight_decay: args.weight_decay,
            momentum: args.momentum,
            schedule: args.schedule.clone(),
        },
        epochs: args.epochs.unwrap_or(default_epochs),
        steps_per_epoch: args.steps_per_epoch,
        augment: facenet::batch::Augment {
            flip: !args.no_flip,
            max_shift: args.shift,
        },
        seed: args.seed,
        check_every: args.check,
        backend: args.backend.clone(),
        skip_bad_images: args.skip_bad_images,
    })
}

pub fn train(args: &TrainArgs) -> Result<()> {
    let (config, out_dir) = match &args.resume {
        Some(path) => {
            let checkpoint = Checkpoint::load(path)?;
            let mut config: TrainConfig = serde_json::from_value(checkpoint.config)
                .with_context(|| format!("{}: the stored run config", path.display()))?;
            if let Some(epochs) = args.epochs {
                config.epochs = epochs;
            }
            let dir = path
                .parent()
                .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
            (config, dir)
        }
        None => {
            let config = config_from_args(args)?;
            let name = match &args.data {
                Some(p) => p
                    .file_name()
                    .map_or("data".into(), |n| n.to_string_lossy().into_owned()),
                None => "synthetic".into(),
            };
            let dir = args.out.clone().unwrap_or_else(|| {
                PathBuf::from(format!(
                    "runs/{name}-{}-seed{}",
                    config.net.preset, config.seed
                ))
            });
            (config, dir)
        }
    };
    println!("run folder: {}", out_dir.display());
    let summary = train::train(&config, &out_dir, args.resume.as_deref())?;
    println!("wrote {}", summary.out_dir.join("metrics.json").display());
    Ok(())
}

/// The net and its parameters from a checkpoint, or freshly initialised.
fn load_model(args: &ModelArgs) -> Result<(NetConfig, Vec<Tensor>)> {
    match &args.checkpoint {
        Some(path) => {
            let checkpoint = Checkpoint::load(path)?;
            Ok((checkpoint.net, checkpoint.params))
        }
        None => {
            log::warn!(
                "no --checkpoint: using an untrained {} net (seed {})",
                args.preset,
                args.seed
            );
            let net = NetConfig::preset(&args.preset, 1, args.input_size, 128)
                .map_err(anyhow::Error::msg)?;
            let params = net.init_params(args.seed);
            Ok((net, params))
        }
    }
}

struct Embedded {
    engine: Box<dyn Engine>,
    set: LoadedImages,
    embeddings: Vec<f32>,
    dim: usize,
}

fn embed_dataset(args: &ModelDataArgs) -> Result<Embedded> {
    let (net, params) = load_model(&args.model)?;
    let optimizer = OptimizerConfig {
        kind: "adam".into(),
        lr: 1e-3,
        weight_decay: 0.0,
        momentum: 0.0,
        schedule: "constant".into(),
    }
    .build()?;
    let mut engine = train::open_engine(&args.model.backend, &net, optimizer, &params)?;
    let dataset = Dataset::open(&args.data, &OpenOptions::new())?;
    let spec = ImageSpec {
        size: net.input_size,
        channels: net.in_channels,
        crop: Crop::CentreSquare,
    };
    let on_error = if args.skip_bad_images {
        OnDecodeError::Skip
    } else {
        OnDecodeError::Fail
    };
    let set = dataset.load_all(&spec, on_error)?;
    println!(
        "{}: {} images of {} identities, engine {}",
        args.data.display(),
        set.len(),
        set.names.len(),
        engine.adapter()
    );
    let embeddings = engine.embed(&set.pixels, set.len())?;
    Ok(Embedded {
        engine,
        set,
        embeddings,
        dim: net.embedding_dim,
    })
}

fn write_json(path: Option<&PathBuf>, value: &serde_json::Value) -> Result<()> {
    if let Some(path) = path {
        std::fs::write(path, serde_json::to_string_pretty(value)? + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

pub fn embed(args: &EmbedArgs) -> Result<()> {
    let e = embed_dataset(&args.common)?;
    let n = e.set.len();
    let emb_bytes: Vec<u8> = e.embeddings.iter().flat_map(|v| v.to_le_bytes()).collect();
    let label_bytes: Vec<u8> = e.set.labels.iter().flat_map(|v| v.to_le_bytes()).collect();
    let views = vec![
        (
            "embeddings",
            safetensors::tensor::TensorView::new(
                safetensors::Dtype::F32,
                vec![n, e.dim],
                &emb_bytes,
            )?,
        ),
        (
            "labels",
            safetensors::tensor::TensorView::new(safetensors::Dtype::U32, vec![n], &label_bytes)?,
        ),
    ];
    let bytes = safetensors::serialize(views, None)?;
    std::fs::write(&args.out, bytes).with_context(|| format!("writing {}", args.out.display()))?;
    let list = args.out.with_extension("txt");
    let lines: String = e
        .set
        .paths
        .iter()
        .zip(&e.set.labels)
        .map(|(p, &l)| format!("{}\t{}\n", p.display(), e.set.names[l as usize]))
        .collect();
    std::fs::write(&list, lines).with_context(|| format!("writing {}", list.display()))?;
    println!(
        "wrote {} ({n} x {}) and {}",
        args.out.display(),
        e.dim,
        list.display()
    );
    Ok(())
}

pub fn verify(args: &VerifyArgs) -> Result<()> {
    // The pairs file is read and resolved first, so a bad line fails before any GPU work.
    let pairs = match &args.pairs {
        Some(path) => {
            let file = PairsFile::read(path)?;
            let dataset = Dataset::open(&args.common.data, &OpenOptions::new())?;
            Some((path, file.resolve(&dataset)?, file))
        }
        None => None,
    };
    let e = embed_dataset(&args.common)?;
    let (rows, matched, folds, n_folds) = match pairs {
        Some((path, resolved, file)) => {
            let index: HashMap<&Path, usize> = e
                .set
                .paths
                .iter()
                .enumerate()
                .map(|(i, p)| (p.as_path(), i))
                .collect();
            let row = |p: &PathBuf| {
                index.get(p.as_path()).copied().with_context(|| {
                    format!(
                        "{}: the pair's image {} was not loaded",
                        path.display(),
                        p.display()
                    )
                })
            };
            let rows = resolved
                .iter()
                .map(|(a, b, _)| Ok((row(a)?, row(b)?)))
                .collect::<Result<Vec<_>>>()?;
            let matched = resolved.iter().map(|(_, _, m)| *m).collect();
            let folds = file.pairs.iter().map(|p| p.fold).collect();
            (rows, matched, folds, file.folds)
        }
        None => {
            let pairs = evaluate::all_pairs(&e.set, evaluate::FOLDS, args.common.model.seed)?;
            (pairs.rows, pairs.matched, pairs.folds, evaluate::FOLDS)
        }
    };
    let row = |i: usize| &e.embeddings[i * e.dim..(i + 1) * e.dim];
    let distances: Vec<f32> = rows
        .iter()
        .map(|&(a, b)| evaluate::squared_distance(row(a), row(b)))
        .collect();
    let report = evaluate_verification(&distances, &matched, &folds, n_folds)?;
    println!(
        "verification on {} pairs: accuracy {:.4} ± {:.4} (sem {:.4}), AUC {:.4}, EER {:.4}, \
         VAL@FAR=1e-3 {:.4}, VAL@FAR=1e-2 {:.4}, threshold {:.4}",
        distances.len(),
        report.accuracy,
        report.accuracy_std,
        report.accuracy_sem,
        report.auc,
        report.eer,
        report.val_at_far_1e3,
        report.val_at_far_1e2,
        report.threshold
    );
    if let Some(path) = &args.roc {
        write_roc_svg(&report, path, "verification")
            .with_context(|| format!("writing {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    write_json(args.common.json.as_ref(), &serde_json::to_value(&report)?)
}

pub fn recognize(args: &ModelDataArgs) -> Result<()> {
    let mut e = embed_dataset(args)?;
    let n = e.set.len();
    let distances = e.engine.pairwise_distances(&e.embeddings, n)?;
    let report = knn_leave_one_out(&distances, n, &e.set.labels, &[1, 5])?;
    println!(
        "leave-one-out recognition over {} probes ({} excluded as singletons): top-1 {:.4}, \
         top-5 {:.4}",
        report.n_evaluated, report.n_excluded, report.top1, report.top5
    );
    for knn in &report.knn {
        println!("  {}-NN majority vote: {:.4}", knn.k, knn.accuracy);
    }
    write_json(args.json.as_ref(), &serde_json::to_value(&report)?)
}

pub fn cluster(args: &ClusterArgs) -> Result<()> {
    let e = embed_dataset(&args.common)?;
    let n = e.set.len();
    let k = args.k.unwrap_or(e.set.names.len());
    let options = KMeansOptions {
        seed: args.common.model.seed,
        ..KMeansOptions::default()
    };
    let result = match e.engine.gpu() {
        Some(gpu) => kmeans(
            &e.embeddings,
            n,
            e.dim,
            k,
            &options,
            &mut evaluate::GpuAssign::new(gpu),
        ),
        None => kmeans(
            &e.embeddings,
            n,
            e.dim,
            k,
            &options,
            &mut facenet_eval::clustering::CpuAssign,
        ),
    }?;
    let scores = clustering_scores(&e.set.labels, &result.labels)?;
    println!(
        "k-means, k = {k}, inertia {:.4}: NMI {:.4}, pairwise P/R/F1 {:.4}/{:.4}/{:.4}, \
         BCubed F1 {:.4}, purity {:.4}",
        result.inertia,
        scores.nmi,
        scores.pairwise_precision,
        scores.pairwise_recall,
        scores.pairwise_f1,
        scores.bcubed_f1,
        scores.purity
    );
    let files: Vec<String> = e
        .set
        .paths
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    if let Some(path) = &args.csv {
        write_clusters_csv(path, &files, &result.labels)
            .with_context(|| format!("writing {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    if let Some(dir) = &args.link_dir {
        write_cluster_links(dir, &e.set.paths, &result.labels)?;
        println!("wrote {} cluster folders under {}", k, dir.display());
    }
    write_json(
        args.common.json.as_ref(),
        &json!({"k": k, "inertia": result.inertia, "scores": scores}),
    )
}

/// One folder per cluster holding symbolic links to its images: "group my photos by person".
fn write_cluster_links(dir: &Path, paths: &[PathBuf], labels: &[u32]) -> Result<()> {
    if dir.exists() && std::fs::read_dir(dir)?.next().is_some() {
        bail!(
            "{} exists and is not empty: choose a new folder",
            dir.display()
        );
    }
    for (i, (path, &label)) in paths.iter().zip(labels).enumerate() {
        let folder = dir.join(format!("cluster_{label:03}"));
        std::fs::create_dir_all(&folder)
            .with_context(|| format!("creating {}", folder.display()))?;
        let target = std::fs::canonicalize(path).with_context(|| format!("{}", path.display()))?;
        let name = path
            .file_name()
            .map_or_else(|| format!("{i}"), |n| n.to_string_lossy().into_owned());
        let parent = path
            .parent()
            .and_then(Path::file_name)
            .map_or(String::new(), |p| p.to_string_lossy().into_owned());
        let link = folder.join(format!("{parent}_{name}"));
        #[cfg(unix)]
        std::os::unix::fs::symlink(&target, &link)
            .with_context(|| format!("linking {}", link.display()))?;
        #[cfg(not(unix))]
        std::fs::copy(&target, &link).with_context(|| format!("copying to {}", link.display()))?;
    }
    Ok(())
}

pub fn pairs(args: &PairsArgs) -> Result<()> {
    let dataset = Dataset::open(&args.data, &OpenOptions::new().require_identities(2))?;
    let file = PairsFile::generate(
        &dataset,
        &dataset.names(),
        args.folds,
        args.per_fold,
        args.seed,
    )?;
    file.write(&args.out)?;
    println!(
        "wrote {}: {} folds x ({} matched + {} mismatched) pairs",
        args.out.display(),
        args.folds,
        args.per_fold,
        args.per_fold
    );
    Ok(())
}
