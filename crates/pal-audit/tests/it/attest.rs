//! `pal-audit attest` against the emulator's ManagementPartner and Graph:
//! reading a link, creating, moving and deleting it, and the audit crediting
//! a freshly linked identity.

use crate::common::*;

const SVC: &str = "11111111-1111-4111-8111-000000000001";
const DAVE: &str = "44444444-4444-4444-8444-000000000006";
const CAROL: &str = "44444444-4444-4444-8444-000000000005";

fn read(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn reads_the_link_and_writes_the_attestation() {
    let emu = Emulator::start("", 100);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("svc.json");
    let token = jwt(SVC, Some("svc-northwind@contoso.com"));
    let out = attest(
        &emu,
        &token,
        &["--service-account", "--out", file.to_str().unwrap()],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout(&out).contains("partner 4567890 Northwind Partners (Active)"));
    let a = read(&file);
    assert_eq!(a["schema"], "pal-audit/attestation/v1");
    assert_eq!(a["principal_id"], SVC);
    assert_eq!(a["principal_name"], "svc-northwind@contoso.com");
    assert_eq!(a["principal_kind"], "service-account");
    assert_eq!(a["partner_id"], "4567890");
    assert_eq!(a["state"], "Active");
    assert_eq!(a["tenant_id"], "7c1e5b2a-3d4f-4e6a-8b9c-0d1e2f3a4b5c");
    // The file is what `audit --attestations` reads.
    pal_core::links::parse_attestation("svc.json", &std::fs::read_to_string(&file).unwrap())
        .unwrap();
}

#[test]
fn a_service_principal_attests_as_one() {
    let emu = Emulator::start("", 100);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sp.json");
    let out = attest(
        &emu,
        &jwt("22222222-2222-4222-8222-000000000003", None),
        &["--out", file.to_str().unwrap()],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(read(&file)["principal_kind"], "service-principal");
    assert_eq!(read(&file)["partner_id"], "1234567");
}

#[test]
fn no_link_is_exit_1_and_writes_nothing() {
    let emu = Emulator::start("", 100);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("carol.json");
    let out = attest(
        &emu,
        &jwt(CAROL, Some("carol.diaz@contoso.com")),
        &["--out", file.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no PAL link"));
    assert!(!file.exists());
}

#[test]
fn link_then_audit_credits_the_new_identity() {
    let emu = Emulator::start("", 100);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dave.json");
    let token = jwt(DAVE, Some("dave.okafor@contoso.com"));
    // Before: Dave's resources are uncredited.
    let before = verdicts(&json(&audit(&emu, &["--format", "json"])));
    assert_eq!(
        before["a0000000-0000-4000-8000-000000000009"].0,
        "uncredited"
    );
    let out = attest(
        &emu,
        &token,
        &["--link", PARTNER, "--yes", "--out", file.to_str().unwrap()],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout(&out).contains("linked to partner 4567890"));
    assert_eq!(read(&file)["state"], "Active");
    let extra = format!(
        "crates/pal-emulator/contoso/attestations,{}",
        file.display()
    );
    let after = verdicts(&json(&audit(
        &emu,
        &["--format", "json", "--attestations", &extra],
    )));
    // Company Directory (owner Dave) and Welcome email (creator Dave) are ours now.
    for id in [
        "a0000000-0000-4000-8000-000000000009",
        "f0000000-0000-4000-8000-000000000005",
    ] {
        assert_eq!(after[id].0, "credited", "{id}");
        assert_eq!(after[id].1, PARTNER);
    }
    // Linking again changes nothing; a PUT for an existing link is never sent.
    let out = attest(
        &emu,
        &token,
        &["--link", PARTNER, "--yes", "--out", file.to_str().unwrap()],
    );
    assert!(stdout(&out).contains("nothing to change"));
}

#[test]
fn link_moves_an_existing_link_and_unlink_deletes_it() {
    let emu = Emulator::start("", 100);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("svc.json");
    let token = jwt(SVC, Some("svc-northwind@contoso.com"));
    let out = attest(
        &emu,
        &token,
        &[
            "--link",
            "7654321",
            "--yes",
            "--out",
            file.to_str().unwrap(),
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout(&out).contains("move the link"));
    assert_eq!(read(&file)["partner_id"], "7654321");
    let out = attest(
        &emu,
        &token,
        &["--unlink", "--yes", "--out", file.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(read(&file)["state"], "Deleted");
    let out = attest(&emu, &token, &["--out", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "no link any more");
}

#[test]
fn changes_need_a_yes_without_a_terminal() {
    let emu = Emulator::start("", 100);
    let out = attest(
        &emu,
        &jwt(DAVE, Some("dave.okafor@contoso.com")),
        &["--link", PARTNER],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--yes"));
    // Nothing was linked.
    let out = attest(&emu, &jwt(DAVE, Some("dave.okafor@contoso.com")), &[]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn bad_input_is_exit_2() {
    let emu = Emulator::start("", 100);
    let token = jwt(DAVE, Some("dave.okafor@contoso.com"));
    assert_eq!(
        attest(&emu, &token, &["--link", "12a4", "--yes"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        attest(&emu, "opaque-token", &[]).status.code(),
        Some(2),
        "a token that names nobody"
    );
    assert_eq!(
        attest(&emu, &token, &["--link", "1", "--unlink"])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn an_attestation_for_another_tenant_is_refused_by_the_audit() {
    let emu = Emulator::start("", 100);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("other.json");
    let text = std::fs::read_to_string(format!(
        "{}/crates/pal-emulator/contoso/attestations/svc-delivery.json",
        crate::common::ROOT
    ))
    .unwrap()
    .replace(
        "7c1e5b2a-3d4f-4e6a-8b9c-0d1e2f3a4b5c",
        "00000000-0000-4000-8000-00000000dead",
    );
    std::fs::write(&file, text).unwrap();
    let out = audit(&emu, &["--attestations", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("other.json: $.tenant_id") && stderr.contains("attestation is for tenant"),
        "{stderr}"
    );
}
