//! Shared by the CLI tests: an emulator of the Contoso tenant on loopback, and
//! the `pal-audit` binary run against it.

use std::collections::BTreeMap;
use std::process::Output;

use assert_cmd::Command;
use pal_emulator::{self as emulator, Faults};
use serde_json::Value;

/// The workspace's root: the binary runs there, so the files it names are
/// the paths a reader of the repository finds.
pub const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

pub const PARTNER: &str = "4567890";
pub const AS_OF: &str = "2026-11-20T00:00:00Z";
pub const TOKEN: &str = "tok-SECRET-7f3a9c";
pub const CI_KEY: &str = "ci-KEY-SECRET-41d2";
/// The environments whose Dataverse answers: auditing only these gives a
/// complete audit (Contoso Finance's Dataverse refuses by design).
pub const READABLE: &[&str] = &[
    "--environment",
    "Contoso (default),Contoso Sales,Contoso HR",
];

/// An emulator with its own runtime, stopped when dropped.
pub struct Emulator {
    pub server: Option<emulator::Running>,
    runtime: tokio::runtime::Runtime,
}

impl Emulator {
    pub fn start(faults: &str, page_size: usize) -> Self {
        let (model, _) = pal_emulator::contoso::load().unwrap();
        Self::serve(model, faults, page_size)
    }

    /// Serves any tenant model.
    pub fn serve(model: pal_emulator::TenantModel, faults: &str, page_size: usize) -> Self {
        Self::serve_limited(model, faults, page_size, None)
    }

    /// Serves a model, answering 429 above `host_limit` requests in flight per host.
    pub fn serve_limited(
        model: pal_emulator::TenantModel,
        faults: &str,
        page_size: usize,
        host_limit: Option<usize>,
    ) -> Self {
        let options = emulator::Options {
            page_size,
            faults: Faults::parse(faults).unwrap(),
            host_limit,
            ..Default::default()
        };
        Self::with_options(model, options)
    }

    /// Serves a model with any emulator options (latency, time scale).
    pub fn with_options(model: pal_emulator::TenantModel, options: emulator::Options) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let server = runtime
            .block_on(emulator::start(model, options, 0))
            .unwrap();
        Self {
            server: Some(server),
            runtime,
        }
    }

    /// Serves a recording (`emulate --replay`).
    pub fn replay(dir: &std::path::Path) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let (server, _) = runtime
            .block_on(pal_emulator::replay::start(dir, 0))
            .unwrap();
        Self {
            server: Some(server),
            runtime,
        }
    }

    pub fn base(&self) -> String {
        self.server.as_ref().unwrap().base_url()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(s) = self.server.take() {
            self.runtime.block_on(s.stop());
        }
    }
}

/// The binary with a clean environment: no PAL_AUDIT_* or RUST_LOG from the
/// caller, run from the package root.
pub fn bin() -> Command {
    let mut cmd = Command::cargo_bin("pal-audit").unwrap();
    for (k, _) in std::env::vars() {
        // COLUMNS and NO_COLOR change the table: the tests set them when
        // they mean to.
        if k.starts_with("PAL_AUDIT_")
            || k.starts_with("AZURE_")
            || ["RUST_LOG", "COLUMNS", "NO_COLOR"].contains(&k.as_str())
        {
            cmd.env_remove(k);
        }
    }
    cmd.current_dir(crate::common::ROOT);
    cmd
}

/// `pal-audit audit` of the Contoso fixture against `emu`.
pub fn audit(emu: &Emulator, extra: &[&str]) -> Output {
    audit_command(emu, extra).output().unwrap()
}

/// The command `audit` runs, for a test to add to (variables, more flags).
pub fn audit_command(emu: &Emulator, extra: &[&str]) -> Command {
    audit_command_with_log(emu, "crates/pal-emulator/contoso/audit-log.csv", extra)
}

/// `audit_command` with another `--audit-log` file than the bundled one.
pub fn audit_command_with_log(emu: &Emulator, audit_log: &str, extra: &[&str]) -> Command {
    let base = emu.base();
    let mut args = vec![
        "audit",
        "--auth",
        "static-token",
        "--api-base",
        &base,
        "--partner-id",
        PARTNER,
        "--links",
        "crates/pal-emulator/contoso/links.csv",
        "--attestations",
        "crates/pal-emulator/contoso/attestations",
        "--ci-activity",
        "crates/pal-emulator/contoso/ci-activity.jsonl",
        "--audit-log",
        audit_log,
        "--as-of",
        AS_OF,
    ];
    args.extend_from_slice(extra);
    let mut cmd = bin();
    cmd.env("PAL_AUDIT_TOKEN", TOKEN)
        .env("PAL_AUDIT_CI_KEY", CI_KEY)
        .args(args);
    cmd
}

pub fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}); stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// resource id -> (verdict, credited partner, flags joined by spaces).
pub fn verdicts(report: &Value) -> BTreeMap<String, (String, String, String)> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let flags: Vec<&str> = f["flags"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect();
            (
                f["resource_id"].as_str().unwrap().to_string(),
                (
                    f["verdict"].as_str().unwrap().to_string(),
                    f["credited_partner_id"].as_str().unwrap_or("").to_string(),
                    flags.join(" "),
                ),
            )
        })
        .collect()
}

/// The verdicts crates/pal-emulator/contoso/expected.csv writes down, but
/// for its platform-made rows (flag `first-party`): an audit leaves them
/// out unless `--include-first-party`.
pub fn expected() -> BTreeMap<String, (String, String, String)> {
    let mut e = expected_with_first_party();
    e.retain(|_, (_, _, flags)| !flags.split(' ').any(|f| f == "first-party"));
    e
}

/// Every row of crates/pal-emulator/contoso/expected.csv: what an audit
/// with `--include-first-party` gives.
pub fn expected_with_first_party() -> BTreeMap<String, (String, String, String)> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../pal-emulator/contoso/expected.csv"
    );
    let mut r = csv::Reader::from_path(path).unwrap();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            (
                rec[0].to_string(),
                (rec[3].to_string(), rec[4].to_string(), rec[5].to_string()),
            )
        })
        .collect()
}

/// The expected verdicts without the resources of Contoso Finance.
pub fn expected_readable() -> BTreeMap<String, (String, String, String)> {
    let mut e = expected();
    e.remove("a0000000-0000-4000-8000-000000000015");
    e
}

/// An unsigned JWT naming `oid` (and `upn` for a user), as the emulator reads it.
pub fn jwt(oid: &str, upn: Option<&str>) -> String {
    use base64::Engine;
    let enc = |v: &serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let mut claims = serde_json::json!({
        "oid": oid,
        "tid": "7c1e5b2a-3d4f-4e6a-8b9c-0d1e2f3a4b5c",
        "appid": "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
    });
    match upn {
        Some(u) => claims["upn"] = serde_json::json!(u),
        None => claims["idtyp"] = serde_json::json!("app"),
    }
    format!(
        "{}.{}.sig",
        enc(&serde_json::json!({"alg": "none"})),
        enc(&claims)
    )
}

/// `pal-audit attest` against `emu`, signed in as `token`.
pub fn attest(emu: &Emulator, token: &str, extra: &[&str]) -> Output {
    let base = emu.base();
    bin()
        .env("PAL_AUDIT_TOKEN", token)
        .args(["attest", "--auth", "static-token", "--api-base", &base])
        .args(extra)
        .output()
        .unwrap()
}

/// Requests of `source` summed over the report's coverage rows.
pub fn requests(report: &Value, source: &str) -> u64 {
    report["coverage"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["source"] == source)
        .map(|c| c["requests"].as_u64().unwrap())
        .sum()
}

/// What an [`activity_run`] gave.
pub struct Run {
    pub code: Option<i32>,
    pub report: serde_json::Value,
    pub stderr: String,
}

/// An audit of the readable environments, JSON, never failing on findings,
/// with short retry waits, and `extra` flags (the activity sources' tests).
pub fn activity_run(emu: &Emulator, extra: &[&str]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("pal-audit.toml");
    std::fs::write(&config, "[http]\nbase_delay_ms = 20\nmax_delay_s = 1\n").unwrap();
    let base = emu.base();
    let out = bin()
        .env("PAL_AUDIT_TOKEN", TOKEN)
        .env("PAL_AUDIT_CI_KEY", CI_KEY)
        .args([
            "-vv",
            "audit",
            "--auth",
            "static-token",
            "--api-base",
            &base,
            "--partner-id",
            PARTNER,
            "--links",
            "crates/pal-emulator/contoso/links.csv",
            "--attestations",
            "crates/pal-emulator/contoso/attestations",
            "--as-of",
            AS_OF,
            "--format",
            "json",
            "--fail-on",
            "none",
            "--config",
            config.to_str().unwrap(),
        ])
        .args(READABLE)
        .args(extra)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!stderr.contains("panicked"), "{stderr}");
    Run {
        code: out.status.code(),
        report: json(&out),
        stderr,
    }
}

/// The report's coverage row of `source`.
pub fn coverage<'a>(report: &'a serde_json::Value, source: &str) -> &'a serde_json::Value {
    report["coverage"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["source"] == source)
        .unwrap_or_else(|| panic!("no {source} coverage row: {}", report["coverage"]))
}

/// The first of `names` on PATH: a program of Debian's `package` that a
/// test drives (a browser, a shell). `None`, with the reason on stderr, when
/// none is installed and this is not CI; under CI (which `.ci/run` installs
/// them for) a missing one fails the test.
pub fn installed(names: &[&str], package: &str) -> Option<std::path::PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false");
        let what = names[0];
        assert!(
            !ci,
            "CI is set and {what} is not installed: .ci/run installs it (apt-get install -y {package})"
        );
        eprintln!(
            "SKIPPED: {what} is not installed (apt-get install -y {package}); its tests did not run"
        );
    }
    found
}
