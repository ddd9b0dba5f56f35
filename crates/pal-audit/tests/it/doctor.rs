//! `pal-audit doctor` against the emulator: what works, what is refused, and
//! the setup step that fixes it.

use crate::common::*;

fn doctor(emu: &Emulator, extra: &[&str]) -> std::process::Output {
    let base = emu.base();
    bin()
        .env(
            "PAL_AUDIT_TOKEN",
            jwt(
                "11111111-1111-4111-8111-000000000001",
                Some("svc-northwind@contoso.com"),
            ),
        )
        .env("PAL_AUDIT_CI_KEY", CI_KEY)
        .args(["doctor", "--auth", "static-token", "--api-base", &base])
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn names_the_missing_setup_for_each_refusal() {
    let emu = Emulator::start("403@api.powerbi.com*all", 100);
    let out = doctor(&emu, &[]);
    assert_eq!(out.status.code(), Some(1));
    let table = String::from_utf8_lossy(&out.stdout);
    // Power BI refuses: the tenant setting is named.
    assert!(
        table.contains("Power BI admin") && table.contains("refused"),
        "{table}"
    );
    assert!(table.contains("read-only admin APIs"), "{table}");
    // Contoso Finance's Dataverse refuses: the application user is named.
    assert!(
        table.contains("Contoso Finance") && table.contains("application user"),
        "{table}"
    );
    // What works says so.
    assert!(
        table.contains("4 environments") && table.contains("6 instances"),
        "{table}"
    );
    assert!(table.contains("linked to partner 4567890"), "{table}");
}

#[test]
fn exit_0_when_everything_an_audit_needs_works() {
    let emu = Emulator::start("", 100);
    let out = doctor(&emu, &["--products", "power-bi,customer-insights"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("Everything an audit needs works."));
}

#[test]
fn a_missing_ci_key_is_named() {
    let emu = Emulator::start("", 100);
    let base = emu.base();
    let out = bin()
        .env("PAL_AUDIT_TOKEN", "x")
        .args([
            "doctor",
            "--auth",
            "static-token",
            "--api-base",
            &base,
            "--products",
            "customer-insights",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("PAL_AUDIT_CI_KEY"));
}
