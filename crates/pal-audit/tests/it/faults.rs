//! The fault matrix: each fault the services are known for, injected by the
//! emulator, with its documented outcome (README, "When the services fail").
//! Faults retries can absorb give exactly the fault-free verdicts; the rest
//! give gaps with `"complete": false` and exit code 4, and never a credit the
//! fault-free run does not give. No fault panics, hangs or shows the token.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::common::{Emulator, READABLE, TOKEN, audit, expected_readable, json, verdicts};
use serde_json::Value;

/// Short retry waits and a one-second read timeout, so the matrix runs in
/// seconds; the faults' own Retry-After values still hold.
fn fast_config(dir: &tempfile::TempDir, more: &str) -> String {
    let path = dir.path().join("pal-audit.toml");
    std::fs::write(
        &path,
        format!("[http]\nbase_delay_ms = 20\nmax_delay_s = 1\nread_timeout_s = 1\n{more}"),
    )
    .unwrap();
    path.to_str().unwrap().to_string()
}

struct Run {
    code: Option<i32>,
    report: Value,
    stderr: String,
    took: Duration,
}

fn run(faults: &str, page_size: usize, extra: &[&str]) -> Run {
    run_configured(faults, page_size, extra, "")
}

/// `run` with more `[http]` settings.
fn run_configured(faults: &str, page_size: usize, extra: &[&str], http: &str) -> Run {
    let emu = Emulator::start(faults, page_size);
    let dir = tempfile::tempdir().unwrap();
    let config = fast_config(&dir, http);
    let mut args = vec!["-vv", "--format", "json", "--fail-on", "none", "--config"];
    args.push(&config);
    args.extend_from_slice(READABLE);
    args.extend_from_slice(extra);
    let started = Instant::now();
    let out = audit(&emu, &args);
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!stderr.contains("panicked"), "{faults}: {stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !stdout.contains(TOKEN) && !stderr.contains(TOKEN),
        "{faults}: the token was printed"
    );
    Run {
        code: out.status.code(),
        report: json(&out),
        stderr,
        took,
    }
}

/// A fault retries absorb: the fault-free verdicts, complete, exit 0.
fn absorbed(faults: &str) {
    let r = run(faults, 2, &[]);
    assert_eq!(r.report["complete"], true, "{faults}: {}", r.stderr);
    assert_eq!(r.code, Some(0), "{faults}");
    assert_eq!(verdicts(&r.report), expected_readable(), "{faults}");
    assert!(
        r.stderr.contains("retrying") || faults.starts_with("401"),
        "{faults}: the retry is logged"
    );
}

/// No finding of a faulted run is credited unless the fault-free run
/// credits the same resource (by id, or by kind and name: a flow the Flow
/// API could not list is still seen, under its Dataverse id) to the same
/// partner.
fn no_credit_without_evidence(faults: &str, report: &Value) {
    let clean = expected_readable();
    let mut by_name = BTreeMap::new();
    let mut r = csv::Reader::from_path(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../pal-emulator/contoso/expected.csv"
    ))
    .unwrap();
    for rec in r.records() {
        let rec = rec.unwrap();
        by_name.insert(
            (rec[1].to_string(), rec[2].to_string()),
            (rec[3].to_string(), rec[4].to_string()),
        );
    }
    for f in report["findings"].as_array().unwrap() {
        let verdict = f["verdict"].as_str().unwrap();
        if verdict != "credited" && verdict != "credited-to-other" {
            continue;
        }
        let partner = f["credited_partner_id"].as_str().unwrap_or("");
        let id = f["resource_id"].as_str().unwrap();
        let key = (
            f["kind"].as_str().unwrap().to_string(),
            f["resource_name"].as_str().unwrap_or_default().to_string(),
        );
        let want = clean
            .get(id)
            .map(|(v, p, _)| (v.clone(), p.clone()))
            .or_else(|| by_name.get(&key).cloned());
        assert_eq!(
            want,
            Some((verdict.to_string(), partner.to_string())),
            "{faults}: {id} {key:?} is {verdict} only under the fault"
        );
    }
}

/// A fault no retry can absorb: a gap (or unknown verdicts), exit 4.
fn gap(faults: &str, page_size: usize, failed_source: &str) -> Run {
    let r = run(faults, page_size, &[]);
    assert_eq!(r.code, Some(4), "{faults}: {}", r.stderr);
    assert_eq!(r.report["complete"], false, "{faults}");
    let sources: BTreeMap<String, String> = r.report["coverage"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] != "complete")
        .map(|c| {
            (
                c["source"].as_str().unwrap().to_string(),
                c["detail"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        sources.contains_key(failed_source),
        "{faults}: no gap for {failed_source}: {sources:?}"
    );
    no_credit_without_evidence(faults, &r.report);
    r
}

#[test]
fn storm_of_429_with_retry_after_in_seconds() {
    absorbed("429:1*first");
}

#[test]
fn storm_of_429_with_retry_after_as_a_date() {
    absorbed("429-date:1*first");
}

#[test]
fn server_errors_500_502_503_504() {
    absorbed(
        "500@/apps*first,502@/v2/flows*first,503@api.powerbi.com*first,504@.dynamics.com*first",
    );
}

#[test]
fn connections_cut_mid_body() {
    absorbed("cut*first");
}

#[test]
fn a_body_slower_than_the_read_timeout() {
    // Half the body, then 2.5 s of silence: past the 1 s read timeout.
    absorbed("slow:2500@/v2/flows*1");
}

#[test]
fn a_401_once_fetches_the_token_again() {
    absorbed("401*1");
}

#[test]
fn many_first_tries_fail_and_the_verdicts_do_not_change() {
    // The first try of every request fails one way or another.
    absorbed("429:1@/apps*first,503@/v2/flows*first,cut*first");
}

#[test]
fn malformed_json_on_a_200_is_a_gap() {
    let r = gap("malformed@/v2/flows*all", 2, "power-automate");
    assert!(r.stderr.contains("decode") || r.report.to_string().contains("decode"));
}

#[test]
fn a_next_link_that_repeats_is_a_gap_not_a_loop() {
    let r = gap("repeat-next@/apps*1", 2, "power-apps");
    let detail = r.report["coverage"].to_string();
    assert!(detail.contains("repeats"), "{detail}");
}

#[test]
fn forbidden_for_one_environment() {
    gap(
        "403-env:0a1b2c3d-0000-4000-8000-00000000e003",
        2,
        "power-apps",
    );
}

#[test]
fn forbidden_for_one_dataverse() {
    gap("403@contososales.api.crm4.dynamics.com*all", 2, "dataverse");
}

#[test]
fn forbidden_for_a_whole_service() {
    gap("403@api.flow.microsoft.com*all", 2, "power-automate");
}

#[test]
fn a_failed_power_bi_scan() {
    gap("scan:Failed*all", 2, "power-bi");
}

#[test]
fn customer_insights_answers_404_for_everything() {
    gap("404@api.ci.ai.dynamics.com*all", 2, "customer-insights");
}

#[test]
fn graph_404_for_one_principal() {
    // A 404 is Graph's word that the account is gone, not missing data: the
    // apps Carol Diaz owns get orphaned-owner, nothing else changes, and the
    // audit is complete.
    let r = run("404@44444444-4444-4444-8444-000000000005*all", 2, &[]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(r.report["complete"], true);
    let got = verdicts(&r.report);
    let want = expected_readable();
    for (id, (verdict, partner, flags)) in &got {
        let (v, p, _) = &want[id];
        assert_eq!((verdict, partner), (v, p), "{id}");
        if id == "a0000000-0000-4000-8000-000000000002" {
            assert!(flags.contains("orphaned-owner"), "{flags}");
        }
    }
    no_credit_without_evidence("graph 404", &r.report);
}

#[test]
fn a_scan_stuck_running_ends_at_the_overall_timeout() {
    let r = run("scan:Running*all", 2, &["--timeout", "4s"]);
    assert_eq!(r.code, Some(4), "{}", r.stderr);
    assert!(r.took < Duration::from_secs(60), "took {:?}", r.took);
    let coverage = r.report["coverage"].as_array().unwrap();
    let stopped = coverage
        .iter()
        .find(|c| c["source"] == "audit")
        .expect("a row says the audit was stopped");
    assert!(
        stopped["detail"].as_str().unwrap().contains("--timeout"),
        "{stopped}"
    );
    let pbi = coverage.iter().find(|c| c["source"] == "power-bi").unwrap();
    assert_eq!(pbi["status"], "failed", "{pbi}");
    // What was read before the timeout is still audited.
    assert!(
        r.report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["kind"] == "canvas-app")
    );
    no_credit_without_evidence("timeout", &r.report);
}

#[cfg(unix)]
#[test]
fn ctrl_c_writes_the_report_of_what_was_read_and_exits_130() {
    // Flows are throttled for 30 s at a time: the audit is still reading
    // when it is interrupted.
    let emu = Emulator::start("429:30@/v2/flows*all", 2);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("report.json");
    let base = emu.base();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_pal-audit"))
        .current_dir(crate::common::ROOT)
        .env_remove("RUST_LOG")
        .env("PAL_AUDIT_TOKEN", TOKEN)
        .env("PAL_AUDIT_CI_KEY", crate::common::CI_KEY)
        .args([
            "audit",
            "--auth",
            "static-token",
            "--api-base",
            &base,
            "--partner-id",
            crate::common::PARTNER,
            "--links",
            "crates/pal-emulator/contoso/links.csv",
            "--as-of",
            crate::common::AS_OF,
            "--format",
            "json",
            "--output",
        ])
        .arg(&file)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    assert!(child.try_wait().unwrap().is_none(), "still reading");
    let killed = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no exit after Ctrl-C"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(status.code(), Some(130));
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(report["complete"], false);
    let row = report["coverage"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["source"] == "audit")
        .expect("a row says the audit was interrupted");
    assert!(row["detail"].as_str().unwrap().contains("Ctrl-C"), "{row}");
    // What was read is reported: canvas apps were listed before the signal.
    assert!(
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["kind"] == "canvas-app")
    );
}

/// Coverage details of the rows that are not complete, by source.
fn gaps(report: &Value) -> BTreeMap<String, String> {
    report["coverage"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] != "complete")
        .map(|c| {
            (
                c["source"].as_str().unwrap().to_string(),
                c["detail"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn a_200_that_is_not_a_list_is_a_gap_never_an_empty_list() {
    for shape in ["object", "array", "error", "other"] {
        let r = gap(&format!("not-a-list:{shape}@/apps*1"), 2, "power-apps");
        let detail = &gaps(&r.report)["power-apps"];
        assert!(detail.contains("decode"), "{shape}: {detail}");
    }
    // A BAP error body with 200: no environment is taken as "none".
    let r = gap("not-a-list:error@api.bap.microsoft.com*all", 2, "bap");
    assert!(gaps(&r.report)["bap"].contains("InternalServerError"));
}

#[test]
fn a_redirect_off_the_host_is_a_gap_and_is_never_followed() {
    let r = gap("redirect@/v2/flows*all", 2, "power-automate");
    assert!(gaps(&r.report)["power-automate"].contains("redirect"));
    // Another server on this machine: nothing reaches it.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let to = format!("http://{}/steal", listener.local_addr().unwrap());
    gap(&format!("redirect:{to}@/v2/flows*all"), 2, "power-automate");
    assert!(
        listener.accept().is_err(),
        "the redirect reached another server"
    );
}

#[test]
fn a_next_link_to_a_foreign_host_is_refused_before_sending() {
    let r = gap("foreign-next@/apps*1", 2, "power-apps");
    let detail = &gaps(&r.report)["power-apps"];
    assert!(detail.contains("not a host of this API"), "{detail}");
    assert!(detail.contains("attacker.example"), "{detail}");
}

#[test]
fn a_foreign_instance_api_url_gets_no_dataverse_token() {
    let r = gap(
        "foreign-dataverse@api.bap.microsoft.com*all",
        2,
        "dataverse",
    );
    let detail = &gaps(&r.report)["dataverse"];
    assert!(detail.contains("not a host of this API"), "{detail}");
}

#[test]
fn an_item_listed_twice_alike_is_one_finding() {
    let r = run("duplicate@/v2/flows*all", 2, &[]);
    assert_eq!(r.report["complete"], true, "{}", r.stderr);
    assert_eq!(r.code, Some(0));
    assert_eq!(verdicts(&r.report), expected_readable());
    let ids: Vec<&str> = r.report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["resource_id"].as_str().unwrap())
        .collect();
    let unique: std::collections::BTreeSet<&&str> = ids.iter().collect();
    assert_eq!(ids.len(), unique.len(), "a resource has two findings");
}

#[test]
fn an_item_listed_twice_differently_is_a_gap() {
    let r = gap("duplicate-changed@/v2/flows*1", 2, "power-automate");
    assert!(gaps(&r.report)["power-automate"].contains("listed twice"));
}

#[test]
fn a_page_served_again_under_another_link_is_a_gap() {
    let r = gap("replay-page@/v2/flows*1", 2, "power-automate");
    assert!(gaps(&r.report)["power-automate"].contains("again"));
}

#[test]
fn paging_has_a_ceiling() {
    let r = run_configured("", 1, &[], "max_pages = 2\n");
    assert_eq!(r.code, Some(4));
    let all = gaps(&r.report)
        .into_values()
        .collect::<Vec<_>>()
        .join(" | ");
    assert!(all.contains("more than 2 pages"), "{all}");
    no_credit_without_evidence("max_pages", &r.report);
}

#[test]
fn refused_solution_components_never_credit_a_component() {
    gap("403@solutioncomponents*all", 2, "dataverse");
}

#[test]
fn graph_failing_leaves_links_unresolved_not_dropped() {
    gap("500@graph.microsoft.com*all", 2, "graph");
}

#[test]
fn power_apps_refused_and_graph_failing_never_move_credit() {
    gap(
        "403@api.powerapps.com*all,500@graph.microsoft.com*all",
        2,
        "power-apps",
    );
}

#[test]
fn account_status_unread_is_a_partial_graph_row() {
    // Only the status lookups fail: the row cannot say complete.
    let r = gap("403@graph.microsoft.com/v1.0/$batch*all", 2, "graph");
    assert!(gaps(&r.report)["graph"].contains("could not"));
}

mod http_failures {
    //! Credit needs evidence, with the failures injected at the HTTP level:
    //! any mix of refused or failing reads gives no `credited` (nor
    //! `credited-to-other`) that the fault-free run does not give.
    use super::*;
    use proptest::prelude::*;

    const READS: &[&str] = &[
        "403@/apps*all",
        "403@/permissions*all",
        "403@/v2/flows*all",
        "403@solutioncomponents*all",
        "403@msdyn_solutionhistories*all",
        "403@importjobs*all",
        "403@systemusers*all",
        "403@/admin/activityevents*all",
        "403@api.powerbi.com*all",
        "403@api.ci.ai.dynamics.com/v1/instances/*all",
        "500@graph.microsoft.com*all",
        "403@/$batch*all",
        "403@transitivemembers*all",
        "not-a-list@/apps*all",
        "not-a-list@.dynamics.com*all",
    ];

    proptest! {
        #![proptest_config(ProptestConfig { cases: 8, ..ProptestConfig::default() })]
        #[test]
        fn failed_reads_never_create_credit(
            faults in prop::sample::subsequence(READS.to_vec(), 1..4)
        ) {
            let spec = faults.join(",");
            let r = run(&spec, 2, &[]);
            prop_assert!(matches!(r.code, Some(0 | 4)), "{spec}: {:?}", r.code);
            no_credit_without_evidence(&spec, &r.report);
        }
    }
}

/// A `Retry-After` of `u64::MAX` seconds after a first attempt that took over
/// a second: `elapsed + wait` overflowed (a panic, exit 101, no report).
/// Now the wait is capped at a day, past `max_request_s`: a gap, exit 4.
#[test]
fn a_retry_after_of_u64_max_after_a_slow_attempt_is_a_gap_not_a_panic() {
    // The 503's backoff (at least 1.25 s) makes the request's elapsed time
    // pass a second before the 429 arrives.
    // One environment's apps, so both faults hit the same request.
    let apps = "/environments/0a1b2c3d-0000-4000-8000-00000000e003/apps";
    let emu = Emulator::start(
        &format!("503@{apps}*1,429:18446744073709551615@{apps}*1"),
        2,
    );
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("pal-audit.toml");
    std::fs::write(
        &config,
        "[http]\nbase_delay_ms = 2500\nmax_delay_s = 3\nread_timeout_s = 1\n",
    )
    .unwrap();
    let mut args = vec!["-v", "--format", "json", "--fail-on", "none", "--config"];
    args.push(config.to_str().unwrap());
    args.extend_from_slice(READABLE);
    let out = audit(&emu, &args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    let report = json(&out);
    assert_eq!(report["complete"], false);
    assert!(stderr.contains("giving up"), "{stderr}");
    no_credit_without_evidence("retry-after u64::MAX", &report);
}
