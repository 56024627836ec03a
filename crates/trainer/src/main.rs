//! `trainer`: train a face embedding net on the GPU, evaluate it, embed, verify, recognise and
//! cluster folders of faces. With no arguments it trains the tiny net on built-in synthetic
//! faces and reports held-out measures.

mod commands;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(version, about, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    train: TrainArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Train a net (the default when no subcommand is given).
    Train(TrainArgs),
    /// Embed every image of a one-folder-per-identity dataset into a safetensors file.
    Embed(EmbedArgs),
    /// Verification on a pairs file (LFW's pairs.txt format).
    Verify(VerifyArgs),
    /// Leave-one-out k-NN recognition over a dataset's identities.
    Recognize(ModelDataArgs),
    /// k-means clustering of a dataset, scored against its folders; optionally written out.
    Cluster(ClusterArgs),
    /// Write a pairs file drawn from a dataset's identities.
    Pairs(PairsArgs),
}

/// The net to use: a checkpoint, or a freshly initialised preset.
#[derive(Args, Clone)]
pub struct ModelArgs {
    /// A checkpoint written by `trainer train` (its net configuration comes with it).
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// Without a checkpoint: the preset to initialise (tiny, facenet-s).
    #[arg(long, default_value = "tiny")]
    pub preset: String,
    /// Without a checkpoint: the initialisation seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Without a checkpoint: input size in pixels (a multiple of 8).
    #[arg(long, default_value_t = 64)]
    pub input_size: usize,
    /// auto (GPU, else the CPU reference), gpu or cpu.
    #[arg(long, default_value = "auto")]
    pub backend: String,
}

#[derive(Args, Clone)]
pub struct ModelDataArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// A one-folder-per-identity dataset.
    #[arg(long)]
    pub data: PathBuf,
    /// Skip undecodable images (each listed in a warning) instead of failing.
    #[arg(long)]
    pub skip_bad_images: bool,
    /// Write the measures as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

#[derive(Args)]
pub struct EmbedArgs {
    #[command(flatten)]
    pub common: ModelDataArgs,
    /// Output safetensors file (tensors `embeddings` [N, D] and `labels` [N]); the image paths
    /// go to the same name with `.txt`.
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub common: ModelDataArgs,
    /// The pairs file; without one, all matched pairs and as many mismatched are drawn.
    #[arg(long)]
    pub pairs: Option<PathBuf>,
    /// Write the ROC curve as SVG here.
    #[arg(long)]
    pub roc: Option<PathBuf>,
}

#[derive(Args)]
pub struct ClusterArgs {
    #[command(flatten)]
    pub common: ModelDataArgs,
    /// Number of clusters (default: the number of identity folders).
    #[arg(long)]
    pub k: Option<usize>,
    /// Write `file,cluster` lines here.
    #[arg(long)]
    pub csv: Option<PathBuf>,
    /// Write one folder per cluster of symbolic links to the images here.
    #[arg(long)]
    pub link_dir: Option<PathBuf>,
}

#[derive(Args)]
pub struct PairsArgs {
    /// A one-folder-per-identity dataset.
    #[arg(long)]
    pub data: PathBuf,
    /// The pairs file to write.
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, default_value_t = 10)]
    pub folds: usize,
    /// Matched (and as many mismatched) pairs per fold.
    #[arg(long, default_value_t = 300)]
    pub per_fold: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

#[derive(Args, Clone)]
pub struct TrainArgs {
    /// Train on a one-folder-per-identity dataset instead of the built-in synthetic faces.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Identities held out of training for evaluation.
    #[arg(long, default_value_t = 10)]
    pub held_out: usize,
    /// Also evaluate on these datasets (every identity) at the end, e.g. Yale.
    #[arg(long = "eval-data")]
    pub eval_data: Vec<PathBuf>,
    /// Net preset: tiny or facenet-s.
    #[arg(long, default_value = "tiny")]
    pub preset: String,
    /// Input size in pixels, a multiple of 8 (default: 64 for --data, 32 for synthetic faces).
    #[arg(long)]
    pub input_size: Option<usize>,
    /// Input channels: 1 (grey) or 3 (RGB).
    #[arg(long, default_value_t = 1)]
    pub channels: usize,
    /// Embedding size (64 to 512 in SPEC; a multiple of 4).
    #[arg(long, default_value_t = 128)]
    pub embedding_dim: usize,
    /// Identities per batch.
    #[arg(short = 'p', long, default_value_t = 16)]
    pub p: usize,
    /// Images per identity in a batch.
    #[arg(short = 'k', long, default_value_t = 4)]
    pub k: usize,
    /// The FaceNet paper's batch: 45 identities x 40 images.
    #[arg(long)]
    pub facenet_profile: bool,
    /// Triplet selection: semi-hard, semi-hard-band, semi-hard-inside, batch-hard,
    /// batch-hard-soft, batch-all, batch-all-nonzero.
    #[arg(long, default_value = "semi-hard")]
    pub rule: String,
    /// Triplet margin.
    #[arg(long, default_value_t = 0.2)]
    pub alpha: f32,
    /// adam, adamw, sgd or adagrad.
    #[arg(long, default_value = "adam")]
    pub optimizer: String,
    /// Learning rate (the start of the schedule).
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f32,
    /// L2 weight decay (decoupled for adamw).
    #[arg(long, default_value_t = 0.0)]
    pub weight_decay: f32,
    /// SGD momentum.
    #[arg(long, default_value_t = 0.9)]
    pub momentum: f32,
    /// constant or cosine.
    #[arg(long, default_value = "cosine")]
    pub schedule: String,
    /// Training epochs (default: 60 for --data, 15 for synthetic faces).
    #[arg(long)]
    pub epochs: Option<u64>,
    /// Steps per epoch (default: one pass over the training images).
    #[arg(long)]
    pub steps_per_epoch: Option<u64>,
    /// Maximum shift of the augmentation, in pixels (0 disables shifts).
    #[arg(long, default_value_t = 3)]
    pub shift: usize,
    /// No random horizontal flips.
    #[arg(long)]
    pub no_flip: bool,
    /// Seeds the initialisation, the split, the batches and the augmentation.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Cross-check the GPU step against the CPU reference at step 1 and every N steps.
    #[arg(long, value_name = "N", num_args = 0..=1, default_missing_value = "100")]
    pub check: Option<u64>,
    /// Continue the run whose checkpoint this is (its folder is reused).
    #[arg(long)]
    pub resume: Option<PathBuf>,
    /// The run folder (default: runs/<dataset>-<preset>-seed<seed>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// auto (GPU, else the CPU reference), gpu or cpu.
    #[arg(long, default_value = "auto")]
    pub backend: String,
    /// Synthetic data: training identities, images per identity and difficulty.
    #[arg(long, default_value_t = 200)]
    pub synthetic_identities: usize,
    #[arg(long, default_value_t = 10)]
    pub synthetic_images: usize,
    #[arg(long, default_value_t = 1.0)]
    pub synthetic_difficulty: f32,
    /// Skip undecodable images (each listed in a warning) instead of failing.
    #[arg(long)]
    pub skip_bad_images: bool,
}

fn main() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .format_timestamp(None)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        None => commands::train(&cli.train),
        Some(Command::Train(args)) => commands::train(&args),
        Some(Command::Embed(args)) => commands::embed(&args),
        Some(Command::Verify(args)) => commands::verify(&args),
        Some(Command::Recognize(args)) => commands::recognize(&args),
        Some(Command::Cluster(args)) => commands::cluster(&args),
        Some(Command::Pairs(args)) => commands::pairs(&args),
    };
    if let Err(error) = result {
        eprintln!("error: {error:#}");
        std::process::exit(1);
    }
}
