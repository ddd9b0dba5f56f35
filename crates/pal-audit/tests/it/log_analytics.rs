//! `--ci-workspace`: Customer Insights activity read from the Log Analytics
//! query API (`CIEventsAudit`, `CIEventsOperational`) instead of the
//! `--ci-activity` export. The bundled tenant's workspace holds the events
//! of its export: the verdicts must be the file's. A query that fails is a
//! gap (exit 4), never a credit the file run does not give; a PartialError
//! answer is partial, never complete.

use crate::common::*;
use serde_json::Value;

/// The bundled tenant's workspace (`ci_workspace` in its tenant.toml).
const WORKSPACE: &str = "0b0b0b0b-0000-4000-8000-00000000a001";
const FILE: &[&str] = &[
    "--ci-activity",
    "crates/pal-emulator/contoso/ci-activity.jsonl",
];
const QUERY: &[&str] = &["--ci-workspace", WORKSPACE];

/// An audit of the readable environments with `activity` as the only
/// Customer Insights activity flag; short retry waits.
fn run(emu: &Emulator, activity: &[&str]) -> Run {
    activity_run(emu, activity)
}

fn instances(report: &Value) -> Vec<(String, String)> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "instance")
        .map(|f| {
            (
                f["resource_id"].as_str().unwrap().to_string(),
                f["verdict"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Every credit of `faulted` is one `clean` gives the same resource.
fn no_credit_the_file_does_not_give(clean: &Value, faulted: &Value) {
    let want = verdicts(clean);
    for (id, (verdict, partner, _)) in verdicts(faulted) {
        if verdict == "credited" || verdict == "credited-to-other" {
            let (v, p, _) = &want[&id];
            assert_eq!((&verdict, &partner), (v, p), "{id}");
        }
    }
}

#[test]
fn the_workspace_gives_the_files_verdicts() {
    let emu = Emulator::start("", 2);
    let file = run(&emu, FILE);
    let query = run(&emu, QUERY);
    assert_eq!(file.code, Some(0), "{}", file.stderr);
    assert_eq!(query.code, Some(0), "{}", query.stderr);
    assert_eq!(query.report["complete"], true);
    assert_eq!(verdicts(&query.report), verdicts(&file.report));
    // Activity decided something: an instance is credited by it.
    assert!(
        instances(&query.report)
            .iter()
            .any(|(_, v)| v == "credited"),
        "{:?}",
        instances(&query.report)
    );
    let la = coverage(&query.report, "log-analytics");
    assert_eq!(la["status"], "complete", "{la}");
    assert!(la["requests"].as_u64().unwrap() >= 1, "{la}");
    let ci = coverage(&query.report, "customer-insights");
    assert!(
        ci["detail"]
            .as_str()
            .unwrap()
            .contains("from Log Analytics"),
        "{ci}"
    );
    // The file run asks nothing of Log Analytics.
    assert!(
        file.report["coverage"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["source"] != "log-analytics")
    );
}

#[test]
fn a_throttled_query_is_retried() {
    let emu = Emulator::start("", 2);
    let clean = run(&emu, FILE);
    let emu = Emulator::start("429:1@loganalytics*2", 2);
    let r = run(&emu, QUERY);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(r.stderr.contains("retrying"), "{}", r.stderr);
    assert_eq!(verdicts(&r.report), verdicts(&clean.report));
}

#[test]
fn a_failed_query_is_a_gap_never_a_credit() {
    let emu = Emulator::start("", 2);
    let clean = run(&emu, FILE);
    for fault in [
        "403@loganalytics*all",
        "500@loganalytics*all",
        "malformed@loganalytics*all",
    ] {
        let emu = Emulator::start(fault, 2);
        let r = run(&emu, QUERY);
        assert_eq!(r.code, Some(4), "{fault}: {}", r.stderr);
        assert_eq!(r.report["complete"], false, "{fault}");
        let la = coverage(&r.report, "log-analytics");
        assert_eq!(la["status"], "failed", "{fault}: {la}");
        no_credit_the_file_does_not_give(&clean.report, &r.report);
        // Activity unread: no instance is credited on it.
        assert!(
            instances(&r.report).iter().all(|(_, v)| v != "credited"),
            "{fault}: {:?}",
            instances(&r.report)
        );
    }
}

#[test]
fn a_partial_error_is_a_partial_read() {
    let emu = Emulator::start("", 2);
    let clean = run(&emu, FILE);
    let emu = Emulator::start("partial-error@loganalytics*all", 2);
    let r = run(&emu, QUERY);
    assert_eq!(r.code, Some(4), "{}", r.stderr);
    assert_eq!(r.report["complete"], false);
    let la = coverage(&r.report, "log-analytics");
    assert_eq!(la["status"], "partial", "{la}");
    assert!(
        la["detail"].as_str().unwrap().contains("PartialError"),
        "{la}"
    );
    no_credit_the_file_does_not_give(&clean.report, &r.report);
    assert!(
        instances(&r.report).iter().all(|(_, v)| v != "credited"),
        "{:?}",
        instances(&r.report)
    );
}

#[test]
fn file_and_workspace_together_or_a_bad_id_are_refused() {
    let emu = Emulator::start("", 2);
    let both = [FILE, QUERY].concat();
    let r = bin()
        .env("PAL_AUDIT_TOKEN", TOKEN)
        .args([
            "audit",
            "--auth",
            "static-token",
            "--api-base",
            &emu.base(),
            "--partner-id",
            PARTNER,
        ])
        .args(&both)
        .output()
        .unwrap();
    assert_eq!(r.status.code(), Some(2));
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(err.contains("--ci-activity and --ci-workspace"), "{err}");
    let r = bin()
        .env("PAL_AUDIT_TOKEN", TOKEN)
        .env("PAL_AUDIT_CI_WORKSPACE", "x' | take 1 //")
        .args([
            "audit",
            "--auth",
            "static-token",
            "--api-base",
            &emu.base(),
            "--partner-id",
            PARTNER,
        ])
        .output()
        .unwrap();
    assert_eq!(r.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&r.stderr).contains("not a Log Analytics workspace id"));
}

#[test]
fn doctor_checks_the_workspace() {
    let emu = Emulator::start("", 100);
    let doctor = |emu: &Emulator, ws: &str| {
        bin()
            .env("PAL_AUDIT_TOKEN", TOKEN)
            .env("PAL_AUDIT_CI_KEY", CI_KEY)
            .args([
                "doctor",
                "--auth",
                "static-token",
                "--api-base",
                &emu.base(),
            ])
            .args(["--products", "customer-insights", "--ci-workspace", ws])
            .output()
            .unwrap()
    };
    let out = doctor(&emu, WORKSPACE);
    let table = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(0), "{table}");
    assert!(table.contains("Log Analytics (CI activity)"), "{table}");
    assert!(table.contains("can be queried"), "{table}");
    let emu = Emulator::start("403@loganalytics*all", 100);
    let out = doctor(&emu, WORKSPACE);
    let table = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(1), "{table}");
    let row = table
        .lines()
        .find(|l| l.contains("Log Analytics (CI activity)"))
        .unwrap();
    assert!(row.contains("refused"), "{table}");
    // The setup step (wrapped in its column) names the role.
    assert!(
        table.contains("(IAM)") && table.contains("Reader role"),
        "{table}"
    );
}
