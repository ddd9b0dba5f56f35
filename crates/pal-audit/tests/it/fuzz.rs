//! Every input file, fuzzed (proptest on stable Rust): random mutations of a
//! valid sample (bytes changed, cut, inserted, repeated) and random text.
//! No input panics, and every rejection names the file, with the line or the
//! JSON path where the format gives one. `PROPTEST_CASES=N` runs more.

use proptest::prelude::*;

use pal_client::http::{ApiBase, ValuePage, decode};
use pal_client::sources::{bap, flow, graph, powerapps, powerbi};

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1500)
}

/// One edit of a byte string.
#[derive(Clone, Debug)]
enum Edit {
    Set(usize, u8),
    Delete(usize, usize),
    Insert(usize, Vec<u8>),
    Truncate(usize),
    Repeat(usize, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    // Bytes that matter to these formats, and any byte.
    let byte = prop_oneof![
        prop::sample::select(b"{}[]\",:#=\n\r\\'@.-0 tnf".to_vec()),
        any::<u8>(),
    ];
    prop_oneof![
        (any::<usize>(), byte.clone()).prop_map(|(i, b)| Edit::Set(i, b)),
        (any::<usize>(), 1usize..40).prop_map(|(i, n)| Edit::Delete(i, n)),
        (any::<usize>(), prop::collection::vec(byte, 1..6)).prop_map(|(i, b)| Edit::Insert(i, b)),
        any::<usize>().prop_map(Edit::Truncate),
        (any::<usize>(), 1usize..64).prop_map(|(i, n)| Edit::Repeat(i, n)),
    ]
}

fn apply(seed: &[u8], edits: &[Edit]) -> String {
    let mut b = seed.to_vec();
    for e in edits {
        let len = b.len().max(1);
        match e {
            Edit::Set(i, x) => {
                if !b.is_empty() {
                    let i = i % len;
                    b[i] = *x;
                }
            }
            Edit::Delete(i, n) => {
                let i = i % len;
                let end = (i + n).min(b.len());
                if i < end {
                    b.drain(i..end);
                }
            }
            Edit::Insert(i, x) => {
                let i = i % (b.len() + 1);
                b.splice(i..i, x.iter().copied());
            }
            Edit::Truncate(i) => b.truncate(i % len),
            Edit::Repeat(i, n) => {
                let i = i % len;
                let end = (i + n).min(b.len());
                let part = b[i..end].to_vec();
                b.splice(end..end, part);
            }
        }
    }
    String::from_utf8_lossy(&b).into_owned()
}

/// A mutated sample or random text.
fn input(seed: &'static str) -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::collection::vec(edit(), 1..6).prop_map(move |e| apply(seed.as_bytes(), &e)),
        1 => ".{0,300}",
    ]
}

/// `location` is the file, then a line (`name:7`) or a JSON path
/// (`name: $.a.b`); `bare` allows the file alone (a TOML error about the whole
/// document has no position).
fn names_the_place(location: &str, name: &str, bare: bool) -> bool {
    if location == name {
        return bare;
    }
    let Some(rest) = location.strip_prefix(name) else {
        return false;
    };
    rest.strip_prefix(':')
        .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit()))
        || rest.starts_with(": $")
        // A key of a TOML file, as range checks after parsing name it
        // (`pal-audit.toml: activity_days`, `pal-audit.toml: [http] max_attempts`).
        || rest.strip_prefix(": ").is_some_and(|k| {
            let key = k.strip_prefix('[').and_then(|t| t.split_once("] ")).map_or(k, |(_, key)| key);
            !key.is_empty()
                && key
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        })
}

const LINKS: &str = include_str!("../../../pal-emulator/contoso/links.csv");
const ATTESTATION: &str =
    include_str!("../../../pal-emulator/contoso/attestations/svc-delivery.json");
const CI_ACTIVITY: &str = include_str!("../../../pal-emulator/contoso/ci-activity.jsonl");
const TENANT: &str = include_str!("../../../pal-emulator/contoso/tenant.toml");
const CONFIG: &str = r#"partner_id = "4567890"
tenant = "contoso.onmicrosoft.com"
products = ["power-apps", "power-bi"]
links = ["links.csv"]
activity_days = 30

[http]
concurrency = 8
host_concurrency = { "graph.microsoft.com" = 4 }
max_attempts = 6
timeout_s = 100
"#;

fn report_seed() -> &'static str {
    static SEED: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SEED.get_or_init(|| {
        let snap = include_str!("snapshots/it__snapshots__json.snap");
        let body = snap.splitn(3, "---\n").nth(2).expect("an insta snapshot");
        body.replace("\"[time]\"", "\"2026-11-20T00:00:00Z\"")
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn links_csv(text in input(LINKS)) {
        if let Err(e) = pal_core::links::parse_links_csv("links.csv", &text) {
            prop_assert!(names_the_place(&e.location, "links.csv", false), "{e}");
        }
    }

    #[test]
    fn attestation_json(text in input(ATTESTATION)) {
        if let Err(e) = pal_core::links::parse_attestation("att.json", &text) {
            prop_assert!(names_the_place(&e.location, "att.json", false), "{e}");
        }
    }

    #[test]
    fn ci_activity_export(text in input(CI_ACTIVITY)) {
        if let Err(e) = pal_client::sources::customer_insights::parse_activity("ci.jsonl", &text) {
            prop_assert!(names_the_place(&e.location, "ci.jsonl", false), "{e}");
        }
    }

    #[test]
    fn config_toml(text in input(CONFIG)) {
        if let Err(e) = pal_audit::config::parse_file("pal-audit.toml", &text) {
            prop_assert!(names_the_place(&e.location, "pal-audit.toml", true), "{e}");
        }
    }

    #[test]
    fn tenant_model_toml(text in input(TENANT)) {
        if let Err(e) = pal_emulator::TenantModel::parse("tenant.toml", &text) {
            prop_assert!(e.location.starts_with("tenant.toml"), "{e}");
        }
    }

    #[test]
    fn wire_decoders(
        (which, text) in prop_oneof![
            input(include_str!("../../../pal-client/api-samples/bap-environments.json")).prop_map(|t| (0, t)),
            input(include_str!("../../../pal-client/api-samples/powerapps-apps.json")).prop_map(|t| (1, t)),
            input(include_str!("../../../pal-client/api-samples/powerapps-permissions.json")).prop_map(|t| (2, t)),
            input(include_str!("../../../pal-client/api-samples/flow-flows.json")).prop_map(|t| (3, t)),
            input(include_str!("../../../pal-client/api-samples/flow-permissions.json")).prop_map(|t| (4, t)),
            input(include_str!("../../../pal-client/api-samples/powerbi-scan-result.json")).prop_map(|t| (5, t)),
            input(include_str!("../../../pal-client/api-samples/graph-user.json")).prop_map(|t| (6, t)),
            input(include_str!("../../../pal-client/api-samples/graph-service-principal.json")).prop_map(|t| (7, t)),
        ]
    ) {
        let target = ApiBase::real().target("https://api.example.com/x?a=1").unwrap();
        let b = text.as_bytes();
        let err = match which {
            0 => decode::<ValuePage<bap::WireEnvironment>>(&target, b).err(),
            1 => decode::<ValuePage<powerapps::WireApp>>(&target, b).err(),
            2 => decode::<ValuePage<powerapps::WireRoleAssignment>>(&target, b).err(),
            3 => decode::<ValuePage<flow::WireFlow>>(&target, b).err(),
            4 => decode::<ValuePage<flow::WirePermission>>(&target, b).err(),
            5 => decode::<powerbi::WireScanResult>(&target, b).err(),
            6 => decode::<graph::WireUser>(&target, b).err(),
            _ => decode::<graph::WireServicePrincipal>(&target, b).err(),
        };
        if let Some(e) = err {
            let text = e.to_string();
            prop_assert!(text.starts_with("https://api.example.com/x"), "{text}");
            prop_assert!(text.contains(" at $"), "{text}");
        }
    }
}

proptest! {
    // The report is large: fewer cases, each a bigger input.
    #![proptest_config(ProptestConfig::with_cases(cases() / 5))]

    #[test]
    fn report_json(edits in prop::collection::vec(edit(), 1..6)) {
        let text = apply(report_seed().as_bytes(), &edits);
        if let Err(e) = pal_core::fix::parse_report("report.json", &text) {
            prop_assert!(names_the_place(&e.location, "report.json", false), "{e}");
        }
    }
}

#[test]
fn the_seeds_themselves_are_accepted() {
    assert!(pal_core::links::parse_links_csv("l", LINKS).is_ok());
    assert!(pal_core::links::parse_attestation("a", ATTESTATION).is_ok());
    assert!(pal_client::sources::customer_insights::parse_activity("c", CI_ACTIVITY).is_ok());
    assert!(pal_audit::config::parse_file("p", CONFIG).is_ok());
    assert!(pal_emulator::TenantModel::parse("t", TENANT).is_ok());
    pal_core::fix::parse_report("r", report_seed()).unwrap();
}

/// Through the binary: a rejected file is exit 2 with its name, and no
/// report is written.
#[test]
fn rejected_files_are_exit_2_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    std::fs::write(
        &report,
        apply(report_seed().as_bytes(), &[Edit::Truncate(5000)]),
    )
    .unwrap();
    let config = dir.path().join("pal-audit.toml");
    std::fs::write(&config, "[http]\nconcurrency = \"many\"\n").unwrap();
    let ci = dir.path().join("ci.jsonl");
    std::fs::write(&ci, "{\"time\": 7}\n").unwrap();
    let out_file = dir.path().join("out.json");
    let runs: Vec<(Vec<std::ffi::OsString>, &str)> = vec![
        (
            vec!["explain".into(), report.clone().into(), "x".into()],
            "report.json",
        ),
        (
            vec!["diff".into(), report.clone().into(), report.clone().into()],
            "report.json",
        ),
        (
            vec![
                "--config".into(),
                config.clone().into(),
                "audit".into(),
                "--partner-id".into(),
                "1".into(),
            ],
            "pal-audit.toml:2",
        ),
        (
            vec![
                "audit".into(),
                "--partner-id".into(),
                "1".into(),
                "--ci-activity".into(),
                ci.clone().into(),
                "--output".into(),
                out_file.clone().into(),
            ],
            "ci.jsonl",
        ),
    ];
    for (args, want) in runs {
        let out = assert_cmd::Command::cargo_bin("pal-audit")
            .unwrap()
            .env_remove("RUST_LOG")
            .env("PAL_AUDIT_TOKEN", "t")
            .args(&args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
    assert!(!out_file.exists(), "nothing half-written");
}

/// Found by `config_toml`: a value out of range is named by its key.
#[test]
fn a_config_value_out_of_range_names_its_key() {
    for text in ["activity_days = -0\n", "[http]\nmax_attempts = 100\n"] {
        let e = pal_audit::config::parse_file("pal-audit.toml", text).unwrap_err();
        assert!(names_the_place(&e.location, "pal-audit.toml", true), "{e}");
    }
}
