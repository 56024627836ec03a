//! Training runs end to end at a tiny size on the built-in synthetic faces: resume gives the
//! same weights as a run that never stopped, `--check` passes, checkpoints refuse bad files.

use std::path::PathBuf;

use facenet::batch::Augment;
use facenet::checkpoint::Checkpoint;
use facenet::net::NetConfig;
use facenet::train::{DataConfig, OptimizerConfig, TrainConfig, train};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("facenet-run-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn tiny_config(epochs: u64) -> TrainConfig {
    TrainConfig {
        net: NetConfig::preset("tiny", 1, 16, 32).unwrap(),
        data: DataConfig::Synthetic {
            identities: 12,
            held_out: 6,
            images_per_identity: 4,
            difficulty: 1.0,
        },
        extra_eval: Vec::new(),
        p: 4,
        k: 3,
        rule: "semi-hard".into(),
        alpha: 0.2,
        optimizer: OptimizerConfig {
            kind: "adam".into(),
            lr: 1e-3,
            weight_decay: 0.0,
            momentum: 0.0,
            schedule: "cosine".into(),
        },
        epochs,
        steps_per_epoch: Some(2),
        augment: Augment {
            flip: true,
            max_shift: 1,
        },
        seed: 5,
        check_every: None,
        backend: backend(),
        skip_bad_images: false,
    }
}

/// The GPU where there is one (always in CI), else the CPU reference: both must resume exactly.
fn backend() -> String {
    if facenet_gpu::Gpu::for_tests().is_some() {
        "gpu".into()
    } else {
        "cpu".into()
    }
}

#[test]
fn resumed_run_matches_an_uninterrupted_one() {
    // The one-epoch run stands for a run stopped after its first epoch. A constant learning
    // rate keeps its schedule equal to the two-epoch run's (cosine depends on the run length).
    let config = |epochs| {
        let mut config = tiny_config(epochs);
        config.optimizer.schedule = "constant".into();
        config
    };
    let whole = scratch("whole");
    train(&config(2), &whole, None).unwrap();

    let split = scratch("split");
    train(&config(1), &split, None).unwrap();
    let checkpoint = split.join("checkpoint.safetensors");
    assert_eq!(Checkpoint::load(&checkpoint).unwrap().progress.step, 2);
    train(&config(2), &split, Some(&checkpoint)).unwrap();

    let a = Checkpoint::load(&whole.join("checkpoint.safetensors")).unwrap();
    let b = Checkpoint::load(&checkpoint).unwrap();
    assert_eq!(a.progress, b.progress);
    for (x, y) in a
        .params
        .iter()
        .zip(&b.params)
        .chain(a.state.iter().zip(&b.state))
    {
        assert_eq!(
            x.data, y.data,
            "{} differs between the resumed and the whole run",
            x.name
        );
    }
    for file in ["config.json", "metrics.jsonl", "metrics.json", "roc.svg"] {
        assert!(
            whole.join(file).exists(),
            "{file} missing from the run folder"
        );
    }
    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(whole.join("metrics.json")).unwrap())
            .unwrap();
    for key in [
        "steps",
        "epochs",
        "images_per_second",
        "final_loss",
        "adapter",
    ] {
        assert!(!metrics[key].is_null(), "metrics.json lacks {key}");
    }
    for (block, key) in [
        ("verification", "accuracy"),
        ("recognition", "top1"),
        ("clustering", "nmi"),
    ] {
        let value = metrics[block][key].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&value), "{block}.{key} = {value}");
    }
}

#[test]
fn cross_check_passes_on_every_step() {
    let mut config = tiny_config(1);
    config.check_every = Some(1);
    train(&config, &scratch("check"), None).unwrap();
}

#[test]
fn a_broken_checkpoint_is_an_error_that_names_it() {
    let dir = scratch("broken");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("checkpoint.safetensors");
    std::fs::write(&path, b"not a checkpoint").unwrap();
    let error = Checkpoint::load(&path)
        .err()
        .expect("garbage must not load")
        .to_string();
    assert!(error.contains("checkpoint.safetensors"), "{error}");
}
