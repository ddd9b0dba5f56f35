//! `--audit-api`: the unified audit log read from the Office 365 Management
//! Activity API instead of (or with) the `--audit-log` export. The emulator
//! serves the bundled tenant's export records as `Audit.General` content:
//! the API must decide canvas apps as the same records in a file do, follow
//! `NextPageUri`, say a missing subscription (and start it only when asked),
//! retry the API's throttling answer (AF429 as 403), and make a blob it
//! could not read, or the part of the window older than the API's 7 days,
//! a gap: never silence, never a credit the records do not give.

use crate::common::*;
use serde_json::Value;

const API: &[&str] = &["--audit-api"];

/// An audit of the readable environments with the bundled CI export and
/// `activity` as the unified audit log's flags; short retry waits.
fn run(emu: &Emulator, activity: &[&str]) -> Run {
    let ci = [
        "--ci-activity",
        "crates/pal-emulator/contoso/ci-activity.jsonl",
    ];
    activity_run(emu, &[&ci[..], activity].concat())
}

/// Canvas apps: id -> (verdict, credited partner, decided by, its source,
/// active users).
fn apps(report: &Value) -> std::collections::BTreeMap<String, [String; 5]> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "canvas-app")
        .map(|f| {
            let s = |v: &Value| v.as_str().map_or_else(|| v.to_string(), str::to_string);
            (
                f["resource_id"].as_str().unwrap().to_string(),
                [
                    s(&f["verdict"]),
                    s(&f["credited_partner_id"]),
                    s(&f["decided_by"]),
                    s(&f["decided_by_source"]),
                    s(&f["usage"]["active_users"]),
                ],
            )
        })
        .collect()
}

/// Every credit of `faulted` is one `clean` gives the same resource.
fn no_credit_the_records_do_not_give(clean: &Value, faulted: &Value) {
    let want = verdicts(clean);
    for (id, (verdict, partner, _)) in verdicts(faulted) {
        if verdict == "credited" || verdict == "credited-to-other" {
            let (v, p, _) = &want[&id];
            assert_eq!((&verdict, &partner), (v, p), "{id}");
        }
    }
}

/// The bundled tenant with one more launch, of Quote Builder by Erin Walsh
/// on a day that already has a blob (a second page with one blob a page),
/// and its records written as a file for `--audit-log`.
pub(crate) fn tenant_and_file() -> (pal_emulator::TenantModel, tempfile::TempDir, String) {
    let (mut model, _) = pal_emulator::contoso::load().unwrap();
    let mut extra = model
        .audit_records
        .iter()
        .find(|r| r["Id"] == "947543292011")
        .cloned()
        .unwrap();
    extra["Id"] = "947543292099".into();
    extra["CreationTime"] = "2026-11-15T14:00:00".into();
    extra["UserId"] = "erin.walsh@contoso.com".into();
    model.audit_records.push(extra);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("records.json");
    std::fs::write(&file, serde_json::to_string(&model.audit_records).unwrap()).unwrap();
    let path = file.to_str().unwrap().to_string();
    (model, dir, path)
}

#[test]
fn the_api_decides_canvas_apps_as_the_same_records_in_a_file() {
    let (model, _dir, file) = tenant_and_file();
    // One blob a page: every day with two blobs needs the NextPageUri.
    let emu = Emulator::serve(model, "", 1);
    let week = ["--activity-days", "7"];
    let from_file = run(&emu, &[&["--audit-log", file.as_str()], &week[..]].concat());
    let from_api = run(&emu, &[API, &week[..]].concat());
    assert_eq!(from_file.code, Some(0), "{}", from_file.stderr);
    assert_eq!(from_api.code, Some(0), "{}", from_api.stderr);
    assert_eq!(from_api.report["complete"], true);
    assert_eq!(apps(&from_api.report), apps(&from_file.report));
    assert_eq!(verdicts(&from_api.report), verdicts(&from_file.report));
    // The records decided something, and counted the extra launch (on the
    // second page of its day).
    let apps = apps(&from_api.report);
    assert!(
        apps.values()
            .any(|a| a[2] == "audit-events" && a[3] == "audit-log"),
        "{apps:?}"
    );
    assert_eq!(
        apps["a0000000-0000-4000-8000-000000000006"][4], "3",
        "{apps:?}"
    );
    let row = coverage(&from_api.report, "management-activity");
    assert_eq!(row["status"], "complete", "{row}");
    assert!(row["requests"].as_u64().unwrap() >= 8, "{row}");
    // Both together: one record read twice is counted once.
    let both = run(
        &emu,
        &[&["--audit-log", file.as_str()], API, &week[..]].concat(),
    );
    assert_eq!(both.code, Some(0), "{}", both.stderr);
    assert_eq!(crate::management_activity::apps(&both.report), apps);
    let row = coverage(&both.report, "management-activity");
    assert!(
        row["detail"].as_str().unwrap().contains("counted once"),
        "{row}"
    );
}

#[test]
fn no_subscription_is_a_gap_naming_the_flag_and_the_flag_starts_it() {
    let (mut model, _) = pal_emulator::contoso::load().unwrap();
    model.audit_subscription = false;
    let emu = Emulator::serve(model, "", 100);
    let week = ["--activity-days", "7"];
    let none = run(&emu, &[API, &week[..]].concat());
    assert_eq!(none.code, Some(4), "{}", none.stderr);
    assert_eq!(none.report["complete"], false);
    let row = coverage(&none.report, "management-activity");
    assert_eq!(row["status"], "failed", "{row}");
    let detail = row["detail"].as_str().unwrap();
    assert!(detail.contains("--start-audit-subscription"), "{row}");
    assert!(detail.contains("not enabled"), "{row}");
    // Not "no activity": nothing is decided by an absence of launches.
    let enabled = Emulator::start("", 100);
    let clean = run(&enabled, &[API, &week[..]].concat());
    assert_eq!(clean.code, Some(0), "{}", clean.stderr);
    no_credit_the_records_do_not_give(&clean.report, &none.report);
    for (id, a) in apps(&clean.report) {
        if a[2] == "audit-events" {
            assert_eq!(apps(&none.report)[&id][0], "unknown", "{id}");
        }
    }

    // Refused: a gap naming the permission.
    let refused = run(
        &Emulator::start("403@manage.office.com*all", 100),
        &[API, &week[..]].concat(),
    );
    assert_eq!(refused.code, Some(4), "{}", refused.stderr);
    let row = coverage(&refused.report, "management-activity");
    assert_eq!(row["status"], "failed", "{row}");
    assert!(
        row["detail"]
            .as_str()
            .unwrap()
            .contains("ActivityFeed.Read"),
        "{row}"
    );

    // Asked to, it starts it: content comes later, so still a gap.
    let start = ["--audit-api", "--start-audit-subscription"];
    let started = run(&emu, &[&start[..], &week[..]].concat());
    assert_eq!(started.code, Some(4), "{}", started.stderr);
    let row = coverage(&started.report, "management-activity");
    assert!(
        row["detail"]
            .as_str()
            .unwrap()
            .contains("started by this run"),
        "{row}"
    );
    // Started: the next run reads it; the flag on an enabled one is fine.
    let after = run(&emu, &[API, &week[..]].concat());
    assert_eq!(after.code, Some(0), "{}", after.stderr);
    assert_eq!(apps(&after.report), apps(&clean.report));
    let again = run(&emu, &[&start[..], &week[..]].concat());
    assert_eq!(again.code, Some(0), "{}", again.stderr);
    assert_eq!(apps(&again.report), apps(&clean.report));
}

#[test]
fn throttling_answered_as_403_af429_is_retried() {
    let week = ["--activity-days", "7"];
    let emu = Emulator::start("", 100);
    let clean = run(&emu, &[API, &week[..]].concat());
    let emu = Emulator::start(
        "af429:1@/subscriptions/content*2,af429@/activity/feed/audit/*1",
        100,
    );
    let r = run(&emu, &[API, &week[..]].concat());
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(r.stderr.contains("retrying"), "{}", r.stderr);
    assert!(r.stderr.contains("AF429"), "{}", r.stderr);
    assert_eq!(apps(&r.report), apps(&clean.report));
    assert_eq!(
        coverage(&r.report, "management-activity")["status"],
        "complete"
    );
}

#[test]
fn a_blob_that_keeps_failing_is_a_gap_not_silence() {
    let week = ["--activity-days", "7"];
    let emu = Emulator::start("", 100);
    let clean = run(&emu, &[API, &week[..]].concat());
    // One blob: the read is partial and names it.
    let emu = Emulator::start("500@/activity/feed/audit/2026111410*all", 100);
    let one = run(&emu, &[API, &week[..]].concat());
    assert_eq!(one.code, Some(4), "{}", one.stderr);
    let row = coverage(&one.report, "management-activity");
    assert_eq!(row["status"], "partial", "{row}");
    assert!(
        row["detail"]
            .as_str()
            .unwrap()
            .contains("content blob 2026111410$audit_general"),
        "{row}"
    );
    no_credit_the_records_do_not_give(&clean.report, &one.report);
    // Every blob: what activity decided is not known any more.
    let emu = Emulator::start("500@/activity/feed/audit/*all", 100);
    let all = run(&emu, &[API, &week[..]].concat());
    assert_eq!(all.code, Some(4), "{}", all.stderr);
    no_credit_the_records_do_not_give(&clean.report, &all.report);
    let decided: Vec<String> = apps(&clean.report)
        .into_iter()
        .filter(|(_, a)| a[2] == "audit-events")
        .map(|(id, _)| id)
        .collect();
    assert!(!decided.is_empty());
    for id in decided {
        assert_eq!(apps(&all.report)[&id][0], "unknown", "{id}");
    }
}

#[test]
fn a_window_longer_than_the_api_keeps_is_a_gap() {
    let emu = Emulator::start("", 100);
    let file = run(
        &emu,
        &["--audit-log", "crates/pal-emulator/contoso/audit-log.csv"],
    );
    let api = run(&emu, API);
    assert_eq!(file.code, Some(0), "{}", file.stderr);
    assert_eq!(api.code, Some(4), "{}", api.stderr);
    assert_eq!(api.report["complete"], false);
    let row = coverage(&api.report, "management-activity");
    assert_eq!(row["status"], "partial", "{row}");
    let detail = row["detail"].as_str().unwrap();
    assert!(
        detail.contains("keeps 7 days of the 30-day window"),
        "{row}"
    );
    assert!(
        detail.contains(
            "activity from 2026-10-21T00:00:00+00:00 to 2026-11-13T00:00:00+00:00 is not known"
        ),
        "{row}"
    );
    no_credit_the_records_do_not_give(&file.report, &api.report);
    // A decision the older days could change is unknown, and says why.
    let unsettled: Vec<&Value> = api.report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| {
            f["verdict"] == "unknown"
                && f["reasons"].as_array().unwrap().iter().any(|r| {
                    r.as_str()
                        .unwrap_or_default()
                        .contains("Management Activity API")
                })
        })
        .collect();
    assert!(!unsettled.is_empty(), "{}", api.report["findings"]);
}

/// `doctor --audit-api`: the subscription's state, and for a refusal the
/// permission to grant.
#[test]
fn doctor_checks_the_permission_and_the_subscription() {
    let doctor = |emu: &Emulator| {
        let base = emu.base();
        let out = bin()
            .env(
                "PAL_AUDIT_TOKEN",
                jwt(
                    "11111111-1111-4111-8111-000000000001",
                    Some("svc-northwind@contoso.com"),
                ),
            )
            .args(["doctor", "--auth", "static-token", "--api-base", &base])
            .args(["--products", "power-bi", "--audit-api"])
            .args(["--tenant", "7c1e5b2a-3d4f-4e6a-8b9c-0d1e2f3a4b5c"])
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).to_string(),
        )
    };
    let (code, table) = doctor(&Emulator::start("", 100));
    assert_eq!(code, Some(0), "{table}");
    assert!(table.contains("Management Activity"), "{table}");
    let (code, table) = doctor(&Emulator::start("403@manage.office.com*all", 100));
    assert_eq!(code, Some(1), "{table}");
    assert!(table.contains("ActivityFeed.Read"), "{table}");
    assert!(table.contains("Office 365 Management APIs"), "{table}");
    let (mut model, _) = pal_emulator::contoso::load().unwrap();
    model.audit_subscription = false;
    let (code, table) = doctor(&Emulator::serve(model, "", 100));
    assert_eq!(code, Some(1), "{table}");
    assert!(table.contains("--start-audit-subscription"), "{table}");
}
