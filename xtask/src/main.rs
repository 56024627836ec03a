//! Project tasks: `cargo xtask test` and `cargo xtask bench [--quick] [FILTER]`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

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
    let started = SystemTime::now();

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
        let Some(median_ms) = criterion_median_ms(&record, started)? else {
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

/// Criterion's median for the record's benchmark, or None if it was filtered out of this run:
/// criterion keeps the estimates of earlier runs, so only those written since `started` count.
fn criterion_median_ms(record: &Value, started: SystemTime) -> Result<Option<f64>> {
    let dir = record["criterion_dir"]
        .as_str()
        .context("record without criterion_dir")?;
    let path = target_dir()
        .join("criterion")
        .join(dir)
        .join("new/estimates.json");
    let written = std::fs::metadata(&path).and_then(|m| m.modified());
    if !written.is_ok_and(|time| time >= started) {
        return Ok(None);
    }
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let estimates: Value =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    let median_ns = estimates["median"]["point_estimate"]
        .as_f64()
        .with_context(|| format!("no median in {}", path.display()))?;
    Ok(Some(median_ns * 1e-6))
}

/// The summary as a table: the adapter once above it, the timer on every row (whole training
/// steps are timed by wall clock, kernels by GPU timestamps), columns as wide as their cells.
fn print_table(summary: &[Value]) {
    let Some(first) = summary.first() else { return };
    println!(
        "\nadapter: {} | driver: {}",
        first["adapter"].as_str().unwrap_or("?"),
        first["driver"].as_str().unwrap_or("?"),
    );
    let number = |v: &Value, digits: usize| {
        v.as_f64()
            .map_or("-".to_string(), |x| format!("{x:.digits$}"))
    };
    // The first TEXT_COLUMNS are text, left-aligned; the rest are numbers, right-aligned.
    const TEXT_COLUMNS: usize = 4;
    let header = [
        "kernel",
        "variant",
        "shape",
        "timer",
        "median ms",
        "GFLOP/s",
        "GB/s",
        "images/s",
        "peak MiB",
    ];
    let rows: Vec<[String; 9]> = summary
        .iter()
        .map(|r| {
            let text = |field: &str| r[field].as_str().unwrap_or("").to_string();
            let peak_mib = r["extra"]["peak_bytes"]
                .as_f64()
                .map(|b| b / (1 << 20) as f64);
            [
                text("kernel"),
                text("variant"),
                text("shape"),
                text("timer"),
                number(&r["median_ms"], 3),
                number(&r["gflops"], 2),
                number(&r["gbps"], 2),
                number(&r["extra"]["images_per_second"], 1),
                number(&peak_mib.into(), 1),
            ]
        })
        .collect();
    let widths: Vec<usize> = (0..header.len())
        .map(|c| {
            rows.iter()
                .map(|row| row[c].len())
                .chain([header[c].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &[&str]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(c, (cell, &w))| {
                if c < TEXT_COLUMNS {
                    format!("{cell:<w$}")
                } else {
                    format!("{cell:>w$}")
                }
            })
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(&header);
    for row in &rows {
        line(&row.each_ref().map(String::as_str));
    }
}
