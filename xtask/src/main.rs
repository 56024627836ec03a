//! Project tasks: `cargo xtask test` and `cargo xtask bench [--quick] [FILTER]`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

/// Bench targets in `benches/`, in the order they run.
const BENCHES: &[&str] = &["gemm", "conv", "layers", "mining", "model"];

const USAGE: &str = "usage:
  cargo xtask test                   run every test (the command CI runs)
  cargo xtask bench [--quick] [F]    run the benchmarks (F: criterion filter) and write
                                     target/bench/summary.json";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("test") => test(&args[1..]),
        Some("bench") => bench(&args[1..]),
        _ => {
            eprintln!("{USAGE}");
            std::process::exit(2)
        }
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .into()
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| workspace_root().join("target"), Into::into)
}

fn cargo() -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command.current_dir(workspace_root());
    command
}

fn run(mut command: Command) -> Result<()> {
    let status = command
        .status()
        .with_context(|| format!("starting {command:?}"))?;
    if !status.success() {
        bail!("{command:?} failed with {status}");
    }
    Ok(())
}

/// Release mode: the GPU tests compare against the CPU reference, which is slow unoptimised,
/// and the benches share the same build.
fn test(extra: &[String]) -> Result<()> {
    let mut command = cargo();
    command
        .args(["test", "--release", "--workspace"])
        .args(extra);
    run(command)
}

fn bench(args: &[String]) -> Result<()> {
    let quick = args.iter().any(|a| a == "--quick");
    let filter: Vec<&String> = args.iter().filter(|a| *a != "--quick").collect();
    let bench_dir = target_dir().join("bench");
    std::fs::create_dir_all(&bench_dir)?;
    let records_path = bench_dir.join("records.jsonl");
    let _ = std::fs::remove_file(&records_path);

    for name in BENCHES {
        let mut command = cargo();
        command.args(["bench", "--bench", name, "--"]).args(&filter);
        command.env("FACENET_BENCH_QUICK", if quick { "1" } else { "0" });
        run(command)?;
    }

    let records = std::fs::read_to_string(&records_path).with_context(|| {
        format!(
            "no records at {} (did any bench run?)",
            records_path.display()
        )
    })?;
    let mut summary = Vec::new();
    for line in records.lines().filter(|l| !l.trim().is_empty()) {
        let record: Value = serde_json::from_str(line).context("bench record")?;
        let Some(median_ms) = criterion_median_ms(&record)? else {
            continue;
        };
        let per_second = |field: &str| {
            record[field]
                .as_f64()
                .map(|amount| amount / (median_ms * 1e-3) / 1e9)
        };
        let mut extra = record["extra"].clone();
        if let Some(images) = extra["images"].as_f64() {
            extra["images_per_second"] = json!(images / (median_ms * 1e-3));
        }
        summary.push(json!({
            "kernel": record["kernel"],
            "variant": record["variant"],
            "shape": record["shape"],
            "adapter": record["adapter"],
            "driver": record["driver"],
            "timer": record["timer"],
            "median_ms": median_ms,
            "gflops": per_second("flops"),
            "gbps": per_second("bytes"),
            "extra": extra,
        }));
    }
    let summary_path = bench_dir.join("summary.json");
    std::fs::write(
        &summary_path,
        serde_json::to_string_pretty(&summary)? + "\n",
    )?;
    print_table(&summary);
    println!(
        "wrote {} ({} records)",
        summary_path.display(),
        summary.len()
    );
    Ok(())
}

/// Criterion's median for the record's benchmark, or None if it was filtered out of this run.
fn criterion_median_ms(record: &Value) -> Result<Option<f64>> {
    let dir = record["criterion_dir"]
        .as_str()
        .context("record without criterion_dir")?;
    let path = target_dir()
        .join("criterion")
        .join(dir)
        .join("new/estimates.json");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(None);
    };
    let estimates: Value =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    let median_ns = estimates["median"]["point_estimate"]
        .as_f64()
        .with_context(|| format!("no median in {}", path.display()))?;
    Ok(Some(median_ns * 1e-6))
}

fn print_table(summary: &[Value]) {
    let Some(first) = summary.first() else { return };
    println!(
        "\nadapter: {} | driver: {} | timer: {}",
        first["adapter"].as_str().unwrap_or("?"),
        first["driver"].as_str().unwrap_or("?"),
        first["timer"].as_str().unwrap_or("?")
    );
    println!(
        "{:<10} {:<12} {:<34} {:>12} {:>9} {:>9}",
        "kernel", "variant", "shape", "median ms", "GFLOP/s", "GB/s"
    );
    let number = |v: &Value| v.as_f64().map_or("-".to_string(), |x| format!("{x:.2}"));
    for r in summary {
        println!(
            "{:<10} {:<12} {:<34} {:>12.3} {:>9} {:>9}",
            r["kernel"].as_str().unwrap_or(""),
            r["variant"].as_str().unwrap_or(""),
            r["shape"].as_str().unwrap_or(""),
            r["median_ms"].as_f64().unwrap_or(f64::NAN),
            number(&r["gflops"]),
            number(&r["gbps"]),
        );
    }
}
