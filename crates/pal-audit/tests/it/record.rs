//! Record and replay: `audit --record DIR` saves every response read, and an
//! audit against `emulate --replay DIR` gives the same report; no recorded
//! file holds the token or the key, and `--redact` hides every address.

use crate::common::{CI_KEY, Emulator, TOKEN, audit, json};
use serde_json::Value;

fn without_time(mut v: Value) -> Value {
    v["generated_at"] = Value::Null;
    v
}

fn files(dir: &std::path::Path) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn a_replayed_audit_gives_the_recorded_report() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("rec");
    let rec_s = rec.to_str().unwrap();
    // Retries are recorded too, and replayed in order.
    let emu = Emulator::start("429:1@/apps*1,503@/v2/flows*1", 2);
    let recorded = audit(&emu, &["--format", "json", "--record", rec_s]);
    drop(emu);
    let recorded = json(&recorded);

    let saved = files(&rec);
    assert!(saved.len() > 50, "{} files", saved.len());
    assert!(saved.iter().any(|(n, _)| n == "recording.json"));
    for (name, text) in &saved {
        assert!(!text.contains(TOKEN), "{name} holds the token");
        assert!(!text.contains(CI_KEY), "{name} holds the CI key");
    }
    assert!(
        saved.iter().any(|(_, t)| t.contains("\"status\": 429")),
        "the throttled try is recorded"
    );

    let replay = Emulator::replay(&rec);
    let out = audit(&replay, &["--format", "json"]);
    let replayed = json(&out);
    assert_eq!(
        without_time(replayed),
        without_time(recorded),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_redacted_recording_holds_no_address_and_the_same_pseudonym_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("rec");
    let emu = Emulator::start("", 100);
    let out = audit(
        &emu,
        &[
            "--format",
            "json",
            "--redact",
            "--record",
            rec.to_str().unwrap(),
        ],
    );
    assert!(out.status.code().is_some_and(|c| c <= 4));
    let saved = files(&rec);
    let all: String = saved.iter().map(|(_, t)| t.as_str()).collect();
    for upn in [
        "svc-northwind@contoso.com",
        "ana.costa@contoso.com",
        "carol.diaz@contoso.com",
        "Carol Diaz",
    ] {
        assert!(
            !all.to_lowercase().contains(&upn.to_lowercase()),
            "{upn} is in the recording"
        );
    }
    // The same address is the same pseudonym in every file that names it.
    let p = pal_core::report::pseudonym("svc-northwind@contoso.com");
    let naming = saved.iter().filter(|(_, t)| t.contains(&p)).count();
    assert!(naming >= 2, "{p} in {naming} files");
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(rec.join("recording.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["redacted"], true);
}

#[test]
fn a_broken_recording_is_exit_2_with_the_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("recording.json"), "{\"format\": 7}").unwrap();
    let out = crate::common::bin()
        .args(["emulate", "--replay"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("recording.json: $.format"), "{err}");
}

#[test]
fn a_replayed_audit_api_follows_the_recorded_next_page_uri() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("rec");
    let rec_s = rec.to_str().unwrap();
    // One item a page, and a day with two blobs: the Management Activity
    // API's content listing pages by its NextPageUri header, which the body
    // does not hold.
    let (model, _records, _) = crate::management_activity::tenant_and_file();
    let emu = Emulator::serve(model, "", 1);
    let args = ["--format", "json", "--audit-api", "--activity-days", "7"];
    let recorded = audit(&emu, &[&args[..], &["--record", rec_s]].concat());
    drop(emu);
    let recorded = json(&recorded);
    let saved = files(&rec);
    assert!(
        saved.iter().any(|(_, t)| t.contains("\"next_page_uri\"")),
        "the paging header is recorded"
    );
    let replay = Emulator::replay(&rec);
    let out = audit(&replay, &args);
    let replayed = json(&out);
    assert_eq!(
        without_time(replayed),
        without_time(recorded),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
