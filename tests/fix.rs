//! `pal-audit fix`: scripts from a report, and `--apply` against the emulator,
//! after which the fixed resources are credited.

mod common;

use common::*;

const SVC: &str = "11111111-1111-4111-8111-000000000001";

/// An audit of the emulator (no CI activity export: every role holder
/// counts), written to `dir/report.json`.
fn report(emu: &Emulator, dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("report.json");
    let base = emu.base();
    let out = bin()
        .env("PAL_AUDIT_TOKEN", TOKEN)
        .env("PAL_AUDIT_CI_KEY", CI_KEY)
        .args(["audit", "--auth", "static-token", "--api-base", &base])
        .args([
            "--partner-id",
            PARTNER,
            "--as-of",
            AS_OF,
            "--format",
            "json",
        ])
        .args(["--links", "fixtures/contoso/links.csv"])
        .args(["--ci-activity", "fixtures/contoso/ci-activity.jsonl"])
        .args([
            "--attestations",
            "fixtures/contoso/attestations",
            "--output",
        ])
        .arg(&path)
        .output()
        .unwrap();
    assert!(path.exists(), "{}", String::from_utf8_lossy(&out.stderr));
    path
}

fn fix(emu: &Emulator, token: &str, args: &[&str]) -> std::process::Output {
    let base = emu.base();
    bin()
        .env("PAL_AUDIT_TOKEN", token)
        .env("PAL_AUDIT_CI_KEY", CI_KEY)
        .args(["fix", "--auth", "static-token", "--api-base", &base])
        .args(args)
        .output()
        .unwrap()
}

/// The cells of the result table's rows (the header left out).
fn table_rows(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .filter(|l| l.starts_with('│') && !l.contains("resource"))
        .map(|l| {
            l.trim_matches('│')
                .split('┆')
                .map(|c| c.trim().to_string())
                .collect()
        })
        .collect()
}

const AUDIT_AGAIN: [&str; 8] = [
    "--links",
    "fixtures/contoso/links.csv",
    "--ci-activity",
    "fixtures/contoso/ci-activity.jsonl",
    "--attestations",
    "fixtures/contoso/attestations",
    "--as-of",
    AS_OF,
];

#[test]
fn writes_a_script_in_either_shell() {
    let emu = Emulator::start("", 100);
    let dir = tempfile::tempdir().unwrap();
    let r = report(&emu, dir.path());
    let out = fix(&emu, TOKEN, &[r.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    let pwsh = String::from_utf8_lossy(&out.stdout);
    assert!(pwsh.starts_with("#Requires -Version 7"));
    assert!(pwsh.contains("modifyAppOwner") && pwsh.contains("roleForOldAppOwner = 'CanEdit'"));
    assert!(pwsh.contains("MUST RUN SIGNED IN AS svc-northwind@contoso.com"));
    assert!(pwsh.contains("# Not automatable"));
    assert!(pwsh.contains("a flow's creator cannot change"));
    let script = dir.path().join("fix.sh");
    let args = [
        r.to_str().unwrap(),
        "--shell",
        "bash",
        "--out",
        script.to_str().unwrap(),
    ];
    assert_eq!(fix(&emu, TOKEN, &args).status.code(), Some(0));
    let bash = std::fs::read_to_string(&script).unwrap();
    assert!(bash.starts_with("#!/usr/bin/env bash") && bash.contains("set -euo pipefail"));
    // The bash script is valid shell.
    let check = std::process::Command::new("bash")
        .arg("-n")
        .arg(&script)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
}

#[test]
fn apply_makes_every_automatable_finding_credited() {
    let emu = Emulator::start("", 100);
    let dir = tempfile::tempdir().unwrap();
    let r = report(&emu, dir.path());
    let token = jwt(SVC, Some("svc-northwind@contoso.com"));
    // Without --yes and without a terminal: a dry run.
    let out = fix(
        &emu,
        &token,
        &[&[r.to_str().unwrap(), "--apply"][..], &AUDIT_AGAIN].concat(),
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Dry run: nothing changed"));
    let args = [&[r.to_str().unwrap(), "--apply", "--yes"][..], &AUDIT_AGAIN].concat();
    let out = fix(&emu, &token, &args);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let rows = table_rows(&text);
    assert!(
        rows.len() == 10,
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Every applied step turned its resource credited, but an instance's:
    // its role makes the identity a possible active user, and only its use
    // of the instance makes it an active one (rules v2).
    for row in &rows {
        assert!(row[2] == "changed" || row[2] == "already done", "{row:?}");
        let want = if row[1] == "instance" {
            "uncredited"
        } else {
            "credited"
        };
        assert_eq!(row[4], want, "{row:?}");
    }
    for name in [
        "Visitor Badges",
        "Safety Checklist",
        "Pipeline",
        "Revenue",
        "Web Analytics",
    ] {
        assert!(
            rows.iter().any(|r| r[0] == name && r[2] == "changed"),
            "{name}: {text}"
        );
    }
    // What cannot be automated is said, so the exit code is 1.
    assert!(text.contains("Not automatable") && text.contains("Sync leads"));
    assert_eq!(out.status.code(), Some(1));
    // An audit afterwards agrees.
    let after = verdicts(&json(&audit(&emu, &["--format", "json"])));
    assert_eq!(after["a0000000-0000-4000-8000-000000000003"].0, "credited");
    assert_eq!(after["c0000000-0000-4000-8000-000000000002"].0, "credited");
}

#[test]
fn a_take_over_refuses_to_run_as_someone_else() {
    let emu = Emulator::start("", 100);
    let dir = tempfile::tempdir().unwrap();
    let r = report(&emu, dir.path());
    // Signed in as Dave, fixing for the service account.
    let token = jwt(
        "44444444-4444-4444-8444-000000000006",
        Some("dave.okafor@contoso.com"),
    );
    let args = [&[r.to_str().unwrap(), "--apply", "--yes"][..], &AUDIT_AGAIN].concat();
    let out = fix(&emu, &token, &args);
    let text = String::from_utf8_lossy(&out.stdout);
    let rows = table_rows(&text);
    let pipeline = rows.iter().find(|r| r[0] == "Pipeline").unwrap();
    assert!(pipeline[2].starts_with("FAILED"), "{pipeline:?}");
    // The other steps still went on.
    assert!(
        rows.iter()
            .any(|r| r[0] == "Visitor Badges" && r[2] == "changed"),
        "{text}"
    );
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn a_bad_report_is_exit_2_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path().join("r.json");
    std::fs::write(&r, r#"{"schema":"pal-audit/report/v1","findings":3}"#).unwrap();
    let out = bin().args(["fix"]).arg(&r).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("r.json"), "{stderr}");
}
