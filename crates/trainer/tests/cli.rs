//! The trainer's evaluation commands end to end on the shared AT&T/ORL faces with an untrained
//! net: each runs, prints its measures and writes its files.

use std::path::PathBuf;
use std::process::Command;

/// The AT&T/ORL folder from `FACENET_ATT_FACES`, or None (with a message) when it is unset.
fn att_faces() -> Option<PathBuf> {
    match std::env::var_os("FACENET_ATT_FACES") {
        Some(path) => Some(PathBuf::from(path)),
        None => {
            eprintln!("SKIPPED: set FACENET_ATT_FACES to the att_faces folder to run this test");
            None
        }
    }
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("facenet-cli-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs the trainer and returns its standard output, failing the test with its stderr.
fn trainer(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_trainer"))
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "trainer {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// Untrained net at 32 pixels: fast, and every command's path is the same as at 64.
const MODEL: [&str; 4] = ["--input-size", "32", "--seed", "1"];

#[test]
fn evaluation_commands_run_on_att_faces() {
    let Some(data) = att_faces() else { return };
    let data = data.to_str().unwrap();
    let dir = scratch("eval");
    let path = |name: &str| dir.join(name).to_str().unwrap().to_string();

    let out = trainer(&[
        "pairs",
        "--data",
        data,
        "--out",
        &path("pairs.txt"),
        "--per-fold",
        "20",
    ]);
    assert!(out.contains("10 folds"), "{out}");

    let out = trainer(
        &[
            &[
                "verify",
                "--data",
                data,
                "--pairs",
                &path("pairs.txt"),
                "--roc",
                &path("roc.svg"),
                "--json",
                &path("verify.json"),
            ][..],
            &MODEL,
        ]
        .concat(),
    );
    assert!(out.contains("verification on 400 pairs: accuracy"), "{out}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path("verify.json")).unwrap()).unwrap();
    let accuracy = report["accuracy"].as_f64().unwrap();
    assert!((0.5..=1.0).contains(&accuracy), "accuracy {accuracy}");
    assert!(
        std::fs::read_to_string(path("roc.svg"))
            .unwrap()
            .contains("<svg")
    );

    let out = trainer(&[&["recognize", "--data", data][..], &MODEL].concat());
    assert!(out.contains("over 400 probes"), "{out}");

    let out = trainer(
        &[
            &[
                "cluster",
                "--data",
                data,
                "--csv",
                &path("clusters.csv"),
                "--link-dir",
                &path("albums"),
            ][..],
            &MODEL,
        ]
        .concat(),
    );
    assert!(out.contains("k-means, k = 40"), "{out}");
    let csv = std::fs::read_to_string(path("clusters.csv")).unwrap();
    assert_eq!(csv.lines().filter(|l| l.contains(".pgm")).count(), 400);
    let linked: usize = std::fs::read_dir(path("albums"))
        .unwrap()
        .map(|d| std::fs::read_dir(d.unwrap().path()).unwrap().count())
        .sum();
    assert_eq!(
        linked, 400,
        "every image is linked into exactly one cluster folder"
    );

    trainer(
        &[
            &["embed", "--data", data, "--out", &path("emb.safetensors")][..],
            &MODEL,
        ]
        .concat(),
    );
    let list = std::fs::read_to_string(path("emb.txt")).unwrap();
    assert_eq!(list.lines().count(), 400);
}

#[test]
fn bad_input_gets_an_error_naming_it() {
    let dir = scratch("bad");
    let missing = dir.join("no-such-folder");
    let output = Command::new(env!("CARGO_BIN_EXE_trainer"))
        .args(["recognize", "--data", missing.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no-such-folder"), "{stderr}");

    let pairs = dir.join("pairs.txt");
    std::fs::write(&pairs, "1 1\ns1 1\ns1 1 s2 1\n").unwrap();
    let Some(data) = att_faces() else { return };
    let output = Command::new(env!("CARGO_BIN_EXE_trainer"))
        .args([
            "verify",
            "--data",
            data.to_str().unwrap(),
            "--pairs",
            pairs.to_str().unwrap(),
        ])
        .args(MODEL)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("pairs.txt:2"),
        "the error names the file and line: {stderr}"
    );
}
