//! Files and streams end to end: where reports go (stdout, --output, a
//! device, a folder), what happens when writing fails, and the limits on
//! what is read (size, duplicate columns, byte order marks, numbers).

mod common;

use common::*;

/// The binary as a std `Command`, for stdout redirections assert_cmd lacks.
fn std_bin() -> std::process::Command {
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin!("pal-audit"));
    for (k, _) in std::env::vars() {
        if k.starts_with("PAL_AUDIT_") || k.starts_with("AZURE_") || k == "RUST_LOG" {
            cmd.env_remove(k);
        }
    }
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
    cmd
}

/// A stdout that cannot be written (a full disk) is an error, exit 2, and
/// the message names stdout and the OS error; it used to exit 0 with a
/// truncated report.
#[cfg(target_os = "linux")]
#[test]
fn a_full_stdout_is_an_error_not_a_truncated_report() {
    let full = || {
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap()
    };
    for args in [
        vec!["demo", "--format", "json"],
        vec!["demo", "--format", "table"],
        vec!["completions", "bash"],
    ] {
        let out = std_bin().args(&args).stdout(full()).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains("cannot write stdout") && stderr.contains("No space left"),
            "{args:?}: {stderr}"
        );
    }
    // Commands that read a report print through the same check.
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("r.json");
    let ok = bin()
        .args(["demo", "--format", "json", "--output"])
        .arg(&report)
        .output()
        .unwrap();
    assert_eq!(ok.status.code(), Some(0));
    let out = std_bin()
        .arg("diff")
        .arg(&report)
        .arg(&report)
        .stdout(full())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = std_bin()
        .arg("explain")
        .arg(&report)
        .args(["--format", "dot"])
        .stdout(full())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
