//! Delta audits end to end: `audit --cache DIR`, a change in the tenant, then
//! `audit --since REPORT --cache DIR` gives the verdicts of a full audit while
//! reading less, and says what it reused.

use std::io::{Read, Write};

use crate::common::{Emulator, PARTNER, audit, json, verdicts};

/// A raw HTTP/1.1 request to the emulator (the tests have no HTTP client).
fn send(base: &str, method: &str, path: &str, body: &str) -> String {
    let addr = base.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer t\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

const VISITOR_BADGES: &str = "a0000000-0000-4000-8000-000000000003";
const OUR_SERVICE_ACCOUNT: &str = "11111111-1111-4111-8111-000000000001";

#[test]
fn a_delta_audit_sees_the_change_and_reuses_the_rest() {
    let emu = Emulator::start("", 2);
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let first = dir.path().join("first.json");
    let cache_s = cache.to_str().unwrap();
    let first_s = first.to_str().unwrap();
    let out = audit(
        &emu,
        &["--format", "json", "--output", first_s, "--cache", cache_s],
    );
    assert!(out.status.code().is_some_and(|c| c <= 4), "{out:?}");
    assert!(cache.join("pal-audit-cache.json").exists());
    let before: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&first).unwrap()).unwrap();
    assert!(before.get("delta").is_none(), "a full audit is no delta");
    assert_ne!(verdicts(&before)[VISITOR_BADGES].0, "credited");

    // Our service account becomes the owner of a shared app.
    let answer = send(
        &emu.base(),
        "POST",
        &format!(
            "/api.powerapps.com/providers/Microsoft.PowerApps/scopes/admin/environments/Default-7c1e5b2a-3d4f-4e6a-8b9c-0d1e2f3a4b5c/apps/{VISITOR_BADGES}/modifyAppOwner?api-version=2016-11-01"
        ),
        &format!(r#"{{"newAppOwner":"{OUR_SERVICE_ACCOUNT}","roleForOldAppOwner":"CanEdit"}}"#),
    );
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

    let full = json(&audit(&emu, &["--format", "json"]));
    let delta_out = audit(
        &emu,
        &["--format", "json", "--since", first_s, "--cache", cache_s],
    );
    let delta = json(&delta_out);
    assert_eq!(verdicts(&delta), verdicts(&full));
    assert_eq!(verdicts(&delta)[VISITOR_BADGES].0, "credited");
    assert_eq!(delta["complete"], full["complete"]);
    let reused = &delta["delta"];
    assert_eq!(reused["since"], before["generated_at"]);
    assert!(reused["app_permissions"].as_u64().unwrap() >= 1, "{reused}");
    assert!(reused["flow_owners"].as_u64().unwrap() >= 1, "{reused}");
    let apps_detail: Vec<&str> = delta["coverage"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["source"] == "power-apps")
        .filter_map(|c| c["detail"].as_str())
        .collect();
    assert!(
        apps_detail.iter().any(|d| d.contains("reused")),
        "{apps_detail:?}"
    );
    assert_eq!(delta["partner_id"], PARTNER);
}

#[test]
fn since_refuses_a_cache_of_another_audit() {
    let emu = Emulator::start("", 100);
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let (a, b) = (dir.path().join("a.json"), dir.path().join("b.json"));
    let cache_s = cache.to_str().unwrap();
    for report in [&a, &b] {
        audit(
            &emu,
            &[
                "--format",
                "json",
                "--output",
                report.to_str().unwrap(),
                "--cache",
                cache_s,
            ],
        );
    }
    // The cache is now b's: a delta against a is refused before any call.
    let out = audit(&emu, &["--since", a.to_str().unwrap(), "--cache", cache_s]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("pal-audit-cache.json"), "{err}");

    // --since without --cache is a usage error.
    let out = audit(&emu, &["--since", a.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}
