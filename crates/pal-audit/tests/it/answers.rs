//! The real services' answers (issue 16, points 6-10), end to end against the
//! emulator: empty write answers and verification by re-reading, the
//! `modifiedSince` window, custom pages in the apps list, already-encoded
//! continuation tokens, the link checked against the token, and cached days
//! of Power BI activity.

use crate::common::*;

const SVC: &str = "11111111-1111-4111-8111-000000000001";

fn coverage<'a>(report: &'a serde_json::Value, source: &str) -> Vec<&'a serde_json::Value> {
    report["coverage"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["source"] == source)
        .collect()
}

fn power_bi(report: &serde_json::Value) -> &serde_json::Value {
    coverage(report, "power-bi")[0]
}

// --- 6: writes are judged by the re-read, not by their answer ----------------

/// The rows of `fix --apply`'s result table: (resource, outcome).
fn outcomes(stdout: &str) -> Vec<(String, String)> {
    stdout
        .lines()
        .filter(|l| l.starts_with('│') && !l.contains("resource"))
        .map(|l| {
            let cells: Vec<String> = l
                .trim_matches('│')
                .split('┆')
                .map(|c| c.trim().to_string())
                .collect();
            (cells[0].clone(), cells[2].clone())
        })
        .collect()
}

/// `fix --apply --yes` on a fresh audit's report; `extra` selects more
/// (`--resource`) or asks for an owner change (`--take-ownership`).
fn apply(emu: &Emulator, extra: &[&str]) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let out = audit(
        emu,
        &["--format", "json", "--output", report.to_str().unwrap()],
    );
    assert!(report.exists(), "{}", String::from_utf8_lossy(&out.stderr));
    let base = emu.base();
    bin()
        .env(
            "PAL_AUDIT_TOKEN",
            jwt(SVC, Some("svc-northwind@contoso.com")),
        )
        .env("PAL_AUDIT_CI_KEY", CI_KEY)
        .args(["fix", "--auth", "static-token", "--api-base", &base])
        .arg(&report)
        .args(["--apply", "--yes", "--as-of", AS_OF])
        .args(["--links", "crates/pal-emulator/contoso/links.csv"])
        .args([
            "--ci-activity",
            "crates/pal-emulator/contoso/ci-activity.jsonl",
        ])
        .args(["--attestations", "crates/pal-emulator/contoso/attestations"])
        .args(extra)
        .output()
        .unwrap()
}

/// Resources our partner did not deliver, selected by hand, so that every
/// kind of write runs (Web Analytics: our identities only hold a role).
const SELECTED: &[&str] = &[
    "--resource",
    "Visitor Badges",
    "--resource",
    "Pipeline",
    "--resource",
    "Web Analytics",
    "--take-ownership",
];

#[test]
fn empty_write_answers_are_success_when_the_re_read_shows_the_change() {
    // The emulator answers every write as the services do: 200, no body.
    // Every kind of write: a co-owner (Safety Checklist), an owner change
    // (Visitor Badges, selected, with --take-ownership), a take-over
    // (Pipeline, selected), a role (Web Analytics).
    let emu = Emulator::start("", 100);
    let out = apply(&emu, SELECTED);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let rows = outcomes(&text);
    for name in ["Visitor Badges", "Pipeline", "Web Analytics"] {
        assert!(
            rows.iter().any(|(r, o)| r == name && o == "changed"),
            "{name}: {text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(!text.contains("FAILED"), "{text}");
}

#[test]
fn a_write_whose_answer_is_not_json_still_counts_once_re_read() {
    // The take-over happens, then its answer is garbage: the re-read decides.
    let emu = Emulator::start("malformed@Default.TakeOver", 100);
    let text = String::from_utf8_lossy(&apply(&emu, SELECTED).stdout).into_owned();
    let rows = outcomes(&text);
    assert!(
        rows.iter().any(|(r, o)| r == "Pipeline" && o == "changed"),
        "{text}"
    );
}

#[test]
fn an_accepted_write_the_re_read_does_not_show_is_failed() {
    // modifyAppOwner answers 200 and changes nothing.
    let emu = Emulator::start("lost-write@modifyAppOwner*all", 100);
    let out = apply(&emu, SELECTED);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let rows = outcomes(&text);
    let badges = rows.iter().find(|(r, _)| r == "Visitor Badges").unwrap();
    assert!(
        badges.1.starts_with("FAILED") && badges.1.contains("still"),
        "{badges:?}"
    );
    // The take-over still went on and was seen.
    assert!(
        rows.iter().any(|(r, o)| r == "Pipeline" && o == "changed"),
        "{text}"
    );
    assert_eq!(out.status.code(), Some(1));
}

// --- 9: continuation tokens as given; the link checked against the token ------

#[test]
fn activity_pages_without_a_continuation_uri_send_the_token_as_given() {
    // One event a page: the day with three events needs two tokens, and no
    // page carries a continuationUri.
    let clean = Emulator::start("", 1);
    let want = json(&audit(
        &clean,
        &["--format", "json", "--products", "power-bi"],
    ));
    let emu = Emulator::start("token-only*all", 1);
    let got = json(&audit(
        &emu,
        &["--format", "json", "--products", "power-bi"],
    ));
    let (w, g) = (power_bi(&want), power_bi(&got));
    assert_eq!(g["status"], "complete", "{g}");
    assert_eq!(g["detail"], w["detail"]);
    assert!(
        g["detail"].as_str().unwrap().contains("4 activity events"),
        "{g}"
    );
    assert_eq!(verdicts(&got), verdicts(&want));
}

/// A token like `jwt`'s, of another tenant.
fn jwt_of_tenant(oid: &str, upn: &str, tid: &str) -> String {
    use base64::Engine;
    let enc = |v: &serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let claims = serde_json::json!({"oid": oid, "tid": tid, "upn": upn, "appid": "04b07795-8ddb-461a-bbee-02f9e1bf7b46"});
    format!(
        "{}.{}.sig",
        enc(&serde_json::json!({"alg": "none"})),
        enc(&claims)
    )
}

#[test]
fn attest_refuses_a_link_of_another_tenant_than_the_token() {
    let emu = Emulator::start("", 100);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a.json");
    let token = jwt_of_tenant(
        SVC,
        "svc-northwind@contoso.com",
        "0f0f0f0f-0000-4000-8000-000000000099",
    );
    let out = attest(&emu, &token, &["--out", file.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("not the signed-in identity's") && stderr.contains("tid is 0f0f0f0f"),
        "{stderr}"
    );
    assert!(!file.exists(), "no attestation for a link that is not ours");
}

// --- 8: custom pages are no canvas apps -----------------------------------------

const CUSTOM_PAGES: [&str; 2] = [
    "a0000000-0000-4000-8000-000000000021",
    "a0000000-0000-4000-8000-000000000022",
];
const SALES: &str = "0a1b2c3d-0000-4000-8000-00000000e002";

#[test]
fn custom_pages_are_left_out_of_findings_and_counted_in_coverage() {
    let emu = Emulator::start("", 100);
    let report = json(&audit(&emu, &["--format", "json"]));
    let found = verdicts(&report);
    for page in CUSTOM_PAGES {
        assert!(!found.contains_key(page), "{page} is a custom page");
    }
    let sales = coverage(&report, "power-apps")
        .into_iter()
        .find(|c| c["environment_id"] == SALES)
        .unwrap();
    let detail = sales["detail"].as_str().unwrap();
    assert!(detail.starts_with("6 canvas apps"), "{detail}");
    assert!(detail.contains("2 custom pages left out"), "{detail}");
    assert_eq!(sales["status"], "complete");
    // No fix step names them either.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.json");
    std::fs::write(&path, serde_json::to_string(&report).unwrap()).unwrap();
    let script = bin().arg("fix").arg(&path).output().unwrap();
    let script = String::from_utf8_lossy(&script.stdout);
    assert!(script.contains("modifyPermissions"), "{script}");
    for page in CUSTOM_PAGES {
        assert!(!script.contains(page), "{page} in the fix script");
    }
}

#[test]
fn an_unknown_app_type_is_kept_as_a_canvas_app_and_named_in_coverage() {
    let (mut model, _) = pal_emulator::contoso::load().unwrap();
    let app = model
        .apps
        .iter_mut()
        .find(|a| a.name == "Expense Tracker")
        .unwrap();
    app.app_type = Some("HolographicCanvasApp".into());
    let id = app.id.clone();
    let emu = Emulator::serve(model, "", 100);
    let report = json(&audit(&emu, &["--format", "json"]));
    assert_eq!(verdicts(&report)[&id], expected()[&id]);
    let notes: Vec<&str> = coverage(&report, "power-apps")
        .iter()
        .filter_map(|c| c["detail"].as_str())
        .filter(|d| d.contains("kept as canvas apps"))
        .collect();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(notes[0].contains("1 \"HolographicCanvasApp\""), "{notes:?}");
}

// --- 7: modifiedSince only inside its window ------------------------------------

/// A raw HTTP/1.1 GET to the emulator: the status line.
fn get_status(base: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let addr = base.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer t\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out.lines().next().unwrap_or_default().to_string()
}

#[test]
fn the_emulator_takes_modified_since_only_from_30_minutes_to_30_days_ago() {
    let emu = Emulator::start("", 100);
    let ago = |minutes: i64| {
        let t = chrono::Utc::now() - chrono::TimeDelta::minutes(minutes);
        format!(
            "/api.powerbi.com/v1.0/myorg/admin/workspaces/modified?modifiedSince={}",
            t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        )
    };
    assert!(get_status(&emu.base(), &ago(10)).contains(" 400"));
    assert!(get_status(&emu.base(), &ago(60)).contains(" 200"));
    assert!(get_status(&emu.base(), &ago(29 * 24 * 60)).contains(" 200"));
    assert!(get_status(&emu.base(), &ago(40 * 24 * 60)).contains(" 400"));
}

/// A full audit saving its cache in `dir`, then the cache made to say it
/// was read `age` ago (as if that much time had passed since): the report's
/// path.
fn first_audit_aged(emu: &Emulator, dir: &std::path::Path, age: chrono::TimeDelta) -> String {
    let cache = dir.join("cache");
    let report = dir.join("first.json");
    let out = audit(
        emu,
        &[
            "--format",
            "json",
            "--output",
            report.to_str().unwrap(),
            "--cache",
            cache.to_str().unwrap(),
        ],
    );
    assert!(report.exists(), "{}", String::from_utf8_lossy(&out.stderr));
    let file = cache.join("pal-audit-cache.json");
    let mut c: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    c["read_from"] = serde_json::json!(chrono::Utc::now() - age);
    std::fs::write(&file, c.to_string()).unwrap();
    report.to_str().unwrap().to_string()
}

fn delta(emu: &Emulator, dir: &std::path::Path, first: &str) -> serde_json::Value {
    let cache = dir.join("cache");
    let out = audit(
        emu,
        &[
            "--format",
            "json",
            "--since",
            first,
            "--cache",
            cache.to_str().unwrap(),
        ],
    );
    json(&out)
}

#[test]
fn a_delta_audit_10_minutes_later_reuses_power_bi_without_a_modified_call() {
    let emu = Emulator::start("", 100);
    let dir = tempfile::tempdir().unwrap();
    let first = first_audit_aged(&emu, dir.path(), chrono::TimeDelta::minutes(10));
    let full = json(&audit(&emu, &["--format", "json"]));
    // Any modified call, with or without modifiedSince, fails here.
    let tripwire = Emulator::start("400@/admin/workspaces/modified*all", 100);
    let got = delta(&tripwire, dir.path(), &first);
    let pbi = power_bi(&got);
    assert_eq!(pbi["status"], "complete", "{pbi}");
    let detail = pbi["detail"].as_str().unwrap();
    assert!(
        detail.contains("10 minutes ago") && detail.contains("every workspace as it read them"),
        "{detail}"
    );
    assert_eq!(got["delta"]["workspaces"], 2, "{}", got["delta"]);
    assert_eq!(verdicts(&got), verdicts(&full));
}

#[test]
fn a_delta_audit_40_days_later_scans_power_bi_in_full() {
    let emu = Emulator::start("", 100);
    let dir = tempfile::tempdir().unwrap();
    let first = first_audit_aged(&emu, dir.path(), chrono::TimeDelta::days(40));
    let full = json(&audit(&emu, &["--format", "json"]));
    let got = delta(&emu, dir.path(), &first);
    let pbi = power_bi(&got);
    assert_eq!(pbi["status"], "complete", "{pbi}");
    let detail = pbi["detail"].as_str().unwrap();
    assert!(
        detail.contains("40 days ago") && detail.contains("scanned again"),
        "{detail}"
    );
    assert_eq!(got["delta"]["workspaces"], 0);
    assert_eq!(verdicts(&got), verdicts(&full));
    assert_eq!(got["complete"], full["complete"]);
}

#[test]
fn a_refused_modified_since_falls_back_to_a_full_read() {
    let emu = Emulator::start("", 100);
    let dir = tempfile::tempdir().unwrap();
    let first = first_audit_aged(&emu, dir.path(), chrono::TimeDelta::days(2));
    let full = json(&audit(&emu, &["--format", "json"]));
    // The first modified call of a delta audit is the one with modifiedSince.
    let refusing = Emulator::start("400@/admin/workspaces/modified*1", 100);
    let got = delta(&refusing, dir.path(), &first);
    let pbi = power_bi(&got);
    assert_eq!(pbi["status"], "complete", "{pbi}");
    assert!(
        pbi["detail"]
            .as_str()
            .unwrap()
            .contains("modifiedSince was refused"),
        "{pbi}"
    );
    assert_eq!(verdicts(&got), verdicts(&full));
}

// --- 10: whole past days of Power BI activity are read once ------------------

/// `audit --products power-bi --cache DIR` at `as_of` and its report, with
/// what it said on stderr.
fn cached_audit(
    emu: &Emulator,
    cache: &std::path::Path,
    as_of: &str,
    extra: &[&str],
) -> (serde_json::Value, String) {
    let base = emu.base();
    let out = bin()
        .env("PAL_AUDIT_TOKEN", TOKEN)
        .args(["audit", "--auth", "static-token", "--api-base", &base])
        .args(["--partner-id", PARTNER, "--as-of", as_of])
        .args(["--links", "crates/pal-emulator/contoso/links.csv"])
        .args(["--format", "json", "--products", "power-bi", "--cache"])
        .arg(cache)
        .args(extra)
        .output()
        .unwrap();
    (
        json(&out),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Power BI's requests besides activity: modified, getInfo, two scanStatus
/// polls, scanResult.
const SCAN_REQUESTS: u64 = 1 + 1 + 2 + 1;

#[test]
fn a_repeated_audit_sends_no_activity_query_for_a_cached_day() {
    let emu = Emulator::start("", 100);
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    // --as-of 2026-11-20: all 30 days are long over.
    let (first, _) = cached_audit(&emu, &cache, AS_OF, &[]);
    assert_eq!(
        requests(&first, "power-bi"),
        SCAN_REQUESTS + 30,
        "{}",
        power_bi(&first)
    );
    let detail = power_bi(&first)["detail"].as_str().unwrap();
    assert!(detail.contains("(0 days from the cache)"), "{detail}");
    let kept = cache.join("powerbi-activity/unknown-tenant/2026-11-12.json");
    assert!(kept.exists());
    let (second, _) = cached_audit(&emu, &cache, AS_OF, &[]);
    assert_eq!(
        requests(&second, "power-bi"),
        SCAN_REQUESTS,
        "{}",
        power_bi(&second)
    );
    let detail = power_bi(&second)["detail"].as_str().unwrap();
    assert!(detail.contains("4 activity events"), "{detail}");
    assert!(detail.contains("(30 days from the cache)"), "{detail}");
    assert_eq!(power_bi(&second)["status"], "complete");
    assert_eq!(verdicts(&second), verdicts(&first));
}

#[test]
fn todays_partial_day_is_always_read_again() {
    let emu = Emulator::start("", 100);
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let now = chrono::Utc::now();
    let as_of = now.to_rfc3339();
    let args = ["--activity-days", "3"];
    let (first, _) = cached_audit(&emu, &cache, &as_of, &args);
    assert_eq!(requests(&first, "power-bi"), SCAN_REQUESTS + 3);
    // Today is never kept; yesterday only once it is two hours over.
    let unsettled = 1 + u64::from(chrono::Timelike::hour(&now) < 2);
    let (second, _) = cached_audit(&emu, &cache, &as_of, &args);
    assert_eq!(
        requests(&second, "power-bi"),
        SCAN_REQUESTS + unsettled,
        "{}",
        power_bi(&second)
    );
    let today = cache.join(format!(
        "powerbi-activity/unknown-tenant/{}.json",
        now.date_naive()
    ));
    assert!(!today.exists(), "today's partial day is not kept");
}

#[test]
fn a_corrupt_cached_day_is_read_again_with_a_warning() {
    let emu = Emulator::start("", 100);
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let (first, _) = cached_audit(&emu, &cache, AS_OF, &[]);
    let kept = cache.join("powerbi-activity/unknown-tenant/2026-11-12.json");
    std::fs::write(&kept, "{\"version\": 1, \"events\": [tru").unwrap();
    let (second, stderr) = cached_audit(&emu, &cache, AS_OF, &[]);
    assert!(
        stderr.contains("ignoring a cached day") && stderr.contains("2026-11-12.json"),
        "{stderr}"
    );
    // That one day queried again, and its events are all there.
    assert_eq!(requests(&second, "power-bi"), SCAN_REQUESTS + 1);
    let detail = power_bi(&second)["detail"].as_str().unwrap();
    assert!(
        detail.contains("4 activity events") && detail.contains("1 cached day unusable"),
        "{detail}"
    );
    assert_eq!(power_bi(&second)["status"], "complete");
    assert_eq!(verdicts(&second), verdicts(&first));
    // And kept again, whole.
    let again: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&kept).unwrap()).unwrap();
    assert_eq!(again["events"].as_array().unwrap().len(), 3);
}
