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

/// `doctor` with the Azure CLI missing, or not signed in: one message
/// saying to install it or to run `az login`, exit 3 (authentication
/// failed), not a table of the same failure on every API.
#[cfg(unix)]
#[test]
fn without_the_azure_cli_doctor_says_to_install_it_or_sign_in() {
    use std::os::unix::fs::PermissionsExt;
    let emu = Emulator::start("", 100);
    let base = emu.base();
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let fake = dir.path().join("fake");
    std::fs::create_dir(&fake).unwrap();
    let az = fake.join("az");
    std::fs::write(
        &az,
        "#!/bin/sh\necho \"ERROR: Please run 'az login' to setup account.\" >&2\nexit 1\n",
    )
    .unwrap();
    std::fs::set_permissions(&az, std::fs::Permissions::from_mode(0o755)).unwrap();
    let doctor = |path: &std::path::Path| {
        bin()
            .env("PATH", path)
            .args(["doctor", "--auth", "azure-cli", "--api-base", &base])
            .args(["--tenant", "contoso.onmicrosoft.com"])
            .output()
            .unwrap()
    };
    let out = doctor(&empty);
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not installed"), "{stderr}");
    assert!(stderr.contains("install-azure-cli"), "{stderr}");
    assert!(
        stderr.contains("az login --tenant contoso.onmicrosoft.com"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty(), "no table of failures");
    let out = doctor(&fake);
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("not installed"), "{stderr}");
    assert!(
        stderr.contains("sign in with `az login --tenant contoso.onmicrosoft.com`"),
        "{stderr}"
    );
}

/// `doctor -o FILE` writes the table there, atomically, as the report is.
#[test]
fn doctor_writes_to_output() {
    let emu = Emulator::start("", 100);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("doctor.txt");
    let out = doctor(
        &emu,
        &["--products", "power-bi", "-o", path.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("Everything an audit needs works."), "{text}");
    let out = doctor(&emu, &["--output", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "a folder is refused");
}

#[test]
fn the_table_fits_the_width_it_is_given_and_is_whole_when_piped() {
    let emu = Emulator::start("403@api.powerbi.com*all", 100);
    let wide = doctor(&emu, &[]);
    let wide = String::from_utf8_lossy(&wide.stdout).to_string();
    // Piped: one line a check, however long its detail.
    assert!(wide.lines().any(|l| l.chars().count() > 120), "{wide}");
    for columns in ["80", "100"] {
        let base = emu.base();
        let out = bin()
            .env("COLUMNS", columns)
            .env(
                "PAL_AUDIT_TOKEN",
                jwt("11111111-1111-4111-8111-000000000001", None),
            )
            .env("PAL_AUDIT_CI_KEY", CI_KEY)
            .args(["doctor", "--auth", "static-token", "--api-base", &base])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let max: usize = columns.parse().unwrap();
        for line in text.lines() {
            assert!(line.chars().count() <= max, "{columns}: {line:?}\n{text}");
        }
        assert!(text.contains("refused"), "{text}");
    }
}

/// An --api-base that accepts connections and never answers: every check
/// ends (side by side, each after the read timeout and one retry) as
/// failed, with "did not answer" as its fix, not an API's setup step, and
/// the exit code is 1. The file's `[http]` timeouts win over doctor's own
/// short ones, which keeps this test to seconds.
#[test]
fn an_api_that_never_answers_fails_its_checks_and_says_so() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // Accepts and holds every connection, answering nothing.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming() {
            held.push(conn);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("pal-audit.toml");
    std::fs::write(&config, "[http]\nread_timeout_s = 1\ntimeout_s = 2\n").unwrap();
    let out = bin()
        .env(
            "PAL_AUDIT_TOKEN",
            jwt("11111111-1111-4111-8111-000000000001", None),
        )
        .env("PAL_AUDIT_CI_KEY", CI_KEY)
        .arg("--config")
        .arg(&config)
        .args(["doctor", "--auth", "static-token", "--api-base"])
        .arg(format!("http://127.0.0.1:{port}"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    for api in [
        "BAP",
        "Power BI admin",
        "Power BI scanner",
        "Customer Insights",
        "Microsoft Graph",
    ] {
        let row = text
            .lines()
            .find(|l| l.contains(api))
            .unwrap_or_else(|| panic!("{api}: {text}"));
        assert!(row.contains("failed"), "{row}");
        assert!(row.contains("did not answer"), "{row}");
        assert!(!row.contains("register the app"), "{row}");
    }
}

/// An answer that is not the API's (a body that is not JSON, as a proxy's
/// page would be): failed, and the fix says so instead of a permission.
#[test]
fn an_answer_that_is_not_the_api_s_is_not_a_permission_to_grant() {
    let emu = Emulator::start("malformed@graph.microsoft.com*all", 100);
    let out = doctor(&emu, &[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let row = text
        .lines()
        .find(|l| l.contains("Microsoft Graph"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(row.contains("failed"), "{row}");
    assert!(row.contains("is not that API"), "{row}");
    assert!(!row.contains("User.Read.All"), "{row}");
}
