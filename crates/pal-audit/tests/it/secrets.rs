//! Secrets and privacy: at the most verbose level, with a known token, client
//! secret and Customer Insights key, none of them appears in stdout, stderr,
//! the report or a recording; `Debug` of the types that hold them prints
//! nothing of them; report files are readable by their owner only.

use crate::common::{CI_KEY, Emulator, PARTNER, TOKEN, bin};

const CLIENT_SECRET: &str = "cs-SECRET-9b8e2f";

fn assert_clean(what: &str, text: &str) {
    for secret in [TOKEN, CI_KEY, CLIENT_SECRET] {
        assert!(!text.contains(secret), "a secret is in {what}");
    }
}

#[test]
fn no_secret_in_any_output_at_trace_level() {
    let emu = Emulator::start("429:1@/apps*1,401*1", 2);
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let rec = dir.path().join("rec");
    let base = emu.base();
    let out = bin()
        .env("PAL_AUDIT_TOKEN", TOKEN)
        .env("PAL_AUDIT_CI_KEY", CI_KEY)
        .env("AZURE_CLIENT_SECRET", CLIENT_SECRET)
        .env("RUST_LOG", "trace")
        .args([
            "-vvv",
            "audit",
            "--auth",
            "static-token",
            "--api-base",
            &base,
        ])
        .args([
            "--partner-id",
            PARTNER,
            "--links",
            "crates/pal-emulator/contoso/links.csv",
        ])
        .args(["--format", "json", "--output"])
        .arg(&report)
        .arg("--record")
        .arg(&rec)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("TRACE"), "trace logging is on");
    assert_clean("stderr", &stderr);
    assert_clean("stdout", &String::from_utf8_lossy(&out.stdout));
    let written = std::fs::read_to_string(&report).unwrap();
    assert!(written.contains("pal-audit/report/v1"));
    assert_clean("the report", &written);
    for f in std::fs::read_dir(&rec).unwrap() {
        let p = f.unwrap().path();
        assert_clean(
            &p.display().to_string(),
            &std::fs::read_to_string(&p).unwrap(),
        );
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&report).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the report is its owner's only");
    }
}

#[test]
fn a_client_secret_that_fails_to_sign_in_is_never_shown() {
    // The sign-in goes to a loopback port nobody listens on: azure_identity
    // retries it with backoff, so the --timeout ends the run (exit 4), or the
    // sign-in fails first (exit 3).
    let out = bin()
        .env("AZURE_TENANT_ID", "7c1e5b2a-3d4f-4e6a-8b9c-0d1e2f3a4b5c")
        .env("AZURE_CLIENT_ID", "04b07795-8ddb-461a-bbee-02f9e1bf7b46")
        .env("AZURE_CLIENT_SECRET", CLIENT_SECRET)
        .env("AZURE_AUTHORITY_HOST", "https://127.0.0.1:9")
        .env("RUST_LOG", "trace")
        .args([
            "-vvv",
            "audit",
            "--auth",
            "client-secret",
            "--partner-id",
            PARTNER,
        ])
        .args(["--products", "power-bi", "--timeout", "3s"])
        .output()
        .unwrap();
    assert!(matches!(out.status.code(), Some(3 | 4)), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("oauth2/v2.0/token"),
        "the sign-in was tried"
    );
    assert_clean("stderr", &String::from_utf8_lossy(&out.stderr));
    assert_clean("stdout", &String::from_utf8_lossy(&out.stdout));
}

#[test]
fn tokens_only_go_to_loopback() {
    // No credential may be sent to an --api-base elsewhere, whatever the sign-in.
    for auth in ["azure-cli", "client-secret", "static-token"] {
        let out = bin()
            .env("PAL_AUDIT_TOKEN", TOKEN)
            .args(["audit", "--auth", auth, "--partner-id", PARTNER])
            .args(["--api-base", "https://stand-in.example.com"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{auth}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("loopback"), "{auth}: {err}");
    }
}

#[test]
fn a_static_token_only_goes_to_loopback() {
    let out = bin()
        .env("PAL_AUDIT_TOKEN", TOKEN)
        .args(["audit", "--auth", "static-token", "--partner-id", PARTNER])
        .args(["--api-base", "https://api.example.com"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_clean("stderr", &String::from_utf8_lossy(&out.stderr));
}

#[test]
fn debug_of_the_types_that_hold_secrets_prints_none() {
    use pal_client::auth::{Credential, Secret, Tokens};
    let secret = Secret::new(CLIENT_SECRET);
    let cred = Credential::Static(Secret::new(TOKEN));
    let tokens = Tokens::new(Credential::Static(Secret::new(TOKEN)));
    let plan = pal_client::sources::Plan {
        ci_key: Some(Secret::new(CI_KEY)),
        ..Default::default()
    };
    let ctx =
        pal_client::sources::customer_insights::keyed_ctx(&Secret::new(CI_KEY), "aud").unwrap();
    for text in [
        format!("{secret:?}"),
        format!("{cred:?}"),
        format!("{tokens:?}"),
        format!("{plan:?}"),
        format!("{ctx:?}"),
        format!("{:#?}", (&secret, &cred, &plan, &ctx)),
    ] {
        assert_clean("a Debug", &text);
    }
}

/// A listener on loopback that stands for a proxy: it counts connections
/// and answers none of them.
fn proxy_recorder() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let hits = std::sync::Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            counted.fetch_add(1, Ordering::SeqCst);
            drop(conn);
        }
    });
    (url, hits)
}

#[test]
fn with_api_base_no_proxy_receives_anything() {
    use std::sync::atomic::Ordering;
    let emu = Emulator::start("", 50);
    let (proxy, hits) = proxy_recorder();
    let mut cmd = crate::common::audit_command(&emu, &["--format", "json", "--fail-on", "none"]);
    for var in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ] {
        cmd.env(var, &proxy);
    }
    let out = cmd
        .env_remove("NO_PROXY")
        .env_remove("no_proxy")
        .output()
        .unwrap();
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "requests went to the proxy: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(!report["findings"].as_array().unwrap().is_empty());
}

#[test]
fn a_secret_a_server_echoes_reaches_no_output() {
    // Every list's first item is named after the token and the key the
    // request carried; every other answer quotes them in an error.
    let emu = Emulator::start(
        "echo-secrets@/apps*2,echo-secrets@api.ci.ai.dynamics.com*all",
        50,
    );
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("rec");
    let out = crate::common::audit_command(
        &emu,
        &[
            "--format",
            "json",
            "--fail-on",
            "none",
            "--record",
            rec.to_str().unwrap(),
        ],
    )
    .env("RUST_LOG", "trace")
    .arg("-vvv")
    .output()
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_clean("stdout", &stdout);
    assert_clean("stderr", &stderr);
    for entry in std::fs::read_dir(&rec).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap_or_default();
        assert_clean("the recording", &text);
    }
    // The echo was there, and what stood for the secret is said.
    assert!(
        stdout.contains("you sent Bearer [secret removed]"),
        "the echoed name is not in the report"
    );
    assert!(
        stdout.contains("[secret removed]") && stdout.contains("EchoedSecret"),
        "the echoed error is not in the report"
    );
}
