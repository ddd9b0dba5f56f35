//! The CLI end to end against the emulator on loopback: verdicts, paging,
//! retries, coverage gaps, exit codes, input errors and secret hygiene.
//! Long because each end-to-end case builds its own emulator and command;
//! helpers shared with the other modules are in `common`.

use crate::common::*;

#[test]
fn contoso_verdicts_are_the_expected_ones() {
    let emu = Emulator::start("", 100);
    let out = audit(&emu, &["--format", "json"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "findings not credited fail by default"
    );
    let report = json(&out);
    assert_eq!(report["schema"], "pal-audit/report/v1");
    assert_eq!(report["tenant_id"], "7c1e5b2a-3d4f-4e6a-8b9c-0d1e2f3a4b5c");
    assert_eq!(verdicts(&report), expected());
    // Contoso Finance's Dataverse refuses: a gap, and the audit says so.
    assert_eq!(report["complete"], false);
    let gaps: Vec<(&str, &str)> = report["coverage"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] != "complete")
        .map(|c| {
            (
                c["source"].as_str().unwrap(),
                c["environment_id"].as_str().unwrap_or("-"),
            )
        })
        .collect();
    assert_eq!(
        gaps,
        [("dataverse", "0a1b2c3d-0000-4000-8000-00000000e004")]
    );
}

#[test]
fn paging_across_many_pages_gives_the_same_verdicts() {
    let emu = Emulator::start("", 2);
    let report = json(&audit(&emu, &["--format", "json"]));
    assert_eq!(verdicts(&report), expected());
    // 4 environments at 2 a page: 2 BAP pages. The default environment's 10
    // apps (one a component library) take 5 pages, plus permissions for its 4
    // shared apps, one of which (3 role assignments) takes 2 pages.
    assert_eq!(requests(&report, "bap"), 2);
    let default_apps = report["coverage"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| {
            c["source"] == "power-apps"
                && c["environment_id"] == "default-7c1e5b2a-3d4f-4e6a-8b9c-0d1e2f3a4b5c"
        })
        .unwrap();
    assert_eq!(default_apps["requests"], 10);
}

#[test]
fn only_shared_apps_cost_a_permissions_call() {
    let emu = Emulator::start("", 100);
    let report = json(&audit(&emu, &["--format", "json"]));
    // 4 list calls + permissions for the 10 apps that are shared or lack the
    // counters; the 7 unshared apps cost nothing more.
    assert_eq!(requests(&report, "power-apps"), 4 + 10);
}

fn retried(faults: &str, source: &str) {
    let args = [&["--format", "json"], READABLE].concat();
    let clean = json(&audit(&Emulator::start("", 100), &args));
    let emu = Emulator::start(faults, 100);
    let out = audit(&emu, &args);
    let report = json(&out);
    assert_eq!(
        report["complete"],
        true,
        "{faults}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(verdicts(&report), expected_readable(), "{faults}");
    assert_eq!(
        requests(&report, source),
        requests(&clean, source) + 1,
        "{faults}: one retry is counted"
    );
}

#[test]
fn throttled_429_with_retry_after_seconds_then_success() {
    retried("429:1@/apps*1", "power-apps");
}

#[test]
fn throttled_429_with_retry_after_date_then_success() {
    retried("429-date:1@/v2/flows*1", "power-automate");
}

#[test]
fn unavailable_503_then_success() {
    retried("503@api.bap.microsoft.com*1", "bap");
}

#[test]
fn connection_cut_mid_body_then_success() {
    retried("cut@/v2/flows*1", "power-automate");
}

#[test]
fn throttled_dataverse_scanner_and_batch_recover() {
    retried("429:1@/api/data/v9.2/solutions*1", "dataverse");
    retried("503@/admin/workspaces/scanStatus*1", "power-bi");
    retried("cut@/$batch*1", "graph");
}

#[test]
fn forbidden_environment_is_a_gap_and_exit_code_4() {
    let emu = Emulator::start("403-env:0a1b2c3d-0000-4000-8000-00000000e003", 100);
    let args = [&["--format", "json", "--fail-on", "none"], READABLE].concat();
    let out = audit(&emu, &args);
    assert_eq!(out.status.code(), Some(4), "incomplete audit");
    let report = json(&out);
    assert_eq!(report["complete"], false);
    let failed: Vec<&str> = report["coverage"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "failed")
        .map(|c| c["source"].as_str().unwrap())
        .collect();
    assert_eq!(failed, ["power-apps", "power-automate"]);
    // The denied environment's resources are not findings; the rest are
    // audited as before.
    let mut want = expected_readable();
    want.remove("a0000000-0000-4000-8000-000000000014");
    want.remove("f0000000-0000-4000-8000-000000000007");
    assert_eq!(verdicts(&report), want);
    // With the default --fail-on, the uncredited findings win: exit 1.
    assert_eq!(audit(&emu, &["--format", "json"]).status.code(), Some(1));
}

#[test]
fn a_refused_scanner_falls_back_to_the_groups_list() {
    let emu = Emulator::start("403@/admin/workspaces/getInfo*all", 100);
    let report = json(&audit(&emu, &[&["--format", "json"], READABLE].concat()));
    assert_eq!(report["complete"], true);
    let pbi = report["coverage"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["source"] == "power-bi")
        .unwrap();
    assert!(
        pbi["detail"]
            .as_str()
            .unwrap()
            .contains("admin groups list"),
        "{pbi}"
    );
    // Without the scan's user lists, Graph resolves every publisher: same verdicts.
    assert_eq!(verdicts(&report), expected_readable());
}

#[test]
fn a_spent_budget_stops_the_source_and_says_when_to_retry() {
    let emu = Emulator::start("", 100);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("pal-audit.toml");
    // 5% of 200 activity queries an hour is 10: fewer than 30 days need.
    std::fs::write(&config, "[http]\nbudget_percent = 5\n").unwrap();
    let mut args = vec!["--format", "json", "--products", "power-bi"];
    args.extend(["--config", config.to_str().unwrap()]);
    let out = audit(&emu, &args);
    let report = json(&out);
    let pbi = report["coverage"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["source"] == "power-bi")
        .unwrap();
    assert_eq!(pbi["status"], "partial", "{pbi}");
    let detail = pbi["detail"].as_str().unwrap();
    assert!(
        detail.contains("budget") && detail.contains("retry after"),
        "{detail}"
    );
    // The datasets themselves were read within their own budgets.
    assert_eq!(report["findings"].as_array().unwrap().len(), 6);
    // 10 activity queries and not one more.
    assert_eq!(pbi["requests"], 1 + 1 + 2 + 1 + 10);
}

#[test]
fn apis_that_refuse_are_gaps_never_crashes() {
    for (fault, source) in [
        ("404@api.ci.ai.dynamics.com*all", "customer-insights"),
        ("403@api.powerbi.com*all", "power-bi"),
        ("403@contososales.api.crm4.dynamics.com*all", "dataverse"),
    ] {
        let emu = Emulator::start(fault, 100);
        let out = audit(
            &emu,
            &[&["--format", "json", "--fail-on", "none"], READABLE].concat(),
        );
        assert_eq!(out.status.code(), Some(4), "{fault}");
        let report = json(&out);
        let gap = report["coverage"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["source"] == source && c["status"] == "failed");
        assert!(gap.is_some(), "{fault}: {}", report["coverage"]);
        // Canvas apps and flows of every environment are still audited.
        let kinds: Vec<&str> = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["kind"].as_str().unwrap())
            .collect();
        assert!(
            kinds.contains(&"canvas-app") && kinds.contains(&"cloud-flow"),
            "{fault}"
        );
    }
}

#[test]
fn without_the_ci_key_customer_insights_is_a_gap() {
    let emu = Emulator::start("", 100);
    let base = emu.base();
    let out = bin()
        .env("PAL_AUDIT_TOKEN", TOKEN)
        .args([
            "audit",
            "--auth",
            "static-token",
            "--api-base",
            &base,
            "--partner-id",
            PARTNER,
            "--format",
            "json",
            "--fail-on",
            "none",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    let report = json(&out);
    let ci = report["coverage"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["source"] == "customer-insights")
        .unwrap();
    assert!(ci["detail"].as_str().unwrap().contains("PAL_AUDIT_CI_KEY"));
}

#[test]
fn environment_and_product_filters_limit_the_audit() {
    let emu = Emulator::start("", 100);
    let report = json(&audit(
        &emu,
        &[
            "--format",
            "json",
            "--environment",
            "contoso hr",
            "--products",
            "power-apps,power-automate",
        ],
    ));
    assert_eq!(report["findings"].as_array().unwrap().len(), 2);
    assert_eq!(report["complete"], true);
    assert_eq!(report["scope"]["environments"][0], "contoso hr");
    assert_eq!(
        report["scope"]["products"],
        serde_json::json!(["power-apps", "power-automate"])
    );
    assert!(
        report["coverage"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| !["power-bi", "customer-insights"].contains(&c["source"].as_str().unwrap()))
    );
    let report = json(&audit(
        &emu,
        &["--format", "json", "--products", "power-bi"],
    ));
    assert!(
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["kind"] == "dataset")
    );
    let out = audit(
        &emu,
        &[
            "--format",
            "json",
            "--environment",
            "nowhere",
            "--fail-on",
            "none",
            "--products",
            "power-apps",
        ],
    );
    assert_eq!(out.status.code(), Some(4));
    let out = audit(&emu, &["--products", "power-pages"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn fail_on_none_and_all_credited_exit_0() {
    let emu = Emulator::start("", 100);
    let out = audit(
        &emu,
        &[&["--format", "json", "--fail-on", "none"], READABLE].concat(),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = audit(
        &emu,
        &["--format", "json", "--fail-on", "flag:group-co-owner"],
    );
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn demo_prints_the_table_and_valid_json() {
    let out = bin().arg("demo").output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "the demo exits 0 unless --fail-on is given"
    );
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(
        table.contains("Expense Tracker") && table.contains("Summary"),
        "{table}"
    );
    let out = bin().args(["demo", "--format", "json"]).output().unwrap();
    let report = json(&out);
    assert_eq!(verdicts(&report), expected());
    // Every kind and every verdict is on show.
    let kinds: std::collections::BTreeSet<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.len(), 6, "{kinds:?}");
    for v in ["credited", "credited-to-other", "uncredited", "unknown"] {
        assert!(
            report["summary"]["by_verdict"][v].as_u64().unwrap() > 0,
            "{v}"
        );
    }
    let out = bin()
        .args(["demo", "--fail-on", "uncredited"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn bad_links_file_is_exit_2_with_file_and_line_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let links = dir.path().join("links.csv");
    std::fs::write(
        &links,
        "principal,partner_id\nana@contoso.com,4567890\nbob@contoso.com,12a4\n",
    )
    .unwrap();
    let report = dir.path().join("report.json");
    let out = bin()
        .env("PAL_AUDIT_TOKEN", TOKEN)
        .args([
            "audit",
            "--auth",
            "static-token",
            "--api-base",
            "http://127.0.0.1:9",
            "--partner-id",
            PARTNER,
        ])
        .arg("--links")
        .arg(&links)
        .arg("--output")
        .arg(&report)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("links.csv:3: partner_id \"12a4\" is not a partner ID (digits)"),
        "{stderr}"
    );
    assert!(!report.exists());
}

#[test]
fn usage_errors_are_exit_2() {
    let cases: &[&[&str]] = &[
        &["audit"],
        &["audit", "--partner-id", "12x"],
        &["audit", "--partner-id", "1", "--auth", "static-token"],
        &[
            "audit",
            "--partner-id",
            "1",
            "--api-base",
            "http://example.com",
        ],
        &["audit", "--partner-id", "1", "--fail-on", "sometimes"],
        &["audit", "--bogus"],
    ];
    for args in cases {
        let out = bin().args(*args).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn missing_credentials_are_exit_3() {
    let out = bin()
        .args([
            "audit",
            "--partner-id",
            "1",
            "--auth",
            "static-token",
            "--api-base",
            "http://127.0.0.1:9",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("PAL_AUDIT_TOKEN"));
    let out = bin()
        .args(["audit", "--partner-id", "1", "--auth", "client-secret"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("AZURE_TENANT_ID"));
}

#[test]
fn environment_variables_and_config_file_feed_the_audit() {
    let emu = Emulator::start("", 100);
    let dir = tempfile::tempdir().unwrap();
    let root = crate::common::ROOT;
    let config = dir.path().join("pal-audit.toml");
    std::fs::write(
        &config,
        format!(
            "partner_id = \"1\"\nauth = \"static-token\"\nlinks = [\"{root}/crates/pal-emulator/contoso/links.csv\"]\nattestations = [\"{root}/crates/pal-emulator/contoso/attestations\"]\naudit_log = [\"{root}/crates/pal-emulator/contoso/audit-log.csv\"]\nformat = \"table\"\n"
        ),
    )
    .unwrap();
    // The flag (json) wins over the file (table); the env partner id wins over the file's.
    let out = bin()
        .env("PAL_AUDIT_TOKEN", TOKEN)
        .env("PAL_AUDIT_CI_KEY", CI_KEY)
        .env(
            "PAL_AUDIT_CI_ACTIVITY",
            format!("{root}/crates/pal-emulator/contoso/ci-activity.jsonl"),
        )
        .env("PAL_AUDIT_PARTNER_ID", PARTNER)
        .env("PAL_AUDIT_API_BASE", emu.base())
        .env("PAL_AUDIT_AS_OF", AS_OF)
        .arg("--config")
        .arg(&config)
        .args(["audit", "--format", "json"])
        .output()
        .unwrap();
    let report = json(&out);
    assert_eq!(report["partner_id"], PARTNER);
    assert_eq!(verdicts(&report), expected());
}

#[test]
fn help_shows_an_example_for_each_command() {
    for cmd in ["audit", "demo", "emulate"] {
        let out = bin().args([cmd, "--help"]).output().unwrap();
        assert_eq!(out.status.code(), Some(0));
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Example"),
            "{cmd}"
        );
    }
    let out = bin().arg("--help").output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("Exit codes"));
}

/// `--our-other-id`: a finding credited to another ID of our own
/// organisation says so and how to re-link; naming the associated ID itself
/// is a usage error (exit 2).
#[test]
fn our_other_id_flags_credit_to_another_id_of_ours() {
    let emu = Emulator::start("", 100);
    let report = json(&audit(
        &emu,
        &["--format", "json", "--our-other-id", "1234567"],
    ));
    let fabrikam: Vec<&serde_json::Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["credited_partner_id"] == "1234567")
        .collect();
    assert!(!fabrikam.is_empty());
    for f in fabrikam {
        assert!(
            f["flags"]
                .as_array()
                .unwrap()
                .iter()
                .any(|x| x == "linked-to-other-id-of-ours"),
            "{f}"
        );
        assert!(
            f["fix"].as_str().unwrap().contains("attest --link 4567890"),
            "{f}"
        );
    }
    // Litware's stay another partner's (none is Litware's since the audit
    // log gave Onboarding Hub to us).
    assert!(report["findings"].as_array().unwrap().iter().all(|f| {
        f["credited_partner_id"] != "7654321"
            || !f["flags"]
                .as_array()
                .unwrap()
                .iter()
                .any(|x| x == "linked-to-other-id-of-ours")
    }));
    let out = audit(&emu, &["--our-other-id", "4567890"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--our-other-id 4567890"));
}

/// `-v` shows the info lines of every crate of ours: the retries are logged
/// by pal-client, not by the binary.
#[test]
fn verbose_shows_what_the_client_logs() {
    // The fault fires once per emulator: one each.
    let quiet = audit(
        &Emulator::start("429@/apps*1", 100),
        &["--format", "json", "--fail-on", "none"],
    );
    let loud = audit(
        &Emulator::start("429@/apps*1", 100),
        &["-v", "--format", "json", "--fail-on", "none"],
    );
    let said = String::from_utf8_lossy(&loud.stderr);
    assert!(said.contains("retrying after"), "{said}");
    assert!(
        !String::from_utf8_lossy(&quiet.stderr).contains("retrying after"),
        "without -v, info lines are not shown"
    );
}

/// An `--api-base` nobody listens on fails at once, naming the address
/// tried, before any retry against the Microsoft host it stands for.
#[test]
fn an_api_base_nobody_listens_on_fails_at_once_naming_it() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let started = std::time::Instant::now();
    let out = bin()
        .env("PAL_AUDIT_TOKEN", TOKEN)
        .args(["audit", "--auth", "static-token", "--api-base", &base])
        .args([
            "--partner-id",
            PARTNER,
            "--links",
            "crates/pal-emulator/contoso/links.csv",
        ])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(said.contains(&format!("127.0.0.1:{port}")), "{said}");
    assert!(!said.contains("microsoft.com"), "{said}");
    // Not a measure of speed: the retries it no longer makes took 40 s.
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    let doctor = bin()
        .env("PAL_AUDIT_TOKEN", TOKEN)
        .args(["doctor", "--auth", "static-token", "--api-base", &base])
        .output()
        .unwrap();
    assert_eq!(doctor.status.code(), Some(2));
}

#[test]
fn a_partner_id_no_link_names_is_refused_as_a_typo() {
    let emu = Emulator::start("", 100);
    let base = emu.base();
    // Attestations only (they name 4567890 and Fabrikam's 1234567): a
    // transposed partner ID is refused before anything is read.
    let run = |extra: &[&str]| {
        let mut args = vec![
            "audit",
            "--auth",
            "static-token",
            "--api-base",
            &base,
            "--attestations",
            "crates/pal-emulator/contoso/attestations",
            "--as-of",
            AS_OF,
            "--format",
            "json",
            "--fail-on",
            "none",
        ];
        args.extend_from_slice(extra);
        bin()
            .env("PAL_AUDIT_TOKEN", TOKEN)
            .env("PAL_AUDIT_CI_KEY", CI_KEY)
            .args(args)
            .output()
            .unwrap()
    };
    let typo = run(&["--partner-id", "4567809"]);
    assert_eq!(typo.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&typo.stderr);
    assert!(
        stderr.contains("--partner-id 4567809: no link") && stderr.contains("4567890"),
        "{stderr}"
    );
    assert!(stderr.contains("--allow-unlinked-partner"), "{stderr}");
    assert!(typo.stdout.is_empty(), "no report: nothing was read");
    // The links naming 4567890 do not name the partner ID when 4567890 is
    // given as one of our other IDs.
    let other = run(&["--partner-id", "4567809", "--our-other-id", "4567890"]);
    assert_eq!(other.status.code(), Some(2));
    // The right ID audits.
    assert_eq!(run(&["--partner-id", PARTNER]).status.code(), Some(4));
    // Allowed by the flag, the variable or the config file: the audit runs,
    // and nothing is credited to the unlinked ID.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("pal-audit.toml");
    std::fs::write(&config, "allow_unlinked_partner = true\n").unwrap();
    let config = config.to_str().unwrap().to_string();
    let allowed = [
        run(&["--partner-id", "4567809", "--allow-unlinked-partner"]),
        {
            let mut args = vec!["--config", config.as_str()];
            args.extend([
                "audit",
                "--auth",
                "static-token",
                "--api-base",
                &base,
                "--partner-id",
                "4567809",
                "--attestations",
                "crates/pal-emulator/contoso/attestations",
                "--format",
                "json",
                "--fail-on",
                "none",
            ]);
            bin()
                .env("PAL_AUDIT_TOKEN", TOKEN)
                .env("PAL_AUDIT_CI_KEY", CI_KEY)
                .args(args)
                .output()
                .unwrap()
        },
        {
            let mut cmd = bin();
            cmd.env("PAL_AUDIT_TOKEN", TOKEN)
                .env("PAL_AUDIT_CI_KEY", CI_KEY)
                .env("PAL_AUDIT_ALLOW_UNLINKED_PARTNER", "true")
                .args([
                    "audit",
                    "--auth",
                    "static-token",
                    "--api-base",
                    &base,
                    "--partner-id",
                    "4567809",
                    "--attestations",
                    "crates/pal-emulator/contoso/attestations",
                    "--format",
                    "json",
                    "--fail-on",
                    "none",
                ]);
            cmd.output().unwrap()
        },
    ];
    for out in allowed {
        assert_ne!(
            out.status.code(),
            Some(2),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report = json(&out);
        assert!(
            report["findings"]
                .as_array()
                .unwrap()
                .iter()
                .all(|f| f["verdict"] != "credited"),
            "nothing is credited to an ID no link names"
        );
    }
}

/// `--audit-log` (issue 18): the bundled export decides Onboarding Hub by
/// our co-owner's launch, gives canvas apps their users, and says what it
/// covers; an export missing the window's start leaves that decision
/// unknown; a bad record is exit 2 naming the file, line and field.
#[test]
fn the_audit_log_decides_between_partners_and_counts_users() {
    let emu = Emulator::start("", 100);
    let report = json(&audit(&emu, &["--format", "json"]));
    let finding = |r: &serde_json::Value, name: &str| {
        r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["resource_name"] == name)
            .cloned()
            .unwrap()
    };
    let hub = finding(&report, "Onboarding Hub");
    assert_eq!(hub["verdict"], "credited", "{hub}");
    assert_eq!(hub["decided_by"], "audit-events");
    assert_eq!(hub["decided_by_source"], "audit-log");
    // Three launchers, one of them a guest Graph does not know: kept.
    assert_eq!(
        finding(&report, "Expense Tracker")["usage"]["active_users"],
        3
    );
    assert_eq!(
        finding(&report, "Inventory Audit")["usage"]["active_users"],
        5
    );
    // A model-driven app has no usage source: absent, never zero.
    assert!(finding(&report, "Quote Desk").get("usage").is_none());
    let cov = report["coverage"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["source"] == "audit-log")
        .unwrap();
    assert_eq!(cov["status"], "complete", "{cov}");
    assert!(
        cov["detail"]
            .as_str()
            .unwrap()
            .contains("the files cover 2026-10-21"),
        "{cov}"
    );

    // The same export without its first half of the window.
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(format!("{ROOT}/crates/pal-emulator/contoso/audit-log.csv"))
        .unwrap();
    let late: Vec<&str> = text
        .lines()
        .enumerate()
        .filter(|(i, l)| *i == 0 || l.contains(",2026-11-1"))
        .map(|(_, l)| l)
        .collect();
    let partial = dir.path().join("late.csv");
    std::fs::write(&partial, late.join("\r\n")).unwrap();
    let out = audit_command_with_log(&emu, partial.to_str().unwrap(), &["--format", "json"])
        .output()
        .unwrap();
    let report = json(&out);
    let cov = report["coverage"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["source"] == "audit-log")
        .unwrap();
    assert_eq!(cov["status"], "partial", "{cov}");
    assert_eq!(report["complete"], false, "an incomplete audit");
    // Our co-owner's launch is in the file; the other partner's owner's
    // activity before the file's start could only be older: it stands.
    assert_eq!(finding(&report, "Onboarding Hub")["verdict"], "credited");
    // Usage over part of the window is not known.
    assert!(finding(&report, "Expense Tracker").get("usage").is_none());

    // A bad record: exit 2, naming the file, the line and the field.
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(
        &bad,
        "{\"CreationTime\":\"2026-11-01T00:00:00\",\"RecordType\":45,\"Operation\":\"LaunchPowerApp\",\"UserId\":\"a@b.c\",\"AppName\":\"x\"}\n{\"CreationTime\":\"2026-11-02T00:00:00\",\"RecordType\":45,\"Operation\":\"LaunchPowerApp\",\"AppName\":\"x\"}\n",
    )
    .unwrap();
    let out = audit_command_with_log(&emu, bad.to_str().unwrap(), &[])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("bad.jsonl:2: AuditData.UserId: missing"),
        "{stderr}"
    );
}

/// Platform-made components: the bundled tenant's Sales Hub (Microsoft's
/// managed solution) is left out and counted; `--include-first-party` (or
/// its variable) shows it flagged, counted in no summary; a publisher given
/// with `--microsoft-publisher` is Microsoft's too.
#[test]
fn first_party_components_are_counted_not_findings_unless_asked() {
    const SALES_HUB: &str = "d0000000-0000-4000-8000-000000000006";
    const QUOTE_DESK: &str = "d0000000-0000-4000-8000-000000000002";
    let emu = Emulator::start("", 100);
    let summed = |r: &serde_json::Value| -> u64 {
        r["summary"]["by_verdict"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_u64().unwrap())
            .sum()
    };
    let findings = |r: &serde_json::Value| r["findings"].as_array().unwrap().len() as u64;

    let report = json(&audit(&emu, &["--format", "json"]));
    assert!(!verdicts(&report).contains_key(SALES_HUB));
    assert_eq!(report["first_party"]["components"], 1);
    assert_eq!(report["first_party"]["by_product"]["power-apps"], 1);
    assert_eq!(report["first_party"]["included"], false);
    assert_eq!(summed(&report), findings(&report));
    // A partner's publisher whose friendly name says Microsoft stays.
    assert!(verdicts(&report).contains_key(QUOTE_DESK));

    let shown = json(&audit(&emu, &["--format", "json", "--include-first-party"]));
    assert_eq!(verdicts(&shown), expected_with_first_party());
    assert_eq!(shown["first_party"]["included"], true);
    assert_eq!(summed(&shown), findings(&shown) - 1, "never in the summary");
    let by_variable = audit_command(&emu, &["--format", "json"])
        .env("PAL_AUDIT_INCLUDE_FIRST_PARTY", "true")
        .output()
        .unwrap();
    assert_eq!(verdicts(&json(&by_variable)), expected_with_first_party());
    // Only a named flag fails the run on it.
    let gate = audit(
        &emu,
        &[
            "--format",
            "json",
            "--include-first-party",
            "--fail-on",
            "flag:first-party",
        ],
    );
    assert_eq!(gate.status.code(), Some(1));

    let more = json(&audit(
        &emu,
        &[
            "--format",
            "json",
            "--microsoft-publisher",
            "fabrikampartner",
        ],
    ));
    // FabrikamQuoting's app and flow are now Microsoft's, with Sales Hub.
    assert!(!verdicts(&more).contains_key(QUOTE_DESK));
    assert!(!verdicts(&more).contains_key("f0000000-0000-4000-8000-000000000009"));
    assert_eq!(more["first_party"]["components"], 3);
    let bad = audit(&emu, &["--microsoft-publisher", "not a name"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("--microsoft-publisher"),
        "the error names the flag"
    );
}

/// Dataset usage end to end, read from the findings' `usage`: the bundled
/// tenant's view events give Budget 2026 one viewer; a refused activity
/// read leaves every dataset's usage absent (unknown), never zero.
#[test]
fn dataset_usage_is_a_structured_fact_and_unknown_when_activity_is_unread() {
    let of = |report: &serde_json::Value, name: &str| {
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["resource_name"] == name && f["kind"] == "dataset")
            .cloned()
            .unwrap()
    };
    let emu = Emulator::start("", 100);
    let report = json(&audit(
        &emu,
        &["--format", "json", "--products", "power-bi"],
    ));
    let budget = of(&report, "Budget 2026");
    assert_eq!(budget["usage"]["active_users"], 1, "{budget}");
    assert_eq!(budget["usage"]["source"], "power-bi-activity");
    assert_eq!(of(&report, "Pipeline")["usage"]["active_users"], 0);
    let emu = Emulator::start("403@/admin/activityevents*all", 100);
    let report = json(&audit(
        &emu,
        &["--format", "json", "--products", "power-bi"],
    ));
    for f in report["findings"].as_array().unwrap() {
        assert!(f.get("usage").is_none(), "{f}");
    }
}
