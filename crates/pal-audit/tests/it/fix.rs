//! `pal-audit fix`: scripts from a report, and `--apply` against the emulator,
//! after which the fixed resources are credited.

use crate::common::*;

const SVC: &str = "11111111-1111-4111-8111-000000000001";
const REVENUE: &str = "c0000000-0000-4000-8000-000000000004";

/// An audit of the emulator (no CI activity export: every role holder
/// counts), written to `dir/report.json`.
fn report(emu: &Emulator, dir: &std::path::Path) -> std::path::PathBuf {
    report_with(emu, dir, &[])
}

/// `report` with more audit flags (`--redact`).
fn report_with(emu: &Emulator, dir: &std::path::Path, extra: &[&str]) -> std::path::PathBuf {
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
        .args(["--links", "crates/pal-emulator/contoso/links.csv"])
        .args([
            "--ci-activity",
            "crates/pal-emulator/contoso/ci-activity.jsonl",
        ])
        .args([
            "--attestations",
            "crates/pal-emulator/contoso/attestations",
            "--output",
        ])
        .arg(&path)
        .args(extra)
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
    "crates/pal-emulator/contoso/links.csv",
    "--ci-activity",
    "crates/pal-emulator/contoso/ci-activity.jsonl",
    "--attestations",
    "crates/pal-emulator/contoso/attestations",
    "--as-of",
    AS_OF,
];

// Ids of the customer's own resources in the bundled tenant: Visitor Badges
// (our service account may only view it), Company Directory, the Headcount
// dataset; and another partner's Pipeline dataset.
const CUSTOMERS_OWN: [&str; 4] = [
    "a0000000-0000-4000-8000-000000000003",
    "a0000000-0000-4000-8000-000000000009",
    "c0000000-0000-4000-8000-000000000003",
    "c0000000-0000-4000-8000-000000000002",
];

/// The script's lines that run (comments left out).
fn code_lines(script: &str) -> Vec<&str> {
    script
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect()
}

#[test]
fn writes_a_script_in_either_shell_only_for_what_we_delivered() {
    let emu = Emulator::start("", 100);
    let dir = tempfile::tempdir().unwrap();
    let r = report(&emu, dir.path());
    // Revenue, another partner's too, is taken over only when named.
    let out = fix(&emu, TOKEN, &[r.to_str().unwrap(), "--resource", REVENUE]);
    assert_eq!(out.status.code(), Some(0));
    let pwsh = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(pwsh.starts_with("#Requires -Version 7"));
    // A co-owner by default; no owner change.
    assert!(pwsh.contains("/modifyPermissions?api-version=2016-11-01"));
    assert!(pwsh.contains("roleName = 'CanEdit'; NotifyShareTargetOption = 'DoNotNotify'"));
    assert!(!pwsh.contains("modifyAppOwner"));
    // Two groups, each naming its sign-in.
    assert!(pwsh.contains("Part admin (group 1)") && pwsh.contains("Part identity (group 2)"));
    assert!(pwsh.contains("signed in as the PAL identity svc-northwind@contoso.com"));
    assert!(pwsh.contains("# Not automatable"));
    assert!(pwsh.contains("a flow's creator cannot change"));
    assert!(pwsh.contains("# no fix: not delivered by this partner"));
    for own in CUSTOMERS_OWN {
        assert!(pwsh.contains(own), "{own} is listed");
        assert!(
            code_lines(&pwsh).iter().all(|l| !l.contains(own)),
            "{own} is written to"
        );
    }
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
    for own in CUSTOMERS_OWN {
        assert!(code_lines(&bash).iter().all(|l| !l.contains(own)), "{own}");
    }
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
fn take_ownership_is_the_only_way_to_an_owner_change() {
    let emu = Emulator::start("", 100);
    let dir = tempfile::tempdir().unwrap();
    let r = report(&emu, dir.path());
    let out = fix(&emu, TOKEN, &[r.to_str().unwrap(), "--take-ownership"]);
    let pwsh = String::from_utf8_lossy(&out.stdout);
    assert!(pwsh.contains("modifyAppOwner") && pwsh.contains("roleForOldAppOwner = 'CanEdit'"));
    assert!(!pwsh.contains("/modifyPermissions"));
}

#[test]
fn selection_names_what_we_delivered_and_environment_limits_the_plan() {
    let emu = Emulator::start("", 100);
    let dir = tempfile::tempdir().unwrap();
    let r = report(&emu, dir.path());
    let r = r.to_str().unwrap();
    let script = |args: &[&str]| {
        let out = fix(&emu, TOKEN, &[&[r, "--shell", "bash"][..], args].concat());
        assert_eq!(out.status.code(), Some(0));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let badges = "a0000000-0000-4000-8000-000000000003";
    let by_name = script(&["--resource", "Visitor Badges"]);
    assert!(code_lines(&by_name).iter().any(|l| l.contains(badges)));
    let headcount = "c0000000-0000-4000-8000-000000000003";
    let by_id = script(&["--resource", headcount]);
    assert!(code_lines(&by_id).iter().any(|l| l.contains(headcount)));
    assert!(code_lines(&by_id).iter().all(|l| !l.contains(badges)));
    // A solution named as ours: its model-driven app is planned (by hand).
    let sol = script(&["--solution", "FabrikamQuoting"]);
    let manual = sol.find("# Not automatable").unwrap();
    let not_ours = sol.find("# no fix: not delivered").unwrap();
    let quote_desk = manual + sol[manual..].find("Quote Desk").unwrap();
    assert!(quote_desk < not_ours, "{sol}");
    // What the solution matched is said in the header.
    assert!(
        sol.contains("# NOTE: --solution FabrikamQuoting: ")
            && sol.find("# NOTE: --solution") < Some(manual),
        "{sol}"
    );
    // One environment: its steps only.
    let sales = script(&["--environment", "Contoso Sales"]);
    assert!(sales.contains("Safety Checklist"));
    assert!(!sales.contains("Revenue") && !sales.contains("Visitor Badges"));
}

#[test]
fn apply_writes_only_to_delivered_resources_and_is_idempotent() {
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
    let dry = String::from_utf8_lossy(&out.stdout);
    assert!(dry.contains("Dry run: nothing changed"));
    assert!(
        dry.contains("no fix: not delivered by this partner") && dry.contains("Visitor Badges")
    );
    // Web Analytics: our identities only hold a role on it (as the audit
    // identity does on every instance): not delivered.
    let listed = dry
        .split("no fix: not delivered by this partner")
        .nth(1)
        .unwrap();
    assert!(listed.contains("Web Analytics"), "{dry}");
    let args = [&[r.to_str().unwrap(), "--apply", "--yes"][..], &AUDIT_AGAIN].concat();
    let out = fix(&emu, &token, &args);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let rows = table_rows(&text);
    let mut names: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    names.sort();
    assert_eq!(
        names,
        ["Safety Checklist"],
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Every applied step turned its resource credited, but an instance's:
    // its role makes the identity a possible active user, and only its use
    // of the instance makes it an active one (rules v2).
    for row in &rows {
        assert_eq!(row[2], "changed", "{row:?}");
        let want = if row[1] == "instance" {
            "uncredited"
        } else {
            "credited"
        };
        assert_eq!(row[4], want, "{row:?}");
    }
    // What cannot be automated is said, so the exit code is 1.
    assert!(text.contains("Not automatable") && text.contains("Welcome email"));
    assert_eq!(out.status.code(), Some(1));
    // An audit afterwards agrees, and the customer's own resources are as
    // they were.
    let after = json(&audit(&emu, &["--format", "json"]));
    let v = verdicts(&after);
    assert_eq!(v["a0000000-0000-4000-8000-000000000008"].0, "credited");
    // Revenue, Bob's (another partner's) too, is not taken over unasked.
    assert_eq!(
        v["c0000000-0000-4000-8000-000000000004"].0,
        "credited-to-other"
    );
    assert!(text.contains("Revenue (dataset): bob.fischer"), "{text}");
    assert_eq!(v["a0000000-0000-4000-8000-000000000003"].0, "uncredited");
    assert_eq!(v["a0000000-0000-4000-8000-000000000009"].0, "uncredited");
    assert_eq!(v["c0000000-0000-4000-8000-000000000003"].0, "uncredited");
    assert_eq!(
        v["c0000000-0000-4000-8000-000000000002"].0,
        "credited-to-other"
    );
    let finding = |id: &str| {
        after["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["resource_id"] == id)
            .unwrap()
            .clone()
    };
    // Safety Checklist: our account a co-owner, Carol still the owner.
    let safety = finding("a0000000-0000-4000-8000-000000000008");
    let roles: Vec<(String, String)> = safety["attributed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["principal_id"].as_str().unwrap().into(),
                a["role"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert!(
        roles.contains(&(SVC.into(), "co-owner".into())),
        "{roles:?}"
    );
    assert!(
        roles.contains(&(
            "44444444-4444-4444-8444-000000000005".into(),
            "owner".into()
        )),
        "{roles:?}"
    );
    // Visitor Badges: our account still only views it.
    assert!(
        finding("a0000000-0000-4000-8000-000000000003")["attributed"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["principal_id"] != SVC)
    );
    // Run again from the same report: the role changes are found done and
    // not written again.
    let out = fix(&emu, &token, &args);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let rows = table_rows(&text);
    assert_eq!(rows.len(), 1, "{text}");
    for row in &rows {
        assert_eq!(row[2], "already done", "{row:?}");
        assert_eq!(
            row[4],
            if row[1] == "instance" {
                "uncredited"
            } else {
                "credited"
            },
            "{row:?}"
        );
    }
}

#[test]
fn apply_with_take_ownership_changes_the_owner() {
    let emu = Emulator::start("", 100);
    let dir = tempfile::tempdir().unwrap();
    let r = report(&emu, dir.path());
    let token = jwt(SVC, Some("svc-northwind@contoso.com"));
    let args = [
        &[r.to_str().unwrap(), "--apply", "--yes", "--take-ownership"][..],
        &AUDIT_AGAIN,
    ]
    .concat();
    let out = fix(&emu, &token, &args);
    let text = String::from_utf8_lossy(&out.stdout);
    let rows = table_rows(&text);
    let safety = rows.iter().find(|r| r[0] == "Safety Checklist").unwrap();
    assert_eq!(safety[2], "changed", "{text}");
    let after = json(&audit(&emu, &["--format", "json"]));
    let safety = after["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["resource_id"] == "a0000000-0000-4000-8000-000000000008")
        .unwrap();
    assert!(
        safety["attributed"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["principal_id"] == SVC && a["role"] == "owner")
    );
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
    let args = [
        &[
            r.to_str().unwrap(),
            "--apply",
            "--yes",
            "--resource",
            REVENUE,
        ][..],
        &AUDIT_AGAIN,
    ]
    .concat();
    let out = fix(&emu, &token, &args);
    let text = String::from_utf8_lossy(&out.stdout);
    let rows = table_rows(&text);
    let revenue = rows.iter().find(|r| r[0] == "Revenue").unwrap();
    assert!(revenue[2].starts_with("FAILED"), "{revenue:?}");
    // The admin's steps still went on.
    assert!(
        rows.iter()
            .any(|r| r[0] == "Safety Checklist" && r[2] == "changed"),
        "{text}"
    );
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn a_redacted_report_is_refused_with_exit_2() {
    let emu = Emulator::start("", 100);
    let dir = tempfile::tempdir().unwrap();
    let r = report_with(&emu, dir.path(), &["--redact"]);
    let text = std::fs::read_to_string(&r).unwrap();
    assert!(text.contains("\"redacted\": true"));
    for args in [
        &[r.to_str().unwrap()][..],
        &[r.to_str().unwrap(), "--apply", "--yes"],
    ] {
        let out = fix(&emu, TOKEN, args);
        assert_eq!(out.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("is a redacted report"), "{stderr}");
        assert!(out.stdout.is_empty());
    }
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

#[test]
fn a_named_dataset_whose_configured_by_is_the_identity_is_not_taken_over_again() {
    let emu = Emulator::start("", 100);
    let dir = tempfile::tempdir().unwrap();
    let r = report(&emu, dir.path());
    let token = jwt(SVC, Some("svc-northwind@contoso.com"));
    // Revenue: `configuredBy` is our account, a later publish is Bob's. A
    // take-over would change nothing but the credentials, on every run.
    let args = [
        &[
            r.to_str().unwrap(),
            "--apply",
            "--yes",
            "--resource",
            "c0000000-0000-4000-8000-000000000004",
        ][..],
        &AUDIT_AGAIN,
    ]
    .concat();
    for _ in 0..2 {
        let out = fix(&emu, &token, &args);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let rows = table_rows(&text);
        let revenue = rows.iter().find(|r| r[0] == "Revenue").expect(&text);
        assert_eq!(revenue[2], "already done", "{text}");
    }
}

#[test]
fn a_selection_or_identity_that_names_nothing_of_ours_is_exit_2() {
    let emu = Emulator::start("", 100);
    let dir = tempfile::tempdir().unwrap();
    let r = report(&emu, dir.path());
    let r = r.to_str().unwrap();
    for (args, said) in [
        (
            vec![r, "--resource", "No Such App"],
            "--resource \"No Such App\" names no resource",
        ),
        (
            vec![r, "--environment", "Nowhere"],
            "--environment \"Nowhere\" names no environment",
        ),
        // Bob is linked to another partner only.
        (
            vec![r, "--as", "bob.fischer@contoso.com"],
            "no link of the report to partner",
        ),
    ] {
        let out = fix(&emu, TOKEN, &args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(said), "{args:?}: {err}");
    }
}

#[test]
fn apply_signed_in_to_another_tenant_writes_nothing() {
    use base64::Engine;
    let emu = Emulator::start("", 100);
    let dir = tempfile::tempdir().unwrap();
    let r = report(&emu, dir.path());
    let enc = |v: serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    // Our service account, but a token of another tenant.
    let token = format!(
        "{}.{}.sig",
        enc(serde_json::json!({"alg": "none"})),
        enc(serde_json::json!({
            "oid": SVC,
            "tid": "99999999-9999-4999-8999-999999999999",
            "upn": "svc-northwind@contoso.com",
        }))
    );
    let args = [&[r.to_str().unwrap(), "--apply", "--yes"][..], &AUDIT_AGAIN].concat();
    let out = fix(&emu, &token, &args);
    let text = String::from_utf8_lossy(&out.stdout);
    let rows = table_rows(&text);
    assert!(!rows.is_empty(), "{text}");
    for row in &rows {
        assert!(
            row[2].starts_with("FAILED") && row[2].contains("not the report's tenant"),
            "{row:?}"
        );
    }
    assert_eq!(out.status.code(), Some(1));
}
